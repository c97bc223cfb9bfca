package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil"
)

// progress draws a live view of a scan on a terminal: one line per account
// and region with the services done, resources found and failed reads.
type progress struct {
	w       io.Writer
	enabled bool
	mu      sync.Mutex
	rows    map[string]*progressRow
	lines   int
	done    chan struct{}
	wg      sync.WaitGroup
}

type progressRow struct {
	started, finished, resources, errors int
	running                              []string
}

func newProgress(w io.Writer, enabled bool) *progress {
	return &progress{w: w, enabled: enabled, rows: map[string]*progressRow{}, done: make(chan struct{})}
}

func (p *progress) update(ev vigil.Progress) {
	if !p.enabled {
		return
	}
	region := ev.Region
	if region == "" {
		region = "global"
	}
	key := ev.Account + "  " + region
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rows[key]
	if r == nil {
		r = &progressRow{}
		p.rows[key] = r
	}
	if !ev.Done {
		r.started++
		r.running = append(r.running, ev.Service)
		return
	}
	r.finished++
	r.resources += ev.Resources
	r.errors += ev.Errors
	for i, s := range r.running {
		if s == ev.Service {
			r.running = append(r.running[:i], r.running[i+1:]...)
			break
		}
	}
}

func (p *progress) start() {
	if !p.enabled {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				p.draw()
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
}

func (p *progress) stop() {
	if !p.enabled {
		return
	}
	close(p.done)
	p.wg.Wait()
}

func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.rows))
	for k := range p.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	if p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.lines)
	}
	for _, k := range keys {
		r := p.rows[k]
		state := ""
		if len(r.running) > 0 {
			state = "  running " + strings.Join(r.running, ",")
		}
		errs := ""
		if r.errors > 0 {
			errs = fmt.Sprintf(", %d failed reads", r.errors)
		}
		fmt.Fprintf(&b, "\x1b[2K%-28s %2d services done, %4d resources%s%s\n", k, r.finished, r.resources, errs, truncate(state, 50))
	}
	p.lines = len(keys)
	_, _ = io.WriteString(p.w, b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
