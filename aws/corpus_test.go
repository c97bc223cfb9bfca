package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
)

// corpusGlob selects the "is this resource policy public?" files of the
// iampolicy corpus (format in its README.md).
const corpusGlob = "../iampolicy/testdata/corpus/public-*.yaml"

// corpusChecks is the built-in check that judges each resource type's
// policy. S3 cases whose open grant is about writing are judged by
// aws-s3-bucket-no-public-write instead (see s3CorpusCheck).
var corpusChecks = map[string]string{
	TypeS3Bucket:             "aws-s3-bucket-no-public-read",
	TypeSQSQueue:             "aws-sqs-queue-not-public",
	TypeSNSTopic:             "aws-sns-topic-not-public",
	"aws.kms.key":            "aws-kms-key-policy-not-public",
	TypeSecretsManagerSecret: "aws-secretsmanager-secret-not-public",
	TypeECRRepository:        "aws-ecr-repository-not-public",
	TypeLambdaFunction:       "aws-lambda-function-not-public",
}

// corpusCase is the part of a corpus case this test uses.
type corpusCase struct {
	Name       string `yaml:"name"`
	Type       string `yaml:"type"`
	Policy     any    `yaml:"policy"`
	PolicyJSON string `yaml:"policy_json"`
	Want       struct {
		Public string `yaml:"public"`
	} `yaml:"want"`
}

// corpusSeed is one case as seeded into moto.
type corpusSeed struct {
	file  string
	c     corpusCase
	name  string // the resource's name as collected
	doc   string // the document put, "" for Lambda (built by AddPermission)
	check string
	skip  string // why the case was not seeded; "" when it was
}

// loadPublicCorpus returns, in file and case order, every case of the
// public-* files with a public verdict for a type in corpusChecks.
func loadPublicCorpus(t *testing.T) []corpusSeed {
	t.Helper()
	files, err := filepath.Glob(corpusGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files match %s: %v", corpusGlob, err)
	}
	sort.Strings(files)
	var out []corpusSeed
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []corpusCase
		if err := yaml.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cases {
			if c.Type == "" {
				c.Type = TypeS3Bucket
			}
			if _, ok := corpusChecks[c.Type]; ok && c.Want.Public != "" {
				out = append(out, corpusSeed{file: filepath.Base(f), c: c, check: corpusChecks[c.Type]})
			}
		}
	}
	return out
}

// document returns the case's policy as JSON text.
func (c *corpusCase) document(t *testing.T) string {
	t.Helper()
	if c.PolicyJSON != "" {
		return c.PolicyJSON
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c.Policy); err != nil {
		t.Fatalf("%s: encode policy: %v", c.Name, err)
	}
	return strings.TrimSpace(b.String())
}

// bucketARN matches a bucket (or object) ARN with a literal bucket name.
var bucketARN = regexp.MustCompile(`(arn:aws:s3:::)[a-z0-9][a-z0-9.\-]*[a-z0-9]([/"])`)

// statements returns a decoded document's statements.
func statements(doc any) []map[string]any {
	m, _ := doc.(map[string]any)
	switch st := m["Statement"].(type) {
	case map[string]any:
		return []map[string]any{st}
	case []any:
		out := make([]map[string]any, 0, len(st))
		for _, s := range st {
			if sm, ok := s.(map[string]any); ok {
				out = append(out, sm)
			}
		}
		return out
	}
	return nil
}

