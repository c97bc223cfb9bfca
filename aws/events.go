package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// detailTypeAPICall is the EventBridge detail-type of CloudTrail management
// events; other CloudTrail-delivered detail-types (console sign-in, service
// events) carry no request Vigil can map.
const detailTypeAPICall = "AWS API Call via CloudTrail"

// Event is one CloudTrail management event as EventBridge delivers it.
type Event struct {
	ID, Source, Name, Region, Account string
	Time                              time.Time
	Actor                             Actor
	ReadOnly                          bool
	// Failed is set when the record has an errorCode: the call did not
	// change anything.
	Failed            bool
	Request, Response map[string]any
}

// Actor is who made the call recorded by an Event.
type Actor struct {
	ARN, Type, AccessKeyID, SourceIP, UserAgent string
}

// Touched is one resource an event changed.
type Touched struct {
	Type, UID, Region string
	Deleted           bool
}

// ctEnvelope is the EventBridge envelope around a CloudTrail record.
type ctEnvelope struct {
	DetailType *string         `json:"detail-type"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
}

// ctRecord is the part of a CloudTrail record Vigil reads.
type ctRecord struct {
	EventID      string `json:"eventID"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	AWSRegion    string `json:"awsRegion"`
	Recipient    string `json:"recipientAccountId"`
	SourceIP     string `json:"sourceIPAddress"`
	UserAgent    string `json:"userAgent"`
	ErrorCode    string `json:"errorCode"`
	ReadOnly     *bool  `json:"readOnly"`
	UserIdentity struct {
		Type        string `json:"type"`
		ARN         string `json:"arn"`
		AccountID   string `json:"accountId"`
		AccessKeyID string `json:"accessKeyId"`
	} `json:"userIdentity"`
	Request  map[string]any `json:"requestParameters"`
	Response map[string]any `json:"responseElements"`
}

// ParseEvent reads an EventBridge "AWS API Call via CloudTrail" event, or
// the bare CloudTrail record it carries as its detail. Errors name what is
// wrong with the message.
func ParseEvent(data []byte) (Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Event{}, fmt.Errorf("parse event: %w", err)
	}
	record := data
	var env ctEnvelope
	_, hasType := top["detail-type"]
	_, hasDetail := top["detail"]
	if hasType || hasDetail {
		if err := json.Unmarshal(data, &env); err != nil {
			return Event{}, fmt.Errorf("parse event envelope: %w", err)
		}
		if env.DetailType == nil {
			return Event{}, errors.New("event has no detail-type")
		}
		if *env.DetailType != detailTypeAPICall {
			return Event{}, fmt.Errorf("event detail-type %q is not %q", *env.DetailType, detailTypeAPICall)
		}
		if d := bytes.TrimSpace(env.Detail); len(d) == 0 || bytes.Equal(d, []byte("null")) {
			return Event{}, errors.New("event has no detail")
		}
		record = env.Detail
	}
	var rec ctRecord
	if err := json.Unmarshal(record, &rec); err != nil {
		return Event{}, fmt.Errorf("parse event detail: %w", err)
	}
	switch {
	case rec.EventSource == "":
		return Event{}, errors.New("event has no eventSource")
	case rec.EventName == "":
		return Event{}, errors.New("event has no eventName")
	case rec.EventTime == "":
		return Event{}, errors.New("event has no eventTime")
	}
	at, err := time.Parse(time.RFC3339, rec.EventTime)
	if err != nil {
		return Event{}, fmt.Errorf("event eventTime %q is not RFC 3339", rec.EventTime)
	}
	e := Event{ID: rec.EventID, Source: rec.EventSource, Name: rec.EventName, Time: at,
		Region: rec.AWSRegion, Account: rec.Recipient,
		Actor: Actor{ARN: rec.UserIdentity.ARN, Type: rec.UserIdentity.Type,
			AccessKeyID: rec.UserIdentity.AccessKeyID, SourceIP: rec.SourceIP, UserAgent: rec.UserAgent},
		Failed: rec.ErrorCode != "", Request: rec.Request, Response: rec.Response}
	if rec.ReadOnly != nil {
		e.ReadOnly = *rec.ReadOnly
	}
	if e.Region == "" {
		e.Region = env.Region
	}
	if e.Account == "" {
		e.Account = env.Account
	}
	if e.Account == "" {
		e.Account = rec.UserIdentity.AccountID
	}
	return e, nil
}

