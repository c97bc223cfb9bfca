package policy

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

func TestMutes(t *testing.T) {
	m, err := LoadMutes("testdata/mutes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	after := time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC)
	public := &vigil.Resource{UID: "arn:aws:s3:::acme-public-assets", Name: "acme-public-assets"}
	legacy := &vigil.Resource{UID: "arn:aws:ec2:us-east-1:1:instance/i-1", Name: "i-1", Tags: map[string]string{"team": "legacy"}}
	fail := Outcome{Applies: true, Status: vigil.StatusFail, Reason: "ACL grants READ to AllUsers"}
	cases := []struct {
		name  string
		check string
		r     *vigil.Resource
		now   time.Time
		in    Outcome
		want  vigil.Status
	}{
		{"glob on check and name", "aws-s3-bucket-no-public-read", public, before, fail, vigil.StatusMuted},
		{"other check", "aws-ec2-instance-imdsv2-required", public, before, fail, vigil.StatusFail},
		{"tag match", "aws-ec2-instance-imdsv2-required", legacy, before, fail, vigil.StatusMuted},
		{"expired", "aws-ec2-instance-imdsv2-required", legacy, after, fail, vigil.StatusFail},
		{"pass stays pass", "aws-s3-bucket-no-public-read", public, before, Outcome{Applies: true, Status: vigil.StatusPass}, vigil.StatusPass},
		{"star crosses slashes", "aws-s3-x", &vigil.Resource{UID: "arn:aws:ec2:us-east-1:1:instance/i-1"}, before, fail, vigil.StatusFail},
		{"error is muted too", "aws-s3-bucket-no-public-read", public, before, Outcome{Applies: true, Status: vigil.StatusError, Reason: "x"}, vigil.StatusMuted},
	}
	for _, tc := range cases {
		if got := m.Apply(tc.check, tc.r, tc.now, tc.in); got.Status != tc.want {
			t.Errorf("%s: got %s (%s), want %s", tc.name, got.Status, got.Reason, tc.want)
		}
	}
	got := m.Apply("aws-ec2-instance-imdsv2-required", legacy, before, fail).Reason
	if want := "muted until 2026-07-01: vendor agent needs IMDSv1 (fail: ACL grants READ to AllUsers)"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
}

func TestMutesBad(t *testing.T) {
	_, err := LoadMutes("testdata/mutes-bad.yaml")
	want := `testdata/mutes-bad.yaml:1:3: a mute needs a reason
testdata/mutes-bad.yaml:4:3: unknown key "expire"
testdata/mutes-bad.yaml:5:3: expires: not a timestamp: "someday" (want a date such as 2027-01-31)`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"arn:aws:ec2:*", "arn:aws:ec2:us-east-1:1:instance/i-1", true},
		{"*/i-1", "arn:aws:ec2:us-east-1:1:instance/i-1", true},
		{"acme-?-logs", "acme-a-logs", true},
		{"acme-?-logs", "acme-ab-logs", false},
		{"aws-s3-*-public-*", "aws-s3-bucket-public-read", true},
		{"aws-s3-*", "aws-ec2-x", false},
		{"", "anything", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestMuteThroughEndOfDay(t *testing.T) {
	m, err := LoadMutes("testdata/mutes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	legacy := &vigil.Resource{UID: "u", Name: "i-1", Tags: map[string]string{"team": "legacy"}}
	fail := Outcome{Applies: true, Status: vigil.StatusFail, Reason: "x"}
	lastDay := time.Date(2026, 7, 1, 23, 0, 0, 0, time.UTC)
	if got := m.Apply("aws-ec2-instance-imdsv2-required", legacy, lastDay, fail); got.Status != vigil.StatusMuted {
		t.Errorf("on the expiry date itself: %s, want muted", got.Status)
	}
}
