package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/smtp"
)

// countingServer answers every AWS call with an error and counts them: a
// command rejected for bad input must make none.
func countingServer(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `<ErrorResponse><Error><Code>AccessDenied</Code><Message>counted</Message></Error></ErrorResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &calls
}

// TestConfigErrors: every mistake in the config file is one error naming
// file:line:column and the problem, exit 2, before any API call or
// database write — through scan and through fix alike.
func TestConfigErrors(t *testing.T) {
	t.Setenv("VIGIL_TEST_UNSET_PASSWORD", "")
	endpoint, calls := countingServer(t)
	const dir = "testdata/config/"
	cases := []struct {
		file string
		want string
	}{
		{"unknown-key.yaml", dir + `unknown-key.yaml:3:3: unknown key "max_fixes_per_day" in autofix (known: enabled, exempt_tag, flapping, max_fixes_per_hour, max_fixes_per_run, max_share_per_run, rules)`},
		{"bad-duration.yaml", dir + `bad-duration.yaml:3:32: autofix.flapping.window: "1 day" is not a duration such as 30m, 24h or 7d`},
		{"unknown-check.yaml", dir + "unknown-check.yaml:6:46: autofix.rules[1].checks: unknown check \"aws-s3-bucket-no-such-check\" (see `vigil checks list`)"},
		{"no-fix-action.yaml", dir + "no-fix-action.yaml:3:28: autofix.rules[1].checks: check aws-s3-bucket-mfa-delete-enabled has no fix action"},
		{"glob-no-match.yaml", dir + `glob-no-match.yaml:3:32: autofix.rules[1].checks: "aws-nothing-*" matches no check with a fix action`},
		{"wrong-type.yaml", dir + "wrong-type.yaml:2:12: autofix.enabled: want true or false, got \"yes\"\n  " +
			dir + `wrong-type.yaml:3:22: autofix.max_fixes_per_run: want a whole number, got "ten"`},
		{"password-in-file.yaml", dir + "password-in-file.yaml:5:15: notify.email.password: passwords are not read from the config file; set password_env to the name of an environment variable holding it"},
		{"password-env-unset.yaml", dir + "password-env-unset.yaml:5:19: notify.email.password_env: the environment variable VIGIL_TEST_UNSET_PASSWORD is not set"},
		{"azure-secret-in-file.yaml", dir + "azure-secret-in-file.yaml:5:20: remediation.azure.client_secret: secrets are not read from the config file; set client_secret_env to the name of an environment variable holding it\n  " +
			dir + "azure-secret-in-file.yaml:3:5: remediation.azure: set exactly one of client_secret_env, managed_identity: true or workload_identity: true"},
		{"azure-bad-identity.yaml", dir + `azure-bad-identity.yaml:3:16: remediation.azure.tenant_id "contoso.onmicrosoft.com" is not a GUID (00000000-0000-0000-0000-000000000000)` + "\n  " +
			dir + "azure-bad-identity.yaml:3:5: remediation.azure: set exactly one of client_secret_env, managed_identity: true or workload_identity: true"},
		{"azure-no-client.yaml", dir + "azure-no-client.yaml:3:5: remediation.azure needs tenant_id and client_id"},
		{"bad-role-arn.yaml", dir + `bad-role-arn.yaml:2:13: remediation.role_arn "arn:aws:iam::12345:role/Fixer": want arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account}, the finding's account)`},
		{"bad-share.yaml", dir + "bad-share.yaml:2:22: autofix.max_share_per_run 50: want a share between 0 and 1, e.g. 0.5 (0: no bound)"},
		{"duplicate-rule.yaml", dir + `duplicate-rule.yaml:4:7: autofix.rules: the name "buckets" is used twice`},
		{"syntax.yaml", dir + "syntax.yaml:2: did not find expected key"},
		{"missing.yaml", "config: open " + dir + "missing.yaml: no such file or directory"},
	}
	commands := map[string][]string{
		"scan": {"scan", "--endpoint-url", endpoint, "--regions", "us-east-1"},
		"fix":  {"fix", "--endpoint-url", endpoint, "--check", "aws-s3-bucket-no-public-read"},
	}
	for _, tc := range cases {
		for name, args := range commands {
			t.Run(name+"/"+tc.file, func(t *testing.T) {
				db := filepath.Join(t.TempDir(), "vigil.db")
				code, stdout, stderr := runCLI(t, append([]string{"--db", db, "--config", dir + tc.file}, args...)...)
				want := "vigil: invalid config: " + tc.want + "\n"
				if strings.HasPrefix(tc.want, "config: ") {
					want = "vigil: " + tc.want + "\n"
				}
				if code != 2 || stderr != want || stdout != "" {
					t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
				}
				if n := calls.Swap(0); n > 0 {
					t.Errorf("%d API calls", n)
				}
				if _, err := os.Stat(db); !os.IsNotExist(err) {
					t.Errorf("database created (stat: %v)", err)
				}
			})
		}
	}

	// VIGIL_CONFIG names the file when --config is not given.
	t.Setenv("VIGIL_CONFIG", dir+"bad-share.yaml")
	code, _, stderr := runCLI(t, "--db", filepath.Join(t.TempDir(), "vigil.db"), "scan", "--endpoint-url", endpoint)
	if code != 2 || !strings.HasPrefix(stderr, "vigil: invalid config: "+dir+"bad-share.yaml:2:22: ") {
		t.Errorf("VIGIL_CONFIG: exit %d: %s", code, stderr)
	}
	t.Setenv("VIGIL_CONFIG", "")

	// Always Fix needs remediation credentials: the scan refuses to start.
	code, _, stderr = runCLI(t, "--db", filepath.Join(t.TempDir(), "vigil.db"), "--config", dir+"autofix-no-remediation.yaml",
		"scan", "--endpoint-url", endpoint, "--regions", "us-east-1")
	want := "vigil: " + dir + "autofix-no-remediation.yaml enables autofix but configures no remediation credentials: " +
		"Vigil scans with read-only credentials and never changes anything with them; add a remediation section (see docs/config.md)\n"
	if code != 2 || stderr != want {
		t.Errorf("autofix without remediation: exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
	}
	if n := calls.Swap(0); n > 0 {
		t.Errorf("%d API calls", n)
	}
}

