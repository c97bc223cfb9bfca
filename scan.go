package vigil

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// FindingID returns the short stable id of the finding of check on resource uid.
func FindingID(checkID, uid string) string {
	sum := sha256.Sum256([]byte(checkID + "\x00" + uid))
	return "f-" + hex.EncodeToString(sum[:5])
}

// Scan is one run of collection and evaluation over a set of accounts.
type Scan struct {
	ID         string      `json:"id"`
	StartedAt  time.Time   `json:"started_at"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	Status     string      `json:"status"` // running, succeeded, partial, failed
	Accounts   []string    `json:"accounts"`
	Stats      ScanStats   `json:"stats"`
	ReadErrors []ReadError `json:"read_errors,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// ScanStats counts what a scan did.
type ScanStats struct {
	Resources int              `json:"resources"`
	Changed   int              `json:"changed"`
	Deleted   int              `json:"deleted"`
	APICalls  int64            `json:"api_calls"`
	Results   map[Status]int   `json:"results"`
	Findings  map[Severity]int `json:"findings"`
}

// Scope is one listing a scan performed successfully: every resource of Type
// in Account and Region (Region "" for a global listing) was seen, so those
// not seen are gone.
type Scope struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Type    string `json:"type"`
}
