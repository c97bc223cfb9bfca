// Package moto runs moto, the AWS emulator, in server mode: for tests, for
// the demo and for benchmarks. It needs a Python with moto[server]
// (`make deps` installs one into .venv when the system Python lacks it).
package moto

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/localsrv"
	"time"
)

// Account is the account id moto reports for every caller.
const Account = "123456789012"

// Server is a running moto server.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd
	log *localsrv.Buffer
}

// Python returns the interpreter that has moto: $VIGIL_PYTHON, the repo's
// .venv, or python3 from PATH.
func Python() string {
	if p := os.Getenv("VIGIL_PYTHON"); p != "" {
		return p
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".venv", "bin", "python")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "python3"
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", dir)
		}
		dir = parent
	}
}

// FreePort returns a TCP port on loopback that was free a moment ago.
func FreePort() (int, error) {
	addr, err := localsrv.FreeAddr()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
}

// Start starts moto on a free loopback port and waits until it answers.
// AWS managed IAM policies are loaded and moto's ~1,170 public default AMIs
// and snapshots are not.
func Start() (*Server, error) {
	py := Python()
	if out, err := exec.Command(py, "-c", "import moto.server").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("moto is not installed for %s (run `make deps`): %w: %s", py, err, bytes.TrimSpace(out))
	}
	var lastErr error
	for range 3 {
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: &localsrv.Buffer{}}
		s.cmd = exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		s.cmd.Env = append(os.Environ(),
			"MOTO_IAM_LOAD_MANAGED_POLICIES=true",
			"MOTO_EC2_LOAD_DEFAULT_AMIS=false",
			"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		)
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		if err := s.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start moto: %w", err)
		}
		if lastErr = s.wait(60 * time.Second); lastErr == nil {
			return s, nil
		}
		s.Stop()
	}
	return nil, lastErr
}

func (s *Server) wait(limit time.Duration) error {
	exited := make(chan struct{})
	go func() { _, _ = s.cmd.Process.Wait(); close(exited) }()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/moto-api/data.json")
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("moto exited: %s", s.log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("moto did not start at %s within %s: %s", s.URL, limit, s.log.String())
}

// Stop ends the server.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
	}
}

// Reset wipes all of moto's state.
func (s *Server) Reset() error {
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: status %s", resp.Status)
	}
	return nil
}
