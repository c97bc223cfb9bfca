package fix_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/sqlite"
)

// cloud is the in-memory estate the test actions change: whether each
// widget is open. It is also the Refresher, reading a widget back.
type cloud struct {
	mu   sync.Mutex
	open map[string]bool
}

func (c *cloud) get(uid string) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.open[uid]
	return v, ok
}

func (c *cloud) set(uid string, open bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open[uid] = open
}

// Refresh reads a widget back as a collector would.
func (c *cloud) Refresh(_ context.Context, r vigil.Resource) (vigil.Resource, error) {
	open, ok := c.get(r.UID)
	if !ok {
		return vigil.Resource{}, errors.New("test:GetWidget: no widget " + r.UID)
	}
	r.Properties = map[string]any{"open": open}
	return r, nil
}

// isOpen returns whether a widget is open in the cloud, failing the test
// for an unknown one.
func (c *cloud) isOpen(t *testing.T, uid string) bool {
	t.Helper()
	open, ok := c.get(uid)
	if !ok {
		t.Fatalf("no widget %s in the cloud", uid)
	}
	return open
}

// closer is the test action: it closes a widget. Its behaviour names how
// it goes wrong: "" (it works), "forget" (records the call but leaves the
// widget open), "halfway" (closes, then fails to lock), "planfail".
type closer struct {
	id     string
	c      *cloud
	behave string
}

func (a *closer) ID() string            { return a.id }
func (a *closer) ResourceType() string  { return "test.widget" }
func (a *closer) Title() string         { return "close the widget" }
func (a *closer) Permissions() []string { return []string{"test:CloseWidget", "test:GetWidget"} }

func (a *closer) Plan(_ context.Context, t fix.Target) (*fix.Plan, error) {
	uid := t.Resource.UID
	open, ok := a.c.get(uid)
	switch {
	case !ok:
		return nil, errors.New("test:GetWidget: no widget " + uid)
	case a.behave == "planfail":
		return nil, errors.New("test:GetWidget: access denied")
	case !open:
		return &fix.Plan{NoOp: true, Before: map[string]any{"open": false}}, nil
	}
	p := &fix.Plan{Steps: []string{"close widget " + uid}, Before: map[string]any{"open": true},
		Calls: []vigil.FixCall{{Operation: "test:CloseWidget", Input: map[string]any{"widget": uid}}}}
	if a.behave == "halfway" {
		p.Steps = append(p.Steps, "lock widget "+uid)
		p.Calls = append(p.Calls, vigil.FixCall{Operation: "test:LockWidget", Input: map[string]any{"widget": uid}})
	}
	return p, nil
}

func (a *closer) Apply(_ context.Context, t fix.Target, _ *fix.Plan, rec *fix.Recorder) error {
	uid := t.Resource.UID
	err := rec.Do("test:CloseWidget", map[string]any{"widget": uid}, func() error {
		if a.behave != "forget" {
			a.c.set(uid, false)
		}
		return nil
	})
	if err != nil || a.behave != "halfway" {
		return err
	}
	return rec.Do("test:LockWidget", map[string]any{"widget": uid}, func() error { return errors.New("lock is jammed") })
}

// undoCloser is a closer that can be undone.
type undoCloser struct{ *closer }

func (a undoCloser) Undo(_ context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	open, ok := before["open"].(bool)
	if !ok {
		return errors.New("no open state recorded")
	}
	return rec.Do("test:OpenWidget", map[string]any{"widget": t.Resource.UID, "open": open}, func() error {
		a.c.set(t.Resource.UID, open)
		return nil
	})
}

var (
	_ fix.Undoer    = undoCloser{}
	_ fix.Refresher = (*cloud)(nil)
)

// notes is the test Notifier: it remembers what it was told.
type notes struct {
	mu      sync.Mutex
	applied []vigil.Fix
	alerts  [][2]string // subject, body
}

func (n *notes) FixApplied(_ context.Context, f vigil.Fix) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.applied = append(n.applied, f)
	return nil
}

func (n *notes) Alert(_ context.Context, subject, body string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.alerts = append(n.alerts, [2]string{subject, body})
	return nil
}

// env is a Runner over a real SQLite store holding widgets, the checks of
// testdata/checks and the test actions.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	cloud  *cloud
	notes  *notes
	runner *fix.Runner
	now    time.Time
	byName map[string]vigil.Resource
}

// t0 is when the tests' clock starts.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	acct1 = "111111111111"
	acct2 = "222222222222"
)

