package fix_test

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
)

// result is the scan's result of checkID on the stored resource name.
func (e *env) result(checkID, name string, st vigil.Status) vigil.Result {
	e.t.Helper()
	r, ok := e.byName[name]
	if !ok {
		e.t.Fatalf("no resource named %s", name)
	}
	return vigil.Result{CheckID: checkID, ResourceUID: r.UID, ResourceType: r.Type, Provider: r.Provider,
		Account: r.Account, Region: r.Region, Severity: vigil.High, Status: st, Reason: "widget " + name + " is open",
		FirstSeen: t0, StatusSince: t0, LastSeen: t0, ScanID: "s-test"}
}

// fails returns failing results of checkID on the resources named.
func (e *env) fails(checkID string, names ...string) []vigil.Result {
	e.t.Helper()
	out := make([]vigil.Result, len(names))
	for i, n := range names {
		out[i] = e.result(checkID, n, vigil.StatusFail)
	}
	return out
}

// auto runs Always Fix, fails the test on an error, and checks that the
// report's records are the store's.
func (e *env) auto(p fix.AutoPolicy, results []vigil.Result, mutes *policy.Mutes) fix.AutoReport {
	e.t.Helper()
	rep, err := e.runner.AutoFix(context.Background(), p, results, mutes)
	if err != nil {
		e.t.Fatalf("AutoFix: %v", err)
	}
	for _, f := range rep.Fixes {
		if got := e.stored(f.ID); !reflect.DeepEqual(got, f) {
			e.t.Errorf("stored %+v\nreported %+v", got, f)
		}
	}
	return rep
}

// outcomes maps the name of each resource in the report to "STATUS: REASON".
func outcomes(rep fix.AutoReport) map[string]string {
	out := map[string]string{}
	for _, f := range rep.Fixes {
		out[strings.TrimPrefix(f.ResourceUID, "test:widget/")] = string(f.Status) + ": " + f.Reason
	}
	return out
}

