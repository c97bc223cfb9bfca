package aws

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/iampolicy"
)

// Statements of the documents below.
const (
	fpQueue      = `"Resource":"arn:aws:sqs:us-east-1:123456789012:orders"`
	fpWorkers    = `{"Sid":"Workers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/worker"},"Action":["sqs:ReceiveMessage","sqs:DeleteMessage"],` + fpQueue + `}`
	fpAnyone     = `{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage",` + fpQueue + `}`
	fpAnyoneRecv = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:ReceiveMessage",` + fpQueue + `}`
	fpTopic      = `{"Sid":"Topic","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",` + fpQueue + `,"Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:orders"}}}`
	fpOrg        = `{"Sid":"Org","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage",` + fpQueue + `,"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`
	fpEndpoints  = `{"Sid":"Endpoints","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage",` + fpQueue + `,"Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}`
	fpDenyOrg    = `{"Sid":"DenyOutsideOrg","Effect":"Deny","Principal":"*","Action":"sqs:*",` + fpQueue + `,"Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`
	fpAllBut     = `{"Sid":"AllButAuditor","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:role/auditor"},"Action":"sqs:ReceiveMessage",` + fpQueue + `}`
	fpS3Only     = `{"Sid":"S3Only","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}`
)

// fpDoc is a queue policy of statements.
func fpDoc(stmts ...string) string {
	return `{"Version":"2012-10-17","Id":"orders-policy","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// TestResPolicyStrip: exactly the statements that make a document public
// are removed, in as many rounds as it takes; the others are kept as
// written, with the document's other elements in their order.
func TestResPolicyStrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		doc     string
		after   string
		removed []string
		kept    int
		err     string
	}{
		{name: "not public", doc: fpDoc(fpWorkers, fpTopic, fpOrg), kept: 3},
		{name: "the only statement is public", doc: fpDoc(fpAnyone), removed: []string{`Statement[0] "Anyone"`}},
		{name: "public statement among others", doc: fpDoc(fpWorkers, fpAnyone, fpTopic),
			after: fpDoc(fpWorkers, fpTopic), removed: []string{`Statement[1] "Anyone"`}, kept: 2},
		{name: "two public statements, no Sid on one", doc: fpDoc(fpAnyone, fpWorkers, fpAnyoneRecv),
			after: fpDoc(fpWorkers), removed: []string{`Statement[0] "Anyone"`, `Statement[2]`}, kept: 1},
		{name: "wildcard endpoint is public, organization is not", doc: fpDoc(fpOrg, fpEndpoints),
			after: fpDoc(fpOrg), removed: []string{`Statement[1] "Endpoints"`}, kept: 1},
		{name: "a Deny takes the grant away", doc: fpDoc(fpAnyone, fpDenyOrg), kept: 2},
		{name: "NotPrincipal", doc: fpDoc(fpAllBut, fpTopic), after: fpDoc(fpTopic),
			removed: []string{`Statement[0] "AllButAuditor"`}, kept: 1},
		{name: "public only for another service", doc: fpDoc(fpS3Only), kept: 1},
		{name: "Statement as an object", doc: `{"Version":"2012-10-17","Statement":` + fpAnyone + `}`,
			removed: []string{`Statement[0] "Anyone"`}},
		{name: "URL-encoded", doc: url.QueryEscape(fpDoc(fpAnyone, fpWorkers)), after: fpDoc(fpWorkers),
			removed: []string{`Statement[0] "Anyone"`}, kept: 1},
		{name: "whitespace is compacted, order kept", doc: "{\n  \"Id\": \"x\",\n  \"Statement\": [" + fpWorkers + ", " + fpAnyone + "],\n  \"Version\": \"2012-10-17\"\n}",
			after: `{"Id":"x","Statement":[` + fpWorkers + `],"Version":"2012-10-17"}`, removed: []string{`Statement[1] "Anyone"`}, kept: 1},
		{name: "not JSON", doc: `{"Version":"2012-10-17","Statement":[`, err: "the policy does not parse"},
		{name: "no Statement", doc: `{"Version":"2012-10-17"}`, err: "the policy has no Statement"},
		{name: "no statements", doc: `{"Version":"2012-10-17","Statement":[]}`, err: "the policy does not parse: invalid policy: Statement: the list is empty"},
		{name: "not a policy", doc: fpDoc(`{"Effect":"Allow","Principal":"*"}`), err: "the policy does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := resPolicyStrip(tc.doc, iampolicy.Options{ResourceType: TypeSQSQueue})
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.After != tc.after || !reflect.DeepEqual(got.Removed, tc.removed) || got.Kept != tc.kept {
				t.Errorf("got after %s removed %q kept %d\nwant after %s removed %q kept %d", got.After, got.Removed, got.Kept, tc.after, tc.removed, tc.kept)
			}
			if len(got.Statements) != len(tc.removed) {
				t.Errorf("%d statements returned, want %d", len(got.Statements), len(tc.removed))
			}
			if len(tc.removed) > 0 && len(got.Reasons) == 0 {
				t.Error("no reason given")
			}
		})
	}
}

// TestLambdaPermissionOf: a removed statement is re-added exactly only
// when AddPermission writes it that way.
func TestLambdaPermissionOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stmt string
		want       map[string]any
		why        string
	}{
		{name: "anyone may invoke", stmt: `{"Sid":"a","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}`,
			want: map[string]any{"Action": "lambda:InvokeFunction", "Principal": "*"}},
		{name: "public URL", stmt: `{"Sid":"u","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}`,
			want: map[string]any{"Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"}},
		{name: "any bucket", stmt: `{"Sid":"s","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::*"},"StringEquals":{"AWS:SourceAccount":"123456789012"}}}`,
			want: map[string]any{"Action": "lambda:InvokeFunction", "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::*", "SourceAccount": "123456789012"}},
		{name: "organization and URL invocation", stmt: `{"Sid":"o","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"},"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}`,
			want: map[string]any{"Action": "lambda:InvokeFunction", "Principal": "*", "PrincipalOrgID": "o-1", "InvokedViaFunctionUrl": "true"}},
		{name: "two actions", stmt: `{"Sid":"x","Effect":"Allow","Principal":"*","Action":["lambda:InvokeFunction","lambda:GetFunction"]}`,
			why: "AddPermission writes one action, not [lambda:InvokeFunction lambda:GetFunction]"},
		{name: "NotPrincipal", stmt: `{"Sid":"x","Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:role/r"},"Action":"lambda:InvokeFunction"}`,
			why: "AddPermission cannot write NotPrincipal"},
		{name: "AWS star", stmt: `{"Sid":"x","Effect":"Allow","Principal":{"AWS":"*"},"Action":"lambda:InvokeFunction"}`,
			why: "AddPermission cannot write principal map[AWS:*]"},
		{name: "other condition", stmt: `{"Sid":"x","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}`,
			why: "AddPermission cannot write the condition IpAddress aws:SourceIp"},
		{name: "several values", stmt: `{"Sid":"x","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Condition":{"StringEquals":{"AWS:SourceAccount":["1","2"]}}}`,
			why: "the condition StringEquals AWS:SourceAccount has several values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stmt map[string]any
			if err := json.Unmarshal([]byte(tc.stmt), &stmt); err != nil {
				t.Fatal(err)
			}
			got, why := lambdaPermissionOf(stmt)
			if !reflect.DeepEqual(got, tc.want) || why != tc.why {
				t.Errorf("got %v %q, want %v %q", got, why, tc.want, tc.why)
			}
		})
	}
}

