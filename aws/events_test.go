package aws

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilsec/vigil/internal/testenv"
)

const evAcct = "123456789012"

// evARN is an ARN in the fixtures' account.
func evARN(service, region, resource string) string {
	return "arn:aws:" + service + ":" + region + ":" + evAcct + ":" + resource
}

func TestEventTargets(t *testing.T) {
	t.Parallel()
	acct := Touched{Type: TypeAccount, UID: "arn:aws:vigil::" + evAcct + ":account", Region: "global"}
	user := func(name string) Touched {
		return Touched{Type: typeIAMUser, UID: "arn:aws:iam::" + evAcct + ":user/" + name, Region: "global"}
	}
	role := func(name string) Touched {
		return Touched{Type: typeIAMRole, UID: "arn:aws:iam::" + evAcct + ":role/" + name, Region: "global"}
	}
	key := Touched{Type: "aws.kms.key", UID: evARN("kms", "us-east-1", "key/1234abcd-12ab-34cd-56ef-1234567890ab"), Region: "us-east-1"}
	fn := Touched{Type: TypeLambdaFunction, UID: evARN("lambda", "us-east-1", "function:thumbnailer"), Region: "us-east-1"}
	trail := Touched{Type: TypeCloudTrailTrail, UID: evARN("cloudtrail", "us-east-1", "trail/org-trail"), Region: "us-east-1"}
	ue1 := func(typ, service, res string) Touched {
		return Touched{Type: typ, UID: evARN(service, "us-east-1", res), Region: "us-east-1"}
	}
	tests := []struct {
		file string
		want []Touched
		ok   bool
	}{
		{"s3_put_bucket_policy", []Touched{{Type: TypeS3Bucket, UID: "arn:aws:s3:::logs-prod", Region: "us-east-1"}}, true},
		{"s3_delete_bucket", []Touched{{Type: TypeS3Bucket, UID: "arn:aws:s3:::old-bucket", Region: "eu-west-1", Deleted: true}}, true},
		{"s3_put_public_access_block", []Touched{{Type: TypeS3Bucket, UID: "arn:aws:s3:::logs-prod", Region: "us-east-1"}}, true},
		{"s3_put_account_public_access_block", []Touched{acct}, true},
		{"s3_create_bucket_bare", []Touched{{Type: TypeS3Bucket, UID: "arn:aws:s3:::new-data", Region: "us-east-1"}}, true},
		{"s3_get_bucket_policy_readonly", nil, true},
		{"s3_put_bucket_policy_denied", nil, true},
		{"ec2_authorize_ingress", []Touched{ue1(TypeEC2SecurityGroup, "ec2", "security-group/sg-0123456789abcdef0")}, true},
		{"ec2_create_security_group", []Touched{ue1(TypeEC2SecurityGroup, "ec2", "security-group/sg-0fedcba9876543210")}, true},
		{"ec2_run_instances", []Touched{ue1(TypeEC2Instance, "ec2", "instance/i-0aaa1111bbbb22223"),
			ue1(TypeEC2Instance, "ec2", "instance/i-0ccc3333dddd44445")}, true},
		{"ec2_terminate_instances", []Touched{{Type: TypeEC2Instance, UID: evARN("ec2", "us-east-1", "instance/i-0aaa1111bbbb22223"),
			Region: "us-east-1", Deleted: true}}, true},
		{"ec2_modify_metadata_options", []Touched{ue1(TypeEC2Instance, "ec2", "instance/i-0ccc3333dddd44445")}, true},
		{"ec2_modify_snapshot_attribute", []Touched{{Type: TypeEC2Snapshot, UID: "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0", Region: "us-east-1"}}, true},
		{"ec2_enable_ebs_encryption", []Touched{{Type: TypeRegion, UID: "arn:aws:vigil:eu-west-1:" + evAcct + ":region", Region: "eu-west-1"}}, true},
		{"ec2_create_flow_logs", []Touched{ue1(TypeEC2VPC, "ec2", "vpc/vpc-0aa11bb22cc33dd44")}, true},
		{"ec2_describe_instances", nil, true},
		{"ec2_delete_volume", []Touched{{Type: TypeEC2Volume, UID: evARN("ec2", "us-east-1", "volume/vol-0123456789abcdef0"), Region: "us-east-1", Deleted: true}}, true},
		{"ec2_delete_flow_logs_unmapped", nil, false},
		{"iam_create_user", []Touched{{Type: typeIAMUser, UID: "arn:aws:iam::" + evAcct + ":user/automation/ci-bot", Region: "global"}}, true},
		{"iam_create_access_key", []Touched{user("bob")}, true},
		{"iam_create_access_key_self", []Touched{user("alice")}, true},
		{"iam_attach_role_policy", []Touched{role("app-role"),
			{Type: typeIAMPolicy, UID: "arn:aws:iam::aws:policy/AdministratorAccess", Region: "global"}}, true},
		{"iam_update_assume_role_policy", []Touched{role("app-role")}, true},
		{"iam_add_user_to_group", []Touched{user("bob"),
			{Type: typeIAMGroup, UID: "arn:aws:iam::" + evAcct + ":group/admins", Region: "global"}}, true},
		{"iam_set_default_policy_version", []Touched{{Type: typeIAMPolicy, UID: "arn:aws:iam::" + evAcct + ":policy/deploy", Region: "global"}}, true},
		{"iam_update_password_policy", []Touched{acct}, true},
		{"iam_delete_role", []Touched{{Type: typeIAMRole, UID: "arn:aws:iam::" + evAcct + ":role/old-role", Region: "global", Deleted: true}}, true},
		{"rds_modify_db_instance", []Touched{ue1(TypeRDSInstance, "rds", "db:orders-db")}, true},
		{"rds_modify_snapshot_attribute", []Touched{ue1(TypeRDSSnapshot, "rds", "snapshot:orders-2026-11-30")}, true},
		{"rds_delete_db_cluster", []Touched{{Type: TypeRDSCluster, UID: evARN("rds", "us-east-1", "cluster:analytics"), Region: "us-east-1", Deleted: true}}, true},
		{"kms_disable_key_rotation", []Touched{key}, true},
		{"kms_put_key_policy_arn", []Touched{key}, true},
		{"kms_create_key", []Touched{ue1("aws.kms.key", "kms", "key/0987dcba-09fe-87dc-65ba-ab0987654321")}, true},
		{"kms_schedule_deletion_alias", []Touched{key}, true},
		{"cloudtrail_stop_logging", []Touched{trail}, true},
		{"cloudtrail_update_trail", []Touched{trail}, true},
		{"cloudtrail_delete_trail_name", []Touched{{Type: TypeCloudTrailTrail, UID: evARN("cloudtrail", "us-west-2", "trail/scratch"), Region: "us-west-2", Deleted: true}}, true},
		{"sqs_set_queue_attributes", []Touched{ue1(TypeSQSQueue, "sqs", "orders")}, true},
		{"sqs_create_queue", []Touched{ue1(TypeSQSQueue, "sqs", "jobs")}, true},
		{"sns_set_topic_attributes", []Touched{ue1(TypeSNSTopic, "sns", "alerts")}, true},
		{"sns_create_topic", []Touched{ue1(TypeSNSTopic, "sns", "billing")}, true},
		{"lambda_add_permission", []Touched{fn}, true},
		{"lambda_update_configuration_qualified_arn", []Touched{fn}, true},
		{"lambda_create_function_url", []Touched{fn}, true},
		{"secretsmanager_put_resource_policy", []Touched{ue1(TypeSecretsManagerSecret, "secretsmanager", "secret:prod/db-AbCdEf")}, true},
		{"secretsmanager_rotate_name_only", nil, false},
		{"guardduty_delete_detector", []Touched{{Type: TypeRegion, UID: "arn:aws:vigil:ap-southeast-2:" + evAcct + ":region", Region: "ap-southeast-2"}}, true},
		{"config_stop_recorder", []Touched{{Type: TypeRegion, UID: "arn:aws:vigil:us-east-1:" + evAcct + ":region", Region: "us-east-1"}}, true},
		{"ecr_set_repository_policy", []Touched{ue1(TypeECRRepository, "ecr", "repository/web")}, true},
		{"ecr_create_repository", []Touched{ue1(TypeECRRepository, "ecr", "repository/api")}, true},
		{"sts_assume_role_unmapped", nil, false},
	}
	files, err := filepath.Glob("testdata/events/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d fixtures, %d table rows: every fixture needs a row", len(files), len(tests))
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "events", tc.file+".json"))
			if err != nil {
				t.Fatal(err)
			}
			e, err := ParseEvent(data)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := Targets(e)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Targets = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseEventFields(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/events/iam_create_access_key.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Event{ID: "00000000-0000-0000-0000-0000000003fb", Source: "iam.amazonaws.com", Name: "CreateAccessKey",
		Region: "us-east-1", Account: evAcct, Time: time.Date(2026, 12, 1, 10, 19, 7, 0, time.UTC),
		Actor: Actor{ARN: "arn:aws:iam::" + evAcct + ":user/alice", Type: "IAMUser", AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
			SourceIP: "203.0.113.7", UserAgent: "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"},
		Request: map[string]any{"userName": "bob"},
		Response: map[string]any{"accessKey": map[string]any{"accessKeyId": "AKIAI44QH8DHBEXAMPLE", "status": "Active",
			"userName": "bob", "createDate": "Dec 1, 2026, 10:21:07 AM"}}}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("ParseEvent =\n%+v\nwant\n%+v", e, want)
	}
	data, err = os.ReadFile("testdata/events/s3_put_bucket_policy_denied.json")
	if err != nil {
		t.Fatal(err)
	}
	if e, err = ParseEvent(data); err != nil || !e.Failed || e.ReadOnly {
		t.Errorf("denied call: Failed %v ReadOnly %v err %v; want failed, not read-only", e.Failed, e.ReadOnly, err)
	}
}

