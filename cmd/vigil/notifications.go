package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/river"
)

func (a *app) notificationsCmd() *cobra.Command {
	var format string
	var limit int
	var failing bool
	cmd := &cobra.Command{
		Use:   "notifications",
		Short: "Show alert deliveries: delivered, waiting, retrying and given up, newest first",
		Long: `Notifications lists the alert jobs of the durable outbox that ` + "`vigil serve`" + ` works:
each alert's channel, state, attempts and last error. A channel that is down
shows its alerts as retryable (River retries with backoff); an alert that can
never be delivered (a 400 from the receiver, a channel removed from the config)
is cancelled, and one that ran out of attempts is discarded.`,
		Example: `  vigil notifications
  vigil notifications --failing
  vigil notifications --format json --limit 500`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			if limit < 1 || limit > 10000 {
				return vigil.Errorf(vigil.EINVALID, "--limit %d: want 1 to 10000", limit)
			}
			store, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			q, err := river.Open(cmd.Context(), store, river.Options{})
			if err != nil {
				return err
			}
			ds, err := q.Deliveries(cmd.Context(), limit, failing)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if ds == nil {
					ds = []river.Delivery{}
				}
				return enc.Encode(ds)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CREATED\tCHANNEL\tSTATE\tATTEMPTS\tKIND\tTITLE\tLAST ERROR")
			nfail := 0
			for _, d := range ds {
				if d.Failing() {
					nfail++
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", d.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"), d.Alert.Channel,
					d.State, d.Attempt, d.MaxAttempts, d.Alert.Kind, truncate(d.Alert.Title, 60), truncate(shortError(d.LastError), 90))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d notifications, %d failing\n", len(ds), nfail)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "table", "table or json")
	fl.IntVar(&limit, "limit", 100, "at most this many, newest first")
	fl.BoolVar(&failing, "failing", false, "only those retrying or given up")
	return cmd
}

// shortError drops the "deliver KEY on CHANNEL (attempt N): " prefix of a
// delivery error, which the other columns already say.
func shortError(s string) string {
	if strings.HasPrefix(s, "deliver ") {
		if _, rest, ok := strings.Cut(s, "): "); ok {
			return rest
		}
	}
	return s
}
