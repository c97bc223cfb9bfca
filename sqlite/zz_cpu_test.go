package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPU(t *testing.T) {
	const total, batch = 100_000, 500
	s := open(t, filepath.Join(t.TempDir(), "vigil.db"))
	run := func(name string, gen int, scan string) {
		rs := fakeResources("x", total, gen)
		c0, w0 := cpuNow(), time.Now()
		for i := 0; i < len(rs); i += batch {
			if _, err := s.PutResources(context.Background(), scan, rs[i:min(i+batch, len(rs))]); err != nil {
				t.Fatal(err)
			}
		}
		fmt.Printf("%-10s cpu %5.1f µs/resource  wall %5.1f µs/resource\n", name,
			float64(cpuNow()-c0)/float64(time.Microsecond)/total, float64(time.Since(w0))/float64(time.Microsecond)/total)
	}
	run("new", 0, "s0")
	run("unchanged", 0, "s1")
	run("changed", 1, "s2")
}
