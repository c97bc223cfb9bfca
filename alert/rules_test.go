package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/jsondiff"
)

const (
	acct     = "123456789012"
	sgUID    = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0abc"
	bucket   = "arn:aws:s3:::logs"
	aliceARN = "arn:aws:iam::123456789012:user/alice"
)

// t0 is the observation time of the tests: 2026-03-02T10:03:00Z, three
// minutes into a 10-minute window and a 5-minute one.
var t0 = time.Date(2026, 3, 2, 10, 3, 0, 0, time.UTC)

func rule(name string, rules []*Rule) *Rule {
	for _, r := range rules {
		if r.Name == name {
			return r
		}
	}
	panic("no rule " + name)
}

func sg(ingress ...map[string]any) vigil.Resource {
	list := make([]any, len(ingress))
	for i, r := range ingress {
		list[i] = r
	}
	return vigil.Resource{UID: sgUID, Provider: "aws", Account: acct, Region: "eu-west-1",
		Type: "aws.ec2.security_group", Name: "sg-0abc",
		Properties: map[string]any{"group_id": "sg-0abc", "description": "web", "ingress": list}}
}

func ingress(cidr string, port int) map[string]any {
	return map[string]any{"protocol": "tcp", "from_port": port, "to_port": port, "cidr": cidr,
		"ipv6_cidr": nil, "source_group": nil, "prefix_list": nil, "description": nil}
}

func s3bucket(public bool) vigil.Resource {
	return vigil.Resource{UID: bucket, Provider: "aws", Account: acct, Region: "eu-west-1",
		Type: "aws.s3.bucket", Name: "logs", Tags: map[string]string{"env": "prod"},
		Properties: map[string]any{"versioning": "Suspended", "public": map[string]any{"policy": public, "acl": false}}}
}

// change builds the Change a store records between old and new (nil old:
// created; deleted: new is the last state).
func change(old *vigil.Resource, now vigil.Resource, deleted bool) vigil.Change {
	v := vigil.Version{UID: now.UID, Seq: 2, ObservedAt: t0, Deleted: deleted, Resource: now}
	doc := func(r *vigil.Resource) map[string]any {
		return map[string]any{"name": r.Name, "tags": r.Tags, "properties": r.Properties, "read_errors": r.ReadErrors}
	}
	switch {
	case deleted:
		v.Diff = jsondiff.Diff(doc(&now), map[string]any{})
	case old != nil:
		v.Diff = jsondiff.Diff(doc(old), doc(&now))
	default:
		v.Seq = 1
	}
	return vigil.Change{Old: old, New: now, Version: v}
}

func ptr[T any](v T) *T { return &v }

func cause(event string, at time.Time) *vigil.Cause {
	return &vigil.Cause{EventID: "ev-1", EventSource: "ec2.amazonaws.com", EventName: event, EventTime: at,
		Actor: vigil.Actor{ARN: aliceARN, Type: "IAMUser", SourceIP: "203.0.113.7"}}
}

// sent summarises alerts as "rule/channel: title".
func sent(as []vigil.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Rule + "/" + a.Channel + ": " + a.Title
	}
	return out
}

