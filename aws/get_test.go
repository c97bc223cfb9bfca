package aws

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

// getRegions are the regions of the Get tests' scans.
var getRegions = []string{"us-east-1", "eu-west-1"}

// seedGetEstate seeds at least one resource of every type the collector
// produces, in us-east-1 (and a few in eu-west-1), plus the settings of
// both synthetic resources.
func seedGetEstate(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	seedEC2(t)
	seedIAM(t)
	seedS3(t)
	seedRDS(t)
	seedQueues(t)
	seedTopics(t)
	seedFunctions(t)
	seedSecrets(t)
	seedRepositories(t)
	seedTrailBuckets(t)
	seedConfigRecorder(t, "us-east-1", "default", true, true)
	seedDetector(t, "us-east-1", true)
	ok := must[any](t)

	// A bucket whose name starts with another's: the narrowed ListBuckets
	// answers both.
	ok(s3Client(t, "us-east-1").CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Seed.logs + "-archive")}))
	// An IAM user under a path, which events name without it.
	ok(iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("eve"), Path: aws.String("/eng/")}))
	ok(rds.NewFromConfig(cfg).CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
		DBClusterIdentifier: aws.String("aurora-main"), DBClusterSnapshotIdentifier: aws.String("aurora-main-snap")}))
	kc := kms.NewFromConfig(cfg)
	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rotated"),
		Tags: []kmstypes.Tag{{TagKey: aws.String("team"), TagValue: aws.String("data")}}})
	if err != nil {
		t.Fatal(err)
	}
	ok(kc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: key.KeyMetadata.KeyId}))
	ok(kc.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify}))
	ct := cloudtrail.NewFromConfig(cfg)
	createTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("org-wide"), S3BucketName: aws.String("ct-logged"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true)}, true)
	createTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("local"), S3BucketName: aws.String("ct-unlogged")}, false)
}

// getHarness is a collector against moto that records every operation it
// sends, for Get tests.
type getHarness struct {
	c    *Collector
	acct vigil.Account
	// answered is set when API options answer some operations without
	// sending them, which APICalls then does not count.
	answered bool
	mu       sync.Mutex
	ops      []string
}

