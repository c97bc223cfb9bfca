// Package report renders scan results for people (a table) and machines
// (JSON, CSV, OCSF). The JSON form is a stable, documented contract: see
// docs/output.md.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilsec/vigil"
)

// Formats lists the output formats.
var Formats = []string{"table", "json", "csv", "ocsf"}

// SchemaVersion is the version of the JSON output; it changes only when a
// field is removed or changes meaning.
const SchemaVersion = "1"

// CheckInfo is what a report shows of a check besides its result.
type CheckInfo struct {
	Title       string
	Remediation string
	Frameworks  map[string][]string
}

// Report is a finished scan with its results.
type Report struct {
	Scan    vigil.Scan
	Results []vigil.Result
	Checks  map[string]CheckInfo
	// Names maps resource uids to names, for display.
	Names map[string]string
	// Width, when positive, is the terminal width the table fits into by
	// shortening reasons.
	Width int
}

// Write renders the report in a format.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "table", "":
		return r.table(w)
	case "json":
		return r.json(w)
	case "csv":
		return r.csv(w)
	case "ocsf":
		return r.ocsf(w)
	}
	return vigil.Errorf(vigil.EINVALID, "unknown format %q (want %s)", format, strings.Join(Formats, ", "))
}

// jsonResult is one result in the JSON output.
type jsonResult struct {
	FindingID    string              `json:"finding_id"`
	CheckID      string              `json:"check_id"`
	Title        string              `json:"title"`
	Severity     vigil.Severity      `json:"severity"`
	Status       vigil.Status        `json:"status"`
	Reason       string              `json:"reason"`
	ResourceUID  string              `json:"resource_uid"`
	ResourceType string              `json:"resource_type"`
	ResourceName string              `json:"resource_name,omitempty"`
	Provider     vigil.Provider      `json:"provider"`
	Account      string              `json:"account"`
	Region       string              `json:"region"`
	FirstSeen    time.Time           `json:"first_seen"`
	StatusSince  time.Time           `json:"status_since"`
	Frameworks   map[string][]string `json:"frameworks,omitempty"`
	Remediation  string              `json:"remediation,omitempty"`
}

func (r *Report) jsonResults() []jsonResult {
	out := make([]jsonResult, 0, len(r.Results))
	for _, x := range r.Results {
		ci := r.Checks[x.CheckID]
		out = append(out, jsonResult{FindingID: x.FindingID(), CheckID: x.CheckID, Title: ci.Title,
			Severity: x.Severity, Status: x.Status, Reason: x.Reason, ResourceUID: x.ResourceUID,
			ResourceType: x.ResourceType, ResourceName: r.Names[x.ResourceUID], Provider: x.Provider,
			Account: x.Account, Region: x.Region, FirstSeen: x.FirstSeen, StatusSince: x.StatusSince,
			Frameworks: ci.Frameworks, Remediation: ci.Remediation})
	}
	return out
}

func (r *Report) json(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	errs := r.Scan.ReadErrors
	if errs == nil {
		errs = []vigil.ReadError{}
	}
	return enc.Encode(struct {
		Schema     string            `json:"schema"`
		Scan       vigil.Scan        `json:"scan"`
		Results    []jsonResult      `json:"results"`
		ReadErrors []vigil.ReadError `json:"read_errors"`
	}{SchemaVersion, withoutErrors(r.Scan), r.jsonResults(), errs})
}

func withoutErrors(s vigil.Scan) vigil.Scan {
	s.ReadErrors = nil
	return s
}

func (r *Report) csv(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"finding_id", "check_id", "severity", "status", "account", "region",
		"resource_type", "resource_uid", "resource_name", "reason", "title"})
	for _, x := range r.jsonResults() {
		_ = cw.Write([]string{x.FindingID, x.CheckID, string(x.Severity), string(x.Status), x.Account,
			x.Region, x.ResourceType, x.ResourceUID, x.ResourceName, x.Reason, x.Title})
	}
	cw.Flush()
	return cw.Error()
}

// table prints the findings (fail and error), worst first, then the summary.
func (r *Report) table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var shown []vigil.Result
	for _, x := range r.Results {
		if x.Status == vigil.StatusFail || x.Status == vigil.StatusError {
			shown = append(shown, x)
		}
	}
	sort.SliceStable(shown, func(i, j int) bool {
		a, b := shown[i], shown[j]
		if a.Status != b.Status {
			return a.Status == vigil.StatusFail
		}
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.CheckID != b.CheckID {
			return a.CheckID < b.CheckID
		}
		return a.ResourceUID < b.ResourceUID
	})
	if len(shown) > 0 {
		name := func(x vigil.Result) string {
			if n := r.Names[x.ResourceUID]; n != "" {
				return truncate(n, 40)
			}
			return truncate(x.ResourceUID, 40)
		}
		// The reason column gets what the terminal leaves it.
		reasonWidth := 100
		if r.Width > 0 {
			// tabwriter pads each column to its widest cell plus 2.
			var check, res, region int
			for _, x := range shown {
				check = max(check, len(x.CheckID))
				res = max(res, len([]rune(name(x))))
				region = max(region, len(x.Region))
			}
			fixed := len("critical  ") + len("STATUS  ") + len("f-0123456789  ") + check + res + region + 6
			reasonWidth = max(24, r.Width-fixed-1)
		}
		fmt.Fprintln(tw, "SEVERITY\tSTATUS\tID\tCHECK\tRESOURCE\tREGION\tREASON")
		for _, x := range shown {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Severity, strings.ToUpper(string(x.Status)),
				x.FindingID(), x.CheckID, name(x), x.Region, truncate(x.Reason, reasonWidth))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return r.summary(w)
}