func TestObservedChanges(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), testChecks(t))
	private, public := s3bucket(false), s3bucket(true)
	noPublic := s3bucket(false)
	delete(noPublic.Properties, "public")
	user := vigil.Resource{UID: "arn:aws:iam::123456789012:user/bob", Account: acct, Type: "aws.iam.user", Name: "bob",
		Properties: map[string]any{"mfa_active": false}}
	userNow := user
	userNow.Properties = map[string]any{"mfa_active": true}
	tests := []struct {
		name    string
		change  vigil.Change
		cause   *vigil.Cause
		want    []string
		wantErr string
	}{
		{"world-open ingress added",
			change(ptr(sg(ingress("10.0.0.0/8", 22))), sg(ingress("10.0.0.0/8", 22), ingress("0.0.0.0/0", 22)), false),
			cause("AuthorizeSecurityGroupIngress", t0),
			[]string{
				"world-open-ingress/ops-email: aws.ec2.security_group sg-0abc changed by " + aliceARN,
				"world-open-ingress/hook: aws.ec2.security_group sg-0abc changed by " + aliceARN,
			}, ""},
		{"IPv6 world rule added",
			change(ptr(sg()), sg(map[string]any{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr": nil, "ipv6_cidr": "::/0"}), false),
			nil,
			[]string{
				"world-open-ingress/ops-email: aws.ec2.security_group sg-0abc changed",
				"world-open-ingress/hook: aws.ec2.security_group sg-0abc changed",
			}, ""},
		{"unrelated change", func() vigil.Change {
			now := sg(ingress("0.0.0.0/0", 443))
			now.Properties["description"] = "web servers"
			return change(ptr(sg(ingress("0.0.0.0/0", 443))), now, false)
		}(), cause("UpdateSecurityGroupRuleDescriptionsIngress", t0), nil, ""},
		{"narrow rule added next to an old world rule",
			change(ptr(sg(ingress("0.0.0.0/0", 443))), sg(ingress("0.0.0.0/0", 443), ingress("10.1.0.0/16", 22)), false),
			nil, nil, ""},
		{"created open (old is null)",
			change(nil, sg(ingress("0.0.0.0/0", 3389)), false), cause("CreateSecurityGroup", t0),
			[]string{
				"world-open-ingress/ops-email: aws.ec2.security_group sg-0abc created by " + aliceARN,
				"world-open-ingress/hook: aws.ec2.security_group sg-0abc created by " + aliceARN,
			}, ""},
		{"created closed", change(nil, sg(ingress("10.0.0.0/8", 22)), false), nil, nil, ""},
		{"deleted group (new is null)", change(nil, sg(ingress("0.0.0.0/0", 22)), true), cause("DeleteSecurityGroup", t0), nil, ""},
		{"deleted bucket", change(ptr(private), private, true), cause("DeleteBucket", t0),
			[]string{"bucket-deleted/ops-email: aws.s3.bucket logs deleted by " + aliceARN}, ""},
		{"bucket made public", change(ptr(private), public, false), cause("PutBucketPolicy", t0),
			[]string{"bucket-made-public/hook: aws.s3.bucket logs changed by " + aliceARN}, ""},
		{"bucket made private", change(ptr(public), private, false), cause("DeleteBucketPolicy", t0), nil, ""},
		{"created bucket without the property fails open", change(nil, noPublic, false), cause("CreateBucket", t0),
			[]string{"bucket-made-public/hook: aws.s3.bucket logs created by " + aliceARN + " (alert condition failed)"},
			"alert rule bucket-made-public: condition on arn:aws:s3:::logs: no such key: public"},
		{"type no rule watches", change(&user, userNow, false), cause("EnableMFADevice", t0), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rs.Observed(vigil.Recorded{Changes: []vigil.Change{tt.change}}, tt.cause, t0)
			if !slices.Equal(sent(got), tt.want) {
				t.Errorf("alerts:\n got %q\nwant %q", sent(got), tt.want)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Errorf("error %v, want %q", err, tt.wantErr)
			case tt.wantErr != "":
				var ee *EvalError
				if !errors.As(err, &ee) || ee.Rule != "bucket-made-public" || ee.UID != bucket {
					t.Errorf("error %#v is not an *EvalError of the rule and bucket", err)
				}
			}
		})
	}
}

// TestObservedChangeFields pins what a change alert carries besides its
// title: severity, what, why, actor, diff and time.
func TestObservedChangeFields(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), testChecks(t))
	c := change(ptr(s3bucket(false)), s3bucket(true), false)
	ev := cause("PutBucketPolicy", t0.Add(-time.Minute))
	got, err := rs.Observed(vigil.Recorded{Changes: []vigil.Change{c}}, ev, t0)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %d alerts, %v; want 1", len(got), err)
	}
	a := got[0]
	want := vigil.Alert{Rule: "bucket-made-public", Channel: "hook", Kind: vigil.AlertChange, Severity: vigil.Critical,
		What:   "PutBucketPolicy: /public/policy false → true",
		Why:    "A bucket policy now grants access to anyone",
		Action: "none: alert only",
		At:     t0.Add(-time.Minute)}
	if a.Kind != want.Kind || a.Severity != want.Severity || a.What != want.What || a.Why != want.Why ||
		a.Action != want.Action || !a.At.Equal(want.At) {
		t.Errorf("alert:\n got %+v\nwant %+v", a, want)
	}
	if a.Actor == nil || *a.Actor != ev.Actor {
		t.Errorf("actor %+v, want %+v", a.Actor, ev.Actor)
	}
	if len(a.Diff) != 1 || a.Diff[0].Path != "/properties/public/policy" {
		t.Errorf("diff %+v, want the one replaced /properties/public/policy", a.Diff)
	}
	if a.Resource != (vigil.AlertTarget{UID: bucket, Type: "aws.s3.bucket", Name: "logs", Provider: "aws", Account: acct, Region: "eu-west-1"}) {
		t.Errorf("resource %+v", a.Resource)
	}
}

