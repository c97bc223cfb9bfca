package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	azurecol "github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/report"
	"github.com/vigilsec/vigil/scan"
)

type scanFlags struct {
	azure                                             azureFlags
	profiles, roles, regions, services, checks, rates []string
	externalID, endpoint, severity, format, output    string
	mutes                                             string
	failOn                                            string
	trustedAccounts, orgIDs                           []string
	concurrency                                       int
	progress                                          string
}

func (a *app) scanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Collect AWS and Azure resources, evaluate checks and report findings",
		Long: `Scan collects every resource of the selected AWS accounts, regions and services
(and, with --provider azure, Azure subscriptions), stores the inventory and its
history, evaluates the checks and prints the findings.

AWS credentials come from the standard AWS chain (environment, shared config and
credentials files, SSO, container and instance roles). Use read-only credentials:
the AWS managed policies SecurityAudit and ViewOnlyAccess cover every read Vigil makes.
Azure credentials come from azidentity's default chain (environment, workload
identity, managed identity, Azure CLI); the role deploy/azure/vigil-reader-role.json
(or the built-in Reader) covers every read.

A read that fails (access denied, throttled, service not enabled) is listed in
the summary, and every check that needs that data reports error, never pass.

Exit codes: 0 done, 1 error, 2 bad usage, 3 a finding at or above --fail-on.`,
		Example: `  vigil scan
  vigil scan --profile prod --regions eu-west-1,us-east-1 --severity high
  vigil scan --profile audit --role-arn arn:aws:iam::111122223333:role/VigilRead,arn:aws:iam::444455556666:role/VigilRead
  vigil scan --format json --output findings.json --fail-on high
  vigil scan --provider aws,azure --subscriptions 9f0c2b7e-4d61-4a8e-b3a5-2c7d1e6f8a90`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.scan(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	f.azure.register(fl, true)
	fl.StringSliceVar(&f.profiles, "profile", nil, "AWS shared-config profile(s), comma-separated: one account each (default: the standard chain)")
	fl.StringSliceVar(&f.roles, "role-arn", nil, "IAM role(s) to assume, comma-separated: one account each")
	fl.StringVar(&f.externalID, "external-id", "", "external id for --role-arn")
	fl.StringSliceVar(&f.regions, "regions", nil, "regions to scan (default: the account's enabled regions)")
	fl.StringSliceVar(&f.services, "services", nil, "services to scan (default all: "+strings.Join(awscol.Services(), ",")+")")
	fl.StringSliceVar(&f.checks, "checks", nil, "check ids to evaluate (default all)")
	fl.StringArrayVar(&a.checkDirs, "checks-dir", nil, "directory of custom checks to add (repeatable)")
	fl.StringVar(&f.mutes, "mutes", os.Getenv("VIGIL_MUTES"), "YAML file of mutes: matching findings are reported as muted (env VIGIL_MUTES)")
	fl.StringVar(&f.severity, "severity", "", "evaluate only checks at or above this severity")
	fl.StringVar(&f.format, "format", "table", "output format: "+strings.Join(report.Formats, ", "))
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of stdout")
	fl.StringVar(&f.failOn, "fail-on", "", "exit 3 if a finding at or above this severity exists")
	fl.StringVar(&f.endpoint, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "send all AWS API calls to this URL, e.g. an emulator (env AWS_ENDPOINT_URL)")
	fl.StringSliceVar(&f.rates, "rate", nil, "requests per second per region for a service, e.g. iam=5,ec2=10")
	fl.IntVar(&f.concurrency, "concurrency", 16, "region × service tasks run at once per account")
	fl.StringVar(&f.progress, "progress", "auto", "live progress on stderr: auto (when a terminal), always, never")
	fl.StringSliceVar(&f.trustedAccounts, "trusted-accounts", nil, "accounts that cross-account checks treat as trusted, besides the scanned account itself")
	fl.StringSliceVar(&f.orgIDs, "org-id", nil, "AWS Organizations id(s) (o-…) whose members cross-account checks treat as trusted")
	return cmd
}