// open returns the names of the widgets open in the cloud, sorted.
func (e *env) open() []string {
	var out []string
	for name, r := range e.byName {
		if o, _ := e.cloud.get(r.UID); o {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func loadMutes(t *testing.T) *policy.Mutes {
	t.Helper()
	m, err := policy.LoadMutes("testdata/mutes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rule(name string, checks ...string) fix.Rule { return fix.Rule{Name: name, Checks: checks} }

func enabled(rules ...fix.Rule) fix.AutoPolicy { return fix.AutoPolicy{Enabled: true, Rules: rules} }

const verified = "verified: verified: Widgets are closed"

func TestAutoFixDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true))
	p := enabled(rule("all", "test-widget-*"))
	p.Enabled = false
	rep := e.auto(p, e.fails("test-widget-closed", "a"), nil)
	if !reflect.DeepEqual(rep, fix.AutoReport{Disabled: true}) {
		t.Errorf("report = %+v", rep)
	}
	if fs, err := e.store.Fixes(context.Background(), vigil.FixFilter{}); err != nil || len(fs) != 0 {
		t.Errorf("records %+v, %v", fs, err)
	}
	if got := e.open(); !reflect.DeepEqual(got, []string{"a"}) || len(e.notes.alerts)+len(e.notes.applied) != 0 {
		t.Errorf("open %v, notified %+v %+v", got, e.notes.alerts, e.notes.applied)
	}
}

func TestAutoFixCandidates(t *testing.T) {
	t.Parallel()
	resources := []vigil.Resource{
		widget("a", true, tagged("team", "web")),
		widget("b", true), widget("c", true), widget("d", true),
		widget("e", true, in(acct2, "eu-west-1")),
		widget("f", true, in(acct1, "eu-west-1"), tagged("team", "db")),
	}
	scan := func(e *env) []vigil.Result {
		return []vigil.Result{
			e.result("test-widget-closed", "a", vigil.StatusFail),
			e.result("test-widget-closed", "b", vigil.StatusPass),
			e.result("test-widget-closed", "c", vigil.StatusError),
			e.result("test-widget-closed", "d", vigil.StatusMuted),
			e.result("test-widget-closed", "e", vigil.StatusFail),
			e.result("test-widget-closed", "f", vigil.StatusFail),
		}
	}
	all := func(actor string) map[string]string {
		return map[string]string{"a": "verified " + actor, "e": "verified " + actor, "f": "verified " + actor}
	}
	cases := []struct {
		name    string
		policy  fix.AutoPolicy
		results func(*env) []vigil.Result
		want    map[string]string // name → "status actor"
		mode    string
	}{
		{"only failing results", enabled(rule("all", "test-widget-closed")), scan, all("rule:all"), "always-fix"},
		{"check glob", enabled(rule("glob", "test-widget-c*")), scan, all("rule:glob"), "always-fix"},
		{"glob matching no check", enabled(rule("gadgets", "test-gadget-*")), scan, map[string]string{}, ""},
		{"accounts", enabled(fix.Rule{Name: "two", Checks: []string{"test-widget-closed"}, Accounts: []string{acct2}}),
			scan, map[string]string{"e": "verified rule:two"}, "always-fix"},
		{"regions", enabled(fix.Rule{Name: "eu", Checks: []string{"test-widget-closed"}, Regions: []string{"eu-west-1"}}),
			scan, map[string]string{"e": "verified rule:eu", "f": "verified rule:eu"}, "always-fix"},
		{"tags", enabled(fix.Rule{Name: "web", Checks: []string{"test-widget-closed"}, Tags: map[string]string{"team": "web"}}),
			scan, map[string]string{"a": "verified rule:web"}, "always-fix"},
		{"first matching rule wins", enabled(
			fix.Rule{Name: "web", Checks: []string{"test-widget-closed"}, Tags: map[string]string{"team": "web"}, DryRun: true},
			rule("rest", "test-widget-*"),
			rule("never", "test-widget-closed")),
			scan, map[string]string{"a": "dry_run rule:web", "e": "verified rule:rest", "f": "verified rule:rest"}, "always-fix"},
		{"check whose action this build lacks", enabled(rule("missing", "test-widget-missing")),
			func(e *env) []vigil.Result { return e.fails("test-widget-missing", "a") }, map[string]string{}, ""},
		{"check without fix action", enabled(rule("nofix", "test-widget-nofix")),
			func(e *env) []vigil.Result { return e.fails("test-widget-nofix", "a") }, map[string]string{}, ""},
		{"same finding twice", enabled(rule("all", "test-widget-closed")),
			func(e *env) []vigil.Result { return e.fails("test-widget-closed", "a", "a") },
			map[string]string{"a": "verified rule:all"}, "always-fix"},
		{"mode and actor of a guarded bulk fix", fix.AutoPolicy{Enabled: true, Mode: "fix-now", Actor: "user:alice",
			Rules: []fix.Rule{rule("cli", "test-widget-closed")}},
			func(e *env) []vigil.Result { return e.fails("test-widget-closed", "a") },
			map[string]string{"a": "verified user:alice"}, "fix-now"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, resources...)
			rep := e.auto(tc.policy, tc.results(e), nil)
			got := map[string]string{}
			var wantOpen []string
			for _, f := range rep.Fixes {
				got[strings.TrimPrefix(f.ResourceUID, "test:widget/")] = string(f.Status) + " " + f.Actor
				if f.Mode != tc.mode {
					t.Errorf("mode of %s = %q, want %q", f.ResourceUID, f.Mode, tc.mode)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records = %v, want %v", got, tc.want)
			}
			for _, r := range resources {
				if !strings.HasPrefix(tc.want[r.Name], "verified") {
					wantOpen = append(wantOpen, r.Name)
				}
			}
			if got := e.open(); !reflect.DeepEqual(got, wantOpen) {
				t.Errorf("open widgets = %v, want %v", got, wantOpen)
			}
			if len(rep.Alerts) != 0 {
				t.Errorf("alerts: %v", rep.Alerts)
			}
		})
	}
}

// Guard 1: the exempt tag. Without it, every widget would be fixed.
func TestAutoFixExempt(t *testing.T) {
	t.Parallel()
	resources := []vigil.Resource{
		widget("plain", true),
		widget("exempt", true, tagged("vigil:exempt", "true")),
		widget("not-exempt", true, tagged("vigil:exempt", "false")),
		widget("platform", true, tagged("owner", "platform")),
	}
	cases := []struct {
		name string
		tag  string
		want map[string]string
	}{
		{"default tag", "", map[string]string{
			"plain": verified, "not-exempt": verified, "platform": verified,
			"exempt": "skipped: exempt: the resource is tagged vigil:exempt=true"}},
		{"configured tag replaces the default", "owner=platform", map[string]string{
			"plain": verified, "not-exempt": verified, "exempt": verified,
			"platform": "skipped: exempt: the resource is tagged owner=platform"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, resources...)
			p := enabled(rule("all", "test-widget-closed"))
			p.ExemptTag = tc.tag
			rep := e.auto(p, e.fails("test-widget-closed", "plain", "exempt", "not-exempt", "platform"), nil)
			if got := outcomes(rep); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outcomes = %v, want %v", got, tc.want)
			}
			var wantOpen []string
			for name, o := range tc.want {
				if o != verified {
					wantOpen = append(wantOpen, name)
				}
			}
			sort.Strings(wantOpen)
			if got := e.open(); !reflect.DeepEqual(got, wantOpen) {
				t.Errorf("open = %v, want %v", got, wantOpen)
			}
			for _, f := range rep.Fixes {
				if f.Status == vigil.FixSkipped && (f.Actor != "rule:all" || f.Mode != "always-fix" || len(f.Calls) != 0) {
					t.Errorf("skip record = %+v", f)
				}
			}
		})
	}
}

