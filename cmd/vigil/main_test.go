package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
)

var emulator *testenv.Moto

// TestMain reads fixes back once: moto applies changes at once, and the
// failing-fix tests would otherwise wait for the retries.
func TestMain(m *testing.M) {
	verifyAttempts = 1
	if os.Getenv(runMainEnv) == "1" {
		// The serve tests run the daemon as a child process (to SIGKILL
		// it): this binary, as vigil.
		main()
	}
	os.Exit(testenv.MainWithMoto(m, &emulator))
}

// vigil runs the CLI in-process and returns its exit code and output.
func runCLI(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestBadInput: each mistake gets a clear one-line error and a non-zero
// exit, nothing panics, and no database is created.
func TestBadInput(t *testing.T) {
	badCreds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>x</RequestId></ErrorResponse>`)
	}))
	defer badCreds.Close()
	// counted answers like badCreds; a rejected command must not call it.
	var calls atomic.Int64
	counted := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		badCreds.Config.Handler.ServeHTTP(w, r)
	}))
	defer counted.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	brokenDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(brokenDir, "broken.yaml"), []byte(
		"id: my-broken-check\ntitle: Broken\nresource: aws.s3.bucket\nseverity: high\ncategory: security\nassert: 'resource.versioning.status == '\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badMutes := filepath.Join(t.TempDir(), "mutes.yml")
	if err := os.WriteFile(badMutes, []byte("- check: aws-s3-*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"invalid check file", []string{"scan", "--endpoint-url", emulator.URL, "--checks-dir", brokenDir},
			2, "vigil: invalid checks: " + filepath.Join(brokenDir, "broken.yaml") + ":6:40: assert: Syntax error: mismatched input '<EOF>'"},
		{"invalid mutes", []string{"scan", "--endpoint-url", emulator.URL, "--mutes", badMutes},
			2, "vigil: invalid mutes: " + badMutes + ":1:3: a mute needs a reason"},
		{"unknown check id", []string{"scan", "--endpoint-url", emulator.URL, "--checks", "aws-s3-nope"},
			2, "vigil: unknown check id aws-s3-nope (see `vigil checks list`)"},
		{"unknown severity", []string{"scan", "--severity", "urgent"},
			2, `vigil: --severity: unknown severity "urgent" (want critical, high, medium, low or info)`},
		{"bad progress", []string{"scan", "--progress", "sometimes"}, 2, `vigil: --progress "sometimes": want auto, always or never`},
		{"bad trusted account", []string{"scan", "--trusted-accounts", "12345"}, 2, `vigil: --trusted-accounts: "12345" is not a 12-digit AWS account id`},
		{"bad org id", []string{"scan", "--org-id", "org-1"}, 2, `vigil: --org-id: "org-1" is not an AWS Organizations id (o- and 10 to 32 lower-case letters or digits)`},
		{"unknown format", []string{"scan", "--format", "xml"}, 2, `vigil: unknown format "xml" (want table, json, csv, ocsf)`},
		{"bad region", []string{"scan", "--endpoint-url", emulator.URL, "--regions", "mars-1"}, 2, `vigil: invalid region "mars-1" (want a name such as us-east-1)`},
		{"unknown service", []string{"scan", "--services", "s4"}, 2, `vigil: unknown service "s4" (known: `},
		{"unreachable endpoint", []string{"scan", "--endpoint-url", deadURL, "--regions", "us-east-1"},
			1, "vigil: aws credentials: cannot connect: dial tcp "},
		{"bad credentials", []string{"scan", "--endpoint-url", badCreds.URL, "--regions", "us-east-1"},
			1, "vigil: aws credentials: InvalidClientTokenId: The security token included in the request is invalid."},
		{"missing profile", []string{"scan", "--profile", "no-such-profile", "--endpoint-url", emulator.URL},
			2, "vigil: load aws config (profile no-such-profile): failed to get shared config profile, no-such-profile"},
		{"rate not a number", []string{"scan", "--endpoint-url", counted.URL, "--rate", "iam=NaN"},
			2, `vigil: --rate "iam=NaN": want service=requests-per-second, e.g. iam=5`},
		{"output in a missing directory", []string{"scan", "--endpoint-url", counted.URL, "--regions", "us-east-1",
			"--output", filepath.Join(t.TempDir(), "missing", "out.json")}, 2, "vigil: --output: open "},
		{"blob accounts without the data plane", []string{"scan", "--provider", "azure", "--azure-blob-accounts", "contosodata"},
			2, "vigil: --azure-blob-shared-key-account and --azure-blob-accounts need --azure-blob-data-plane or --azure-blob-endpoint"},
		{"blob shared key not in the environment", []string{"scan", "--provider", "azure", "--azure-blob-data-plane", "--azure-blob-shared-key-account", "devstoreaccount1"},
			2, "vigil: --azure-blob-shared-key-account devstoreaccount1: set the key in the environment variable VIGIL_AZURE_BLOB_KEY"},
		{"blob endpoint over plain http to a remote host", []string{"scan", "--provider", "azure", "--azure-blob-endpoint", "http://blob.example.com/{account}"},
			2, "vigil: blob endpoint template http://blob.example.com/account: plain http would send credentials in clear text; it is allowed only to a loopback host"},
		{"bad fix account", []string{"fix", "--check", "azure-storage-account-blob-anonymous-access-disabled", "--account", "contoso"},
			2, `vigil: --account: "contoso" is not a 12-digit AWS account id nor an Azure subscription id`},
		{"inventory without a database", []string{"inventory"}, 1, "vigil: no database at "},
		{"history without a database", []string{"history", "arn:aws:s3:::x"}, 1, "vigil: no database at "},
		{"unknown flag", []string{"scan", "--regoins", "us-east-1"}, 2, "vigil: unknown flag: --regoins"},
		{"missing argument", []string{"history"}, 2, "vigil: accepts 1 arg(s), received 0"},
		{"unknown command", []string{"scna"}, 2, `vigil: unknown command "scna" for "vigil"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "vigil.db")
			code, _, stderr := runCLI(t, append([]string{"--db", db}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.HasPrefix(stderr, tc.want) {
				t.Errorf("stderr:\n%s\nwant prefix:\n%s", stderr, tc.want)
			}
			if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
			if n := calls.Swap(0); n > 0 {
				t.Errorf("a rejected command made %d API calls", n)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("database created by a rejected command (stat: %v)", err)
			}
		})
	}
}

func TestChecksValidate(t *testing.T) {
	code, out, stderr := runCLI(t, "checks", "validate")
	if code != 0 || !strings.HasSuffix(out, " checks valid\n") {
		t.Fatalf("exit %d, out %q, err %q", code, out, stderr)
	}
	code, out, _ = runCLI(t, "checks", "test")
	if code != 0 || !strings.Contains(out, " 0 failed, 0 checks without fixtures") {
		t.Errorf("checks test: exit %d\n%s", code, out)
	}
}
