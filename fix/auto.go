package fix

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

// Rule enables Always Fix for some checks within a scope.
type Rule struct {
	// Name identifies the rule in audit records ("rule:NAME") and alerts.
	Name string
	// Checks are check ids (globs allowed: aws-s3-bucket-*) whose failing
	// findings the rule fixes, each with the action its check names.
	Checks []string
	// Accounts, Regions and Tags narrow the scope; empty matches all. Tags
	// must all be present on the resource with these values.
	Accounts []string
	Regions  []string
	Tags     map[string]string
	// DryRun records and reports plans without applying them.
	DryRun bool
	// Params are passed to the action (Target.Params).
	Params map[string]any
}

// Flapping stops fixing a resource that is re-broken too often: Count
// verified fixes of the same finding within Window mean a person or a
// pipeline keeps undoing them, and Always Fix raises an alert instead.
type Flapping struct {
	Count  int
	Window time.Duration
}

// DefaultExemptTag is the tag that exempts a resource from Always Fix when
// AutoPolicy.ExemptTag is empty.
const DefaultExemptTag = "vigil:exempt=true"

// modeAlwaysFix is the audit mode of the fixes AutoFix records.
const modeAlwaysFix = "always-fix"

// AutoPolicy is the Always Fix configuration, with its guards.
type AutoPolicy struct {
	// Enabled is the kill switch: false fixes nothing.
	Enabled bool
	// ExemptTag "key=value" (default vigil:exempt=true): resources with it
	// are never fixed automatically.
	ExemptTag string
	// MaxPerRun and MaxPerHour bound applied fixes (0: no bound). A run
	// that would exceed them fixes nothing and raises an alert.
	MaxPerRun  int
	MaxPerHour int
	// MaxShare bounds, per rule and run, the share of the resources in the
	// rule's scope that may be fixed (0 < MaxShare <= 1; 0: no bound).
	MaxShare float64
	Flapping Flapping
	Rules    []Rule
	// Mode is the audit mode of the records ("" for always-fix): `vigil
	// fix --check --yes` runs the same guards as mode fix-now. MaxPerHour
	// counts the fixes of this mode only.
	Mode string
	// Actor overrides the records' actor ("" for rule:NAME, the matching
	// rule): "user:NAME" when a person runs the guarded bulk fix.
	Actor string
}

// AutoReport is what one Always Fix run did.
type AutoReport struct {
	Fixes  []vigil.Fix // every record written: verified, failed, dry_run, skipped
	Alerts []string    // guards that tripped
	// Disabled is set when the kill switch was off: nothing was looked at.
	Disabled bool
}

// Validate reports every problem of the policy in one EINVALID error. The
// names in the messages are those of the config file's autofix section.
func (p AutoPolicy) Validate() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if p.ExemptTag != "" {
		if _, _, err := parseTag(p.ExemptTag); err != nil {
			bad("exempt_tag: %v", err)
		}
	}
	if p.MaxPerRun < 0 {
		bad("max_fixes_per_run must not be negative (got %d)", p.MaxPerRun)
	}
	if p.MaxPerHour < 0 {
		bad("max_fixes_per_hour must not be negative (got %d)", p.MaxPerHour)
	}
	if math.IsNaN(p.MaxShare) || p.MaxShare < 0 || p.MaxShare > 1 {
		bad("max_share_per_run must be between 0 and 1 (got %g)", p.MaxShare)
	}
	switch f := p.Flapping; {
	case f.Count < 0:
		bad("flapping count must not be negative (got %d)", f.Count)
	case f.Window < 0:
		bad("flapping window must not be negative (got %s)", f.Window)
	case (f.Count > 0) != (f.Window > 0):
		bad("flapping needs both a count and a window (got count %d, window %s)", f.Count, f.Window)
	}
	names := map[string]bool{}
	for i, r := range p.Rules {
		name := r.Name
		switch {
		case strings.TrimSpace(r.Name) == "":
			bad("rule %d has no name", i+1)
			name = fmt.Sprintf("%d", i+1)
		case names[r.Name]:
			bad("rule name %q is used twice", r.Name)
		}
		names[r.Name] = true
		if len(r.Checks) == 0 {
			bad("rule %s has no checks", name)
		}
		for _, c := range r.Checks {
			if _, err := path.Match(c, ""); err != nil || c == "" {
				bad("rule %s: %q is not a check id or glob", name, c)
			}
		}
	}
	if len(probs) > 0 {
		return vigil.Errorf(vigil.EINVALID, "autofix: %s", strings.Join(probs, "; "))
	}
	return nil
}