// Summary prints the scan's counts by status and severity and every failed
// read, without the findings table.
func (r *Report) Summary(w io.Writer) error { return r.summary(w) }

// summary prints counts by status and severity and every failed read.
func (r *Report) summary(w io.Writer) error {
	s := r.Scan
	dur := ""
	if s.FinishedAt != nil {
		dur = " in " + s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "Scan %s %s%s: %d resources (%d changed, %d deleted), %d API calls, accounts %s\n",
		s.ID, s.Status, dur, s.Stats.Resources, s.Stats.Changed, s.Stats.Deleted, s.Stats.APICalls,
		strings.Join(s.Accounts, ", "))
	counts := map[vigil.Status]int{}
	sev := map[vigil.Severity]int{}
	for _, x := range r.Results {
		counts[x.Status]++
		if x.Status == vigil.StatusFail {
			sev[x.Severity]++
		}
	}
	fmt.Fprintf(w, "Results: %d pass, %d fail, %d error, %d muted\n",
		counts[vigil.StatusPass], counts[vigil.StatusFail], counts[vigil.StatusError], counts[vigil.StatusMuted])
	fmt.Fprintf(w, "Findings by severity: %d critical, %d high, %d medium, %d low, %d info\n",
		sev[vigil.Critical], sev[vigil.High], sev[vigil.Medium], sev[vigil.Low], sev[vigil.Info])
	if len(s.ReadErrors) > 0 {
		fmt.Fprintf(w, "Reads that failed (%d) — checks that need this data report error, never pass:\n", len(s.ReadErrors))
		for _, e := range s.ReadErrors {
			where := e.Region
			if e.UID != "" && e.Property != "" {
				where = e.UID
			}
			what := e.Type
			if e.Property != "" {
				what += "." + e.Property
			} else if e.Type != "" {
				what += " (listing)"
			}
			fmt.Fprintf(w, "  %s %s %s: %s\n", e.Account, where, what, e.String())
		}
	}
	if s.Error != "" {
		fmt.Fprintf(w, "Errors: %s\n", s.Error)
	}
	return nil
}

// truncate shortens s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ocsf writes one OCSF v1.1 Compliance Finding (class 2003) per non-passing
// and passing result, as a JSON array.
func (r *Report) ocsf(w io.Writer) error {
	type obj = map[string]any
	out := make([]obj, 0, len(r.Results))
	for _, x := range r.jsonResults() {
		status, statusID := "Fail", 3
		switch x.Status {
		case vigil.StatusPass:
			status, statusID = "Pass", 1
		case vigil.StatusError:
			status, statusID = "Unknown", 0
		case vigil.StatusMuted:
			status, statusID = "Other", 99
		}
		var standards []string
		for fw := range x.Frameworks {
			standards = append(standards, fw)
		}
		sort.Strings(standards)
		out = append(out, obj{
			"class_uid": 2003, "class_name": "Compliance Finding", "category_uid": 2, "category_name": "Findings",
			"activity_id": 1, "type_uid": 200301, "time": r.Scan.StartedAt.UnixMilli(),
			"severity": ocsfSeverity(x.Severity), "severity_id": severityID(x.Severity),
			"status": "New", "status_id": 1, "message": x.Reason,
			"metadata":     obj{"version": "1.1.0", "product": obj{"name": "Vigil", "vendor_name": "Vigil"}},
			"finding_info": obj{"uid": x.FindingID, "title": x.Title, "types": []string{x.CheckID}},
			"compliance":   obj{"status": status, "status_id": statusID, "control": x.CheckID, "standards": standards},
			"resources": []obj{{"uid": x.ResourceUID, "type": x.ResourceType, "name": x.ResourceName, "region": x.Region,
				"cloud_partition": "aws", "owner": obj{"account": obj{"uid": x.Account}}}},
			"cloud":       obj{"provider": strings.ToUpper(string(x.Provider)), "region": x.Region, "account": obj{"uid": x.Account}},
			"remediation": obj{"desc": x.Remediation},
			"unmapped":    obj{"vigil_status": string(x.Status), "first_seen": x.FirstSeen.Format(time.RFC3339)},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ocsfSeverity is the OCSF caption of a severity: "Critical", …, or
// "Unknown" for a severity Vigil does not know (such as an empty one read
// back from a store), which must not break the report.
func ocsfSeverity(s vigil.Severity) string {
	if s.Rank() == 0 {
		return "Unknown"
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

func severityID(s vigil.Severity) int {
	switch s {
	case vigil.Info:
		return 1
	case vigil.Low:
		return 2
	case vigil.Medium:
		return 3
	case vigil.High:
		return 4
	case vigil.Critical:
		return 5
	}
	return 0
}
