package azure

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	subProd    = "11111111-2222-3333-4444-555555555555"
	subSandbox = "66666666-7777-8888-9999-000000000000"
	rgData     = "/subscriptions/" + subProd + "/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/contosodata"
	nsgWeb     = "/subscriptions/" + subProd + "/resourceGroups/rg-net/providers/Microsoft.Network/networkSecurityGroups/nsg-web"
)

var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// newEstate returns the estate seeded from testdata/estate.json.
func newEstate(t *testing.T) *azuretest.Estate {
	t.Helper()
	e := azuretest.New()
	if err := e.LoadFile(filepath.Join("testdata", "estate.json")); err != nil {
		t.Fatal(err)
	}
	return e
}

// newCollector returns a collector served by the estate.
func newCollector(t *testing.T, e *azuretest.Estate, opts Options) *Collector {
	t.Helper()
	opts.Transport = e.Transport()
	if opts.Credential == nil {
		opts.Credential = &azfake.TokenCredential{}
	}
	opts.Now = func() time.Time { return fixedNow }
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sink records everything a collection reports.
type sink struct {
	mu        sync.Mutex
	resources []vigil.Resource
	errs      []vigil.ReadError
	listed    []vigil.Scope
}

func (s *sink) Resource(_ context.Context, r vigil.Resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resources = append(s.resources, r)
	return nil
}
func (s *sink) ReadError(e vigil.ReadError) { s.mu.Lock(); s.errs = append(s.errs, e); s.mu.Unlock() }
func (s *sink) Listed(sc vigil.Scope)       { s.mu.Lock(); s.listed = append(s.listed, sc); s.mu.Unlock() }
func (s *sink) Progress(vigil.Progress)     {}

// byUID returns the resources sorted by UID.
func (s *sink) byUID() []vigil.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]vigil.Resource(nil), s.resources...)
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

func (s *sink) find(t *testing.T, uid string) vigil.Resource {
	t.Helper()
	for _, r := range s.byUID() {
		if SameID(r.UID, uid) {
			return r
		}
	}
	t.Fatalf("resource %s not collected", uid)
	return vigil.Resource{}
}

func (s *sink) listedTypes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sc := range s.listed {
		out = append(out, sc.Type)
	}
	sort.Strings(out)
	return out
}

// collect runs one collection of sub and fails the test on error.
func collect(t *testing.T, c *Collector, sub string) *sink {
	t.Helper()
	s := &sink{}
	if err := c.Collect(context.Background(), vigil.Account{Provider: vigil.Azure, ID: sub}, s); err != nil {
		t.Fatalf("collect %s: %v", sub, err)
	}
	return s
}

// golden compares v's JSON with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the collected document (run go test -update after checking):\n%s", path, got)
	}
}
