// Package scan runs a scan: it streams resources from the collectors
// through check evaluation into the store, with bounded memory, then
// sweeps what disappeared and resolves what no longer fails.
package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

// Options configure a Runner.
type Options struct {
	Store      vigil.Store
	Collectors map[vigil.Provider]vigil.Collector
	Checks     *policy.Set
	// Mutes turn matching failing and erroring results into muted ones.
	Mutes *policy.Mutes
	// Trust is whom cross-account checks treat as trusted besides the
	// resource's own account.
	Trust policy.Trust
	// Workers evaluate checks in parallel (default GOMAXPROCS).
	Workers int
	// BatchSize is how many resources go to the store per transaction
	// (default 250).
	BatchSize int
	// AccountConcurrency bounds accounts collected at once (default 4).
	AccountConcurrency int
	// After, if set, runs in the transaction of each batch written, with
	// what the batch changed: `vigil serve` enqueues alerts and Always Fix
	// jobs there, so that they exist exactly when the change does. It
	// needs a Store that implements vigil.ChangeStore.
	After vigil.AfterRecord
	// Progress, if set, receives the state of every unit of work.
	Progress func(vigil.Progress)
	Logger   *slog.Logger
	Now      func() time.Time
}

// Runner runs scans.
type Runner struct{ opts Options }

// New returns a Runner.
func New(opts Options) *Runner {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 250
	}
	if opts.AccountConcurrency <= 0 {
		opts.AccountConcurrency = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Runner{opts: opts}
}

