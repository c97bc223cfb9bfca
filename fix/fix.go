// Package fix corrects findings: Fix Now (a plan shown first, applied on
// request) and Always Fix (rules that apply an action whenever its finding
// comes back, within guards). Actions are registered under ids such as
// aws.s3.block-public-access; cloud implementations live with their
// collectors (aws/). Every plan, apply, verification and undo is recorded
// in the store, and a fix that leaves the finding open is a failure.
package fix

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vigilsec/vigil"
)

// Action is one way to correct a finding.
type Action interface {
	// ID is the registry id, "aws.s3.block-public-access".
	ID() string
	// ResourceType is the type of resource the action changes.
	ResourceType() string
	// Title says what the action does, in a sentence fragment.
	Title() string
	// Permissions are the IAM actions Plan and Apply need, exactly.
	Permissions() []string
	// Plan reads what it needs (read calls only) and returns the calls
	// Apply will make. It changes nothing.
	Plan(ctx context.Context, t Target) (*Plan, error)
	// Apply makes the planned calls, recording each in rec.
	Apply(ctx context.Context, t Target, p *Plan, rec *Recorder) error
}

// Undoer is an Action that can restore the state it recorded before a fix.
type Undoer interface {
	Action
	Undo(ctx context.Context, t Target, before map[string]any, rec *Recorder) error
}

// Target is what an action works on.
type Target struct {
	Resource vigil.Resource // as last collected
	CheckID  string
	// Params are the options of a rule or of `vigil fix --param`, e.g.
	// {"unused_days": 90} or {"allow_admin_detach": true}.
	Params map[string]any
}

// Plan is what an action will do.
type Plan struct {
	// Steps describe the change in sentences.
	Steps []string
	// Calls are the API calls Apply will make, with their inputs.
	Calls []vigil.FixCall
	// Before is the state Undo needs to restore.
	Before map[string]any
	// NoOp is set when the resource is already as the action would make it.
	NoOp bool
	// State carries what Apply needs from Plan (opaque to callers).
	State any
}

// Recorder collects the calls an action makes.
type Recorder struct{ Calls []vigil.FixCall }

// Do records one call, runs it, and records its error.
func (r *Recorder) Do(op string, input map[string]any, call func() error) error {
	err := call()
	c := vigil.FixCall{Operation: op, Input: input}
	if err != nil {
		c.Error = err.Error()
	}
	r.Calls = append(r.Calls, c)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Registry holds the known actions by id.
type Registry struct{ actions map[string]Action }

// NewRegistry returns a registry of the actions; a duplicate id is an error.
func NewRegistry(actions ...Action) (*Registry, error) {
	r := &Registry{actions: map[string]Action{}}
	for _, a := range actions {
		if _, dup := r.actions[a.ID()]; dup {
			return nil, fmt.Errorf("fix action %s registered twice", a.ID())
		}
		r.actions[a.ID()] = a
	}
	return r, nil
}

// Get returns an action by id.
func (r *Registry) Get(id string) (Action, bool) {
	a, ok := r.actions[id]
	return a, ok
}

// All returns the actions ordered by id.
func (r *Registry) All() []Action {
	out := make([]Action, 0, len(r.actions))
	for _, a := range r.actions {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID() < out[j].ID() })
	return out
}

// IDs returns the registered ids, sorted.
func (r *Registry) IDs() []string {
	out := make([]string, 0, len(r.actions))
	for id := range r.actions {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Permissions is the union of every action's permissions, sorted: what
// the remediation role's policy must grant.
func (r *Registry) Permissions() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range r.actions {
		for _, p := range a.Permissions() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// describe renders a plan for people, one line per step.
func (p *Plan) describe() string {
	if p.NoOp {
		return "nothing to change"
	}
	return strings.Join(p.Steps, "; ")
}