// strs returns a string or list of strings as a list; ok is false for
// anything else.
func strs(v any) (out []string, ok bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// s3CorpusCheck picks the S3 check that sees the case's open grant:
// aws-s3-bucket-no-public-write when its Allow statements name only write
// actions (the s3:PutObject cases about encryption keys and VPCs), else
// aws-s3-bucket-no-public-read. The read check does not count a public
// PutObject, so judging those cases by it would assert the wrong thing.
func s3CorpusCheck(doc any) string {
	write := false
	for _, st := range statements(doc) {
		if st["Effect"] != "Allow" {
			continue
		}
		if _, ok := st["NotAction"]; ok {
			return "aws-s3-bucket-no-public-read"
		}
		acts, _ := strs(st["Action"])
		for _, a := range acts {
			switch {
			case strings.Contains(a, "*") || slices.ContainsFunc(s3ReadActions, func(r string) bool { return strings.EqualFold(a, r) }):
				return "aws-s3-bucket-no-public-read"
			case slices.ContainsFunc(s3WriteActions, func(w string) bool { return strings.EqualFold(a, w) }):
				write = true
			}
		}
	}
	if write {
		return "aws-s3-bucket-no-public-write"
	}
	return "aws-s3-bucket-no-public-read"
}

// lambdaPermission expresses a Lambda policy as the AddPermission call
// that writes it, or says why it cannot: one Allow statement for
// lambda:InvokeFunction(Url), one principal, and only the conditions
// AddPermission writes (StringEquals aws:SourceAccount, ArnLike
// aws:SourceArn, StringEquals aws:PrincipalOrgID, StringEquals
// lambda:FunctionUrlAuthType) with single values.
func lambdaPermission(doc any) (*lambda.AddPermissionInput, string) {
	sts := statements(doc)
	if len(sts) != 1 {
		return nil, fmt.Sprintf("%d statements, AddPermission writes one", len(sts))
	}
	st := sts[0]
	if st["Effect"] != "Allow" {
		return nil, "not an Allow statement"
	}
	for _, k := range []string{"NotPrincipal", "NotAction", "NotResource"} {
		if _, ok := st[k]; ok {
			return nil, k + " cannot be written by AddPermission"
		}
	}
	acts, ok := strs(st["Action"])
	if !ok || len(acts) != 1 || (acts[0] != "lambda:InvokeFunction" && acts[0] != "lambda:InvokeFunctionUrl") {
		return nil, fmt.Sprintf("action %v is not lambda:InvokeFunction", st["Action"])
	}
	in := &lambda.AddPermissionInput{Action: aws.String(acts[0])}
	switch p := st["Principal"].(type) {
	case string:
		if p != "*" {
			return nil, fmt.Sprintf("principal %q", p)
		}
		in.Principal = aws.String("*")
	case map[string]any:
		if len(p) != 1 {
			return nil, fmt.Sprintf("principal %v names several kinds", p)
		}
		for kind, v := range p {
			s, ok := v.(string)
			switch {
			case !ok:
				return nil, fmt.Sprintf("principal %v is not one value", p)
			case kind == "AWS" && regexp.MustCompile(`^\d{12}$`).MatchString(s):
				in.Principal = aws.String("arn:aws:iam::" + s + ":root")
			case kind == "AWS" || kind == "Service":
				in.Principal = aws.String(s)
			default:
				return nil, fmt.Sprintf("principal kind %s", kind)
			}
		}
	default:
		return nil, fmt.Sprintf("principal %v", st["Principal"])
	}
	cond, _ := st["Condition"].(map[string]any)
	for op, kv := range cond {
		keys, ok := kv.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("condition %s is not a map", op)
		}
		for key, v := range keys {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Sprintf("condition %s %s has several values", op, key)
			}
			switch {
			case op == "StringEquals" && strings.EqualFold(key, "aws:SourceAccount"):
				in.SourceAccount = aws.String(s)
			case op == "ArnLike" && strings.EqualFold(key, "aws:SourceArn"):
				in.SourceArn = aws.String(s)
			case op == "StringEquals" && strings.EqualFold(key, "aws:PrincipalOrgID"):
				in.PrincipalOrgID = aws.String(s)
			case op == "StringEquals" && strings.EqualFold(key, "lambda:FunctionUrlAuthType"):
				in.FunctionUrlAuthType = lambdatypes.FunctionUrlAuthType(s)
			default:
				return nil, fmt.Sprintf("condition %s %s cannot be written by AddPermission", op, key)
			}
		}
	}
	return in, ""
}

