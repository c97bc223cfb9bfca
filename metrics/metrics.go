// Package metrics exposes what `vigil serve` does as Prometheus metrics:
// scans, resources, open findings by severity, change events and their lag,
// fixes, and alert deliveries with their failures.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilsec/vigil"
)

// Metrics holds the daemon's metrics, in a registry of its own.
type Metrics struct {
	reg          *prometheus.Registry
	scans        *prometheus.CounterVec
	scanDuration prometheus.Histogram
	scanRes      *prometheus.GaugeVec
	events       *prometheus.CounterVec
	eventLag     prometheus.Histogram
	fixes        *prometheus.CounterVec
	alerts       *prometheus.CounterVec
	alertFails   *prometheus.CounterVec
}

// Findings counts the open findings by severity; the metrics call it on
// each scrape, at most every few seconds.
type Findings func() (map[vigil.Severity]int, error)

// New returns the metrics, with Go and process collectors, and the open
// findings gauge read through findings (nil: no gauge).
func New(version string, findings Findings) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.scans = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_scans_total",
		Help: "Scans finished, by status (succeeded, partial, failed)."}, []string{"status"})
	m.scanDuration = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_scan_duration_seconds",
		Help: "How long full scans took.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)})
	m.scanRes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_scan_resources",
		Help: "Resources collected by the last scan of each account."}, []string{"account"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_events_total",
		Help: "Change events handled, by outcome (recorded, unchanged, ignored, malformed, failed, gave_up)."}, []string{"outcome"})
	m.eventLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_event_lag_seconds",
		Help:    "Time from a change event (its eventTime) to Vigil having handled it.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800}})
	m.fixes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_fixes_total",
		Help: "Fix attempts by outcome (verified, failed, skipped, dry_run)."}, []string{"status"})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_alerts_delivered_total",
		Help: "Alerts delivered, by channel."}, []string{"channel"})
	m.alertFails = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_alert_failures_total",
		Help: "Failed alert delivery attempts, by channel; final=true when Vigil gave up."}, []string{"channel", "final"})
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_build_info", Help: "Vigil's version.",
		ConstLabels: prometheus.Labels{"version": version}})
	build.Set(1)
	m.reg.MustRegister(m.scans, m.scanDuration, m.scanRes, m.events, m.eventLag, m.fixes, m.alerts, m.alertFails, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if findings != nil {
		m.reg.MustRegister(&findingsCollector{read: findings, ttl: 5 * time.Second,
			desc: prometheus.NewDesc("vigil_findings_open", "Open findings (failing results) by severity.", []string{"severity"}, nil)})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Scanned counts a finished scan.
func (m *Metrics) Scanned(s vigil.Scan) {
	m.scans.WithLabelValues(s.Status).Inc()
	if s.FinishedAt != nil {
		m.scanDuration.Observe(s.FinishedAt.Sub(s.StartedAt).Seconds())
	}
	if len(s.Accounts) == 1 {
		m.scanRes.WithLabelValues(s.Accounts[0]).Set(float64(s.Stats.Resources))
	}
}

// Handled counts a change event; it implements watch.Observer.
func (m *Metrics) Handled(outcome string, lag time.Duration) {
	m.events.WithLabelValues(outcome).Inc()
	if lag > 0 {
		m.eventLag.Observe(lag.Seconds())
	}
}

// Fixed counts a fix attempt.
func (m *Metrics) Fixed(f vigil.Fix) { m.fixes.WithLabelValues(string(f.Status)).Inc() }

// Delivered counts an alert delivered.
func (m *Metrics) Delivered(channel string) { m.alerts.WithLabelValues(channel).Inc() }

// DeliveryFailed counts a failed delivery attempt.
func (m *Metrics) DeliveryFailed(channel string, final bool) {
	f := "false"
	if final {
		f = "true"
	}
	m.alertFails.WithLabelValues(channel, f).Inc()
}

// findingsCollector reads the open findings on scrape, cached for ttl so
// that frequent scrapes do not query the store each time.
type findingsCollector struct {
	read Findings
	ttl  time.Duration
	desc *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[vigil.Severity]int
}

func (c *findingsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *findingsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.counts == nil || time.Since(c.at) > c.ttl {
		counts, err := c.read()
		if err != nil {
			c.mu.Unlock()
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		c.counts, c.at = counts, time.Now()
	}
	counts := c.counts
	c.mu.Unlock()
	for _, s := range []vigil.Severity{vigil.Critical, vigil.High, vigil.Medium, vigil.Low, vigil.Info} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
