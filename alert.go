package vigil

import "time"

// AlertKind is what an alert is about.
type AlertKind string

// Alert kinds: a configuration change, a finding that opened or reopened,
// and a fix (applied, failed, flapping, held back by a guard).
const (
	AlertChange  AlertKind = "change"
	AlertFinding AlertKind = "finding"
	AlertFix     AlertKind = "fix"
)

// Alert is one message for one channel. It says what happened, who did it,
// why it matters and what Vigil did, in fields each channel renders its own
// way (an email, a Slack message, a Teams card, a webhook body, a
// PagerDuty event).
type Alert struct {
	// Key is the idempotency key: the same cause on the same channel always
	// gives the same key, and a channel drops a key it already accepted.
	Key      string    `json:"key"`
	Rule     string    `json:"rule"`
	Channel  string    `json:"channel"`
	Kind     AlertKind `json:"kind"`
	Severity Severity  `json:"severity"`
	// Title is one line: "S3 bucket logs made public by alice".
	Title string `json:"title"`
	// What happened, in a sentence or two.
	What string `json:"what"`
	// Why it matters: the check's description or the rule's.
	Why string `json:"why,omitempty"`
	// Action is what Vigil did or will do about it ("made the bucket
	// private again and verified it", "nothing: alert only").
	Action   string      `json:"action,omitempty"`
	Resource AlertTarget `json:"resource"`
	// Actor is who made the change, when known.
	Actor *Actor `json:"actor,omitempty"`
	// Diff is the configuration change, for change alerts.
	Diff []DiffOp `json:"diff,omitempty"`
	// CheckID and FindingID name the finding, for finding and fix alerts.
	CheckID   string `json:"check_id,omitempty"`
	FindingID string `json:"finding_id,omitempty"`
	// Fix is the fix record's id and outcome, for fix alerts.
	FixID     string    `json:"fix_id,omitempty"`
	FixStatus FixStatus `json:"fix_status,omitempty"`
	// At is when the cause happened (event time, or observation time).
	At time.Time `json:"at"`
}

// AlertTarget names the resource an alert is about.
type AlertTarget struct {
	UID      string   `json:"uid"`
	Type     string   `json:"type"`
	Name     string   `json:"name,omitempty"`
	Provider Provider `json:"provider,omitempty"`
	Account  string   `json:"account,omitempty"`
	Region   string   `json:"region,omitempty"`
}

// TargetOf returns the AlertTarget naming r.
func TargetOf(r Resource) AlertTarget {
	return AlertTarget{UID: r.UID, Type: r.Type, Name: r.Name, Provider: r.Provider, Account: r.Account, Region: r.Region}
}