// newGetHarness returns a collector for getRegions with a fixed clock and
// the extra API options (see answer) on every client.
func newGetHarness(t *testing.T, apiOptions ...func(*middleware.Stack) error) *getHarness {
	t.Helper()
	c, err := New(Options{Endpoint: moto.URL, Regions: getRegions,
		Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acct, err := c.Resolve(ctx, Target{})
	if err != nil {
		t.Fatal(err)
	}
	h := &getHarness{c: c, acct: acct, answered: len(apiOptions) > 0}
	base, err := c.base(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	record := func(st *middleware.Stack) error {
		// Once per operation, before the retries that APICalls counts
		// too.
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordOperation",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				h.mu.Lock()
				h.ops = append(h.ops, serviceName(awsmiddleware.GetServiceID(ctx))+":"+awsmiddleware.GetOperationName(ctx))
				h.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
	base.APIOptions = append(append([]func(*middleware.Stack) error{record}, base.APIOptions...), apiOptions...)
	c.mu.Lock()
	c.bases[acct.Profile+"|"+acct.RoleARN] = base
	c.mu.Unlock()
	return h
}

// scan runs a full collection.
func (h *getHarness) scan(t *testing.T) *collected {
	t.Helper()
	out := &collected{resources: map[string]vigil.Resource{}}
	if err := h.c.Collect(context.Background(), h.acct, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// get runs a Get and returns its result with the operations it sent, in
// order.
func (h *getHarness) get(t *testing.T, touched ...Touched) ([]Got, []string) {
	t.Helper()
	h.mu.Lock()
	h.ops = nil
	h.mu.Unlock()
	calls := h.c.APICalls()
	gots, err := h.c.Get(context.Background(), h.acct, touched)
	if err != nil {
		t.Fatal(err)
	}
	if len(gots) != len(touched) {
		t.Fatalf("Get returned %d results for %d touched", len(gots), len(touched))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ops := slices.Clone(h.ops)
	// moto answers a few operations with HTTP 500 (access analyzer, the
	// EBS default key), which the SDK retries: attempts ≥ operations.
	if n := h.c.APICalls() - calls; !h.answered && n < int64(len(ops)) {
		t.Errorf("APICalls counted %d attempts for %d operations", n, len(ops))
	}
	return gots, ops
}

// motoVolatile are properties moto answers with the time of the call:
// GetTrailStatus of a logging trail says it delivered logs just now. Two
// scans differ on them too, so the comparison takes them from the scan.
var motoVolatile = map[string][]string{TypeCloudTrailTrail: {"latest_delivery_time"}}

// sameResource fails unless got is what the scan collected as want.
func sameResource(t *testing.T, got, want vigil.Resource) {
	t.Helper()
	if keys := motoVolatile[want.Type]; len(keys) > 0 && got.Properties != nil {
		got.Properties = maps.Clone(got.Properties)
		for _, k := range keys {
			if _, ok := want.Properties[k]; ok {
				got.Properties[k] = want.Properties[k]
			}
		}
	}
	if got.UID != want.UID || got.Type != want.Type || got.Name != want.Name || got.Region != want.Region ||
		got.Account != want.Account || got.Provider != want.Provider {
		t.Errorf("%s: identity %s/%s/%s/%s/%s, want %s/%s/%s/%s/%s", want.UID, got.UID, got.Type, got.Name, got.Region,
			got.Account, want.UID, want.Type, want.Name, want.Region, want.Account)
	}
	if !reflect.DeepEqual(got.Properties, want.Properties) {
		t.Errorf("%s: properties differ:\nget  %s\nscan %s", want.UID, dump(t, got.Properties), dump(t, want.Properties))
	}
	if !reflect.DeepEqual(got.Tags, want.Tags) {
		t.Errorf("%s: tags %v, want %v", want.UID, got.Tags, want.Tags)
	}
	if g, w := sortedErrors(got.ReadErrors), sortedErrors(want.ReadErrors); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: read errors %v, want %v", want.UID, g, w)
	}
	if g, w := got.ComputeHash(), want.ComputeHash(); g != w {
		t.Errorf("%s: hash %s, want %s", want.UID, g, w)
	}
}

func sortedErrors(es []vigil.ReadError) []vigil.ReadError {
	out := slices.Clone(es)
	sort.Slice(out, func(i, j int) bool { return out[i].Property < out[j].Property })
	return out
}

// TestGetMatchesScan is the core property of Get: for every resource of
// every type a full scan collects, Get returns the identical resource
// (properties, tags, read errors, hash); for aws.account and aws.region
// it returns Partial settings that, laid over the scanned resource, give
// it back unchanged.
func TestGetMatchesScan(t *testing.T) {
	moto.Reset(t)
	seedGetEstate(t)
	h := newGetHarness(t)
	full := h.scan(t)

	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			var want []vigil.Resource
			for _, r := range full.resources {
				if r.Type == typ {
					want = append(want, r)
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i].UID < want[j].UID })
			if len(want) == 0 {
				t.Fatalf("the seeded scan collected no %s", typ)
			}
			touched := make([]Touched, len(want))
			for i, r := range want {
				touched[i] = Touched{Type: typ, UID: r.UID, Region: r.Region}
			}
			gots, ops := h.get(t, touched...)
			t.Logf("%d × %s: %d API calls", len(want), typ, len(ops))
			for i, g := range gots {
				if g.Err != nil || !g.Found {
					t.Errorf("%s: found %v, err %v", want[i].UID, g.Found, g.Err)
					continue
				}
				if g.Touched != touched[i] {
					t.Errorf("got for %+v, want %+v", g.Touched, touched[i])
				}
				if typ != TypeAccount && typ != TypeRegion {
					if g.Partial {
						t.Errorf("%s: Partial on a resource", want[i].UID)
					}
					sameResource(t, g.Resource, want[i])
					continue
				}
				if !g.Partial {
					t.Errorf("%s: not Partial", want[i].UID)
				}
				// Every setting is re-read: the partial resource holds
				// every key of the scanned one but the region list.
				wantKeys := settingKeys(want[i])
				wantKeys = slices.DeleteFunc(wantKeys, func(k string) bool { return k == "regions" })
				gotKeys := settingKeys(g.Resource)
				if !slices.Equal(gotKeys, wantKeys) {
					t.Errorf("%s: partial keys %v, want %v", want[i].UID, gotKeys, wantKeys)
				}
				merged := g.Apply(want[i])
				sameResource(t, merged, want[i])
			}
		})
	}
}

// settingKeys returns the top-level properties a synthetic resource sets
// or failed to read.
func settingKeys(r vigil.Resource) []string {
	keys := slices.Collect(maps.Keys(r.Properties))
	for _, e := range r.ReadErrors {
		if k := topProperty(e.Property); !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// TestGetCalls pins the API calls one Get makes for a single S3 bucket, a
// security group and the two synthetic resources: only what the resource
// needs, no listing of the service.
func TestGetCalls(t *testing.T) {
	moto.Reset(t)
	seedGetEstate(t)
	h := newGetHarness(t)
	before := h.c.APICalls()
	full := h.scan(t)
	t.Logf("full scan of the estate (2 regions): %d API calls", h.c.APICalls()-before)
	sg := ""
	for _, r := range full.ofType(TypeEC2SecurityGroup) {
		if r.Properties["group_name"] == "ssh-world" {
			sg = r.UID
		}
	}
	region := "arn:aws:vigil:us-east-1:" + testenv.MotoAccount + ":region"
	account := "arn:aws:vigil::" + testenv.MotoAccount + ":account"
	// The account's Block Public Access (for the effective settings), the
	// bucket's listing entry (ListBuckets narrowed by Prefix: creation date
	// and, on AWS, region), its region again because moto leaves
	// BucketRegion out, then the nine describe calls of a scan.
	bucketCalls := []string{"s3:GetPublicAccessBlock", "s3:ListBuckets", "s3:GetBucketLocation", "s3:GetBucketPolicy", "s3:GetBucketAcl",
		"s3:GetPublicAccessBlock", "s3:GetBucketEncryption", "s3:GetBucketVersioning", "s3:GetBucketLogging",
		"s3:GetBucketOwnershipControls", "s3:GetObjectLockConfiguration", "s3:GetBucketTagging"}
	for _, tc := range []struct {
		name    string
		touched Touched
		want    []string // in order; sorted when the services run concurrently
		sorted  bool
	}{
		{"s3 bucket", Touched{Type: TypeS3Bucket, UID: "arn:aws:s3:::" + s3Seed.tls, Region: "us-east-1"}, bucketCalls, false},
		{"security group", Touched{Type: TypeEC2SecurityGroup, UID: sg, Region: "us-east-1"},
			[]string{"ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups"}, false},
		{"iam role", Touched{Type: typeIAMRole, UID: "arn:aws:iam::" + testenv.MotoAccount + ":role/support"},
			[]string{"iam:GetRole", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies",
				"iam:GetPolicy", "iam:GetPolicyVersion"}, false},
		{"aws.region", Touched{Type: TypeRegion, UID: region, Region: "us-east-1"}, []string{
			"accessanalyzer:ListAnalyzers",
			"cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors", "cloudtrail:GetEventSelectors",
			"cloudtrail:GetTrailStatus", "cloudtrail:GetTrailStatus",
			"config:DescribeConfigurationRecorderStatus", "config:DescribeConfigurationRecorders",
			"config:DescribeDeliveryChannels",
			"ec2:GetEbsDefaultKmsKeyId", "ec2:GetEbsEncryptionByDefault",
			"guardduty:GetDetector", "guardduty:ListDetectors"}, true},
		{"aws.account", Touched{Type: TypeAccount, UID: account, Region: "global"}, []string{
			"iam:GenerateCredentialReport", "iam:GenerateCredentialReport", "iam:GetAccountPasswordPolicy",
			"iam:GetAccountSummary", "iam:GetCredentialReport", "iam:ListEntitiesForPolicy", "iam:ListEntitiesForPolicy",
			"iam:ListVirtualMFADevices", "s3:GetPublicAccessBlock"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gots, ops := h.get(t, tc.touched)
			if !gots[0].Found || gots[0].Err != nil {
				t.Fatalf("found %v, err %v", gots[0].Found, gots[0].Err)
			}
			t.Logf("Get %s: %d API calls: %v", tc.name, len(ops), ops)
			if tc.sorted {
				sort.Strings(ops)
			}
			if !slices.Equal(ops, tc.want) {
				t.Errorf("calls:\n got %v\nwant %v", ops, tc.want)
			}
		})
	}
}

// TestGetNotFound: a resource the API says does not exist is Found=false
// without an error, for every type, deleted or not; an entry marked
// Deleted whose resource still exists is found.
func TestGetNotFound(t *testing.T) {
	moto.Reset(t)
	seedGetEstate(t)
	h := newGetHarness(t)
	acct := testenv.MotoAccount
	arn := func(svc, region, res string) string { return "arn:aws:" + svc + ":" + region + ":" + acct + ":" + res }
	gone := []Touched{
		{Type: TypeS3Bucket, UID: "arn:aws:s3:::no-such-bucket", Region: "us-east-1", Deleted: true},
		{Type: TypeS3Bucket, UID: "arn:aws:s3:::" + strings.TrimSuffix(s3Seed.logs, "s"), Region: "us-east-1"}, // a prefix of two
		{Type: TypeEC2Instance, UID: arn("ec2", "us-east-1", "instance/i-0123456789abcdef0")},
		{Type: TypeEC2SecurityGroup, UID: arn("ec2", "us-east-1", "security-group/sg-0123456789abcdef0"), Deleted: true},
		{Type: TypeEC2NetworkACL, UID: arn("ec2", "us-east-1", "network-acl/acl-0123456789abcdef0")},
		{Type: TypeEC2Volume, UID: arn("ec2", "us-east-1", "volume/vol-0123456789abcdef0")},
		{Type: TypeEC2Snapshot, UID: "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0"},
		{Type: TypeEC2Image, UID: "arn:aws:ec2:us-east-1::image/ami-0123456789abcdef0"},
		{Type: TypeEC2VPC, UID: arn("ec2", "us-east-1", "vpc/vpc-0123456789abcdef0")},
		{Type: TypeEC2Subnet, UID: arn("ec2", "us-east-1", "subnet/subnet-0123456789abcdef0")},
		{Type: typeIAMUser, UID: arn("iam", "", "user/nobody"), Region: "global", Deleted: true},
		{Type: typeIAMGroup, UID: arn("iam", "", "group/nobody"), Region: "global"},
		{Type: typeIAMRole, UID: arn("iam", "", "role/nobody"), Region: "global"},
		{Type: typeIAMPolicy, UID: arn("iam", "", "policy/nobody"), Region: "global"},
		// AWS managed policies are not collected (ListPolicies Scope=Local).
		{Type: typeIAMPolicy, UID: "arn:aws:iam::aws:policy/AdministratorAccess", Region: "global"},
		{Type: typeIAMServerCert, UID: arn("iam", "", "server-certificate/nobody"), Region: "global"},
		{Type: TypeRDSInstance, UID: arn("rds", "us-east-1", "db:nobody")},
		{Type: TypeRDSSnapshot, UID: arn("rds", "us-east-1", "snapshot:nobody")},
		{Type: TypeRDSCluster, UID: arn("rds", "us-east-1", "cluster:nobody")},
		{Type: TypeRDSClusterSnapshot, UID: arn("rds", "us-east-1", "cluster-snapshot:nobody")},
		{Type: "aws.kms.key", UID: arn("kms", "us-east-1", "key/00000000-0000-0000-0000-000000000000")},
		{Type: TypeCloudTrailTrail, UID: arn("cloudtrail", "us-east-1", "trail/nobody"), Deleted: true},
		{Type: TypeSQSQueue, UID: arn("sqs", "us-east-1", "nobody")},
		{Type: TypeSNSTopic, UID: arn("sns", "us-east-1", "nobody")},
		{Type: TypeLambdaFunction, UID: arn("lambda", "us-east-1", "function:nobody")},
		{Type: TypeSecretsManagerSecret, UID: arn("secretsmanager", "us-east-1", "secret:nobody-AbCdEf")},
		{Type: TypeECRRepository, UID: arn("ecr", "us-east-1", "repository/nobody")},
		// Another account's resource is not this account's to collect.
		{Type: TypeSQSQueue, UID: "arn:aws:sqs:us-east-1:111122223333:kms-q"},
		{Type: TypeAccount, UID: "arn:aws:vigil::111122223333:account", Region: "global"},
	}
	still := []Touched{
		{Type: TypeS3Bucket, UID: "arn:aws:s3:::" + s3Seed.logs, Region: "us-east-1", Deleted: true},
		{Type: TypeSQSQueue, UID: arn("sqs", "us-east-1", "kms-q"), Region: "us-east-1", Deleted: true},
		{Type: typeIAMUser, UID: arn("iam", "", "user/alice"), Region: "global", Deleted: true},
	}
	gots, _ := h.get(t, append(slices.Clone(gone), still...)...)
	for i, g := range gots {
		wantFound := i >= len(gone)
		if g.Err != nil || g.Found != wantFound {
			t.Errorf("%s %s: found %v, err %v; want found %v, no error", g.Touched.Type, g.Touched.UID, g.Found, g.Err, wantFound)
		}
		if wantFound && g.Resource.UID != g.Touched.UID {
			t.Errorf("%s: resource uid %s", g.Touched.UID, g.Resource.UID)
		}
	}
}

// TestGetIAMPath: events name IAM entities without their path; Get finds
// the entity by name and returns it under its real ARN.
func TestGetIAMPath(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	if _, err := iam.NewFromConfig(moto.Config(t, "us-east-1")).CreateUser(ctx,
		&iam.CreateUserInput{UserName: aws.String("eve"), Path: aws.String("/eng/")}); err != nil {
		t.Fatal(err)
	}
	h := newGetHarness(t)
	gots, _ := h.get(t, Touched{Type: typeIAMUser, UID: "arn:aws:iam::" + testenv.MotoAccount + ":user/eve", Region: "global"})
	g := gots[0]
	if want := "arn:aws:iam::" + testenv.MotoAccount + ":user/eng/eve"; !g.Found || g.Resource.UID != want || g.Resource.Properties["path"] != "/eng/" {
		t.Errorf("found %v uid %s path %v, want %s under /eng/", g.Found, g.Resource.UID, g.Resource.Properties["path"], want)
	}
}

// TestGetReadFailures: a describe call that fails for another reason than
// not-found leaves the resource neither found nor gone (Err, with the
// classified code); a per-property failure is a read error on the resource
// exactly as in a scan; a malformed touched entry is EINVALID.
func TestGetReadFailures(t *testing.T) {
	moto.Reset(t)
	seedGetEstate(t)
	denied := func(any) any { return &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "denied"} }
	h := newGetHarness(t, answer("DescribeSecurityGroups", denied), answer("GetRole", denied),
		answer("GetBucketEncryption", func(any) any { return &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"} }))
	full := h.scan(t)
	var sg string
	for uid := range full.resources {
		if strings.Contains(uid, ":security-group/") {
			sg = uid
		}
	}
	if sg != "" {
		t.Fatalf("the scan with DescribeSecurityGroups denied emitted %s", sg)
	}
	sg = "arn:aws:ec2:us-east-1:" + testenv.MotoAccount + ":security-group/sg-0123456789abcdef0"
	bucket := "arn:aws:s3:::" + s3Seed.tls
	gots, _ := h.get(t,
		Touched{Type: TypeEC2SecurityGroup, UID: sg},
		Touched{Type: typeIAMRole, UID: "arn:aws:iam::" + testenv.MotoAccount + ":role/app"},
		Touched{Type: TypeS3Bucket, UID: bucket},
		Touched{Type: "aws.nope.thing", UID: "arn:aws:nope:us-east-1:" + testenv.MotoAccount + ":thing/x"},
		Touched{Type: TypeEC2Volume, UID: "vol-123"},
	)
	for i, want := range []string{vigil.EFORBIDDEN, vigil.EFORBIDDEN, "", vigil.EINVALID, vigil.EINVALID} {
		g := gots[i]
		var ve *vigil.Error
		switch {
		case want == "" && g.Err != nil:
			t.Errorf("%s: err %v", g.Touched.UID, g.Err)
		case want != "" && (!errors.As(g.Err, &ve) || ve.Code != want || g.Found):
			t.Errorf("%s: found %v, err %v; want code %s", g.Touched.UID, g.Found, g.Err, want)
		}
	}
	sameResource(t, gots[2].Resource, full.resources[bucket])
	if e, ok := gots[2].Resource.ReadErrorFor("encryption"); !ok || e.Code != vigil.EFORBIDDEN || e.Operation != "s3:GetBucketEncryption" {
		t.Errorf("bucket encryption read error %+v, %v", e, ok)
	}
}

// TestGotApply: a Partial Got replaces exactly the top-level properties it
// set or failed to read, with their read errors, and keeps the others.
func TestGotApply(t *testing.T) {
	stored := vigil.Resource{UID: "arn:aws:vigil:us-east-1:1:region", Type: TypeRegion, Name: "us-east-1",
		Properties: map[string]any{"region": "us-east-1", "guardduty": map[string]any{"enabled": false},
			"ebs_encryption_by_default": true, "access_analyzers": []any{}},
		ReadErrors: []vigil.ReadError{{Property: "cloudtrail.s3_data_events", Code: vigil.EFORBIDDEN},
			{Property: "config_recorders", Code: vigil.ETHROTTLED}}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	g := Got{Found: true, Partial: true, Resource: vigil.Resource{UID: stored.UID, Type: TypeRegion, CollectedAt: at,
		Properties: map[string]any{"region": "us-east-1", "guardduty": map[string]any{"enabled": true},
			"cloudtrail": map[string]any{"trails": 1}},
		ReadErrors: []vigil.ReadError{{Property: "ebs_encryption_by_default", Code: vigil.EFORBIDDEN}}}}
	got := g.Apply(stored)
	want := map[string]any{"region": "us-east-1", "guardduty": map[string]any{"enabled": true},
		"cloudtrail": map[string]any{"trails": 1}, "access_analyzers": []any{}}
	if !reflect.DeepEqual(got.Properties, want) {
		t.Errorf("properties %v, want %v", got.Properties, want)
	}
	wantErrs := []vigil.ReadError{{Property: "config_recorders", Code: vigil.ETHROTTLED},
		{Property: "ebs_encryption_by_default", Code: vigil.EFORBIDDEN}}
	if !reflect.DeepEqual(got.ReadErrors, wantErrs) {
		t.Errorf("read errors %v, want %v", got.ReadErrors, wantErrs)
	}
	if !got.CollectedAt.Equal(at) || got.Name != "us-east-1" {
		t.Errorf("collected %v name %q", got.CollectedAt, got.Name)
	}
	if stored.Properties["guardduty"].(map[string]any)["enabled"] != false || len(stored.ReadErrors) != 2 {
		t.Error("Apply changed the stored resource")
	}
	// A resource read again in full replaces the stored one.
	full := Got{Found: true, Resource: vigil.Resource{UID: "x", Properties: map[string]any{"a": 1}}}
	if r := full.Apply(stored); !reflect.DeepEqual(r, full.Resource) {
		t.Errorf("Apply of a full Got = %+v", r)
	}
}