// opened is a transition of a result that opened now.
func opened(check, uid, typ, account string, sev vigil.Severity, reason string) vigil.Transition {
	return vigil.Transition{Opened: true, Result: vigil.Result{CheckID: check, ResourceUID: uid, ResourceType: typ,
		Provider: "aws", Account: account, Region: "eu-west-1", Severity: sev, Status: vigil.StatusFail, Reason: reason}}
}

func TestObservedFindings(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), testChecks(t))
	public := opened("aws-s3-bucket-public", bucket, "aws.s3.bucket", acct, vigil.Critical, "bucket policy grants access to anyone")
	versioning := opened("aws-s3-bucket-versioning", bucket, "aws.s3.bucket", acct, vigil.Medium, "versioning is Suspended")
	logging := opened("aws-s3-bucket-logging", bucket, "aws.s3.bucket", acct, vigil.Low, "server access logging is off")
	tagged := opened("aws-s3-bucket-tagged", bucket, "aws.s3.bucket", acct, vigil.Info, "no owner tag")
	other := opened("aws-s3-bucket-logging", "arn:aws:s3:::other", "aws.s3.bucket", acct, vigil.Low, "server access logging is off")
	otherAccount := opened("aws-s3-bucket-public", "arn:aws:s3:::theirs", "aws.s3.bucket", "999999999999", vigil.Critical, "public")
	sgOpen := opened("aws-ec2-sg-world-ingress", sgUID, "aws.ec2.security_group", acct, vigil.High, "0.0.0.0/0 on 22")
	reopened := public
	reopened.Reopened = true
	reopened.From = vigil.StatusPass
	resolved := vigil.Transition{Resolved: true, From: vigil.StatusFail, Result: public.Result}
	resolved.Result.Status = vigil.StatusPass
	stillFailing := vigil.Transition{From: vigil.StatusFail, Result: public.Result}

	const three = "S3 bucket does not allow public access (+2 more) — logs"
	tests := []struct {
		name string
		ts   []vigil.Transition
		want []string
	}{
		{"three findings on one bucket are one alert per channel",
			[]vigil.Transition{logging, public, versioning, tagged},
			[]string{"new-findings/slack-sec: " + three, "new-findings/hook: " + three}},
		{"two resources, two alerts each",
			[]vigil.Transition{other, logging},
			[]string{
				"new-findings/slack-sec: S3 bucket server access logging is on — other",
				"new-findings/hook: S3 bucket server access logging is on — other",
				"new-findings/slack-sec: S3 bucket server access logging is on — logs",
				"new-findings/hook: S3 bucket server access logging is on — logs",
			}},
		{"below the minimum severity", []vigil.Transition{tagged}, nil},
		{"account out of scope", []vigil.Transition{otherAccount}, nil},
		{"check outside the globs", []vigil.Transition{sgOpen}, nil},
		{"reopened counts by default", []vigil.Transition{reopened},
			[]string{"new-findings/slack-sec: S3 bucket does not allow public access — logs", "new-findings/hook: S3 bucket does not allow public access — logs"}},
		{"resolved is no alert", []vigil.Transition{resolved}, nil},
		{"still failing is no alert", []vigil.Transition{stillFailing}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := rs.Observed(vigil.Recorded{Transitions: tt.ts}, nil, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sent(got), tt.want) {
				t.Errorf("alerts:\n got %q\nwant %q", sent(got), tt.want)
			}
		})
	}

	t.Run("the grouped alert lists every finding, worst first", func(t *testing.T) {
		t.Parallel()
		got, _ := rs.Observed(vigil.Recorded{Transitions: []vigil.Transition{logging, public, versioning}}, nil, t0)
		if len(got) != 2 {
			t.Fatalf("got %d alerts, want 2", len(got))
		}
		a := got[0]
		wantWhat := "aws.s3.bucket logs fails 3 checks:\n" +
			"- aws-s3-bucket-public (critical): bucket policy grants access to anyone\n" +
			"- aws-s3-bucket-versioning (medium): versioning is Suspended\n" +
			"- aws-s3-bucket-logging (low): server access logging is off"
		if a.What != wantWhat || a.Severity != vigil.Critical || a.CheckID != "aws-s3-bucket-public" ||
			a.FindingID != vigil.FindingID("aws-s3-bucket-public", bucket) || a.Resource.Name != "logs" {
			t.Errorf("alert %+v", a)
		}
	})

	t.Run("reopened: false leaves reopened findings out", func(t *testing.T) {
		t.Parallel()
		rules, probs := Parse(alertsNode(t, "alerts:\n  - {name: fresh, on: finding, reopened: false, channels: [hook]}"), "c.yaml", testEnv(t))
		if probs != nil {
			t.Fatal(probs)
		}
		got, _ := New(rules, testChecks(t)).Observed(vigil.Recorded{Transitions: []vigil.Transition{reopened, versioning}}, nil, t0)
		if want := []string{"fresh/hook: S3 bucket versioning is on — logs"}; !slices.Equal(sent(got), want) {
			t.Errorf("got %q, want %q", sent(got), want)
		}
	})

	t.Run("scopes by region and type", func(t *testing.T) {
		t.Parallel()
		rules, probs := Parse(alertsNode(t, `alerts:
  - {name: eu, on: finding, regions: [eu-west-1], types: [aws.ec2.*], channels: [hook]}
  - {name: us, on: finding, regions: [us-east-1], channels: [hook]}`), "c.yaml", testEnv(t))
		if probs != nil {
			t.Fatal(probs)
		}
		got, _ := New(rules, testChecks(t)).Observed(vigil.Recorded{Transitions: []vigil.Transition{sgOpen, public}}, nil, t0)
		if want := []string{"eu/hook: Security group allows no ingress from the internet — sg-0abc"}; !slices.Equal(sent(got), want) {
			t.Errorf("got %q, want %q", sent(got), want)
		}
	})
}

