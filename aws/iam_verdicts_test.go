package aws

import (
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

// TestIAMVerdicts seeds moto with good and bad IAM configuration, collects
// it and asserts the exact status of every built-in IAM check on every
// resource. moto stamps everything with the current time, so the age rules
// (unused credentials, key rotation) can only pass here; their failing
// cases are covered by the checks' fixtures.
func TestIAMVerdicts(t *testing.T) {
	const (
		pass = vigil.StatusPass
		fail = vigil.StatusFail
		errd = vigil.StatusError
	)
	acct := testenv.MotoAccount

	t.Run("seeded account", func(t *testing.T) {
		moto.Reset(t)
		seedIAM(t)
		col := collect(t, []string{"iam", "accessanalyzer"})
		assertIAMVerdicts(t, col, map[string]map[string]vigil.Status{
			"aws-iam-root-no-access-keys": {acct: pass},
			// moto's root user never has MFA.
			"aws-iam-root-mfa-enabled":  {acct: fail},
			"aws-iam-root-hardware-mfa": {acct: fail},
			// moto's credential report has no <root_account> row: the
			// check cannot decide, which must not be a pass.
			"aws-iam-root-not-used-recently":              {acct: errd},
			"aws-iam-password-policy-min-length-14":       {acct: pass},
			"aws-iam-password-policy-reuse-24":            {acct: pass},
			"aws-iam-password-policy-strong":              {acct: pass},
			"aws-iam-support-role-exists":                 {acct: pass},
			"aws-iam-cloudshell-full-access-not-attached": {acct: fail},

			// Only users with a console password are in scope.
			"aws-iam-user-console-mfa":                {"alice": pass, "bob": fail},
			"aws-iam-user-mfa-enabled":                {"alice": pass, "bob": fail, "carol": fail, "dave": fail},
			"aws-iam-user-unused-credentials-45-days": {"alice": pass, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-user-unused-credentials-90-days": {"alice": pass, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-user-one-active-access-key":      {"alice": pass, "bob": fail, "carol": pass, "dave": pass},
			"aws-iam-user-access-keys-rotated":        {"alice": pass, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-user-no-direct-policies":         {"alice": pass, "bob": fail, "carol": pass, "dave": pass},

			// admin-unused is attached nowhere: out of scope.
			"aws-iam-policy-no-full-admin": {"admin-all": fail, "s3-read": pass},
			// New check for Security Hub IAM.1, which also fails unattached
			// administrator policies: only admin-unused is in scope.
			"aws-iam-policy-unattached-no-full-admin": {"admin-unused": fail},
			// New check for KMS.1: "*" on "*" allows kms:Decrypt on every key.
			"aws-iam-policy-no-kms-decrypt-all-keys": {"admin-all": fail, "admin-unused": fail, "s3-read": pass},
			// New checks for KMS.2: the seeded inline policies only read S3.
			"aws-iam-user-inline-no-kms-decrypt-all-keys":  {"alice": pass, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-group-inline-no-kms-decrypt-all-keys": {"admins": pass, "empty": pass},
			"aws-iam-role-inline-no-kms-decrypt-all-keys":  {"app": pass, "support": pass, "shell": pass},
			// New check for CIS 1.11: bob has a console password and two
			// active keys that were never used; alice used hers. Users without
			// a console password are out of scope.
			"aws-iam-user-no-unused-initial-access-key": {"alice": pass, "bob": fail},
			// moto reports every certificate as expired in 2012.
			"aws-iam-server-certificate-not-expired": {"legacy-lb": fail},
			// moto has no Access Analyzer: unreadable, never a pass.
			"aws-iam-access-analyzer-enabled": {"us-east-1": errd},

			// The engine-backed checks (their failing cases are seeded in
			// TestIAMEngineVerdicts): alice has AdministratorAccess through
			// the admins group; admin needs no escalation path.
			"aws-iam-user-no-admin-access":             {"alice": fail, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-user-no-privilege-escalation":     {"alice": pass, "bob": pass, "carol": pass, "dave": pass},
			"aws-iam-group-no-privilege-escalation":    {"admins": pass, "empty": pass},
			"aws-iam-role-no-privilege-escalation":     {"app": pass, "support": pass, "shell": pass},
			"aws-iam-policy-no-privilege-escalation":   {"admin-all": pass, "admin-unused": pass, "s3-read": pass},
			"aws-iam-role-trust-not-public":            {"app": pass, "support": pass, "shell": pass},
			"aws-iam-role-trust-no-untrusted-accounts": {"app": pass, "support": pass, "shell": pass},
			"aws-iam-role-trust-federated-pinned":      {"app": pass, "support": pass, "shell": pass},
		})
		if r := reasons(t, col, "aws-iam-user-console-mfa")["bob"]; !strings.Contains(r, "bob can sign in to the console with a password but has no MFA device") {
			t.Errorf("console MFA reason for bob = %q", r)
		}
		if r := reasons(t, col, "aws-iam-cloudshell-full-access-not-attached")[acct]; !strings.Contains(r, "attached to role/shell") {
			t.Errorf("cloudshell reason = %q", r)
		}
		if r := reasons(t, col, "aws-iam-user-one-active-access-key")["bob"]; !strings.Contains(r, "has 2 active access keys") {
			t.Errorf("one active key reason for bob = %q", r)
		}
	})

	t.Run("empty account", func(t *testing.T) {
		moto.Reset(t)
		col := collect(t, []string{"iam"})
		assertIAMVerdicts(t, col, map[string]map[string]vigil.Status{
			"aws-iam-root-no-access-keys":    {acct: pass},
			"aws-iam-root-mfa-enabled":       {acct: fail},
			"aws-iam-root-hardware-mfa":      {acct: fail},
			"aws-iam-root-not-used-recently": {acct: errd},
			// No password policy at all.
			"aws-iam-password-policy-min-length-14":       {acct: fail},
			"aws-iam-password-policy-reuse-24":            {acct: fail},
			"aws-iam-password-policy-strong":              {acct: fail},
			"aws-iam-support-role-exists":                 {acct: fail},
			"aws-iam-cloudshell-full-access-not-attached": {acct: pass},
			// Access Analyzer was not scanned here (only "iam"): no result.
		})
	})
}

// assertIAMVerdicts compares the statuses of the aws-iam-* checks with want,
// exactly: a check or resource missing from want must have no result.
func assertIAMVerdicts(t *testing.T, col *collected, want map[string]map[string]vigil.Status) {
	t.Helper()
	got := verdicts(t, col)
	ids := map[string]bool{}
	for id := range got {
		if strings.HasPrefix(id, "aws-iam-") {
			ids[id] = true
		}
	}
	for id := range want {
		ids[id] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		g, w := got[id], want[id]
		for name, ws := range w {
			if gs, ok := g[name]; !ok {
				t.Errorf("%s on %s: no result, want %s", id, name, ws)
			} else if gs != ws {
				t.Errorf("%s on %s: got %s, want %s (%s)", id, name, gs, ws, reasons(t, col, id)[name])
			}
		}
		for name, gs := range g {
			if _, ok := w[name]; !ok {
				t.Errorf("%s on %s: unexpected result %s (%s)", id, name, gs, reasons(t, col, id)[name])
			}
		}
	}
}