// apiVersionSuffix is the API version Lambda appends to CloudTrail event
// names (AddPermission20150331v2, CreateFunctionUrlConfig20211031).
var apiVersionSuffix = regexp.MustCompile(`\d{8}(v\d+)?$`)

// eventMapper maps one event name of one source; nil with ok true means
// the event changes nothing Vigil collects.
type eventMapper func(m *mapping) []Touched

// eventMappers lists, per eventSource, the write events Vigil maps.
var eventMappers = map[string]map[string]eventMapper{
	"s3.amazonaws.com": {
		"PutBucketPolicy": evS3Bucket(false), "DeleteBucketPolicy": evS3Bucket(false),
		"PutBucketAcl": evS3Bucket(false), "PutBucketPublicAccessBlock": evS3Bucket(false),
		"DeleteBucketPublicAccessBlock": evS3Bucket(false),
		"PutBucketEncryption":           evS3Bucket(false), "DeleteBucketEncryption": evS3Bucket(false),
		"PutBucketVersioning": evS3Bucket(false), "PutBucketLogging": evS3Bucket(false),
		"PutBucketOwnershipControls": evS3Bucket(false), "DeleteBucketOwnershipControls": evS3Bucket(false),
		"PutBucketTagging": evS3Bucket(false), "DeleteBucketTagging": evS3Bucket(false),
		"PutBucketLifecycle": evS3Bucket(false), "PutBucketReplication": evS3Bucket(false),
		"CreateBucket": evS3Bucket(false), "DeleteBucket": evS3Bucket(true),
		"PutAccountPublicAccessBlock":    evAccountWide,
		"DeleteAccountPublicAccessBlock": evAccountWide,
	},
	"ec2.amazonaws.com": {
		"AuthorizeSecurityGroupIngress": evEc2Group, "AuthorizeSecurityGroupEgress": evEc2Group,
		"RevokeSecurityGroupIngress": evEc2Group, "RevokeSecurityGroupEgress": evEc2Group,
		"ModifySecurityGroupRules":                   evEc2Group,
		"UpdateSecurityGroupRuleDescriptionsIngress": evEc2Group,
		"UpdateSecurityGroupRuleDescriptionsEgress":  evEc2Group,
		"CreateSecurityGroup": func(m *mapping) []Touched {
			return m.ec2(TypeEC2SecurityGroup, "security-group/", false, m.resp("groupId"))
		},
		"DeleteSecurityGroup": func(m *mapping) []Touched {
			return m.ec2(TypeEC2SecurityGroup, "security-group/", true, m.req("groupId"))
		},
		"ModifyInstanceMetadataOptions": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Instance, "instance/", false,
				m.req("ModifyInstanceMetadataOptionsRequest", "InstanceId"), m.req("instanceId"))
		},
		"RunInstances": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Instance, "instance/", false, m.items(m.e.Response, "instancesSet", "instanceId")...)
		},
		"TerminateInstances": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Instance, "instance/", true, m.items(m.e.Request, "instancesSet", "instanceId")...)
		},
		"ModifyInstanceAttribute": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Instance, "instance/", false, m.req("instanceId"))
		},
		"AssociateIamInstanceProfile": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Instance, "instance/", false,
				m.req("AssociateIamInstanceProfileRequest", "InstanceId"), m.req("instanceId"))
		},
		"CreateVolume": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Volume, "volume/", false, m.resp("volumeId"))
		},
		"DeleteVolume": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Volume, "volume/", true, m.req("volumeId"))
		},
		"ModifySnapshotAttribute": func(m *mapping) []Touched {
			return m.ownerless(TypeEC2Snapshot, "snapshot/", false, m.req("snapshotId"))
		},
		"CreateSnapshot": func(m *mapping) []Touched {
			return m.ownerless(TypeEC2Snapshot, "snapshot/", false, m.resp("snapshotId"))
		},
		"DeleteSnapshot": func(m *mapping) []Touched {
			return m.ownerless(TypeEC2Snapshot, "snapshot/", true, m.req("snapshotId"))
		},
		"ModifyImageAttribute": func(m *mapping) []Touched {
			return m.ownerless(TypeEC2Image, "image/", false, m.req("imageId"))
		},
		"DeregisterImage": func(m *mapping) []Touched {
			return m.ownerless(TypeEC2Image, "image/", true, m.req("imageId"))
		},
		"EnableEbsEncryptionByDefault":     evRegionWide,
		"DisableEbsEncryptionByDefault":    evRegionWide,
		"ModifyEbsDefaultKmsKeyId":         evRegionWide,
		"ResetEbsDefaultKmsKeyId":          evRegionWide,
		"EnableSnapshotBlockPublicAccess":  evRegionWide,
		"DisableSnapshotBlockPublicAccess": evRegionWide,
		"EnableImageBlockPublicAccess":     evRegionWide,
		"DisableImageBlockPublicAccess":    evRegionWide,
		"ModifyInstanceMetadataDefaults":   evRegionWide,
		"ModifySubnetAttribute": func(m *mapping) []Touched {
			return m.ec2(TypeEC2Subnet, "subnet/", false, m.req("subnetId"))
		},
		"CreateFlowLogs": func(m *mapping) []Touched {
			var vpcs []string
			for _, id := range m.strs(m.req("CreateFlowLogsRequest", "ResourceId")) {
				if strings.HasPrefix(id, "vpc-") {
					vpcs = append(vpcs, id)
				}
			}
			return m.ec2(TypeEC2VPC, "vpc/", false, vpcs...)
		},
		"CreateNetworkAclEntry":  evEc2ACL,
		"ReplaceNetworkAclEntry": evEc2ACL,
		"DeleteNetworkAclEntry":  evEc2ACL,
	},
	"iam.amazonaws.com": {
		"CreateUser": func(m *mapping) []Touched {
			return m.iamARN(typeIAMUser, m.resp("user", "arn"))
		},
		"DeleteUser":       evIAMUser(true),
		"UpdateUser":       evIAMUser(false),
		"CreateAccessKey":  evIamKeyUser,
		"UpdateAccessKey":  evIamKeyUser,
		"DeleteAccessKey":  evIamKeyUser,
		"AttachUserPolicy": evIamWithPolicy(evIAMUser(false)), "DetachUserPolicy": evIamWithPolicy(evIAMUser(false)),
		"PutUserPolicy": evIAMUser(false), "DeleteUserPolicy": evIAMUser(false),
		"CreateLoginProfile": evIAMUser(false), "UpdateLoginProfile": evIAMUser(false),
		"DeleteLoginProfile": evIAMUser(false),
		"EnableMFADevice":    evIAMUser(false), "DeactivateMFADevice": evIAMUser(false),
		"PutUserPermissionsBoundary": evIAMUser(false), "DeleteUserPermissionsBoundary": evIAMUser(false),
		"AddUserToGroup": evIamUserAndGroup, "RemoveUserFromGroup": evIamUserAndGroup,
		"CreateGroup": func(m *mapping) []Touched {
			return m.iamARN(typeIAMGroup, m.resp("group", "arn"))
		},
		"DeleteGroup":       evIAMGroup(true),
		"AttachGroupPolicy": evIamWithPolicy(evIAMGroup(false)), "DetachGroupPolicy": evIamWithPolicy(evIAMGroup(false)),
		"PutGroupPolicy": evIAMGroup(false), "DeleteGroupPolicy": evIAMGroup(false),
		"CreateRole": func(m *mapping) []Touched {
			return m.iamARN(typeIAMRole, m.resp("role", "arn"))
		},
		"DeleteRole":                    evIAMRole(true),
		"UpdateRole":                    evIAMRole(false),
		"UpdateAssumeRolePolicy":        evIAMRole(false),
		"AttachRolePolicy":              evIamWithPolicy(evIAMRole(false)),
		"DetachRolePolicy":              evIamWithPolicy(evIAMRole(false)),
		"PutRolePolicy":                 evIAMRole(false),
		"DeleteRolePolicy":              evIAMRole(false),
		"PutRolePermissionsBoundary":    evIAMRole(false),
		"DeleteRolePermissionsBoundary": evIAMRole(false),
		"CreatePolicy": func(m *mapping) []Touched {
			return m.iamARN(typeIAMPolicy, m.resp("policy", "arn"))
		},
		"DeletePolicy":                evIAMPolicy(true),
		"CreatePolicyVersion":         evIAMPolicy(false),
		"DeletePolicyVersion":         evIAMPolicy(false),
		"SetDefaultPolicyVersion":     evIAMPolicy(false),
		"UpdateAccountPasswordPolicy": evAccountWide,
		"DeleteAccountPasswordPolicy": evAccountWide,
	},
	"rds.amazonaws.com": {
		"CreateDBInstance": evRdsInstance(false), "ModifyDBInstance": evRdsInstance(false),
		"DeleteDBInstance": evRdsInstance(true), "RebootDBInstance": nil,
		"ModifyDBSnapshotAttribute": func(m *mapping) []Touched {
			return m.rds(TypeRDSSnapshot, "snapshot:", false, m.req("dBSnapshotIdentifier"))
		},
		"DeleteDBSnapshot": func(m *mapping) []Touched {
			return m.rds(TypeRDSSnapshot, "snapshot:", true, m.req("dBSnapshotIdentifier"))
		},
		"CreateDBSnapshot": func(m *mapping) []Touched {
			return m.rds(TypeRDSSnapshot, "snapshot:", false, m.req("dBSnapshotIdentifier"))
		},
		"ModifyDBClusterSnapshotAttribute": func(m *mapping) []Touched {
			return m.rds(TypeRDSClusterSnapshot, "cluster-snapshot:", false, m.req("dBClusterSnapshotIdentifier"))
		},
		"CreateDBCluster": evRdsCluster(false), "ModifyDBCluster": evRdsCluster(false),
		"DeleteDBCluster": evRdsCluster(true),
	},
	"kms.amazonaws.com": {
		"CreateKey": func(m *mapping) []Touched {
			return m.kms(m.resp("keyMetadata", "arn"), m.resp("keyMetadata", "keyId"))
		},
		"EnableKeyRotation": evKmsKeyReq, "DisableKeyRotation": evKmsKeyReq,
		"PutKeyPolicy": evKmsKeyReq, "ScheduleKeyDeletion": evKmsKeyReq,
		"CancelKeyDeletion": evKmsKeyReq, "EnableKey": evKmsKeyReq, "DisableKey": evKmsKeyReq,
	},
	"cloudtrail.amazonaws.com": {
		"CreateTrail": evTrail(false), "UpdateTrail": evTrail(false), "DeleteTrail": evTrail(true),
		"StartLogging": evTrail(false), "StopLogging": evTrail(false),
		"PutEventSelectors": evTrail(false), "PutInsightSelectors": evTrail(false),
	},
	"sqs.amazonaws.com": {
		"CreateQueue": evSqsQueueEvent(false), "DeleteQueue": evSqsQueueEvent(true),
		"SetQueueAttributes": evSqsQueueEvent(false),
		"AddPermission":      evSqsQueueEvent(false), "RemovePermission": evSqsQueueEvent(false),
		"TagQueue": evSqsQueueEvent(false), "UntagQueue": evSqsQueueEvent(false),
	},
	"sns.amazonaws.com": {
		"CreateTopic": evSnsTopic(false), "DeleteTopic": evSnsTopic(true),
		"SetTopicAttributes": evSnsTopic(false), "AddPermission": evSnsTopic(false),
		"RemovePermission": evSnsTopic(false),
	},
	"lambda.amazonaws.com": {
		"CreateFunction": evLambdaFn(false), "DeleteFunction": evLambdaFn(true),
		"UpdateFunctionConfiguration": evLambdaFn(false), "UpdateFunctionCode": evLambdaFn(false),
		"AddPermission": evLambdaFn(false), "RemovePermission": evLambdaFn(false),
		"CreateFunctionUrlConfig": evLambdaFn(false), "UpdateFunctionUrlConfig": evLambdaFn(false),
		"DeleteFunctionUrlConfig": evLambdaFn(false),
	},
	"secretsmanager.amazonaws.com": {
		"CreateSecret": evSecret(false), "DeleteSecret": evSecret(false),
		"PutResourcePolicy": evSecret(false), "DeleteResourcePolicy": evSecret(false),
		"RotateSecret": evSecret(false), "CancelRotateSecret": evSecret(false),
		"UpdateSecret": evSecret(false), "RestoreSecret": evSecret(false),
	},
	"guardduty.amazonaws.com": {
		"CreateDetector": evRegionWide, "UpdateDetector": evRegionWide, "DeleteDetector": evRegionWide,
	},
	"config.amazonaws.com": {
		"PutConfigurationRecorder": evRegionWide, "DeleteConfigurationRecorder": evRegionWide,
		"StartConfigurationRecorder": evRegionWide, "StopConfigurationRecorder": evRegionWide,
		"PutDeliveryChannel": evRegionWide, "DeleteDeliveryChannel": evRegionWide,
	},
	"ecr.amazonaws.com": {
		"CreateRepository": evEcrRepo(false), "DeleteRepository": evEcrRepo(true),
		"SetRepositoryPolicy": evEcrRepo(false), "DeleteRepositoryPolicy": evEcrRepo(false),
		"PutImageScanningConfiguration": evEcrRepo(false), "PutImageTagMutability": evEcrRepo(false),
		"PutLifecyclePolicy": evEcrRepo(false), "DeleteLifecyclePolicy": evEcrRepo(false),
	},
}

