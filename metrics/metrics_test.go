package metrics

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	var reads atomic.Int32
	m := New("1.2.3", func() (map[vigil.Severity]int, error) {
		reads.Add(1)
		return map[vigil.Severity]int{vigil.Critical: 2, vigil.Low: 1}, nil
	})
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(3 * time.Second)
	m.Scanned(vigil.Scan{Status: "succeeded", StartedAt: start, FinishedAt: &end, Accounts: []string{"123456789012"},
		Stats: vigil.ScanStats{Resources: 61}})
	m.Handled("recorded", 1500*time.Millisecond)
	m.Handled("malformed", 0)
	m.Fixed(vigil.Fix{Status: vigil.FixVerified})
	m.Delivered("hook")
	m.DeliveryFailed("ops-email", false)
	m.DeliveryFailed("ops-email", true)
	out := scrape(t, m)
	for _, want := range []string{
		`vigil_build_info{version="1.2.3"} 1`,
		`vigil_scans_total{status="succeeded"} 1`,
		`vigil_scan_duration_seconds_sum 3`,
		`vigil_scan_resources{account="123456789012"} 61`,
		`vigil_events_total{outcome="recorded"} 1`,
		`vigil_events_total{outcome="malformed"} 1`,
		`vigil_event_lag_seconds_count 1`,
		`vigil_event_lag_seconds_bucket{le="2"} 1`,
		`vigil_event_lag_seconds_bucket{le="1"} 0`,
		`vigil_fixes_total{status="verified"} 1`,
		`vigil_alerts_delivered_total{channel="hook"} 1`,
		`vigil_alert_failures_total{channel="ops-email",final="false"} 1`,
		`vigil_alert_failures_total{channel="ops-email",final="true"} 1`,
		`vigil_findings_open{severity="critical"} 2`,
		`vigil_findings_open{severity="low"} 1`,
		`vigil_findings_open{severity="high"} 0`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	// A second scrape within the cache period does not read the store.
	scrape(t, m)
	if n := reads.Load(); n != 1 {
		t.Errorf("findings read %d times for two scrapes in 5s, want 1", n)
	}
}

func TestFindingsError(t *testing.T) {
	m := New("dev", func() (map[vigil.Severity]int, error) { return nil, errors.New("database is locked") })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	// promhttp answers 500 with the collector's error rather than a wrong zero.
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "database is locked") {
		t.Errorf("scrape with a failing store: %d %q", rec.Code, rec.Body.String())
	}
}
