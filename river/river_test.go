package river

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	riverqueue "github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vigilsec/vigil/sqlite"
)

// recorder is a Deliver function that fails the first fails calls and
// records the notifications it accepted.
type recorder struct {
	mu        sync.Mutex
	fails     int
	calls     int
	delivered []NotifyArgs
}

func (r *recorder) deliver(_ context.Context, args NotifyArgs) error {
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
func insert(t *testing.T, store *sqlite.Store, q *Queue, args NotifyArgs, commit bool) bool {
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

	if !insert(t, store, q, NotifyArgs{Channel: "email", Key: "rolled-back", Subject: "s", Body: "b"}, false) {
		t.Fatal("rolled-back insert reported a duplicate")
	}
	if !insert(t, store, q, NotifyArgs{Channel: "email", Key: "committed", Subject: "s", Body: "b"}, true) {
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
	insert(t, store, q, NotifyArgs{Channel: "slack", Key: "finding-1", Subject: "s", Body: "b"}, true)

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
	insert(t, first, q1, NotifyArgs{Channel: "email", Key: "before-restart", Subject: "s", Body: "b"}, true)
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

	if job.Kind != "notify" || job.State != rivertype.JobStateCompleted {
		t.Errorf("job kind %s state %s, want notify completed", job.Kind, job.State)
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

	args := NotifyArgs{Channel: "email", Key: "scan-7/finding-3", Subject: "s", Body: "b"}
	if !insert(t, store, q, args, true) {
		t.Fatal("first insert reported a duplicate")
	}
	// Same key, different content: still the same notification.
	dup := args
	dup.Body = "other body"
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
	if _, err := q.InsertTx(t.Context(), tx, NotifyArgs{Channel: "email"}); err == nil {
		t.Fatal("insert with an empty key succeeded")
	}
}
