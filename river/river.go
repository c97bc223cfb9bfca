// Package river runs Vigil's background jobs on River (riverqueue) with its
// SQLite driver, in the same database file as the embedded store, so that
// jobs survive restarts and a job can be inserted in the same transaction as
// the change that caused it (a durable outbox).
package river

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/sqlite"
)

// NotifyArgs is a notification to deliver on a channel. Key is the
// idempotency key: River inserts one job per key, and the channel receives it
// so that it can drop a message it has already accepted.
type NotifyArgs struct {
	Channel string `json:"channel"`
	Key     string `json:"key" river:"unique"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Kind is the River job kind of a notification.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts makes notifications unique by Key in every job state, so a key
// already delivered (or waiting, or retrying) is not inserted again.
func (NotifyArgs) InsertOpts() riverqueue.InsertOpts {
	return riverqueue.InsertOpts{UniqueOpts: riverqueue.UniqueOpts{ByArgs: true}}
}

// Options configures a Queue.
type Options struct {
	// Deliver sends a notification; an error makes River retry it later.
	Deliver func(context.Context, NotifyArgs) error
	// RetryPolicy decides when a failed job runs again; nil is River's
	// default exponential backoff.
	RetryPolicy riverqueue.ClientRetryPolicy
	// Workers is how many jobs run at once; 0 means 4.
	Workers int
	// Logger receives River's logs; nil discards them below warnings.
	Logger *slog.Logger
}

// Queue is a River client on the store's database file.
type Queue struct {
	client *riverqueue.Client[*sql.Tx]
}

// Open migrates River's tables into the store's database and returns a
// Queue that works notifications once started. River uses the store's
// single writer connection, so its writes and the store's are serialised
// and never fail with SQLITE_BUSY against each other.
func Open(ctx context.Context, store *sqlite.Store, opts Options) (*Queue, error) {
	if opts.Deliver == nil {
		return nil, vigil.Errorf(vigil.EINVALID, "open queue: no deliver function")
	}
	driver := riversqlite.New(store.DB())
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("open queue: migrate: %w", err)
	}
	workers := riverqueue.NewWorkers()
	if err := riverqueue.AddWorkerSafely(workers, &notifyWorker{deliver: opts.Deliver}); err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	n := opts.Workers
	if n <= 0 {
		n = 4
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := riverqueue.NewClient(driver, &riverqueue.Config{
		Logger:      logger,
		Queues:      map[string]riverqueue.QueueConfig{riverqueue.QueueDefault: {MaxWorkers: n}},
		RetryPolicy: opts.RetryPolicy,
		Workers:     workers,
	})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	return &Queue{client: client}, nil
}

// InsertTx adds a notification in the caller's transaction, which must have
// been begun on the store's DB: the job exists only if the transaction
// commits. It reports false when a job with the same key already exists.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args NotifyArgs) (bool, error) {
	if args.Key == "" {
		return false, vigil.Errorf(vigil.EINVALID, "insert notification: empty idempotency key")
	}
	res, err := q.client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return false, fmt.Errorf("insert notification %s: %w", args.Key, err)
	}
	return !res.UniqueSkippedAsDuplicate, nil
}

// Start starts working jobs until Stop; ctx only bounds the start-up.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start queue: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish, or
// until ctx is done; an unfinished job runs again after a restart.
func (q *Queue) Stop(ctx context.Context) error {
	if err := q.client.Stop(ctx); err != nil {
		return fmt.Errorf("stop queue: %w", err)
	}
	return nil
}

type notifyWorker struct {
	riverqueue.WorkerDefaults[NotifyArgs]
	deliver func(context.Context, NotifyArgs) error
}

func (w *notifyWorker) Work(ctx context.Context, job *riverqueue.Job[NotifyArgs]) error {
	if err := w.deliver(ctx, job.Args); err != nil {
		return fmt.Errorf("deliver %s on %s (attempt %d): %w", job.Args.Key, job.Args.Channel, job.Attempt, err)
	}
	return nil
}
