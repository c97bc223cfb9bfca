package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/alert"

	awscol "github.com/vigilsec/vigil/aws"
	azurecol "github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/metrics"
	"github.com/vigilsec/vigil/notify"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/river"
	"github.com/vigilsec/vigil/scan"
	"github.com/vigilsec/vigil/sqlite"
	"github.com/vigilsec/vigil/watch"
	"github.com/vigilsec/vigil/web"
)

type serveFlags struct {
	profiles, roles, regions, services, rates, checks []string
	trustedAccounts, orgIDs                           []string
	externalID, endpoint, mutes, severity, listen     string
	concurrency, eventWorkers                         int
	retryBase                                         time.Duration
	scanOnStart                                       bool
	azure                                             azureFlags
}

func (a *app) serveCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: scheduled scans, event watching, alerts and Always Fix",
		Long: `Serve runs until stopped (SIGINT or SIGTERM). It

  - runs the scans the config file schedules (schedules:),
  - watches the event queues it names (watch.aws: SQS queues of CloudTrail
    events from EventBridge; watch.azure: Storage Queues of Event Grid
    resource events) and, for each event, re-reads only the resources it
    touched, records the change with who made it, and re-evaluates their
    checks,
  - sends the alerts its rules ask for (alerts:, channels:), through a durable
    outbox: an alert is a job written in the same transaction as the change or
    finding that caused it, retried with backoff until its channel takes it,
  - applies Always Fix (autofix:) to findings as they open, within its guards,
  - serves /healthz and Prometheus /metrics on --listen (serve.listen).

Jobs live in the database (River on SQLite), so a restart loses nothing: an
alert not yet delivered is delivered after it, exactly once per idempotency key.
See docs/serve.md, docs/watch.md, docs/alerts.md and docs/notifications.md.`,
		Example: `  vigil serve --config vigil.yaml
  vigil serve --config vigil.yaml --profile audit --regions eu-west-1 --scan-on-start
  vigil serve --config vigil.yaml --provider aws,azure --subscriptions 9f0c2b7e-4d61-4a8e-b3a5-2c7d1e6f8a90`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.serve(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.profiles, "profile", nil, "AWS shared-config profile(s), comma-separated: one account each (default: the standard chain)")
	fl.StringSliceVar(&f.roles, "role-arn", nil, "IAM role(s) to assume, comma-separated: one account each")
	fl.StringVar(&f.externalID, "external-id", "", "external id for --role-arn")
	fl.StringSliceVar(&f.regions, "regions", nil, "regions to scan (default: the account's enabled regions)")
	fl.StringSliceVar(&f.services, "services", nil, "services to scan (default all)")
	fl.StringSliceVar(&f.checks, "checks", nil, "check ids to evaluate (default all)")
	fl.StringArrayVar(&a.checkDirs, "checks-dir", nil, "directory of custom checks to add (repeatable)")
	fl.StringVar(&f.mutes, "mutes", os.Getenv("VIGIL_MUTES"), "YAML file of mutes (env VIGIL_MUTES)")
	fl.StringVar(&f.severity, "severity", "", "evaluate only checks at or above this severity")
	fl.StringVar(&f.endpoint, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "send all AWS API calls to this URL, e.g. an emulator (env AWS_ENDPOINT_URL)")
	fl.StringSliceVar(&f.rates, "rate", nil, "requests per second per region for a service, e.g. iam=5,ec2=10")
	fl.IntVar(&f.concurrency, "concurrency", 16, "region × service tasks run at once per account")
	fl.IntVar(&f.eventWorkers, "event-workers", 4, "events handled at once per queue")
	fl.StringSliceVar(&f.trustedAccounts, "trusted-accounts", nil, "accounts that cross-account checks treat as trusted")
	fl.StringSliceVar(&f.orgIDs, "org-id", nil, "AWS Organizations id(s) whose members cross-account checks treat as trusted")
	fl.StringVar(&f.listen, "listen", "", "address of /healthz and /metrics (default serve.listen, else "+defaultListen+")")
	fl.BoolVar(&f.scanOnStart, "scan-on-start", false, "scan every account once at start-up")
	f.azure.register(fl, true)
	fl.DurationVar(&f.retryBase, "retry-base", 0, "first wait before an alert is retried, doubling each attempt up to 1h (default River's: 1s, 16s, 81s, … attempt⁴ seconds)")
	return cmd
}

