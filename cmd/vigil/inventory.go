package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
)

func (a *app) inventoryCmd() *cobra.Command {
	var f vigil.ResourceFilter
	var format string
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "List the resources of the last scans",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			store, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			rs, err := store.Resources(cmd.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if rs == nil {
					rs = []vigil.Resource{}
				}
				return enc.Encode(rs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tNAME\tREGION\tACCOUNT\tCOLLECTED\tUID")
			for _, r := range rs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Type, truncate(r.Name, 40), r.Region, r.Account,
					r.CollectedAt.Format("2006-01-02 15:04"), r.UID)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d resources\n", len(rs))
			return nil
		},
	}
	cmd.Flags().StringVar(&f.Type, "type", "", "only this resource type, e.g. aws.s3.bucket")
	cmd.Flags().StringVar(&f.Account, "account", "", "only this account id")
	cmd.Flags().StringVar(&f.Region, "region", "", "only this region")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func (a *app) historyCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history UID",
		Short: "Show a resource's configuration versions with their diffs, actors and events",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			// text is what table was called before; scripts may still say it.
			if format != "table" && format != "text" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			store, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			vs, err := store.Versions(cmd.Context(), args[0])
			if err != nil {
				if vigil.ErrorCode(err) == vigil.ENOTFOUND {
					return vigil.Errorf(vigil.ENOTFOUND, "no resource %s in %s (see `vigil inventory`)", args[0], a.dbPath)
				}
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(vs)
			}
			for _, v := range vs {
				state := "changed"
				switch {
				case v.Deleted:
					state = "deleted"
				case v.Seq == 1:
					state = "first seen"
				}
				actor := ""
				if v.Actor != "" {
					actor = " by " + v.Actor
				}
				if v.Cause != nil && v.Cause.EventName != "" {
					actor += "  event " + v.Cause.EventName
					if v.Cause.EventID != "" {
						actor += " (" + v.Cause.EventID + ")"
					}
				}
				fmt.Fprintf(a.stdout, "version %d  %s  %s%s  (scan %s)\n", v.Seq, v.ObservedAt.UTC().Format("2006-01-02 15:04:05Z"), state, actor, v.ScanID)
				for _, d := range v.Diff {
					switch d.Op {
					case "add":
						fmt.Fprintf(a.stdout, "  + %s: %s\n", d.Path, compact(d.New))
					case "remove":
						fmt.Fprintf(a.stdout, "  - %s: %s\n", d.Path, compact(d.Old))
					default:
						fmt.Fprintf(a.stdout, "  ~ %s: %s → %s\n", d.Path, compact(d.Old), compact(d.New))
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return truncate(string(b), 200)
}