// seedCorpus creates one resource per case in us-east-1 with the case's
// policy. A policy moto refuses leaves the case skipped (the resource
// stays, without the policy, and is not asserted).
func seedCorpus(t *testing.T, seeds []corpusSeed) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	s3c := s3Client(t, "us-east-1")
	sqsc, snsc, kmsc := sqs.NewFromConfig(cfg), sns.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	smc, ecrc, lc := secretsmanager.NewFromConfig(cfg), ecr.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	var role *string
	for i := range seeds {
		s := &seeds[i]
		name := fmt.Sprintf("corpus-%03d", i)
		s.name = name
		doc := s.c.document(t)
		var err error
		switch s.c.Type {
		case TypeS3Bucket:
			s.name = "vigil-" + name
			doc = bucketARN.ReplaceAllString(doc, "${1}"+s.name+"${2}")
			must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.name}))
			_, err = s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &s.name, Policy: &doc})
			var v any
			if jerr := json.Unmarshal([]byte(doc), &v); jerr == nil {
				s.check = s3CorpusCheck(v)
			}
		case TypeSQSQueue:
			out, cerr := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
			if cerr != nil {
				t.Fatal(cerr)
			}
			_, err = sqsc.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl,
				Attributes: map[string]string{"Policy": doc}})
		case TypeSNSTopic:
			out, cerr := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: &name})
			if cerr != nil {
				t.Fatal(cerr)
			}
			_, err = snsc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: out.TopicArn,
				AttributeName: aws.String("Policy"), AttributeValue: &doc})
		case "aws.kms.key":
			out, cerr := kmsc.CreateKey(ctx, &kms.CreateKeyInput{Description: &name})
			if cerr != nil {
				t.Fatal(cerr)
			}
			s.name = aws.ToString(out.KeyMetadata.KeyId)
			_, err = kmsc.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &s.name, PolicyName: aws.String("default"), Policy: &doc})
		case TypeSecretsManagerSecret:
			must[any](t)(smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: aws.String(secretValue)}))
			_, err = smc.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: &name, ResourcePolicy: &doc})
		case TypeECRRepository:
			must[any](t)(ecrc.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: &name}))
			_, err = ecrc.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: &name, PolicyText: &doc})
		case TypeLambdaFunction:
			var v any
			if jerr := json.Unmarshal([]byte(doc), &v); jerr != nil {
				s.skip = "policy is not JSON: " + jerr.Error()
				continue
			}
			in, why := lambdaPermission(v)
			if why != "" {
				s.skip = "not expressible as AddPermission: " + why
				continue
			}
			if role == nil {
				trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
				out, rerr := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("corpus-fn-role"),
					AssumeRolePolicyDocument: aws.String(trust)})
				if rerr != nil {
					t.Fatal(rerr)
				}
				role = out.Role.Arn
			}
			must[any](t)(lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: &name, Runtime: lambdatypes.RuntimePython313,
				Role: role, Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: lambdaZip(t)}}))
			in.FunctionName, in.StatementId = &name, aws.String("corpus")
			_, err = lc.AddPermission(ctx, in)
			doc = ""
		}
		if err != nil {
			s.skip = "moto refused the policy: " + err.Error()
			continue
		}
		s.doc = doc
	}
}

// collectCorpus is collect for the corpus services in us-east-1 with S3's
// request rate raised: the 211 buckets took 20 s to collect at the default
// 100 requests/s and take 7-12 s without the limit (moto's own pace).
func collectCorpus(t *testing.T) *collected {
	t.Helper()
	return collectOptions(t, Options{Regions: []string{"us-east-1"},
		Services: []string{"s3", "sqs", "sns", "kms", "secretsmanager", "ecr", "lambda"},
		Rates:    map[string]float64{"s3": 2000}})
}