// fpJSON decodes a document for comparisons that ignore formatting (moto
// re-serialises some documents).
func fpJSON(t *testing.T, doc string) any {
	t.Helper()
	if doc == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return v
}

// fpSameJSON fails the test when two documents differ.
func fpSameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	if !reflect.DeepEqual(fpJSON(t, got), fpJSON(t, want)) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// fpPlanned asserts the operations of the planned calls.
func fpPlanned(t *testing.T, calls []vigil.FixCall, ops []string) {
	t.Helper()
	if got := operations(calls); !reflect.DeepEqual(got, ops) {
		t.Errorf("planned calls %v, want %v", got, ops)
	}
}

func TestFixSQSRemovePublicStatements(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	arn := func(q string) string { return "arn:aws:sqs:us-east-1:123456789012:" + q }
	mixed := `{"Version":"2012-10-17","Id":"mixed-policy","Statement":[` +
		`{"Sid":"Workers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/worker"},"Action":"sqs:ReceiveMessage","Resource":"` + arn("mixed") + `"},` +
		`{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"` + arn("mixed") + `"}]}`
	open := `{"Version":"2012-10-17","Statement":[{"Sid":"Anyone","Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"` + arn("open") + `"}]}`
	urls := map[string]string{}
	for name, doc := range map[string]string{"mixed": mixed, "open": open} {
		out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{"Policy": doc}})
		if err != nil {
			t.Fatal(err)
		}
		urls[name] = aws.ToString(out.QueueUrl)
	}
	h := newFixHarness(t, []string{"sqs"})
	policy := func(q string) (string, bool) {
		t.Helper()
		out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(urls[q]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy}})
		if err != nil {
			t.Fatal(err)
		}
		p, ok := out.Attributes["Policy"]
		return p, ok
	}

	// Only the public statement goes; Workers and the Id stay.
	j, f, p := h.plan("aws-sqs-queue-not-public", h.uid(TypeSQSQueue, "mixed"), nil)
	fpPlanned(t, p.Calls, []string{"sqs:SetQueueAttributes"})
	if want := []string{`remove the public statements Statement[1] "Anyone" from the access policy of queue mixed, keeping its 1 other statement(s)`,
		`public because Statement[1] "Anyone" grants anyone sqs:SendMessage`}; !reflect.DeepEqual(p.Steps, want) {
		t.Errorf("steps %q, want %q", p.Steps, want)
	}
	want := `{"Version":"2012-10-17","Id":"mixed-policy","Statement":[` +
		`{"Sid":"Workers","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/worker"},"Action":"sqs:ReceiveMessage","Resource":"` + arn("mixed") + `"}]}`
	if got := p.Calls[0].Input["Attributes"].(map[string]any)["Policy"]; got != want {
		t.Errorf("planned policy %v, want %s", got, want)
	}
	if got, _ := policy("mixed"); !reflect.DeepEqual(fpJSON(t, got), fpJSON(t, mixed)) {
		t.Fatalf("the plan changed the policy: %s", got)
	}
	done := h.apply(j, f, p)
	got, _ := policy("mixed")
	fpSameJSON(t, "after the fix", got, want)
	h.undo(done.ID)
	got, _ = policy("mixed")
	fpSameJSON(t, "after undo", got, mixed)

	// Every statement is public: the policy is removed, and comes back.
	j, f, p = h.plan("aws-sqs-queue-not-public", h.uid(TypeSQSQueue, "open"), nil)
	if in := p.Calls[0].Input["Attributes"].(map[string]any); !reflect.DeepEqual(in, map[string]any{"Policy": ""}) {
		t.Errorf("planned attributes %v, want an empty Policy", in)
	}
	done = h.apply(j, f, p)
	if got, ok := policy("open"); ok {
		t.Errorf("after the fix the queue still has a policy: %s", got)
	}
	h.undo(done.ID)
	got, _ = policy("open")
	fpSameJSON(t, "after undo", got, open)
}