func TestParseEventMalformed(t *testing.T) {
	t.Parallel()
	const rec = `"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","eventTime":"2026-12-01T10:00:00Z"`
	tests := []struct{ name, in, want string }{
		{"not json", `{"version":`, "parse event: unexpected end of JSON input"},
		{"not an object", `[1,2]`, "parse event: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{"wrong detail-type", `{"detail-type":"AWS Console Sign In via CloudTrail","detail":{` + rec + `}}`,
			`event detail-type "AWS Console Sign In via CloudTrail" is not "AWS API Call via CloudTrail"`},
		{"no detail-type", `{"source":"aws.s3","detail":{` + rec + `}}`, "event has no detail-type"},
		{"missing detail", `{"detail-type":"AWS API Call via CloudTrail","source":"aws.s3"}`, "event has no detail"},
		{"null detail", `{"detail-type":"AWS API Call via CloudTrail","detail":null}`, "event has no detail"},
		{"detail not an object", `{"detail-type":"AWS API Call via CloudTrail","detail":"x"}`,
			"parse event detail: json: cannot unmarshal string into Go value of type aws.ctRecord"},
		{"missing eventSource", `{"eventName":"PutBucketPolicy","eventTime":"2026-12-01T10:00:00Z"}`, "event has no eventSource"},
		{"missing eventName", `{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"s3.amazonaws.com","eventTime":"2026-12-01T10:00:00Z"}}`,
			"event has no eventName"},
		{"missing eventTime", `{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy"}`, "event has no eventTime"},
		{"eventTime not rfc 3339", `{"eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy","eventTime":"Dec 1, 2026 10:00"}`,
			`event eventTime "Dec 1, 2026 10:00" is not RFC 3339`},
		{"requestParameters not an object", `{` + rec + `,"requestParameters":"x"}`,
			"parse event detail: json: cannot unmarshal string into Go struct field ctRecord.requestParameters of type map[string]interface {}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEvent([]byte(tc.in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseEvent error = %v; want %q", err, tc.want)
			}
		})
	}
}

