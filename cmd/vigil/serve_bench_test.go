package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil/notify"
)

// BenchmarkServeEvents measures `vigil serve` on moto, end to end: for
// each of 200 buckets a user makes it public and its CloudTrail event is
// put on the SQS queue; Vigil re-reads the bucket, records the change,
// alerts a webhook, fixes the bucket, verifies it and alerts again. It
// reports the latency from the event being enqueued to the change alert
// reaching the receiver and to the verified-fix alert reaching it (which
// is after the verification), p50 and p95, and the events handled per
// second. "paced" sends 2 events a second (a storm, but within what one
// fix worker keeps up with); "burst" puts all 200 on the queue at once and
// measures throughput: events recorded and alerted per second, and fixes
// verified per second (fixes run one at a time, so that the per-hour guard
// is exact).
func BenchmarkServeEvents(b *testing.B) {
	for _, mode := range []struct {
		name  string
		every time.Duration
	}{{"paced", 500 * time.Millisecond}, {"burst", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				benchServe(b, 200, mode.every)
			}
		})
	}
}

func benchServe(b *testing.B, n int, every time.Duration) {
	b.StopTimer()
	tb := testing.TB(b)
	emulator.Reset(tb)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%03d", i)
		createBucket(tb, names[i])
	}
	sqsc, queue, dlq := eventQueues(tb)
	hook := newTimedReceiver(tb)
	cfg := writeConfig(tb, `remediation: {}
watch:
  aws:
    - {queue_url: "`+queue+`", dead_letter_url: "`+dlq+`"}
channels:
  hook: {type: webhook, url: "`+hook.URL+`", secret_env: VIGIL_TEST_HOOK_SECRET}
alerts:
  - {name: made-public, on: change, type: aws.s3.bucket, when: 'new != null && new.public.policy && (old == null || !old.public.policy)', channels: [hook], quiet: 1s}
  - {name: healing, on: fix, outcomes: [verified, failed, flapping, skipped], channels: [hook], quiet: 1s}
autofix:
  enabled: true
  max_fixes_per_run: 0
  max_fixes_per_hour: 0
  rules:
    - {name: private-buckets, checks: [`+publicCheck+`]}
`)
	tb.Setenv("VIGIL_TEST_HOOK_SECRET", hookSecret)
	db := filepath.Join(b.TempDir(), "vigil.db")
	if code, _, stderr := runCLI(tb, "--db", db, "scan", "--endpoint-url", emulator.URL, "--regions", "us-east-1",
		"--services", "s3", "--checks", publicCheck); code != 0 {
		b.Fatalf("scan: exit %d: %s", code, stderr)
	}
	d := startServe(tb, db, cfg, "--event-workers", "8")
	b.StartTimer()

	sent := make(map[string]time.Time, n)
	start := time.Now()
	for i, name := range names {
		makePublic(tb, name)
		sent[name] = time.Now()
		send(tb, sqsc, queue, cloudTrailEvent(fmt.Sprintf("%05d", i), "PutBucketPolicy", name, time.Now()))
		if every > 0 {
			time.Sleep(every)
		}
	}
	eventually(tb, 5*time.Minute, "every alert", func() bool { return hook.count() == 2*n })
	b.StopTimer()
	d.stop()

	var toAlert, toFix []time.Duration
	var lastAlert, lastFix time.Time
	for _, r := range hook.received() {
		name := strings.TrimPrefix(r.uid, "arn:aws:s3:::")
		at, ok := sent[name]
		if !ok {
			b.Fatalf("alert for an unknown bucket %s", r.uid)
		}
		switch r.kind {
		case "change":
			toAlert = append(toAlert, r.at.Sub(at))
			lastAlert = maxTime(lastAlert, r.at)
		case "fix":
			if r.fixStatus != "verified" {
				b.Fatalf("fix of %s: %s", name, r.fixStatus)
			}
			toFix = append(toFix, r.at.Sub(at))
			lastFix = maxTime(lastFix, r.at)
		}
	}
	if len(toAlert) != n || len(toFix) != n {
		b.Fatalf("%d change alerts and %d fix alerts for %d events", len(toAlert), len(toFix), n)
	}
	b.ReportMetric(pct(toAlert, 50).Seconds(), "alert-p50-s")
	b.ReportMetric(pct(toAlert, 95).Seconds(), "alert-p95-s")
	b.ReportMetric(pct(toFix, 50).Seconds(), "fixed-p50-s")
	b.ReportMetric(pct(toFix, 95).Seconds(), "fixed-p95-s")
	b.ReportMetric(float64(n)/lastAlert.Sub(start).Seconds(), "alerted-events/s")
	b.ReportMetric(float64(n)/lastFix.Sub(start).Seconds(), "fixes/s")
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// timedReceiver is a webhook receiver that notes when each alert arrived.
type timedReceiver struct {
	*receiver
	mu   sync.Mutex
	seen []timedAlert
}

func newTimedReceiver(tb testing.TB) *timedReceiver {
	r := &timedReceiver{receiver: newReceiver(tb)}
	r.onAccept = func(b notify.WebhookBody) {
		at := time.Now()
		st := ""
		if b.Fix != nil {
			st = b.Fix.Status
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, timedAlert{uid: b.Resource.UID, kind: b.Kind, fixStatus: st, at: at})
	}
	return r
}

type timedAlert struct {
	uid, kind, fixStatus string
	at                   time.Time
}

func (r *timedReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *timedReceiver) received() []timedAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]timedAlert(nil), r.seen...)
}
