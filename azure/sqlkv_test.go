package azure

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

const (
	sqlProd   = "/subscriptions/" + subProd + "/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-prod"
	sqlLegacy = "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.Sql/servers/sql-legacy"
	kvProd    = "/subscriptions/" + subProd + "/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-prod"
	kvLegacy  = "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.KeyVault/vaults/kv-legacy"
)

// newSQLKVEstate returns the shared estate plus the SQL and Key Vault
// resources of testdata/estate-sql-keyvault.json.
func newSQLKVEstate(t *testing.T) *azuretest.Estate {
	t.Helper()
	e := newEstate(t)
	if err := e.LoadFile(filepath.Join("testdata", "estate-sql-keyvault.json")); err != nil {
		t.Fatal(err)
	}
	return e
}

// ofTypes returns the collected resources of the given types, by UID.
func (s *sink) ofTypes(types ...string) []vigil.Resource {
	var out []vigil.Resource
	for _, r := range s.byUID() {
		for _, typ := range types {
			if r.Type == typ {
				out = append(out, r)
			}
		}
	}
	return out
}

// TestSQLKeyVaultGolden asserts the exact documents of the SQL servers,
// databases and Key Vaults of the seeded subscription.
func TestSQLKeyVaultGolden(t *testing.T) {
	e := newSQLKVEstate(t)
	s := collect(t, newCollector(t, e, Options{}), subProd)
	if len(s.errs) != 0 {
		t.Fatalf("read errors: %v", s.errs)
	}
	type doc struct {
		UID        string            `json:"uid"`
		Type       string            `json:"type"`
		Name       string            `json:"name"`
		Region     string            `json:"region"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties map[string]any    `json:"properties"`
	}
	var docs []doc
	for _, r := range s.ofTypes(TypeSQLServer, TypeSQLDatabase, TypeKeyVault) {
		docs = append(docs, doc{r.UID, r.Type, r.Name, r.Region, r.Tags, r.Properties})
	}
	golden(t, "sql-keyvault.json", docs)
	// 2 servers, 2 databases (master left out), 2 vaults.
	if len(docs) != 6 {
		t.Errorf("collected %d resources, want 6", len(docs))
	}
	b, _ := json.Marshal(docs)
	for _, secret := range []string{"s3cr3t-value", "SECRETSAS"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("a secret (%s) reached the documents", secret)
		}
	}
	listed := strings.Join(s.listedTypes(), ",")
	for _, typ := range []string{TypeSQLServer, TypeSQLDatabase, TypeKeyVault} {
		if !strings.Contains(listed, typ) {
			t.Errorf("%s not listed (listed %s)", typ, listed)
		}
	}
}

// TestSQLKVReadForbidden asserts that a denied per-resource read is a read
// error on exactly that property of exactly that resource.
func TestSQLKVReadForbidden(t *testing.T) {
	tests := []struct {
		name     string
		fault    azuretest.Fault
		uid      string
		typ      string
		region   string
		property string
		op       string
		kept     string
	}{
		{"auditing", azuretest.Fault{API: "ServerBlobAuditingPoliciesClient.Get", Path: "/servers/sql-prod/"},
			sqlProd, TypeSQLServer, "westeurope", "auditing", "Microsoft.Sql/servers/auditingSettings/read", "firewall"},
		{"firewall", azuretest.Fault{API: "FirewallRulesClient.NewListByServerPager", Path: "/servers/sql-legacy/"},
			sqlLegacy, TypeSQLServer, "northeurope", "firewall", "Microsoft.Sql/servers/firewallRules/read", "auditing"},
		{"entra admin", azuretest.Fault{API: "ServerAzureADAdministratorsClient.NewListByServerPager", Path: "/servers/sql-prod/"},
			sqlProd, TypeSQLServer, "westeurope", "entra_admin", "Microsoft.Sql/servers/administrators/read", "tde_protector"},
		{"tde protector", azuretest.Fault{API: "EncryptionProtectorsClient.Get", Path: "/servers/sql-prod/"},
			sqlProd, TypeSQLServer, "westeurope", "tde_protector", "Microsoft.Sql/servers/encryptionProtector/read", "entra_admin"},
		{"database tde", azuretest.Fault{API: "TransparentDataEncryptionsClient.Get", Path: "/databases/archive/"},
			sqlProd + "/databases/archive", TypeSQLDatabase, "westeurope", "tde_state", "Microsoft.Sql/servers/databases/transparentDataEncryption/read", "server_id"},
		{"keys", azuretest.Fault{API: "KeysClient.NewListPager", Path: "/vaults/kv-prod/"},
			kvProd, TypeKeyVault, "westeurope", "keys", "Microsoft.KeyVault/vaults/keys/read", "secrets"},
		{"secrets", azuretest.Fault{API: "SecretsClient.NewListPager", Path: "/vaults/kv-legacy/"},
			kvLegacy, TypeKeyVault, "northeurope", "secrets", "Microsoft.KeyVault/vaults/secrets/read", "keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSQLKVEstate(t)
			tt.fault.Status, tt.fault.Code, tt.fault.Message = 403, "AuthorizationFailed", "The client does not have authorization to perform action."
			e.Inject(tt.fault)
			s := collect(t, newCollector(t, e, Options{}), subProd)
			want := vigil.ReadError{Account: subProd, Region: tt.region, Type: tt.typ, UID: tt.uid, Property: tt.property,
				Operation: tt.op, Code: vigil.EFORBIDDEN, Message: "AuthorizationFailed: The client does not have authorization to perform action."}
			if !reflect.DeepEqual(s.errs, []vigil.ReadError{want}) {
				t.Fatalf("sink read errors = %+v, want %+v", s.errs, want)
			}
			r := s.find(t, tt.uid)
			if !reflect.DeepEqual(r.ReadErrors, []vigil.ReadError{want}) {
				t.Errorf("resource read errors = %+v", r.ReadErrors)
			}
			if _, ok := r.Properties[tt.property]; ok {
				t.Errorf("%s present although it could not be read", tt.property)
			}
			if _, ok := r.Properties[tt.kept]; !ok {
				t.Errorf("%s lost: %v", tt.kept, r.Properties)
			}
		})
	}
}

// TestSQLDatabasesListFailed asserts that a failed database listing is a
// listing failure of azure.sql.database only: servers stay listed and the
// databases are not swept.
func TestSQLDatabasesListFailed(t *testing.T) {
	e := newSQLKVEstate(t)
	e.Inject(azuretest.Fault{API: "DatabasesClient.NewListByServerPager", Path: "/servers/sql-prod/", Status: 403, Code: "AuthorizationFailed"})
	s := collect(t, newCollector(t, e, Options{}), subProd)
	want := []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSQLDatabase, UID: "/subscriptions/" + subProd,
		Operation: "Microsoft.Sql/servers/databases/read", Code: vigil.EFORBIDDEN, Message: "AuthorizationFailed: injected AuthorizationFailed (403)"}}
	if !reflect.DeepEqual(s.errs, want) {
		t.Errorf("read errors = %+v, want %+v", s.errs, want)
	}
	listed := s.listedTypes()
	for _, typ := range listed {
		if typ == TypeSQLDatabase {
			t.Error("failed database listing reported as listed")
		}
	}
	if !strings.Contains(strings.Join(listed, ","), TypeSQLServer) {
		t.Errorf("servers not listed: %v", listed)
	}
	if n := len(s.ofTypes(TypeSQLServer)); n != 2 {
		t.Errorf("collected %d servers, want 2", n)
	}
}

// TestSQLKVListingForbidden asserts that a denied listing of servers or
// vaults is a failed listing naming the operation.
func TestSQLKVListingForbidden(t *testing.T) {
	for _, tt := range []struct{ api, typ, op string }{
		{"ServersClient.NewListPager", TypeSQLServer, "Microsoft.Sql/servers/read"},
		{"VaultsClient.NewListBySubscriptionPager", TypeKeyVault, "Microsoft.KeyVault/vaults/read"},
	} {
		t.Run(tt.typ, func(t *testing.T) {
			e := newSQLKVEstate(t)
			e.Inject(azuretest.Fault{API: tt.api, Status: 403, Code: "AuthorizationFailed"})
			s := collect(t, newCollector(t, e, Options{}), subProd)
			got := map[string]string{}
			for _, re := range s.errs {
				if re.Code != vigil.EFORBIDDEN || re.UID != "/subscriptions/"+subProd || re.Property != "" {
					t.Errorf("read error %+v", re)
				}
				got[re.Type] = re.Operation
			}
			want := map[string]string{tt.typ: tt.op}
			if tt.typ == TypeSQLServer {
				want[TypeSQLDatabase] = tt.op
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("failed listings = %v, want %v", got, want)
			}
			if len(s.ofTypes(tt.typ)) != 0 {
				t.Errorf("%s collected although the listing was denied", tt.typ)
			}
		})
	}
}

// TestGetSQLKeyVault asserts that servers, databases and vaults read again
// by id equal the scan's, and that the master database, a missing vault
// and an uncollected child type are answered as such.
func TestGetSQLKeyVault(t *testing.T) {
	e := newSQLKVEstate(t)
	c := newCollector(t, e, Options{})
	scan := collect(t, c, subProd)
	same := []string{sqlProd, sqlLegacy, sqlProd + "/databases/archive", strings.ToLower(kvProd), kvLegacy}
	ids := append(append([]string(nil), same...),
		sqlProd+"/databases/master",
		"/subscriptions/"+subProd+"/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/gone",
		kvProd+"/keys/cmk-sql",
		sqlProd+"/firewallRules/office",
	)
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, uid := range same {
		want := scan.find(t, uid)
		if !got[i].Found || got[i].Err != nil || got[i].Partial {
			t.Errorf("%s: %+v", uid, got[i])
			continue
		}
		if !reflect.DeepEqual(got[i].Resource, want) || got[i].Resource.ComputeHash() != want.ComputeHash() {
			t.Errorf("%s: get differs from scan:\n got %+v\nwant %+v", uid, got[i].Resource, want)
		}
	}
	if g := got[5]; g.Found || vigil.ErrorCode(g.Err) != vigil.EINVALID {
		t.Errorf("master: %+v, want invalid", g)
	}
	if g := got[6]; g.Found || g.Err != nil {
		t.Errorf("missing vault: found %v err %v, want not found", g.Found, g.Err)
	}
	for _, i := range []int{7, 8} {
		if g := got[i]; g.Found || vigil.ErrorCode(g.Err) != vigil.EINVALID {
			t.Errorf("%s: %+v, want invalid", ids[i], g)
		}
	}
}

// TestSQLKVWriteThenRescan asserts that the writes fixes send (server
// auditing PUT, vault PATCH) change what the next scan sees, and that the
// estate refuses to turn purge protection off as ARM does.
func TestSQLKVWriteThenRescan(t *testing.T) {
	e := newSQLKVEstate(t)
	c := newCollector(t, e, Options{})
	ctx := context.Background()
	sf, err := armsql.NewClientFactory(subProd, c.cred, c.clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	poller, err := sf.NewServerBlobAuditingPoliciesClient().BeginCreateOrUpdate(ctx, "rg-legacy", "sql-legacy", armsql.ServerBlobAuditingPolicy{
		Properties: &armsql.ServerBlobAuditingPolicyProperties{State: sqlkvPtr(armsql.BlobAuditingPolicyStateEnabled),
			IsAzureMonitorTargetEnabled: sqlkvPtr(true), RetentionDays: sqlkvPtr[int32](0)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	kf, err := armkeyvault.NewClientFactory(subProd, c.cred, c.clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kf.NewVaultsClient().Update(ctx, "rg-legacy", "kv-legacy", armkeyvault.VaultPatchParameters{
		Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: sqlkvPtr(true)}}, nil); err != nil {
		t.Fatal(err)
	}
	var writes []string
	for _, r := range e.Requests() {
		writes = append(writes, r.Method+" "+r.API+" "+r.Body)
	}
	wantWrites := []string{
		`PUT ServerBlobAuditingPoliciesClient.BeginCreateOrUpdate {"properties":{"isAzureMonitorTargetEnabled":true,"retentionDays":0,"state":"Enabled"}}`,
		`PATCH VaultsClient.Update {"properties":{"enablePurgeProtection":true}}`,
	}
	if !reflect.DeepEqual(writes, wantWrites) {
		t.Errorf("writes = %q, want %q", writes, wantWrites)
	}
	s := collect(t, c, subProd)
	audit := s.find(t, sqlLegacy).Properties["auditing"].(map[string]any)
	if audit["enabled"] != true || !reflect.DeepEqual(audit["destinations"], []any{"azure_monitor"}) {
		t.Errorf("auditing after PUT: %v", audit)
	}
	kv := s.find(t, kvLegacy).Properties
	if kv["purge_protection_enabled"] != true || kv["enabled_for_deployment"] != true {
		t.Errorf("vault after PATCH: %v", kv)
	}
	_, err = kf.NewVaultsClient().Update(ctx, "rg-legacy", "kv-legacy", armkeyvault.VaultPatchParameters{
		Properties: &armkeyvault.VaultPatchProperties{EnablePurgeProtection: sqlkvPtr(false)}}, nil)
	if classify(err) != vigil.EINVALID {
		t.Errorf("turning purge protection off: err = %v, want a 400", err)
	}
}

func sqlkvPtr[T any](v T) *T { return &v }