// widget returns a widget resource named name in account 111111111111
// and us-east-1; opts may change it.
func widget(name string, open bool, opts ...func(*vigil.Resource)) vigil.Resource {
	r := vigil.Resource{UID: "test:widget/" + name, Provider: vigil.AWS, Account: acct1, Region: "us-east-1",
		Type: "test.widget", Name: name, Properties: map[string]any{"open": open}, CollectedAt: t0}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func tagged(kv ...string) func(*vigil.Resource) {
	return func(r *vigil.Resource) {
		r.Tags = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Tags[kv[i]] = kv[i+1]
		}
	}
}

func in(account, region string) func(*vigil.Resource) {
	return func(r *vigil.Resource) { r.Account, r.Region = account, region }
}

func ofType(typ string) func(*vigil.Resource) { return func(r *vigil.Resource) { r.Type = typ } }

func loadChecks(t *testing.T) *policy.Set {
	t.Helper()
	checks, err := policy.Load(policy.Dir("testdata/checks"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks.Checks() {
		for _, r := range c.RunTests() {
			if !r.OK {
				t.Fatalf("check %s fixture %s: got %s, want %s", c.ID, r.Test.Name, r.GotWord(), r.Test.Want)
			}
		}
	}
	return checks
}

// newEnv stores the resources and puts each widget in the cloud with the
// open state of its properties.
func newEnv(t *testing.T, rs ...vigil.Resource) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.StartScan(ctx, vigil.Scan{ID: "s-test", StartedAt: t0, Status: "running"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutResources(ctx, "s-test", rs); err != nil {
		t.Fatal(err)
	}
	cl := &cloud{open: map[string]bool{}}
	e := &env{t: t, store: st, cloud: cl, notes: &notes{}, now: t0, byName: map[string]vigil.Resource{}}
	for _, r := range rs {
		cl.open[r.UID], _ = r.Properties["open"].(bool)
		e.byName[r.Name] = r
	}
	reg, err := fix.NewRegistry(
		undoCloser{&closer{id: "test.flip", c: cl}},
		undoCloser{&closer{id: "test.forget", c: cl, behave: "forget"}},
		undoCloser{&closer{id: "test.halfway", c: cl, behave: "halfway"}},
		&closer{id: "test.noundo", c: cl},
		&closer{id: "test.planfail", c: cl, behave: "planfail"},
	)
	if err != nil {
		t.Fatal(err)
	}
	e.runner = &fix.Runner{Store: st, Actions: reg, Checks: loadChecks(t), Refresh: cl, Notify: e.notes,
		Now: func() time.Time { return e.now }}
	return e
}

// uid returns the uid of the stored resource named name.
func (e *env) uid(name string) string {
	e.t.Helper()
	r, ok := e.byName[name]
	if !ok {
		e.t.Fatalf("no resource named %s", name)
	}
	return r.UID
}

// stored returns the store's record of a fix.
func (e *env) stored(id string) vigil.Fix {
	e.t.Helper()
	f, err := e.store.Fix(context.Background(), id)
	if err != nil {
		e.t.Fatalf("fix %s: %v", id, err)
	}
	return f
}

// prepare prepares the fix of checkID on the resource named name.
func (e *env) prepare(checkID, name string) *fix.Job {
	e.t.Helper()
	j, err := e.runner.Prepare(context.Background(), checkID, e.uid(name), nil)
	if err != nil {
		e.t.Fatalf("prepare %s on %s: %v", checkID, name, err)
	}
	return j
}

// planApply plans and applies the fix of checkID on the widget name.
func (e *env) planApply(checkID, name string) vigil.Fix {
	e.t.Helper()
	ctx := context.Background()
	j := e.prepare(checkID, name)
	f, p, err := e.runner.Plan(ctx, j, "user:test", "fix-now")
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	out, err := e.runner.Apply(ctx, j, f, p)
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return out
}

func TestRunnerPlan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		open       bool
		wantReason string
		wantCalls  []vigil.FixCall
		wantBefore map[string]any
	}{
		{"open widget", true, "planned: close widget test:widget/a",
			[]vigil.FixCall{{Operation: "test:CloseWidget", Input: map[string]any{"widget": "test:widget/a"}}},
			map[string]any{"open": true}},
		{"closed widget", false, "planned: nothing to change", nil, map[string]any{"open": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, widget("a", tc.open))
			f, p, err := e.runner.Plan(context.Background(), e.prepare("test-widget-closed", "a"), "user:ann", "fix-now")
			if err != nil {
				t.Fatal(err)
			}
			if f.Status != vigil.FixPlanned || f.Reason != tc.wantReason || f.Actor != "user:ann" || f.Mode != "fix-now" ||
				f.Action != "test.flip" || f.CheckID != "test-widget-closed" || f.ResourceUID != "test:widget/a" {
				t.Errorf("record = %+v", f)
			}
			if !reflect.DeepEqual(f.Calls, tc.wantCalls) || !reflect.DeepEqual(f.Before, tc.wantBefore) || p.NoOp == tc.open {
				t.Errorf("calls %+v, before %v, noop %v", f.Calls, f.Before, p.NoOp)
			}
			if got := e.stored(f.ID); !reflect.DeepEqual(got, f) {
				t.Errorf("stored %+v\nwant %+v", got, f)
			}
			if e.cloud.isOpen(t, "test:widget/a") != tc.open {
				t.Error("planning changed the widget")
			}
			if len(e.notes.applied) != 0 {
				t.Errorf("a plan notified: %+v", e.notes.applied)
			}
		})
	}
}

