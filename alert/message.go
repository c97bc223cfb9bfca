package alert

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
)

// Bounds that keep a message readable on every channel (a Slack line, a
// Teams card); the full diff travels in Alert.Diff.
const (
	maxDiffOps   = 5
	maxValueLen  = 100
	actionManual = "none: alert only — run `vigil fix %s`"
	actionAuto   = "Always Fix will correct it"
)

// changeMessage describes a change: "aws.s3.bucket logs changed by
// arn:…:user/alice", What "PutBucketPolicy: /policy changed; …".
func changeMessage(rule *Rule, c vigil.Change, cause *vigil.Cause, at time.Time, evalErr error) vigil.Alert {
	res := c.New
	if res.UID == "" {
		res.UID = c.Version.UID
	}
	name := res.Name
	if name == "" {
		name = nameFromUID(res.UID)
	}
	verb := "changed"
	switch {
	case c.Version.Deleted:
		verb = "deleted"
	case c.Old == nil:
		verb = "created"
	}
	title := res.Type + " " + name + " " + verb
	actor := actorOf(c, cause)
	if actor != "" {
		title += " by " + actor
	}
	var what strings.Builder
	switch {
	case cause != nil && cause.EventName != "":
		what.WriteString(cause.EventName + ": ")
	case cause == nil:
		what.WriteString("found by a scan: ")
	}
	switch {
	case verb != "changed" || len(c.Version.Diff) == 0:
		what.WriteString(verb)
	default:
		what.WriteString(describeDiff(c.Version.Diff))
	}
	why := rule.Description
	if why == "" {
		why = "The change matches alert rule " + rule.Name + "."
	}
	if evalErr != nil {
		// Failing open: a rule that cannot judge a change of a type it
		// watches reports it rather than hide it.
		title += " (alert condition failed)"
		what.WriteString(". The condition of alert rule " + rule.Name + " failed to evaluate, so the change is reported unfiltered: " + unwrapEval(evalErr))
	}
	a := vigil.Alert{
		Kind:     vigil.AlertChange,
		Severity: rule.Severity,
		Title:    title,
		What:     what.String(),
		Why:      why,
		Action:   "none: alert only",
		Resource: vigil.TargetOf(res),
		At:       at.UTC(),
	}
	a.Resource.Name = name
	if !c.Version.Deleted {
		// A deletion's diff removes everything: the title says it all.
		a.Diff = c.Version.Diff
	}
	if cause != nil && cause.Actor != (vigil.Actor{}) {
		act := cause.Actor
		a.Actor = &act
	} else if actor != "" {
		a.Actor = &vigil.Actor{ARN: actor}
	}
	return a
}

func unwrapEval(err error) string {
	var e *EvalError
	if errors.As(err, &e) {
		return e.Err.Error()
	}
	return err.Error()
}

// describeDiff renders diff operations on one line, with paths relative to
// the properties document: "/policy changed; /public/policy false → true".
func describeDiff(ops []vigil.DiffOp) string {
	parts := make([]string, 0, min(len(ops), maxDiffOps)+1)
	for i, d := range ops {
		if i == maxDiffOps {
			parts = append(parts, fmt.Sprintf("and %d more", len(ops)-maxDiffOps))
			break
		}
		p := displayPath(d.Path)
		switch d.Op {
		case "add":
			if s, ok := brief(d.New); ok {
				parts = append(parts, p+" added: "+s)
			} else {
				parts = append(parts, p+" added")
			}
		case "remove":
			if s, ok := brief(d.Old); ok {
				parts = append(parts, p+" removed (was "+s+")")
			} else {
				parts = append(parts, p+" removed")
			}
		default:
			o, ok1 := brief(d.Old)
			n, ok2 := brief(d.New)
			if ok1 && ok2 {
				parts = append(parts, p+" "+o+" → "+n)
			} else {
				parts = append(parts, p+" changed")
			}
		}
	}
	return strings.Join(parts, "; ")
}

// displayPath drops the /properties prefix of the stored diffs' paths
// (which run over {name, tags, properties, read_errors}).
func displayPath(p string) string {
	switch {
	case p == "" || p == "/properties":
		return "/"
	case strings.HasPrefix(p, "/properties/"):
		return strings.TrimPrefix(p, "/properties")
	}
	return p
}

