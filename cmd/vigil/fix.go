package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/vigilsec/vigil"

	awscol "github.com/vigilsec/vigil/aws"
	azurecol "github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/smtp"
	"github.com/vigilsec/vigil/yamlconf"
)

// fixFlags are the flags of `vigil fix` and its subcommands.
type fixFlags struct {
	check, resource, action, account, region string
	params                                   []string
	yes                                      bool
	mutes                                    string
	trustedAccounts, orgIDs                  []string
	endpoint                                 string
	fixProfile, fixRoleARN, fixExternalID    string
	azure                                    azureFlags
}

var (
	findingIDPattern = regexp.MustCompile(`^f-[0-9a-f]{10}$`)
	fixIDPattern     = regexp.MustCompile(`^x-[0-9a-f]{10}$`)
)

// errNoRemediation is why `vigil fix --yes`, `vigil fix undo` and Always
// Fix refuse to run without remediation credentials.
var errNoRemediation = vigil.Errorf(vigil.EINVALID, "no remediation credentials: Vigil scans with read-only credentials and never changes anything with them; "+
	"set remediation in the config file (--config; remediation.azure for Azure) or pass --fix-profile or --fix-role-arn (see docs/fixes.md)")

func (a *app) fixCmd() *cobra.Command {
	var f fixFlags
	cmd := &cobra.Command{
		Use:   "fix [FINDING]",
		Short: "Plan, apply and undo the fix of a finding (Fix Now)",
		Long: `Fix shows what the fix of a finding would do — the action, its steps, the API calls
with their inputs, whether it can be undone and the IAM permissions it needs — and
changes nothing. With --yes it applies the fix, reads the resource back, evaluates
the check on it and prints the outcome: verified, or failed with the reason.

Name the finding by the id a scan prints (f-…), or by --check and --resource. With
--check alone (and optionally --account, --region, --resource GLOB) it plans every
open failing finding of the check; with --yes it applies them within the Always
Fix guards (exempt tag, mutes, flapping, limits per run and per hour, share of
the resources).

Fixes use the remediation credentials (config remediation, or --fix-profile /
--fix-role-arn; for Azure, remediation.azure), never the scanning ones. Without them, plans are made with the
scanning credentials (reads only) and --yes is refused. Every plan, fix and undo
is recorded: see vigil fixes. See docs/fixes.md.

Exit codes: 0 done, 1 error or a failed fix, 2 bad usage.`,
		Example: `  vigil fix f-3c1d9a07be
  vigil fix f-3c1d9a07be --yes --fix-profile fixer
  vigil fix --check aws-s3-bucket-no-public-read --resource arn:aws:s3:::acme-exports --yes
  vigil fix --check aws-s3-bucket-no-public-read --account 123456789012 --resource 'arn:aws:s3:::acme-*'
  vigil fix --check aws-iam-user-unused-credentials-90-days --param unused_days=120 --yes
  vigil fix undo x-7f3a09c2d1`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error { return a.fix(cmd.Context(), f, args) },
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.endpoint, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "send all AWS API calls to this URL, e.g. an emulator (env AWS_ENDPOINT_URL)")
	pf.StringVar(&f.fixProfile, "fix-profile", "", "shared-config profile of the remediation credentials (overrides the config's remediation)")
	pf.StringVar(&f.fixRoleARN, "fix-role-arn", "", "remediation role to assume; {account} stands for the finding's account")
	pf.StringVar(&f.fixExternalID, "fix-external-id", "", "external id for --fix-role-arn")
	pf.StringArrayVar(&a.checkDirs, "checks-dir", nil, "directory of custom checks to add (repeatable)")
	f.azure.register(pf, false)
	fl := cmd.Flags()
	fl.StringVar(&f.check, "check", "", "check id: with --resource UID one finding, otherwise every open failing finding of the check")
	fl.StringVar(&f.resource, "resource", "", "resource uid (one finding), or a glob over uids and names (with --check, several)")
	fl.StringVar(&f.account, "account", "", "with --check: only findings in this account")
	fl.StringVar(&f.region, "region", "", "with --check: only findings in this region")
	fl.StringVar(&f.action, "action", "", "fix with this action instead of the check's own (one finding; see vigil fix actions)")
	fl.StringArrayVar(&f.params, "param", nil, "action option key=value, the value JSON when it parses as JSON (repeatable)")
	fl.BoolVar(&f.yes, "yes", false, "apply the fix (default: show the plan and change nothing)")
	fl.StringVar(&f.mutes, "mutes", os.Getenv("VIGIL_MUTES"), "YAML file of mutes: with --check --yes, muted findings are not fixed (env VIGIL_MUTES)")
	fl.StringSliceVar(&f.trustedAccounts, "trusted-accounts", nil, "accounts the cross-account checks treat as trusted when verifying (as for scan)")
	fl.StringSliceVar(&f.orgIDs, "org-id", nil, "AWS Organizations id(s) the cross-account checks treat as trusted when verifying")
	cmd.AddCommand(a.fixUndoCmd(&f), a.fixActionsCmd())
	return cmd
}

