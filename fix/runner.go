package fix

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

// Notifier tells people what healing did.
type Notifier interface {
	// FixApplied is called after every fix that changed (or tried to
	// change) a resource, verified or failed.
	FixApplied(ctx context.Context, f vigil.Fix) error
	// Alert is called when a guard holds Always Fix back (limits exceeded,
	// a flapping resource).
	Alert(ctx context.Context, subject, body string) error
}

// Refresher reads one resource again after a change, with the scanning
// (read-only) credentials.
type Refresher interface {
	Refresh(ctx context.Context, r vigil.Resource) (vigil.Resource, error)
}

// Runner plans, applies, verifies, undoes and records fixes.
type Runner struct {
	Store   vigil.Store
	Actions *Registry
	Checks  *policy.Set
	Refresh Refresher
	// Notify may be nil.
	Notify Notifier
	// Trust is the trusted set the checks are verified with.
	Trust  policy.Trust
	Logger *slog.Logger
	Now    func() time.Time
	// VerifyAttempts is how many times a fix's verification reads the
	// resource back while the check still fails (default 1): AWS applies
	// some changes asynchronously (RDS modifications, IAM, S3 settings
	// propagating), and a read right after the call may still show the old
	// state. VerifyWait is the first pause between reads; it doubles.
	VerifyAttempts int
	VerifyWait     time.Duration
	// Verified, if set, receives the resource as each verification read
	// it back last, so that the caller can record the state the fix left
	// without reading it once more.
	Verified func(ctx context.Context, f vigil.Fix, fresh vigil.Resource)
}

// Job is one finding prepared for fixing: its check, the action the check
// names, and the resource as last collected.
type Job struct {
	Check  *policy.Check
	Action Action
	Target Target
}

// Prepare finds the action for a finding (check id and resource uid) and
// the resource it applies to.
func (r *Runner) Prepare(ctx context.Context, checkID, uid string, params map[string]any) (*Job, error) {
	return r.PrepareWith(ctx, checkID, "", uid, params)
}

// PrepareWith is Prepare with another action than the one the check names
// (actionID "" for the check's own): `vigil fix --action`.
func (r *Runner) PrepareWith(ctx context.Context, checkID, actionID, uid string, params map[string]any) (*Job, error) {
	c, ok := r.Checks.Get(checkID)
	if !ok {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no check %q", checkID)
	}
	if actionID == "" {
		actionID = c.Fix
	}
	if actionID == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "check %s has no fix action", checkID)
	}
	a, ok := r.Actions.Get(actionID)
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "no fix action %s (known: %s)", actionID, strings.Join(r.Actions.IDs(), ", "))
	}
	res, err := r.Store.Resource(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("finding %s on %s: %w", checkID, uid, err)
	}
	if vs, err := r.Store.Versions(ctx, uid); err == nil && len(vs) > 0 && vs[len(vs)-1].Deleted {
		return nil, vigil.Errorf(vigil.EINVALID, "resource %s was deleted at %s", uid, vs[len(vs)-1].ObservedAt.Format(time.RFC3339))
	}
	if res.Type != a.ResourceType() {
		return nil, vigil.Errorf(vigil.EINVALID, "fix action %s applies to %s, not to %s %s", a.ID(), a.ResourceType(), res.Type, uid)
	}
	if res.Type != c.ResourceType {
		// The check could not verify the fix: it judges another type.
		return nil, vigil.Errorf(vigil.EINVALID, "check %s judges %s, not %s %s", checkID, c.ResourceType, res.Type, uid)
	}
	return &Job{Check: c, Action: a, Target: Target{Resource: res, CheckID: checkID, Params: params}}, nil
}

// Plan asks the action what it would do and records the plan. Nothing
// changes. The record's status is planned (or dry_run for a rule in
// dry-run mode, mode "always-fix").
func (r *Runner) Plan(ctx context.Context, j *Job, actor, mode string) (vigil.Fix, *Plan, error) {
	f := r.record(j, actor, mode)
	f.Status = vigil.FixPlanned
	p, err := j.Action.Plan(ctx, j.Target)
	if err != nil {
		f.Status, f.Reason = vigil.FixFailed, "plan: "+err.Error()
		return f, nil, errors.Join(err, r.Store.PutFix(ctx, f))
	}
	f.Plan, f.Calls, f.Before = p.Steps, p.Calls, p.Before
	f.Reason = "planned: " + p.describe()
	return f, p, r.Store.PutFix(ctx, f)
}

// Apply makes a planned change, reads the resource back, evaluates the
// check on it, and records the outcome under the plan's record: verified
// when the check passes, failed when a call fails or the finding is still
// open. It notifies in both cases.
func (r *Runner) Apply(ctx context.Context, j *Job, f vigil.Fix, p *Plan) (vigil.Fix, error) {
	f.At = r.now()
	if p.NoOp {
		return r.verify(ctx, j, f, "nothing to change")
	}
	rec := &Recorder{}
	err := j.Action.Apply(ctx, j.Target, p, rec)
	f.Calls = rec.Calls
	if err != nil {
		f.Status, f.Reason = vigil.FixFailed, "apply: "+err.Error()
		r.log().Warn("fix failed", "fix", f.ID, "action", f.Action, "resource", f.ResourceUID, "error", err)
		return r.finish(ctx, f)
	}
	r.log().Info("fix applied", "fix", f.ID, "action", f.Action, "resource", f.ResourceUID, "calls", len(rec.Calls))
	return r.verify(ctx, j, f, "")
}

