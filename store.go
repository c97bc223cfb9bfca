package vigil

import (
	"context"
	"time"
)

// Store persists accounts, scans, resources with their version history, and
// check results. Implementations live in sqlite/ and postgres/ and pass the
// conformance suite in storetest/.
type Store interface {
	// PutAccount creates or updates an account.
	PutAccount(ctx context.Context, a Account) error
	// Accounts lists the known accounts.
	Accounts(ctx context.Context) ([]Account, error)

	// StartScan records a new running scan.
	StartScan(ctx context.Context, s Scan) error
	// FinishScan records a scan's end state, stats and read errors.
	FinishScan(ctx context.Context, s Scan) error
	// Scans lists the most recent scans first, at most limit of them.
	Scans(ctx context.Context, limit int) ([]Scan, error)

	// PutResources upserts resources seen by a scan. A resource whose
	// content hash changed (or that is new, or that comes back after being
	// deleted) gets a new version with the diff from the previous one. It
	// reports how many resources changed.
	PutResources(ctx context.Context, scanID string, rs []Resource) (changed int, err error)
	// Sweep marks deleted every current resource in the scopes that the scan
	// did not see, records a deletion version, and resolves its results.
	Sweep(ctx context.Context, scanID string, at time.Time, scopes []Scope) (deleted int, err error)
	// Resource returns the current state of a resource, deleted or not.
	Resource(ctx context.Context, uid string) (Resource, error)
	// Resources lists current (not deleted) resources matching f.
	Resources(ctx context.Context, f ResourceFilter) ([]Resource, error)
	// Versions returns a resource's versions, oldest first.
	Versions(ctx context.Context, uid string) ([]Version, error)

	// PutResults records the results of a scan's evaluations, keeping each
	// (check, resource) pair's first seen, status since and resolved times.
	PutResults(ctx context.Context, scanID string, rs []Result) error
	// ResolveStale resolves the non-passing results of checks in checkIDs, in
	// the given scopes, that the scan did not produce: their resource is gone
	// or a listing that failed before works again.
	ResolveStale(ctx context.Context, scanID string, at time.Time, checkIDs []string, scopes []Scope) (int, error)
	// Results lists results matching f.
	Results(ctx context.Context, f ResultFilter) ([]Result, error)

	// FixStore is the audit trail of fixes.
	FixStore

	// ChangeStore records observations (an event's or a scan batch's
	// resources, deletions and results) in one transaction, and lists
	// the changes.
	ChangeStore

	// Close releases the store.
	Close() error
}

// ResourceFilter selects resources. Empty fields match everything.
type ResourceFilter struct {
	Account string
	Region  string
	Type    string
	Limit   int
}

// ResultFilter selects results. Empty fields match everything.
type ResultFilter struct {
	Account  string
	CheckID  string
	UID      string
	ScanID   string
	Statuses []Status
	// Open restricts to results not resolved.
	Open bool
}
