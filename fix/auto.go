package fix

import (
	"context"
	"errors"
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
}

// AutoReport is what one Always Fix run did.
type AutoReport struct {
	Fixes  []vigil.Fix // every record written: verified, failed, dry_run, skipped
	Alerts []string    // guards that tripped
}

// ErrNotImplemented is returned by AutoFix until Always Fix lands.
var ErrNotImplemented = errors.New("always fix is not implemented yet")

// AutoFix applies the rules to the failing findings of a scan, within the
// guards: mutes and the exempt tag are always honoured, limits and
// flapping hold fixes back and raise alerts, dry-run rules only plan.
// scope are the scan's current resources of the rules' types (for
// MaxShare), results the scan's results.
func (r *Runner) AutoFix(ctx context.Context, p AutoPolicy, results []vigil.Result, mutes *policy.Mutes) (AutoReport, error) {
	return AutoReport{}, ErrNotImplemented
}