// Guard 2: mutes, matched at run time even though the result says fail.
func TestAutoFixMuted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("widget-muted", true), widget("widget-expired", true), widget("plain", true))
	rep := e.auto(enabled(rule("all", "test-widget-closed")),
		e.fails("test-widget-closed", "widget-muted", "widget-expired", "plain"), loadMutes(t))
	want := map[string]string{
		"widget-muted":   "skipped: muted until 2099-12-31: accepted risk for the demo",
		"widget-expired": verified,
		"plain":          verified,
	}
	if got := outcomes(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	if got := e.open(); !reflect.DeepEqual(got, []string{"widget-muted"}) {
		t.Errorf("open = %v", got)
	}
}

// Guard 3: a finding fixed Count times within Window is not fixed again.
func TestAutoFixFlapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true), widget("b", false))
	p := enabled(rule("all", "test-widget-closed"))
	p.Flapping = fix.Flapping{Count: 2, Window: 24 * time.Hour}
	run := func(names ...string) fix.AutoReport {
		t.Helper()
		return e.auto(p, e.fails("test-widget-closed", names...), nil)
	}
	breakIt := func(name string, after time.Duration) {
		e.cloud.set(e.uid(name), true) // someone opens it again
		e.now = e.now.Add(after)
	}
	for i := 1; i <= 2; i++ {
		if got := outcomes(run("a")); got["a"] != verified {
			t.Fatalf("run %d: %v", i, got)
		}
		breakIt("a", time.Hour)
	}
	// b breaks for the first time: a's fixes must not count against it.
	e.cloud.set(e.uid("b"), true)
	rep := run("a", "b")
	flap := "flapping: 2 verified fixes within 24h0m0s and failing again"
	want := map[string]string{"a": "skipped: " + flap + "; Always Fix stops fighting the change", "b": verified}
	if got := outcomes(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	subject := "Always Fix stopped fixing test-widget-closed on test:widget/a: " + flap
	if !reflect.DeepEqual(rep.Alerts, []string{subject}) {
		t.Errorf("alerts = %q", rep.Alerts)
	}
	wantBody := "Someone or something keeps undoing the fix (see `vigil fixes --resource test:widget/a`). " +
		"Fix the cause or mute the finding; Always Fix resumes when fewer than 2 fixes fall within 24h0m0s."
	if !reflect.DeepEqual(e.notes.alerts, [][2]string{{subject, wantBody}}) {
		t.Errorf("notified alerts = %q", e.notes.alerts)
	}
	if got := e.open(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("open = %v", got)
	}
	// The first fix leaves the window (fixes at t0 and t0+1h; now t0+26h):
	// one fix within it, a is fixed again.
	e.now = t0.Add(26 * time.Hour)
	if got := outcomes(run("a")); got["a"] != verified {
		t.Errorf("after the window: %v", got)
	}
}

