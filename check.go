package vigil

import (
	"fmt"
	"strings"
	"time"
)

// Severity ranks how bad a failing check is.
type Severity string

// Severities from worst to mildest.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Rank orders severities: critical is 5, info 1, anything else 0.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 5
	case High:
		return 4
	case Medium:
		return 3
	case Low:
		return 2
	case Info:
		return 1
	}
	return 0
}

// ParseSeverity parses a severity name, case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", Errorf(EINVALID, "unknown severity %q (want critical, high, medium, low or info)", s)
	}
	return v, nil
}

// Check is a best-practice rule over one resource type. Its Assert is a CEL
// expression that is true when the resource passes.
type Check struct {
	ID           string              `json:"id" yaml:"id"`
	Title        string              `json:"title" yaml:"title"`
	Description  string              `json:"description,omitempty" yaml:"description"`
	Severity     Severity            `json:"severity" yaml:"severity"`
	Category     string              `json:"category" yaml:"category"`
	ResourceType string              `json:"resource" yaml:"resource"`
	Assert       string              `json:"assert" yaml:"assert"`
	Reason       string              `json:"reason,omitempty" yaml:"reason"`
	Remediation  string              `json:"remediation,omitempty" yaml:"remediation"`
	Fix          string              `json:"fix,omitempty" yaml:"-"`
	Frameworks   map[string][]string `json:"frameworks,omitempty" yaml:"frameworks"`
	Source       string              `json:"source,omitempty" yaml:"-"`
}

// Status is the outcome of one check on one resource.
type Status string

// Statuses. Error means Vigil could not decide, for instance because a
// property the check reads could not be collected; it is never a pass.
const (
	StatusPass  Status = "pass"
	StatusFail  Status = "fail"
	StatusError Status = "error"
	StatusMuted Status = "muted"
)

// ParseStatus parses a status name.
func ParseStatus(s string) (Status, error) {
	switch v := Status(strings.ToLower(s)); v {
	case StatusPass, StatusFail, StatusError, StatusMuted:
		return v, nil
	}
	return "", fmt.Errorf("unknown status %q (want pass, fail, error or muted)", s)
}

// Result is the latest status of one check on one resource. Failing results
// are findings. ResourceType is the check's resource type, also when a failed
// listing puts the result on the account or region resource instead.
type Result struct {
	CheckID      string     `json:"check_id"`
	ResourceUID  string     `json:"resource_uid"`
	ResourceType string     `json:"resource_type"`
	Provider     Provider   `json:"provider"`
	Account      string     `json:"account"`
	Region       string     `json:"region"`
	Severity     Severity   `json:"severity"`
	Status       Status     `json:"status"`
	Reason       string     `json:"reason"`
	FirstSeen    time.Time  `json:"first_seen"`
	StatusSince  time.Time  `json:"status_since"`
	LastSeen     time.Time  `json:"last_seen"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	ScanID       string     `json:"scan_id,omitempty"`
}

// FindingID is the short, stable id of a (check, resource) pair printed by
// scans, so that a finding can be named on the command line.
func (r Result) FindingID() string { return FindingID(r.CheckID, r.ResourceUID) }
