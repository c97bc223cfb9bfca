// Package alert turns what an observation changed, and what a fix did,
// into alerts for the configured channels, following the rules of the
// config file's alerts section (docs/alerts.md).
//
// Rules run inside the store transaction that records an observation, so
// they are pure: no I/O, no clock (the caller passes the time), and a rule
// that cannot be evaluated never rolls the observation back.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

// Variables of a change rule's condition.
const (
	varOld     = "old"      // properties before; null for a created resource
	varNew     = "new"      // properties now; null for a deleted resource
	varDiff    = "diff"     // list of {op, path, old, new}
	varActor   = "actor"    // ARN of who made the change, "" when unknown
	varEvent   = "event"    // event name, "" when a scan found the change
	varTagsOld = "tags_old" // tags before; null for a created resource
	varTagsNew = "tags_new" // tags now; null for a deleted resource
	varUID     = "uid"
	varName    = "name"
	varAccount = "account"
	varRegion  = "region"
)

// costLimit bounds one evaluation of a condition, so that a runaway
// expression cannot stall the transaction it runs in. The world-open
// ingress example over a group of 200 world-open rules, each compared with
// the 200 old ones (its worst case), measured a cost of 144,515: the limit
// leaves room for about 7 times that, and an expression stopped by it
// takes about 0.3 s in TestCostLimitFailsOpen (ten times the limit: 1.4 s).
const costLimit = 1_000_000

// newEnv returns the CEL environment of change conditions.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(append(policy.EnvOptions(),
		cel.Variable(varOld, cel.DynType),
		cel.Variable(varNew, cel.DynType),
		cel.Variable(varDiff, cel.ListType(cel.DynType)),
		cel.Variable(varActor, cel.StringType),
		cel.Variable(varEvent, cel.StringType),
		cel.Variable(varTagsOld, cel.DynType),
		cel.Variable(varTagsNew, cel.DynType),
		cel.Variable(varUID, cel.StringType),
		cel.Variable(varName, cel.StringType),
		cel.Variable(varAccount, cel.StringType),
		cel.Variable(varRegion, cel.StringType),
	)...)
}

// Rules matches observations and fixes against the configured rules. It
// is read-only once made, so one value serves concurrent observations.
type Rules struct {
	rules   []*Rule
	checks  *policy.Set
	autofix func(checkID string, r vigil.Resource) bool
}

// Option configures Rules.
type Option func(*Rules)

// WithAutofix tells which findings an Always Fix rule covers, so that a
// finding alert says Vigil will correct it rather than asking for `vigil fix`.
func WithAutofix(covered func(checkID string, r vigil.Resource) bool) Option {
	return func(r *Rules) { r.autofix = covered }
}

// New returns the matcher of rules; checks give the titles, severities and
// descriptions of findings (nil: none known).
func New(rules []*Rule, checks *policy.Set, opts ...Option) *Rules {
	r := &Rules{rules: rules, checks: checks}
	for _, o := range opts {
		o(r)
	}
	return r
}