func TestObservedFindingAction(t *testing.T) {
	t.Parallel()
	public := opened("aws-s3-bucket-public", bucket, "aws.s3.bucket", acct, vigil.Critical, "public")
	versioning := opened("aws-s3-bucket-versioning", bucket, "aws.s3.bucket", acct, vigil.Medium, "suspended")
	covers := func(checkID string, r vigil.Resource) bool {
		return checkID == "aws-s3-bucket-public" && r.Name == "logs"
	}
	rec := vigil.Recorded{Changes: []vigil.Change{change(ptr(s3bucket(false)), s3bucket(true), false)}}
	tests := []struct {
		name    string
		autofix func(string, vigil.Resource) bool
		ts      []vigil.Transition
		want    string
	}{
		{"covered", covers, []vigil.Transition{public}, "Always Fix will correct it"},
		{"no autofix", nil, []vigil.Transition{public},
			"none: alert only — run `vigil fix " + vigil.FindingID("aws-s3-bucket-public", bucket) + "`"},
		{"partly covered", covers, []vigil.Transition{public, versioning},
			"Always Fix will correct aws-s3-bucket-public; for the others, none: alert only — run `vigil fix " +
				vigil.FindingID("aws-s3-bucket-versioning", bucket) + "`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := New([]*Rule{rule("new-findings", testRules(t))}, testChecks(t), WithAutofix(tt.autofix))
			r := rec
			r.Transitions = tt.ts
			got, err := rs.Observed(r, nil, t0)
			if err != nil || len(got) != 2 {
				t.Fatalf("got %d alerts, %v; want 2", len(got), err)
			}
			if got[0].Action != tt.want {
				t.Errorf("action %q, want %q", got[0].Action, tt.want)
			}
		})
	}
}

func hash12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:12]
}

