package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/internal/localsrv"
	"github.com/vigilsec/vigil/internal/testenv"
)

const (
	azSub        = "11111111-2222-3333-4444-555555555555"
	azAccountID  = "/subscriptions/" + azSub + "/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/contosodata"
	azBlobCheck  = "azure-storage-account-blob-anonymous-access-disabled"
	azFixAction  = "azure.storage.disallow-blob-public-access"
	azActorUPN   = "dana.kowalski@contoso.example"
	azureKeyEnv  = "VIGIL_TEST_AZURITE_KEY"
	azEventQueue = "vigil-events"
)

// azureApp is the CLI wired to the in-memory ARM estate through the SDK's
// fake transport, with separate (fake) scanning and remediation tokens.
func azureApp(est *azuretest.Estate, stdout, stderr *localsrv.Buffer) *app {
	return &app{stdout: stdout, stderr: stderr, azureTransport: est.Transport(),
		azureCredential: &azfake.TokenCredential{}, azureFixCredential: &azfake.TokenCredential{}}
}

// armEvent is an Event Grid ResourceWriteSuccess for a storage account, as
// Event Grid writes it to a Storage Queue (base64 of the JSON), made by
// Dana through the portal.
func armEvent(t testing.TB, id string, at time.Time) string {
	t.Helper()
	raw, err := os.ReadFile("../../azure/testdata/events/storage_account_write.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["id"], ev["subject"], ev["eventTime"] = id, azAccountID, at.Format(time.RFC3339Nano)
	ev["topic"] = "/subscriptions/" + azSub
	data := ev["data"].(map[string]any)
	data["resourceUri"], data["subscriptionId"] = azAccountID, azSub
	data["authorization"].(map[string]any)["scope"] = azAccountID
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestServeHealsAzureStorage is the canonical story on Azure: Dana allows
// anonymous blob access on a storage account; Event Grid's event reaches
// the Storage Queue (Azurite); Vigil re-reads only that account, records
// the change with Dana as the actor, turns anonymous access off again with
// the remediation identity, verifies it, and alerts the webhook.
func TestServeHealsAzureStorage(t *testing.T) {
	az := testenv.StartAzurite(t)
	qsvc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{azEventQueue, azEventQueue + "-poison"} {
		if _, err := qsvc.CreateQueue(context.Background(), q, nil); err != nil {
			t.Fatalf("create queue %s: %v", q, err)
		}
	}
	est := azuretest.New()
	if err := est.LoadFile("testdata/azure-serve.json"); err != nil {
		t.Fatal(err)
	}
	hook := newReceiver(t)
	t.Setenv("VIGIL_TEST_HOOK_SECRET", hookSecret)
	t.Setenv(azureKeyEnv, testenv.AzuriteKey)
	cfg := writeConfig(t, `remediation:
  azure: {tenant_id: aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, client_id: 3b1c6f3e-2a52-4c55-9d43-7f0ad3c7e2a1, client_secret_env: VIGIL_TEST_UNUSED_SECRET}
watch:
  azure:
    - {queue_service_url: "`+az.QueueURL+`", queue: `+azEventQueue+`, account_key_env: `+azureKeyEnv+`}
channels:
  hook: {type: webhook, url: "`+hook.URL+`", secret_env: VIGIL_TEST_HOOK_SECRET}
alerts:
  - name: storage-made-public
    on: change
    type: azure.storage.account
    when: 'new != null && new.allow_blob_public_access && (old == null || !old.allow_blob_public_access)'
    description: Anyone on the internet can read blobs in containers that allow it.
    severity: high
    channels: [hook]
  - name: healing
    on: fix
    outcomes: [verified, failed]
    channels: [hook]
autofix:
  enabled: true
  rules:
    - {name: no-anonymous-blobs, checks: [`+azBlobCheck+`]}
`)
	db := filepath.Join(t.TempDir(), "vigil.db")
	azArgs := []string{"--provider", "azure", "--subscriptions", azSub, "--checks", azBlobCheck}

	// The inventory before: anonymous access is off.
	var out, errOut localsrv.Buffer
	if code := runApp(context.Background(), azureApp(est, &out, &errOut), append([]string{"--db", db, "scan"}, azArgs...)); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, errOut.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	var serveErr localsrv.Buffer
	done := make(chan int, 1)
	go func() {
		done <- runApp(ctx, azureApp(est, &localsrv.Buffer{}, &serveErr), append([]string{"--db", db, "--config", cfg, "--log-level", "info",
			"serve", "--listen", "127.0.0.1:0", "--retry-base", "200ms"}, azArgs...))
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Error("serve did not stop within 40s")
		}
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", serveErr.String())
		}
	}()
	eventually(t, 30*time.Second, "serve listening", func() bool {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, serveErr.String())
		default:
		}
		return strings.Contains(serveErr.String(), "listening on")
	})

	// Dana allows anonymous blob access, through the SDK.
	sc, err := armstorage.NewAccountsClient(azSub, &azfake.TokenCredential{},
		&arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: est.Transport()}})
	if err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := sc.Update(context.Background(), "rg-data", "contosodata", armstorage.AccountUpdateParameters{
		Properties: &armstorage.AccountPropertiesUpdateParameters{AllowBlobPublicAccess: &on}}, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	if _, err := qsvc.NewQueueClient(azEventQueue).EnqueueMessage(context.Background(), armEvent(t, "4db48cba-0001", at), nil); err != nil {
		t.Fatal(err)
	}

	eventually(t, 30*time.Second, "a verified fix", func() bool { return verifiedFixes(t, db) == 1 })
	acct, ok := est.StorageAccount(azAccountID)
	if !ok || acct.Properties == nil || acct.Properties.AllowBlobPublicAccess == nil || *acct.Properties.AllowBlobPublicAccess {
		t.Fatalf("the storage account still allows anonymous blob access after the verified fix: %+v", acct.Properties)
	}
	eventually(t, 30*time.Second, "two alerts on the webhook", func() bool {
		_, accepted, _, _ := hook.snapshot()
		return len(accepted) == 2
	})

	// Versions: the scan, Dana's change with its cause, Vigil's fix.
	vs := changesOf(t, db, azAccountID)
	if len(vs) != 3 {
		t.Fatalf("%d versions of %s, want 3 (scan, Dana's change, the fix): %+v", len(vs), azAccountID, vs)
	}
	change, fixed := vs[1], vs[0]
	if change.Actor != azActorUPN || change.Cause == nil || change.Cause.EventName != "Microsoft.Storage/storageAccounts/write" ||
		change.Cause.EventID != "4db48cba-0001" || change.Cause.Actor.SourceIP != "203.0.113.24" || !change.Cause.EventTime.Equal(at) {
		t.Errorf("change version %+v cause %+v", change, change.Cause)
	}
	if !hasDiff(change.Diff, "/properties/allow_blob_public_access", false, true) {
		t.Errorf("change diff lacks /properties/allow_blob_public_access false → true: %+v", change.Diff)
	}
	if fixed.Actor != "rule:no-anonymous-blobs" || fixed.Cause == nil || fixed.Cause.EventName != "vigil fix "+azFixAction {
		t.Errorf("fix version actor %q cause %+v", fixed.Actor, fixed.Cause)
	}
	if !hasDiff(fixed.Diff, "/properties/allow_blob_public_access", true, false) {
		t.Errorf("fix diff lacks /properties/allow_blob_public_access true → false: %+v", fixed.Diff)
	}

	// The PATCH Vigil sent carries only the property it fixes.
	var patches []string
	for _, r := range est.Requests() {
		if r.Method == "PATCH" && strings.EqualFold(r.Path, azAccountID) {
			patches = append(patches, r.Body)
		}
	}
	if len(patches) != 2 || patches[1] != `{"properties":{"allowBlobPublicAccess":false}}` {
		t.Errorf("storage account PATCHes %q, want Dana's and then exactly {\"properties\":{\"allowBlobPublicAccess\":false}}", patches)
	}

	// The alerts: the change with Dana as the actor, then the verified fix.
	_, _, bodies, badSigs := hook.snapshot()
	if badSigs != 0 || len(bodies) != 2 || bodies[0].Kind != string(vigil.AlertChange) || bodies[1].Kind != string(vigil.AlertFix) {
		t.Fatalf("webhook: %d bad signatures, bodies %+v", badSigs, bodies)
	}
	ch, fx := bodies[0], bodies[1]
	if ch.Rule != "storage-made-public" || ch.Severity != "high" || ch.Actor == nil || ch.Actor.ARN != azActorUPN ||
		ch.Resource.UID != azAccountID || ch.Action != "Always Fix will correct it" {
		t.Errorf("change alert %+v", ch)
	}
	if fx.Rule != "healing" || fx.Fix == nil || fx.Fix.Status != "verified" || fx.CheckID != azBlobCheck {
		t.Errorf("fix alert %+v", fx)
	}
	// The queue is drained: the event was deleted once handled.
	peek, err := qsvc.NewQueueClient(azEventQueue).PeekMessages(context.Background(), nil)
	if err != nil || len(peek.Messages) != 0 {
		t.Errorf("event queue after handling: %d messages (err %v)", len(peek.Messages), err)
	}
}
