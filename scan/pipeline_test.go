package scan_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/scan"
)

// endless streams buckets until its context ends, calling after once it
// has sent n of them.
type endless struct {
	n     int
	after func()
}

func (e *endless) Collect(ctx context.Context, a vigil.Account, sink vigil.Sink) error {
	for i := 0; ; i++ {
		if i == e.n && e.after != nil {
			e.after()
		}
		r := vigil.Resource{UID: fmt.Sprintf("arn:aws:s3:::b%d", i), Provider: vigil.AWS, Account: a.ID,
			Region: "us-east-1", Type: "aws.s3.bucket", Name: fmt.Sprintf("b%d", i), Properties: map[string]any{}}
		if err := sink.Resource(ctx, r); err != nil {
			return err
		}
	}
}

// failingStore fails every PutResources.
type failingStore struct{ vigil.Store }

var errDiskFull = errors.New("disk full")

func (failingStore) PutResources(context.Context, string, []vigil.Resource) (int, error) {
	return 0, errDiskFull
}

// runWithin runs fn and fails the test if it does not return in time.
func runWithin(t *testing.T, d time.Duration, fn func() (vigil.Scan, error)) (vigil.Scan, error) {
	t.Helper()
	type out struct {
		sc  vigil.Scan
		err error
	}
	ch := make(chan out, 1)
	go func() { sc, err := fn(); ch <- out{sc, err} }()
	select {
	case o := <-ch:
		return o.sc, o.err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return vigil.Scan{}, nil
	}
}

func TestCancelMidScan(t *testing.T) {
	fx := newFixture(t)
	st, set := fx.store, fx.checks
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := &endless{n: 1000, after: cancel}
	r := scan.New(scan.Options{Store: st, Collectors: map[vigil.Provider]vigil.Collector{vigil.AWS: col}, Checks: set, BatchSize: 100})
	sc, err := runWithin(t, 30*time.Second, func() (vigil.Scan, error) {
		return r.Run(ctx, []vigil.Account{{Provider: vigil.AWS, ID: "123456789012"}})
	})
	if !errors.Is(err, context.Canceled) || sc.Status != "failed" {
		t.Fatalf("Run = status %q, %v; want failed, context.Canceled", sc.Status, err)
	}
	scans, err := st.Scans(context.Background(), 1)
	if err != nil || len(scans) != 1 || scans[0].Status != "failed" || scans[0].FinishedAt == nil ||
		scans[0].Error != "scan cancelled: context canceled" {
		t.Fatalf("recorded scans = %+v, %v; want one failed with error %q", scans, err, "scan cancelled: context canceled")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Run, %d before", n, before)
	}
}

func TestStoreFailureStopsCollection(t *testing.T) {
	fx := newFixture(t)
	st, set := fx.store, fx.checks
	col := &endless{} // never stops by itself
	r := scan.New(scan.Options{Store: failingStore{st}, Collectors: map[vigil.Provider]vigil.Collector{vigil.AWS: col},
		Checks: set, BatchSize: 50})
	sc, err := runWithin(t, 30*time.Second, func() (vigil.Scan, error) {
		return r.Run(context.Background(), []vigil.Account{{Provider: vigil.AWS, ID: "123456789012"}})
	})
	if !errors.Is(err, errDiskFull) || sc.Status != "failed" {
		t.Fatalf("Run = status %q, %v; want failed, %v", sc.Status, err, errDiskFull)
	}
	scans, err := st.Scans(context.Background(), 1)
	if err != nil || len(scans) != 1 || scans[0].Status != "failed" {
		t.Fatalf("recorded scans = %+v, %v; want one failed", scans, err)
	}
}
