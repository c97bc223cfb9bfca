package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	s, err := Listen(Options{Addr: "127.0.0.1:0",
		Checks: []Check{{Name: "store", Check: func(context.Context) error {
			if healthy.Load() {
				return nil
			}
			return errors.New("database is locked")
		}}},
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "vigil_up 1\n") })})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	base := "http://" + s.Addr()
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, `{"status":"ok","checks":{"store":"ok"}}`},
		{"/metrics", 200, "vigil_up 1"},
		{"/nothing", 404, "not found: try /healthz or /metrics"},
	} {
		if code, body := get(t, base+c.path); code != c.code || strings.TrimSpace(body) != c.body {
			t.Errorf("GET %s = %d %q, want %d %q", c.path, code, body, c.code, c.body)
		}
	}
	healthy.Store(false)
	if code, body := get(t, base+"/healthz"); code != 503 || strings.TrimSpace(body) != `{"status":"unhealthy","checks":{"store":"database is locked"}}` {
		t.Errorf("unhealthy /healthz = %d %q", code, body)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after Shutdown = %v, want nil", err)
	}
}

func TestListenAddressInUse(t *testing.T) {
	s, err := Listen(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if _, err := Listen(Options{Addr: s.Addr()}); err == nil || !strings.Contains(err.Error(), "listen on "+s.Addr()) {
		t.Errorf("second Listen on %s = %v, want an error naming the address", s.Addr(), err)
	}
}