// daemon is `vigil serve` wired: the store and job queue, the collector,
// the checks, alert rules and channels, and Always Fix.
type daemon struct {
	log      *slog.Logger
	store    *sqlite.Store
	queue    *river.Queue
	col      *awscol.Collector
	az       *azurecol.Collector // nil unless --provider names azure
	accounts []vigil.Account
	regions  []string // --regions; empty: every enabled region
	checks   *policy.Set
	mutes    *policy.Mutes
	trust    policy.Trust
	cfg      *fileConfig
	rules    *alert.Rules
	channels map[string]notify.Channel
	metrics  *metrics.Metrics
	autofix  bool
	runner   *fix.Runner // nil without remediation credentials
	fixers   fixers
	scanMu   sync.Mutex
}

func (a *app) serve(ctx context.Context, f serveFlags) error {
	if f.eventWorkers <= 0 {
		return vigil.Errorf(vigil.EINVALID, "--event-workers must be at least 1")
	}
	a.serving = true
	st, err := a.setup(f.severity, f.checks, f.rates, f.trustedAccounts, f.orgIDs, f.mutes)
	if err != nil {
		return err
	}
	all, checks, mutes, trust, rates, cfg, autofix := st.all, st.checks, st.mutes, st.trust, st.rates, st.cfg, st.autofix
	listen := f.listen
	if listen == "" {
		listen = cfg.serve.listen
	}
	if listen == "" {
		listen = defaultListen
	}
	log := a.logger()
	col, err := awscol.New(awscol.Options{Endpoint: f.endpoint, Regions: splitList(f.regions),
		Services: splitList(f.services), Rates: rates, Concurrency: f.concurrency, Logger: log})
	if err != nil {
		return err
	}
	channels := map[string]notify.Channel{}
	for _, c := range cfg.serve.channels {
		ch, err := notify.New(c, notify.Options{Logger: log, UserAgent: "vigil/" + version})
		if err != nil {
			return &vigil.Error{Code: vigil.EINVALID, Message: "invalid config " + cfg.file, Err: err}
		}
		channels[c.Name] = ch
	}
	providers, err := parseProviders(splitList(f.azure.providers))
	if err != nil {
		return err
	}
	var az *azurecol.Collector
	if providers[vigil.Azure] {
		if az, err = a.azureCollector(f.azure, f.concurrency); err != nil {
			return err
		}
	}
	var azureCred azcore.TokenCredential
	if az != nil {
		if azureCred, err = a.azureRemediationCredential(cfg, f.azure.cloud); err != nil {
			return err
		}
	}
	if err := cfg.serve.checkProviders(cfg.file, providers); err != nil {
		return err
	}
	var accounts []vigil.Account
	if providers[vigil.AWS] {
		if accounts, err = a.resolveAccounts(ctx, col, splitList(f.profiles), splitList(f.roles), f.externalID); err != nil {
			return err
		}
	}
	if az != nil {
		subs, err := az.Resolve(ctx, splitList(f.azure.subscriptions))
		if err != nil {
			return err
		}
		accounts = append(accounts, subs...)
	}
	for _, q := range cfg.serve.queues {
		if q.account != "" && !hasAccount(accounts, q.account) {
			return vigil.Errorf(vigil.EINVALID, "%s: watch.aws queue %s names account %s, which the credentials given (--profile, --role-arn) do not reach",
				cfg.file, q.url, q.account)
		}
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()

	d := &daemon{log: log, store: store, col: col, az: az, accounts: accounts, regions: splitList(f.regions), checks: checks, mutes: mutes, trust: trust,
		cfg: cfg, channels: channels, autofix: autofix}
	d.metrics = metrics.New(version, d.openFindings)
	d.rules = alert.New(cfg.serve.rules, all, alert.WithAutofix(func(checkID string, r vigil.Resource) bool {
		return d.autofix && cfg.autofix.Rule(checkID, &r) != nil
	}))
	if cfg.remediation != nil || azureCred != nil {
		var awsCol *awscol.Collector
		if providers[vigil.AWS] {
			awsCol = col
		}
		d.fixers = newFixers(awsCol, cfg.remediation, az, azureCred, accounts)
		reg, err := d.fixers.registry()
		if err != nil {
			return err
		}
		n, err := notifier(cfg, reg)
		if err != nil {
			return err
		}
		d.runner = &fix.Runner{Store: store, Actions: reg, Checks: all, Refresh: d.fixers, Notify: n, Trust: trust,
			Logger: log, VerifyAttempts: verifyAttempts, VerifyWait: verifyWait, Verified: d.verified}
	}
	opts := river.Options{Deliver: d.deliver, Scan: d.scheduledScan, Schedules: cfg.serve.schedules,
		Permanent: notify.IsPermanent,
		RetryAfter: func(err error) (time.Duration, bool) {
			d := notify.RetryAfter(err)
			return d, d > 0
		},
		Failed: func(al vigil.Alert, attempt int, final bool, err error) {
			d.metrics.DeliveryFailed(al.Channel, final)
			log.Warn("alert delivery failed", "channel", al.Channel, "key", al.Key, "attempt", attempt, "final", final, "err", err)
		},
		Logger: a.libraryLogger()}
	if f.retryBase > 0 {
		opts.RetryPolicy = river.Backoff{Base: f.retryBase}
	}
	if d.runner != nil && autofix {
		opts.Fix = d.fixJob
	}
	q, err := river.Open(ctx, store, opts)
	if err != nil {
		return err
	}
	d.queue = q
	store.SetOutbox(q.Outbox)

	var watchers []*watch.Watcher
	for _, qc := range cfg.serve.queues {
		w, err := d.watcher(ctx, qc, f.eventWorkers)
		if err != nil {
			return err
		}
		watchers = append(watchers, w)
	}
	for _, qc := range cfg.serve.azureQueues {
		w, err := d.azureWatcher(ctx, qc, f.eventWorkers)
		if err != nil {
			return err
		}
		watchers = append(watchers, w)
	}
	srv, err := web.Listen(web.Options{Addr: listen, Metrics: d.metrics.Handler(), Logger: log,
		Checks: []web.Check{{Name: "store", Check: func(ctx context.Context) error { return store.DB().PingContext(ctx) }}}})
	if err != nil {
		return vigil.Errorf(vigil.EINVALID, "%v", err)
	}
	if err := q.Start(ctx); err != nil {
		return err
	}
	if f.scanOnStart {
		if _, err := q.Insert(ctx, river.ScanArgs{Schedule: "start"}); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.Serve() }()
	for _, w := range watchers {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	ids := make([]string, len(accounts))
	for i, acct := range accounts {
		ids[i] = acct.ID
	}
	log.Info("serving", "listen", srv.Addr(), "accounts", strings.Join(ids, ","), "queues", len(watchers),
		"schedules", len(cfg.serve.schedules), "channels", len(channels), "alert_rules", len(cfg.serve.rules), "autofix", autofix)
	fmt.Fprintf(a.stderr, "vigil serve: listening on http://%s (/healthz, /metrics); %d account(s), %d queue(s), %d schedule(s), %d alert rule(s), Always Fix %s\n",
		srv.Addr(), len(accounts), len(watchers), len(cfg.serve.schedules), len(cfg.serve.rules), onOff(autofix))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-httpErr:
	}
	log.Info("shutting down")
	// Watchers finish the events they hold; River finishes running jobs
	// (an unfinished one runs again after a restart).
	wg.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		log.Warn("stop job queue", "err", err)
	}
	_ = srv.Shutdown(stopCtx)
	fmt.Fprintln(a.stderr, "vigil serve: stopped")
	return runErr
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func hasAccount(accounts []vigil.Account, id string) bool {
	for _, a := range accounts {
		if a.ID == id {
			return true
		}
	}
	return false
}

func (d *daemon) account(id string) (vigil.Account, bool) {
	for _, a := range d.accounts {
		// Azure subscription ids are GUIDs, which compare without case.
		if strings.EqualFold(a.ID, id) {
			return a, true
		}
	}
	return vigil.Account{}, false
}

// openFindings counts the open findings by severity, for the metrics.
func (d *daemon) openFindings() (map[vigil.Severity]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := d.store.Results(ctx, vigil.ResultFilter{Statuses: []vigil.Status{vigil.StatusFail}, Open: true})
	if err != nil {
		return nil, err
	}
	out := map[vigil.Severity]int{}
	for _, r := range rs {
		out[r.Severity]++
	}
	return out, nil
}

// after runs inside every observation's transaction (events, scans, fix
// re-reads): it enqueues the alerts the rules ask for and an Always Fix
// job for each finding that opened under an autofix rule.
func (d *daemon) after(ctx context.Context, rec vigil.Recorded, out vigil.Outbox) error {
	var cause *vigil.Cause
	resources := map[string]vigil.Resource{}
	for _, c := range rec.Changes {
		if cause == nil && c.Version.Cause != nil {
			cause = c.Version.Cause
		}
		resources[c.New.UID] = c.New
	}
	alerts, err := d.rules.Observed(rec, cause, time.Now())
	if err != nil {
		// A rule whose condition fails to evaluate is logged; the other
		// rules' alerts still go out.
		d.log.Warn("alert rule failed", "err", err)
	}
	for _, al := range alerts {
		if _, err := out.Enqueue(ctx, river.NewAlert(al)); err != nil {
			return err
		}
	}
	if !d.autofix || d.runner == nil {
		return nil
	}
	for _, t := range rec.Transitions {
		if !t.Opened {
			continue
		}
		res, ok := resources[t.Result.ResourceUID]
		if !ok {
			stored, err := d.store.Resource(ctx, t.Result.ResourceUID)
			if err != nil {
				continue
			}
			res = stored
		}
		if d.cfg.autofix.Rule(t.Result.CheckID, &res) == nil {
			continue
		}
		state := res.Hash
		if state == "" {
			state = t.Result.LastSeen.UTC().Format(time.RFC3339Nano)
		}
		job := river.FixArgs{Key: "fix/" + t.Result.CheckID + "/" + t.Result.ResourceUID + "/" + state,
			CheckID: t.Result.CheckID, UID: t.Result.ResourceUID, Cause: cause}
		if _, err := out.Enqueue(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// deliver sends an alert on its channel.
func (d *daemon) deliver(ctx context.Context, al vigil.Alert, attempt int) error {
	ch, ok := d.channels[al.Channel]
	if !ok {
		// The channel was removed from the config since the alert was
		// queued: nothing will ever deliver it.
		return &channelGone{name: al.Channel}
	}
	if err := ch.Send(ctx, al); err != nil {
		return err
	}
	d.metrics.Delivered(al.Channel)
	d.log.Info("alert delivered", "channel", al.Channel, "key", al.Key, "attempt", attempt, "title", al.Title)
	return nil
}

type channelGone struct{ name string }

func (e *channelGone) Error() string {
	return fmt.Sprintf("channel %q is not configured any more", e.name)
}

// Permanent makes notify.IsPermanent-style checks cancel the job.
func (e *channelGone) Permanent() bool { return true }

// evaluate runs the checks of a resource's type on it.
func (d *daemon) evaluate(r *vigil.Resource, at time.Time, scanID string) []vigil.Result {
	return scan.Evaluate(d.checks, d.mutes, d.trust, r, at, scanID)
}

// scheduledScan runs a full scan of the schedule's accounts; one scan at a
// time per process.
func (d *daemon) scheduledScan(ctx context.Context, args river.ScanArgs) error {
	d.scanMu.Lock()
	defer d.scanMu.Unlock()
	accounts := d.accounts
	if len(args.Accounts) > 0 {
		accounts = nil
		for _, id := range args.Accounts {
			if a, ok := d.account(id); ok {
				accounts = append(accounts, a)
			} else {
				d.log.Warn("scheduled scan names an account the credentials do not reach", "schedule", args.Schedule, "account", id)
			}
		}
	}
	if len(accounts) == 0 {
		return nil
	}
	collectors := map[vigil.Provider]vigil.Collector{vigil.AWS: d.col}
	if d.az != nil {
		collectors[vigil.Azure] = d.az
	}
	runner := scan.New(scan.Options{Store: d.store, Collectors: collectors,
		Checks: d.checks, Mutes: d.mutes, Trust: d.trust, After: d.after, Logger: d.log})
	d.log.Info("scan started", "schedule", args.Schedule, "accounts", len(accounts))
	sc, err := runner.Run(ctx, accounts)
	d.metrics.Scanned(sc)
	d.log.Info("scan finished", "schedule", args.Schedule, "scan", sc.ID, "status", sc.Status,
		"resources", sc.Stats.Resources, "changed", sc.Stats.Changed, "findings", sum(sc.Stats.Findings))
	return err
}

func sum(m map[vigil.Severity]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// freshFor is how recent a stored resource must be for a first fix
// attempt to plan from it without reading it again: the event that opened
// the finding read it a moment ago.
const freshFor = time.Minute

// fixJob runs Always Fix on one finding that opened. A retried job (or one
// whose stored state is not fresh) reads the resource again first: after a
// crash half-way through a fix, or when a person fixed it first, the
// finding is closed and nothing is applied twice.
func (d *daemon) fixJob(ctx context.Context, args river.FixArgs, attempt int) error {
	open, err := d.openResults(ctx, args)
	if err != nil || len(open) == 0 {
		if err == nil {
			d.log.Info("always fix: finding already closed", "check", args.CheckID, "uid", args.UID)
		}
		return err
	}
	res, err := d.store.Resource(ctx, args.UID)
	if err != nil {
		return err
	}
	if attempt > 1 || time.Since(res.CollectedAt) > freshFor {
		fresh, err := d.fixers.Refresh(ctx, res)
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			_, err := d.store.Record(ctx, vigil.Observation{ScanID: "fix-" + vigil.FindingID(args.CheckID, args.UID),
				Deleted: []vigil.Resource{{UID: args.UID}}, Cause: args.Cause}, d.after)
			return err
		}
		if err != nil {
			return err
		}
		if still, err := d.observe(ctx, fresh, args.CheckID, nil); err != nil || !still {
			if err == nil {
				d.log.Info("always fix: finding closed on re-read", "check", args.CheckID, "uid", args.UID)
			}
			return err
		}
		if open, err = d.openResults(ctx, args); err != nil || len(open) == 0 {
			return err
		}
		res = fresh
	}
	rep, err := d.runner.AutoFix(ctx, d.cfg.autofix, open, d.mutes)
	for _, f := range rep.Fixes {
		d.metrics.Fixed(f)
		d.log.Info("always fix", "check", f.CheckID, "uid", f.ResourceUID, "action", f.Action, "status", f.Status, "reason", f.Reason)
		for _, al := range d.rules.Fixed(f, res, args.Cause) {
			if _, ierr := d.queue.Insert(ctx, river.NewAlert(al)); ierr != nil {
				err = errors.Join(err, ierr)
			}
		}
	}
	// A store error: River retries the job, and the re-read at its start
	// keeps a verified fix from being applied again.
	return err
}

func (d *daemon) openResults(ctx context.Context, args river.FixArgs) ([]vigil.Result, error) {
	return d.store.Results(ctx, vigil.ResultFilter{CheckID: args.CheckID, UID: args.UID, Open: true,
		Statuses: []vigil.Status{vigil.StatusFail}})
}

// verified records the state a fix left, as read back by its
// verification, as Vigil's own change.
func (d *daemon) verified(ctx context.Context, f vigil.Fix, fresh vigil.Resource) {
	if len(f.Calls) == 0 || fresh.UID == "" {
		return
	}
	cause := &vigil.Cause{EventName: "vigil fix " + f.Action, EventTime: f.At, Actor: vigil.Actor{ARN: f.Actor, Type: "Vigil"}}
	if _, err := d.observe(ctx, fresh, "", cause); err != nil {
		d.log.Warn("record the state a fix left", "fix", f.ID, "err", err)
	}
}

// observe records a resource as read now, with its checks evaluated, and
// reports whether check (if not empty) still fails on it.
func (d *daemon) observe(ctx context.Context, r vigil.Resource, check string, cause *vigil.Cause) (bool, error) {
	now := time.Now().UTC()
	id := "fix-" + vigil.FindingID(check, r.UID)
	r.ComputeHash()
	results := d.evaluate(&r, now, id)
	if _, err := d.store.Record(ctx, vigil.Observation{ScanID: id, At: now, Resources: []vigil.Resource{r},
		Results: results, Cause: cause, Complete: true}, d.after); err != nil {
		return false, err
	}
	for _, res := range results {
		if res.CheckID == check {
			return res.Status == vigil.StatusFail, nil
		}
	}
	return false, nil
}