// fixSetup is what `vigil fix` and `vigil fix undo` validate before
// touching the database or the cloud.
type fixSetup struct {
	checks      *policy.Set
	actions     *fix.Registry // for validation and listing only
	cfg         *fileConfig
	remediation *awscol.Target // nil: none configured
	// azureCred is remediation.azure's credential; nil: none configured.
	azureCred azcore.TokenCredential
	notify    fix.Notifier
	trust     policy.Trust
	mutes     *policy.Mutes
}

// setup loads the checks and the config and resolves the remediation
// credentials: flags first, then the config.
func (a *app) fixSetup(f fixFlags) (*fixSetup, error) {
	s := &fixSetup{}
	var err error
	if s.trust, err = scanTrust(splitList(f.trustedAccounts), splitList(f.orgIDs)); err != nil {
		return nil, err
	}
	if f.mutes != "" {
		if s.mutes, err = policy.LoadMutes(f.mutes); err != nil {
			return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid mutes", Err: err}
		}
	}
	if s.checks, err = a.loadChecks(); err != nil {
		return nil, err
	}
	if s.actions, err = actionRegistry(); err != nil {
		return nil, err
	}
	if s.cfg, err = a.loadConfig(s.checks, s.actions); err != nil {
		return nil, err
	}
	s.remediation = s.cfg.remediation
	if f.fixProfile != "" || f.fixRoleARN != "" || f.fixExternalID != "" {
		if f.fixRoleARN != "" && !roleARNPattern.MatchString(f.fixRoleARN) {
			return nil, vigil.Errorf(vigil.EINVALID, "--fix-role-arn %q: want arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account}, the finding's account)", f.fixRoleARN)
		}
		if f.fixExternalID != "" && f.fixRoleARN == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "--fix-external-id needs --fix-role-arn")
		}
		s.remediation = &awscol.Target{Profile: f.fixProfile, RoleARN: f.fixRoleARN, ExternalID: f.fixExternalID}
	}
	if s.azureCred, err = a.azureRemediationCredential(s.cfg, f.azure.cloud); err != nil {
		return nil, err
	}
	if s.notify, err = notifier(s.cfg, s.actions); err != nil {
		return nil, err
	}
	return s, nil
}

// notifier returns the email notifier of the config, or nil.
func notifier(cfg *fileConfig, actions *fix.Registry) (fix.Notifier, error) {
	if cfg.email == nil {
		return nil, nil
	}
	ec := *cfg.email
	ec.Undoable = func(id string) bool {
		act, ok := actions.Get(id)
		_, undo := act.(fix.Undoer)
		return ok && undo
	}
	n, err := smtp.New(ec)
	if err != nil {
		return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid config " + cfg.file, Err: err}
	}
	return n, nil
}

// fixEnv wires fix.Runners: the scanning collectors re-read resources,
// the remediation credentials (or, for plans only, each account's scanning
// credentials) make the calls.
type fixEnv struct {
	a       *app
	setup   *fixSetup
	store   vigil.Store
	scan    *awscol.Collector
	azure   *azurecol.Collector // nil when no Azure subscription is stored
	accts   []vigil.Account
	runners map[string]*fix.Runner
}

