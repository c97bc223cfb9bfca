// Package azurite runs Azurite, Microsoft's emulator of Azure Storage's
// blob, queue and table services, on free loopback ports and in memory:
// for tests, the demo and benchmarks. `make deps` installs it with npm
// into .tools/node_modules.
package azurite

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/localsrv"
)

// The well-known development account every Azurite serves; its key is
// public (Microsoft documents it), so it is no secret.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ErrNotInstalled is returned by Start when no azurite binary is found.
var ErrNotInstalled = errors.New("azurite not found in PATH or .tools/node_modules/.bin: run `make deps` (npm install --prefix .tools azurite@3.37.0)")

// Server is a running Azurite.
type Server struct {
	// BlobURL and QueueURL are the services' URLs in path style:
	// http://127.0.0.1:PORT/devstoreaccount1.
	BlobURL, QueueURL string
	cmd               *exec.Cmd
	dir               string
	exited            chan struct{}
	once              sync.Once
}

// Binary returns the azurite executable: from PATH, else the repository's
// .tools/node_modules/.bin (above the working directory).
func Binary() (string, error) {
	if bin, err := exec.LookPath("azurite"); err == nil {
		return bin, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		bin := filepath.Join(dir, ".tools", "node_modules", ".bin", "azurite")
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNotInstalled
		}
		dir = parent
	}
}

// Start starts Azurite with the extra flags and waits until its blob and
// queue services answer.
func Start(flags ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = localsrv.FreeAddr(); err != nil {
			return nil, err
		}
	}
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	// --skipApiVersionCheck: the SDKs may speak a newer API version than
	// this Azurite knows; --loose: they send headers Azurite does not
	// implement. --disableProductStyleUrl: 127.0.0.1 is no account name.
	args := append([]string{
		"--blobHost", "127.0.0.1", "--blobPort", port(addrs[0]),
		"--queueHost", "127.0.0.1", "--queuePort", port(addrs[1]),
		"--tableHost", "127.0.0.1", "--tablePort", port(addrs[2]),
		"--inMemoryPersistence", "--skipApiVersionCheck", "--loose",
		"--disableProductStyleUrl", "--disableTelemetry", "--silent",
	}, flags...)
	// Azurite rejects --location with --inMemoryPersistence; a temporary
	// working directory keeps anything it writes out of the repository.
	dir, err := os.MkdirTemp("", "vigil-azurite-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out localsrv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start azurite: %w", err)
	}
	s := &Server{BlobURL: "http://" + addrs[0] + "/" + Account, QueueURL: "http://" + addrs[1] + "/" + Account,
		cmd: cmd, dir: dir, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-s.exited:
			s.Stop()
			return nil, fmt.Errorf("azurite exited: %s", out.String())
		default:
		}
		// Any HTTP answer (an unsigned request gets 403) means the
		// service listens and routes requests.
		if answers(client, s.BlobURL+"?comp=list") && answers(client, s.QueueURL+"?comp=list") {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("azurite did not start within 30s: %s", out.String())
		}
	}
}

// Stop kills Azurite and removes its working directory; it is safe to call
// more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
		_ = os.RemoveAll(s.dir)
	})
}

// ConnectionString returns a storage connection string for the emulator's
// account, as the SDKs' FromConnectionString constructors take it.
func (s *Server) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + Account + ";AccountKey=" + Key +
		";BlobEndpoint=" + s.BlobURL + ";QueueEndpoint=" + s.QueueURL + ";"
}

func answers(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}
