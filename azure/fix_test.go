package azure

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/fix"
	vpolicy "github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/sqlite"
)

// rbacOperations maps the SDK operations the collectors and fixes call
// (the API names the fake servers dispatch on) to the Azure RBAC
// operations they need. The reads are the full scan's and Get's, which
// TestReaderRole holds the reader role to; the writes are the fixes'.
var rbacOperations = map[string]string{
	// Subscriptions.
	"Client.Get":          "Microsoft.Resources/subscriptions/read",
	"Client.NewListPager": "Microsoft.Resources/subscriptions/read",
	// Authorization.
	"RoleDefinitionsClient.NewListPager":                "Microsoft.Authorization/roleDefinitions/read",
	"RoleDefinitionsClient.GetByID":                     "Microsoft.Authorization/roleDefinitions/read",
	"RoleAssignmentsClient.NewListForSubscriptionPager": "Microsoft.Authorization/roleAssignments/read",
	"RoleAssignmentsClient.GetByID":                     "Microsoft.Authorization/roleAssignments/read",
	// Compute.
	"VirtualMachinesClient.NewListAllPager": "Microsoft.Compute/virtualMachines/read",
	"VirtualMachinesClient.Get":             "Microsoft.Compute/virtualMachines/read",
	"VirtualMachineExtensionsClient.List":   "Microsoft.Compute/virtualMachines/extensions/read",
	"DisksClient.NewListPager":              "Microsoft.Compute/disks/read",
	"DisksClient.Get":                       "Microsoft.Compute/disks/read",
	// Defender for Cloud. Auto-provisioning is read by a call whose
	// operation a custom role cannot list: see unlistableReads.
	"PricingsClient.List":                         "Microsoft.Security/pricings/read",
	"PricingsClient.Get":                          "Microsoft.Security/pricings/read",
	"ContactsClient.NewListPager":                 "Microsoft.Security/securityContacts/read",
	"AutoProvisioningSettingsClient.NewListPager": "Microsoft.Security/autoProvisioningSettings/read",
	// Key Vault (control plane: key and secret metadata, never values).
	"VaultsClient.NewListBySubscriptionPager": "Microsoft.KeyVault/vaults/read",
	"VaultsClient.Get":                        "Microsoft.KeyVault/vaults/read",
	"KeysClient.NewListPager":                 "Microsoft.KeyVault/vaults/keys/read",
	"SecretsClient.NewListPager":              "Microsoft.KeyVault/vaults/secrets/read",
	// Monitor.
	"DiagnosticSettingsClient.NewListPager":                "Microsoft.Insights/diagnosticSettings/read",
	"ActivityLogAlertsClient.NewListBySubscriptionIDPager": "Microsoft.Insights/activityLogAlerts/read",
	"ActivityLogAlertsClient.Get":                          "Microsoft.Insights/activityLogAlerts/read",
	// Network.
	"SecurityGroupsClient.NewListAllPager":    "Microsoft.Network/networkSecurityGroups/read",
	"SecurityGroupsClient.Get":                "Microsoft.Network/networkSecurityGroups/read",
	"SecurityRulesClient.BeginCreateOrUpdate": "Microsoft.Network/networkSecurityGroups/securityRules/write",
	"SecurityRulesClient.BeginDelete":         "Microsoft.Network/networkSecurityGroups/securityRules/delete",
	"SecurityRulesClient.Get":                 "Microsoft.Network/networkSecurityGroups/securityRules/read",
	"InterfacesClient.NewListAllPager":        "Microsoft.Network/networkInterfaces/read",
	"InterfacesClient.Get":                    "Microsoft.Network/networkInterfaces/read",
	"PublicIPAddressesClient.NewListAllPager": "Microsoft.Network/publicIPAddresses/read",
	"PublicIPAddressesClient.Get":             "Microsoft.Network/publicIPAddresses/read",
	"VirtualNetworksClient.NewListAllPager":   "Microsoft.Network/virtualNetworks/read",
	"WatchersClient.NewListAllPager":          "Microsoft.Network/networkWatchers/read",
	"WatchersClient.Get":                      "Microsoft.Network/networkWatchers/read",
	"FlowLogsClient.NewListPager":             "Microsoft.Network/networkWatchers/flowLogs/read",
	"FlowLogsClient.Get":                      "Microsoft.Network/networkWatchers/flowLogs/read",
	// SQL.
	"ServersClient.NewListPager":                             "Microsoft.Sql/servers/read",
	"ServersClient.Get":                                      "Microsoft.Sql/servers/read",
	"ServerBlobAuditingPoliciesClient.Get":                   "Microsoft.Sql/servers/auditingSettings/read",
	"EncryptionProtectorsClient.Get":                         "Microsoft.Sql/servers/encryptionProtector/read",
	"ServerSecurityAlertPoliciesClient.Get":                  "Microsoft.Sql/servers/securityAlertPolicies/read",
	"ServerVulnerabilityAssessmentsClient.Get":               "Microsoft.Sql/servers/vulnerabilityAssessments/read",
	"FirewallRulesClient.NewListByServerPager":               "Microsoft.Sql/servers/firewallRules/read",
	"ServerAzureADAdministratorsClient.NewListByServerPager": "Microsoft.Sql/servers/administrators/read",
	"DatabasesClient.NewListByServerPager":                   "Microsoft.Sql/servers/databases/read",
	"DatabasesClient.Get":                                    "Microsoft.Sql/servers/databases/read",
	"TransparentDataEncryptionsClient.Get":                   "Microsoft.Sql/servers/databases/transparentDataEncryption/read",
	// Storage.
	"AccountsClient.NewListPager":             "Microsoft.Storage/storageAccounts/read",
	"AccountsClient.GetProperties":            "Microsoft.Storage/storageAccounts/read",
	"AccountsClient.Update":                   "Microsoft.Storage/storageAccounts/write",
	"BlobServicesClient.GetServiceProperties": "Microsoft.Storage/storageAccounts/blobServices/read",
	"BlobServicesClient.SetServiceProperties": "Microsoft.Storage/storageAccounts/blobServices/write",
	"BlobContainersClient.NewListPager":       "Microsoft.Storage/storageAccounts/blobServices/containers/read",
	"BlobContainersClient.Get":                "Microsoft.Storage/storageAccounts/blobServices/containers/read",
	"BlobContainersClient.Update":             "Microsoft.Storage/storageAccounts/blobServices/containers/write",
}

