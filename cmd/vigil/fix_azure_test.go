package main

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/internal/localsrv"
)

// TestFixNowAzure: Fix Now on an Azure finding plans with the scanning
// identity (reads only) and refuses --yes until remediation.azure is
// configured; then it applies exactly one PATCH, verifies, and undoes it.
func TestFixNowAzure(t *testing.T) {
	est := azuretest.New()
	if err := est.LoadFile("testdata/azure-serve.json"); err != nil {
		t.Fatal(err)
	}
	setPublic := func(on bool) {
		t.Helper()
		sc, err := armstorage.NewAccountsClient(azSub, &azfake.TokenCredential{},
			&arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: est.Transport()}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sc.Update(context.Background(), "rg-data", "contosodata", armstorage.AccountUpdateParameters{
			Properties: &armstorage.AccountPropertiesUpdateParameters{AllowBlobPublicAccess: &on}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	public := func() bool {
		a, _ := est.StorageAccount(azAccountID)
		return a.Properties != nil && a.Properties.AllowBlobPublicAccess != nil && *a.Properties.AllowBlobPublicAccess
	}
	patches := func() []string {
		var out []string
		for _, r := range est.Requests() {
			if r.Method == "PATCH" && strings.EqualFold(r.Path, azAccountID) {
				out = append(out, r.Body)
			}
		}
		return out
	}
	setPublic(true)
	db := t.TempDir() + "/vigil.db"
	cli := func(args ...string) (int, string, string) {
		var out, errOut localsrv.Buffer
		code := runApp(context.Background(), azureApp(est, &out, &errOut), append([]string{"--db", db}, args...))
		return code, out.String(), errOut.String()
	}
	if code, _, stderr := cli("scan", "--provider", "azure", "--subscriptions", azSub, "--checks", azBlobCheck); code != 3 && code != 0 {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	finding := vigil.FindingID(azBlobCheck, azAccountID)
	before := len(patches())

	// No config: a plan with the scanning identity, and --yes refused.
	code, out, stderr := cli("fix", finding)
	if code != 0 || !strings.Contains(out, "Planned with the scanning credentials (reads only)") ||
		!strings.Contains(out, `"allowBlobPublicAccess":false`) || !strings.Contains(out, azFixAction) {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	if code, _, stderr := cli("fix", finding, "--yes"); code != 2 || !strings.HasPrefix(stderr, "vigil: no remediation credentials") {
		t.Errorf("--yes without remediation: exit %d: %s", code, stderr)
	}
	// AWS remediation only: the Azure finding is still refused.
	awsOnly := writeConfig(t, "remediation: {}\n")
	if code, _, stderr := cli("--config", awsOnly, "fix", finding, "--yes"); code != 2 || !strings.HasPrefix(stderr, "vigil: no remediation credentials") {
		t.Errorf("--yes with AWS remediation only: exit %d: %s", code, stderr)
	}
	if got := patches(); len(got) != before || !public() {
		t.Fatalf("a refused fix changed the account: %q", got[before:])
	}

	// remediation.azure: applied, verified, one exact PATCH.
	cfg := writeConfig(t, "remediation:\n  azure: {tenant_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, client_id: 3b1c6f3e-2a52-4c55-9d43-7f0ad3c7e2a1, client_secret_env: VIGIL_TEST_UNUSED_SECRET}\n")
	code, out, stderr = cli("--config", cfg, "fix", finding, "--yes")
	if code != 0 || !strings.Contains(out, "verified") {
		t.Fatalf("fix --yes: exit %d\n%s\n%s", code, out, stderr)
	}
	if got := patches()[before:]; len(got) != 1 || got[0] != `{"properties":{"allowBlobPublicAccess":false}}` || public() {
		t.Fatalf("PATCHes %q, public %v; want exactly one turning anonymous access off", got, public())
	}
	m := fixIDRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no fix id in:\n%s", out)
	}
	fs := fixRecords(t, db)
	if len(fs) == 0 || fs[0].Status != vigil.FixVerified || fs[0].Action != azFixAction || fs[0].ResourceUID != azAccountID {
		t.Fatalf("fix records %+v", fs)
	}

	// Undo puts the previous value back, with the remediation identity.
	code, out, stderr = cli("--config", cfg, "fix", "undo", m[1])
	if code != 0 || !strings.Contains(out, ": undone:") || !public() {
		t.Fatalf("undo: exit %d, public %v\n%s\n%s", code, public(), out, stderr)
	}
	if got := patches()[before:]; len(got) != 2 || got[1] != `{"properties":{"allowBlobPublicAccess":true}}` {
		t.Errorf("undo PATCH %q", got)
	}
}