// Targets maps an event to the resources it changed. ok is false for an
// event Vigil does not map, or one whose request lacks the identifier the
// mapping needs, so the caller can count it. Read-only and failed calls
// changed nothing: they map to no resource with ok true.
func Targets(e Event) (ts []Touched, ok bool) {
	if e.Failed || e.ReadOnly {
		return nil, true
	}
	name := apiVersionSuffix.ReplaceAllString(e.Name, "")
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return nil, true
		}
	}
	fn, known := eventMappers[e.Source][name]
	if !known {
		return nil, false
	}
	if fn == nil {
		return nil, true
	}
	ts = fn(&mapping{e: e})
	return ts, len(ts) > 0
}

// mapping holds the event being mapped and the helpers that read it.
type mapping struct{ e Event }

func (m *mapping) part() string { return partition(m.e.Region) }

// arn builds an ARN in the event's partition and account.
func (m *mapping) arn(service, region, resource string) string {
	return "arn:" + m.part() + ":" + service + ":" + region + ":" + m.e.Account + ":" + resource
}

// evLookup walks nested objects by key; it returns nil for any missing or
// mistyped step.
func evLookup(v any, keys ...string) any {
	for _, k := range keys {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

// evStr is evLookup for a string value.
func evStr(v any, keys ...string) string {
	s, _ := evLookup(v, keys...).(string)
	return s
}

func (m *mapping) req(keys ...string) string  { return m.first(evLookup(m.e.Request, keys...)) }
func (m *mapping) resp(keys ...string) string { return m.first(evLookup(m.e.Response, keys...)) }

// first returns a string value, or the first of a list, or the "content" of
// the {"tag":1,"content":"..."} shape EC2 records list members in.
func (m *mapping) first(v any) string {
	if s := m.strs(v); len(s) > 0 {
		return s[0]
	}
	return ""
}

// strs flattens a value recorded as a string, a list, or EC2's
// {"tag":..,"content":..} members into its strings.
func (m *mapping) strs(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, m.strs(x)...)
		}
		return out
	case map[string]any:
		if c, ok := v["content"]; ok {
			return m.strs(c)
		}
	}
	return nil
}