// TestCorpusVerdicts seeds moto with a resource for every public-* corpus
// case of a type with a policy check (buckets, queues, topics, keys,
// secrets, repositories, functions), collects them in one run and asserts
// that the check fails exactly for the cases the corpus calls public. It
// ties the engine's corpus verdicts to what a scan reports for real
// resources: the policy as the service hands it back, the collector's
// parsing and the check's expression.
func TestCorpusVerdicts(t *testing.T) {
	moto.Reset(t)
	// Block Public Access off for the account (and moto sets none on new
	// buckets), so the bucket policy alone decides the S3 verdicts.
	putAccountBPA(t, false, false, false, false)
	seeds := loadPublicCorpus(t)
	start := time.Now()
	seedCorpus(t, seeds)
	seeded := time.Since(start)
	col := collectCorpus(t)
	t.Logf("seeded %d cases in %v, collected in %v", len(seeds), seeded.Round(time.Millisecond),
		(time.Since(start) - seeded).Round(time.Millisecond))
	if len(col.readErrors) != 0 {
		t.Errorf("read errors: %v", col.readErrors)
	}

	set, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatalf("load built-in checks: %v", err)
	}
	now := time.Now()
	ran, skipped, byCheck := map[string]int{}, map[string][]string{}, map[string]map[string]int{}
	for _, s := range seeds {
		if s.skip != "" {
			skipped[s.c.Type] = append(skipped[s.c.Type], fmt.Sprintf("%s %q: %s", s.file, s.c.Name, s.skip))
			continue
		}
		ran[s.c.Type]++
		if byCheck[s.c.Type] == nil {
			byCheck[s.c.Type] = map[string]int{}
		}
		byCheck[s.c.Type][s.check]++
		// Not subtests: the mismatches and the counts below are what a
		// reader of `go test -v | tail` needs, not 237 PASS lines.
		func() {
			where := fmt.Sprintf("%s %q (%s %s)", s.file, s.c.Name, s.c.Type, s.name)
			r, ok := col.ofType(s.c.Type)[s.name]
			if !ok {
				t.Errorf("%s: not collected", where)
				return
			}
			if s.doc != "" {
				var sent any
				if err := json.Unmarshal([]byte(s.doc), &sent); err != nil {
					t.Errorf("%s: the seeded policy is not JSON: %v", where, err)
					return
				}
				if got := r.Properties["policy"]; !reflect.DeepEqual(got, sent) {
					g, _ := json.Marshal(got)
					t.Errorf("%s: collected policy\n  %s\ndiffers from the one put\n  %s", where, g, s.doc)
				}
			}
			if s.c.Type == TypeS3Bucket {
				pub, _ := r.Properties["public"].(map[string]any)
				if got, ok := pub["policy"].(bool); !ok || got != (s.c.Want.Public == "public") {
					t.Errorf("%s: public.policy = %v (present %v), want %v (%v)", where, pub["policy"], ok,
						s.c.Want.Public == "public", r.Properties["policy_public_reason"])
				}
			}
			chk, ok := set.Get(s.check)
			if !ok {
				t.Errorf("%s: no check %s", where, s.check)
				return
			}
			o := chk.Evaluate(policy.NewInput(&r, now))
			want := vigil.StatusPass
			if s.c.Want.Public == "public" {
				want = vigil.StatusFail
			}
			if !o.Applies || o.Status != want {
				t.Errorf("%s: %s = %s (applies %v), want %s for %s: %s", where, s.check, o.Status, o.Applies, want, s.c.Want.Public, o.Reason)
			}
		}()
	}
	total := 0
	types := make([]string, 0, len(corpusChecks))
	for typ := range corpusChecks {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		total += ran[typ]
		t.Logf("%s: %d ran %v, %d skipped", typ, ran[typ], byCheck[typ], len(skipped[typ]))
		for _, why := range skipped[typ] {
			t.Logf("  skipped %s", why)
		}
	}
	if total < 40 {
		t.Fatalf("%d corpus cases ran, want at least 40", total)
	}
}