// unlistableReads are reads a scan makes that the reader role leaves out:
// Microsoft's operations reference lists them, but users of custom roles
// report that ARM rejects a role definition naming them
// (InvalidActionOrNotAction), and one bad action fails the whole role.
// Without the grant the call gets 403 and the property it feeds is a read
// error, which no check relies on; the built-in Reader role (*/read)
// covers it.
var unlistableReads = map[string]bool{
	"Microsoft.Security/autoProvisioningSettings/read": true,
}

// remediationToken is the bearer token of the remediation credential, so
// that the recording transport tells its calls from the scanner's.
const remediationToken = "remediation-token"

type tokenCred struct{ token string }

func (c tokenCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// recorder is a transport in front of the estate that records the RBAC
// operation of every call made with the remediation credential.
type recorder struct {
	next policy.Transporter
	mu   sync.Mutex
	ops  map[string]bool
	bad  []string // API names with no known RBAC operation
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") == "Bearer "+remediationToken {
		api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
		r.mu.Lock()
		if op, ok := rbacOperations[api]; ok {
			r.ops[op] = true
		} else {
			r.bad = append(r.bad, api)
		}
		r.mu.Unlock()
	}
	return r.next.Do(req)
}

// fixHarness is a fix.Runner wired as `vigil fix` wires it — the Azure
// fixer, the built-in checks, a real SQLite store — over resources
// collected from the estate.
type fixHarness struct {
	t      *testing.T
	e      *azuretest.Estate
	store  *sqlite.Store
	runner *fix.Runner
	fixer  *Fixer
	rec    *recorder
	scan   *Collector
}

