// Package river runs Vigil's background jobs on River (riverqueue) with its
// SQLite driver, in the same database file as the embedded store, so that
// jobs survive restarts and a job can be inserted in the same transaction as
// the change that caused it (a durable outbox). The jobs are alert
// deliveries, Always Fix runs for one finding, and scheduled scans.
package river

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/sqlite"
)

// AlertArgs is an alert to deliver on its channel. Key is the alert's
// idempotency key: River inserts one job per key, and the channel receives
// it so that a receiver can drop a message it has already accepted.
type AlertArgs struct {
	Key   string      `json:"key" river:"unique"`
	Alert vigil.Alert `json:"alert"`
}

// Kind is the River job kind of an alert.
func (AlertArgs) Kind() string { return "alert" }

// InsertOpts makes alerts unique by Key in every job state, so a key
// already delivered (or waiting, or retrying) is not inserted again.
func (AlertArgs) InsertOpts() riverqueue.InsertOpts {
	return riverqueue.InsertOpts{Queue: queueAlerts, MaxAttempts: alertAttempts,
		UniqueOpts: riverqueue.UniqueOpts{ByArgs: true, ByState: allStates}}
}

// NewAlert returns the job of an alert.
func NewAlert(a vigil.Alert) AlertArgs { return AlertArgs{Key: a.Key, Alert: a} }

// FixArgs asks for Always Fix on one finding. Key makes it unique: one job
// per finding and resource state, however often the event that broke it is
// delivered.
type FixArgs struct {
	Key     string       `json:"key" river:"unique"`
	CheckID string       `json:"check_id"`
	UID     string       `json:"uid"`
	Cause   *vigil.Cause `json:"cause,omitempty"`
}

// Kind is the River job kind of an Always Fix run.
func (FixArgs) Kind() string { return "autofix" }

// InsertOpts makes fix jobs unique by Key in every state, and tries a fix
// at most three times: a fix that keeps failing needs a person.
func (FixArgs) InsertOpts() riverqueue.InsertOpts {
	return riverqueue.InsertOpts{Queue: queueFixes, MaxAttempts: 3,
		UniqueOpts: riverqueue.UniqueOpts{ByArgs: true, ByState: allStates}}
}

// ScanArgs is a scheduled scan of some accounts.
type ScanArgs struct {
	Schedule string   `json:"schedule"`
	Accounts []string `json:"accounts,omitempty"`
}

// Kind is the River job kind of a scheduled scan.
func (ScanArgs) Kind() string { return "scan" }