// The guards run in order exempt, muted, flapping, limits: a finding is
// skipped for the first that holds, and only what is left counts against
// the limits.
func TestAutoFixGuardOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t,
		widget("widget-muted", true, tagged("vigil:exempt", "true")), // exempt and muted
		widget("flappy", true),
		widget("plain", true))
	mutes := loadMutes(t)
	p := enabled(rule("all", "test-widget-closed"))
	p.Flapping = fix.Flapping{Count: 1, Window: time.Hour}
	if got := outcomes(e.auto(p, e.fails("test-widget-closed", "flappy"), mutes)); got["flappy"] != verified {
		t.Fatalf("first fix of flappy: %v", got)
	}
	e.cloud.set(e.uid("flappy"), true)
	e.now = t0.Add(time.Minute)
	// Only plain is left to apply: within one fix per run.
	p.MaxPerRun = 1
	rep := e.auto(p, e.fails("test-widget-closed", "widget-muted", "flappy", "plain"), mutes)
	want := map[string]string{
		"widget-muted": "skipped: exempt: the resource is tagged vigil:exempt=true",
		"flappy":       "skipped: flapping: 1 verified fixes within 1h0m0s and failing again; Always Fix stops fighting the change",
		"plain":        verified,
	}
	if got := outcomes(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	if len(rep.Alerts) != 1 || !strings.HasPrefix(rep.Alerts[0], "Always Fix stopped fixing test-widget-closed on test:widget/flappy") {
		t.Errorf("alerts = %q", rep.Alerts)
	}
	// Muted beats flapping: a muted finding raises no flapping alert.
	e2 := newEnv(t, widget("widget-muted", true))
	p2 := enabled(rule("all", "test-widget-closed"))
	p2.Flapping = fix.Flapping{Count: 1, Window: time.Hour}
	if got := outcomes(e2.auto(p2, e2.fails("test-widget-closed", "widget-muted"), nil)); got["widget-muted"] != verified {
		t.Fatalf("first fix: %v", got)
	}
	e2.cloud.set(e2.uid("widget-muted"), true)
	rep = e2.auto(p2, e2.fails("test-widget-closed", "widget-muted"), mutes)
	if got := outcomes(rep)["widget-muted"]; got != "skipped: muted until 2099-12-31: accepted risk for the demo" || len(rep.Alerts) != 0 {
		t.Errorf("muted and flapping: %q, alerts %q", got, rep.Alerts)
	}
}