// items reads key from each entry of EC2's {"items":[...]} sets.
func (m *mapping) items(root map[string]any, set, key string) []string {
	list, _ := evLookup(root, set, "items").([]any)
	var out []string
	for _, it := range list {
		if s := evStr(it, key); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (m *mapping) touched(typ, region string, deleted bool, uids ...string) []Touched {
	var out []Touched
	for _, u := range uids {
		out = append(out, Touched{Type: typ, UID: u, Region: region, Deleted: deleted})
	}
	return out
}

// ec2 maps ids to ARNs of resources the EC2 collector names with the
// account; the first non-empty id list wins for single-id requests.
func (m *mapping) ec2(typ, prefix string, deleted bool, ids ...string) []Touched {
	var uids []string
	for _, id := range ids {
		if id != "" {
			uids = append(uids, m.arn("ec2", m.e.Region, prefix+id))
		}
	}
	if len(uids) > 1 && typ != TypeEC2Instance && typ != TypeEC2VPC {
		uids = uids[:1]
	}
	return m.touched(typ, m.e.Region, deleted, uids...)
}

// ownerless maps snapshot and image ids to the account-less ARNs AWS gives
// them, as the collector does.
func (m *mapping) ownerless(typ, prefix string, deleted bool, id string) []Touched {
	if id == "" {
		return nil
	}
	return m.touched(typ, m.e.Region, deleted, "arn:"+m.part()+":ec2:"+m.e.Region+"::"+prefix+id)
}

func evEc2Group(m *mapping) []Touched {
	return m.ec2(TypeEC2SecurityGroup, "security-group/", false, m.req("groupId"),
		m.req("ModifySecurityGroupRulesRequest", "GroupId"))
}

func evEc2ACL(m *mapping) []Touched {
	return m.ec2(TypeEC2NetworkACL, "network-acl/", false, m.req("networkAclId"))
}

func evAccountWide(m *mapping) []Touched {
	return m.touched(TypeAccount, "global", false, "arn:"+m.part()+":vigil::"+m.e.Account+":account")
}

func evRegionWide(m *mapping) []Touched {
	return m.touched(TypeRegion, m.e.Region, false, m.arn("vigil", m.e.Region, "region"))
}

func evS3Bucket(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		b := m.req("bucketName")
		if b == "" {
			return nil
		}
		return m.touched(TypeS3Bucket, m.e.Region, deleted, "arn:"+m.part()+":s3:::"+b)
	}
}

// iamARN maps an ARN a response carries (CreateUser, CreateRole).
func (m *mapping) iamARN(typ, arn string) []Touched {
	if arn == "" {
		return nil
	}
	return m.touched(typ, "global", false, arn)
}

// iamName maps a name to the ARN of the entity at path "/". Requests carry
// the name only, so an entity created under another path gets a uid the
// collector does not emit; see docs/events.md.
func (m *mapping) iamName(typ, kind, name string, deleted bool) []Touched {
	if name == "" {
		return nil
	}
	return m.touched(typ, "global", deleted, "arn:"+m.part()+":iam::"+m.e.Account+":"+kind+"/"+name)
}

func evIAMUser(deleted bool) eventMapper {
	return func(m *mapping) []Touched { return m.iamName(typeIAMUser, "user", m.req("userName"), deleted) }
}

func evIAMGroup(deleted bool) eventMapper {
	return func(m *mapping) []Touched { return m.iamName(typeIAMGroup, "group", m.req("groupName"), deleted) }
}

func evIAMRole(deleted bool) eventMapper {
	return func(m *mapping) []Touched { return m.iamName(typeIAMRole, "role", m.req("roleName"), deleted) }
}

func evIAMPolicy(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		if p := m.req("policyArn"); p != "" {
			return m.touched(typeIAMPolicy, "global", deleted, p)
		}
		return nil
	}
}

