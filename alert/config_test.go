package alert

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/yamlconf"
)

// testChecks loads the checks of testdata/checks.
func testChecks(t *testing.T) *policy.Set {
	t.Helper()
	set, err := policy.Load(policy.Source{FS: os.DirFS("testdata/checks"), Name: "testdata/checks"})
	if err != nil {
		t.Fatalf("load checks: %v", err)
	}
	return set
}

func testEnv(t *testing.T) Env {
	t.Helper()
	return Env{Channels: map[string]bool{"ops-email": true, "hook": true, "slack-sec": true}, Checks: testChecks(t)}
}

// alertsNode parses a YAML document and returns the value of its alerts key.
func alertsNode(t *testing.T, doc string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	n := yamlconf.ValueOf(root.Content[0], "alerts")
	if n == nil {
		t.Fatal("no alerts key")
	}
	return n
}

// testRules parses testdata/alerts.yaml.
func testRules(t *testing.T) []*Rule {
	t.Helper()
	data, err := os.ReadFile("testdata/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules, probs := Parse(alertsNode(t, string(data)), "alerts.yaml", testEnv(t))
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	return rules
}

func TestParseExample(t *testing.T) {
	t.Parallel()
	rules := testRules(t)
	type summary struct {
		Name, On, Type, Severity string
		Channels                 []string
		Quiet                    time.Duration
		Checks, Accounts         []string
		Reopened                 bool
		Outcomes                 []Outcome
		HasWhen                  bool
		Source                   string
	}
	var got []summary
	for _, r := range rules {
		got = append(got, summary{r.Name, string(r.On), r.Type, string(r.Severity), r.Channels, r.Quiet,
			r.Checks, r.Accounts, r.Reopened, r.Outcomes, r.when != nil, r.Source})
	}
	want := []summary{
		{"world-open-ingress", "change", "aws.ec2.security_group", "high", []string{"ops-email", "hook"}, 10 * time.Minute, nil, nil, true, nil, true, "alerts.yaml:3"},
		{"bucket-made-public", "change", "aws.s3.*", "critical", []string{"hook"}, 5 * time.Minute, nil, nil, true, nil, true, "alerts.yaml:14"},
		{"bucket-deleted", "change", "aws.s3.bucket", "medium", []string{"ops-email"}, 5 * time.Minute, nil, nil, true, nil, true, "alerts.yaml:21"},
		{"new-findings", "finding", "", "low", []string{"slack-sec", "hook"}, 5 * time.Minute, []string{"aws-s3-*"}, []string{"123456789012"}, true, nil, false, "alerts.yaml:26"},
		{"fixes", "fix", "", "", []string{"ops-email"}, 5 * time.Minute, nil, nil, true,
			[]Outcome{OutcomeVerified, OutcomeFailed, OutcomeFlapping, OutcomeSkipped}, false, "alerts.yaml:32"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rules, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.On != w.On || g.Type != w.Type || g.Severity != w.Severity ||
			!slices.Equal(g.Channels, w.Channels) || g.Quiet != w.Quiet || !slices.Equal(g.Checks, w.Checks) ||
			!slices.Equal(g.Accounts, w.Accounts) || g.Reopened != w.Reopened || !slices.Equal(g.Outcomes, w.Outcomes) ||
			g.HasWhen != w.HasWhen || g.Source != w.Source {
			t.Errorf("rule %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	rules, probs := Parse(alertsNode(t, `alerts:
  - {name: a, on: finding, channels: [hook], reopened: false}
  - {name: b, on: fix, channels: [hook]}
  - {name: c, on: change, type: aws.iam.user, channels: [hook], quiet: 1h}
`), "c.yaml", testEnv(t))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if r := rules[0]; r.Severity != vigil.Low || r.Reopened || r.Quiet != DefaultQuiet {
		t.Errorf("finding rule: severity %q reopened %v quiet %s; want low, false, 5m", r.Severity, r.Reopened, r.Quiet)
	}
	if r := rules[1]; !slices.Equal(r.Outcomes, []Outcome{OutcomeFailed, OutcomeFlapping}) {
		t.Errorf("fix rule outcomes %v, want [failed flapping]", r.Outcomes)
	}
	if r := rules[2]; r.Severity != vigil.Medium || r.Quiet != time.Hour || r.when != nil {
		t.Errorf("change rule: severity %q quiet %s when %v; want medium, 1h, none", r.Severity, r.Quiet, r.when != nil)
	}
}

func TestParseNull(t *testing.T) {
	t.Parallel()
	rules, probs := Parse(alertsNode(t, "alerts:\n"), "c.yaml", testEnv(t))
	if rules != nil || probs != nil {
		t.Errorf("null section: got %v, %v; want nothing", rules, probs)
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"not a list", "alerts: {a: 1}", []string{`c.yaml:1:9: alerts must be a list of rules, got a mapping`}},
		{"unknown key", "alerts:\n  - {name: a, on: fix, channels: [hook], colour: red}",
			[]string{`c.yaml:2:42: unknown key "colour" in alerts[1] (a) (a fix rule takes accounts, channels, checks, description, name, on, outcomes, quiet, regions, types)`}},
		{"key of another kind", "alerts:\n  - {name: a, on: finding, channels: [hook], when: 'true'}",
			[]string{`c.yaml:2:46: unknown key "when" in alerts[1] (a) (a finding rule takes accounts, channels, checks, description, name, on, quiet, regions, reopened, severity, types)`}},
		{"missing channels", "alerts:\n  - name: a\n    on: finding",
			[]string{`c.yaml:2:5: alerts[1] (a) needs channels (names of configured channels)`}},
		{"empty channels", "alerts:\n  - {name: a, on: finding, channels: []}",
			[]string{`c.yaml:2:38: alerts[1] (a).channels: at least one channel`}},
		{"unknown channel", "alerts:\n  - {name: a, on: finding, channels: [hook, pager]}",
			[]string{`c.yaml:2:45: alerts[1] (a).channels: unknown channel "pager" (configured: hook, ops-email, slack-sec)`}},
		{"channel twice", "alerts:\n  - {name: a, on: finding, channels: [hook, hook]}",
			[]string{`c.yaml:2:45: alerts[1] (a).channels: "hook" is listed twice`}},
		{"missing name", "alerts:\n  - {on: finding, channels: [hook]}",
			[]string{`c.yaml:2:5: alerts[1] needs a name`}},
		{"bad name", "alerts:\n  - {name: a/b, on: finding, channels: [hook]}",
			[]string{`c.yaml:2:12: alerts[1].name "a/b": use letters, digits, '.', '_' and '-' (it is part of the alerts' keys)`}},
		{"duplicate name", "alerts:\n  - {name: a, on: finding, channels: [hook]}\n  - {name: a, on: fix, channels: [hook]}",
			[]string{`c.yaml:3:12: alerts[2]: the name "a" is used twice`}},
		{"on bogus", "alerts:\n  - {name: a, on: bogus, channels: [hook], checks: [x]}",
			[]string{`c.yaml:2:19: alerts[1].on "bogus": want change, finding or fix`}},
		{"on missing", "alerts:\n  - {name: a, channels: [hook]}",
			[]string{`c.yaml:2:5: alerts[1] needs on (change, finding or fix)`}},
		{"change without type", "alerts:\n  - {name: a, on: change, channels: [hook]}",
			[]string{`c.yaml:2:5: alerts[1] (a) needs type (a resource type such as aws.s3.bucket, or a glob such as aws.s3.*)`}},
		{"bad quiet", "alerts:\n  - {name: a, on: finding, channels: [hook], quiet: soon}",
			[]string{`c.yaml:2:53: alerts[1] (a).quiet: "soon" is not a duration such as 30m, 24h or 7d`}},
		{"quiet below a second", "alerts:\n  - {name: a, on: finding, channels: [hook], quiet: 500ms}",
			[]string{`c.yaml:2:53: alerts[1] (a).quiet 500ms: want a whole number of seconds, at least 1s`}},
		{"quiet a number", "alerts:\n  - {name: a, on: finding, channels: [hook], quiet: 10}",
			[]string{`c.yaml:2:53: alerts[1] (a).quiet: want a duration such as 10m or 1h, got a number (10)`}},
		{"bad severity", "alerts:\n  - {name: a, on: finding, channels: [hook], severity: urgent}",
			[]string{`c.yaml:2:56: alerts[1] (a).severity "urgent": want critical, high, medium, low or info`}},
		{"check glob matching nothing", "alerts:\n  - {name: a, on: finding, channels: [hook], checks: [aws-s3-*, azure-*]}",
			[]string{`c.yaml:2:65: alerts[1] (a).checks: "azure-*" matches no check (see ` + "`vigil checks list`" + `)`}},
		{"unknown check", "alerts:\n  - {name: a, on: fix, channels: [hook], checks: [aws-s3-nope]}",
			[]string{`c.yaml:2:51: alerts[1] (a).checks: unknown check "aws-s3-nope" (see ` + "`vigil checks list`" + `)`}},
		{"bad outcome", "alerts:\n  - {name: a, on: fix, channels: [hook], outcomes: [failed, exploded]}",
			[]string{`c.yaml:2:61: alerts[1] (a).outcomes: "exploded": want verified, failed, flapping, skipped, dry_run or undone`}},
		{"reopened not a bool", "alerts:\n  - {name: a, on: finding, channels: [hook], reopened: maybe}",
			[]string{`c.yaml:2:56: alerts[1] (a).reopened: want true or false, got "maybe"`}},
		{"key twice", "alerts:\n  - name: a\n    on: fix\n    channels: [hook]\n    channels: [hook]",
			[]string{`c.yaml:5:5: alerts[1] (a).channels is set twice`}},
		{"rule not a mapping", "alerts:\n  - just-a-name",
			[]string{`c.yaml:2:5: alerts[1] must be a mapping with name, on and channels, got "just-a-name"`}},
		// CEL problems point into the expression.
		{"bad CEL syntax", "alerts:\n  - name: a\n    on: change\n    type: aws.s3.bucket\n    channels: [hook]\n    when: 'new.public.policy &&'",
			[]string{`c.yaml:6:32: alerts[1] (a).when: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`}},
		{"CEL undeclared variable", "alerts:\n  - name: a\n    on: change\n    type: aws.s3.bucket\n    channels: [hook]\n    when: 'resource.public'",
			[]string{`c.yaml:6:12: alerts[1] (a).when: undeclared reference to 'resource'`}},
		{"CEL not a bool", "alerts:\n  - name: a\n    on: change\n    type: aws.s3.bucket\n    channels: [hook]\n    when: 'actor + event'",
			[]string{`c.yaml:6:11: alerts[1] (a).when must be a bool expression, this one gives string`}},
		{"CEL error in a block", "alerts:\n  - name: a\n    on: change\n    type: aws.s3.bucket\n    channels: [hook]\n    when: |\n      new != null &&\n        cidr.isWorld(1)",
			[]string{`c.yaml:8:21: alerts[1] (a).when: found no matching overload for 'cidr.isWorld' applied to '(int)'`}},
		{"several problems at once", "alerts:\n  - {name: a, on: finding, channels: [pager], quiet: x}\n  - {name: b, on: nope}",
			[]string{
				`c.yaml:2:39: alerts[1] (a).channels: unknown channel "pager" (configured: hook, ops-email, slack-sec)`,
				`c.yaml:2:54: alerts[1] (a).quiet: "x" is not a duration such as 30m, 24h or 7d`,
				`c.yaml:3:19: alerts[2].on "nope": want change, finding or fix`,
				`c.yaml:3:5: alerts[2] (b) needs channels (names of configured channels)`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules, probs := Parse(alertsNode(t, tt.doc), "c.yaml", env)
			if rules != nil {
				t.Errorf("got %d rules with problems, want none", len(rules))
			}
			got := make([]string, len(probs))
			for i, p := range probs {
				got[i] = p.String()
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
}
