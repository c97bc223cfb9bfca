package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

// testJob is a job for the fake outbox.
type testJob struct{ key string }

func (testJob) Kind() string { return "test" }

// tableOutbox is an Outbox that inserts into a table of the store's file in
// the transaction it is given, as the River outbox does with its own table.
type tableOutbox struct{ tx *sql.Tx }

func (o tableOutbox) Enqueue(ctx context.Context, job vigil.JobArgs) (bool, error) {
	res, err := o.tx.ExecContext(ctx, `INSERT OR IGNORE INTO test_jobs (kind, key) VALUES (?, ?)`, job.Kind(), job.(testJob).key)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func jobs(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.r.Query(`SELECT key FROM test_jobs ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// TestRecordOutbox: jobs enqueued by the after hook exist if and only if
// the observation commits.
func TestRecordOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	if _, err := s.w.Exec(`CREATE TABLE test_jobs (kind TEXT NOT NULL, key TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	s.SetOutbox(func(tx *sql.Tx) vigil.Outbox { return tableOutbox{tx} })
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	obs := func(scan, uid string) vigil.Observation {
		return vigil.Observation{ScanID: scan, At: at, Resources: []vigil.Resource{{UID: uid, Type: "aws.s3.bucket"}},
			Results: []vigil.Result{{CheckID: "c", ResourceUID: uid, Status: vigil.StatusFail}}}
	}
	// One job per change and per opened finding, keyed by what caused it.
	enqueue := func(ctx context.Context, rec vigil.Recorded, out vigil.Outbox) error {
		for _, c := range rec.Changes {
			if _, err := out.Enqueue(ctx, testJob{"change:" + c.Version.UID}); err != nil {
				return err
			}
		}
		for _, tr := range rec.Transitions {
			if tr.Opened {
				if _, err := out.Enqueue(ctx, testJob{"opened:" + tr.Result.ResourceUID}); err != nil {
					return err
				}
			}
		}
		return nil
	}

	if _, err := s.Record(ctx, obs("ev-1", "a"), enqueue); err != nil {
		t.Fatalf("Record: %v", err)
	}
	if got, want := jobs(t, s), []string{"change:a", "opened:a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("jobs after a commit = %v, want %v", got, want)
	}

	boom := errors.New("boom")
	_, err := s.Record(ctx, obs("ev-2", "b"), func(ctx context.Context, rec vigil.Recorded, out vigil.Outbox) error {
		if err := enqueue(ctx, rec, out); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Record with a failing hook = %v, want boom", err)
	}
	if got, want := jobs(t, s), []string{"change:a", "opened:a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("jobs after a rollback = %v, want %v", got, want)
	}

	// A job with a key that exists is reported as such.
	var added []bool
	_, err = s.Record(ctx, vigil.Observation{ScanID: "ev-3", At: at}, func(ctx context.Context, _ vigil.Recorded, out vigil.Outbox) error {
		for _, k := range []string{"change:a", "change:z"} {
			ok, err := out.Enqueue(ctx, testJob{k})
			if err != nil {
				return err
			}
			added = append(added, ok)
		}
		return nil
	})
	if err != nil || !reflect.DeepEqual(added, []bool{false, true}) {
		t.Fatalf("Enqueue of an existing and a new key = %v, %v; want false, true", added, err)
	}
}

// TestRecordNoOutbox: without a job queue, enqueueing fails and the
// observation rolls back.
func TestRecordNoOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	obs := vigil.Observation{ScanID: "ev-1", Resources: []vigil.Resource{{UID: "a", Type: "aws.s3.bucket"}}}
	_, err := s.Record(ctx, obs, func(ctx context.Context, _ vigil.Recorded, out vigil.Outbox) error {
		_, err := out.Enqueue(ctx, testJob{"k"})
		return err
	})
	if vigil.ErrorCode(err) != vigil.EINTERNAL || err.Error() != "record ev-1: after record: enqueue: no job queue configured" {
		t.Fatalf("Record enqueueing without a queue = %v (code %s), want the EINTERNAL no job queue error", err, vigil.ErrorCode(err))
	}
	if _, err := s.Resource(ctx, "a"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Fatalf("Resource after the rollback: %v, want ENOTFOUND", err)
	}
	// A hook that enqueues nothing needs no queue.
	if _, err := s.Record(ctx, obs, func(context.Context, vigil.Recorded, vigil.Outbox) error { return nil }); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

// TestChangesIndexes: the listing and the actor filter use the indexes of
// migration 003 rather than scanning the versions.
func TestChangesIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	for _, tc := range []struct{ query, index string }{
		{`SELECT uid FROM resource_versions v ORDER BY v.observed_at DESC, v.uid, v.seq DESC LIMIT 100`, "resource_versions_observed_at"},
		{`SELECT uid FROM resource_versions v WHERE v.observed_at >= '2025' ORDER BY v.observed_at DESC, v.uid, v.seq DESC LIMIT 100`, "resource_versions_observed_at"},
	} {
		rows, err := s.r.Query(`EXPLAIN QUERY PLAN ` + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan += detail + "\n"
		}
		rows.Close()
		if !strings.Contains(plan, tc.index) {
			t.Errorf("plan of %s:\n%s\nwant the index %s", tc.query, plan, tc.index)
		}
	}
}