func TestKeys(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), testChecks(t))
	open := change(ptr(sg()), sg(ingress("0.0.0.0/0", 22)), false)
	keyAt := func(t *testing.T, ev *vigil.Cause, at time.Time) string {
		t.Helper()
		got, err := rs.Observed(vigil.Recorded{Changes: []vigil.Change{open}}, ev, at)
		if err != nil || len(got) != 2 {
			t.Fatalf("got %d alerts, %v; want 2", len(got), err)
		}
		return got[1].Key // the hook channel
	}
	// world-open-ingress has quiet: 10m; t0 is 10:03, its window starts at 10:00.
	window := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Unix()
	want := fmt.Sprintf("world-open-ingress/hook/%s/%d", hash12(sgUID), window)
	tests := []struct {
		name string
		ev   *vigil.Cause
		at   time.Time
		want string
	}{
		{"scan at 10:03", nil, t0, want},
		{"scan at 10:00:00, the window's first second", nil, time.Unix(window, 0), want},
		{"scan at 10:09:59, its last", nil, time.Unix(window+599, 0), want},
		{"scan at 10:10, the next window", nil, time.Unix(window+600, 0), fmt.Sprintf("world-open-ingress/hook/%s/%d", hash12(sgUID), window+600)},
		{"an event takes its own time, not the observation's", cause("AuthorizeSecurityGroupIngress", t0), t0.Add(time.Hour), want},
		{"a redelivered event gives the same key", cause("AuthorizeSecurityGroupIngress", t0), t0.Add(25 * time.Hour), want},
		{"an event in another window", cause("AuthorizeSecurityGroupIngress", t0.Add(-4*time.Minute)), t0, fmt.Sprintf("world-open-ingress/hook/%s/%d", hash12(sgUID), window-600)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := keyAt(t, tt.ev, tt.at); got != tt.want {
				t.Errorf("key %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("finding keys name the resource, one per channel", func(t *testing.T) {
		t.Parallel()
		ts := []vigil.Transition{
			opened("aws-s3-bucket-public", bucket, "aws.s3.bucket", acct, vigil.Critical, "public"),
			opened("aws-s3-bucket-logging", bucket, "aws.s3.bucket", acct, vigil.Low, "off"),
		}
		got, _ := rs.Observed(vigil.Recorded{Transitions: ts}, nil, t0)
		w := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Unix() // quiet 5m
		want := []string{
			fmt.Sprintf("new-findings/slack-sec/%s/%d", hash12(bucket), w),
			fmt.Sprintf("new-findings/hook/%s/%d", hash12(bucket), w),
		}
		var keys []string
		for _, a := range got {
			keys = append(keys, a.Key)
		}
		if !slices.Equal(keys, want) {
			t.Errorf("keys %q, want %q", keys, want)
		}
	})
}

func TestWindowStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		at    time.Time
		quiet time.Duration
		want  int64
	}{
		{time.Unix(1000, 0), 5 * time.Minute, 900},
		{time.Unix(1200, 0), 5 * time.Minute, 1200},
		{time.Unix(1199, 999), 5 * time.Minute, 900},
		{time.Unix(-1, 0), 5 * time.Minute, -300},
		{time.Unix(-300, 0), 5 * time.Minute, -300},
		{time.Unix(7, 0), time.Second, 7},
	}
	for _, tt := range tests {
		if got := windowStart(tt.at, tt.quiet); got != tt.want {
			t.Errorf("windowStart(%d, %s) = %d, want %d", tt.at.Unix(), tt.quiet, got, tt.want)
		}
	}
}