func (a *app) newFixEnv(ctx context.Context, s *fixSetup, store vigil.Store, f fixFlags) (*fixEnv, error) {
	col, err := awscol.New(awscol.Options{Endpoint: f.endpoint, Logger: a.logger()})
	if err != nil {
		return nil, err
	}
	accts, err := store.Accounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	e := &fixEnv{a: a, setup: s, store: store, scan: col, accts: accts, runners: map[string]*fix.Runner{}}
	if len(accountsOf(accts, vigil.Azure)) > 0 {
		if e.azure, err = a.azureCollector(f.azure, 0); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// provider is the cloud of a stored account (AWS when unknown).
func (e *fixEnv) provider(account string) vigil.Provider {
	for _, acct := range e.accts {
		if strings.EqualFold(acct.ID, account) {
			return acct.Provider
		}
	}
	if guidPattern.MatchString(account) {
		return vigil.Azure
	}
	return vigil.AWS
}

// remediation reports whether a cloud has remediation credentials.
func (s *fixSetup) remediates(p vigil.Provider) bool {
	if p == vigil.Azure {
		return s.azureCred != nil
	}
	return s.remediation != nil
}

// anyRemediation reports whether any cloud has remediation credentials.
func (s *fixSetup) anyRemediation() bool { return s.remediation != nil || s.azureCred != nil }

// scanCreds reports whether plans for a cloud are made with the scanning
// credentials.
func (e *fixEnv) scanCreds(p vigil.Provider) bool { return !e.setup.remediates(p) }

// runner returns the Runner for a finding's account ("": the remediation
// runner of every cloud, for --check --yes).
func (e *fixEnv) runner(account string) (*fix.Runner, error) {
	p := e.provider(account)
	key := ""
	var fixer fixers
	if account == "" || e.setup.remediates(p) {
		fixer = newFixers(e.scan, e.setup.remediation, e.azure, e.setup.azureCred, e.accts)
	} else {
		// Plans only (--yes is refused before a change): the account's
		// own scanning credentials, as stored by the scan.
		key = account
		target := &awscol.Target{}
		for _, acct := range e.accts {
			if acct.ID == account {
				target = &awscol.Target{Profile: acct.Profile, RoleARN: acct.RoleARN, ExternalID: acct.ExternalID}
			}
		}
		fixer = newFixers(e.scan, target, e.azure, e.azureScanCredential(), e.accts)
	}
	if r, ok := e.runners[key]; ok {
		return r, nil
	}
	reg, err := fixer.registry()
	if err != nil {
		return nil, err
	}
	r := &fix.Runner{Store: e.store, Actions: reg, Checks: e.setup.checks, Refresh: fixer, Trust: e.setup.trust, Logger: e.a.logger(),
		VerifyAttempts: verifyAttempts, VerifyWait: verifyWait}
	if key == "" {
		r.Notify = e.setup.notify
	}
	e.runners[key] = r
	return r, nil
}

// azureScanCredential is the scanning credential, for plans only.
func (e *fixEnv) azureScanCredential() azcore.TokenCredential {
	if e.azure == nil {
		return nil
	}
	return e.azure.Credential()
}

func (a *app) fix(ctx context.Context, f fixFlags, args []string) error {
	// Validate everything before touching the database or the cloud.
	finding := ""
	if len(args) == 1 {
		finding = args[0]
		if !findingIDPattern.MatchString(finding) {
			return vigil.Errorf(vigil.EINVALID, "%q is not a finding id (f- and 10 hex digits, as `vigil scan` prints them); "+
				"name a finding by id, or by --check and --resource (subcommands: undo, actions)", finding)
		}
		if f.check != "" || f.resource != "" {
			return vigil.Errorf(vigil.EINVALID, "name a finding by its id or by --check and --resource, not both")
		}
	}
	if finding == "" && f.check == "" {
		if f.resource != "" {
			return vigil.Errorf(vigil.EINVALID, "--resource needs --check")
		}
		return vigil.Errorf(vigil.EINVALID, "name a finding (f-… from `vigil scan`) or a check (--check ID); see vigil fix --help")
	}
	bulk := finding == "" && (f.resource == "" || strings.ContainsAny(f.resource, "*?"))
	if !bulk && (f.account != "" || f.region != "") {
		return vigil.Errorf(vigil.EINVALID, "--account and --region select findings of --check; they do not go with one finding")
	}
	if bulk && f.action != "" {
		return vigil.Errorf(vigil.EINVALID, "--action applies to one finding; several are fixed with their check's own action")
	}
	if f.account != "" && !isCloudAccount(f.account) {
		return vigil.Errorf(vigil.EINVALID, "--account: %q "+notAccount, f.account)
	}
	if f.region != "" && !isRegion(f.region) {
		return vigil.Errorf(vigil.EINVALID, "--region: %q is not a region name such as us-east-1 or westeurope", f.region)
	}
	params, err := parseParams(f.params)
	if err != nil {
		return err
	}
	s, err := a.fixSetup(f)
	if err != nil {
		return err
	}
	if f.yes && !s.anyRemediation() {
		return errNoRemediation
	}
	if f.action != "" {
		if _, ok := s.actions.Get(f.action); !ok {
			return vigil.Errorf(vigil.EINVALID, "--action: no fix action %s (see `vigil fix actions`)", f.action)
		}
	}
	if f.check != "" {
		c, ok := s.checks.Get(f.check)
		if !ok {
			return vigil.Errorf(vigil.EINVALID, "unknown check id %s (see `vigil checks list`)", f.check)
		}
		if c.Fix == "" && f.action == "" {
			return vigil.Errorf(vigil.EINVALID, "check %s has no fix action (pick one with --action; see `vigil fix actions`)", f.check)
		}
	}

	store, err := a.openExisting(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	env, err := a.newFixEnv(ctx, s, store, f)
	if err != nil {
		return err
	}
	if bulk {
		return a.fixMany(ctx, env, f, params)
	}
	var res *vigil.Result
	checkID, uid := f.check, f.resource
	if finding != "" {
		if res, err = findFinding(ctx, store, finding); err != nil {
			return err
		}
		checkID, uid = res.CheckID, res.ResourceUID
	} else {
		rs, err := store.Results(ctx, vigil.ResultFilter{CheckID: checkID, UID: uid})
		if err != nil {
			return fmt.Errorf("read results: %w", err)
		}
		if len(rs) > 0 {
			res = &rs[0]
		}
	}
	return a.fixOne(ctx, env, f, res, checkID, uid, params)
}

// findFinding returns the result whose finding id is id.
func findFinding(ctx context.Context, store vigil.Store, id string) (*vigil.Result, error) {
	rs, err := store.Results(ctx, vigil.ResultFilter{})
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	for i := range rs {
		if rs[i].FindingID() == id {
			return &rs[i], nil
		}
	}
	return nil, vigil.Errorf(vigil.ENOTFOUND, "no finding %s in the database (ids are printed by `vigil scan`; or name it by --check and --resource)", id)
}

// fixOne plans one finding and, with --yes, applies it.
func (a *app) fixOne(ctx context.Context, env *fixEnv, f fixFlags, res *vigil.Result, checkID, uid string, params map[string]any) error {
	resource, err := env.store.Resource(ctx, uid)
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return vigil.Errorf(vigil.ENOTFOUND, "no resource %s in the database (see `vigil inventory`)", uid)
		}
		return err
	}
	if f.yes && !env.setup.remediates(providerOf(resource)) {
		return errNoRemediation
	}
	r, err := env.runner(resource.Account)
	if err != nil {
		return err
	}
	j, err := r.PrepareWith(ctx, checkID, f.action, uid, params)
	if err != nil {
		return err
	}
	w := a.stdout
	if res != nil {
		fmt.Fprintf(w, "Finding %s: %s on %s\n  %s since %s: %s\n\n", res.FindingID(), res.CheckID, res.ResourceUID,
			res.Status, res.StatusSince.UTC().Format("2006-01-02 15:04Z"), res.Reason)
		if res.ResolvedAt != nil || res.Status == vigil.StatusPass {
			fmt.Fprintln(w, "Note: the last scan did not find this failing; the plan may change nothing.")
		}
	} else {
		fmt.Fprintf(w, "Finding %s: %s on %s\n  not evaluated by a scan yet\n\n", vigil.FindingID(checkID, uid), checkID, uid)
	}
	actor := "user:" + currentUser()
	rec, plan, err := r.Plan(ctx, j, actor, "fix-now")
	if err != nil {
		return fmt.Errorf("plan %s: %w", rec.ID, err)
	}
	printPlan(w, rec, plan, j)
	if !f.yes {
		fmt.Fprintln(w)
		if env.scanCreds(providerOf(resource)) {
			fmt.Fprintln(w, "Planned with the scanning credentials (reads only): no remediation credentials are configured, so --yes is refused (see docs/fixes.md).")
		}
		again := "vigil fix " + vigil.FindingID(checkID, uid) + " --yes"
		if res == nil {
			again = "vigil fix --check " + checkID + " --resource " + uid + " --yes"
		}
		if f.action != "" {
			again += " --action " + f.action
		}
		fmt.Fprintf(w, "Nothing was changed (plan recorded as %s). To apply it: %s\n", rec.ID, again)
		return nil
	}
	done, err := r.Apply(ctx, j, rec, plan)
	if err != nil {
		return fmt.Errorf("record fix %s: %w", done.ID, err)
	}
	fmt.Fprintf(w, "\nOutcome: %s\nReason:  %s\nFix %s", done.Status, done.Reason, done.ID)
	if _, undo := j.Action.(fix.Undoer); undo && len(done.Calls) > 0 {
		fmt.Fprintf(w, " (undo with: vigil fix undo %s)", done.ID)
	}
	fmt.Fprintln(w)
	if done.Status != vigil.FixVerified {
		return &exitError{code: 1, err: fmt.Errorf("fix %s failed: %s", done.ID, done.Reason)}
	}
	return nil
}

// printPlan renders a plan for people.
func printPlan(w io.Writer, rec vigil.Fix, p *fix.Plan, j *fix.Job) {
	res := j.Target.Resource
	fmt.Fprintf(w, "Plan %s (%s by %s)\n", rec.ID, rec.Mode, rec.Actor)
	fmt.Fprintf(w, "  Action:      %s: %s\n", j.Action.ID(), j.Action.Title())
	fmt.Fprintf(w, "  Resource:    %s (%s, account %s, region %s)\n", res.UID, res.Type, res.Account, res.Region)
	fmt.Fprintln(w, "  Steps:")
	for _, s := range p.Steps {
		fmt.Fprintf(w, "    - %s\n", s)
	}
	if len(p.Calls) == 0 {
		fmt.Fprintln(w, "  API calls:   none (nothing to change)")
	} else {
		fmt.Fprintln(w, "  API calls:")
		for _, c := range p.Calls {
			in, _ := json.Marshal(c.Input)
			fmt.Fprintf(w, "    %s %s\n", c.Operation, in)
		}
	}
	if _, ok := j.Action.(fix.Undoer); ok {
		fmt.Fprintln(w, "  Undo:        yes (vigil fix undo FIX-ID restores the state recorded before the fix)")
	} else {
		fmt.Fprintln(w, "  Undo:        no")
	}
	fmt.Fprintf(w, "  Permissions: %s\n", strings.Join(j.Action.Permissions(), ", "))
}

// fixMany plans every open failing finding of --check matching the
// filters; with --yes it applies them through Always Fix's guards.
func (a *app) fixMany(ctx context.Context, env *fixEnv, f fixFlags, params map[string]any) error {
	results, err := a.matchingFindings(ctx, env.store, f)
	if err != nil {
		return err
	}
	w := a.stdout
	if len(results) == 0 {
		fmt.Fprintf(w, "No open failing finding of %s matches.\n", f.check)
		return nil
	}
	guards := env.setup.cfg.guards()
	actor := "user:" + currentUser()
	if f.yes {
		r, err := env.runner("")
		if err != nil {
			return err
		}
		pol := guards
		pol.Enabled = true // the kill switch stops automatic fixing, not a person
		pol.Mode, pol.Actor = "fix-now", actor
		rule := fix.Rule{Name: "fix-now", Checks: []string{f.check}, Params: params}
		if f.account != "" {
			rule.Accounts = []string{f.account}
		}
		if f.region != "" {
			rule.Regions = []string{f.region}
		}
		pol.Rules = []fix.Rule{rule}
		rep, err := r.AutoFix(ctx, pol, results, env.setup.mutes)
		printAutoReport(w, rep, fmt.Sprintf("%d findings of %s, within the Always Fix guards (%s by %s):", len(results), f.check, pol.Mode, actor))
		if err != nil {
			return err
		}
		var why []string
		if n := countStatus(rep, vigil.FixFailed); n > 0 {
			why = append(why, fmt.Sprintf("%d of %d fixes failed", n, len(results)))
		}
		if n := len(rep.Alerts); n > 0 {
			why = append(why, fmt.Sprintf("guards held fixes back (%d alerts)", n))
		}
		if len(why) > 0 {
			return &exitError{code: 1, err: errors.New(strings.Join(why, "; "))}
		}
		return nil
	}
	fmt.Fprintf(w, "%d open failing findings of %s.\n\n", len(results), f.check)
	failed, scanCreds := 0, false
	for _, res := range results {
		resource, err := env.store.Resource(ctx, res.ResourceUID)
		if err != nil {
			return err
		}
		scanCreds = scanCreds || env.scanCreds(providerOf(resource))
		r, err := env.runner(resource.Account)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "Finding %s: %s\n", res.FindingID(), res.Reason)
		j, err := r.Prepare(ctx, res.CheckID, res.ResourceUID, params)
		if err != nil {
			failed++
			fmt.Fprintf(w, "  cannot be fixed: %v\n\n", err)
			continue
		}
		rec, plan, err := r.Plan(ctx, j, actor, "fix-now")
		if err != nil {
			failed++
			fmt.Fprintf(w, "  plan %s failed: %v\n\n", rec.ID, err)
			continue
		}
		printPlan(w, rec, plan, j)
		if why := heldBack(guards, env.setup.mutes, res.CheckID, &resource); why != "" {
			fmt.Fprintf(w, "  With --yes:  not fixed (%s)\n", why)
		}
		fmt.Fprintln(w)
	}
	if scanCreds {
		fmt.Fprintln(w, "Planned with the scanning credentials (reads only): no remediation credentials are configured, so --yes is refused (see docs/fixes.md).")
	}
	fmt.Fprintf(w, "Nothing was changed. With --yes the Always Fix guards apply: %s.\n", describeGuards(guards))
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d findings could not be planned", failed, len(results))}
	}
	return nil
}