func TestFixSNSRemovePublicStatements(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := sns.NewFromConfig(moto.Config(t, "us-east-1"))
	arn := func(name string) string { return "arn:aws:sns:us-east-1:123456789012:" + name }
	// The default statement (what SNS gives every topic) and a public one.
	def := func(name string) string {
		return `{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],"Resource":"` +
			arn(name) + `","Condition":{"StringEquals":{"AWS:SourceOwner":"123456789012"}}}`
	}
	alerts := `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[` + def("alerts") +
		`,{"Sid":"AnyonePublishes","Effect":"Allow","Principal":{"AWS":"*"},"Action":"sns:Publish","Resource":"` + arn("alerts") + `"}]}`
	wide := `{"Version":"2012-10-17","Statement":[{"Sid":"AnyoneSubscribes","Effect":"Allow","Principal":"*","Action":["sns:Subscribe","sns:Receive"],"Resource":"` + arn("wide") + `"}]}`
	for name, doc := range map[string]string{"alerts": alerts, "wide": wide} {
		if _, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: map[string]string{"Policy": doc}}); err != nil {
			t.Fatal(err)
		}
	}
	h := newFixHarness(t, []string{"sns"})
	policy := func(name string) string {
		t.Helper()
		out, err := c.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn(name))})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["Policy"]
	}

	j, f, p := h.plan("aws-sns-topic-not-public", arn("alerts"), nil)
	fpPlanned(t, p.Calls, []string{"sns:SetTopicAttributes"})
	want := `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[` + def("alerts") + `]}`
	if in := p.Calls[0].Input; in["AttributeName"] != "Policy" || in["AttributeValue"] != want {
		t.Errorf("planned input %v, want Policy %s", in, want)
	}
	fpSameJSON(t, "after the plan", policy("alerts"), alerts)
	done := h.apply(j, f, p)
	fpSameJSON(t, "after the fix", policy("alerts"), want)
	h.undo(done.ID)
	fpSameJSON(t, "after undo", policy("alerts"), alerts)

	// A topic cannot be without a policy: the default one replaces it.
	j, f, p = h.plan("aws-sns-topic-not-public", arn("wide"), nil)
	done = h.apply(j, f, p)
	fpSameJSON(t, "after the fix", policy("wide"), `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[`+def("wide")+`]}`)
	h.undo(done.ID)
	fpSameJSON(t, "after undo", policy("wide"), wide)
}

