package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/scan"
	"github.com/vigilsec/vigil/sqlite"
)

// benchSubscriptions are the two generated subscriptions.
var benchSubscriptions = []string{"b3e1c0de-0000-4000-8000-000000000001", "b3e1c0de-0000-4000-8000-000000000002"}

// BenchmarkAzureScan scans a generated estate of 10,266 resources in two
// subscriptions (storage accounts and containers, NSGs, VMs and disks, SQL
// servers and databases, key vaults with keys and secrets, role
// definitions and assignments, network watchers and flow logs, the
// subscriptions' settings; about a quarter misconfigured) served by
// azuretest through the Azure SDK's fake transports, end to end as `vigil
// scan` does: azure.New → scan → every built-in check → SQLite. It fails
// unless every generated resource is stored, type by type, and every
// built-in check evaluated on each.
//
// "rates=unlimited" lifts the collector's per-service limit of 20
// requests/s per subscription, which would otherwise make the figure
// measure sleeping; "rates=default" keeps it, showing what the limit costs
// at this size. cpu-s is the process's CPU time during the scan, steadier
// than wall-s on a shared machine. peak-RSS-MiB is the process's peak after the estate is
// built (VmHWM reset through /proc/self/clear_refs), so it includes the
// in-memory estate itself (about a third of the figure, see estate-MiB).
func BenchmarkAzureScan(b *testing.B) {
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		b.Fatal(err)
	}
	gen := generateAzureEstate(20250601, benchSubscriptions, shape10k)
	if n := gen.resources(); n < 10_000 {
		b.Fatalf("generated estate has %d resources, want at least 10,000", n)
	}
	// evals are the check × resource evaluations a scan runs: every
	// check of a resource's type (a check whose when is false included).
	evals := 0
	for typ, n := range gen.want {
		evals += n * len(checks.ForType(typ))
	}
	for _, run := range []struct {
		name  string
		rates map[string]float64
	}{{"rates=unlimited", unlimitedAzureRates()}, {"rates=default", nil}} {
		b.Run(fmt.Sprintf("resources=%d/%s", gen.resources(), run.name), func(b *testing.B) {
			ctx := context.Background()
			for i := range b.N {
				b.StopTimer()
				var before runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				est, err := gen.load()
				if err != nil {
					b.Fatal(err)
				}
				var after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&after)
				store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("azure-%d.db", i)))
				if err != nil {
					b.Fatal(err)
				}
				col, err := azure.New(azure.Options{Transport: est.Transport(), Credential: &azfake.TokenCredential{}, Rates: run.rates})
				if err != nil {
					b.Fatal(err)
				}
				debug.FreeOSMemory()
				resetPeakRSS()
				b.StartTimer()
				cpu0 := cpuTime()
				start := time.Now()
				accts, err := col.Resolve(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				sc, err := scan.New(scan.Options{Store: store, Collectors: map[vigil.Provider]vigil.Collector{vigil.Azure: col}, Checks: checks}).
					Run(ctx, accts)
				wall := time.Since(start)
				cpu := cpuTime() - cpu0
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				rss := peakRSS()
				verifyAzureScan(ctx, b, store, gen, accts, sc, checks)
				_ = store.Close()
				findings := 0
				for _, n := range sc.Stats.Findings {
					findings += n
				}
				b.ReportMetric(wall.Seconds(), "wall-s")
				b.ReportMetric(cpu.Seconds(), "cpu-s")
				b.ReportMetric(float64(col.APICalls()), "api-calls")
				b.ReportMetric(float64(sc.Stats.Resources), "resources")
				b.ReportMetric(float64(sc.Stats.Resources)/wall.Seconds(), "resources/s")
				b.ReportMetric(float64(findings), "findings")
				b.ReportMetric(float64(evals)/wall.Seconds(), "evaluations/s")
				b.ReportMetric(rss, "peak-RSS-MiB")
				b.ReportMetric(float64(after.HeapAlloc-min(before.HeapAlloc, after.HeapAlloc))/(1<<20), "estate-MiB")
				runtime.KeepAlive(est)
			}
		})
	}
}