func TestFixed(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), testChecks(t))
	res := s3bucket(false)
	base := vigil.Fix{ID: "fx-1", At: t0, Actor: "rule:public-buckets", Mode: "always-fix", CheckID: "aws-s3-bucket-public",
		ResourceUID: bucket, ResourceType: "aws.s3.bucket", Provider: "aws", Account: acct, Region: "eu-west-1",
		Action: "aws.s3.block-public-access", Plan: []string{"PutPublicAccessBlock on bucket logs: all four settings on"}}
	with := func(s vigil.FixStatus, reason string) vigil.Fix { f := base; f.Status, f.Reason = s, reason; return f }
	tests := []struct {
		name  string
		fix   vigil.Fix
		title string
		sev   vigil.Severity
	}{
		{"verified", with(vigil.FixVerified, ""), "Vigil fixed logs — S3 bucket does not allow public access", vigil.Critical},
		{"failed", with(vigil.FixFailed, "s3:PutPublicAccessBlock: AccessDenied"), "Vigil could not fix logs — S3 bucket does not allow public access", vigil.High},
		{"flapping", with(vigil.FixSkipped, "flapping: 3 verified fixes within 24h0m0s and failing again"),
			"Vigil stopped fixing logs — S3 bucket does not allow public access (flapping)", vigil.High},
		{"skipped", with(vigil.FixSkipped, "max fixes per hour reached"), "Vigil held back a fix of logs — S3 bucket does not allow public access", vigil.Critical},
		{"dry run is not in the rule's outcomes", with(vigil.FixDryRun, ""), "", ""},
		{"undone is not in the rule's outcomes", with(vigil.FixUndone, ""), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := rs.Fixed(tt.fix, res, nil)
			if tt.title == "" {
				if len(got) != 0 {
					t.Fatalf("got %q, want no alert", sent(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %q, want one alert", sent(got))
			}
			a := got[0]
			wantKey := fmt.Sprintf("fixes/ops-email/%s/%d", hash12(bucket+"\x00aws-s3-bucket-public"), time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).Unix())
			if a.Title != tt.title || a.Severity != tt.sev || a.Key != wantKey || a.Kind != vigil.AlertFix ||
				a.FixID != "fx-1" || a.FixStatus != tt.fix.Status || a.CheckID != "aws-s3-bucket-public" {
				t.Errorf("alert %+v\nwant title %q severity %s key %s", a, tt.title, tt.sev, wantKey)
			}
		})
	}

	t.Run("default outcomes are failed and flapping; scope and checks filter", func(t *testing.T) {
		t.Parallel()
		rules, probs := Parse(alertsNode(t, `alerts:
  - {name: bad-fixes, on: fix, channels: [hook]}
  - {name: sg-fixes, on: fix, checks: [aws-ec2-*], outcomes: [verified, failed], channels: [hook]}
  - {name: us-fixes, on: fix, regions: [us-east-1], outcomes: [failed], channels: [hook]}`), "c.yaml", testEnv(t))
		if probs != nil {
			t.Fatal(probs)
		}
		rs := New(rules, testChecks(t))
		for _, c := range []struct {
			fix  vigil.Fix
			want []string
		}{
			{with(vigil.FixVerified, ""), nil},
			{with(vigil.FixFailed, "AccessDenied"), []string{"bad-fixes/hook: Vigil could not fix logs — S3 bucket does not allow public access"}},
			{with(vigil.FixSkipped, "flapping: 3 verified fixes"), []string{"bad-fixes/hook: Vigil stopped fixing logs — S3 bucket does not allow public access (flapping)"}},
			{with(vigil.FixSkipped, "exempt by tag"), nil},
		} {
			if got := sent(rs.Fixed(c.fix, res, nil)); !slices.Equal(got, c.want) {
				t.Errorf("%s %q: got %q, want %q", c.fix.Status, c.fix.Reason, got, c.want)
			}
		}
	})
}

func TestOutcomeOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status vigil.FixStatus
		reason string
		want   Outcome
	}{
		{vigil.FixSkipped, "flapping: 3 verified fixes", OutcomeFlapping},
		{vigil.FixSkipped, "exempt: tag vigil:autofix=off", OutcomeSkipped},
		{vigil.FixFailed, "flapping in the wind", OutcomeFailed},
		{vigil.FixVerified, "", OutcomeVerified},
	} {
		if got := OutcomeOf(vigil.Fix{Status: c.status, Reason: c.reason}); got != c.want {
			t.Errorf("OutcomeOf(%s, %q) = %s, want %s", c.status, c.reason, got, c.want)
		}
	}
}

