package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
)

// maxChanges is the store's limit on one listing of changes.
const maxChanges = 10_000

func (a *app) changesCmd() *cobra.Command {
	var f vigil.ChangeFilter
	var since, until, format string
	cmd := &cobra.Command{
		Use:   "changes",
		Short: "List configuration changes, newest first, with who made them",
		Long: "List resource versions (creations, changes and deletions), newest first, with the\n" +
			"actor and the event that caused them when an event told (\"scan\" when a scan found it).",
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			now := time.Now()
			var err error
			if f.Since, err = parseWhen("--since", since, now); err != nil {
				return err
			}
			if f.Until, err = parseWhen("--until", until, now); err != nil {
				return err
			}
			if f.Limit < 0 || f.Limit > maxChanges {
				return vigil.Errorf(vigil.EINVALID, "--limit %d: want 1 to %d", f.Limit, maxChanges)
			}
			store, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			vs, err := store.Changes(cmd.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if vs == nil {
					vs = []vigil.Version{}
				}
				return enc.Encode(vs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tTYPE\tNAME\tCHANGE\tACTOR\tEVENT")
			for _, v := range vs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.ObservedAt.UTC().Format("2006-01-02 15:04:05Z"),
					v.Resource.Type, clip(v.Resource.Name, 40), changeSummary(v), shortActor(v.Actor), eventName(v.Cause))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(vs) == 1 {
				fmt.Fprintln(a.stdout, "\n1 change")
			} else {
				fmt.Fprintf(a.stdout, "\n%d changes\n", len(vs))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only changes at or after this time: a duration back from now (24h, 7d) or a time (RFC 3339 or 2006-01-02)")
	fl.StringVar(&until, "until", "", "only changes before this time, written as for --since")
	fl.StringVar(&f.Type, "type", "", "only this resource type; * matches any text, e.g. aws.s3.*")
	fl.StringVar(&f.Actor, "actor", "", "only changes whose actor's ARN contains this text, ignoring case (e.g. alice)")
	fl.StringVar(&f.Account, "account", "", "only this account id")
	fl.StringVar(&f.UID, "uid", "", "only this resource")
	fl.IntVar(&f.Limit, "limit", 100, fmt.Sprintf("at most this many changes (up to %d)", maxChanges))
	fl.StringVar(&format, "format", "table", "table or json")
	return cmd
}

// parseWhen reads the time of flag name: "" is none, a duration (with d for
// days) is that long before now, otherwise an RFC 3339 time or a date (UTC).
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, vigil.Errorf(vigil.EINVALID,
		"%s %q: want a duration such as 24h or 7d, or a time such as 2025-03-04T05:06:07Z or 2025-03-04", name, s)
}

// parseAgo parses a non-negative duration, also in whole days ("7d").
func parseAgo(s string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}

// changeSummary says in a few words what a version changed: one
// operation of its diff (the first between scalars, such as a derived
// verdict flipping, else the first), with property paths relative to the
// properties.
func changeSummary(v vigil.Version) string {
	switch {
	case v.Deleted:
		return "deleted"
	case v.Seq == 1:
		return "created"
	case len(v.Diff) == 0:
		return "restored"
	}
	d := v.Diff[0]
	for _, op := range v.Diff {
		if scalar(op.Old) && scalar(op.New) {
			d = op
			break
		}
	}
	path := d.Path
	if p, ok := strings.CutPrefix(path, "/properties/"); ok {
		path = "/" + p
	}
	var s string
	switch d.Op {
	case "add":
		s = path + " ∅→" + clip(compact(d.New), 24)
	case "remove":
		s = path + " " + clip(compact(d.Old), 24) + "→∅"
	default:
		s = path + " " + clip(compact(d.Old), 24) + "→" + clip(compact(d.New), 24)
	}
	if n := len(v.Diff) - 1; n > 0 {
		s += fmt.Sprintf("; +%d more", n)
	}
	return s
}

// scalar reports whether a diff value is a plain value, not an object or list.
func scalar(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}

// shortActor is an actor ARN without its partition, service and account
// ("user/alice", "assumed-role/Admin/alice"); "scan" when none.
func shortActor(arn string) string {
	if arn == "" {
		return "scan"
	}
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 && parts[0] == "arn" && parts[5] != "" {
		return clip(parts[5], 40)
	}
	return clip(arn, 40)
}

func eventName(c *vigil.Cause) string {
	if c == nil || c.EventName == "" {
		return "-"
	}
	return c.EventName
}

// clip shortens s to at most n characters, ending with an ellipsis when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
