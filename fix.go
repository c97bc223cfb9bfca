package vigil

import (
	"context"
	"time"
)

// FixStatus is the outcome of one fix attempt.
type FixStatus string

// Fix outcomes. A fix is verified only when, after the change, the resource
// was read back and the check passes on it; a change that leaves the
// finding open is failed.
const (
	FixPlanned  FixStatus = "planned"  // plan shown, nothing changed
	FixDryRun   FixStatus = "dry_run"  // an Always Fix rule in dry-run mode: planned, not applied
	FixVerified FixStatus = "verified" // applied, re-read, the check passes
	FixFailed   FixStatus = "failed"   // an API call failed, or the check still fails after it
	FixSkipped  FixStatus = "skipped"  // a guard held it back (exempt, muted, limits, flapping, disabled)
	FixUndone   FixStatus = "undone"   // an earlier fix was reverted from its recorded before-state
)

// FixCall is one cloud API call a fix made (or, in a plan, will make).
type FixCall struct {
	Operation string         `json:"operation"` // "s3:PutPublicAccessBlock"
	Input     map[string]any `json:"input"`     // the parameters, never secrets
	Error     string         `json:"error,omitempty"`
}

// Fix is the audit record of one plan, apply, verification or undo.
type Fix struct {
	ID           string    `json:"id"`
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"` // "user:NAME" for Fix Now, "rule:NAME" for Always Fix
	Mode         string    `json:"mode"`  // "fix-now", "always-fix" or "undo"
	CheckID      string    `json:"check_id"`
	ResourceUID  string    `json:"resource_uid"`
	ResourceType string    `json:"resource_type"`
	Provider     Provider  `json:"provider"`
	Account      string    `json:"account"`
	Region       string    `json:"region"`
	Action       string    `json:"action"` // the fix action id, "aws.s3.block-public-access"
	Status       FixStatus `json:"status"`
	Reason       string    `json:"reason"`
	// Plan is what the action said it would do, in sentences.
	Plan  []string  `json:"plan"`
	Calls []FixCall `json:"calls"`
	// Before is what the action needs to undo the change; After the
	// resource's properties as read back.
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
	// UndoOf is the fix an undo reverts.
	UndoOf string `json:"undo_of,omitempty"`
}

// FixFilter selects fix records. Empty fields match everything.
type FixFilter struct {
	Since       time.Time
	CheckID     string
	ResourceUID string
	Statuses    []FixStatus
	Limit       int
}

// FixStore records and lists fixes. Stores implement it next to Store.
type FixStore interface {
	// PutFix records a fix (replacing the record with the same ID).
	PutFix(ctx context.Context, f Fix) error
	// Fix returns one record.
	Fix(ctx context.Context, id string) (Fix, error)
	// Fixes lists records matching f, newest first.
	Fixes(ctx context.Context, f FixFilter) ([]Fix, error)
}