func TestRunnerApply(t *testing.T) {
	t.Parallel()
	closeCall := vigil.FixCall{Operation: "test:CloseWidget", Input: map[string]any{"widget": "test:widget/a"}}
	cases := []struct {
		name       string
		check      string
		open       bool
		wantStatus vigil.FixStatus
		wantReason string
		wantCalls  []vigil.FixCall
		wantOpen   bool
		wantAfter  map[string]any // nil when a call failed: nothing was read back
	}{
		{"verified", "test-widget-closed", true, vigil.FixVerified, "verified: Widgets are closed",
			[]vigil.FixCall{closeCall}, false, map[string]any{"open": false}},
		{"action forgets to flip", "test-widget-forget", true, vigil.FixFailed,
			"the finding is still open after the change (fail): widget a is open", []vigil.FixCall{closeCall}, true,
			map[string]any{"open": true}},
		{"failed half-way", "test-widget-halfway", true, vigil.FixFailed, "apply: test:LockWidget: lock is jammed",
			[]vigil.FixCall{closeCall, {Operation: "test:LockWidget", Input: map[string]any{"widget": "test:widget/a"}, Error: "lock is jammed"}},
			false, nil},
		{"nothing to change", "test-widget-closed", false, vigil.FixVerified,
			"nothing to change; verified: Widgets are closed", nil, false, map[string]any{"open": false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, widget("a", tc.open))
			f := e.planApply(tc.check, "a")
			if f.Status != tc.wantStatus || f.Reason != tc.wantReason {
				t.Errorf("got %s: %q, want %s: %q", f.Status, f.Reason, tc.wantStatus, tc.wantReason)
			}
			if !reflect.DeepEqual(f.Calls, tc.wantCalls) {
				t.Errorf("calls = %+v, want %+v", f.Calls, tc.wantCalls)
			}
			if !reflect.DeepEqual(f.After, tc.wantAfter) {
				t.Errorf("after = %v, want %v", f.After, tc.wantAfter)
			}
			if got := e.stored(f.ID); !reflect.DeepEqual(got, f) {
				t.Errorf("stored %+v\nwant %+v", got, f)
			}
			if got := e.cloud.isOpen(t, "test:widget/a"); got != tc.wantOpen {
				t.Errorf("widget open = %v, want %v", got, tc.wantOpen)
			}
			// People hear of every fix that made calls, verified or failed.
			if n := len(e.notes.applied); n != min(1, len(tc.wantCalls)) || (n == 1 && e.notes.applied[0].ID != f.ID) {
				t.Errorf("notified %+v", e.notes.applied)
			}
		})
	}
}

func TestRunnerUndo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name  string
		check string
	}{
		{"verified fix", "test-widget-closed"},
		{"fix failed half-way", "test-widget-halfway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, widget("a", true))
			orig := e.planApply(tc.check, "a")
			if e.cloud.isOpen(t, "test:widget/a") {
				t.Fatalf("the fix did not close the widget: %+v", orig)
			}
			e.now = t0.Add(time.Minute)
			u, err := e.runner.Undo(ctx, orig.ID, "user:bob")
			if err != nil {
				t.Fatal(err)
			}
			want := []vigil.FixCall{{Operation: "test:OpenWidget", Input: map[string]any{"widget": "test:widget/a", "open": true}}}
			if u.Status != vigil.FixUndone || u.UndoOf != orig.ID || u.Mode != "undo" || u.Actor != "user:bob" ||
				u.ID == orig.ID || !u.At.Equal(e.now) || u.Reason != "restored the state recorded before "+orig.ID {
				t.Errorf("undo record = %+v", u)
			}
			if !reflect.DeepEqual(u.Calls, want) || !reflect.DeepEqual(u.After, map[string]any{"open": true}) {
				t.Errorf("calls %+v, after %v", u.Calls, u.After)
			}
			if !e.cloud.isOpen(t, "test:widget/a") {
				t.Error("undo did not reopen the widget")
			}
			if got := e.stored(u.ID); !reflect.DeepEqual(got, u) {
				t.Errorf("stored %+v\nwant %+v", got, u)
			}
			if got := e.stored(orig.ID); got.Status != orig.Status {
				t.Errorf("undo changed the original record: %+v", got)
			}
		})
	}
}

func TestRunnerUndoRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, widget("a", true), widget("b", true))
	planned, _, err := e.runner.Plan(ctx, e.prepare("test-widget-closed", "a"), "user:test", "fix-now")
	if err != nil {
		t.Fatal(err)
	}
	noUndo := e.planApply("test-widget-noundo", "b")
	if noUndo.Status != vigil.FixVerified {
		t.Fatalf("fix with test.noundo: %+v", noUndo)
	}
	undoable := e.planApply("test-widget-closed", "a")
	undo, err := e.runner.Undo(ctx, undoable.ID, "user:test")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		id   string
		want string
	}{
		{"planned fix", planned.ID, "fix " + planned.ID + " changed nothing (planned): nothing to undo"},
		{"action without Undoer", noUndo.ID, "action test.noundo cannot be undone"},
		{"an undo", undo.ID, "fix " + undo.ID + " is an undo; apply the fix again instead"},
	}
	for _, tc := range cases {
		before, _ := e.store.Fixes(ctx, vigil.FixFilter{})
		_, err := e.runner.Undo(ctx, tc.id, "user:test")
		if err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: got %v (%s), want %q", tc.name, err, vigil.ErrorCode(err), tc.want)
		}
		if after, _ := e.store.Fixes(ctx, vigil.FixFilter{}); len(after) != len(before) {
			t.Errorf("%s: a refused undo wrote a record", tc.name)
		}
	}
	if e.cloud.isOpen(t, "test:widget/b") {
		t.Error("a refused undo reopened widget b")
	}
}

func TestRunnerPrepareErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, widget("a", true), widget("g", true, ofType("test.gadget")))
	cases := []struct {
		name, check, uid string
		wantCode         string
		want             string
	}{
		{"unknown check", "test-nope", "test:widget/a", vigil.ENOTFOUND, `no check "test-nope"`},
		{"check without fix", "test-widget-nofix", "test:widget/a", vigil.EINVALID, "check test-widget-nofix has no fix action"},
		{"unknown action", "test-widget-missing", "test:widget/a", vigil.EINVALID,
			"no fix action test.missing (known: test.flip, test.forget, test.halfway, test.noundo, test.planfail)"},
		{"wrong resource type", "test-widget-closed", "test:widget/g", vigil.EINVALID,
			"fix action test.flip applies to test.widget, not to test.gadget test:widget/g"},
		{"unknown resource", "test-widget-closed", "test:widget/nope", vigil.ENOTFOUND,
			"finding test-widget-closed on test:widget/nope: resource test:widget/nope not found"},
	}
	for _, tc := range cases {
		j, err := e.runner.Prepare(context.Background(), tc.check, tc.uid, nil)
		if err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != tc.wantCode {
			t.Errorf("%s: got %v, %v (%s), want %q (%s)", tc.name, j, err, vigil.ErrorCode(err), tc.want, tc.wantCode)
		}
	}
}

// lagging is a Refresher that shows the state from before the fix for its
// first stale reads, as AWS may right after an asynchronous change.
type lagging struct {
	c     *cloud
	stale int
	mu    sync.Mutex
	reads int
}

func (l *lagging) Refresh(ctx context.Context, r vigil.Resource) (vigil.Resource, error) {
	l.mu.Lock()
	l.reads++
	n := l.reads
	l.mu.Unlock()
	if n <= l.stale {
		r.Properties = map[string]any{"open": true}
		return r, nil
	}
	return l.c.Refresh(ctx, r)
}

// TestRunnerVerifyRetries: a fix that AWS shows late is verified once it
// shows, within VerifyAttempts; past them it is failed.
func TestRunnerVerifyRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		want     vigil.FixStatus
		reads    int
	}{
		{"shows on the third read", 3, vigil.FixVerified, 3},
		{"not within two reads", 2, vigil.FixFailed, 2},
		{"default: one read", 0, vigil.FixFailed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, widget("a", true))
			lag := &lagging{c: e.cloud, stale: 2}
			e.runner.Refresh, e.runner.VerifyAttempts, e.runner.VerifyWait = lag, tc.attempts, time.Millisecond
			f := e.planApply("test-widget-closed", "a")
			if f.Status != tc.want || lag.reads != tc.reads {
				t.Errorf("got %s after %d reads (%s), want %s after %d", f.Status, lag.reads, f.Reason, tc.want, tc.reads)
			}
		})
	}
}