// verify re-reads the resource and evaluates the check on it.
func (r *Runner) verify(ctx context.Context, j *Job, f vigil.Fix, note string) (vigil.Fix, error) {
	var fresh vigil.Resource
	var o policy.Outcome
	wait := r.VerifyWait
	for attempt := 1; ; attempt++ {
		var err error
		fresh, err = r.Refresh.Refresh(ctx, j.Target.Resource)
		if err != nil {
			f.Status, f.Reason = vigil.FixFailed, "verify: could not read the resource back: "+err.Error()
			return r.finish(ctx, f)
		}
		o = j.Check.Evaluate(policy.NewInput(&fresh, r.now()).WithTrust(r.Trust))
		if !o.Applies || o.Status == vigil.StatusPass || attempt >= r.VerifyAttempts || len(f.Calls) == 0 {
			break
		}
		r.log().Info("fix not visible yet, reading again", "fix", f.ID, "attempt", attempt, "wait", wait)
		select {
		case <-ctx.Done():
			f.Status, f.Reason = vigil.FixFailed, "verify: "+ctx.Err().Error()
			return r.finish(ctx, f)
		case <-time.After(wait):
		}
		wait *= 2
	}
	f.After = fresh.Properties
	switch {
	case !o.Applies:
		f.Status, f.Reason = vigil.FixVerified, "the check no longer applies to the resource"
	case o.Status == vigil.StatusPass:
		f.Status, f.Reason = vigil.FixVerified, "verified: "+o.Reason
	default:
		f.Status, f.Reason = vigil.FixFailed, "the finding is still open after the change ("+string(o.Status)+"): "+o.Reason
	}
	if note != "" {
		f.Reason = note + "; " + f.Reason
	}
	out, err := r.finish(ctx, f)
	if r.Verified != nil {
		r.Verified(ctx, out, fresh)
	}
	return out, err
}

// finish records the outcome and notifies.
func (r *Runner) finish(ctx context.Context, f vigil.Fix) (vigil.Fix, error) {
	err := r.Store.PutFix(ctx, f)
	if r.Notify != nil && len(f.Calls) > 0 {
		if nerr := r.Notify.FixApplied(ctx, f); nerr != nil {
			r.log().Warn("fix notification failed", "fix", f.ID, "error", nerr)
		}
	}
	return f, err
}

// Undo reverts a verified (or failed half-way) fix from its recorded
// before-state and records the undo.
func (r *Runner) Undo(ctx context.Context, fixID, actor string) (vigil.Fix, error) {
	orig, err := r.Store.Fix(ctx, fixID)
	if err != nil {
		return vigil.Fix{}, err
	}
	if orig.Mode == "undo" {
		return vigil.Fix{}, vigil.Errorf(vigil.EINVALID, "fix %s is an undo; apply the fix again instead", fixID)
	}
	if len(orig.Calls) == 0 || orig.Status == vigil.FixPlanned || orig.Status == vigil.FixDryRun || orig.Status == vigil.FixSkipped {
		return vigil.Fix{}, vigil.Errorf(vigil.EINVALID, "fix %s changed nothing (%s): nothing to undo", fixID, orig.Status)
	}
	a, ok := r.Actions.Get(orig.Action)
	if !ok {
		return vigil.Fix{}, vigil.Errorf(vigil.EINVALID, "fix %s used action %s, which this build does not have", fixID, orig.Action)
	}
	u, ok := a.(Undoer)
	if !ok {
		return vigil.Fix{}, vigil.Errorf(vigil.EINVALID, "action %s cannot be undone", orig.Action)
	}
	res, err := r.Store.Resource(ctx, orig.ResourceUID)
	if err != nil {
		return vigil.Fix{}, err
	}
	f := orig
	f.ID, f.At, f.Actor, f.Mode, f.UndoOf = newID(), r.now(), actor, "undo", orig.ID
	f.Plan, f.Calls, f.After = []string{"restore the state recorded before " + orig.ID}, nil, nil
	rec := &Recorder{}
	err = u.Undo(ctx, Target{Resource: res, CheckID: orig.CheckID}, orig.Before, rec)
	f.Calls = rec.Calls
	if err != nil {
		f.Status, f.Reason = vigil.FixFailed, "undo: "+err.Error()
		return r.finish(ctx, f)
	}
	f.Status, f.Reason = vigil.FixUndone, "restored the state recorded before "+orig.ID
	if fresh, err := r.Refresh.Refresh(ctx, res); err == nil {
		f.After = fresh.Properties
	} else {
		f.Reason += "; could not read the resource back: " + err.Error()
	}
	return r.finish(ctx, f)
}

// record starts the audit record of a job.
func (r *Runner) record(j *Job, actor, mode string) vigil.Fix {
	res := j.Target.Resource
	return vigil.Fix{ID: newID(), At: r.now(), Actor: actor, Mode: mode, CheckID: j.Check.ID,
		ResourceUID: res.UID, ResourceType: res.Type, Provider: res.Provider, Account: res.Account,
		Region: res.Region, Action: j.Action.ID()}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// newID returns a fix id: x- and 10 random hex digits.
func newID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "x-" + hex.EncodeToString(b[:])
}