func (a *app) scan(ctx context.Context, f scanFlags) error {
	// Validate everything before touching the cloud or the database.
	if !contains(report.Formats, f.format) {
		return vigil.Errorf(vigil.EINVALID, "unknown format %q (want %s)", f.format, strings.Join(report.Formats, ", "))
	}
	if !contains([]string{"auto", "always", "never"}, f.progress) {
		return vigil.Errorf(vigil.EINVALID, "--progress %q: want auto, always or never", f.progress)
	}
	var failOn vigil.Severity
	var err error
	if f.failOn != "" {
		if failOn, err = vigil.ParseSeverity(f.failOn); err != nil {
			return fmt.Errorf("--fail-on: %w", err)
		}
	}
	st, err := a.setup(f.severity, f.checks, f.rates, f.trustedAccounts, f.orgIDs, f.mutes)
	if err != nil {
		return err
	}
	all, checks, mutes, trust, rates, actions, cfg := st.all, st.checks, st.mutes, st.trust, st.rates, st.actions, st.cfg
	// Always Fix runs after the scan when the config enables it, unless
	// VIGIL_AUTOFIX is the emergency off switch.
	autofix := st.autofix
	if autofix {
		if _, err := notifier(cfg, actions); err != nil {
			return err
		}
	}
	providers, err := parseProviders(splitList(f.azure.providers))
	if err != nil {
		return err
	}
	col, err := awscol.New(awscol.Options{Endpoint: f.endpoint, Regions: splitList(f.regions),
		Services: splitList(f.services), Rates: rates, Concurrency: f.concurrency, Logger: a.logger()})
	if err != nil {
		return err
	}
	var az *azurecol.Collector
	if providers[vigil.Azure] {
		if az, err = a.azureCollector(f.azure, f.concurrency); err != nil {
			return err
		}
	}
	// The output file is the last flag checked, before the first API call.
	out := a.stdout
	if f.output != "" {
		file, err := os.Create(f.output)
		if err != nil {
			return vigil.Errorf(vigil.EINVALID, "--output: %v", err)
		}
		defer func() { _ = file.Close() }()
		out = file
	}
	var accounts []vigil.Account
	collectors := map[vigil.Provider]vigil.Collector{}
	if providers[vigil.AWS] {
		if accounts, err = a.resolveAccounts(ctx, col, splitList(f.profiles), splitList(f.roles), f.externalID); err != nil {
			return err
		}
		collectors[vigil.AWS] = col
	}
	if az != nil {
		subs, err := az.Resolve(ctx, splitList(f.azure.subscriptions))
		if err != nil {
			return err
		}
		accounts = append(accounts, subs...)
		collectors[vigil.Azure] = az
	}

	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	prog := newProgress(a.stderr, f.progress == "always" || (f.progress == "auto" && isTerminal(a.stderr)))
	runner := scan.New(scan.Options{Store: store, Collectors: collectors,
		Checks: checks, Mutes: mutes, Trust: trust, Progress: prog.update, Logger: a.logger()})
	prog.start()
	sc, runErr := runner.Run(ctx, accounts)
	prog.stop()
	if sc.ID == "" || (runErr != nil && sc.FinishedAt == nil) {
		return runErr
	}
	rep, err := buildReport(ctx, store, checks, sc)
	if err != nil {
		return err
	}
	if f.output == "" {
		rep.Width = terminalWidth(a.stdout)
	}
	if err := rep.Write(out, f.format); err != nil {
		return err
	}
	if f.output != "" {
		// Keep the human summary on the terminal when the report goes to a file.
		_ = rep.Summary(a.stderr)
	}
	switch {
	case autofix && ctx.Err() == nil:
		// Failed fixes are printed and emailed; the findings alone drive
		// the exit code. An error (store, credentials) is an error.
		if err := a.alwaysFix(ctx, cfg, col, az, f.azure.cloud, accounts, store, all, trust, mutes, sc.ID); err != nil {
			return errors.Join(runErr, err)
		}
	case cfg.autofix.Enabled && autofixKilled():
		fmt.Fprintf(a.stderr, "\nAlways Fix disabled by %s=%s\n", autofixKillSwitchEnv, os.Getenv(autofixKillSwitchEnv))
	}
	if runErr != nil {
		return runErr
	}
	if failOn != "" {
		for _, r := range rep.Results {
			if r.Status == vigil.StatusFail && r.Severity.Rank() >= failOn.Rank() {
				return &exitError{code: 3, err: fmt.Errorf("findings at or above %s", failOn)}
			}
		}
	}
	return nil
}

// setup is what scan and serve check and load before touching the cloud
// or the database: checks, mutes, trust, rates, the fix actions and the
// config file.
type setup struct {
	all, checks *policy.Set
	mutes       *policy.Mutes
	trust       policy.Trust
	rates       map[string]float64
	actions     *fix.Registry
	cfg         *fileConfig
	// autofix: the config enables Always Fix and the kill switch is not
	// thrown; remediation credentials are then configured.
	autofix bool
}

