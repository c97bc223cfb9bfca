package alert

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/vigilsec/vigil"
)

// docRules parses every yaml block of docs/alerts.md that holds an alerts
// section, and returns the rules of the last one (the examples).
func docRules(t *testing.T) []*Rule {
	t.Helper()
	data, err := os.ReadFile("../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(alerts:.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) < 2 {
		t.Fatalf("found %d alerts blocks in docs/alerts.md, want the schema and the examples", len(blocks))
	}
	var last []*Rule
	for i, b := range blocks {
		rules, probs := Parse(alertsNode(t, b[1]), "docs/alerts.md", testEnv(t))
		if len(probs) > 0 {
			t.Fatalf("block %d: %v", i+1, probs)
		}
		last = rules
	}
	return last
}

func TestDocExamples(t *testing.T) {
	t.Parallel()
	rs := New(docRules(t), testChecks(t))
	account := func(keys float64) vigil.Resource {
		return vigil.Resource{UID: "arn:aws:iam::123456789012:root", Provider: "aws", Account: acct, Region: "global",
			Type: "aws.account", Name: acct,
			Properties: map[string]any{"account_summary": map[string]any{"AccountAccessKeysPresent": keys, "AccountMFAEnabled": 1.0}}}
	}
	unread := account(0)
	delete(unread.Properties, "account_summary")
	trail := func(logging bool) vigil.Resource {
		return vigil.Resource{UID: "arn:aws:cloudtrail:eu-west-1:123456789012:trail/main", Provider: "aws", Account: acct,
			Region: "eu-west-1", Type: "aws.cloudtrail.trail", Name: "main", Properties: map[string]any{"is_logging": logging}}
	}
	deployer := &vigil.Cause{EventName: "AttachUserPolicy", EventTime: t0,
		Actor: vigil.Actor{ARN: "arn:aws:sts::123456789012:assumed-role/deploy/ci"}}
	user := vigil.Resource{UID: "arn:aws:iam::123456789012:user/bob", Account: acct, Type: "aws.iam.user", Name: "bob",
		Properties: map[string]any{"attached_policies": []any{}}}
	tests := []struct {
		name   string
		change vigil.Change
		cause  *vigil.Cause
		want   []string
	}{
		{"root key created", change(ptr(account(0)), account(1), false), nil, []string{
			"root-access-key/ops-email: aws.account 123456789012 changed",
			"root-access-key/slack-sec: aws.account 123456789012 changed"}},
		{"root key created, summary unread before", change(&unread, account(1), false), nil, []string{
			"root-access-key/ops-email: aws.account 123456789012 changed",
			"root-access-key/slack-sec: aws.account 123456789012 changed"}},
		{"root key removed", change(ptr(account(1)), account(0), false), nil, nil},
		{"trail stopped", change(ptr(trail(true)), trail(false), false), cause("StopLogging", t0), []string{
			"cloudtrail-stopped/ops-email: aws.cloudtrail.trail main changed by " + aliceARN,
			"cloudtrail-stopped/slack-sec: aws.cloudtrail.trail main changed by " + aliceARN}},
		{"logging trail deleted", change(ptr(trail(true)), trail(true), true), cause("DeleteTrail", t0), []string{
			"cloudtrail-stopped/ops-email: aws.cloudtrail.trail main deleted by " + aliceARN,
			"cloudtrail-stopped/slack-sec: aws.cloudtrail.trail main deleted by " + aliceARN}},
		{"trail started", change(ptr(trail(false)), trail(true), false), cause("StartLogging", t0), nil},
		{"IAM by hand", change(&user, user, false), cause("AttachUserPolicy", t0), []string{
			"iam-by-hand/slack-sec: aws.iam.user bob changed by " + aliceARN}},
		{"IAM by the deploy role's session", change(&user, user, false), deployer, nil},
		{"IAM by the deploy role", change(&user, user, false), &vigil.Cause{EventName: "AttachUserPolicy", EventTime: t0,
			Actor: vigil.Actor{ARN: "arn:aws:iam::123456789012:role/deploy"}}, nil},
		{"IAM by a role named deployer", change(&user, user, false), &vigil.Cause{EventName: "AttachUserPolicy", EventTime: t0,
			Actor: vigil.Actor{ARN: "arn:aws:sts::123456789012:assumed-role/deployer/x"}}, []string{
			"iam-by-hand/slack-sec: aws.iam.user bob changed by arn:aws:sts::123456789012:assumed-role/deployer/x"}},
		{"bucket made public", change(ptr(s3bucket(false)), s3bucket(true), false), nil, []string{
			"bucket-made-public/hook: aws.s3.bucket logs changed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rs.Observed(vigil.Recorded{Changes: []vigil.Change{tt.change}}, tt.cause, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sent(got), tt.want) {
				t.Errorf("alerts:\n got %q\nwant %q", sent(got), tt.want)
			}
		})
	}
}