func TestFixSecretsManagerRemovePublicStatements(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := secretsmanager.NewFromConfig(moto.Config(t, "us-east-1"))
	app := `{"Sid":"AppReads","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}`
	everyone := `{"Sid":"Everyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":["secretsmanager:GetSecretValue","secretsmanager:DescribeSecret"],"Resource":"*"}`
	docs := map[string]string{
		"mixed": `{"Version":"2012-10-17","Statement":[` + everyone + `,` + app + `]}`,
		"open":  `{"Version":"2012-10-17","Statement":[` + everyone + `]}`,
	}
	for name, doc := range docs {
		if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("s3cr3t")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(name), ResourcePolicy: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	h := newFixHarness(t, []string{"secretsmanager"})
	policy := func(name string) string {
		t.Helper()
		out, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ResourcePolicy)
	}

	j, f, p := h.plan("aws-secretsmanager-secret-not-public", h.uid(TypeSecretsManagerSecret, "mixed"), nil)
	fpPlanned(t, p.Calls, []string{"secretsmanager:PutResourcePolicy"})
	want := `{"Version":"2012-10-17","Statement":[` + app + `]}`
	if p.Calls[0].Input["ResourcePolicy"] != want {
		t.Errorf("planned policy %v, want %s", p.Calls[0].Input["ResourcePolicy"], want)
	}
	if policy("mixed") != docs["mixed"] {
		t.Fatalf("the plan changed the policy: %s", policy("mixed"))
	}
	done := h.apply(j, f, p)
	if got := policy("mixed"); got != want {
		t.Errorf("after the fix: %s, want %s", got, want)
	}
	h.undo(done.ID)
	if got := policy("mixed"); got != docs["mixed"] {
		t.Errorf("after undo: %s, want %s", got, docs["mixed"])
	}

	j, f, p = h.plan("aws-secretsmanager-secret-not-public", h.uid(TypeSecretsManagerSecret, "open"), nil)
	fpPlanned(t, p.Calls, []string{"secretsmanager:DeleteResourcePolicy"})
	done = h.apply(j, f, p)
	if got := policy("open"); got != "" {
		t.Errorf("after the fix the secret still has a policy: %s", got)
	}
	h.undo(done.ID)
	if got := policy("open"); got != docs["open"] {
		t.Errorf("after undo: %s, want %s", got, docs["open"])
	}

	// The one call fails: the fix is recorded failed, nothing changed.
	j, f, p = h.plan("aws-secretsmanager-secret-not-public", h.uid(TypeSecretsManagerSecret, "mixed"), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("PutResourcePolicy", func(any) any {
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := []vigil.FixCall{{Operation: "secretsmanager:PutResourcePolicy",
		Input: map[string]any{"SecretId": h.uid(TypeSecretsManagerSecret, "mixed"), "ResourcePolicy": want}, Error: "AccessDenied: denied"}}
	if out.Status != vigil.FixFailed || out.Reason != "apply: secretsmanager:PutResourcePolicy: AccessDenied: denied" || !reflect.DeepEqual(out.Calls, wantCalls) {
		t.Errorf("failed fix: %s %q %+v", out.Status, out.Reason, out.Calls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != out.Reason || !reflect.DeepEqual(stored.Calls, wantCalls) {
		t.Errorf("stored: %s %q %+v", stored.Status, stored.Reason, stored.Calls)
	}
	if got := policy("mixed"); got != docs["mixed"] {
		t.Errorf("after the failed fix: %s, want it unchanged", got)
	}
}

func TestFixECRRemovePublicStatements(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ecr.NewFromConfig(moto.Config(t, "us-east-1"))
	org := `{"Sid":"OrgPull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],"Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-a1b2c3d4e5"}}}`
	pull := `{"Sid":"PublicPull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}`
	docs := map[string]string{
		"mixed": `{"Version":"2012-10-17","Statement":[` + org + `,` + pull + `]}`,
		"open":  `{"Version":"2012-10-17","Statement":[` + pull + `]}`,
	}
	for name, doc := range docs {
		if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(name), PolicyText: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
	}
	h := newFixHarness(t, []string{"ecr"})
	policy := func(name string) string {
		t.Helper()
		out, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(name)})
		if hasCode(err, "RepositoryPolicyNotFoundException") {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.PolicyText)
	}

	j, f, p := h.plan("aws-ecr-repository-not-public", h.uid(TypeECRRepository, "mixed"), nil)
	want := `{"Version":"2012-10-17","Statement":[` + org + `]}`
	wantCalls := []vigil.FixCall{{Operation: "ecr:SetRepositoryPolicy",
		Input: map[string]any{"RepositoryName": "mixed", "RegistryId": "123456789012", "PolicyText": want}}}
	if !reflect.DeepEqual(p.Calls, wantCalls) {
		t.Errorf("planned %+v, want %+v", p.Calls, wantCalls)
	}
	if policy("mixed") != docs["mixed"] {
		t.Fatalf("the plan changed the policy: %s", policy("mixed"))
	}
	done := h.apply(j, f, p)
	if got := policy("mixed"); got != want {
		t.Errorf("after the fix: %s, want %s", got, want)
	}
	h.undo(done.ID)
	if got := policy("mixed"); got != docs["mixed"] {
		t.Errorf("after undo: %s, want %s", got, docs["mixed"])
	}

	j, f, p = h.plan("aws-ecr-repository-not-public", h.uid(TypeECRRepository, "open"), nil)
	fpPlanned(t, p.Calls, []string{"ecr:DeleteRepositoryPolicy"})
	done = h.apply(j, f, p)
	if got := policy("open"); got != "" {
		t.Errorf("after the fix the repository still has a policy: %s", got)
	}
	h.undo(done.ID)
	if got := policy("open"); got != docs["open"] {
		t.Errorf("after undo: %s, want %s", got, docs["open"])
	}
}

// fpFunction creates a function in us-east-1 with the permissions given.
func fpFunction(t *testing.T, c *lambda.Client, role, name string, perms ...*lambda.AddPermissionInput) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: lambdatypes.RuntimePython313,
		Role: aws.String(role), Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: lambdaZip(t)}}); err != nil {
		t.Fatal(err)
	}
	for _, in := range perms {
		in.FunctionName = aws.String(name)
		if _, err := c.AddPermission(ctx, in); err != nil {
			t.Fatalf("add permission %s to %s: %v", aws.ToString(in.StatementId), name, err)
		}
	}
}

