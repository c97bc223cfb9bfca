// Package testenv starts the real servers that Vigil's integration tests
// talk to: moto (the AWS emulator) in server mode for now.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// MotoAccount is the account id moto reports for every caller.
const MotoAccount = "123456789012"

// Moto is a running moto server.
type Moto struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd
	log *bytes.Buffer
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartMoto starts moto in server mode on a free loopback port and waits
// until it answers. Stop it with Stop.
func StartMoto() (*Moto, error) {
	py := Python()
	if out, err := exec.Command(py, "-c", "import moto.server").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("moto is not installed for %s (run `make deps`): %v: %s", py, err, bytes.TrimSpace(out))
	}
	var lastErr error
	for range 3 {
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		m := &Moto{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: new(bytes.Buffer)}
		m.cmd = exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		m.cmd.Env = append(os.Environ(),
			"MOTO_IAM_LOAD_MANAGED_POLICIES=true",
			"MOTO_EC2_LOAD_DEFAULT_AMIS=false",
			"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		)
		m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
		if err := m.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start moto: %w", err)
		}
		if lastErr = m.wait(30 * time.Second); lastErr == nil {
			return m, nil
		}
		m.Stop()
	}
	return nil, lastErr
}

func (m *Moto) wait(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.URL + "/moto-api/data.json")
		if err == nil {
			_ = resp.Body.Close()
			return nil
		}
		if m.cmd.ProcessState != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("moto did not start at %s: %s", m.URL, m.log.String())
}

// Stop ends the server.
func (m *Moto) Stop() {
	if m.cmd != nil && m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	}
}

// Reset wipes all of moto's state, so that each test starts from a fresh account.
func (m *Moto) Reset(tb testing.TB) {
	tb.Helper()
	resp, err := http.Post(m.URL+"/moto-api/reset", "application/json", nil)
	if err != nil {
		tb.Fatalf("reset moto: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("reset moto: status %s", resp.Status)
	}
}

// Config returns an AWS SDK config for seeding moto in region, with static
// test credentials.
func (m *Moto) Config(tb testing.TB, region string) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")),
		config.WithBaseEndpoint(m.URL),
	)
	if err != nil {
		tb.Fatalf("aws config: %v", err)
	}
	return cfg
}

// MainWithMoto runs a test package's tests with one moto server for the
// package, started before and stopped after; it sets *into to the server.
// Use it from TestMain: os.Exit(testenv.MainWithMoto(m, &moto)).
func MainWithMoto(m *testing.M, into **Moto) int {
	srv, err := StartMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	*into = srv
	os.Setenv("AWS_ACCESS_KEY_ID", "testing")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	defer srv.Stop()
	return m.Run()
}