// evIamWithPolicy adds the managed policy an attach or detach changed: its
// attachment count and entities are collected properties. AWS managed
// policies are included too; the collector finds them if it collects them.
func evIamWithPolicy(entity eventMapper) eventMapper {
	return func(m *mapping) []Touched {
		ts := entity(m)
		if len(ts) == 0 {
			return nil
		}
		return append(ts, evIAMPolicy(false)(m)...)
	}
}

// evIamKeyUser maps access key calls: without userName the key belongs to
// the calling IAM user.
func evIamKeyUser(m *mapping) []Touched {
	if u := m.req("userName"); u != "" {
		return m.iamName(typeIAMUser, "user", u, false)
	}
	if u := m.resp("accessKey", "userName"); u != "" {
		return m.iamName(typeIAMUser, "user", u, false)
	}
	if m.e.Actor.Type == "IAMUser" && strings.Contains(m.e.Actor.ARN, ":user/") {
		return m.touched(typeIAMUser, "global", false, m.e.Actor.ARN)
	}
	return nil
}

func evIamUserAndGroup(m *mapping) []Touched {
	u := evIAMUser(false)(m)
	g := evIAMGroup(false)(m)
	if len(u) == 0 || len(g) == 0 {
		return nil
	}
	return append(u, g...)
}