// parseTag splits "key=value"; the key must not be empty, the value may.
func parseTag(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return "", "", fmt.Errorf("%q is not key=value, e.g. %s", s, DefaultExemptTag)
	}
	return k, v, nil
}

// Rule returns the first rule that would fix the finding of checkID on
// res (its checks and scope match), or nil. It does not look at the
// guards, nor at whether the policy is enabled.
func (p AutoPolicy) Rule(checkID string, res *vigil.Resource) *Rule {
	for i := range p.Rules {
		if rl := &p.Rules[i]; rl.matchesCheck(checkID) && rl.inScope(res) {
			return rl
		}
	}
	return nil
}

// matchesCheck reports whether one of the rule's patterns matches a check id.
func (rl *Rule) matchesCheck(id string) bool {
	for _, pat := range rl.Checks {
		if ok, _ := path.Match(pat, id); ok {
			return true
		}
	}
	return false
}

// inScope reports whether a resource is in the rule's accounts, regions
// and tags.
func (rl *Rule) inScope(res *vigil.Resource) bool {
	if len(rl.Accounts) > 0 && !slices.Contains(rl.Accounts, res.Account) {
		return false
	}
	if len(rl.Regions) > 0 && !slices.Contains(rl.Regions, res.Region) {
		return false
	}
	for k, v := range rl.Tags {
		if got, ok := res.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// AutoFix applies the rules to the failing findings of a scan, within the
// guards, and records every decision.
//
// Candidates are the results with status fail (error, muted and pass are
// never fixed automatically) whose check names an action this build has,
// matched against the rules in order: the first rule whose checks, accounts,
// regions and tags match the finding and its resource (as stored) wins.
// Each candidate then passes the guards in this order, a tripped guard
// recording a skipped fix whose reason names it:
//
//  1. exempt: the resource has the exempt tag (DefaultExemptTag unless
//     ExemptTag says otherwise);
//  2. muted: a mute matches now, even if the result still says fail (the
//     mute was added after the scan);
//  3. flapping: Flapping.Count or more verified fixes of the finding within
//     Flapping.Window; raises an alert;
//  4. limits: if the fixes left to apply exceed MaxPerRun, or together with
//     the last hour's fixes MaxPerHour, or for some rule MaxShare of the
//     resources in its scope, none is applied and one alert names the
//     limits and the numbers.
//
// Findings of dry-run rules are planned and recorded as dry_run; they pass
// guards 1 to 3 but, applying nothing, do not count against the limits.
// The others are planned, applied and verified (Runner.Plan and Apply).
//
// A disabled policy (the kill switch: autofix.enabled false, or
// VIGIL_AUTOFIX=off, which the CLI turns into Enabled false) returns a
// report with Disabled set and does nothing else. An invalid policy is an
// EINVALID error. An action failing on one finding is a failed record and
// the run goes on; a store error stops the run and is returned with the
// report so far.
func (r *Runner) AutoFix(ctx context.Context, p AutoPolicy, results []vigil.Result, mutes *policy.Mutes) (AutoReport, error) {
	if !p.Enabled {
		return AutoReport{Disabled: true}, nil
	}
	if err := p.Validate(); err != nil {
		return AutoReport{}, err
	}
	if r.Store == nil || r.Checks == nil || r.Actions == nil || r.Refresh == nil {
		return AutoReport{}, vigil.Errorf(vigil.EINTERNAL, "always fix: the runner needs a store, checks, actions and a refresher")
	}
	a := &autoRun{r: r, p: p, mutes: mutes, now: r.now(), mode: p.Mode}
	if a.mode == "" {
		a.mode = modeAlwaysFix
	}
	tag := p.ExemptTag
	if tag == "" {
		tag = DefaultExemptTag
	}
	a.exemptKey, a.exemptValue, _ = parseTag(tag) // validated above
	err := a.run(ctx, results)
	if err != nil {
		err = fmt.Errorf("always fix: %w", err)
	}
	return a.report, err
}

// autoRun is the state of one AutoFix call.
type autoRun struct {
	r                      *Runner
	p                      AutoPolicy
	mutes                  *policy.Mutes
	now                    time.Time
	mode                   string
	exemptKey, exemptValue string
	report                 AutoReport
}

// candidate is a failing finding and the rule that covers it.
type candidate struct {
	rule  *Rule
	check *policy.Check
	res   vigil.Resource
	job   *Job // set once prepared
}

func (a *autoRun) run(ctx context.Context, results []vigil.Result) error {
	cands, err := a.candidates(ctx, results)
	if err != nil {
		return err
	}
	var apply []*candidate
	for _, c := range cands {
		ok, err := a.guard(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if c.rule.DryRun {
			if err := a.dryRun(ctx, c); err != nil {
				return err
			}
			continue
		}
		apply = append(apply, c)
	}
	if len(apply) == 0 {
		return nil
	}
	tripped, err := a.limits(ctx, apply)
	if err != nil {
		return err
	}
	if len(tripped) > 0 {
		return a.holdBack(ctx, apply, tripped)
	}
	for _, c := range apply {
		f, plan, err := a.r.Plan(ctx, c.job, a.actor(c.rule), a.mode)
		if err != nil {
			if err := a.planFailed(ctx, f, err); err != nil {
				return err
			}
			continue
		}
		f, err = a.r.Apply(ctx, c.job, f, plan)
		if err != nil {
			return fmt.Errorf("record fix %s: %w", f.ID, err)
		}
		a.report.Fixes = append(a.report.Fixes, f)
	}
	return nil
}

// candidates returns the failing findings a rule covers, once each, in
// the order of the results.
func (a *autoRun) candidates(ctx context.Context, results []vigil.Result) ([]*candidate, error) {
	seen := map[[2]string]bool{}
	var out []*candidate
	for _, res := range results {
		key := [2]string{res.CheckID, res.ResourceUID}
		if res.Status != vigil.StatusFail || seen[key] {
			continue
		}
		seen[key] = true
		c, ok := a.r.Checks.Get(res.CheckID)
		if !ok || c.Fix == "" {
			continue
		}
		var rules []*Rule
		for i := range a.p.Rules {
			if a.p.Rules[i].matchesCheck(res.CheckID) {
				rules = append(rules, &a.p.Rules[i])
			}
		}
		if len(rules) == 0 {
			continue
		}
		if _, ok := a.r.Actions.Get(c.Fix); !ok {
			a.r.log().Warn("always fix: the check's fix action is not in this build", "check", c.ID, "action", c.Fix)
			continue
		}
		resource, err := a.r.Store.Resource(ctx, res.ResourceUID)
		if err != nil {
			return nil, fmt.Errorf("finding %s on %s: %w", res.CheckID, res.ResourceUID, err)
		}
		for _, rl := range rules {
			if rl.inScope(&resource) {
				out = append(out, &candidate{rule: rl, check: c, res: resource})
				break
			}
		}
	}
	return out, nil
}

// guard runs guards 1 to 3 on a candidate and prepares its job. It reports
// whether the candidate goes on; when it does not, the reason is recorded.
func (a *autoRun) guard(ctx context.Context, c *candidate) (bool, error) {
	if v, ok := c.res.Tags[a.exemptKey]; ok && v == a.exemptValue {
		return false, a.skip(ctx, c, fmt.Sprintf("exempt: the resource is tagged %s=%s", a.exemptKey, a.exemptValue))
	}
	if m, ok := a.mutes.Match(c.check.ID, &c.res, a.now); ok {
		until := ""
		if m.Expires != "" {
			until = " until " + m.Expires
		}
		return false, a.skip(ctx, c, fmt.Sprintf("muted%s: %s", until, m.Reason))
	}
	j, err := a.r.Prepare(ctx, c.check.ID, c.res.UID, c.rule.Params)
	if err != nil {
		if vigil.ErrorCode(err) != vigil.EINVALID {
			return false, err
		}
		// The finding cannot be fixed as it stands (a deleted resource, an
		// action for another type): a failure to report, not to stop on.
		f := a.record(c, vigil.FixFailed, "prepare: "+err.Error())
		return false, a.put(ctx, f)
	}
	c.job = j
	if fl := a.p.Flapping; fl.Count > 0 {
		fs, err := a.r.Store.Fixes(ctx, vigil.FixFilter{Since: a.now.Add(-fl.Window), CheckID: c.check.ID,
			ResourceUID: c.res.UID, Statuses: []vigil.FixStatus{vigil.FixVerified}})
		if err != nil {
			return false, fmt.Errorf("fixes of %s on %s: %w", c.check.ID, c.res.UID, err)
		}
		if n := len(fs); n >= fl.Count {
			msg := fmt.Sprintf("flapping: %d verified fixes within %s and failing again", n, fl.Window)
			if err := a.skip(ctx, c, msg+"; Always Fix stops fighting the change"); err != nil {
				return false, err
			}
			a.alert(ctx, fmt.Sprintf("Always Fix stopped fixing %s on %s: %s", c.check.ID, c.res.UID, msg),
				fmt.Sprintf("Someone or something keeps undoing the fix (see `vigil fixes --resource %s`). "+
					"Fix the cause or mute the finding; Always Fix resumes when fewer than %d fixes fall within %s.",
					c.res.UID, fl.Count, fl.Window))
			return false, nil
		}
	}
	return true, nil
}

// dryRun plans a candidate of a dry-run rule and records the plan as dry_run.
func (a *autoRun) dryRun(ctx context.Context, c *candidate) error {
	f, plan, err := a.r.Plan(ctx, c.job, a.actor(c.rule), a.mode)
	if err != nil {
		return a.planFailed(ctx, f, err)
	}
	f.Status, f.Reason = vigil.FixDryRun, "dry run: "+plan.describe()
	return a.put(ctx, f)
}

// planFailed handles an error of Runner.Plan, which joins the action's
// error with the store's: a failed record that is in the store is the
// action's failure (the run goes on), anything else a store error.
func (a *autoRun) planFailed(ctx context.Context, f vigil.Fix, err error) error {
	if f.Status != vigil.FixFailed {
		return fmt.Errorf("record plan %s: %w", f.ID, err)
	}
	if _, gerr := a.r.Store.Fix(ctx, f.ID); gerr != nil {
		return fmt.Errorf("record plan %s: %w", f.ID, errors.Join(err, gerr))
	}
	a.r.log().Warn("always fix: plan failed", "fix", f.ID, "check", f.CheckID, "resource", f.ResourceUID, "error", err)
	a.report.Fixes = append(a.report.Fixes, f)
	return nil
}

// limits returns the limits the fixes to apply would exceed, each with
// its numbers.
func (a *autoRun) limits(ctx context.Context, apply []*candidate) ([]string, error) {
	var tripped []string
	n := len(apply)
	if limit := a.p.MaxPerRun; limit > 0 && n > limit {
		tripped = append(tripped, fmt.Sprintf("max_fixes_per_run: %d fixes in this run, more than %d", n, limit))
	}
	if limit := a.p.MaxPerHour; limit > 0 {
		fs, err := a.r.Store.Fixes(ctx, vigil.FixFilter{Since: a.now.Add(-time.Hour),
			Statuses: []vigil.FixStatus{vigil.FixVerified, vigil.FixFailed}})
		if err != nil {
			return nil, fmt.Errorf("fixes of the last hour: %w", err)
		}
		done := 0
		for _, f := range fs {
			// A failure before any call (a plan that failed) changed nothing.
			if f.Mode == a.mode && (f.Status == vigil.FixVerified || len(f.Calls) > 0) {
				done++
			}
		}
		if done+n > limit {
			tripped = append(tripped, fmt.Sprintf("max_fixes_per_hour: %d fixes in the last hour and %d in this run, more than %d", done, n, limit))
		}
	}
	if a.p.MaxShare > 0 {
		for i := range a.p.Rules {
			rl := &a.p.Rules[i]
			uids, types := map[string]bool{}, map[string]bool{}
			for _, c := range apply {
				if c.rule == rl {
					uids[c.res.UID], types[c.res.Type] = true, true
				}
			}
			if len(uids) == 0 {
				continue
			}
			scope, err := a.scopeSize(ctx, rl, types)
			if err != nil {
				return nil, err
			}
			scope = max(scope, len(uids))
			if share := float64(len(uids)) / float64(scope); share > a.p.MaxShare {
				tripped = append(tripped, fmt.Sprintf("max_share_per_run: rule %s would fix %d of the %d resources in its scope (%s), more than %s",
					rl.Name, len(uids), scope, percent(share), percent(a.p.MaxShare)))
			}
		}
	}
	return tripped, nil
}

// scopeSize counts the current resources of the types in a rule's scope.
func (a *autoRun) scopeSize(ctx context.Context, rl *Rule, types map[string]bool) (int, error) {
	accounts, regions := rl.Accounts, rl.Regions
	if len(accounts) == 0 {
		accounts = []string{""}
	}
	if len(regions) == 0 {
		regions = []string{""}
	}
	typeList := make([]string, 0, len(types))
	for t := range types {
		typeList = append(typeList, t)
	}
	sort.Strings(typeList)
	seen := map[string]bool{}
	for _, typ := range typeList {
		for _, acct := range accounts {
			for _, region := range regions {
				rs, err := a.r.Store.Resources(ctx, vigil.ResourceFilter{Account: acct, Region: region, Type: typ})
				if err != nil {
					return 0, fmt.Errorf("scope of rule %s: %w", rl.Name, err)
				}
				for i := range rs {
					if rl.inScope(&rs[i]) {
						seen[rs[i].UID] = true
					}
				}
			}
		}
	}
	return len(seen), nil
}

// percent renders a share as a percentage: 0.5 is "50%", 1/3 "33.3%".
func percent(share float64) string {
	return fmt.Sprintf("%s%%", strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", share*100), "0"), "."))
}

// holdBack records every fix to apply as skipped by the tripped limits
// and raises one alert.
func (a *autoRun) holdBack(ctx context.Context, apply []*candidate, tripped []string) error {
	reason := "limit: " + strings.Join(tripped, "; ")
	var body strings.Builder
	body.WriteString("Always Fix applied none of these fixes; fix them with `vigil fix`, or raise the limit:\n")
	for _, c := range apply {
		if err := a.skip(ctx, c, reason); err != nil {
			return err
		}
		fmt.Fprintf(&body, "- %s on %s (rule %s)\n", c.check.ID, c.res.UID, c.rule.Name)
	}
	a.alert(ctx, fmt.Sprintf("Always Fix held back %d fixes: %s", len(apply), strings.Join(tripped, "; ")), body.String())
	return nil
}

// skip records a candidate held back by a guard.
func (a *autoRun) skip(ctx context.Context, c *candidate, reason string) error {
	a.r.log().Info("always fix: skipped", "check", c.check.ID, "resource", c.res.UID, "rule", c.rule.Name, "reason", reason)
	return a.put(ctx, a.record(c, vigil.FixSkipped, reason))
}

// put stores a record and adds it to the report.
func (a *autoRun) put(ctx context.Context, f vigil.Fix) error {
	if err := a.r.Store.PutFix(ctx, f); err != nil {
		return fmt.Errorf("record fix %s: %w", f.ID, err)
	}
	a.report.Fixes = append(a.report.Fixes, f)
	return nil
}

// record starts the audit record of a candidate.
func (a *autoRun) record(c *candidate, st vigil.FixStatus, reason string) vigil.Fix {
	res := c.res
	return vigil.Fix{ID: newID(), At: a.r.now(), Actor: a.actor(c.rule), Mode: a.mode, CheckID: c.check.ID,
		ResourceUID: res.UID, ResourceType: res.Type, Provider: res.Provider, Account: res.Account,
		Region: res.Region, Action: c.check.Fix, Status: st, Reason: reason}
}

func (a *autoRun) actor(rl *Rule) string {
	if a.p.Actor != "" {
		return a.p.Actor
	}
	return "rule:" + rl.Name
}

// alert adds a tripped guard to the report and tells people.
func (a *autoRun) alert(ctx context.Context, subject, body string) {
	a.report.Alerts = append(a.report.Alerts, subject)
	a.r.log().Warn("always fix: " + subject)
	if a.r.Notify != nil {
		if err := a.r.Notify.Alert(ctx, subject, body); err != nil {
			a.r.log().Warn("always fix alert notification failed", "error", err)
		}
	}
}