// TestConfigFull parses a file holding every key into the exact policy,
// credentials and email settings.
func TestConfigFull(t *testing.T) {
	t.Setenv("VIGIL_TEST_SMTP_PASSWORD", "s3cret")
	a := &app{configPath: "testdata/config/full.yaml"}
	checks, err := a.loadChecks()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.loadConfig(checks, reg)
	if err != nil {
		t.Fatal(err)
	}
	if want := (aws.Target{RoleARN: "arn:aws:iam::{account}:role/VigilRemediator", ExternalID: "vigil-7f3a"}); cfg.remediation == nil || *cfg.remediation != want {
		t.Errorf("remediation %+v, want %+v", cfg.remediation, want)
	}
	wantEmail := smtp.Config{Server: "smtp.example.com:587", TLS: "starttls", Username: "vigil", Password: "s3cret",
		From: "vigil@example.com", To: []string{"secops@example.com"}}
	if cfg.email == nil || !reflect.DeepEqual(*cfg.email, wantEmail) {
		t.Errorf("email %+v, want %+v", cfg.email, wantEmail)
	}
	want := fix.AutoPolicy{Enabled: true, ExemptTag: "vigil:exempt=true", MaxPerRun: 10, MaxPerHour: 30, MaxShare: 0.5,
		Flapping: fix.Flapping{Count: 3, Window: 24 * time.Hour},
		Rules: []fix.Rule{
			{Name: "private-buckets", Checks: []string{"aws-s3-bucket-no-public-read"}, Accounts: []string{}, Regions: []string{},
				Tags: map[string]string{}, Params: map[string]any{}},
			{Name: "prod-encryption", Checks: []string{"aws-sqs-*", "aws-sns-topic-kms-encrypted"}, Accounts: []string{"123456789012"},
				Regions: []string{"us-east-1", "eu-west-1"}, Tags: map[string]string{"env": "prod"}, DryRun: true,
				Params: map[string]any{"kms_key_id": "alias/aws/sns", "retries": 2}},
		}}
	if !cfg.autofixSet || !reflect.DeepEqual(cfg.autofix, want) {
		t.Errorf("autofix\n%#v\nwant\n%#v", cfg.autofix, want)
	}
}