func newFixHarness(t *testing.T, fixtures ...string) *fixHarness {
	t.Helper()
	ctx := context.Background()
	e := newEstate(t)
	for _, f := range fixtures {
		if err := e.LoadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{next: e.Transport(), ops: map[string]bool{}}
	scan, err := New(Options{Transport: rec, Credential: tokenCred{"scan-token"}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	s := collect(t, scan, subProd)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sc := vigil.Scan{ID: "s-fix-test", StartedAt: fixedNow, Status: "running", Accounts: []string{subProd}}
	if err := st.StartScan(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutResources(ctx, sc.ID, s.byUID()); err != nil {
		t.Fatal(err)
	}
	fixer := NewFixer(scan, tokenCred{remediationToken}, []vigil.Account{{Provider: vigil.Azure, ID: subProd}})
	reg, err := fix.NewRegistry(fixer.Actions()...)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := vpolicy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	return &fixHarness{t: t, e: e, store: st, fixer: fixer, rec: rec, scan: scan,
		runner: &fix.Runner{Store: st, Actions: reg, Checks: checks, Refresh: fixer, Now: func() time.Time { return fixedNow }}}
}

// checkPermissions fails the test when an action called ARM with an
// operation its Permissions() do not list.
func (h *fixHarness) checkPermissions(a fix.Action) {
	h.t.Helper()
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	declared := map[string]bool{}
	for _, p := range a.Permissions() {
		declared[p] = true
	}
	for op := range h.rec.ops {
		if !declared[op] {
			h.t.Errorf("action %s called %s, which its Permissions() do not list %v", a.ID(), op, a.Permissions())
		}
	}
	if len(h.rec.bad) > 0 {
		h.t.Errorf("calls with no known RBAC operation: %v", h.rec.bad)
	}
	clear(h.rec.ops)
	h.rec.bad = nil
}

func (h *fixHarness) plan(checkID, uid string, params map[string]any) (*fix.Job, vigil.Fix, *fix.Plan) {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.runner.Prepare(ctx, checkID, uid, params)
	if err != nil {
		h.t.Fatalf("prepare %s on %s: %v", checkID, uid, err)
	}
	f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
	h.checkPermissions(j.Action)
	if err != nil {
		h.t.Fatalf("plan %s on %s: %v", checkID, uid, err)
	}
	if len(h.e.Requests()) != 0 {
		h.t.Fatalf("the plan wrote: %+v", h.e.Requests())
	}
	return j, f, p
}

func (h *fixHarness) apply(j *fix.Job, f vigil.Fix, p *fix.Plan) vigil.Fix {
	h.t.Helper()
	out, err := h.runner.Apply(context.Background(), j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	if out.Status != vigil.FixVerified {
		h.t.Fatalf("fix %s: %s: %s (calls %+v)", out.ID, out.Status, out.Reason, out.Calls)
	}
	return out
}

func (h *fixHarness) undo(id string) vigil.Fix {
	h.t.Helper()
	out, err := h.runner.Undo(context.Background(), id, "user:test")
	if a, ok := h.runner.Actions.Get(out.Action); ok {
		h.checkPermissions(a)
	}
	if err != nil {
		h.t.Fatalf("undo %s: %v", id, err)
	}
	if out.Status != vigil.FixUndone {
		h.t.Fatalf("undo %s: %s: %s", id, out.Status, out.Reason)
	}
	return out
}

// takeRequests returns the writes the estate received since the last call,
// with their bodies decoded.
func (h *fixHarness) takeRequests(since *int) []map[string]any {
	h.t.Helper()
	all := h.e.Requests()
	var out []map[string]any
	for _, r := range all[*since:] {
		m := map[string]any{"method": r.Method, "path": r.Path}
		if r.Body != "" {
			var body any
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
				h.t.Fatalf("request body %q: %v", r.Body, err)
			}
			m["body"] = body
		}
		out = append(out, m)
	}
	*since = len(all)
	return out
}

// asJSON normalizes v through JSON, so that planned inputs compare with
// decoded request bodies.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	legacyAcct = "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.Storage/storageAccounts/contosolegacy"
	publicCtr  = legacyAcct + "/blobServices/default/containers/public-assets"
)

// TestFixActions runs each action through plan, apply, verify and undo:
// the plan's calls are exactly the writes the estate receives, the check
// passes after the fix, and undo sends the recorded state back.
func TestFixActions(t *testing.T) {
	cases := []struct {
		name    string
		check   string
		uid     string
		params  map[string]any
		calls   []map[string]any // the exact writes of the fix
		undo    []map[string]any // the exact writes of the undo; nil: not undone
		steps   int
		warning string
	}{
		{name: "disallow blob public access", check: "azure-storage-account-blob-anonymous-access-disabled", uid: legacyAcct,
			calls: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"allowBlobPublicAccess": false}}}},
			undo:  []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"allowBlobPublicAccess": true}}}}},
		{name: "https only", check: "azure-storage-account-secure-transfer-required", uid: legacyAcct,
			calls: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"supportsHttpsTrafficOnly": true}}}},
			undo:  []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"supportsHttpsTrafficOnly": false}}}}},
		{name: "min tls 1.2", check: "azure-storage-account-min-tls-1-2", uid: legacyAcct,
			calls: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"minimumTlsVersion": "TLS1_2"}}}},
			undo:  []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"minimumTlsVersion": "TLS1_0"}}}}},
		{name: "disable shared key", check: "azure-storage-account-shared-key-disabled", uid: legacyAcct, warning: "WARNING",
			calls: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"allowSharedKeyAccess": false}}}},
			undo:  []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"allowSharedKeyAccess": true}}}}},
		{name: "deny public network access", check: "azure-storage-account-default-network-deny", uid: legacyAcct, steps: 2, warning: "cuts off every public client",
			calls: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"networkAcls": map[string]any{
				"bypass": "AzureServices", "defaultAction": "Deny"}}}}},
			undo: []map[string]any{{"method": "PATCH", "path": legacyAcct, "body": map[string]any{"properties": map[string]any{"networkAcls": map[string]any{
				"bypass": "AzureServices", "defaultAction": "Allow"}}}}}},
		{name: "blob soft delete 10 days", check: "azure-storage-account-blob-soft-delete", uid: legacyAcct, params: map[string]any{"days": 10},
			calls: []map[string]any{{"method": "PUT", "path": legacyAcct + "/blobServices/default", "body": map[string]any{"properties": map[string]any{
				"deleteRetentionPolicy": map[string]any{"enabled": true, "days": 10.0}}}}},
			undo: []map[string]any{{"method": "PUT", "path": legacyAcct + "/blobServices/default", "body": map[string]any{"properties": map[string]any{
				"deleteRetentionPolicy": map[string]any{"enabled": false, "allowPermanentDelete": false}}}}}},
		{name: "container private", check: "azure-storage-container-private", uid: publicCtr,
			calls: []map[string]any{{"method": "PATCH", "path": publicCtr, "body": map[string]any{"properties": map[string]any{"publicAccess": "None"}}}},
			undo:  []map[string]any{{"method": "PATCH", "path": publicCtr, "body": map[string]any{"properties": map[string]any{"publicAccess": "Container"}}}}},
		{name: "nsg delete ssh rule", check: "azure-network-nsg-no-internet-ssh", uid: nsgWeb,
			calls: []map[string]any{{"method": "DELETE", "path": nsgWeb + "/securityRules/allow-ssh-anywhere"}},
			undo: []map[string]any{{"method": "PUT", "path": nsgWeb + "/securityRules/allow-ssh-anywhere", "body": map[string]any{"properties": map[string]any{
				"access": "Allow", "description": "legacy jump access", "destinationAddressPrefix": "*", "destinationPortRange": "22", "direction": "Inbound",
				"priority": 130.0, "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*"}}}}},
		{name: "nsg restrict https rule", check: "azure-network-nsg-no-internet-http", uid: nsgWeb,
			params: map[string]any{"mode": "restrict", "cidrs": []any{"198.51.100.0/24", "203.0.113.9"}},
			calls: []map[string]any{{"method": "PUT", "path": nsgWeb + "/securityRules/allow-https", "body": map[string]any{"properties": map[string]any{
				"access": "Allow", "destinationAddressPrefix": "10.0.1.0/24", "destinationPortRanges": []any{"443", "8000-8100"}, "direction": "Inbound",
				"priority": 100.0, "protocol": "Tcp", "sourceAddressPrefixes": []any{"198.51.100.0/24", "203.0.113.9"}, "sourcePortRange": "*"}}}},
			undo: []map[string]any{{"method": "PUT", "path": nsgWeb + "/securityRules/allow-https", "body": map[string]any{"properties": map[string]any{
				"access": "Allow", "destinationAddressPrefix": "10.0.1.0/24", "destinationPortRanges": []any{"443", "8000-8100"}, "direction": "Inbound",
				"priority": 100.0, "protocol": "Tcp", "sourceAddressPrefix": "Internet", "sourcePortRange": "*"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFixHarness(t)
			since := 0
			j, f, p := h.plan(tc.check, tc.uid, tc.params)
			if p.NoOp {
				t.Fatalf("plan is a no-op: %v", p.Steps)
			}
			var planned []map[string]any
			for _, c := range p.Calls {
				planned = append(planned, c.Input)
			}
			if got, want := asJSON(t, planned), asJSON(t, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("planned calls\n got %v\nwant %v", got, want)
			}
			if want := max(tc.steps, 1); len(p.Steps) != want {
				t.Errorf("plan steps %q, want %d", p.Steps, want)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(p.Steps, " "), tc.warning) {
				t.Errorf("plan steps %q do not warn %q", p.Steps, tc.warning)
			}
			done := h.apply(j, f, p)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("writes received\n got %v\nwant %v", got, want)
			}
			if !strings.HasPrefix(done.Reason, "verified") {
				t.Errorf("reason %q", done.Reason)
			}
			if tc.undo == nil {
				return
			}
			h.undo(done.ID)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.undo); !reflect.DeepEqual(got, want) {
				t.Errorf("undo writes\n got %v\nwant %v", got, want)
			}
			fresh, err := h.fixer.Refresh(context.Background(), j.Target.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if o := j.Check.Evaluate(vpolicy.NewInput(&fresh, fixedNow)); o.Status != vigil.StatusFail {
				t.Errorf("after undo the check gives %s (%s), want fail again", o.Status, o.Reason)
			}
		})
	}
}