// verifyAzureScan fails the benchmark unless the scan stored exactly the
// generated resources, type by type, evaluated every check of each type on
// each of them without a read error, and failed the resources generated
// to fail two checks — so that the figures cannot come from scanning less.
func verifyAzureScan(ctx context.Context, b testing.TB, store vigil.Store, gen *azureEstate, accts []vigil.Account, sc vigil.Scan, checks *policy.Set) {
	b.Helper()
	if len(accts) != len(gen.subs) {
		b.Fatalf("resolved %d subscriptions, want %d", len(accts), len(gen.subs))
	}
	if sc.Status != "succeeded" || len(sc.ReadErrors) > 0 {
		b.Fatalf("scan %s with %d read errors (first: %+v)", sc.Status, len(sc.ReadErrors), firstReadError(sc.ReadErrors))
	}
	if sc.Stats.Resources != gen.resources() {
		b.Fatalf("scan saw %d resources, generated %d", sc.Stats.Resources, gen.resources())
	}
	types := make([]string, 0, len(gen.want))
	for t := range gen.want {
		types = append(types, t)
	}
	sort.Strings(types)
	var bad []string
	for _, typ := range types {
		rs, err := store.Resources(ctx, vigil.ResourceFilter{Type: typ})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != gen.want[typ] {
			bad = append(bad, fmt.Sprintf("%s: stored %d, generated %d", typ, len(rs), gen.want[typ]))
		}
	}
	if all, err := store.Resources(ctx, vigil.ResourceFilter{}); err != nil {
		b.Fatal(err)
	} else if len(all) != gen.resources() {
		bad = append(bad, fmt.Sprintf("all types: stored %d, generated %d", len(all), gen.resources()))
	}
	if len(bad) > 0 {
		b.Fatalf("stored resources differ from the generated estate:\n%s", strings.Join(bad, "\n"))
	}
	// Each stored resource, evaluated again here, must give as many
	// results (checks whose when holds) as the scan recorded.
	results := 0
	for _, n := range sc.Stats.Results {
		results += n
	}
	all, err := store.Resources(ctx, vigil.ResourceFilter{})
	if err != nil {
		b.Fatal(err)
	}
	applicable := 0
	for i := range all {
		applicable += len(scan.Evaluate(checks, nil, policy.Trust{}, &all[i], time.Now(), sc.ID))
	}
	if results != applicable || sc.Stats.Results[vigil.StatusError] != 0 {
		b.Fatalf("scan results %v (%d), want %d and no error", sc.Stats.Results, results, applicable)
	}
	stored, err := store.Results(ctx, vigil.ResultFilter{ScanID: sc.ID})
	if err != nil {
		b.Fatal(err)
	}
	if len(stored) != results {
		b.Fatalf("stored %d results of the scan, it counted %d", len(stored), results)
	}
	for _, c := range []struct {
		check string
		want  int
	}{{"azure-storage-container-private", gen.publicContainers}, {"azure-network-nsg-no-internet-ssh", gen.sshOpenNSGs}} {
		rs, err := store.Results(ctx, vigil.ResultFilter{CheckID: c.check, Statuses: []vigil.Status{vigil.StatusFail}})
		if err != nil {
			b.Fatal(err)
		}
		if len(rs) != c.want {
			b.Fatalf("%s failed on %d resources, generated %d to fail", c.check, len(rs), c.want)
		}
	}
}

// unlimitedAzureRates lifts the collector's rate limit of every service
// (and of the subscriptions calls the engine makes itself).
func unlimitedAzureRates() map[string]float64 {
	rates := map[string]float64{"subscriptions": 1e6}
	for _, s := range azure.Services() {
		rates[s] = 1e6
	}
	return rates
}

func firstReadError(es []vigil.ReadError) any {
	if len(es) == 0 {
		return nil
	}
	return es[0]
}

// cpuTime returns the CPU time (user and system) the process has used:
// on a shared machine, a steadier figure than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux 4.0+),
// so that peakRSS measures from here on.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// TestAzureEstateScan scans a small estate of the same generator (a
// twentieth of the benchmark's) through the same pipeline and
// verification, so that `go test` keeps the benchmark honest and `go test
// -race` covers the estate's locking under the collector's concurrency.
func TestAzureEstateScan(t *testing.T) {
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	sh := azureShape{storageAccounts: 20, containersPerAcct: 3, nsgs: 30, vms: 25, spareDisks: 6, sqlServers: 5, databasesPerSrv: 3,
		keyVaults: 10, keysPerVault: 2, secretsPerVault: 2, customRoles: 3, roleAssignments: 35, flowLogs: 6}
	gen := generateAzureEstate(7, benchSubscriptions, sh)
	ctx := context.Background()
	est, err := gen.load()
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "azure.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	col, err := azure.New(azure.Options{Transport: est.Transport(), Credential: &azfake.TokenCredential{}, Rates: unlimitedAzureRates()})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := col.Resolve(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scan.New(scan.Options{Store: store, Collectors: map[vigil.Provider]vigil.Collector{vigil.Azure: col}, Checks: checks}).Run(ctx, accts)
	if err != nil {
		t.Fatal(err)
	}
	// 2 × (1 subscription + 20 accounts + 18×3 containers + 30 NSGs + 2
	// watchers + 6 flow logs + 25 VMs + 56 disks + 5 servers + 15
	// databases + 10 vaults + 3 custom roles + 35 assignments).
	if want := 2 * 262; gen.resources() != want {
		t.Fatalf("generated %d resources, want %d", gen.resources(), want)
	}
	verifyAzureScan(ctx, t, store, gen, accts, sc, checks)
}
