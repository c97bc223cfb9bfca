package aws

import (
	"context"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil/iampolicy"
	"github.com/vigilsec/vigil/internal/demo"
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

// TestScannerPolicy: a full scan of the demo estate makes
// only calls the shipped read-only policy allows, and that policy reads
// only: every action is a Describe/Get/List (or the credential report's
// Generate) and the engine finds no admin access and no escalation path.
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
	for _, s := range p.Statements {
		for _, a := range s.Actions.Values {
			if !read.MatchString(a) || strings.ContainsAny(a, "*?") {
				t.Errorf("scanner policy action %s is not a read", a)
			}
		}
	}
	if r := iampolicy.AnalyzePrincipal([]*iampolicy.Policy{p}, nil); r.Admin || len(r.Escalations) > 0 {
		t.Errorf("scanner policy: admin %v, escalation %v", r.Admin, r.Escalations)
	}
}
