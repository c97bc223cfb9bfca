package testenv

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The well-known development account every Azurite serves; its key is
// public (Microsoft documents it), so it is no secret.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite: Microsoft's emulator of Azure Storage's
// blob, queue and table services. Tests reach it with the storage SDKs
// and the shared key of AzuriteAccount.
type Azurite struct {
	// BlobURL and QueueURL are the services' URLs in path style:
	// http://127.0.0.1:PORT/devstoreaccount1.
	BlobURL, QueueURL string
}

// StartAzurite starts Azurite on free loopback ports, in memory, with the
// extra flags; it stops when the test ends. The binary comes from PATH or
// the repository's .tools/node_modules/.bin, where `make deps` installs it.
func StartAzurite(t testing.TB, flags ...string) *Azurite {
	t.Helper()
	bin, err := exec.LookPath("azurite")
	if err != nil {
		bin = filepath.Join(repoRoot(t), ".tools", "node_modules", ".bin", "azurite")
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("azurite not found in PATH or %s: run `make deps` (npm install --prefix .tools azurite@3.37.0)", bin)
		}
	}
	blob, queue, table := freeAddr(t), freeAddr(t), freeAddr(t)
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	// --skipApiVersionCheck: the SDKs may speak a newer API version than
	// this Azurite knows; --loose: they send headers Azurite does not
	// implement. --disableProductStyleUrl: 127.0.0.1 is no account name.
	args := append([]string{
		"--blobHost", "127.0.0.1", "--blobPort", port(blob),
		"--queueHost", "127.0.0.1", "--queuePort", port(queue),
		"--tableHost", "127.0.0.1", "--tablePort", port(table),
		"--inMemoryPersistence", "--skipApiVersionCheck", "--loose",
		"--disableProductStyleUrl", "--disableTelemetry", "--silent",
	}, flags...)
	cmd := exec.Command(bin, args...)
	// Azurite rejects --location with --inMemoryPersistence; a temporary
	// working directory keeps anything it writes out of the repository.
	cmd.Dir = t.TempDir()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	a := &Azurite{BlobURL: "http://" + blob + "/" + AzuriteAccount, QueueURL: "http://" + queue + "/" + AzuriteAccount}
	client := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("azurite exited: %s", out.String())
		default:
		}
		// Any HTTP answer (an unsigned request gets 403) means the
		// service listens and routes requests.
		if azuriteAnswers(client, a.BlobURL+"?comp=list") && azuriteAnswers(client, a.QueueURL+"?comp=list") {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("azurite did not start: %s", out.String())
		}
	}
}

// azuriteAnswers reports whether an HTTP GET of url gets any response.
func azuriteAnswers(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// ConnectionString returns a storage connection string for the emulator's
// account, as the SDKs' FromConnectionString constructors take it.
func (a *Azurite) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AzuriteAccount + ";AccountKey=" + AzuriteKey +
		";BlobEndpoint=" + a.BlobURL + ";QueueEndpoint=" + a.QueueURL + ";"
}