// NewID returns a new scan id, sortable by start time.
func NewID(at time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "s-" + at.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// item is what evaluation hands to the writer: a resource and its results.
type item struct {
	r       vigil.Resource
	results []vigil.Result
}

// run is the state of one scan in progress.
type run struct {
	opts  Options
	scan  vigil.Scan
	now   time.Time
	resCh chan vigil.Resource

	mu         sync.Mutex
	readErrors []vigil.ReadError
	scopes     []vigil.Scope
	progress   func(vigil.Progress)
}

func (s *run) Resource(ctx context.Context, r vigil.Resource) error {
	select {
	case s.resCh <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *run) ReadError(e vigil.ReadError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readErrors = append(s.readErrors, e)
}

func (s *run) Listed(sc vigil.Scope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = append(s.scopes, sc)
}

func (s *run) Progress(p vigil.Progress) {
	if s.progress != nil {
		s.progress(p)
	}
}

// Run scans the accounts and returns the finished scan. Accounts are
// collected concurrently; an account whose collection fails outright is
// recorded in the scan's error and the others go on. Run returns an error
// when the store fails or every account failed.
func (r *Runner) Run(ctx context.Context, accounts []vigil.Account) (vigil.Scan, error) {
	o := r.opts
	start := o.Now().UTC()
	s := &run{opts: o, now: start, resCh: make(chan vigil.Resource, 4*o.BatchSize), progress: o.Progress}
	s.scan = vigil.Scan{ID: NewID(start), StartedAt: start, Status: "running",
		Stats: vigil.ScanStats{Results: map[vigil.Status]int{}, Findings: map[vigil.Severity]int{}}}
	for _, a := range accounts {
		if err := o.Store.PutAccount(ctx, a); err != nil {
			return s.scan, fmt.Errorf("save account %s: %w", a.ID, err)
		}
		s.scan.Accounts = append(s.scan.Accounts, a.ID)
	}
	if err := o.Store.StartScan(ctx, s.scan); err != nil {
		return s.scan, fmt.Errorf("start scan: %w", err)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, 2*o.BatchSize)
	var evalWG sync.WaitGroup
	for range o.Workers {
		evalWG.Add(1)
		go func() {
			defer evalWG.Done()
			for res := range s.resCh {
				items <- s.evaluate(res)
			}
		}()
	}
	writeErr := make(chan error, 1)
	// A store that fails stops the collection: what it collects could not
	// be written anyway, and the API calls would go on for nothing.
	go func() { writeErr <- s.write(ctx, items, cancel) }()

	acctErrs := s.collect(ctx, accounts)
	close(s.resCh)
	evalWG.Wait()
	close(items)
	werr := <-writeErr
	if err := parent.Err(); err != nil {
		// Cancelled by the caller: say so, not what the store said about it.
		return s.fail(fmt.Errorf("scan cancelled: %w", context.Cause(parent)))
	}
	if werr != nil {
		return s.fail(werr)
	}
	if err := ctx.Err(); err != nil {
		return s.fail(err)
	}
	if err := s.finish(ctx); err != nil {
		return s.fail(err)
	}

	s.scan.ReadErrors = s.readErrors
	switch {
	case len(acctErrs) == len(accounts) && len(accounts) > 0:
		s.scan.Status = "failed"
	case len(acctErrs) > 0 || len(s.readErrors) > 0:
		s.scan.Status = "partial"
	default:
		s.scan.Status = "succeeded"
	}
	if len(acctErrs) > 0 {
		s.scan.Error = errors.Join(acctErrs...).Error()
	}
	for _, c := range o.Collectors {
		if counter, ok := c.(interface{ APICalls() int64 }); ok {
			s.scan.Stats.APICalls += counter.APICalls()
		}
	}
	end := o.Now().UTC()
	s.scan.FinishedAt = &end
	if err := o.Store.FinishScan(context.WithoutCancel(ctx), s.scan); err != nil {
		return s.scan, fmt.Errorf("finish scan: %w", err)
	}
	if s.scan.Status == "failed" {
		return s.scan, errors.Join(acctErrs...)
	}
	return s.scan, nil
}

// fail records a scan that could not complete.
func (s *run) fail(err error) (vigil.Scan, error) {
	end := s.opts.Now().UTC()
	s.scan.FinishedAt, s.scan.Status, s.scan.Error = &end, "failed", err.Error()
	s.scan.ReadErrors = s.readErrors
	_ = s.opts.Store.FinishScan(context.Background(), s.scan)
	return s.scan, err
}

// collect runs the collectors of every account, bounded, and returns the
// errors of the accounts that failed outright.
func (s *run) collect(ctx context.Context, accounts []vigil.Account) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, s.opts.AccountConcurrency)
	)
	for _, a := range accounts {
		c, ok := s.opts.Collectors[a.Provider]
		if !ok {
			errs = append(errs, fmt.Errorf("account %s: no collector for provider %q", a.ID, a.Provider))
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.Collect(ctx, a, s); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("account %s: %w", a.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// evaluate hashes a resource and runs its type's checks on it.
func (s *run) evaluate(r vigil.Resource) item {
	r.ComputeHash()
	return item{r: r, results: Evaluate(s.opts.Checks, s.opts.Mutes, s.opts.Trust, &r, s.now, s.scan.ID)}
}

// Evaluate runs the checks of r's type on it at now and returns the result
// of each check that applies, muted where a mute matches, for scan (or
// event) scanID. Scans and the event watcher share it, so a resource gets
// the same verdicts however it was read.
func Evaluate(checks *policy.Set, mutes *policy.Mutes, trust policy.Trust, r *vigil.Resource, now time.Time, scanID string) []vigil.Result {
	cs := checks.ForType(r.Type)
	if len(cs) == 0 {
		return nil
	}
	out := make([]vigil.Result, 0, len(cs))
	in := policy.NewInput(r, now).WithTrust(trust)
	for _, c := range cs {
		o := c.Evaluate(in)
		if !o.Applies {
			continue
		}
		o = mutes.Apply(c.ID, r, now, o)
		out = append(out, newResult(c, r.UID, r.Provider, r.Account, r.Region, o.Status, o.Reason, now, scanID))
	}
	return out
}

func newResult(c *policy.Check, uid string, p vigil.Provider, account, region string, st vigil.Status, reason string, now time.Time, scanID string) vigil.Result {
	return vigil.Result{CheckID: c.ID, ResourceUID: uid, ResourceType: c.ResourceType, Provider: p,
		Account: account, Region: region, Severity: c.Severity, Status: st, Reason: reason,
		LastSeen: now, ScanID: scanID}
}

func (s *run) result(c *policy.Check, uid string, p vigil.Provider, account, region string, st vigil.Status, reason string) vigil.Result {
	return newResult(c, uid, p, account, region, st, reason, s.now, s.scan.ID)
}

// write batches resources and results into the store. When the store
// fails it calls stop and drains items, so that the evaluators finish.
func (s *run) write(ctx context.Context, items <-chan item, stop func()) error {
	var (
		rs      []vigil.Resource
		results []vigil.Result
		failed  error
	)
	flush := func() error {
		if len(rs) == 0 && len(results) == 0 {
			return nil
		}
		changed, err := s.store(ctx, rs, results)
		if err != nil {
			return err
		}
		s.scan.Stats.Resources += len(rs)
		s.scan.Stats.Changed += changed
		for _, r := range results {
			s.count(r)
		}
		rs, results = rs[:0], results[:0]
		return nil
	}
	for it := range items {
		if failed != nil {
			continue // drain so that the evaluators finish
		}
		rs = append(rs, it.r)
		results = append(results, it.results...)
		if len(rs) >= s.opts.BatchSize {
			if failed = flush(); failed != nil {
				stop()
			}
		}
	}
	if failed != nil {
		return failed
	}
	return flush()
}

// store writes one batch: resources and results in one transaction with
// the After hook, or (without one) resources then results.
func (s *run) store(ctx context.Context, rs []vigil.Resource, results []vigil.Result) (int, error) {
	if s.opts.After != nil {
		cs, ok := s.opts.Store.(vigil.ChangeStore)
		if !ok {
			return 0, vigil.Errorf(vigil.EINTERNAL, "store resources: the store cannot run an after-record hook")
		}
		rec, err := cs.Record(ctx, vigil.Observation{ScanID: s.scan.ID, At: s.now, Resources: rs, Results: results}, s.opts.After)
		if err != nil {
			return 0, fmt.Errorf("store resources: %w", err)
		}
		return len(rec.Changes), nil
	}
	changed, err := s.opts.Store.PutResources(ctx, s.scan.ID, rs)
	if err != nil {
		return 0, fmt.Errorf("store resources: %w", err)
	}
	if err := s.opts.Store.PutResults(ctx, s.scan.ID, results); err != nil {
		return 0, fmt.Errorf("store results: %w", err)
	}
	return changed, nil
}

func (s *run) count(r vigil.Result) {
	s.scan.Stats.Results[r.Status]++
	if r.Status == vigil.StatusFail {
		s.scan.Stats.Findings[r.Severity]++
	}
}

// finish records error results for failed listings, then sweeps deleted
// resources and resolves results that the scan no longer produces.
func (s *run) finish(ctx context.Context) error {
	var results []vigil.Result
	for _, e := range s.readErrors {
		if e.Property != "" || e.Type == "" || e.UID == "" {
			continue
		}
		at := &vigil.Resource{UID: e.UID, Account: e.Account, Region: e.Region}
		for _, c := range s.opts.Checks.ForType(e.Type) {
			o := s.opts.Mutes.Apply(c.ID, at, s.now, policy.Outcome{Applies: true, Status: vigil.StatusError,
				Reason: fmt.Sprintf("could not list %s: %s", e.Type, e.String())})
			results = append(results, s.result(c, e.UID, vigil.Provider(providerOf(e.Type)), e.Account, e.Region, o.Status, o.Reason))
		}
	}
	if len(results) > 0 {
		if err := s.opts.Store.PutResults(ctx, s.scan.ID, results); err != nil {
			return fmt.Errorf("store listing errors: %w", err)
		}
		for _, r := range results {
			s.count(r)
		}
	}
	sort.Slice(s.scopes, func(i, j int) bool {
		a, b := s.scopes[i], s.scopes[j]
		return a.Account+a.Region+a.Type < b.Account+b.Region+b.Type
	})
	deleted, err := s.opts.Store.Sweep(ctx, s.scan.ID, s.now, s.scopes)
	if err != nil {
		return fmt.Errorf("sweep deleted resources: %w", err)
	}
	s.scan.Stats.Deleted = deleted
	if _, err := s.opts.Store.ResolveStale(ctx, s.scan.ID, s.now, s.opts.Checks.IDs(), s.scopes); err != nil {
		return fmt.Errorf("resolve stale results: %w", err)
	}
	return nil
}

// providerOf returns the provider prefix of a resource type ("aws.s3.bucket" → "aws").
func providerOf(typ string) string {
	for i := range len(typ) {
		if typ[i] == '.' {
			return typ[:i]
		}
	}
	return typ
}
