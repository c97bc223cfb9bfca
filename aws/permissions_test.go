package aws

import (
	"context"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil/iampolicy"
	"github.com/vigilsec/vigil/internal/demo"
	"github.com/vigilsec/vigil/internal/testenv"
)

// iamPrefixes maps SDK service ids to IAM action prefixes.
var iamPrefixes = map[string]string{
	"AccessAnalyzer": "access-analyzer", "CloudTrail": "cloudtrail", "Config Service": "config", "EC2": "ec2",
	"ECR": "ecr", "GuardDuty": "guardduty", "IAM": "iam", "KMS": "kms", "Lambda": "lambda", "RDS": "rds",
	"S3": "s3", "S3 Control": "s3", "SNS": "sns", "SQS": "sqs", "Secrets Manager": "secretsmanager", "STS": "sts",
}

// iamActionNames are the API operations whose IAM action has another name
// (Service Authorization Reference), keyed by "service id|operation".
var iamActionNames = map[string]string{
	"S3|ListBuckets":                          "s3:ListAllMyBuckets",
	"S3|GetBucketEncryption":                  "s3:GetEncryptionConfiguration",
	"S3|PutBucketEncryption":                  "s3:PutEncryptionConfiguration",
	"S3|DeleteBucketEncryption":               "s3:PutEncryptionConfiguration",
	"S3|GetObjectLockConfiguration":           "s3:GetBucketObjectLockConfiguration",
	"S3|GetPublicAccessBlock":                 "s3:GetBucketPublicAccessBlock",
	"S3|PutPublicAccessBlock":                 "s3:PutBucketPublicAccessBlock",
	"S3|DeletePublicAccessBlock":              "s3:PutBucketPublicAccessBlock",
	"S3 Control|GetPublicAccessBlock":         "s3:GetAccountPublicAccessBlock",
	"S3 Control|PutPublicAccessBlock":         "s3:PutAccountPublicAccessBlock",
	"S3 Control|DeletePublicAccessBlock":      "s3:PutAccountPublicAccessBlock",
	"S3|GetBucketLifecycleConfiguration":      "s3:GetLifecycleConfiguration",
	"S3|PutBucketLifecycleConfiguration":      "s3:PutLifecycleConfiguration",
	"S3|GetBucketReplication":                 "s3:GetReplicationConfiguration",
	"S3|DeleteBucketPolicy":                   "s3:DeleteBucketPolicy",
	"S3|DeleteBucketOwnershipControls":        "s3:PutBucketOwnershipControls",
	"S3|DeleteBucketLifecycle":                "s3:PutLifecycleConfiguration",
	"Lambda|GetFunctionUrlConfig":             "lambda:GetFunctionUrlConfig",
	"Lambda|GetPolicy":                        "lambda:GetPolicy",
	"Config Service|PutConfigurationRecorder": "config:PutConfigurationRecorder",
}

// iamAction names the IAM action an SDK call needs.
func iamAction(service, op string) string {
	if a, ok := iamActionNames[service+"|"+op]; ok {
		return a
	}
	return iamPrefixes[service] + ":" + op
}

// recordCalls returns a middleware that records every call's IAM action.
func recordCalls(mu *sync.Mutex, seen map[string]bool) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordIAMAction",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				mu.Lock()
				seen[iamAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))] = true
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// loadPolicy reads a shipped IAM policy document.
func loadPolicy(t *testing.T, path string) *iampolicy.Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := iampolicy.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// allows reports whether an identity policy lets its holder call action.
func allows(p *iampolicy.Policy, action string) bool {
	return iampolicy.Evaluate(iampolicy.Request{Principal: iampolicy.AWS("arn:aws:iam::" + "123456789012:role/Vigil"),
		Action: action, Resource: "*"}, p) == iampolicy.Allowed
}