// matchingFindings returns the open failing results of --check that match
// --account, --region and the --resource glob (over uids and names).
func (a *app) matchingFindings(ctx context.Context, store vigil.Store, f fixFlags) ([]vigil.Result, error) {
	rs, err := store.Results(ctx, vigil.ResultFilter{CheckID: f.check, Account: f.account, Open: true, Statuses: []vigil.Status{vigil.StatusFail}})
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	var out []vigil.Result
	for _, r := range rs {
		if f.region != "" && r.Region != f.region {
			continue
		}
		if f.resource != "" && !globMatch(f.resource, r.ResourceUID) {
			res, err := store.Resource(ctx, r.ResourceUID)
			if err != nil || !globMatch(f.resource, res.Name) {
				continue
			}
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceUID < out[j].ResourceUID })
	return out, nil
}

// heldBack says which per-finding guard would keep --yes from fixing a
// finding: the exempt tag or a mute (limits depend on the whole run).
func heldBack(p fix.AutoPolicy, mutes *policy.Mutes, checkID string, r *vigil.Resource) string {
	tag := p.ExemptTag
	if tag == "" {
		tag = fix.DefaultExemptTag
	}
	k, v, _ := strings.Cut(tag, "=")
	if got, ok := r.Tags[k]; ok && got == v {
		return "exempt: tagged " + tag
	}
	if m, ok := mutes.Match(checkID, r, time.Now()); ok {
		return "muted: " + m.Reason
	}
	return ""
}