func (a *app) setup(severity string, checkIDs, rateFlags, trusted, orgIDs []string, mutesPath string) (*setup, error) {
	var minSev vigil.Severity
	if severity != "" {
		var err error
		if minSev, err = vigil.ParseSeverity(severity); err != nil {
			return nil, fmt.Errorf("--severity: %w", err)
		}
	}
	st := &setup{}
	var err error
	if st.rates, err = parseRates(splitList(rateFlags)); err != nil {
		return nil, err
	}
	if st.trust, err = scanTrust(splitList(trusted), splitList(orgIDs)); err != nil {
		return nil, err
	}
	if st.all, err = a.loadChecks(); err != nil {
		return nil, err
	}
	if st.checks, err = st.all.Select(splitList(checkIDs), minSev); err != nil {
		return nil, err
	}
	if mutesPath != "" {
		if st.mutes, err = policy.LoadMutes(mutesPath); err != nil {
			return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid mutes", Err: err}
		}
	}
	if st.actions, err = actionRegistry(); err != nil {
		return nil, err
	}
	if st.cfg, err = a.loadConfig(st.all, st.actions); err != nil {
		return nil, err
	}
	st.autofix = st.cfg.autofix.Enabled && !autofixKilled()
	if st.autofix && st.cfg.remediation == nil && st.cfg.azureRemediation == nil {
		return nil, vigil.Errorf(vigil.EINVALID, "%s enables autofix but configures no remediation credentials: Vigil scans with read-only credentials "+
			"and never changes anything with them; add a remediation section (see docs/config.md)", st.cfg.file)
	}
	return st, nil
}

// resolveAccounts turns profiles and roles into accounts, asking STS who
// each is. Roles are assumed from each profile (or the default chain).
func (a *app) resolveAccounts(ctx context.Context, col *awscol.Collector, profiles, roles []string, externalID string) ([]vigil.Account, error) {
	if len(profiles) == 0 {
		profiles = []string{""}
	}
	var targets []awscol.Target
	for _, p := range profiles {
		if len(roles) == 0 {
			targets = append(targets, awscol.Target{Profile: p})
		}
		for _, r := range roles {
			targets = append(targets, awscol.Target{Profile: p, RoleARN: r, ExternalID: externalID})
		}
	}
	seen := map[string]bool{}
	var accounts []vigil.Account
	for _, t := range targets {
		acct, err := col.Resolve(ctx, t)
		if err != nil {
			return nil, err
		}
		if seen[acct.ID] {
			continue
		}
		seen[acct.ID] = true
		accounts = append(accounts, acct)
	}
	return accounts, nil
}

// buildReport reads a finished scan's results back from the store.
func buildReport(ctx context.Context, store vigil.Store, checks *policy.Set, sc vigil.Scan) (*report.Report, error) {
	results, err := store.Results(ctx, vigil.ResultFilter{ScanID: sc.ID})
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	rep := &report.Report{Scan: sc, Results: results, Checks: map[string]report.CheckInfo{}, Names: map[string]string{}}
	for _, c := range checks.Checks() {
		rep.Checks[c.ID] = report.CheckInfo{Title: c.Title, Remediation: c.Remediation, Frameworks: c.Frameworks}
	}
	for _, acct := range sc.Accounts {
		rs, err := store.Resources(ctx, vigil.ResourceFilter{Account: acct})
		if err != nil {
			return nil, fmt.Errorf("read resources: %w", err)
		}
		for _, r := range rs {
			rep.Names[r.UID] = r.Name
		}
	}
	return rep, nil
}

func parseRates(items []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		r, err := strconv.ParseFloat(v, 64)
		// NaN and infinity parse but are no rate (NaN would also slip
		// past a positivity check).
		if !ok || err != nil || math.IsNaN(r) || math.IsInf(r, 0) {
			return nil, vigil.Errorf(vigil.EINVALID, "--rate %q: want service=requests-per-second, e.g. iam=5", it)
		}
		out[k] = r
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// terminalWidth returns w's width in columns when it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// scanTrust validates --trusted-accounts and --org-id.
func scanTrust(accounts, orgs []string) (policy.Trust, error) {
	for _, a := range accounts {
		if !isAccountID(a) {
			return policy.Trust{}, vigil.Errorf(vigil.EINVALID, "--trusted-accounts: %q is not a 12-digit AWS account id", a)
		}
	}
	for _, o := range orgs {
		if !orgIDPattern.MatchString(o) {
			return policy.Trust{}, vigil.Errorf(vigil.EINVALID, "--org-id: %q is not an AWS Organizations id (o- and 10 to 32 lower-case letters or digits)", o)
		}
	}
	return policy.Trust{Accounts: accounts, OrgIDs: orgs}, nil
}

// parseProviders validates --provider.
func parseProviders(names []string) (map[vigil.Provider]bool, error) {
	out := map[vigil.Provider]bool{}
	for _, n := range names {
		switch p := vigil.Provider(strings.ToLower(strings.TrimSpace(n))); p {
		case vigil.AWS, vigil.Azure:
			out[p] = true
		default:
			return nil, vigil.Errorf(vigil.EINVALID, "--provider %q: want aws or azure (or aws,azure)", n)
		}
	}
	if len(out) == 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "--provider: name at least one of aws, azure")
	}
	return out, nil
}
