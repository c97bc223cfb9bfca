package testenv

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/localsrv"
	"time"
)

// Mailpit is a running Mailpit: a real SMTP server whose HTTP API lists
// what it received. Tests deliver email to it.
type Mailpit struct {
	SMTP string // host:port of the SMTP listener
	API  string // host:port of the HTTP API
}

// Message is one received email as Mailpit's API returns it.
type Message struct {
	Subject string
	From    struct{ Address string }
	To      []struct{ Name, Address string }
	Text    string
}

// StartMailpit starts Mailpit on free ports with the extra flags; it stops
// when the test ends. The binary comes from PATH or the repository's
// .tools/bin, where `make deps` installs it.
func StartMailpit(t testing.TB, flags ...string) *Mailpit {
	t.Helper()
	bin, err := exec.LookPath("mailpit")
	if err != nil {
		bin = filepath.Join(repoRoot(t), ".tools", "bin", "mailpit")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("mailpit not found in PATH or %s: run `make deps` (GOBIN=$PWD/.tools/bin go install github.com/axllent/mailpit@v1.33.1)", bin)
		}
	}
	m := &Mailpit{SMTP: freeAddr(t), API: freeAddr(t)}
	args := append([]string{"--smtp", m.SMTP, "--listen", m.API, "--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--smtp-disable-rdns", "--quiet"}, flags...)
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("mailpit exited: %s", out.String())
		default:
		}
		if resp, err := http.Get("http://" + m.API + "/api/v1/messages"); err == nil {
			_ = resp.Body.Close()
			if c, err := net.Dial("tcp", m.SMTP); err == nil {
				_ = c.Close()
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not start: %s", out.String())
		}
	}
}

// Messages returns what Mailpit received, newest first.
func (m *Mailpit) Messages(t testing.TB) []Message {
	t.Helper()
	var list struct{ Messages []struct{ ID string } }
	m.get(t, "/api/v1/messages", &list)
	out := make([]Message, len(list.Messages))
	for i, x := range list.Messages {
		m.get(t, "/api/v1/message/"+x.ID, &out[i])
	}
	return out
}

func (m *Mailpit) get(t testing.TB, path string, into any) {
	t.Helper()
	resp, err := http.Get("http://" + m.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := localsrv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// repoRoot is the directory of go.mod above the test's working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