// rds maps an identifier; RDS stores identifiers lowercased, and so do the
// ARNs the collector emits.
func (m *mapping) rds(typ, prefix string, deleted bool, id string) []Touched {
	if id == "" {
		return nil
	}
	if strings.HasPrefix(id, "arn:") {
		return m.touched(typ, m.e.Region, deleted, id)
	}
	return m.touched(typ, m.e.Region, deleted, m.arn("rds", m.e.Region, prefix+strings.ToLower(id)))
}

func evRdsInstance(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		if a := m.resp("dBInstanceArn"); a != "" {
			return m.touched(TypeRDSInstance, m.e.Region, deleted, a)
		}
		return m.rds(TypeRDSInstance, "db:", deleted, m.req("dBInstanceIdentifier"))
	}
}

func evRdsCluster(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		if a := m.resp("dBClusterArn"); a != "" {
			return m.touched(TypeRDSCluster, m.e.Region, deleted, a)
		}
		return m.rds(TypeRDSCluster, "cluster:", deleted, m.req("dBClusterIdentifier"))
	}
}

// kms maps a key ARN or key id. An alias names no key without a lookup,
// so it maps to nothing and the event is counted as unmapped.
func (m *mapping) kms(arn, id string) []Touched {
	switch {
	case strings.HasPrefix(arn, "arn:") && strings.Contains(arn, ":key/"):
		return m.touched("aws.kms.key", m.e.Region, false, arn)
	case strings.HasPrefix(id, "arn:") && strings.Contains(id, ":key/"):
		return m.touched("aws.kms.key", m.e.Region, false, id)
	case id != "" && !strings.HasPrefix(id, "alias/") && !strings.HasPrefix(id, "arn:"):
		return m.touched("aws.kms.key", m.e.Region, false, m.arn("kms", m.e.Region, "key/"+id))
	}
	return nil
}