// TestConfigDefaults: keys left out take the documented defaults, an
// explicit 0 lifts a bound, and no file configures nothing.
func TestConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, body  string
		remediation *aws.Target
		autofix     fix.AutoPolicy
		set         bool
	}{
		{"no file", "", nil, fix.AutoPolicy{}, false},
		{"empty remediation is the default chain", "remediation: {}\n", &aws.Target{}, fix.AutoPolicy{}, false},
		{"bare remediation key", "remediation:\n", &aws.Target{}, fix.AutoPolicy{}, false},
		{"defaults", "autofix: {enabled: true}\n", nil, fix.AutoPolicy{Enabled: true, MaxPerRun: 10, MaxPerHour: 30,
			Flapping: fix.Flapping{Count: 3, Window: 24 * time.Hour}}, true},
		{"zeros lift the bounds", "autofix: {max_fixes_per_run: 0, max_fixes_per_hour: 0, flapping: {count: 0}}\n", nil, fix.AutoPolicy{}, true},
		{"days", "autofix: {flapping: {window: 7d}}\n", nil, fix.AutoPolicy{MaxPerRun: 10, MaxPerHour: 30,
			Flapping: fix.Flapping{Count: 3, Window: 7 * 24 * time.Hour}}, true},
	}
	checks, err := (&app{}).loadChecks()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	// remediation.azure alone configures no AWS credentials.
	t.Run("azure only", func(t *testing.T) {
		a := &app{configPath: write("azure-only.yaml", "remediation:\n  azure:\n    tenant_id: 72f988bf-86f1-41af-91ab-2d7cd011db47\n"+
			"    client_id: 3b1c6f3e-2a52-4c55-9d43-7f0ad3c7e2a1\n    client_secret_env: VIGIL_AZURE_FIX_SECRET\n")}
		cfg, err := a.loadConfig(checks, reg)
		if err != nil {
			t.Fatal(err)
		}
		want := &azureRemediation{tenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", clientID: "3b1c6f3e-2a52-4c55-9d43-7f0ad3c7e2a1",
			secretEnv: "VIGIL_AZURE_FIX_SECRET"}
		if cfg.remediation != nil || !reflect.DeepEqual(cfg.azureRemediation, want) {
			t.Errorf("remediation %+v, azure %+v; want none and %+v", cfg.remediation, cfg.azureRemediation, want)
		}
		// The secret is read only when a fix may run, and must be set then.
		t.Setenv("VIGIL_AZURE_FIX_SECRET", "")
		if _, err := a.azureRemediationCredential(cfg, "public"); err == nil ||
			err.Error() != a.configPath+": remediation.azure.client_secret_env names VIGIL_AZURE_FIX_SECRET, which is not set" {
			t.Errorf("unset secret: %v", err)
		}
		t.Setenv("VIGIL_AZURE_FIX_SECRET", "s3cr3t-value")
		t.Setenv("AZURE_CLIENT_ID", "3B1C6F3E-2A52-4C55-9D43-7F0AD3C7E2A1")
		if _, err := a.azureRemediationCredential(cfg, "public"); err == nil || !strings.Contains(err.Error(), "is the scanning identity's (AZURE_CLIENT_ID)") {
			t.Errorf("scanning identity reused: %v", err)
		}
		t.Setenv("AZURE_CLIENT_ID", "")
		if cred, err := a.azureRemediationCredential(cfg, "public"); err != nil || cred == nil {
			t.Errorf("credential: %v %v", cred, err)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{}
			if tc.body != "" {
				a.configPath = write(strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.body)
			}
			cfg, err := a.loadConfig(checks, reg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.remediation, tc.remediation) || !reflect.DeepEqual(cfg.autofix, tc.autofix) || cfg.autofixSet != tc.set || cfg.email != nil {
				t.Errorf("got %+v %+v %v, want %+v %+v %v", cfg.remediation, cfg.autofix, cfg.autofixSet, tc.remediation, tc.autofix, tc.set)
			}
		})
	}
}

func TestAutofixKillSwitch(t *testing.T) {
	for v, killed := range map[string]bool{"": false, "on": false, "TRUE": false, "1": false,
		"off": true, "0": true, "false": true, "OFF": true, "no": true, "disabled": true} {
		t.Setenv("VIGIL_AUTOFIX", v)
		if got := autofixKilled(); got != killed {
			t.Errorf("VIGIL_AUTOFIX=%q: killed %v, want %v", v, got, killed)
		}
	}
}