// Guard 4: the limits. Exceeding one applies nothing and raises one alert.
func TestAutoFixLimits(t *testing.T) {
	t.Parallel()
	resources := []vigil.Resource{
		widget("a", true, tagged("team", "web")), widget("b", true, tagged("team", "web")), widget("c", true),
		widget("d", false, tagged("team", "web")),
		// Outside the rule's scope (account 111111111111): must not dilute the share.
		widget("x", false, in(acct2, "us-east-1")), widget("y", false, in(acct2, "us-east-1")),
	}
	// history seeds the last hours' fixes: 3 count against max_fixes_per_hour.
	history := func(e *env) {
		call := []vigil.FixCall{{Operation: "test:CloseWidget"}}
		seed := []vigil.Fix{
			{ID: "h1", At: t0.Add(-10 * time.Minute), Mode: "always-fix", Status: vigil.FixVerified},
			{ID: "h2", At: t0.Add(-50 * time.Minute), Mode: "always-fix", Status: vigil.FixVerified},
			{ID: "h3", At: t0.Add(-5 * time.Minute), Mode: "always-fix", Status: vigil.FixFailed, Calls: call},
			{ID: "old", At: t0.Add(-2 * time.Hour), Mode: "always-fix", Status: vigil.FixVerified},
			{ID: "person", At: t0.Add(-5 * time.Minute), Mode: "fix-now", Status: vigil.FixVerified},
			{ID: "plan-failed", At: t0.Add(-5 * time.Minute), Mode: "always-fix", Status: vigil.FixFailed},
			{ID: "skipped", At: t0.Add(-5 * time.Minute), Mode: "always-fix", Status: vigil.FixSkipped},
			{ID: "dry", At: t0.Add(-5 * time.Minute), Mode: "always-fix", Status: vigil.FixDryRun},
		}
		for _, f := range seed {
			f.Actor, f.CheckID, f.ResourceUID, f.Action = "rule:old", "test-widget-closed", "test:widget/d", "test.flip"
			if err := e.store.PutFix(context.Background(), f); err != nil {
				t.Fatal(err)
			}
		}
	}
	mine := fix.Rule{Name: "mine", Checks: []string{"test-widget-closed"}, Accounts: []string{acct1}}
	web := fix.Rule{Name: "web", Checks: []string{"test-widget-closed"}, Tags: map[string]string{"team": "web"}}
	cases := []struct {
		name    string
		policy  fix.AutoPolicy
		rule    *fix.Rule // mine when nil
		history bool
		failing []string
		limit   string // "" when the fixes are applied
	}{
		{"max per run exceeded", fix.AutoPolicy{MaxPerRun: 2}, nil, false, []string{"a", "b", "c"},
			"max_fixes_per_run: 3 fixes in this run, more than 2"},
		{"max per run reached", fix.AutoPolicy{MaxPerRun: 3}, nil, false, []string{"a", "b", "c"}, ""},
		{"max per hour exceeded", fix.AutoPolicy{MaxPerHour: 4}, nil, true, []string{"a", "b"},
			"max_fixes_per_hour: 3 fixes in the last hour and 2 in this run, more than 4"},
		{"max per hour reached", fix.AutoPolicy{MaxPerHour: 5}, nil, true, []string{"a", "b"}, ""},
		{"max share exceeded", fix.AutoPolicy{MaxShare: 0.5}, nil, false, []string{"a", "b", "c"},
			"max_share_per_run: rule mine would fix 3 of the 4 resources in its scope (75%), more than 50%"},
		{"max share reached", fix.AutoPolicy{MaxShare: 0.5}, nil, false, []string{"a", "b"}, ""},
		{"two limits exceeded", fix.AutoPolicy{MaxPerRun: 1, MaxShare: 0.3}, nil, false, []string{"a", "b"},
			"max_fixes_per_run: 2 fixes in this run, more than 1; " +
				"max_share_per_run: rule mine would fix 2 of the 4 resources in its scope (50%), more than 30%"},
		// The rule's tags narrow its scope to a, b and d.
		{"max share within the rule's tags", fix.AutoPolicy{MaxShare: 0.5}, &web, false, []string{"a", "b"},
			"max_share_per_run: rule web would fix 2 of the 3 resources in its scope (66.7%), more than 50%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, resources...)
			if tc.history {
				history(e)
			}
			p := tc.policy
			rl := mine
			if tc.rule != nil {
				rl = *tc.rule
			}
			p.Enabled, p.Rules = true, []fix.Rule{rl}
			rep := e.auto(p, e.fails("test-widget-closed", tc.failing...), nil)
			want := map[string]string{}
			for _, n := range tc.failing {
				want[n] = verified
				if tc.limit != "" {
					want[n] = "skipped: limit: " + tc.limit
				}
			}
			if got := outcomes(rep); !reflect.DeepEqual(got, want) {
				t.Errorf("outcomes = %v, want %v", got, want)
			}
			var wantOpen []string // a, b and c are open; the applied fixes close the failing ones
			for _, n := range []string{"a", "b", "c"} {
				if want[n] != verified {
					wantOpen = append(wantOpen, n)
				}
			}
			if got := e.open(); !reflect.DeepEqual(got, wantOpen) {
				t.Errorf("open = %v, want %v", got, wantOpen)
			}
			if tc.limit == "" {
				if len(rep.Alerts)+len(e.notes.alerts) != 0 {
					t.Errorf("alerts = %q", rep.Alerts)
				}
				return
			}
			subject := "Always Fix held back " + strconv.Itoa(len(tc.failing)) + " fixes: " + tc.limit
			body := "Always Fix applied none of these fixes; fix them with `vigil fix`, or raise the limit:\n"
			for _, n := range tc.failing {
				body += "- test-widget-closed on test:widget/" + n + " (rule " + rl.Name + ")\n"
			}
			if !reflect.DeepEqual(rep.Alerts, []string{subject}) || !reflect.DeepEqual(e.notes.alerts, [][2]string{{subject, body}}) {
				t.Errorf("alerts = %q, notified %q", rep.Alerts, e.notes.alerts)
			}
		})
	}
}

