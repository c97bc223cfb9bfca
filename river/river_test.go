package river

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/sqlite"
)

func alert(key, channel string) AlertArgs {
	return NewAlert(vigil.Alert{Key: key, Channel: channel, Kind: vigil.AlertChange, Title: "t"})
}

// recorder is a Deliver function that fails the first fails calls and
// records the notifications it accepted.
type recorder struct {
	mu        sync.Mutex
	fails     int
	calls     int
	delivered []vigil.Alert
}

func (r *recorder) deliver(_ context.Context, args vigil.Alert, _ int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls <= r.fails {
		return errors.New("channel down")
	}
	r.delivered = append(r.delivered, args)
	return nil
}

func (r *recorder) result() (calls int, keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.delivered {
		keys = append(keys, a.Key)
	}
	return r.calls, keys
}

// retrySoon retries a failed job 10ms later, instead of River's default
// backoff that starts at about a second and grows to weeks.
type retrySoon struct{}

func (retrySoon) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(10 * time.Millisecond) }

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// openQueue opens a queue on store; it is stopped at the end of the test
// (before the store closes, as cleanups run last-in first-out).
func openQueue(t *testing.T, store *sqlite.Store, r *recorder) *Queue {
	t.Helper()
	q, err := Open(t.Context(), store, Options{Deliver: r.deliver, RetryPolicy: retrySoon{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

// insert adds args in a transaction on the store's writer and commits it or
// rolls it back.
func insert(t *testing.T, store *sqlite.Store, q *Queue, args AlertArgs, commit bool) bool {
	t.Helper()
	ctx := t.Context()
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	inserted, err := q.InsertTx(ctx, tx, args)
	if err != nil {
		tx.Rollback()
		t.Fatal(err)
	}
	if !commit {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		return inserted
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return inserted
}

// start subscribes to completed jobs, starts q and returns a function that
// waits for the next completed job and returns it.
func start(t *testing.T, q *Queue) func() *rivertype.JobRow {
	t.Helper()
	events, cancel := q.client.Subscribe(riverqueue.EventKindJobCompleted)
	t.Cleanup(cancel)
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return func() *rivertype.JobRow {
		t.Helper()
		select {
		case ev := <-events:
			return ev.Job
		case <-time.After(30 * time.Second):
			t.Fatal("no job completed within 30s")
			return nil
		}
	}
}

// stop stops q gracefully, so that nothing runs after it returns.
func stop(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func jobCount(t *testing.T, store *sqlite.Store) int {
	t.Helper()
	var n int
	if err := store.DB().QueryRowContext(t.Context(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutboxTransaction(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	r := &recorder{}
	q := openQueue(t, store, r)

	if !insert(t, store, q, alert("rolled-back", "email"), false) {
		t.Fatal("rolled-back insert reported a duplicate")
	}
	if !insert(t, store, q, alert("committed", "email"), true) {
		t.Fatal("committed insert reported a duplicate")
	}
	if n := jobCount(t, store); n != 1 {
		t.Fatalf("river_job has %d rows after one commit and one rollback, want 1", n)
	}

	next := start(t, q)
	job := next()
	stop(t, q)

	if job.State != rivertype.JobStateCompleted || job.Attempt != 1 {
		t.Errorf("job state %s attempt %d, want completed attempt 1", job.State, job.Attempt)
	}
	calls, keys := r.result()
	if calls != 1 || !slices.Equal(keys, []string{"committed"}) {
		t.Errorf("deliver called %d times with keys %v, want once with [committed]", calls, keys)
	}
}

func TestRetryUntilDelivered(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	r := &recorder{fails: 2}
	q := openQueue(t, store, r)
	insert(t, store, q, alert("finding-1", "slack"), true)

	next := start(t, q)
	begin := time.Now()
	job := next()
	took := time.Since(begin)
	stop(t, q)

	if job.State != rivertype.JobStateCompleted || job.Attempt != 3 || len(job.Errors) != 2 {
		t.Errorf("job state %s attempt %d with %d errors, want completed attempt 3 with 2 errors",
			job.State, job.Attempt, len(job.Errors))
	}
	calls, keys := r.result()
	if calls != 3 || !slices.Equal(keys, []string{"finding-1"}) {
		t.Errorf("deliver called %d times, delivered %v, want 3 calls and [finding-1]", calls, keys)
	}
	t.Logf("delivered after 2 failures in %v", took)
}

func TestJobSurvivesRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vigil.db")

	// First process: insert, never start, close the database.
	first, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	r1 := &recorder{}
	q1, err := Open(t.Context(), first, Options{Deliver: r1.deliver})
	if err != nil {
		t.Fatal(err)
	}
	insert(t, first, q1, alert("before-restart", "email"), true)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// Second process on the same file.
	store := openStore(t, path)
	r2 := &recorder{}
	q2 := openQueue(t, store, r2)
	next := start(t, q2)
	job := next()
	stop(t, q2)

	if job.Kind != "alert" || job.State != rivertype.JobStateCompleted {
		t.Errorf("job kind %s state %s, want alert completed", job.Kind, job.State)
	}
	if calls, _ := r1.result(); calls != 0 {
		t.Errorf("first process delivered %d times, want 0", calls)
	}
	calls, keys := r2.result()
	if calls != 1 || !slices.Equal(keys, []string{"before-restart"}) {
		t.Errorf("second process: deliver called %d times with %v, want once with [before-restart]", calls, keys)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	r := &recorder{}
	q := openQueue(t, store, r)

	args := alert("scan-7/finding-3", "email")
	if !insert(t, store, q, args, true) {
		t.Fatal("first insert reported a duplicate")
	}
	// Same key, different content: still the same notification.
	dup := args
	dup.Alert.Title = "other title"
	if insert(t, store, q, dup, true) {
		t.Error("second insert of the same key was inserted")
	}

	next := start(t, q)
	next()
	// Once delivered, the key stays taken while River keeps the completed job.
	if insert(t, store, q, args, true) {
		t.Error("insert after delivery of the same key was inserted")
	}
	stop(t, q)

	if n := jobCount(t, store); n != 1 {
		t.Errorf("river_job has %d rows, want 1", n)
	}
	calls, keys := r.result()
	if calls != 1 || !slices.Equal(keys, []string{"scan-7/finding-3"}) {
		t.Errorf("deliver called %d times with %v, want once with [scan-7/finding-3]", calls, keys)
	}
}

func TestInsertTxEmptyKey(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	q := openQueue(t, store, &recorder{})
	tx, err := store.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := q.InsertTx(t.Context(), tx, AlertArgs{Alert: vigil.Alert{Channel: "email"}}); err == nil {
		t.Fatal("insert with an empty key succeeded")
	}
}

func TestPermanentFailureIsVisible(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	var mu sync.Mutex
	var failed []string
	q, err := Open(t.Context(), store, Options{
		Deliver:     func(context.Context, vigil.Alert, int) error { return errBadRequest },
		Permanent:   func(err error) bool { return errors.Is(err, errBadRequest) },
		RetryPolicy: retrySoon{},
		Failed: func(a vigil.Alert, attempt int, final bool, err error) {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, fmt.Sprintf("%s/%d/%v", a.Key, attempt, final))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	insert(t, store, q, alert("bad-1", "hook"), true)
	events, cancel := q.client.Subscribe(riverqueue.EventKindJobCancelled)
	defer cancel()
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Job.Attempt != 1 {
			t.Errorf("cancelled after %d attempts, want 1", ev.Job.Attempt)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("job not cancelled within 30s")
	}
	stop(t, q)
	ds, err := q.Deliveries(t.Context(), 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].State != "cancelled" || ds[0].Alert.Key != "bad-1" || !ds[0].Failing() ||
		!strings.Contains(ds[0].LastError, "400 bad request") {
		t.Errorf("failing deliveries = %+v, want bad-1 cancelled with the 400 error", ds)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(failed, []string{"bad-1/1/true"}) {
		t.Errorf("Failed calls = %v, want [bad-1/1/true]", failed)
	}
}

var errBadRequest = errors.New("400 bad request")

func TestFixAndScheduledScanJobs(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	fixes := make(chan FixArgs, 4)
	scans := make(chan ScanArgs, 4)
	q, err := Open(t.Context(), store, Options{
		Fix:       func(_ context.Context, a FixArgs, _ int) error { fixes <- a; return nil },
		Scan:      func(_ context.Context, a ScanArgs) error { scans <- a; return nil },
		Schedules: []Schedule{{Name: "hourly", Every: Interval(time.Second), Accounts: []string{"123456789012"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	args := FixArgs{Key: "fix/c/u/h1", CheckID: "c", UID: "u"}
	for range 2 {
		tx, err := store.DB().BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Outbox(tx).Enqueue(t.Context(), args); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-fixes:
		if got != args {
			t.Errorf("fix job args %+v, want %+v", got, args)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no fix job ran within 30s")
	}
	select {
	case got := <-scans:
		if got.Schedule != "hourly" || !slices.Equal(got.Accounts, []string{"123456789012"}) {
			t.Errorf("scan job args %+v", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no scheduled scan ran within 30s")
	}
	stop(t, q)
	select {
	case got := <-fixes:
		t.Errorf("the same fix key ran twice: %+v", got)
	default:
	}
}

func TestInsertRejectsBadJobs(t *testing.T) {
	t.Parallel()
	store := openStore(t, filepath.Join(t.TempDir(), "vigil.db"))
	q, err := Open(t.Context(), store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range []vigil.JobArgs{AlertArgs{Key: "k"}, FixArgs{Key: "k", CheckID: "c"}, otherJob{}} {
		if _, err := q.Insert(t.Context(), job); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("Insert(%#v) = %v, want EINVALID", job, err)
		}
	}
	if err := q.Start(t.Context()); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("Start on an insert-only queue = %v, want EINVALID", err)
	}
}

type otherJob struct{}

func (otherJob) Kind() string { return "other" }