// describeGuards renders the guards of a policy in one line.
func describeGuards(p fix.AutoPolicy) string {
	tag := p.ExemptTag
	if tag == "" {
		tag = fix.DefaultExemptTag
	}
	parts := []string{"exempt tag " + tag, "mutes"}
	bound := func(n int, what string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("at most %d fixes %s", n, what))
		}
	}
	bound(p.MaxPerRun, "per run")
	bound(p.MaxPerHour, "per hour")
	if p.MaxShare > 0 {
		parts = append(parts, fmt.Sprintf("at most %g of the resources in scope", p.MaxShare))
	}
	if p.Flapping.Count > 0 {
		parts = append(parts, fmt.Sprintf("no fix of a finding fixed %d times within %s", p.Flapping.Count, shortDuration(p.Flapping.Window)))
	}
	return strings.Join(parts, ", ")
}

// shortDuration renders 24h0m0s as 24h and 1h30m0s as 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// printAutoReport prints what an AutoFix run did, one line per record.
func printAutoReport(w io.Writer, rep fix.AutoReport, title string) {
	fmt.Fprintln(w, title)
	for _, f := range rep.Fixes {
		fmt.Fprintf(w, "  %-9s %s %s on %s (%s): %s\n", f.Status, vigil.FindingID(f.CheckID, f.ResourceUID), f.CheckID, f.ResourceUID, f.ID, f.Reason)
	}
	for _, al := range rep.Alerts {
		fmt.Fprintf(w, "  alert: %s\n", al)
	}
	fmt.Fprintf(w, "  %d verified, %d failed, %d dry-run, %d skipped, %d alerts\n", countStatus(rep, vigil.FixVerified),
		countStatus(rep, vigil.FixFailed), countStatus(rep, vigil.FixDryRun), countStatus(rep, vigil.FixSkipped), len(rep.Alerts))
}

