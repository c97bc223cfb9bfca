package azure

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

const (
	evSub    = "3f2e8c1a-7b4d-4e59-9a61-0c5d2b8e7f10"
	evTenant = "9c1d5e7a-2b3f-4a68-8e0d-6f4b1a2c3d5e"
	evRG     = "/subscriptions/" + evSub + "/resourceGroups/rg-prod-weu"
)

// The actors of the fixtures.
var (
	evDana = Actor{Name: "dana.kowalski@contoso.example", ObjectID: "5a8e2f14-93c1-4b7d-8e26-1f0a9c3b7d42",
		AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", TenantID: evTenant, Type: ActorUser, SourceIP: "203.0.113.24"}
	evLee = Actor{Name: "lee.ng@contoso.example", ObjectID: "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b",
		AppID: "04b07795-8ddb-461a-bbee-02f9e1bf7b46", TenantID: evTenant, Type: ActorUser, SourceIP: "192.0.2.55"}
	evApp = Actor{ObjectID: "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", AppID: "7d9c3b21-5e4f-4a1b-9c8d-2e6f0a1b3c4d",
		TenantID: evTenant, Type: ActorServicePrincipal, SourceIP: "198.51.100.7"}
	evMI = Actor{ObjectID: "8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c", AppID: "6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b",
		TenantID: evTenant, Type: ActorManagedIdentity,
		ManagedIdentity: "/subscriptions/" + evSub + "/resourcegroups/rg-ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-deployer"}
)

func evFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEventFixtures(t *testing.T) {
	t.Parallel()
	sa := evRG + "/providers/Microsoft.Storage/storageAccounts/stprodweu01"
	nsg := evRG + "/providers/Microsoft.Network/networkSecurityGroups/nsg-web"
	kv := evRG + "/providers/Microsoft.KeyVault/vaults/kv-prod-weu"
	sql := evRG + "/providers/Microsoft.Sql/servers/sql-prod-weu"
	vm := evRG + "/providers/Microsoft.Compute/virtualMachines/vm-web-01"
	sub := "/subscriptions/" + evSub
	tests := []struct {
		name      string
		id, typ   string
		schema    string
		op        string
		actor     Actor
		readOnly  bool
		failed    bool
		targets   []Touched
		ok        bool
		eventTime string
	}{
		{name: "storage_account_write", id: "4db48cba-50a2-455a-93b4-de41a3b5b7f6", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Storage/storageAccounts/write", actor: evDana, eventTime: "2025-06-01T11:58:04.6117357Z",
			targets: []Touched{{Type: "azure.storage.account", UID: sa}}, ok: true},
		// Lower-case segments in the event; the UID is spelled as ARM
		// returns ids.
		{name: "container_write", id: "e8a1f0c2-3b4d-4e5f-8a9b-0c1d2e3f4a5b", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Storage/storageAccounts/blobServices/containers/write", actor: evApp,
			targets: []Touched{{Type: "azure.storage.container", UID: "/subscriptions/" + evSub +
				"/resourceGroups/rg-prod-weu/providers/Microsoft.Storage/storageAccounts/stprodweu01/blobServices/default/containers/invoices"}}, ok: true},
		{name: "blob_service_write", id: "f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Storage/storageAccounts/blobServices/write", actor: evDana,
			targets: []Touched{{Type: "azure.storage.account", UID: sa}}, ok: true},
		{name: "nsg_rule_write", id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Network/networkSecurityGroups/securityRules/write", actor: evLee,
			targets: []Touched{{Type: "azure.network.nsg", UID: nsg}}, ok: true},
		// A rule deleted changes its NSG, which stays.
		{name: "nsg_rule_delete", id: "1b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e", typ: "Microsoft.Resources.ResourceDeleteSuccess",
			op: "Microsoft.Network/networkSecurityGroups/securityRules/delete", actor: evDana,
			targets: []Touched{{Type: "azure.network.nsg", UID: nsg}}, ok: true},
		{name: "keyvault_write", id: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.KeyVault/vaults/write", actor: evDana,
			targets: []Touched{{Type: "azure.keyvault.vault", UID: kv}}, ok: true},
		{name: "keyvault_secret_write", id: "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.KeyVault/vaults/secrets/write", actor: evApp,
			targets: []Touched{{Type: "azure.keyvault.vault", UID: kv}}, ok: true},
		{name: "sql_firewall_rule_write", id: "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Sql/servers/firewallRules/write", actor: evDana,
			targets: []Touched{{Type: "azure.sql.server", UID: sql}}, ok: true},
		{name: "sql_auditing_write", id: "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Sql/servers/auditingSettings/write", actor: evDana,
			targets: []Touched{{Type: "azure.sql.server", UID: sql}}, ok: true},
		{name: "sql_server_write_legacy_strings", id: "0c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Sql/servers/write", actor: evDana,
			targets: []Touched{{Type: "azure.sql.server", UID: sql}}, ok: true},
		{name: "vm_write", id: "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Compute/virtualMachines/write", actor: evMI,
			targets: []Touched{{Type: "azure.compute.vm", UID: vm}}, ok: true},
		{name: "vm_deallocate_action", id: "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", typ: "Microsoft.Resources.ResourceActionSuccess",
			op: "Microsoft.Compute/virtualMachines/deallocate/action", actor: evDana,
			targets: []Touched{{Type: "azure.compute.vm", UID: vm}}, ok: true},
		{name: "disk_delete", id: "8c9d0e1f-2a3b-4c4d-9e5f-6a7b8c9d0e1f", typ: "Microsoft.Resources.ResourceDeleteSuccess",
			op: "Microsoft.Compute/disks/delete", actor: evDana,
			targets: []Touched{{Type: "azure.compute.disk", UID: evRG + "/providers/Microsoft.Compute/disks/vm-web-01_OsDisk_1_0a1b2c3d", Deleted: true}}, ok: true},
		{name: "role_assignment_write", id: "9d0e1f2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Authorization/roleAssignments/write", actor: evDana,
			targets: []Touched{{Type: "azure.authorization.role_assignment", Region: "global",
				UID: sub + "/providers/Microsoft.Authorization/roleAssignments/2f9d4c1e-8b7a-4e6d-9c5b-1a0f3e2d4c6b"}}, ok: true},
		{name: "diagnostic_setting_write", id: "0e1f2a3b-4c5d-4e6f-9a7b-8c9d0e1f2a3b", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "microsoft.insights/diagnosticSettings/write", actor: evDana,
			targets: []Touched{{Type: "azure.subscription", UID: sub, Region: "global"}}, ok: true},
		// A diagnostic setting on a vault, deleted: the vault changed.
		{name: "keyvault_diagnostic_setting_delete", id: "1f2a3b4c-5d6e-4f7a-8b8c-9d0e1f2a3b4c", typ: "Microsoft.Resources.ResourceDeleteSuccess",
			op: "microsoft.insights/diagnosticSettings/delete", actor: evDana,
			targets: []Touched{{Type: "azure.keyvault.vault", UID: kv}}, ok: true},
		{name: "storage_account_delete", id: "2a3b4c5d-6e7f-4a8b-9c9d-0e1f2a3b4c5d", typ: "Microsoft.Resources.ResourceDeleteSuccess",
			op: "Microsoft.Storage/storageAccounts/delete", actor: evDana,
			targets: []Touched{{Type: "azure.storage.account", UID: evRG + "/providers/Microsoft.Storage/storageAccounts/stscratch42", Deleted: true}}, ok: true},
		{name: "flow_log_write", id: "3b4c5d6e-7f8a-4b9c-8d0e-1f2a3b4c5d6e", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Network/networkWatchers/flowLogs/write", actor: evDana,
			targets: []Touched{{Type: "azure.network.flow_log", UID: sub +
				"/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope/flowLogs/fl-nsg-web"}}, ok: true},
		{name: "cloudevents_nsg_write", id: "4c5d6e7f-8a9b-4c0d-9e1f-2a3b4c5d6e7f", typ: "Microsoft.Resources.ResourceWriteSuccess",
			schema: SchemaCloudEvents, op: "Microsoft.Network/networkSecurityGroups/write", actor: evApp,
			targets: []Touched{{Type: "azure.network.nsg", UID: nsg}}, ok: true},
		// listKeys reads (secrets, but no configuration): ignored.
		{name: "storage_listkeys_action", id: "5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f8a", typ: "Microsoft.Resources.ResourceActionSuccess",
			op: "Microsoft.Storage/storageAccounts/listKeys/action", actor: evDana, readOnly: true, ok: true},
		{name: "storage_regeneratekey_action", id: "6e7f8a9b-0c1d-4e2f-9a3b-4c5d6e7f8a9b", typ: "Microsoft.Resources.ResourceActionSuccess",
			op: "Microsoft.Storage/storageAccounts/regenerateKey/action", actor: evDana,
			targets: []Touched{{Type: "azure.storage.account", UID: sa}}, ok: true},
		{name: "write_failure", id: "7f8a9b0c-1d2e-4f3a-8b4c-5d6e7f8a9b0c", typ: "Microsoft.Resources.ResourceWriteFailure",
			op: "Microsoft.Storage/storageAccounts/write", actor: evDana, failed: true, ok: true},
		// Every resource a deployment writes has its own event.
		{name: "deployment_write", id: "8a9b0c1d-2e3f-4a4b-9c5d-6e7f8a9b0c1d", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Resources/deployments/write", actor: evDana, ok: true},
		{name: "webapp_write", id: "9b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.Web/sites/write", actor: evDana, ok: false},
		{name: "other_source_blob_created", id: "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d", typ: "Microsoft.Storage.BlobCreated", ok: false},
		{name: "base64_keyvault_write", id: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", typ: "Microsoft.Resources.ResourceWriteSuccess",
			op: "Microsoft.KeyVault/vaults/write", actor: evDana,
			targets: []Touched{{Type: "azure.keyvault.vault", UID: kv}}, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := evFixture(t, tt.name)
			encodings := map[string][]byte{"as stored": body}
			if !strings.HasPrefix(tt.name, "base64_") {
				encodings["base64"] = []byte(base64.StdEncoding.EncodeToString(body))
			}
			for enc, b := range encodings {
				e, err := ParseEvent(b)
				if err != nil {
					t.Fatalf("%s: ParseEvent: %v", enc, err)
				}
				schema := tt.schema
				if schema == "" {
					schema = SchemaEventGrid
				}
				if e.ID != tt.id || e.Type != tt.typ || e.Schema != schema || e.Operation != tt.op {
					t.Errorf("%s: got id %q type %q schema %q op %q, want %q %q %q %q", enc, e.ID, e.Type, e.Schema, e.Operation, tt.id, tt.typ, schema, tt.op)
				}
				if e.Actor != tt.actor {
					t.Errorf("%s: actor\n got %+v\nwant %+v", enc, e.Actor, tt.actor)
				}
				if e.ReadOnly != tt.readOnly || e.Failed != tt.failed {
					t.Errorf("%s: read-only %v failed %v, want %v %v", enc, e.ReadOnly, e.Failed, tt.readOnly, tt.failed)
				}
				if tt.eventTime != "" {
					want, _ := time.Parse(time.RFC3339Nano, tt.eventTime)
					if !e.Time.Equal(want) {
						t.Errorf("%s: time %v, want %v", enc, e.Time, want)
					}
				}
				if strings.HasPrefix(e.Type, "Microsoft.Resources.") && (e.Subscription != evSub || e.Tenant != evTenant) {
					t.Errorf("%s: subscription %q tenant %q, want %q %q", enc, e.Subscription, e.Tenant, evSub, evTenant)
				}
				ts, ok := Targets(e)
				if ok != tt.ok || !reflect.DeepEqual(ts, tt.targets) {
					t.Errorf("%s: Targets = %+v, %v; want %+v, %v", enc, ts, ok, tt.targets, tt.ok)
				}
			}
		})
	}
}

func TestEventCause(t *testing.T) {
	t.Parallel()
	e, err := ParseEvent(evFixture(t, "nsg_rule_write"))
	if err != nil {
		t.Fatal(err)
	}
	want := vigil.Cause{EventID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", EventSource: "Microsoft.Network",
		EventName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
		EventTime: time.Date(2025, 6, 1, 12, 0, 1, 500_000_000, time.UTC),
		Actor:     vigil.Actor{ARN: "lee.ng@contoso.example", Type: ActorUser, SourceIP: "192.0.2.55"}}
	if got := e.Cause(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Cause\n got %+v\nwant %+v", got, want)
	}
	if e.Method != "PUT" || e.Action != e.Operation || !strings.HasPrefix(e.URL, "https://management.azure.com/subscriptions/") {
		t.Fatalf("request: method %q action %q url %q", e.Method, e.Action, e.URL)
	}
	mi, err := ParseEvent(evFixture(t, "vm_write"))
	if err != nil {
		t.Fatal(err)
	}
	if got := mi.Cause().Actor; got.ARN != evMI.ManagedIdentity || got.Type != ActorManagedIdentity {
		t.Fatalf("managed identity cause actor %+v", got)
	}
}

func TestParseEventMalformed(t *testing.T) {
	t.Parallel()
	ok := `"id":"x1","eventTime":"2025-06-01T12:00:00Z","subject":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a"`
	data := `"data":{"resourceUri":"/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/a","operationName":"Microsoft.Storage/storageAccounts/write"}`
	tests := []struct{ name, body, want string }{
		{"empty", "  ", "message is empty"},
		{"not json nor base64", "hello, world!", "neither JSON nor base64"},
		{"base64 of text", base64.StdEncoding.EncodeToString([]byte("plain text")), "does not encode JSON"},
		{"bad json", `{"eventType":`, "parse event"},
		{"two events", `[{"id":"a"},{"id":"b"}]`, "holds 2 events"},
		{"no type", `{"id":"x"}`, "no eventType"},
		{"empty type", `{"eventType":"",` + ok + `}`, "empty eventType"},
		{"no time", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess","id":"x",` + data + `}`, "no eventTime"},
		{"bad time", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess","id":"x","eventTime":"yesterday",` + data + `}`, `time "yesterday" is not RFC 3339`},
		{"no id", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2025-06-01T12:00:00Z",` + data + `}`, "no id"},
		{"no data", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `}`, "has no data"},
		{"data not object", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `,"data":[1]}`, "data:"},
		{"no resource uri", string(evFixture(t, "malformed_no_resource_uri")), "no data.resourceUri nor subject"},
		{"uri not arm", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `,"data":{"resourceUri":"https://x","operationName":"a/b"}}`, "is not an ARM resource id"},
		{"no operation", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `,"data":{}}`, "no data.operationName"},
		{"claims not object", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `,"data":{"operationName":"a/b","claims":42}}`, "data.claims"},
		{"authorization text not json", `{"eventType":"Microsoft.Resources.ResourceWriteSuccess",` + ok + `,"data":{"operationName":"a/b","authorization":"{oops"}}`, "data.authorization"},
		{"cloud event version", `{"specversion":"0.3","type":"t","source":"s","id":"x","time":"2025-06-01T12:00:00Z"}`, `specversion "0.3" is not 1.0`},
		{"cloud event no source", `{"specversion":"1.0","type":"t","id":"x","time":"2025-06-01T12:00:00Z"}`, "no source"},
		{"cloud event no time", `{"specversion":"1.0","type":"t","source":"s","id":"x"}`, "no time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseEvent([]byte(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseEvent error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTargetsIDs(t *testing.T) {
	t.Parallel()
	ev := func(typ, uri, op string) Event {
		return Event{Type: "Microsoft.Resources.Resource" + typ, ResourceURI: uri, Operation: op}
	}
	tests := []struct {
		name string
		e    Event
		want []Touched
		ok   bool
	}{
		{"container child maps to the container", ev("WriteSuccess", evRG+"/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c/immutabilityPolicies/default", "x/write"),
			[]Touched{{Type: "azure.storage.container", UID: evRG + "/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c"}}, true},
		{"container deleted", ev("DeleteSuccess", evRG+"/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c", "x/delete"),
			[]Touched{{Type: "azure.storage.container", UID: evRG + "/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c", Deleted: true}}, true},
		{"container named providers", ev("WriteSuccess", evRG+"/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/providers", "x/write"),
			[]Touched{{Type: "azure.storage.container", UID: evRG + "/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/providers"}}, true},
		{"all upper case", ev("WriteSuccess", strings.ToUpper("/subscriptions/"+evSub+"/resourcegroups/RG1/providers/microsoft.network/networksecuritygroups/N1/securityrules/R1"), "x/write"),
			[]Touched{{Type: "azure.network.nsg", UID: "/subscriptions/" + evSub + "/resourceGroups/RG1/providers/Microsoft.Network/networkSecurityGroups/N1"}}, true},
		{"role assignment on a resource group", ev("DeleteSuccess", evRG+"/providers/Microsoft.Authorization/roleAssignments/ra1", "x/delete"),
			[]Touched{{Type: "azure.authorization.role_assignment", UID: evRG + "/providers/Microsoft.Authorization/roleAssignments/ra1", Region: "global", Deleted: true}}, true},
		{"role assignment on a vault", ev("WriteSuccess", evRG+"/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.Authorization/roleAssignments/ra2", "x/write"),
			[]Touched{{Type: "azure.authorization.role_assignment", UID: evRG + "/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.Authorization/roleAssignments/ra2", Region: "global"}}, true},
		{"custom role", ev("WriteSuccess", "/subscriptions/"+evSub+"/providers/Microsoft.Authorization/roleDefinitions/rd1", "x/write"),
			[]Touched{{Type: "azure.authorization.role_definition", UID: "/subscriptions/" + evSub + "/providers/Microsoft.Authorization/roleDefinitions/rd1", Region: "global"}}, true},
		{"defender pricing", ev("WriteSuccess", "/subscriptions/"+evSub+"/providers/Microsoft.Security/pricings/VirtualMachines", "x/write"),
			[]Touched{{Type: "azure.subscription", UID: "/subscriptions/" + evSub, Region: "global"}}, true},
		{"activity log alert", ev("WriteSuccess", evRG+"/providers/Microsoft.Insights/activityLogAlerts/alert-policy", "x/write"),
			[]Touched{{Type: "azure.subscription", UID: "/subscriptions/" + evSub, Region: "global"}}, true},
		{"watcher", ev("WriteSuccess", evRG+"/providers/Microsoft.Network/networkWatchers/nw", "x/write"),
			[]Touched{{Type: "azure.network.watcher", UID: evRG + "/providers/Microsoft.Network/networkWatchers/nw"}}, true},
		{"vm extension", ev("WriteSuccess", evRG+"/providers/Microsoft.Compute/virtualMachines/vm/extensions/AzureMonitorLinuxAgent", "x/write"),
			[]Touched{{Type: "azure.compute.vm", UID: evRG + "/providers/Microsoft.Compute/virtualMachines/vm"}}, true},
		{"diagnostic setting on an uncollected resource", ev("WriteSuccess", evRG+"/providers/Microsoft.Web/sites/s/providers/Microsoft.Insights/diagnosticSettings/d", "x/write"), nil, false},
		{"other extension on a collected resource", ev("WriteSuccess", evRG+"/providers/Microsoft.KeyVault/vaults/v/providers/Microsoft.Authorization/locks/l", "x/write"), nil, false},
		{"resource group", ev("DeleteSuccess", evRG, "Microsoft.Resources/subscriptions/resourceGroups/delete"), nil, false},
		{"unknown subscription-level type", ev("WriteSuccess", "/subscriptions/"+evSub+"/providers/Microsoft.Authorization/policyAssignments/p", "x/write"), nil, false},
		{"unknown action", ev("ActionSuccess", evRG+"/providers/Microsoft.Compute/virtualMachines/vm", "Microsoft.Compute/virtualMachines/restart/action"), nil, false},
		{"broken id", ev("WriteSuccess", "/subscriptions/"+evSub+"/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts", "x/write"), nil, false},
		{"not a resources event", Event{Type: "Microsoft.KeyVault.SecretNearExpiry"}, nil, false},
		{"unknown resources event type", ev("Moved", evRG+"/providers/Microsoft.Storage/storageAccounts/a", "x/move"), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Targets(tt.e)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Targets = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "events", "*.json"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"eventType":"Microsoft.Resources.ResourceWriteSuccess"}]`))
	f.Add([]byte(`{"specversion":"1.0","type":"Microsoft.Resources.ResourceDeleteSuccess","source":"/subscriptions/s","id":"i","time":"2025-06-01T12:00:00Z","data":{"resourceUri":"/subscriptions/s/providers/providers/providers","operationName":"a"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := ParseEvent(body)
		if err != nil {
			return
		}
		if e.ID == "" || e.Type == "" || e.Time.IsZero() {
			t.Fatalf("parsed event lacks id, type or time: %+v", e)
		}
		ts, ok := Targets(e)
		if !ok && len(ts) > 0 {
			t.Fatalf("targets %v with ok false", ts)
		}
		for _, x := range ts {
			if x.Type == "" || !strings.HasPrefix(x.UID, "/subscriptions/") {
				t.Fatalf("target %+v has no type or no ARM id", x)
			}
		}
	})
}