// InsertOpts keeps one scan per schedule waiting or running: a scan that
// outlasts its interval is not queued behind itself.
func (ScanArgs) InsertOpts() riverqueue.InsertOpts {
	return riverqueue.InsertOpts{Queue: queueScans, MaxAttempts: 1,
		UniqueOpts: riverqueue.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// allStates are the states a unique job is unique across: every state, so
// that a delivered alert is never sent again while River keeps it (a
// completed job is deleted after CompletedJobRetention).
var allStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted,
	rivertype.JobStateDiscarded, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// Queues: alerts, fixes and scans each have their own workers, so that a
// long scan never delays an alert.
const (
	queueAlerts = "alerts"
	queueFixes  = "fixes"
	queueScans  = "scans"
	// alertAttempts with River's backoff (attempt⁴ seconds) keeps retrying
	// a channel that is down for about three days.
	alertAttempts = 20
)

// Schedule runs a scan periodically.
type Schedule struct {
	Name string
	// Every is the schedule: anything with Next, such as a parsed cron
	// expression or Interval.
	Every    interface{ Next(time.Time) time.Time }
	Accounts []string
}

// Interval is a schedule that fires every d.
type Interval time.Duration

// Next returns now + d.
func (d Interval) Next(now time.Time) time.Time { return now.Add(time.Duration(d)) }

// Options configures a Queue. Nil handlers leave their jobs unworked (a
// client that only inserts and lists, as the CLI uses).
type Options struct {
	// Deliver sends an alert; an error makes River retry it later, unless
	// Permanent says it never will succeed.
	Deliver func(ctx context.Context, a vigil.Alert, attempt int) error
	// Fix runs Always Fix for one finding; attempt is 1 the first time.
	Fix func(ctx context.Context, args FixArgs, attempt int) error
	// Scan runs a scheduled scan.
	Scan      func(ctx context.Context, args ScanArgs) error
	Schedules []Schedule
	// Permanent reports an error that retrying cannot fix (a 400 from a
	// webhook): the job is cancelled, visible in `vigil notifications`.
	Permanent func(error) bool
	// RetryAfter reports an error that says when to try again (HTTP 429
	// Retry-After): the job is snoozed that long.
	RetryAfter func(error) (time.Duration, bool)
	// Failed, if set, is called after each failed attempt of an alert
	// (metrics).
	Failed func(a vigil.Alert, attempt int, final bool, err error)
	// RetryPolicy decides when a failed job runs again; nil is River's
	// default exponential backoff.
	RetryPolicy riverqueue.ClientRetryPolicy
	// Workers is how many alerts are delivered at once (default 4); fixes
	// run one at a time per process, scans one at a time.
	Workers int
	// Logger receives River's logs; nil discards them.
	Logger *slog.Logger
}

// Queue is a River client on the store's database file.
type Queue struct {
	client *riverqueue.Client[*sql.Tx]
	works  bool
}

// Open migrates River's tables into the store's database and returns a
// Queue that works jobs once started. River uses the store's single writer
// connection, so its writes and the store's are serialised and never fail
// with SQLITE_BUSY against each other.
func Open(ctx context.Context, store *sqlite.Store, opts Options) (*Queue, error) {
	driver := riversqlite.New(store.DB())
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: discard(opts.Logger)})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("open queue: migrate: %w", err)
	}
	workers := riverqueue.NewWorkers()
	queues := map[string]riverqueue.QueueConfig{}
	n := opts.Workers
	if n <= 0 {
		n = 4
	}
	if opts.Deliver != nil {
		if err := riverqueue.AddWorkerSafely(workers, &alertWorker{o: opts}); err != nil {
			return nil, fmt.Errorf("open queue: %w", err)
		}
		queues[queueAlerts] = riverqueue.QueueConfig{MaxWorkers: n}
	}
	if opts.Fix != nil {
		if err := riverqueue.AddWorkerSafely(workers, &fixWorker{fix: opts.Fix}); err != nil {
			return nil, fmt.Errorf("open queue: %w", err)
		}
		queues[queueFixes] = riverqueue.QueueConfig{MaxWorkers: 1}
	}
	var periodic []*riverqueue.PeriodicJob
	if opts.Scan != nil {
		if err := riverqueue.AddWorkerSafely(workers, &scanWorker{scan: opts.Scan}); err != nil {
			return nil, fmt.Errorf("open queue: %w", err)
		}
		queues[queueScans] = riverqueue.QueueConfig{MaxWorkers: 1}
		for _, s := range opts.Schedules {
			args := ScanArgs{Schedule: s.Name, Accounts: s.Accounts}
			periodic = append(periodic, riverqueue.NewPeriodicJob(s.Every,
				func() (riverqueue.JobArgs, *riverqueue.InsertOpts) { return args, nil },
				&riverqueue.PeriodicJobOpts{ID: "scan/" + s.Name}))
		}
	} else if len(opts.Schedules) > 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "open queue: schedules without a scan function")
	}
	cfg := &riverqueue.Config{
		Logger:       discard(opts.Logger),
		RetryPolicy:  opts.RetryPolicy,
		PeriodicJobs: periodic,
		// A delivered alert's job is kept a week: its key stays taken, so
		// an event redelivered within that time is never alerted twice.
		CompletedJobRetentionPeriod: 7 * 24 * time.Hour,
		// SQLite has no LISTEN/NOTIFY: River finds new jobs by polling.
		// Every 200 ms keeps an alert's wait for a worker short (the
		// default 1 s was most of the event-to-alert latency) for one
		// indexed query per queue.
		FetchPollInterval: 200 * time.Millisecond,
		FetchCooldown:     50 * time.Millisecond,
	}
	if len(queues) > 0 {
		cfg.Queues = queues
		cfg.Workers = workers
	}
	client, err := riverqueue.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return &Queue{client: client, works: len(queues) > 0}, nil
}