// TestNoPanicOnOddInput feeds values a store should not produce but a
// bug might: empty changes, a result without a resource uid, a fix for an
// unknown check, no checks loaded.
func TestNoPanicOnOddInput(t *testing.T) {
	t.Parallel()
	rs := New(testRules(t), nil)
	got, err := rs.Observed(vigil.Recorded{
		Changes:     []vigil.Change{{}, {New: vigil.Resource{Type: "aws.s3.bucket"}}},
		Transitions: []vigil.Transition{{Opened: true}},
	}, &vigil.Cause{}, time.Time{})
	// The bucket without properties fails the condition open; the empty
	// change matches no type and the empty result no check glob.
	want := []string{"bucket-made-public/hook: aws.s3.bucket  created (alert condition failed)"}
	if !slices.Equal(sent(got), want) {
		t.Errorf("alerts %q, want %q", sent(got), want)
	}
	if err == nil || err.Error() != "alert rule bucket-made-public: condition on : no such key: public" {
		t.Errorf("error %v", err)
	}
	fx := rs.Fixed(vigil.Fix{Status: vigil.FixFailed, CheckID: "nope"}, vigil.Resource{}, nil)
	if len(fx) != 1 || fx[0].Severity != vigil.High || fx[0].Title != "Vigil could not fix  — nope" {
		t.Errorf("fix of an unknown check: %q", sent(fx))
	}
}

// TestCostLimitFailsOpen: a condition too costly to finish is stopped and
// reported like any failing condition, not left to stall the transaction.
func TestCostLimitFailsOpen(t *testing.T) {
	t.Parallel()
	rules, probs := Parse(alertsNode(t, `alerts:
  - name: cubic
    on: change
    type: aws.s3.bucket
    when: 'new.items.all(a, new.items.all(b, new.items.all(c, a + b + c >= 0)))'
    channels: [hook]`), "c.yaml", testEnv(t))
	if probs != nil {
		t.Fatal(probs)
	}
	items := make([]any, 300)
	for i := range items {
		items[i] = i
	}
	b := s3bucket(false)
	b.Properties["items"] = items
	start := time.Now()
	got, err := New(rules, nil).Observed(vigil.Recorded{Changes: []vigil.Change{change(nil, b, false)}}, nil, t0)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %s", took)
	}
	var ee *EvalError
	if !errors.As(err, &ee) || !strings.Contains(ee.Err.Error(), "cost limit exceeded") {
		t.Errorf("error %v, want the cost limit exceeded", err)
	}
	if want := []string{"cubic/hook: aws.s3.bucket logs created (alert condition failed)"}; !slices.Equal(sent(got), want) {
		t.Errorf("alerts %q, want %q", sent(got), want)
	}
}

// TestObservedChangeAction: a change alert says what becomes of the
// findings the change opened on its resource.
func TestObservedChangeAction(t *testing.T) {
	t.Parallel()
	public := opened("aws-s3-bucket-public", bucket, "aws.s3.bucket", acct, vigil.Critical, "public")
	elsewhere := opened("aws-s3-bucket-public", "arn:aws:s3:::other", "aws.s3.bucket", acct, vigil.Critical, "public")
	covers := func(checkID string, r vigil.Resource) bool {
		return checkID == "aws-s3-bucket-public" && r.Name == "logs"
	}
	c := change(ptr(s3bucket(false)), s3bucket(true), false)
	for _, tt := range []struct {
		name    string
		autofix func(string, vigil.Resource) bool
		ts      []vigil.Transition
		want    string
	}{
		{"no finding opened", covers, nil, "none: alert only"},
		{"a finding of another resource", covers, []vigil.Transition{elsewhere}, "none: alert only"},
		{"covered by Always Fix", covers, []vigil.Transition{public}, "Always Fix will correct it"},
		{"not covered", nil, []vigil.Transition{public},
			"none: alert only — run `vigil fix " + vigil.FindingID("aws-s3-bucket-public", bucket) + "`"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rs := New([]*Rule{rule("bucket-made-public", testRules(t))}, testChecks(t), WithAutofix(tt.autofix))
			got, err := rs.Observed(vigil.Recorded{Changes: []vigil.Change{c}, Transitions: tt.ts}, nil, t0)
			if err != nil || len(got) != 1 {
				t.Fatalf("got %d alerts, %v; want 1", len(got), err)
			}
			if got[0].Action != tt.want {
				t.Errorf("action %q, want %q", got[0].Action, tt.want)
			}
		})
	}
}
