package aws

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
)

// verdicts evaluates the built-in checks on everything collected and
// returns check id → resource name → status. Resources a check's `when`
// excludes are absent.
func verdicts(t *testing.T, c *collected) map[string]map[string]vigil.Status {
	t.Helper()
	set, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatalf("load built-in checks: %v", err)
	}
	now := time.Now()
	out := map[string]map[string]vigil.Status{}
	for _, r := range c.resources {
		in := policy.NewInput(&r, now)
		for _, chk := range set.ForType(r.Type) {
			o := chk.Evaluate(in)
			if !o.Applies {
				continue
			}
			if out[chk.ID] == nil {
				out[chk.ID] = map[string]vigil.Status{}
			}
			out[chk.ID][r.Name] = o.Status
		}
	}
	return out
}

// reasons is like verdicts but returns the reasons, for failure messages.
func reasons(t *testing.T, c *collected, checkID string) map[string]string {
	t.Helper()
	set, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatalf("load built-in checks: %v", err)
	}
	chk, ok := set.Get(checkID)
	if !ok {
		t.Fatalf("no check %s", checkID)
	}
	out := map[string]string{}
	for _, r := range c.resources {
		if r.Type != chk.ResourceType {
			continue
		}
		if o := chk.Evaluate(policy.NewInput(&r, time.Now())); o.Applies {
			out[r.Name] = string(o.Status) + ": " + o.Reason
		}
	}
	return out
}