func discard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Outbox returns the outbox of a transaction begun on the store's DB:
// the store's SetOutbox takes this method.
func (q *Queue) Outbox(tx *sql.Tx) vigil.Outbox { return outbox{q: q, tx: tx} }

type outbox struct {
	q  *Queue
	tx *sql.Tx
}

func (o outbox) Enqueue(ctx context.Context, job vigil.JobArgs) (bool, error) {
	return o.q.InsertTx(ctx, o.tx, job)
}

// InsertTx adds a job in the caller's transaction, which must have been
// begun on the store's DB: the job exists only if the transaction commits.
// It reports false when a job with the same unique key already exists.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, job vigil.JobArgs) (bool, error) {
	if err := validate(job); err != nil {
		return false, err
	}
	res, err := q.client.InsertTx(ctx, tx, job, nil)
	if err != nil {
		return false, fmt.Errorf("insert %s job: %w", job.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Insert adds a job in a transaction of its own.
func (q *Queue) Insert(ctx context.Context, job vigil.JobArgs) (bool, error) {
	if err := validate(job); err != nil {
		return false, err
	}
	res, err := q.client.Insert(ctx, job, nil)
	if err != nil {
		return false, fmt.Errorf("insert %s job: %w", job.Kind(), err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

func validate(job vigil.JobArgs) error {
	switch j := job.(type) {
	case AlertArgs:
		if j.Key == "" || j.Alert.Channel == "" {
			return vigil.Errorf(vigil.EINVALID, "insert alert: needs an idempotency key and a channel")
		}
	case FixArgs:
		if j.Key == "" || j.CheckID == "" || j.UID == "" {
			return vigil.Errorf(vigil.EINVALID, "insert fix: needs a key, a check id and a resource uid")
		}
	case ScanArgs:
	default:
		return vigil.Errorf(vigil.EINVALID, "insert job: unknown job kind %q", job.Kind())
	}
	return nil
}

// Start starts working jobs until Stop; ctx only bounds the start-up.
func (q *Queue) Start(ctx context.Context) error {
	if !q.works {
		return vigil.Errorf(vigil.EINVALID, "start queue: no job handlers configured")
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish, or
// until ctx is done; an unfinished job runs again after a restart.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.works {
		return nil
	}
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}

type alertWorker struct {
	riverqueue.WorkerDefaults[AlertArgs]
	o Options
}

// Timeout bounds one delivery attempt; channels have their own shorter
// HTTP and SMTP timeouts.
func (w *alertWorker) Timeout(*riverqueue.Job[AlertArgs]) time.Duration { return 2 * time.Minute }

func (w *alertWorker) Work(ctx context.Context, job *riverqueue.Job[AlertArgs]) error {
	a := job.Args.Alert
	err := w.o.Deliver(ctx, a, job.Attempt)
	if err == nil {
		return nil
	}
	permanent := w.o.Permanent != nil && w.o.Permanent(err)
	final := permanent || job.Attempt >= job.MaxAttempts
	if w.o.Failed != nil {
		w.o.Failed(a, job.Attempt, final, err)
	}
	err = fmt.Errorf("deliver %s on %s (attempt %d): %w", a.Key, a.Channel, job.Attempt, err)
	if permanent {
		return riverqueue.JobCancel(err)
	}
	if w.o.RetryAfter != nil {
		if d, ok := w.o.RetryAfter(err); ok && d > 0 {
			return riverqueue.JobSnooze(min(d, time.Hour))
		}
	}
	return err
}

type fixWorker struct {
	riverqueue.WorkerDefaults[FixArgs]
	fix func(context.Context, FixArgs, int) error
}

func (w *fixWorker) Timeout(*riverqueue.Job[FixArgs]) time.Duration { return 5 * time.Minute }

func (w *fixWorker) Work(ctx context.Context, job *riverqueue.Job[FixArgs]) error {
	if err := w.fix(ctx, job.Args, job.Attempt); err != nil {
		return fmt.Errorf("always fix %s on %s: %w", job.Args.CheckID, job.Args.UID, err)
	}
	return nil
}

type scanWorker struct {
	riverqueue.WorkerDefaults[ScanArgs]
	scan func(context.Context, ScanArgs) error
}

func (w *scanWorker) Timeout(*riverqueue.Job[ScanArgs]) time.Duration { return 6 * time.Hour }

func (w *scanWorker) Work(ctx context.Context, job *riverqueue.Job[ScanArgs]) error {
	if err := w.scan(ctx, job.Args); err != nil {
		return fmt.Errorf("scheduled scan %s: %w", job.Args.Schedule, err)
	}
	return nil
}

// Delivery is the state of one alert job, for `vigil notifications`.
type Delivery struct {
	ID          int64       `json:"id"`
	State       string      `json:"state"` // available, running, retryable, completed, cancelled, discarded…
	Attempt     int         `json:"attempt"`
	MaxAttempts int         `json:"max_attempts"`
	CreatedAt   time.Time   `json:"created_at"`
	ScheduledAt time.Time   `json:"scheduled_at"`
	FinalizedAt *time.Time  `json:"finalized_at,omitempty"`
	LastError   string      `json:"last_error,omitempty"`
	Alert       vigil.Alert `json:"alert"`
}

// Failing reports whether the delivery failed and is not delivered: it
// is waiting for a retry (retryable, or available again), being retried,
// or given up (cancelled, discarded).
func (d Delivery) Failing() bool {
	return d.State != string(rivertype.JobStateCompleted) && d.LastError != ""
}

// Deliveries lists alert jobs, newest first, at most limit (default 100).
// With failing set it lists only those that failed and are not delivered
// (see Delivery.Failing).
func (q *Queue) Deliveries(ctx context.Context, limit int, failing bool) ([]Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	params := riverqueue.NewJobListParams().Kinds(AlertArgs{}.Kind()).First(min(limit, 10000)).
		OrderBy(riverqueue.JobListOrderByID, riverqueue.SortOrderDesc)
	if failing {
		params = params.States(rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled, rivertype.JobStateCancelled, rivertype.JobStateDiscarded)
	}
	res, err := q.client.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]Delivery, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		d, err := delivery(j)
		if err != nil {
			return nil, err
		}
		if failing && !d.Failing() {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func delivery(j *rivertype.JobRow) (Delivery, error) {
	var args AlertArgs
	if err := unmarshalArgs(j.EncodedArgs, &args); err != nil {
		return Delivery{}, fmt.Errorf("job %d: %w", j.ID, err)
	}
	d := Delivery{ID: j.ID, State: string(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, FinalizedAt: j.FinalizedAt, Alert: args.Alert}
	if n := len(j.Errors); n > 0 {
		d.LastError = j.Errors[n-1].Error
	}
	return d, nil
}

func unmarshalArgs(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode job args: %w", err)
	}
	return nil
}

// Backoff is a retry policy: Base after the first failure, doubling with
// each attempt up to Max (default 1 h). River's default (attempt⁴ seconds)
// suits production; a shorter Base suits tests and impatient operators.
type Backoff struct {
	Base, Max time.Duration
}

// NextRetry returns when a job that failed its latest attempt runs again.
func (b Backoff) NextRetry(job *rivertype.JobRow) time.Time {
	maxWait := b.Max
	if maxWait <= 0 {
		maxWait = time.Hour
	}
	wait := b.Base
	for i := 1; i < job.Attempt && wait < maxWait; i++ {
		wait *= 2
	}
	return time.Now().Add(min(wait, maxWait))
}