// TestFixNSGOnlyOffendingRule: deleting the SSH rule leaves every other
// rule of the group as it was.
func TestFixNSGOnlyOffendingRule(t *testing.T) {
	h := newFixHarness(t)
	before, _ := h.e.SecurityGroup(nsgWeb)
	j, f, p := h.plan("azure-network-nsg-no-internet-ssh", nsgWeb, nil)
	h.apply(j, f, p)
	after, _ := h.e.SecurityGroup(nsgWeb)
	var kept []string
	for _, r := range before.Properties.SecurityRules {
		if *r.Name != "allow-ssh-anywhere" {
			kept = append(kept, *r.Name)
		}
	}
	var got []string
	for _, r := range after.Properties.SecurityRules {
		got = append(got, *r.Name)
	}
	if !reflect.DeepEqual(got, kept) {
		t.Errorf("rules after the fix %v, want %v", got, kept)
	}
	for i, r := range after.Properties.SecurityRules {
		if want := asJSON(t, before.Properties.SecurityRules[indexOf(before.Properties.SecurityRules, *r.Name)]); !reflect.DeepEqual(asJSON(t, r), want) {
			t.Errorf("rule %d %s changed", i, *r.Name)
		}
	}
}

func indexOf(rs []*armnetwork.SecurityRule, name string) int {
	for i, r := range rs {
		if r.Name != nil && *r.Name == name {
			return i
		}
	}
	return -1
}