func evKmsKeyReq(m *mapping) []Touched { return m.kms(m.resp("keyId"), m.req("keyId")) }

func evTrail(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		if a := m.resp("trailARN"); a != "" {
			return m.touched(TypeCloudTrailTrail, m.e.Region, deleted, a)
		}
		n := m.req("name")
		if n == "" {
			n = m.req("trailName")
		}
		switch {
		case n == "":
			return nil
		case strings.HasPrefix(n, "arn:"):
			return m.touched(TypeCloudTrailTrail, m.e.Region, deleted, n)
		}
		return m.touched(TypeCloudTrailTrail, m.e.Region, deleted, m.arn("cloudtrail", m.e.Region, "trail/"+n))
	}
}

// evSqsQueueEvent maps a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)
// to the queue ARN.
func evSqsQueueEvent(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		u := m.req("queueUrl")
		if u == "" {
			u = m.resp("queueUrl")
		}
		if u == "" {
			return nil
		}
		parts := strings.Split(strings.TrimRight(u, "/"), "/")
		if len(parts) < 2 || parts[len(parts)-1] == "" {
			return nil
		}
		acct, name := parts[len(parts)-2], parts[len(parts)-1]
		return m.touched(TypeSQSQueue, m.e.Region, deleted,
			"arn:"+m.part()+":sqs:"+m.e.Region+":"+acct+":"+name)
	}
}

