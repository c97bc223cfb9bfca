package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilsec/vigil"
)

// bigAlert has a title, text and diff far beyond every destination's
// limits, and a name that would ping a whole Slack channel.
func bigAlert() vigil.Alert {
	a := alerts[0].alert
	a.Key = strings.Repeat("k", 300)
	a.Title = "<!channel> " + strings.Repeat("very long title ", 100)
	a.What = strings.Repeat("é", 3000)
	a.Diff = nil
	for i := range 500 {
		a.Diff = append(a.Diff, vigil.DiffOp{Op: "add", Path: fmt.Sprintf("/rules/%d", i), New: strings.Repeat("x", 40)})
	}
	return a
}

// TestSlackLimits: the payload stays within Slack's limits and escapes
// mrkdwn control characters.
func TestSlackLimits(t *testing.T) {
	body, err := SlackPayload(bigAlert())
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Text   string
		Blocks []struct {
			Type   string
			Text   *struct{ Text string }
			Fields []struct{ Text string }
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Text, "<!channel>") || !strings.HasPrefix(p.Text, "[Vigil] HIGH &lt;!channel&gt; very long") {
		t.Errorf("text not escaped: %.80q", p.Text)
	}
	for _, b := range p.Blocks {
		switch {
		case b.Type == "header":
			if n := utf8.RuneCountInString(b.Text.Text); n > 150 {
				t.Errorf("header of %d characters", n)
			}
		case b.Text != nil:
			if n := utf8.RuneCountInString(b.Text.Text); n > 3000 || !strings.HasSuffix(b.Text.Text, "not shown```") {
				t.Errorf("diff section of %d characters, ending %q", n, b.Text.Text[len(b.Text.Text)-30:])
			}
		}
		for _, f := range b.Fields {
			if n := utf8.RuneCountInString(f.Text); n > 2000 || !utf8.ValidString(f.Text) {
				t.Errorf("field of %d characters (valid UTF-8: %v)", n, utf8.ValidString(f.Text))
			}
		}
	}
}

// TestTeamsLimits: the diff is cut to 40 rows, the last saying how many
// lines were left out.
func TestTeamsLimits(t *testing.T) {
	body, err := TeamsPayload(bigAlert())
	if err != nil {
		t.Fatal(err)
	}
	if len(body) > 28000 {
		t.Errorf("payload of %d bytes, over Teams' 28 KB", len(body))
	}
	var p struct {
		Attachments []struct {
			Content struct {
				Body []struct {
					Type  string
					Items []struct{ Text string }
				}
			}
		}
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, b := range p.Attachments[0].Content.Body {
		if b.Type == "Container" {
			for _, it := range b.Items {
				rows = append(rows, it.Text)
			}
		}
	}
	if len(rows) != 1+teamsDiffRows || rows[0] != "Diff" || !strings.HasSuffix(rows[len(rows)-1], "not shown") {
		t.Errorf("%d rows, first %q, last %q", len(rows), rows[0], rows[len(rows)-1])
	}
}

// TestPagerDutyLimits: a key over 255 characters becomes a stable hash,
// and the summary is at most 1,024 characters.
func TestPagerDutyLimits(t *testing.T) {
	a := bigAlert()
	var ev struct {
		DedupKey string `json:"dedup_key"`
		Payload  struct{ Summary, Severity string }
	}
	body, err := PagerDutyPayload(routingKey, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.DedupKey) > 255 || ev.DedupKey != PagerDutyDedupKey(a.Key) || !strings.HasPrefix(ev.DedupKey, "vigil:") {
		t.Errorf("dedup_key %q", ev.DedupKey)
	}
	if PagerDutyDedupKey("short") != "short" {
		t.Error("a short key is changed")
	}
	if n := utf8.RuneCountInString(ev.Payload.Summary); n > 1024 || n < 1000 {
		t.Errorf("summary of %d characters", n)
	}
	for sev, want := range map[vigil.Severity]string{vigil.Critical: "critical", vigil.High: "error", vigil.Medium: "warning", vigil.Low: "info", vigil.Info: "info", "": "info"} {
		if got := PagerDutySeverity(sev); got != want {
			t.Errorf("PagerDutySeverity(%q) = %q, want %q", sev, got, want)
		}
	}
}