// TestTargetsEdgeCases covers request shapes the fixtures do not.
func TestTargetsEdgeCases(t *testing.T) {
	t.Parallel()
	base := Event{Region: "us-east-1", Account: evAcct}
	with := func(source, name string, req, resp map[string]any) Event {
		e := base
		e.Source, e.Name, e.Request, e.Response = source, name, req, resp
		return e
	}
	tests := []struct {
		name string
		e    Event
		want []Touched
		ok   bool
	}{
		{"read-only flag", func() Event {
			e := with("s3.amazonaws.com", "PutBucketPolicy", map[string]any{"bucketName": "b"}, nil)
			e.ReadOnly = true
			return e
		}(), nil, true},
		{"list by name", with("sqs.amazonaws.com", "ListQueues", nil, nil), nil, true},
		{"known event without its id", with("s3.amazonaws.com", "PutBucketPolicy", nil, nil), nil, false},
		{"mistyped id", with("ec2.amazonaws.com", "DeleteVolume", map[string]any{"volumeId": 7.0}, nil), nil, false},
		{"unknown source", with("example.amazonaws.com", "PutThing", nil, nil), nil, false},
		{"kms alias only", with("kms.amazonaws.com", "EnableKeyRotation", map[string]any{"keyId": "alias/app"}, nil), nil, false},
		{"lambda partial arn", with("lambda.amazonaws.com", "RemovePermission20150331v2",
			map[string]any{"functionName": evAcct + ":function:f1:3"}, nil),
			[]Touched{{Type: TypeLambdaFunction, UID: evARN("lambda", "us-east-1", "function:f1"), Region: "us-east-1"}}, true},
		{"lambda delete", with("lambda.amazonaws.com", "DeleteFunction20150331", map[string]any{"functionName": "f1"}, nil),
			[]Touched{{Type: TypeLambdaFunction, UID: evARN("lambda", "us-east-1", "function:f1"), Region: "us-east-1", Deleted: true}}, true},
		{"china partition", func() Event {
			e := with("s3.amazonaws.com", "PutBucketAcl", map[string]any{"bucketName": "b"}, nil)
			e.Region = "cn-north-1"
			return e
		}(), []Touched{{Type: TypeS3Bucket, UID: "arn:aws-cn:s3:::b", Region: "cn-north-1"}}, true},
		{"access key of a role session", func() Event {
			e := with("iam.amazonaws.com", "DeleteAccessKey", map[string]any{"accessKeyId": "AKIA1"}, nil)
			e.Actor = Actor{Type: "AssumedRole", ARN: "arn:aws:sts::" + evAcct + ":assumed-role/Ops/s"}
			return e
		}(), nil, false},
		{"ecr other registry", with("ecr.amazonaws.com", "DeleteRepository", map[string]any{"repositoryName": "r", "registryId": "210987654321"}, nil),
			[]Touched{{Type: TypeECRRepository, UID: "arn:aws:ecr:us-east-1:210987654321:repository/r", Region: "us-east-1", Deleted: true}}, true},
		{"rds reboot changes nothing collected", with("rds.amazonaws.com", "RebootDBInstance", map[string]any{"dBInstanceIdentifier": "x"}, nil), nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Targets(tc.e)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Targets = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// motoEvent builds the EventBridge event a user would receive for a call
// made against moto.
func motoEvent(t *testing.T, source, name string, req, resp map[string]any) Event {
	t.Helper()
	detail := map[string]any{"eventVersion": "1.09", "eventID": "e-1", "eventSource": source, "eventName": name,
		"eventTime": "2026-12-01T10:00:00Z", "awsRegion": "us-east-1", "recipientAccountId": testenv.MotoAccount,
		"sourceIPAddress": "203.0.113.7", "userAgent": "aws-sdk-go-v2", "readOnly": false,
		"userIdentity":      map[string]any{"type": "IAMUser", "arn": "arn:aws:iam::" + testenv.MotoAccount + ":user/alice"},
		"requestParameters": req, "responseElements": resp}
	data, err := json.Marshal(map[string]any{"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
		"source": "aws." + source[:len(source)-len(".amazonaws.com")], "account": testenv.MotoAccount,
		"time": "2026-12-01T10:00:00Z", "region": "us-east-1", "resources": []any{}, "detail": detail})
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// assertCollected checks that an event maps to exactly one resource, and
// that collecting its service emits that resource under that uid and type.
func assertCollected(t *testing.T, e Event, service string) {
	t.Helper()
	ts, ok := Targets(e)
	if !ok || len(ts) != 1 {
		t.Fatalf("Targets = %+v, %v; want one resource", ts, ok)
	}
	r, found := collect(t, []string{service}).resources[ts[0].UID]
	if !found {
		t.Fatalf("collection of %s emitted no resource %s", service, ts[0].UID)
	}
	if r.Type != ts[0].Type || r.Region != ts[0].Region {
		t.Errorf("collected %s is %s in %s; event mapped it to %s in %s", r.UID, r.Type, r.Region, ts[0].Type, ts[0].Region)
	}
}

func TestEventRoundTripS3PutBucketPolicy(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ev-bucket")}); err != nil {
		t.Fatal(err)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::ev-bucket/*"}]}`
	if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("ev-bucket"), Policy: &pol}); err != nil {
		t.Fatal(err)
	}
	assertCollected(t, motoEvent(t, "s3.amazonaws.com", "PutBucketPolicy",
		map[string]any{"bucketName": "ev-bucket", "Host": "ev-bucket.s3.amazonaws.com", "policy": ""}, nil), "s3")
}

func TestEventRoundTripEC2AuthorizeIngress(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("ev-web"), Description: aws.String("ev")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	assertCollected(t, motoEvent(t, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress",
		map[string]any{"groupId": aws.ToString(g.GroupId), "ipPermissions": map[string]any{"items": []any{
			map[string]any{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
				"ipRanges": map[string]any{"items": []any{map[string]any{"cidrIp": "0.0.0.0/0"}}}}}}},
		map[string]any{"requestId": "r", "_return": true}), "ec2")
}

func TestEventRoundTripIAMCreateAccessKey(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("ev-bob")}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("ev-bob")})
	if err != nil {
		t.Fatal(err)
	}
	assertCollected(t, motoEvent(t, "iam.amazonaws.com", "CreateAccessKey", map[string]any{"userName": "ev-bob"},
		map[string]any{"accessKey": map[string]any{"accessKeyId": aws.ToString(k.AccessKey.AccessKeyId),
			"status": "Active", "userName": "ev-bob"}}), "iam")
}

func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"s3_put_bucket_policy", "ec2_run_instances", "s3_create_bucket_bare", "lambda_add_permission"} {
		data, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":null}`))
	f.Add([]byte(`{"eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","eventTime":"2026-12-01T10:00:00Z","requestParameters":{"instancesSet":{"items":[1,{"instanceId":{}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEvent(data)
		if err != nil {
			return
		}
		ts, ok := Targets(e)
		if !ok && len(ts) > 0 {
			t.Errorf("unmapped event with targets %+v", ts)
		}
		for _, x := range ts {
			if x.UID == "" || x.Type == "" {
				t.Errorf("target without uid or type: %+v", x)
			}
		}
	})
}