// TestFixWriteForbidden: a 403 on the write is a failed fix that changed
// nothing.
func TestFixWriteForbidden(t *testing.T) {
	h := newFixHarness(t)
	before, _ := h.e.StorageAccount(legacyAcct)
	h.e.Inject(azuretest.Fault{API: "AccountsClient.Update", Status: 403, Code: "AuthorizationFailed",
		Message: "The client does not have authorization to perform action 'Microsoft.Storage/storageAccounts/write'."})
	j, f, p := h.plan("azure-storage-account-min-tls-1-2", legacyAcct, nil)
	out, err := h.runner.Apply(context.Background(), j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != vigil.FixFailed || !strings.Contains(out.Reason, "AuthorizationFailed") {
		t.Errorf("fix %s: %s", out.Status, out.Reason)
	}
	if len(out.Calls) != 1 || out.Calls[0].Operation != opStorageAccountsWrite || out.Calls[0].Error == "" {
		t.Errorf("calls %+v", out.Calls)
	}
	after, _ := h.e.StorageAccount(legacyAcct)
	if !reflect.DeepEqual(asJSON(t, after), asJSON(t, before)) {
		t.Error("the account changed although the write was refused")
	}
	stored, err := h.store.Fix(context.Background(), out.ID)
	if err != nil || stored.Status != vigil.FixFailed {
		t.Errorf("stored fix %+v, %v", stored.Status, err)
	}
}

// TestFixRefusesUnseenSubscription: when the remediation credential cannot
// read the subscription, nothing is read or written with it.
func TestFixRefusesUnseenSubscription(t *testing.T) {
	h := newFixHarness(t)
	h.e.Inject(azuretest.Fault{API: "Client.Get", Status: 403, Code: "AuthorizationFailed"})
	ctx := context.Background()
	j, err := h.runner.Prepare(ctx, "azure-storage-account-min-tls-1-2", legacyAcct, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := h.e.Calls("AccountsClient.GetProperties")
	_, _, err = h.runner.Plan(ctx, j, "user:test", "fix-now")
	if err == nil || !strings.Contains(err.Error(), "refusing to change it") || vigil.ErrorCode(err) != vigil.EFORBIDDEN {
		t.Fatalf("plan error %v (code %s)", err, vigil.ErrorCode(err))
	}
	if h.e.Calls("AccountsClient.GetProperties") != before || len(h.e.Requests()) != 0 {
		t.Error("the fixer called the subscription it could not see")
	}
}

// TestFixNoRemediationCredential: fixes need their own credential.
func TestFixNoRemediationCredential(t *testing.T) {
	h := newFixHarness(t)
	fixer := NewFixer(h.scan, nil, nil)
	var a fix.Action
	for _, x := range fixer.Actions() {
		if x.ID() == "azure.storage.https-only" {
			a = x
		}
	}
	r, err := h.store.Resource(context.Background(), legacyAcct)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Plan(context.Background(), fix.Target{Resource: r}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("plan without a remediation credential: %v", err)
	}
}

// TestFixNoOp: an account already fixed plans nothing.
func TestFixNoOp(t *testing.T) {
	h := newFixHarness(t)
	_, _, p := h.plan("azure-storage-account-min-tls-1-2", rgData, nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("plan on a TLS 1.2 account: %+v", p)
	}
}

// TestFixParams: bad parameters are EINVALID before any call.
func TestFixParams(t *testing.T) {
	h := newFixHarness(t)
	ctx := context.Background()
	cases := []struct {
		check, uid string
		params     map[string]any
		want       string
	}{
		{"azure-storage-account-blob-soft-delete", legacyAcct, map[string]any{"days": 0}, "from 1 to 365"},
		{"azure-storage-account-blob-soft-delete", legacyAcct, map[string]any{"days": "a week"}, "not a whole number"},
		{"azure-network-nsg-no-internet-ssh", nsgWeb, map[string]any{"mode": "restrict"}, "needs the trusted source ranges"},
		{"azure-network-nsg-no-internet-ssh", nsgWeb, map[string]any{"mode": "restrict", "cidrs": []any{"0.0.0.0/0"}}, "whole Internet"},
		{"azure-network-nsg-no-internet-ssh", nsgWeb, map[string]any{"mode": "restrict", "cidrs": "10.0.0.300"}, "not an IP address"},
		{"azure-network-nsg-no-internet-ssh", nsgWeb, map[string]any{"mode": "drop"}, "neither delete nor restrict"},
		{"azure-network-nsg-no-internet-ssh", nsgWeb, map[string]any{"rule": "nope"}, `no rule "nope"`},
	}
	for _, tc := range cases {
		j, err := h.runner.Prepare(ctx, tc.check, tc.uid, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = h.runner.Plan(ctx, j, "user:test", "fix-now")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %v, want %q", tc.check, tc.params, err, tc.want)
		}
	}
	if len(h.e.Requests()) != 0 {
		t.Errorf("writes: %+v", h.e.Requests())
	}
}

// roleDefinition is the part of an Azure custom role definition the tests read.
type roleDefinition struct {
	Actions    []string `json:"Actions"`
	NotActions []string `json:"NotActions"`
}

func loadRole(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r roleDefinition
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]bool{}
	for _, a := range r.Actions {
		if strings.ContainsAny(a, "*?") {
			t.Errorf("%s grants the wildcard %s", path, a)
		}
		out[a] = true
	}
	return out
}

// TestRemediatorRole: the shipped remediation role grants exactly the
// permissions the actions declare: each of them, and nothing else.
func TestRemediatorRole(t *testing.T) {
	c, err := New(Options{Credential: tokenCred{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := fix.NewRegistry(NewFixer(c, tokenCred{"y"}, nil).Actions()...)
	if err != nil {
		t.Fatal(err)
	}
	// With the Blob data plane on, the storage actions declare data-plane
	// permissions instead; the role covers both.
	dp, err := New(Options{Credential: tokenCred{"x"}, BlobDataPlane: &BlobPlane{}})
	if err != nil {
		t.Fatal(err)
	}
	dpReg, err := fix.NewRegistry(NewFixer(dp, tokenCred{"y"}, nil).Actions()...)
	if err != nil {
		t.Fatal(err)
	}
	granted := loadRole(t, "../deploy/azure/vigil-remediator-role.json")
	declared := map[string]bool{}
	for _, p := range append(reg.Permissions(), dpReg.Permissions()...) {
		declared[p] = true
		if !granted[p] {
			t.Errorf("deploy/azure/vigil-remediator-role.json lacks %s, which an action needs", p)
		}
	}
	for g := range granted {
		if !declared[g] {
			t.Errorf("deploy/azure/vigil-remediator-role.json grants %s, which no action declares", g)
		}
	}
	checks, err := vpolicy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks.Checks() {
		if !strings.HasPrefix(c.Fix, "azure.") {
			continue
		}
		if a, ok := reg.Get(c.Fix); !ok || a.ResourceType() != c.ResourceType {
			t.Errorf("check %s (%s) names fix %s, which is not a registered action for that type", c.ID, c.ResourceType, c.Fix)
		}
	}
	for _, a := range reg.All() {
		if !strings.HasPrefix(a.ID(), "azure.") || a.Title() == "" || len(a.Permissions()) == 0 {
			t.Errorf("action %s: id, title or permissions missing", a.ID())
		}
	}
}

// readerFixtures are the overlays of testdata/estate.json that
// TestReaderRole scans ("" is the shared estate alone): together they hold
// a resource of every type the collectors read, so that every per-item
// call (VM extensions, vault keys, SQL server settings, …) is made.
var readerFixtures = []string{
	"",
	"compute.json",
	filepath.Join("security", "estate.json"),
	"estate-sql-keyvault.json",
	"fix-sub.json",
}

// TestReaderRole: a full scan of each fixture estate, and a Get of every
// resource the scan found, make only calls the shipped reader role allows,
// and the role grants only reads. An SDK operation with no RBAC operation
// in rbacOperations is an error: the role cannot be judged for it.
func TestReaderRole(t *testing.T) {
	granted := loadRole(t, "../deploy/azure/vigil-reader-role.json")
	for g := range granted {
		if !strings.HasSuffix(g, "/read") {
			t.Errorf("reader role grants %s, which is not a read", g)
		}
	}
	var mu sync.Mutex
	calls := map[string]string{} // API name → the first estate that made it
	for _, fixture := range readerFixtures {
		e := newEstate(t)
		name := "estate.json"
		if fixture != "" {
			name += " + " + fixture
			if err := e.LoadFile(filepath.Join("testdata", fixture)); err != nil {
				t.Fatal(err)
			}
		}
		next := e.Transport()
		scan, err := New(Options{Transport: transportFunc(func(req *http.Request) (*http.Response, error) {
			api, _ := req.Context().Value(runtime.CtxAPINameKey{}).(string)
			mu.Lock()
			if _, ok := calls[api]; !ok {
				calls[api] = name
			}
			mu.Unlock()
			return next.Do(req)
		}), Credential: tokenCred{"scan-token"}, Now: func() time.Time { return fixedNow }})
		if err != nil {
			t.Fatal(err)
		}
		acct := vigil.Account{Provider: vigil.Azure, ID: subProd}
		s := collect(t, scan, subProd)
		var ids []string
		for _, r := range s.byUID() {
			ids = append(ids, r.UID)
		}
		if _, err := scan.Get(context.Background(), acct, ids); err != nil {
			t.Fatalf("%s: get %d resources: %v", name, len(ids), err)
		}
	}
	seen := map[string]bool{}
	for api, estate := range calls {
		op, ok := rbacOperations[api]
		if !ok {
			t.Errorf("no RBAC operation mapped for %s (scan of %s); add it to rbacOperations and, if a read, the reader role", api, estate)
			continue
		}
		seen[op] = true
		if unlistableReads[op] {
			if granted[op] {
				t.Errorf("deploy/azure/vigil-reader-role.json lists %s, which ARM is reported to reject in a role definition (see unlistableReads)", op)
			}
			continue
		}
		if !granted[op] {
			t.Errorf("deploy/azure/vigil-reader-role.json does not allow %s (%s), which a scan of %s calls", op, api, estate)
		}
	}
	for g := range granted {
		if !seen[g] {
			t.Errorf("deploy/azure/vigil-reader-role.json grants %s, which no scan or get calls", g)
		}
	}
	if len(seen) < 30 {
		t.Errorf("the scans made %d kinds of mapped call; the fixtures no longer exercise the collectors", len(seen))
	}
}

type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) Do(req *http.Request) (*http.Response, error) { return f(req) }
