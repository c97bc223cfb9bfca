package builtin

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestFixtures runs every built-in check's fixtures: each must give the
// outcome it wants, every check must have a passing and a failing fixture,
// and the outcomes with their reasons must match the check's golden file.
func TestFixtures(t *testing.T) {
	set, err := policy.Load(Source())
	if err != nil {
		t.Fatalf("load built-in checks:\n%v", err)
	}
	if set.Len() == 0 {
		t.Fatal("no built-in checks")
	}
	golden := map[string]bool{}
	for _, c := range set.Checks() {
		golden[c.ID+".golden"] = true
		t.Run(c.ID, func(t *testing.T) {
			var b strings.Builder
			wants := map[string]bool{}
			for _, r := range c.RunTests() {
				wants[r.Test.Want] = true
				if !r.OK {
					t.Errorf("%s: fixture %q: got %s (%s), want %s", c.Source, r.Test.Name, r.GotWord(), r.Got.Reason, r.Test.Want)
				}
				line := r.Test.Name + ": " + r.GotWord()
				if r.Got.Reason != "" {
					line += ": " + r.Got.Reason
				}
				fmt.Fprintln(&b, line)
			}
			if !wants["pass"] || !wants["fail"] {
				t.Errorf("%s: needs at least one passing and one failing fixture", c.Source)
			}
			path := filepath.Join("testdata", "golden", c.ID+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./policy/builtin/ -run TestFixtures -update)", err)
			}
			if string(want) != b.String() {
				t.Errorf("%s differs from the golden file:\n--- got\n%s--- want\n%s", c.ID, b.String(), want)
			}
		})
	}
	entries, _ := os.ReadDir(filepath.Join("testdata", "golden"))
	for _, e := range entries {
		if !golden[e.Name()] {
			if *update {
				_ = os.Remove(filepath.Join("testdata", "golden", e.Name()))
				continue
			}
			t.Errorf("golden file %s has no check", e.Name())
		}
	}
}