func evSnsTopic(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		a := m.req("topicArn")
		if a == "" {
			a = m.resp("topicArn")
		}
		if a == "" {
			return nil
		}
		return m.touched(TypeSNSTopic, m.e.Region, deleted, a)
	}
}

// evLambdaFn maps a function name, full or partial ARN, with or without a
// qualifier, to the unqualified function ARN.
func evLambdaFn(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		n := m.resp("functionArn")
		if n == "" {
			n = m.req("functionName")
		}
		if n == "" {
			return nil
		}
		parts := strings.Split(n, ":")
		switch {
		case len(parts) >= 7 && parts[0] == "arn":
			return m.touched(TypeLambdaFunction, m.e.Region, deleted, strings.Join(parts[:7], ":"))
		case len(parts) >= 3 && parts[1] == "function":
			return m.touched(TypeLambdaFunction, m.e.Region, deleted,
				"arn:"+m.part()+":lambda:"+m.e.Region+":"+parts[0]+":function:"+parts[2])
		case len(parts) <= 2:
			return m.touched(TypeLambdaFunction, m.e.Region, deleted, m.arn("lambda", m.e.Region, "function:"+parts[0]))
		}
		return nil
	}
}

// evSecret maps a secret by its ARN. The collector emits the ARN with its
// random suffix, which a name cannot give: a call that records only the
// name maps to nothing and is counted.
func evSecret(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		for _, a := range []string{m.resp("aRN"), m.resp("arn"), m.resp("ARN"), m.req("secretId")} {
			if strings.HasPrefix(a, "arn:") && strings.Contains(a, ":secret:") {
				return m.touched(TypeSecretsManagerSecret, m.e.Region, deleted, a)
			}
		}
		return nil
	}
}

func evEcrRepo(deleted bool) eventMapper {
	return func(m *mapping) []Touched {
		if a := m.resp("repository", "repositoryArn"); a != "" {
			return m.touched(TypeECRRepository, m.e.Region, deleted, a)
		}
		n := m.req("repositoryName")
		if n == "" {
			return nil
		}
		acct := m.req("registryId")
		if acct == "" {
			acct = m.e.Account
		}
		return m.touched(TypeECRRepository, m.e.Region, deleted,
			"arn:"+m.part()+":ecr:"+m.e.Region+":"+acct+":repository/"+n)
	}
}