// brief renders a value compactly for a message: scalars as JSON, objects
// and lists as JSON without their null members when that stays short
// (an ingress rule: {"cidr":"0.0.0.0/0","from_port":22,…}). A longer value
// is left to Alert.Diff.
func brief(v any) (string, bool) {
	if m, ok := v.(map[string]any); ok {
		kept := make(map[string]any, len(m))
		for k, x := range m {
			if x != nil {
				kept[k] = x
			}
		}
		v = kept
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false
	}
	s := string(b)
	switch v.(type) {
	case nil, bool, float64, float32, int, int64, int32, string, json.Number:
		return truncate(s, maxValueLen), true
	}
	return s, len(s) <= maxValueLen
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// findingMessage describes the findings of one resource, worst first:
// title "<check title> — <resource name>", What one line per check.
func (r *Rules) findingMessage(rule *Rule, fs []finding, res vigil.Resource, cause *vigil.Cause, at time.Time) vigil.Alert {
	name := res.Name
	if name == "" {
		name = nameFromUID(res.UID)
	}
	worst := fs[0]
	title := checkTitle(worst) + " — " + name
	if len(fs) > 1 {
		title = fmt.Sprintf("%s (+%d more) — %s", checkTitle(worst), len(fs)-1, name)
	}
	var what strings.Builder
	if len(fs) == 1 {
		fmt.Fprintf(&what, "%s %s fails %s (%s): %s", res.Type, name, worst.result.CheckID, worst.severity(), worst.result.Reason)
	} else {
		fmt.Fprintf(&what, "%s %s fails %d checks:", res.Type, name, len(fs))
		for _, f := range fs {
			fmt.Fprintf(&what, "\n- %s (%s): %s", f.result.CheckID, f.severity(), f.result.Reason)
		}
	}
	if cause != nil && cause.EventName != "" {
		fmt.Fprintf(&what, "\nAfter %s", cause.EventName)
		if cause.Actor.ARN != "" {
			fmt.Fprintf(&what, " by %s", cause.Actor.ARN)
		}
		what.WriteString(".")
	}
	why := rule.Description
	if why == "" {
		why = checkWhy(fs)
	}
	results := make([]vigil.Result, len(fs))
	for i, f := range fs {
		results[i] = f.result
	}
	action := r.action(res, results)
	a := vigil.Alert{
		Kind:      vigil.AlertFinding,
		Severity:  worst.severity(),
		Title:     title,
		What:      what.String(),
		Why:       why,
		Action:    action,
		Resource:  vigil.TargetOf(res),
		CheckID:   worst.result.CheckID,
		FindingID: worst.result.FindingID(),
		At:        at.UTC(),
	}
	a.Resource.Name = name
	if cause != nil && cause.Actor != (vigil.Actor{}) {
		act := cause.Actor
		a.Actor = &act
	}
	return a
}

func checkTitle(f finding) string {
	if f.check != nil && f.check.Title != "" {
		return f.check.Title
	}
	return f.result.CheckID
}

// checkWhy is why findings matter: the check's description and remediation
// for one, each check's remediation for several.
func checkWhy(fs []finding) string {
	if len(fs) == 1 {
		c := fs[0].check
		if c == nil {
			return ""
		}
		parts := []string{}
		if c.Description != "" {
			parts = append(parts, c.Description)
		}
		if c.Remediation != "" {
			parts = append(parts, "To fix: "+c.Remediation)
		}
		return strings.Join(parts, "\n")
	}
	var lines []string
	for _, f := range fs {
		if f.check == nil {
			continue
		}
		text := f.check.Description
		if text == "" {
			text = f.check.Remediation
		}
		if text != "" {
			lines = append(lines, "- "+f.check.Title+": "+text)
		}
	}
	return strings.Join(lines, "\n")
}

// fixMessage describes a fix: "Vigil fixed …", "Vigil could not fix …",
// "Vigil stopped fixing … (flapping)", with the fix's plan.
func (r *Rules) fixMessage(rule *Rule, f vigil.Fix, outcome Outcome, res vigil.Resource, cause *vigil.Cause) vigil.Alert {
	name := res.Name
	if name == "" {
		name = nameFromUID(res.UID)
	}
	var f0 finding
	f0.result = vigil.Result{CheckID: f.CheckID, ResourceUID: f.ResourceUID}
	if r.checks != nil {
		f0.check, _ = r.checks.Get(f.CheckID)
	}
	subject := checkTitle(f0)
	sev := f0.severity()
	if sev == "" {
		sev = vigil.Medium
	}
	var title, action string
	findingID := vigil.FindingID(f.CheckID, f.ResourceUID)
	switch outcome {
	case OutcomeVerified:
		title = fmt.Sprintf("Vigil fixed %s — %s", name, subject)
		action = "fixed and verified: the resource was read back and the check passes"
	case OutcomeFailed:
		title = fmt.Sprintf("Vigil could not fix %s — %s", name, subject)
		action = fmt.Sprintf("none: the fix failed and the finding is open — look at `vigil fix %s`", findingID)
		sev = vigil.High
	case OutcomeFlapping:
		title = fmt.Sprintf("Vigil stopped fixing %s — %s (flapping)", name, subject)
		action = "Always Fix stopped for this finding: someone keeps undoing the fix; agree with them, or exempt the resource"
		sev = vigil.High
	case OutcomeSkipped:
		title = fmt.Sprintf("Vigil held back a fix of %s — %s", name, subject)
		action = fmt.Sprintf("none: a guard held the fix back — run `vigil fix %s` to fix it now", findingID)
	case OutcomeDryRun:
		title = fmt.Sprintf("Vigil would fix %s — %s (dry run)", name, subject)
		action = "none: the Always Fix rule is in dry-run mode"
	case OutcomeUndone:
		title = fmt.Sprintf("Vigil undid its fix of %s — %s", name, subject)
		action = "undone: the resource is back to its state before the fix"
	default:
		title = fmt.Sprintf("Vigil fix of %s — %s: %s", name, subject, f.Status)
	}
	var what strings.Builder
	by := f.Actor
	if by == "" {
		by = "Vigil"
	}
	fmt.Fprintf(&what, "%s %s %s (%s, by %s)", res.Type, name, f.Status, f.Action, by)
	if f.Reason != "" {
		fmt.Fprintf(&what, ": %s", f.Reason)
	}
	if len(f.Plan) > 0 {
		what.WriteString("\nPlan:")
		for _, l := range f.Plan {
			what.WriteString("\n- " + l)
		}
	}
	if cause != nil && cause.EventName != "" {
		fmt.Fprintf(&what, "\nBroken by %s", cause.EventName)
		if cause.Actor.ARN != "" {
			fmt.Fprintf(&what, " by %s", cause.Actor.ARN)
		}
		if !cause.EventTime.IsZero() {
			fmt.Fprintf(&what, " at %s", cause.EventTime.UTC().Format(time.RFC3339))
		}
		what.WriteString(".")
	}
	why := rule.Description
	if why == "" {
		why = checkWhy([]finding{f0})
	}
	a := vigil.Alert{
		Kind:      vigil.AlertFix,
		Severity:  sev,
		Title:     title,
		What:      what.String(),
		Why:       why,
		Action:    action,
		Resource:  vigil.TargetOf(res),
		CheckID:   f.CheckID,
		FindingID: findingID,
		FixID:     f.ID,
		FixStatus: f.Status,
		At:        f.At.UTC(),
	}
	a.Resource.Name = name
	if cause != nil && cause.Actor != (vigil.Actor{}) {
		act := cause.Actor
		a.Actor = &act
	}
	return a
}

// action says what Vigil does about findings on res: Always Fix corrects
// those an autofix rule covers; the others wait for `vigil fix`.
func (r *Rules) action(res vigil.Resource, results []vigil.Result) string {
	var auto, manual []string
	for _, f := range results {
		if r.autofix != nil && r.autofix(f.CheckID, res) {
			auto = append(auto, f.CheckID)
		} else {
			manual = append(manual, f.FindingID())
		}
	}
	switch {
	case len(auto) == 0 && len(manual) == 0:
		return "none: alert only"
	case len(manual) == 0:
		return actionAuto
	case len(auto) == 0:
		return fmt.Sprintf(actionManual, strings.Join(manual, " "))
	}
	return fmt.Sprintf("Always Fix will correct %s; for the others, "+actionManual, strings.Join(auto, ", "), strings.Join(manual, " "))
}
