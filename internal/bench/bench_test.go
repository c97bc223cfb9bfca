// Package bench holds Vigil's end-to-end benchmarks; `make bench` prints
// their figures. They measure, they do not assert timings.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/internal/demo"
	"github.com/vigilsec/vigil/internal/moto"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/scan"
	"github.com/vigilsec/vigil/sqlite"
)

// peakRSS returns the process's peak resident set size in MiB (VmHWM).
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkScanDemo scans the demo account (seeded into moto, two regions,
// every service) end to end into SQLite, and reports wall time, API calls,
// resources/s and peak RSS. The "unlimited" run lifts the per-service rate
// limits, showing how much of the wall time is the IAM limit of 10/s that
// protects a real account's own API budget.
func BenchmarkScanDemo(b *testing.B) {
	unlimited := map[string]float64{}
	for _, s := range awscol.Services() {
		unlimited[s] = 10000
	}
	for _, run := range []struct {
		scale int
		rates map[string]float64
	}{{1, nil}, {10, nil}, {10, unlimited}} {
		scale := run.scale
		name := fmt.Sprintf("scale=%d", scale)
		if run.rates != nil {
			name += "/rates=unlimited"
		}
		b.Run(name, func(b *testing.B) {
			srv, cfg := startMoto(b)
			ctx := context.Background()
			if err := demo.Seed(ctx, cfg, scale); err != nil {
				b.Fatal(err)
			}
			checks, err := policy.Load(builtin.Source())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("bench-%d.db", i)))
				if err != nil {
					b.Fatal(err)
				}
				col, err := awscol.New(awscol.Options{Endpoint: srv.URL, Regions: demo.Regions, Rates: run.rates})
				if err != nil {
					b.Fatal(err)
				}
				acct, err := col.Resolve(ctx, awscol.Target{})
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				sc, err := scan.New(scan.Options{Store: store, Collectors: map[vigil.Provider]vigil.Collector{vigil.AWS: col}, Checks: checks}).
					Run(ctx, []vigil.Account{acct})
				wall := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				_ = store.Close()
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(float64(col.APICalls()), "api-calls")
				b.ReportMetric(float64(sc.Stats.Resources), "resources")
				b.ReportMetric(float64(sc.Stats.Resources)/wall.Seconds(), "resources/s")
				b.ReportMetric(peakRSS(), "peak-RSS-MiB")
			}
		})
	}
}

// startMoto starts moto for a benchmark, with credentials in the
// environment, and returns it with an SDK config that points at it.
func startMoto(b *testing.B) (*moto.Server, aws.Config) {
	b.Helper()
	srv, err := moto.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	b.Setenv("AWS_ACCESS_KEY_ID", "bench")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "bench")
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"), config.WithBaseEndpoint(srv.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("bench", "bench", "")))
	if err != nil {
		b.Fatal(err)
	}
	return srv, cfg
}

// estate generates n resources spread over the types the built-in checks
// cover, with properties that make roughly half of them fail.
func estate(n int, checks *policy.Set) []vigil.Resource {
	var types []string
	seen := map[string]bool{}
	for _, c := range checks.Checks() {
		if !seen[c.ResourceType] {
			seen[c.ResourceType] = true
			types = append(types, c.ResourceType)
		}
	}
	// Fixture resources are realistic property documents for each type.
	var docs = map[string][]map[string]any{}
	for _, c := range checks.Checks() {
		for _, t := range c.Tests {
			if t.Resource != nil {
				docs[c.ResourceType] = append(docs[c.ResourceType], t.Resource)
			}
		}
	}
	out := make([]vigil.Resource, n)
	for i := range out {
		typ := types[i%len(types)]
		ds := docs[typ]
		out[i] = vigil.Resource{UID: fmt.Sprintf("arn:aws:bench:us-east-1:123456789012:r/%d", i), Type: typ,
			Name: fmt.Sprintf("r-%d", i), Region: "us-east-1", Account: "123456789012",
			Properties: ds[i%len(ds)]}
	}
	return out
}

// BenchmarkEvaluate evaluates every built-in check on a generated estate
// of 100,000 resources with all cores, and reports check × resource
// evaluations per second. In "unreadable=10%", one resource in ten has a
// property it could not read, which sends its evaluations through CEL's
// partial evaluation.
func BenchmarkEvaluate(b *testing.B) {
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unreadable=0%", func(b *testing.B) { evaluate(b, checks, estate(100_000, checks)) })
	rs := estate(100_000, checks)
	for i := 0; i < len(rs); i += 10 {
		for k := range rs[i].Properties {
			rs[i].ReadErrors = []vigil.ReadError{{Property: k, Operation: "bench:Get", Code: vigil.EFORBIDDEN}}
			break
		}
	}
	b.Run("unreadable=10%", func(b *testing.B) { evaluate(b, checks, rs) })
}

func evaluate(b *testing.B, checks *policy.Set, rs []vigil.Resource) {
	now := time.Now()
	b.ResetTimer()
	for range b.N {
		var evals atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for i := w; i < len(rs); i += workers {
					in := policy.NewInput(&rs[i], now)
					for _, c := range checks.ForType(rs[i].Type) {
						c.Evaluate(in)
						n++
					}
				}
				evals.Add(int64(n))
			}()
		}
		wg.Wait()
		el := time.Since(start)
		b.ReportMetric(float64(evals.Load()), "evaluations")
		b.ReportMetric(float64(evals.Load())/el.Seconds(), "evaluations/s")
		b.ReportMetric(float64(len(rs))/el.Seconds(), "resources/s")
	}
}
