package alerttext

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

func TestDiff(t *testing.T) {
	ops := []vigil.DiffOp{
		{Op: "replace", Path: "/public/policy", Old: false, New: true},
		{Op: "add", Path: "/tags/env", New: "prod"},
		{Op: "remove", Path: "/acl/0", Old: map[string]any{"grantee": "AllUsers"}},
		{Op: "replace", Path: "", Old: nil, New: map[string]any{}},
	}
	full := "~ /public/policy: false -> true\n+ /tags/env: \"prod\"\n- /acl/0: {\"grantee\":\"AllUsers\"}\n~ /: null -> {}"
	cases := []struct {
		name string
		max  int
		want string
	}{
		{"no bound", 0, full},
		{"room for all", len(full) + 1, full},
		{"two lines fit", 55, "~ /public/policy: false -> true\n+ /tags/env: \"prod\"\n… 2 more change(s) not shown"},
		{"first line too long", 30, "~ /public/policy: false -> …\n… 4 more change(s) not shown"},
	}
	for _, tc := range cases {
		if got := Diff(ops, tc.max); got != tc.want {
			t.Errorf("%s: got\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
	if Diff(nil, 100) != "" {
		t.Error("an empty diff renders")
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefg…"},
		{"ééééé", 6, "é…"}, // never cuts inside a rune
		{"abc", 1, ""},
	}
	for _, tc := range cases {
		if got := Truncate(tc.s, tc.max); got != tc.want || len(got) > tc.max {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cases := []struct {
		name string
		a    vigil.Alert
		want Text
	}{
		{"change found by a scan", vigil.Alert{Kind: vigil.AlertChange, Severity: vigil.Low, Title: "tag\r\nBcc: x@evil.example removed",
			What: "A tag went away.", Resource: vigil.AlertTarget{UID: "arn:aws:s3:::b"}, At: at},
			Text{Subject: "[Vigil] LOW tag Bcc: x@evil.example removed", Severity: "LOW", Title: "tag Bcc: x@evil.example removed",
				What: "A tag went away.", Who: "unknown (no audit event names the actor), observed 2026-03-04T05:06:07Z",
				Resource: "arn:aws:s3:::b", Context: "arn:aws:s3:::b"}},
		{"finding without title or severity", vigil.Alert{Kind: vigil.AlertFinding, What: "Port 22 open.", CheckID: "c1", FindingID: "f-1"},
			Text{Subject: "[Vigil] INFO Port 22 open.", Severity: "INFO", Title: "Port 22 open.", What: "Port 22 open.",
				Finding: "finding f-1 (check c1)\nThe finding is open. To fix it: vigil fix f-1"}},
		{"fix failed", vigil.Alert{Kind: vigil.AlertFix, Severity: vigil.High, Title: "t", FindingID: "f-2", FixID: "x-2", FixStatus: vigil.FixFailed,
			Actor: &vigil.Actor{ARN: "rule:private"}},
			Text{Subject: "[Vigil] HIGH t", Severity: "HIGH", Title: "t", Who: "rule:private",
				Finding: "finding f-2, fix x-2 failed\nThe finding is open. To fix it: vigil fix f-2"}},
	}
	for _, tc := range cases {
		if got := Render(tc.a, 0); got != tc.want {
			t.Errorf("%s:\n got %#v\nwant %#v", tc.name, got, tc.want)
		}
	}
}

func TestBody(t *testing.T) {
	body := Body(Text{Title: "T", What: "line one\nline two", Finding: "f"})
	want := "T\n\nWhat happened:\n  line one\n  line two\n\nFinding:\n  f\n"
	if body != want {
		t.Errorf("got %q, want %q", body, want)
	}
	if strings.Contains(Body(Text{Title: "T"}), "Diff") {
		t.Error("an alert without diff shows one")
	}
}