// EvalError is a change rule's condition that failed at run time on one
// resource (a property missing, a null where a string was expected).
type EvalError struct {
	Rule string
	UID  string
	Err  error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("alert rule %s: condition on %s: %v", e.Rule, e.UID, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// Observed returns the alerts an observation causes, one per (rule,
// resource, channel): several findings of one resource in one observation
// are one alert (listing them in What), so one change never sends ten
// messages. cause is the event behind the observation (nil for a scan) and
// at the observation's time; an alert's time, and so its quiet window, is
// the event's time when known, so that a redelivered event gives the same
// keys.
//
// A condition that fails at run time fails open: the change is alerted
// anyway, with What saying the condition could not be evaluated, and the
// failure is also returned as an *EvalError (several are joined). The
// alerts are complete whatever the error: callers log it and send them;
// they must not roll the observation back for it. Resolved findings cause
// no alert.
func (r *Rules) Observed(rec vigil.Recorded, cause *vigil.Cause, at time.Time) ([]vigil.Alert, error) {
	if cause != nil && !cause.EventTime.IsZero() {
		at = cause.EventTime
	}
	var (
		out   []vigil.Alert
		errs  []error
		known = map[string]bool{}
	)
	add := func(as ...vigil.Alert) {
		for _, a := range as {
			if !known[a.Key] {
				known[a.Key] = true
				out = append(out, a)
			}
		}
	}
	// Resources seen in the observation name the resources of findings.
	resources := map[string]vigil.Resource{}
	for _, c := range rec.Changes {
		res := c.New
		if res.UID == "" {
			res.UID = c.Version.UID
		}
		resources[res.UID] = res
	}
	for _, rule := range r.rules {
		switch rule.On {
		case vigil.AlertChange:
			for _, c := range rec.Changes {
				as, err := r.changeAlerts(rule, c, cause, at)
				if err != nil {
					errs = append(errs, err)
				}
				if len(as) > 0 {
					// The change opened findings: say what becomes of them.
					if act := r.action(c.New, openedOn(rec.Transitions, as[0].Resource.UID)); act != "none: alert only" {
						for i := range as {
							as[i].Action = act
						}
					}
				}
				add(as...)
			}
		case vigil.AlertFinding:
			add(r.findingAlerts(rule, rec.Transitions, resources, cause, at)...)
		}
	}
	return out, errors.Join(errs...)
}

// openedOn returns the results of findings on uid that opened.
func openedOn(ts []vigil.Transition, uid string) []vigil.Result {
	var out []vigil.Result
	for _, t := range ts {
		if t.Opened && t.Result.ResourceUID == uid {
			out = append(out, t.Result)
		}
	}
	return out
}

// Fixed returns the alerts a fix record causes. res is the fixed resource
// as last read; cause is the change that broke it, if known.
func (r *Rules) Fixed(f vigil.Fix, res vigil.Resource, cause *vigil.Cause) []vigil.Alert {
	if res.UID == "" {
		res = vigil.Resource{UID: f.ResourceUID, Type: f.ResourceType, Provider: f.Provider, Account: f.Account, Region: f.Region}
	}
	outcome := OutcomeOf(f)
	var out []vigil.Alert
	for _, rule := range r.rules {
		if rule.On != vigil.AlertFix || !slices.Contains(rule.Outcomes, outcome) ||
			!matchGlobs(rule.Checks, f.CheckID) || !rule.inScope(f.Account, f.Region, f.ResourceType) {
			continue
		}
		m := r.fixMessage(rule, f, outcome, res, cause)
		for _, ch := range rule.Channels {
			a := m
			a.Rule, a.Channel = rule.Name, ch
			a.Key = key(rule, ch, res.UID+"\x00"+f.CheckID, f.At)
			out = append(out, a)
		}
	}
	return out
}

// OutcomeOf is the outcome of a fix that fix rules match: its status, or
// flapping for a fix skipped because the finding keeps coming back.
func OutcomeOf(f vigil.Fix) Outcome {
	if f.Status == vigil.FixSkipped && strings.HasPrefix(f.Reason, "flapping") {
		return OutcomeFlapping
	}
	return Outcome(f.Status)
}

func (r *Rules) changeAlerts(rule *Rule, c vigil.Change, cause *vigil.Cause, at time.Time) ([]vigil.Alert, error) {
	res := c.New
	if res.UID == "" {
		res.UID = c.Version.UID
	}
	if ok, _ := path.Match(rule.Type, res.Type); !ok || !rule.inScope(res.Account, res.Region, res.Type) {
		return nil, nil
	}
	var evalErr error
	if rule.when != nil {
		v, _, err := rule.when.Eval(changeVars(c, cause))
		if err == nil {
			if b, ok := v.Value().(bool); !ok {
				err = fmt.Errorf("gave %v, not a bool", v)
			} else if !b {
				return nil, nil
			}
		}
		if err != nil {
			evalErr = &EvalError{Rule: rule.Name, UID: res.UID, Err: err}
		}
	}
	m := changeMessage(rule, c, cause, at, evalErr)
	out := make([]vigil.Alert, 0, len(rule.Channels))
	for _, ch := range rule.Channels {
		a := m
		a.Rule, a.Channel = rule.Name, ch
		a.Key = key(rule, ch, res.UID, at)
		out = append(out, a)
	}
	return out, evalErr
}

// changeVars are the variables of a change condition.
func changeVars(c vigil.Change, cause *vigil.Cause) map[string]any {
	deleted := c.Version.Deleted
	var old, now, tagsOld, tagsNew any
	switch {
	case deleted && c.Old != nil:
		old, tagsOld = props(c.Old.Properties), tags(c.Old.Tags)
	case deleted:
		// The store hands the last state as New for a deletion.
		old, tagsOld = props(c.New.Properties), tags(c.New.Tags)
	default:
		now, tagsNew = props(c.New.Properties), tags(c.New.Tags)
		if c.Old != nil {
			old, tagsOld = props(c.Old.Properties), tags(c.Old.Tags)
		}
	}
	diff := make([]any, len(c.Version.Diff))
	for i, d := range c.Version.Diff {
		diff[i] = map[string]any{"op": d.Op, "path": d.Path, "old": d.Old, "new": d.New}
	}
	actor, event := actorOf(c, cause), ""
	if cause != nil {
		event = cause.EventName
	}
	uid := c.New.UID
	if uid == "" {
		uid = c.Version.UID
	}
	return map[string]any{
		varOld: old, varNew: now, varDiff: diff, varActor: actor, varEvent: event,
		varTagsOld: tagsOld, varTagsNew: tagsNew,
		varUID: uid, varName: c.New.Name, varAccount: c.New.Account, varRegion: c.New.Region,
	}
}

func props(p map[string]any) any {
	if p == nil {
		return map[string]any{}
	}
	return p
}

func tags(t map[string]string) any {
	if t == nil {
		return map[string]string{}
	}
	return t
}

// actorOf is who made a change: the event's principal, else the version's.
func actorOf(c vigil.Change, cause *vigil.Cause) string {
	if cause != nil && cause.Actor.ARN != "" {
		return cause.Actor.ARN
	}
	if c.Version.Cause != nil && c.Version.Cause.Actor.ARN != "" {
		return c.Version.Cause.Actor.ARN
	}
	return c.Version.Actor
}

// finding is one opened finding that a finding rule matched.
type finding struct {
	result vigil.Result
	check  *policy.Check // nil when the check is not loaded
}

func (f finding) severity() vigil.Severity {
	if f.check != nil {
		return f.check.Severity
	}
	return f.result.Severity
}

func (r *Rules) findingAlerts(rule *Rule, ts []vigil.Transition, resources map[string]vigil.Resource, cause *vigil.Cause, at time.Time) []vigil.Alert {
	var order []string
	byUID := map[string][]finding{}
	for _, t := range ts {
		res := t.Result
		if !t.Opened || (t.Reopened && !rule.Reopened) {
			continue
		}
		f := finding{result: res}
		if r.checks != nil {
			f.check, _ = r.checks.Get(res.CheckID)
		}
		if f.severity().Rank() < rule.Severity.Rank() || !matchGlobs(rule.Checks, res.CheckID) ||
			!rule.inScope(res.Account, res.Region, res.ResourceType) {
			continue
		}
		if _, seen := byUID[res.ResourceUID]; !seen {
			order = append(order, res.ResourceUID)
		}
		byUID[res.ResourceUID] = append(byUID[res.ResourceUID], f)
	}
	var out []vigil.Alert
	for _, uid := range order {
		fs := byUID[uid]
		// Worst first, then by check id, so that the message and its
		// CheckID do not depend on the order of evaluation.
		slices.SortStableFunc(fs, func(a, b finding) int {
			if d := b.severity().Rank() - a.severity().Rank(); d != 0 {
				return d
			}
			return strings.Compare(a.result.CheckID, b.result.CheckID)
		})
		res, ok := resources[uid]
		if !ok {
			first := fs[0].result
			res = vigil.Resource{UID: uid, Type: first.ResourceType, Provider: first.Provider,
				Account: first.Account, Region: first.Region, Name: nameFromUID(uid)}
		}
		m := r.findingMessage(rule, fs, res, cause, at)
		for _, ch := range rule.Channels {
			a := m
			a.Rule, a.Channel = rule.Name, ch
			a.Key = key(rule, ch, uid, at)
			out = append(out, a)
		}
	}
	return out
}

// inScope reports whether a resource is in the rule's accounts, regions
// and types.
func (r *Rule) inScope(account, region, typ string) bool {
	return (len(r.Accounts) == 0 || slices.Contains(r.Accounts, account)) &&
		(len(r.Regions) == 0 || slices.Contains(r.Regions, region)) &&
		matchGlobs(r.Types, typ)
}

// matchGlobs reports whether s matches one of globs; no globs match all.
func matchGlobs(globs []string, s string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// key is an alert's idempotency key:
// "<rule>/<channel>/<sha256(subject)[:12]>/<window>", where window is the
// start, in unix seconds, of the fixed quiet window holding at. The outbox
// keeps one job per key, so within a window at most one message per
// (rule, subject, channel) is sent, and the same cause always gives the
// same key — with no state besides the jobs themselves.
func key(rule *Rule, channel, subject string, at time.Time) string {
	sum := sha256.Sum256([]byte(subject))
	return rule.Name + "/" + channel + "/" + hex.EncodeToString(sum[:])[:12] + "/" + strconv.FormatInt(windowStart(at, rule.Quiet), 10)
}

// windowStart is the start of the quiet window holding at, in unix seconds.
func windowStart(at time.Time, quiet time.Duration) int64 {
	q := int64(quiet / time.Second)
	if q <= 0 {
		q = 1
	}
	s := at.Unix()
	// Floor, not truncation, so that times before 1970 fall in the
	// window that holds them.
	w := s / q
	if s%q != 0 && s < 0 {
		w--
	}
	return w * q
}

// nameFromUID names a resource known only by its uid: the last segment of
// an ARN or Azure id (bucket, sg-…, user name).
func nameFromUID(uid string) string {
	if i := strings.LastIndexAny(uid, ":/"); i >= 0 && i+1 < len(uid) {
		return uid[i+1:]
	}
	return uid
}
