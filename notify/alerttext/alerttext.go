// Package alerttext turns a vigil.Alert into the labelled lines every
// channel shows: the one place that decides what an alert says, so that an
// email, a Slack message, a Teams card, a webhook and a PagerDuty event
// never disagree. It is a leaf package because both notify and smtp render
// alerts, and notify imports smtp.
package alerttext

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilsec/vigil"
)

// Field is one labelled line of an alert.
type Field struct {
	// Label is short, for a card or a message field: "Who".
	Label string
	// Heading is the same label spelled out, for a plain-text message:
	// "Who changed it".
	Heading string
	Value   string
}

// Text is an alert rendered once for all channels. Empty strings are
// fields the alert does not have.
type Text struct {
	// Subject is "[Vigil] CRITICAL S3 bucket logs made public by alice".
	Subject string
	// Severity is the alert's severity in capitals, "CRITICAL".
	Severity string
	Title    string
	What     string
	// Who is the actor, their source address and the time, or why no
	// actor is known.
	Who    string
	Why    string
	Action string
	// Resource is "arn:… (aws.s3.bucket logs, account 123…, region …)".
	Resource string
	// Context is the resource in short: "uid · account … · region …".
	Context string
	// Finding names the finding and the fix, and when the finding is
	// still open, the command that fixes it.
	Finding string
	// Diff is the configuration change, one operation a line.
	Diff string
}

// Fields are the labelled lines in the order every channel shows them,
// without the empty ones and without the diff.
func (t Text) Fields() []Field {
	all := []Field{
		{"What", "What happened", t.What},
		{"Who", "Who changed it", t.Who},
		{"Why", "Why it matters", t.Why},
		{"Action", "What Vigil did", t.Action},
		{"Resource", "Resource", t.Resource},
		{"Finding", "Finding", t.Finding},
	}
	out := all[:0]
	for _, f := range all {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

// Render renders a with its diff cut to about maxDiff bytes (0: no bound).
func Render(a vigil.Alert, maxDiff int) Text {
	sev := strings.ToUpper(string(a.Severity))
	if sev == "" {
		sev = "INFO"
	}
	title := OneLine(a.Title)
	if title == "" {
		title = OneLine(a.What)
	}
	return Text{
		Subject:  OneLine("[Vigil] " + sev + " " + title),
		Severity: sev,
		Title:    title,
		What:     strings.TrimSpace(a.What),
		Who:      Who(a),
		Why:      strings.TrimSpace(a.Why),
		Action:   strings.TrimSpace(a.Action),
		Resource: Resource(a.Resource),
		Context:  Context(a.Resource),
		Finding:  Finding(a),
		Diff:     Diff(a.Diff, maxDiff),
	}
}

// Who says who made the change: actor ARN, source address and time. A
// change found by a scan has no actor, and Who says so rather than
// leaving readers to guess.
func Who(a vigil.Alert) string {
	at := ""
	if !a.At.IsZero() {
		at = a.At.UTC().Format(time.RFC3339)
	}
	if a.Actor == nil || a.Actor.ARN == "" {
		if a.Kind != vigil.AlertChange {
			return ""
		}
		if at == "" {
			return "unknown (no audit event names the actor)"
		}
		return "unknown (no audit event names the actor), observed " + at
	}
	s := a.Actor.ARN
	if a.Actor.SourceIP != "" {
		s += " from " + a.Actor.SourceIP
	}
	if at != "" {
		s += " at " + at
	}
	return s
}

// Resource names the resource in full: its uid, then type, name, account
// and region.
func Resource(r vigil.AlertTarget) string {
	if r.UID == "" {
		return ""
	}
	var parts []string
	if r.Type != "" {
		p := r.Type
		if r.Name != "" {
			p += " " + r.Name
		}
		parts = append(parts, p)
	}
	if r.Account != "" {
		parts = append(parts, "account "+r.Account)
	}
	if r.Region != "" {
		parts = append(parts, "region "+r.Region)
	}
	if len(parts) == 0 {
		return r.UID
	}
	return r.UID + " (" + strings.Join(parts, ", ") + ")"
}

// Context is the resource in one short line: "uid · account … · region …".
func Context(r vigil.AlertTarget) string {
	parts := []string{}
	if r.UID != "" {
		parts = append(parts, r.UID)
	}
	if r.Account != "" {
		parts = append(parts, "account "+r.Account)
	}
	if r.Region != "" {
		parts = append(parts, "region "+r.Region)
	}
	return strings.Join(parts, " · ")
}

// FindingOpen reports whether the alert's finding is still open: a finding
// alert, or a fix that did not end verified (failed, held back, flapping).
func FindingOpen(a vigil.Alert) bool {
	if a.FindingID == "" {
		return false
	}
	switch a.Kind {
	case vigil.AlertFinding:
		return true
	case vigil.AlertFix:
		return a.FixStatus != vigil.FixVerified && a.FixStatus != vigil.FixUndone
	}
	return false
}

// Finding names the check, finding and fix, and when the finding is open,
// the command that fixes it.
func Finding(a vigil.Alert) string {
	var parts []string
	if a.FindingID != "" {
		s := "finding " + a.FindingID
		if a.CheckID != "" {
			s += " (check " + a.CheckID + ")"
		}
		parts = append(parts, s)
	} else if a.CheckID != "" {
		parts = append(parts, "check "+a.CheckID)
	}
	if a.FixID != "" {
		s := "fix " + a.FixID
		if a.FixStatus != "" {
			s += " " + string(a.FixStatus)
		}
		parts = append(parts, s)
	}
	s := strings.Join(parts, ", ")
	if FindingOpen(a) {
		s += "\nThe finding is open. To fix it: vigil fix " + a.FindingID
	}
	return s
}

// Diff renders a configuration change one operation a line ("+ path:
// value", "- path: value", "~ path: old -> new"), cut at a line boundary to
// about max bytes (0: no bound) with a last line saying how many were left
// out.
func Diff(ops []vigil.DiffOp, max int) string {
	var b strings.Builder
	for i, op := range ops {
		line := diffLine(op)
		if max > 0 && b.Len()+len(line)+1 > max {
			rest := fmt.Sprintf("… %d more change(s) not shown", len(ops)-i)
			if b.Len() == 0 {
				// One line alone is too long: show its beginning.
				return Truncate(line, max) + "\n" + rest
			}
			return b.String() + rest
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func diffLine(op vigil.DiffOp) string {
	path := op.Path
	if path == "" {
		path = "/"
	}
	switch op.Op {
	case "add":
		return "+ " + path + ": " + value(op.New)
	case "remove":
		return "- " + path + ": " + value(op.Old)
	default:
		return "~ " + path + ": " + value(op.Old) + " -> " + value(op.New)
	}
}

// value is a diff value as compact JSON, the way it is stored.
func value(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// OneLine folds whitespace, newlines included, into single spaces: a
// resource name cannot add lines to a subject or header.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Truncate cuts s to at most max bytes on a rune boundary, ending it with
// "…" when it was cut.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ell = "…"
	if max < len(ell) {
		return ""
	}
	cut := max - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}

// Body is the plain-text message of an alert, for email and any channel
// that shows text: the title, the labelled fields, then the diff.
func Body(t Text) string {
	var b strings.Builder
	b.WriteString(t.Title + "\n\n")
	for _, f := range t.Fields() {
		fmt.Fprintf(&b, "%s:\n  %s\n\n", f.Heading, strings.ReplaceAll(f.Value, "\n", "\n  "))
	}
	if t.Diff != "" {
		b.WriteString("Diff:\n  " + strings.ReplaceAll(t.Diff, "\n", "\n  ") + "\n\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