// Dry-run rules plan and record, apply nothing, and do not use up the limits.
func TestAutoFixDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true, tagged("stage", "trial")), widget("b", true, tagged("stage", "trial")), widget("c", true))
	p := enabled(
		fix.Rule{Name: "trial", Checks: []string{"test-widget-closed"}, Tags: map[string]string{"stage": "trial"}, DryRun: true},
		rule("live", "test-widget-closed"))
	p.MaxPerRun = 1
	rep := e.auto(p, e.fails("test-widget-closed", "a", "b", "c"), nil)
	want := map[string]string{
		"a": "dry_run: dry run: close widget test:widget/a",
		"b": "dry_run: dry run: close widget test:widget/b",
		"c": verified,
	}
	if got := outcomes(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	for _, f := range rep.Fixes {
		if f.Status != vigil.FixDryRun {
			continue
		}
		wantCalls := []vigil.FixCall{{Operation: "test:CloseWidget", Input: map[string]any{"widget": f.ResourceUID}}}
		if f.Actor != "rule:trial" || f.Mode != "always-fix" || !reflect.DeepEqual(f.Calls, wantCalls) ||
			!reflect.DeepEqual(f.Plan, []string{"close widget " + f.ResourceUID}) || f.After != nil {
			t.Errorf("dry-run record = %+v", f)
		}
	}
	if got := e.open(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("open = %v", got)
	}
	if len(e.notes.applied) != 1 || e.notes.applied[0].ResourceUID != "test:widget/c" {
		t.Errorf("notified %+v", e.notes.applied)
	}
}

// An action failing on one finding is a failed record; the run goes on.
func TestAutoFixActionErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true), widget("b", true), widget("c", true), widget("d", false, ofType("test.gadget")))
	results := append(e.fails("test-widget-halfway", "a"), e.fails("test-widget-planfail", "b")...)
	results = append(results, e.fails("test-widget-closed", "d", "c")...)
	rep := e.auto(enabled(rule("all", "test-widget-*")), results, nil)
	want := map[string]string{
		"a": "failed: apply: test:LockWidget: lock is jammed",
		"b": "failed: plan: test:GetWidget: access denied",
		"d": "failed: prepare: fix action test.flip applies to test.widget, not to test.gadget test:widget/d",
		"c": verified,
	}
	if got := outcomes(rep); !reflect.DeepEqual(got, want) {
		t.Errorf("outcomes = %v, want %v", got, want)
	}
	for _, f := range rep.Fixes {
		if f.ResourceUID == "test:widget/a" && (len(f.Calls) != 2 || f.Calls[0].Error != "" || f.Calls[1].Error != "lock is jammed") {
			t.Errorf("half-way record: %+v", f)
		}
	}
	if got := e.open(); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("open = %v", got)
	}
}

