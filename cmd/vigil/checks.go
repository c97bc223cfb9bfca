package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

func (a *app) checksCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "checks",
		Short: "List, show, validate and test checks",
		Long: `Checks are YAML files with a CEL assertion (see docs/checks.md). Vigil ships
built-in checks; --checks-dir adds your own, which must not reuse a built-in id.`,
	}
	cmd.PersistentFlags().StringArrayVar(&a.checkDirs, "checks-dir", nil, "directory of custom checks to add (repeatable)")
	cmd.AddCommand(a.checksListCmd(), a.checksShowCmd(), a.checksValidateCmd(), a.checksTestCmd())
	return cmd
}

func (a *app) checksListCmd() *cobra.Command {
	var resource, framework, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List checks",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			set, err := a.loadChecks()
			if err != nil {
				return err
			}
			var shown []*policy.Check
			for _, c := range set.Checks() {
				if resource != "" && c.ResourceType != resource {
					continue
				}
				if framework != "" && len(c.Frameworks[framework]) == 0 {
					continue
				}
				shown = append(shown, c)
			}
			if format == "json" {
				out := make([]vigil.Check, len(shown))
				for i, c := range shown {
					out[i] = c.Check
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tRESOURCE\tFRAMEWORKS\tTITLE")
			for _, c := range shown {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Severity, c.ResourceType, frameworks(c.Frameworks), c.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d checks\n", len(shown))
			return nil
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "only checks of this resource type")
	cmd.Flags().StringVar(&framework, "framework", "", "only checks mapped to this framework, e.g. cis-aws-3.0")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func frameworks(m map[string][]string) string {
	var parts []string
	for fw, ids := range m {
		parts = append(parts, fw+":"+strings.Join(ids, "/"))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func (a *app) checksShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show CHECK-ID",
		Short: "Show a check in full",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			set, err := a.loadChecks()
			if err != nil {
				return err
			}
			c, ok := set.Get(args[0])
			if !ok {
				return vigil.Errorf(vigil.ENOTFOUND, "unknown check id %s (see `vigil checks list`)", args[0])
			}
			w := a.stdout
			fmt.Fprintf(w, "%s\n  %s\n\n", c.ID, c.Title)
			fmt.Fprintf(w, "Resource:    %s\nSeverity:    %s\nCategory:    %s\nSource:      %s\n", c.ResourceType, c.Severity, c.Category, c.Source)
			if c.Fix != "" {
				fmt.Fprintf(w, "Fix action:  %s\n", c.Fix)
			}
			if fw := frameworks(c.Frameworks); fw != "" {
				fmt.Fprintf(w, "Frameworks:  %s\n", fw)
			}
			if c.Description != "" {
				fmt.Fprintf(w, "\n%s\n", c.Description)
			}
			if c.When != "" {
				fmt.Fprintf(w, "\nApplies when: %s\n", strings.TrimSpace(c.When))
			}
			fmt.Fprintf(w, "\nPasses when:  %s\n", strings.TrimSpace(c.Assert))
			fmt.Fprintf(w, "Reads:        %s\n", strings.Join(c.Reads(), ", "))
			if c.Remediation != "" {
				fmt.Fprintf(w, "\nRemediation:\n  %s\n", c.Remediation)
			}
			fmt.Fprintf(w, "\nFixtures: %d\n", len(c.Tests))
			return nil
		},
	}
}

func (a *app) checksValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Load and compile every check; report each problem with file, line and column",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			set, err := a.loadChecks()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%d checks valid\n", set.Len())
			return nil
		},
	}
}

func (a *app) checksTestCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test [CHECK-ID...]",
		Short: "Run checks' fixtures (tests: in each check file)",
		RunE: func(_ *cobra.Command, args []string) error {
			set, err := a.loadChecks()
			if err != nil {
				return err
			}
			if len(args) == 0 && len(a.checkDirs) > 0 {
				// With custom checks, test those by default.
				for _, c := range set.Checks() {
					if !strings.HasPrefix(c.Source, "builtin:") {
						args = append(args, c.ID)
					}
				}
			}
			sel, err := set.Select(args, "")
			if err != nil {
				return err
			}
			passed, failed, missing := 0, 0, 0
			for _, c := range sel.Checks() {
				if len(c.Tests) == 0 {
					missing++
					fmt.Fprintf(a.stdout, "?    %s: no fixtures\n", c.ID)
				}
				for _, r := range c.RunTests() {
					if r.OK {
						passed++
						if verbose {
							fmt.Fprintf(a.stdout, "ok   %s / %s: %s\n", c.ID, r.Test.Name, r.GotWord())
						}
						continue
					}
					failed++
					fmt.Fprintf(a.stdout, "FAIL %s / %s (%s): got %s (%s), want %s\n", c.ID, r.Test.Name, c.Source, r.GotWord(), r.Got.Reason, r.Test.Want)
				}
			}
			fmt.Fprintf(a.stdout, "%d checks, %d fixtures passed, %d failed, %d checks without fixtures\n", sel.Len(), passed, failed, missing)
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d fixtures failed", failed)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every fixture")
	return cmd
}
