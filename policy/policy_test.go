package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigilsec/vigil"
)

func TestLoadGood(t *testing.T) {
	set, err := Load(Dir("testdata/good"))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := set.Get("test-bucket-versioning")
	if !ok {
		t.Fatal("check not loaded")
	}
	if c.Fix != "aws.s3.enable-versioning" || c.Severity != vigil.Low || c.Frameworks["aws-fsbp"][0] != "S3.14" {
		t.Errorf("metadata: fix %q severity %q frameworks %v", c.Fix, c.Severity, c.Frameworks)
	}
	if got := c.Reads(); !slices.Equal(got, []string{"kind", "versioning", "versioning.status"}) {
		t.Errorf("reads = %v", got)
	}
	for _, r := range c.RunTests() {
		if !r.OK {
			t.Errorf("fixture %s: got %s (%s), want %s", r.Test.Name, r.GotWord(), r.Got.Reason, r.Test.Want)
		}
	}
}

func TestLoadBad(t *testing.T) {
	_, err := Load(Dir("testdata/bad"))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LoadError", err)
	}
	if vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("code = %q", vigil.ErrorCode(err))
	}
	got := err.Error() + "\n"
	want, rerr := os.ReadFile(filepath.Join("testdata", "bad.golden"))
	if os.Getenv("UPDATE_GOLDEN") != "" {
		_ = os.WriteFile(filepath.Join("testdata", "bad.golden"), []byte(got), 0o644)
		return
	}
	if rerr != nil || string(want) != got {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

func TestDuplicateIDs(t *testing.T) {
	data, err := os.ReadFile("testdata/good/bucket.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := fstest.MapFS{"x.yaml": {Data: data}}
	_, err = Load(Source{FS: a, Name: "one"}, Source{FS: a, Name: "two"})
	if err == nil || !strings.Contains(err.Error(), `two/x.yaml: duplicate check id "test-bucket-versioning" (also in one/x.yaml)`) {
		t.Errorf("got %v", err)
	}
}

func TestSelect(t *testing.T) {
	set, err := Load(Dir("testdata/good"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Select([]string{"nope"}, ""); err == nil || err.Error() != "unknown check id nope (see `vigil checks list`)" {
		t.Errorf("unknown id: %v", err)
	}
	s, err := set.Select(nil, vigil.High)
	if err != nil || s.Len() != 0 {
		t.Errorf("severity filter: %v, %d checks", err, s.Len())
	}
	// --checks c,c evaluates c once.
	id := set.IDs()[0]
	twice, err := set.Select([]string{id, id}, "")
	if err != nil || twice.Len() != 1 || len(twice.ForType(twice.Checks()[0].ResourceType)) != 1 {
		t.Errorf("Select(%s twice) = %v checks, %v; want 1", id, twice.IDs(), err)
	}
}

func TestEvaluate(t *testing.T) {
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name, assert string
		props        map[string]any
		readErrors   []string
		want         vigil.Status
	}{
		{"cidr world v4", `cidr.isWorld(resource.c)`, map[string]any{"c": "0.0.0.0/0"}, nil, vigil.StatusPass},
		{"cidr world v6", `cidr.isWorld(resource.c)`, map[string]any{"c": "::/0"}, nil, vigil.StatusPass},
		{"cidr not world", `cidr.isWorld(resource.c)`, map[string]any{"c": "10.0.0.0/8"}, nil, vigil.StatusFail},
		{"cidr contains", `cidr.contains("10.0.0.0/8", resource.c)`, map[string]any{"c": "10.1.2.0/24"}, nil, vigil.StatusPass},
		{"cidr contains broader", `cidr.contains("10.0.0.0/8", resource.c)`, map[string]any{"c": "0.0.0.0/0"}, nil, vigil.StatusFail},
		{"days since", `daysSince(resource.t) == 31`, map[string]any{"t": "2026-05-01T00:00:00Z"}, nil, vigil.StatusPass},
		{"days since bad", `daysSince(resource.t) > 1`, map[string]any{"t": "yesterday"}, nil, vigil.StatusError},
		{"int vs double", `resource.n >= 14 && resource.d == 14`, map[string]any{"n": 14.0, "d": 14}, nil, vigil.StatusPass},
		{"missing key", `resource.absent == true`, map[string]any{}, nil, vigil.StatusError},
		// has() would otherwise turn an unreadable property into a pass.
		{"has over read error", `!has(resource.policy) || resource.policy == null`, map[string]any{}, []string{"policy"}, vigil.StatusError},
		{"read error on child", `resource.policy.Statement.size() == 0`, map[string]any{"policy": map[string]any{}}, []string{"policy.Statement"}, vigil.StatusError},
		{"read error elsewhere", `resource.a == 1`, map[string]any{"a": 1}, []string{"b"}, vigil.StatusPass},
		// The verdict does not depend on the unreadable flag: no grant, no exposure.
		{"unknown not needed", `!resource.public || resource.bpa == true`, map[string]any{"public": false}, []string{"bpa"}, vigil.StatusPass},
		{"unknown needed", `!resource.public || resource.bpa == true`, map[string]any{"public": true}, []string{"bpa"}, vigil.StatusError},
		{"unknown would fail anyway", `resource.public == false && resource.bpa == true`, map[string]any{"public": true}, []string{"bpa"}, vigil.StatusFail},
		{"descendant unreadable", `resource.a.size() == 1`, map[string]any{"a": map[string]any{"c": 1}}, []string{"a.b"}, vigil.StatusError},
		{"function over unreadable member", `!iam.isPublic(resource.policy)`, map[string]any{"policy": map[string]any{}}, []string{"policy.Statement"}, vigil.StatusError},
		{"comprehension over unreadable list", `resource.rules.all(r, r.ok)`, map[string]any{}, []string{"rules"}, vigil.StatusError},
		{"whole resource unreadable", `resource.a == 1`, map[string]any{"a": 1}, []string{""}, vigil.StatusError},
		{"index form", `resource["a"]["b"] == 1`, map[string]any{"a": map[string]any{}}, []string{"a.b"}, vigil.StatusError},
		// The iam.* functions hand the engine's answers to CEL unchanged.
		{"engine public: a list naming *", `iam.isPublic(resource.p) && iam.public(resource.p, "aws.s3.bucket") == {
			"public": "public", "reasons": ["Statement[0] grants anyone s3:GetObject"],
			"statements": ["Statement[0]"], "actions": ["s3:GetObject"]}`, map[string]any{"p": map[string]any{"Statement": []any{
			map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": []any{"arn:aws:iam::1:root", "*"}}, "Action": "s3:GetObject"}}}}, nil, vigil.StatusPass},
		{"engine not public: pinned to a VPC endpoint", `!iam.isPublic(resource.p) && iam.public(resource.p, "aws.s3.bucket") == {
			"public": "not_public", "reasons": ["Statement[0] grants everyone, but only with fixed values of aws:SourceVpce"],
			"statements": [], "actions": []} && iam.crossAccount(resource.p, "aws.s3.bucket", "123456789012", trusted) == []`, map[string]any{"p": map[string]any{"Statement": map[string]any{
			"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceVpce": "vpce-1"}}}}}, nil, vigil.StatusPass},
		{"engine admin", `iam.grantsAdmin(resource.p) && iam.principal([resource.p], null) == {
			"admin": true, "full_iam": true, "privilege_escalation": [],
			"reasons": ["allows every action on every resource (Statement[0])"]}`, map[string]any{"p": map[string]any{"Statement": []any{
			map[string]any{"Effect": "Allow", "Action": []any{"*"}, "Resource": "*"}}}}, nil, vigil.StatusPass},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := "id: t-t\ntitle: t\nresource: aws.x.y\nseverity: low\ncategory: security\nassert: '" + strings.ReplaceAll(tc.assert, "'", "''") + "'\n"
			c, probs := compileFile(env, "t.yaml", []byte(data))
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			r := &vigil.Resource{Properties: tc.props}
			for _, p := range tc.readErrors {
				r.ReadErrors = append(r.ReadErrors, vigil.ReadError{Property: p, Operation: "s3:GetBucketPolicy", Code: vigil.EFORBIDDEN})
			}
			if got := c.Evaluate(NewInput(r, now)); got.Status != tc.want {
				t.Errorf("got %s (%s), want %s", got.Status, got.Reason, tc.want)
			}
		})
	}
}

// TestReasonReadsDoNotBlameAssert: a property only the reason reads is not
// the cause of the assertion's verdict or error, and a reason that cannot be
// evaluated falls back to the title.
func TestReasonReadsDoNotBlameAssert(t *testing.T) {
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	data := "id: t-t\ntitle: the title\nresource: aws.x.y\nseverity: low\ncategory: security\n" +
		"assert: 'resource.x == 1'\nreason: '\"y is \" + resource.y'\n"
	c, probs := compileFile(env, "t.yaml", []byte(data))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	yUnreadable := []vigil.ReadError{{Property: "y", Operation: "s3:GetBucketPolicy", Code: vigil.EFORBIDDEN}}
	for _, tc := range []struct {
		name   string
		props  map[string]any
		want   vigil.Status
		reason string
	}{
		{"assert errors on its own", map[string]any{}, vigil.StatusError, "cannot decide: evaluating assert: no such key: x"},
		{"assert fails, reason unreadable", map[string]any{"x": 2}, vigil.StatusFail, "the title"},
		{"assert passes", map[string]any{"x": 1}, vigil.StatusPass, "the title"},
	} {
		got := c.Evaluate(NewInput(&vigil.Resource{Properties: tc.props, ReadErrors: yUnreadable}, FixtureTime))
		if got.Status != tc.want || got.Reason != tc.reason {
			t.Errorf("%s: got %s %q, want %s %q", tc.name, got.Status, got.Reason, tc.want, tc.reason)
		}
	}
	if got := c.Reads(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("Reads() = %v, want [x y]", got)
	}
}