// A store error stops the run with an error; nothing is changed.
func TestAutoFixStoreError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true))
	results := e.fails("test-widget-closed", "a")
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := e.runner.AutoFix(context.Background(), enabled(rule("all", "test-widget-closed")), results, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "always fix: finding test-widget-closed on test:widget/a: ") {
		t.Errorf("err = %v", err)
	}
	if len(rep.Fixes) != 0 || !reflect.DeepEqual(e.open(), []string{"a"}) {
		t.Errorf("report %+v, open %v", rep, e.open())
	}
}

func TestAutoPolicyValidate(t *testing.T) {
	t.Parallel()
	ok := rule("ok", "test-*")
	cases := []struct {
		name string
		p    fix.AutoPolicy
		want string // "" for valid
	}{
		{"valid", fix.AutoPolicy{Enabled: true, ExemptTag: "owner=", MaxPerRun: 1, MaxPerHour: 2, MaxShare: 1,
			Flapping: fix.Flapping{Count: 3, Window: time.Hour}, Rules: []fix.Rule{ok, rule("two", "a", "b")}}, ""},
		{"empty", fix.AutoPolicy{}, ""},
		{"exempt tag without =", fix.AutoPolicy{ExemptTag: "vigil:exempt"},
			`autofix: exempt_tag: "vigil:exempt" is not key=value, e.g. vigil:exempt=true`},
		{"exempt tag without key", fix.AutoPolicy{ExemptTag: "=true"},
			`autofix: exempt_tag: "=true" is not key=value, e.g. vigil:exempt=true`},
		{"negative limits", fix.AutoPolicy{MaxPerRun: -1, MaxPerHour: -2},
			"autofix: max_fixes_per_run must not be negative (got -1); max_fixes_per_hour must not be negative (got -2)"},
		{"share above 1", fix.AutoPolicy{MaxShare: 1.5}, "autofix: max_share_per_run must be between 0 and 1 (got 1.5)"},
		{"negative share", fix.AutoPolicy{MaxShare: -0.1}, "autofix: max_share_per_run must be between 0 and 1 (got -0.1)"},
		{"negative flapping count", fix.AutoPolicy{Flapping: fix.Flapping{Count: -1, Window: time.Hour}},
			"autofix: flapping count must not be negative (got -1)"},
		{"negative flapping window", fix.AutoPolicy{Flapping: fix.Flapping{Count: 1, Window: -time.Hour}},
			"autofix: flapping window must not be negative (got -1h0m0s)"},
		{"flapping without window", fix.AutoPolicy{Flapping: fix.Flapping{Count: 2}},
			"autofix: flapping needs both a count and a window (got count 2, window 0s)"},
		{"flapping without count", fix.AutoPolicy{Flapping: fix.Flapping{Window: time.Hour}},
			"autofix: flapping needs both a count and a window (got count 0, window 1h0m0s)"},
		{"rule without name", fix.AutoPolicy{Rules: []fix.Rule{ok, rule(" ", "x")}}, "autofix: rule 2 has no name"},
		{"duplicate rule name", fix.AutoPolicy{Rules: []fix.Rule{ok, rule("ok", "x")}}, `autofix: rule name "ok" is used twice`},
		{"rule without checks", fix.AutoPolicy{Rules: []fix.Rule{rule("none")}}, "autofix: rule none has no checks"},
		{"bad check pattern", fix.AutoPolicy{Rules: []fix.Rule{rule("bad", "test-[", "")}},
			`autofix: rule bad: "test-[" is not a check id or glob; rule bad: "" is not a check id or glob`},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != vigil.EINVALID):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// AutoFix refuses an invalid policy before looking at any finding.
func TestAutoFixInvalidPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true))
	p := enabled(rule("all", "test-widget-closed"))
	p.ExemptTag = "exempt"
	rep, err := e.runner.AutoFix(context.Background(), p, e.fails("test-widget-closed", "a"), nil)
	if vigil.ErrorCode(err) != vigil.EINVALID || len(rep.Fixes) != 0 || !reflect.DeepEqual(e.open(), []string{"a"}) {
		t.Errorf("err %v, report %+v, open %v", err, rep, e.open())
	}
}