func countStatus(rep fix.AutoReport, st vigil.FixStatus) int {
	n := 0
	for _, f := range rep.Fixes {
		if f.Status == st {
			n++
		}
	}
	return n
}

// alwaysFix runs the config's Always Fix rules over a finished scan's
// results and prints a summary to stderr. Its failures do not change the
// scan's exit code; an error (the store, the credentials) does.
func (a *app) alwaysFix(ctx context.Context, cfg *fileConfig, col *awscol.Collector, az *azurecol.Collector, azureCloud string,
	accounts []vigil.Account, store vigil.Store, checks *policy.Set, trust policy.Trust, mutes *policy.Mutes, scanID string) error {
	azureCred, err := a.azureRemediationCredential(cfg, azureCloud)
	if err != nil {
		return err
	}
	fixer := newFixers(col, cfg.remediation, az, azureCred, accounts)
	reg, err := fixer.registry()
	if err != nil {
		return err
	}
	n, err := notifier(cfg, reg)
	if err != nil {
		return err
	}
	r := &fix.Runner{Store: store, Actions: reg, Checks: checks, Refresh: fixer, Notify: n, Trust: trust, Logger: a.logger(),
		VerifyAttempts: verifyAttempts, VerifyWait: verifyWait}
	results, err := store.Results(ctx, vigil.ResultFilter{ScanID: scanID})
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	rep, err := r.AutoFix(ctx, cfg.autofix, results, mutes)
	fmt.Fprintln(a.stderr)
	printAutoReport(a.stderr, rep, "Always Fix ("+cfg.file+"):")
	return err
}

