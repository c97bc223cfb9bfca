// Package web is Vigil's HTTP server: for now the health check and the
// Prometheus metrics of `vigil serve`; the REST API and the web UI join it.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Check is one part of the daemon the health check asks: the store, the
// job queue, each event watcher. It returns nil when healthy.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	// Addr is the listen address, e.g. ":8080" or "127.0.0.1:0".
	Addr    string
	Checks  []Check
	Metrics http.Handler
	Logger  *slog.Logger
}

// Server serves /healthz and /metrics.
type Server struct {
	o   Options
	srv *http.Server
	ln  net.Listener
}

// Listen binds the address, so that a port in use fails at start-up.
func Listen(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	s := &Server{o: o, ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.health)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not found: try /healthz or /metrics", http.StatusNotFound)
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Shutdown; it returns nil after a shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// health answers 200 with each check "ok", or 503 naming what failed.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	status := http.StatusOK
	body := struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}{Status: "ok", Checks: map[string]string{}}
	for _, c := range s.o.Checks {
		if err := c.Check(ctx); err != nil {
			status, body.Status = http.StatusServiceUnavailable, "unhealthy"
			body.Checks[c.Name] = err.Error()
			s.o.Logger.Warn("health check failed", "check", c.Name, "err", err)
			continue
		}
		body.Checks[c.Name] = "ok"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