// watchGrants are the only actions the scanner policy allows beyond reads,
// by the resource of their statement: what EventQueue calls on the queue
// and on the dead-letter queue, and nothing else anywhere else.
var watchGrants = map[string][]string{
	"arn:aws:sqs:*:*:vigil-events":     {"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
	"arn:aws:sqs:*:*:vigil-events-dlq": {"sqs:GetQueueAttributes", "sqs:SendMessage"},
}

// TestScannerPolicy: a full scan of the demo estate makes
// only calls the shipped policy allows, and that policy reads only:
// every action is a Describe/Get/List (or the credential report's
// Generate) on "*", except the watch queue statements (watchGrants,
// TestScannerPolicyWatchQueue), and the engine finds no admin access and
// no escalation path.
func TestScannerPolicy(t *testing.T) {
	moto.Reset(t)
	if err := demo.Seed(context.Background(), moto.Config(t, "us-east-1"), 1); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	collectWith(t, nil, recordCalls(&mu, seen))
	p := loadPolicy(t, "../deploy/iam/vigil-scanner.json")
	var missing []string
	for a := range seen {
		if !allows(p, a) {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/iam/vigil-scanner.json does not allow calls a scan makes: %v", missing)
	}
	if len(seen) < 80 {
		t.Errorf("the scan made only %d kinds of call; the seed no longer exercises the collectors", len(seen))
	}
	read := regexp.MustCompile(`^[a-z0-9-]+:(Describe|Get|List|GenerateCredentialReport$)`)
	watch := map[string]bool{}
	for _, s := range p.Statements {
		if s.Effect != iampolicy.Allow || s.Actions.Not || s.Resources.Not || s.Resources.Absent || len(s.Conditions) > 0 {
			t.Errorf("scanner policy %s: want a plain Allow of Action on Resource", s.Name())
			continue
		}
		if len(s.Resources.Values) == 1 && watchGrants[s.Resources.Values[0]] != nil {
			res := s.Resources.Values[0]
			got := append([]string(nil), s.Actions.Values...)
			sort.Strings(got)
			if !reflect.DeepEqual(got, watchGrants[res]) {
				t.Errorf("scanner policy %s on %s allows %q, want exactly %q", s.Name(), res, got, watchGrants[res])
			}
			watch[res] = true
			continue
		}
		if !reflect.DeepEqual(s.Resources.Values, []string{"*"}) {
			t.Errorf("scanner policy %s: resources %q, want \"*\" (reads) or one watch queue", s.Name(), s.Resources.Values)
		}
		for _, a := range s.Actions.Values {
			if !read.MatchString(a) || strings.ContainsAny(a, "*?") {
				t.Errorf("scanner policy action %s is not a read", a)
			}
		}
	}
	if len(watch) != len(watchGrants) {
		t.Errorf("scanner policy has statements for %d of the %d watch queues", len(watch), len(watchGrants))
	}
	if r := iampolicy.AnalyzePrincipal([]*iampolicy.Policy{p}, nil); r.Admin || len(r.Escalations) > 0 {
		t.Errorf("scanner policy: admin %v, escalation %v", r.Admin, r.Escalations)
	}
}

// call is one recorded API call: its IAM action and the ARN of the
// resource it acts on.
type call struct{ action, resource string }

// recordQueueCalls returns a middleware that records each SQS call's IAM
// action and the ARN of the queue its QueueUrl names, in the region the
// client calls (moto's URLs name none).
func recordQueueCalls(t *testing.T, mu *sync.Mutex, seen map[call]bool) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("RecordQueueCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c := call{action: iamAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))}
				if f := reflect.ValueOf(in.Parameters).Elem().FieldByName("QueueUrl"); f.IsValid() {
					u, err := url.Parse(aws.ToString(f.Interface().(*string)))
					parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
					if err != nil || len(parts) != 2 {
						t.Errorf("%s: queue URL %v", c.action, f.Interface())
					} else {
						c.resource = "arn:aws:sqs:" + awsmiddleware.GetRegion(ctx) + ":" + parts[0] + ":" + parts[1]
					}
				}
				mu.Lock()
				seen[c] = true
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// TestScannerPolicyWatchQueue: every call EventQueue makes (open with a
// dead-letter queue, receive, delete, release, move aside) is allowed by
// the shipped scanner policy on the queue it is made on, and the writes
// the policy allows are those calls on Vigil's two queues and no others.
func TestScannerPolicyWatchQueue(t *testing.T) {
	ctx := context.Background()
	const (
		queueARN = "arn:aws:sqs:us-east-1:" + testenv.MotoAccount + ":vigil-events"
		dlqARN   = "arn:aws:sqs:us-east-1:" + testenv.MotoAccount + ":vigil-events-dlq"
		otherARN = "arn:aws:sqs:us-east-1:" + testenv.MotoAccount + ":orders"
	)
	// The policy names the queues, so these are the real names, not the
	// test's (see seedQueue).
	sqsClient := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	urls := map[string]string{}
	for _, name := range []string{"vigil-events", "vigil-events-dlq"} {
		out, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatalf("create queue %s: %v", name, err)
		}
		urls[name] = aws.ToString(out.QueueUrl)
		t.Cleanup(func() { _, _ = sqsClient.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	}
	sendBodies(t, urls["vigil-events"], "done", "retry", "poison")

	c, acct := queueCollector(t, Options{Regions: []string{"us-east-1"}})
	base, err := c.base(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[call]bool{}
	base.APIOptions = append(append([]func(*middleware.Stack) error{}, base.APIOptions...), recordQueueCalls(t, &mu, seen))
	c.mu.Lock()
	c.bases[acct.Profile+"|"+acct.RoleARN] = base
	c.mu.Unlock()

	q, err := c.Queue(ctx, acct, QueueOptions{URL: urls["vigil-events"], DeadLetterURL: urls["vigil-events-dlq"], WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := receiveBodies(t, q)
	if keys := bodyKeys(got); !reflect.DeepEqual(keys, []string{"done", "poison", "retry"}) {
		t.Fatalf("received %q, want the three bodies", keys)
	}
	if err := q.Delete(ctx, got["done"]); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, got["retry"]); err != nil {
		t.Fatal(err)
	}
	if err := q.MoveAside(ctx, got["poison"], "malformed"); err != nil {
		t.Fatal(err)
	}

	want := map[call]bool{
		{"sqs:GetQueueAttributes", queueARN}:      true,
		{"sqs:GetQueueAttributes", dlqARN}:        true,
		{"sqs:ReceiveMessage", queueARN}:          true,
		{"sqs:DeleteMessage", queueARN}:           true,
		{"sqs:ChangeMessageVisibility", queueARN}: true,
		{"sqs:SendMessage", dlqARN}:               true,
	}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("EventQueue called\n %v\nwant\n %v", seen, want)
	}
	p := loadPolicy(t, "../deploy/iam/vigil-scanner.json")
	role := iampolicy.AWS("arn:aws:iam::" + testenv.MotoAccount + ":role/Vigil")
	for c := range seen {
		if d := iampolicy.Evaluate(iampolicy.Request{Principal: role, Action: c.action, Resource: c.resource}, p); d != iampolicy.Allowed {
			t.Errorf("deploy/iam/vigil-scanner.json: %s on %s is %s, want allowed", c.action, c.resource, d)
		}
	}

	// Every SQS write, on each queue: allowed exactly when EventQueue
	// makes it there. Another queue gets reads only.
	writes := []string{"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
		"sqs:PurgeQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue", "sqs:CreateQueue", "sqs:AddPermission",
		"sqs:RemovePermission", "sqs:TagQueue", "sqs:UntagQueue", "sqs:StartMessageMoveTask", "sqs:CancelMessageMoveTask"}
	for _, res := range []string{queueARN, dlqARN, otherARN, "arn:aws:sqs:eu-west-1:210987654321:vigil-events-dlq-2"} {
		for _, a := range writes {
			wantAllowed := want[call{a, res}]
			d := iampolicy.Evaluate(iampolicy.Request{Principal: role, Action: a, Resource: res}, p)
			if (d == iampolicy.Allowed) != wantAllowed {
				t.Errorf("scanner policy: %s on %s is %s, want allowed %v", a, res, d, wantAllowed)
			}
		}
		if d := iampolicy.Evaluate(iampolicy.Request{Principal: role, Action: "sqs:GetQueueAttributes", Resource: res}, p); d != iampolicy.Allowed {
			t.Errorf("scanner policy: sqs:GetQueueAttributes on %s is %s, want allowed (the sqs collector reads every queue)", res, d)
		}
	}
}