// parseParams parses --param key=value; a value that parses as JSON is
// taken as JSON (whole numbers as integers, as in the config file).
func parseParams(items []string) (map[string]any, error) {
	if len(items) == 0 {
		return nil, nil
	}
	out := map[string]any{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "--param %q: want key=value, e.g. unused_days=90", it)
		}
		var val any = v
		var j any
		if err := json.Unmarshal([]byte(v), &j); err == nil {
			val = j
			if f, isNum := j.(float64); isNum && f == float64(int64(f)) {
				val = int(f)
			}
		}
		out[k] = val
	}
	return out, nil
}

// globMatch matches s against a pattern in which * is any run of
// characters ("/" and ":" included) and ? one character.
func globMatch(pattern, s string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\*`, ".*")
	re = strings.ReplaceAll(re, `\?`, ".")
	ok, _ := regexp.MatchString("^"+re+"$", s)
	return ok
}

// currentUser names the person running the command, for the audit trail.
func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

func (a *app) fixUndoCmd(f *fixFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "undo FIX-ID",
		Short: "Restore the state recorded before a fix",
		Long: `Undo reverts a fix (verified, or failed half-way) from the state its action
recorded before changing anything, with the remediation credentials, and records
the undo in the audit trail. Not every action can be undone: see vigil fix actions.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !fixIDPattern.MatchString(args[0]) {
				return vigil.Errorf(vigil.EINVALID, "%q is not a fix id (x- and 10 hex digits; see `vigil fixes`)", args[0])
			}
			s, err := a.fixSetup(fixFlags{endpoint: f.endpoint, fixProfile: f.fixProfile, fixRoleARN: f.fixRoleARN, fixExternalID: f.fixExternalID,
				azure: f.azure})
			if err != nil {
				return err
			}
			if !s.anyRemediation() {
				return errNoRemediation
			}
			store, err := a.openExisting(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			orig, err := store.Fix(ctx, args[0])
			if err != nil {
				if vigil.ErrorCode(err) == vigil.ENOTFOUND {
					return vigil.Errorf(vigil.ENOTFOUND, "no fix %s (see `vigil fixes`)", args[0])
				}
				return err
			}
			env, err := a.newFixEnv(ctx, s, store, *f)
			if err != nil {
				return err
			}
			if !s.remediates(env.provider(orig.Account)) {
				return errNoRemediation
			}
			r, err := env.runner(orig.Account)
			if err != nil {
				return err
			}
			u, err := r.Undo(ctx, args[0], "user:"+currentUser())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Undo %s of %s (%s on %s): %s: %s\n", u.ID, u.UndoOf, u.Action, u.ResourceUID, u.Status, u.Reason)
			for _, c := range u.Calls {
				in, _ := json.Marshal(c.Input)
				fmt.Fprintf(a.stdout, "  %s %s\n", c.Operation, in)
			}
			if u.Status != vigil.FixUndone {
				return &exitError{code: 1, err: fmt.Errorf("undo %s failed: %s", u.ID, u.Reason)}
			}
			return nil
		},
	}
}