// fpStatements returns a function policy's statements, normalised as the
// collector reads them, by Sid.
func fpStatements(t *testing.T, c *lambda.Client, name, qualifier string) map[string]any {
	t.Helper()
	text, err := lambdaReadPolicy(context.Background(), c, "arn:aws:lambda:us-east-1:123456789012:function:"+name, qualifier)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if text == "" {
		return out
	}
	doc, _ := lambdaPolicy(text).(map[string]any)
	for _, e := range doc["Statement"].([]any) {
		st := e.(map[string]any)
		out[st["Sid"].(string)] = st
	}
	return out
}

func fpSids(m map[string]any) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestFixLambdaRemovePublicPermissions(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("fn-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	c := lambda.NewFromConfig(cfg)
	perms := func() []*lambda.AddPermissionInput {
		return []*lambda.AddPermissionInput{
			{StatementId: aws.String("anyone"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")},
			{StatementId: aws.String("s3"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("s3.amazonaws.com"),
				SourceAccount: aws.String("123456789012"), SourceArn: aws.String("arn:aws:s3:::uploads")},
			{StatementId: aws.String("url"), Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"),
				FunctionUrlAuthType: lambdatypes.FunctionUrlAuthTypeNone},
		}
	}
	fpFunction(t, c, aws.ToString(role.Role.Arn), "thumbs", perms()...)
	fpFunction(t, c, aws.ToString(role.Role.Arn), "halfway", perms()...)
	// A public alias. Moto keeps one policy for the function and the
	// version the alias points to (AWS keeps one each), so the alias's
	// statement shows in the function's policy too; and its
	// RemovePermission ignores the Qualifier. The alias case is tested up
	// to its plan.
	fpFunction(t, c, aws.ToString(role.Role.Arn), "aliased")
	ver, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("aliased")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("aliased"), Name: aws.String("live"), FunctionVersion: ver.Version}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("aliased"), Qualifier: aws.String("live"),
		StatementId: aws.String("anyone"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	h := newFixHarness(t, []string{"lambda"})
	fn := func(name string) string { return "arn:aws:lambda:us-east-1:123456789012:function:" + name }
	original := fpStatements(t, c, "thumbs", "")
	if got := fpSids(original); !reflect.DeepEqual(got, []string{"anyone", "s3", "url"}) {
		t.Fatalf("seeded %v", got)
	}

	j, f, p := h.plan("aws-lambda-function-not-public", fn("thumbs"), nil)
	wantCalls := []vigil.FixCall{
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("thumbs"), "StatementId": "anyone"}},
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("thumbs"), "StatementId": "url"}},
	}
	if !reflect.DeepEqual(p.Calls, wantCalls) {
		t.Errorf("planned %+v, want %+v", p.Calls, wantCalls)
	}
	var restorable []any
	for _, e := range p.Before["permissions"].([]any) {
		restorable = append(restorable, e.(map[string]any)["add_permission"])
	}
	if want := []any{
		map[string]any{"Action": "lambda:InvokeFunction", "Principal": "*"},
		map[string]any{"Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"},
	}; !reflect.DeepEqual(restorable, want) {
		t.Errorf("recorded permissions %v, want %v", restorable, want)
	}
	if got := fpStatements(t, c, "thumbs", ""); !reflect.DeepEqual(got, original) {
		t.Fatalf("the plan changed the policy: %v", got)
	}
	done := h.apply(j, f, p)
	if got := fpStatements(t, c, "thumbs", ""); !reflect.DeepEqual(got, map[string]any{"s3": original["s3"]}) {
		t.Errorf("after the fix: %v, want only the s3 permission", got)
	}
	undone := h.undo(done.ID)
	if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"lambda:AddPermission", "lambda:AddPermission"}) {
		t.Errorf("undo calls %v", got)
	}
	// Lambda appends re-added statements: compared by Sid.
	if got := fpStatements(t, c, "thumbs", ""); !reflect.DeepEqual(got, original) {
		t.Errorf("after undo:\n got %v\nwant %v", got, original)
	}

	// The second RemovePermission fails: the first is recorded done, the
	// second with its error, and undo re-adds only what was removed.
	j, f, p = h.plan("aws-lambda-function-not-public", fn("halfway"), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("RemovePermission", func(in any) any {
		if aws.ToString(in.(*lambda.RemovePermissionInput).StatementId) == "url" {
			return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
		}
		return nil
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls = []vigil.FixCall{
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("halfway"), "StatementId": "anyone"}},
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("halfway"), "StatementId": "url"}, Error: "AccessDenied: denied"},
	}
	if out.Status != vigil.FixFailed || out.Reason != "apply: lambda:RemovePermission: AccessDenied: denied" || !reflect.DeepEqual(out.Calls, wantCalls) {
		t.Errorf("failed fix: %s %q %+v", out.Status, out.Reason, out.Calls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != out.Reason || !reflect.DeepEqual(stored.Calls, wantCalls) {
		t.Errorf("stored: %s %q %+v", stored.Status, stored.Reason, stored.Calls)
	}
	if got := fpSids(fpStatements(t, c, "halfway", "")); !reflect.DeepEqual(got, []string{"s3", "url"}) {
		t.Errorf("after the failed fix: %v, want s3 and url", got)
	}
	undone = h.undo(out.ID)
	if want := []vigil.FixCall{{Operation: "lambda:AddPermission", Input: map[string]any{"FunctionName": fn("halfway"),
		"StatementId": "anyone", "Action": "lambda:InvokeFunction", "Principal": "*"}}}; !reflect.DeepEqual(undone.Calls, want) {
		t.Errorf("undo calls %+v, want %+v", undone.Calls, want)
	}
	if got := fpSids(fpStatements(t, c, "halfway", "")); !reflect.DeepEqual(got, []string{"anyone", "s3", "url"}) {
		t.Errorf("after undo: %v", got)
	}

	// An alias's public permission is removed with the alias as Qualifier
	// (and, moto showing it in the function's policy too, from there).
	for _, q := range []string{"", "live"} {
		if got := fpSids(fpStatements(t, c, "aliased", q)); !reflect.DeepEqual(got, []string{"anyone"}) {
			t.Fatalf("aliased, qualifier %q: %v", q, got)
		}
	}
	_, _, p = h.plan("aws-lambda-function-not-public", fn("aliased"), nil)
	if want := []vigil.FixCall{
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("aliased"), "StatementId": "anyone"}},
		{Operation: "lambda:RemovePermission", Input: map[string]any{"FunctionName": fn("aliased"), "StatementId": "anyone", "Qualifier": "live"}},
	}; !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("alias: planned %+v, want %+v", p.Calls, want)
	}
}
