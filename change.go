package vigil

import (
	"context"
	"time"
)

// Actor is who made a change, as the provider's audit log recorded it
// (CloudTrail userIdentity and source address; Azure claims).
type Actor struct {
	ARN         string `json:"arn,omitempty"` // the principal: an ARN or an Azure object id / UPN
	Type        string `json:"type,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	SourceIP    string `json:"source_ip,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
}

// Cause is the event behind an observed change, when one is known: a
// change found by a scan has none.
type Cause struct {
	EventID     string    `json:"event_id,omitempty"`
	EventSource string    `json:"event_source,omitempty"` // "s3.amazonaws.com"
	EventName   string    `json:"event_name,omitempty"`   // "PutBucketPolicy"
	EventTime   time.Time `json:"event_time"`
	Actor       Actor     `json:"actor"`
}

// ChangeFilter selects versions for Changes. Empty fields match everything;
// Actor matches a substring of the actor's ARN.
type ChangeFilter struct {
	Since   time.Time
	Until   time.Time
	Account string
	Type    string
	UID     string
	Actor   string
	Limit   int
}

// Observation is what one event (or one batch of a scan) saw, written in
// one transaction: resources as read now, resources found deleted, the
// results of their checks, and the event that caused it all.
type Observation struct {
	// ScanID names the scan or, for an event, the event ("ev-…"); versions
	// and results record it.
	ScanID string
	// At is when it was observed (now if zero); results are evaluated then.
	At        time.Time
	Resources []Resource
	// Deleted are resources now gone: each gets a deletion version and its
	// open results are resolved. Only UID is required.
	Deleted []Resource
	// Cause, if set, is recorded on every new version.
	Cause *Cause
	// Results of the checks evaluated on Resources.
	Results []Result
	// Complete says Results hold every check of each resource's type that
	// applies to it: an open result of another check on those resources
	// no longer applies and is resolved. A scan batch leaves it false and
	// resolves stale results at the end with ResolveStale.
	Complete bool
}

// Change is a resource that got a new version in an observation.
type Change struct {
	// Old is the previous state; nil for a new resource.
	Old *Resource `json:"old,omitempty"`
	// New is the state now; for a deletion, the last state with Deleted set.
	New     Resource `json:"new"`
	Version Version  `json:"version"`
}

// Transition is a result whose finding opened, reopened or resolved in an
// observation.
type Transition struct {
	Result Result `json:"result"`
	// From is the status before ("" for a result seen the first time).
	From Status `json:"from,omitempty"`
	// Opened: the result fails now and did not (new, or it passed, or it
	// was resolved). Reopened is Opened on a result that was resolved
	// before. Resolved: it failed or errored and now does not.
	Opened   bool `json:"opened,omitempty"`
	Reopened bool `json:"reopened,omitempty"`
	Resolved bool `json:"resolved,omitempty"`
}

// Recorded is what an observation changed in the store.
type Recorded struct {
	Changes     []Change     `json:"changes,omitempty"`
	Transitions []Transition `json:"transitions,omitempty"`
}

// JobArgs is a background job: River's job arguments (a JSON-encodable
// value with a kind), named here so that the domain does not import River.
type JobArgs interface{ Kind() string }

// Outbox adds background jobs inside a store transaction: a job exists if
// and only if the transaction commits (a durable outbox).
type Outbox interface {
	// Enqueue adds a job and reports false when a job with the same
	// unique key already exists.
	Enqueue(ctx context.Context, job JobArgs) (bool, error)
}

// AfterRecord runs inside the transaction of Record with what it changed;
// the jobs it enqueues commit with the observation, and an error rolls both
// back.
type AfterRecord func(ctx context.Context, rec Recorded, out Outbox) error

// ChangeStore records observations with their cause and lists changes.
// Stores implement it next to Store.
type ChangeStore interface {
	// Record writes an observation in one transaction and calls after (if
	// not nil) before committing.
	Record(ctx context.Context, obs Observation, after AfterRecord) (Recorded, error)
	// Changes lists versions matching f, newest first.
	Changes(ctx context.Context, f ChangeFilter) ([]Version, error)
}