// actionInfo is one action in `vigil fix actions --format json`.
type actionInfo struct {
	ID           string   `json:"id"`
	ResourceType string   `json:"resource_type"`
	Undo         bool     `json:"undo"`
	Title        string   `json:"title"`
	Permissions  []string `json:"permissions"`
}

func (a *app) fixActionsCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "actions",
		Short: "List the fix actions of this build",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(*cobra.Command, []string) error {
			if format != "table" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			reg, err := actionRegistry()
			if err != nil {
				return err
			}
			var infos []actionInfo
			for _, act := range reg.All() {
				_, undo := act.(fix.Undoer)
				infos = append(infos, actionInfo{ID: act.ID(), ResourceType: act.ResourceType(), Undo: undo, Title: act.Title(), Permissions: act.Permissions()})
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if infos == nil {
					infos = []actionInfo{}
				}
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRESOURCE\tUNDO\tTITLE")
			for _, in := range infos {
				undo := "no"
				if in.Undo {
					undo = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.ID, in.ResourceType, undo, in.Title)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d actions\n", len(infos))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table or json (json adds each action's IAM permissions)")
	return cmd
}

func (a *app) fixesCmd() *cobra.Command {
	var since, format string
	var ff vigil.FixFilter
	cmd := &cobra.Command{
		Use:   "fixes",
		Short: "Show the audit trail of plans, fixes and undos, newest first",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return vigil.Errorf(vigil.EINVALID, "unknown format %q (want table or json)", format)
			}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				ff.Since = t
			}
			store, err := a.openExisting(cmd.Context())
			if err != nil {
				return err
			}
			defer func() { _ = store.Close() }()
			fs, err := store.Fixes(cmd.Context(), ff)
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if fs == nil {
					fs = []vigil.Fix{}
				}
				return enc.Encode(fs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tID\tSTATUS\tMODE\tACTOR\tACTION\tRESOURCE\tREASON")
			for _, f := range fs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.At.UTC().Format("2006-01-02 15:04:05Z"), f.ID, f.Status, f.Mode,
					f.Actor, f.Action, f.ResourceUID, truncate(f.Reason, 80))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%d records\n", len(fs))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "only records from this time on: a duration back from now (24h, 7d) or RFC 3339 (2026-01-02T15:04:05Z)")
	fl.StringVar(&ff.CheckID, "check", "", "only fixes of this check")
	fl.StringVar(&ff.ResourceUID, "resource", "", "only fixes of this resource uid")
	fl.StringVar(&format, "format", "table", "table or json")
	return cmd
}

// parseSince parses --since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := yamlconf.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, vigil.Errorf(vigil.EINVALID, "--since %q: want a duration such as 24h or 7d, or a time such as 2026-01-02T15:04:05Z", s)
}

// A fix is read back up to verifyAttempts times, waiting verifyWait and
// then twice as long each time, while the check still fails: about 14 s in
// all for changes AWS applies asynchronously. A fix that is visible at
// once (most are) is verified on the first read.
var (
	verifyAttempts = 4
	verifyWait     = 2 * time.Second
)
