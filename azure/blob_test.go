package azure

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	blobctr "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	blobsvc "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/internal/testenv"
	vpolicy "github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/sqlite"
)

const (
	blobAcct = "/subscriptions/" + subProd + "/resourceGroups/rg-blob/providers/Microsoft.Storage/storageAccounts/contosoblob"
	ctrList  = blobAcct + "/blobServices/default/containers/public-list"
	ctrRead  = blobAcct + "/blobServices/default/containers/public-read"
	ctrPriv  = blobAcct + "/blobServices/default/containers/private"
)

// blobEstate is the ARM side of the blob tests: one subscription and one
// StorageV2 account whose blob endpoint is blobURL (Azurite). ARM's blob
// service says soft delete is on for 30 days, which Azurite does not: a
// scan on the data plane must report Azurite's value.
const blobEstate = `{
  "subscriptions": [{"id": "/subscriptions/` + subProd + `", "subscriptionId": "` + subProd + `",
    "tenantId": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "displayName": "Contoso Production", "state": "Enabled"}],
  "storageAccounts": [{"id": "` + blobAcct + `", "name": "contosoblob", "type": "Microsoft.Storage/storageAccounts",
    "location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"},
    "properties": {"allowBlobPublicAccess": true, "supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2",
      "primaryEndpoints": {"blob": "%s/"}}}],
  "blobServices": [{"id": "` + blobAcct + `/blobServices/default", "name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices",
    "properties": {"deleteRetentionPolicy": {"enabled": true, "days": 30}, "containerDeleteRetentionPolicy": {"enabled": true, "days": 7},
      "isVersioningEnabled": true}}]
}`

// blobEnv is one Azurite holding the containers of contosoblob, and the
// estate that points at it.
type blobEnv struct {
	az     *testenv.Azurite
	checks *vpolicy.Set
	svc    *blobsvc.Client
	e      *azuretest.Estate
	// modified are the containers' Last-Modified times as Azurite keeps them.
	modified map[string]time.Time
	// policyStart and policyExpiry bound the stored access policy of
	// public-list.
	policyStart, policyExpiry time.Time
}

// newBlobEnv empties the shared Azurite (containers deleted, soft delete
// off) and creates three containers: public-list (public access
// "container", with a stored access policy), public-read ("blob") and
// private (none).
func newBlobEnv(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) *blobEnv {
	t.Helper()
	ctx := context.Background()
	env := &blobEnv{az: az, checks: checks, modified: map[string]time.Time{},
		policyStart:  time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		policyExpiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cred, err := blobsvc.NewSharedKeyCredential(testenv.AzuriteAccount, testenv.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	if env.svc, err = blobsvc.NewClientWithSharedKeyCredential(env.az.BlobURL+"/", cred, nil); err != nil {
		t.Fatal(err)
	}
	for pager := env.svc.NewListContainersPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.ContainerItems {
			if _, err := env.svc.DeleteContainer(ctx, *c.Name, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := env.svc.SetProperties(ctx, &blobsvc.SetPropertiesOptions{DeleteRetentionPolicy: &blobsvc.RetentionPolicy{Enabled: to.Ptr(false)}}); err != nil {
		t.Fatal(err)
	}
	for name, access := range map[string]*blobctr.PublicAccessType{
		"public-list": to.Ptr(blobctr.PublicAccessTypeContainer),
		"public-read": to.Ptr(blobctr.PublicAccessTypeBlob),
		"private":     nil,
	} {
		if _, err := env.svc.CreateContainer(ctx, name, &blobctr.CreateOptions{Access: access}); err != nil {
			t.Fatalf("create container %s: %v", name, err)
		}
	}
	_, err = env.svc.NewContainerClient("public-list").SetAccessPolicy(ctx, &blobctr.SetAccessPolicyOptions{
		Access: to.Ptr(blobctr.PublicAccessTypeContainer),
		ContainerACL: []*blobctr.SignedIdentifier{{ID: to.Ptr("read-only"),
			AccessPolicy: &blobctr.AccessPolicy{Start: &env.policyStart, Expiry: &env.policyExpiry, Permission: to.Ptr("r")}}},
	})
	if err != nil {
		t.Fatalf("set access policy: %v", err)
	}
	for _, name := range []string{"public-list", "public-read", "private"} {
		p, err := env.svc.NewContainerClient(name).GetProperties(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		env.modified[name] = p.LastModified.UTC()
	}
	env.e = azuretest.New()
	if err := env.e.Load(strings.NewReader(fmt.Sprintf(blobEstate, env.az.BlobURL))); err != nil {
		t.Fatal(err)
	}
	return env
}

// collector returns a scanning collector over the estate; plane nil
// scans through ARM alone.
func (env *blobEnv) collector(t *testing.T, plane *BlobPlane, maxRetries int) *Collector {
	t.Helper()
	c, err := New(Options{Transport: env.e.Transport(), Credential: tokenCred{"scan-token"}, BlobDataPlane: plane,
		MaxRetries: maxRetries, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// azuriteKey is the data plane of Azurite: the account's own endpoint
// (primaryEndpoints.blob) and the well-known key.
func azuriteKey() *BlobPlane {
	return &BlobPlane{SharedKey: &SharedKey{Account: testenv.AzuriteAccount, Key: testenv.AzuriteKey}}
}

// containers returns the collected containers by UID.
func containers(s *sink) []vigil.Resource {
	var out []vigil.Resource
	for _, r := range s.byUID() {
		if r.Type == TypeStorageContainer {
			out = append(out, r)
		}
	}
	return out
}

func (env *blobEnv) check(t *testing.T, id string) *vpolicy.Check {
	t.Helper()
	c, ok := env.checks.Get(id)
	if !ok {
		t.Fatalf("no check %s", id)
	}
	return c
}

func verdict(c *vpolicy.Check, r vigil.Resource) vigil.Status {
	return c.Evaluate(vpolicy.NewInput(&r, fixedNow)).Status
}

// TestBlobDataPlane runs the data-plane tests on one Azurite, emptied
// between them.
func TestBlobDataPlane(t *testing.T) {
	az := testenv.StartAzurite(t)
	checks, err := vpolicy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		test func(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set)
	}{
		{"scan", testBlobScan},
		{"fix container private", testBlobFixContainerPrivate},
		{"fix conflict", testBlobFixConflict},
		{"fix soft delete", testBlobFixSoftDelete},
		{"read errors", testBlobReadErrors},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, az, checks) })
	}
}

// testBlobScan: on the data plane the containers and their public
// access levels come from Azurite, exactly as the ARM path would give them
// (same UIDs, same properties), and delete retention is Azurite's.
func testBlobScan(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) {
	env := newBlobEnv(t, az, checks)
	s := collect(t, env.collector(t, azuriteKey(), 0), subProd)
	if len(s.errs) != 0 {
		t.Fatalf("read errors: %+v", s.errs)
	}
	want := func(uid, name, access string) vigil.Resource {
		return vigil.Resource{UID: uid, Provider: vigil.Azure, Account: subProd, Region: "westeurope", Type: TypeStorageContainer,
			Name: name, CollectedAt: fixedNow, Properties: map[string]any{
				"resource_group": "rg-blob", "account_id": blobAcct, "account_name": "contosoblob", "public_access": access,
				"has_immutability_policy": false, "has_legal_hold": false, "deleted": false,
				"last_modified": env.modified[name].Format(time.RFC3339)}}
	}
	wantCtrs := []vigil.Resource{want(ctrPriv, "private", "None"), want(ctrList, "public-list", "Container"), want(ctrRead, "public-read", "Blob")}
	got := containers(s)
	if !reflect.DeepEqual(got, wantCtrs) {
		t.Errorf("containers\n got %+v\nwant %+v", got, wantCtrs)
	}
	if l := strings.Join(s.listedTypes(), " "); !strings.Contains(l, TypeStorageAccount+" "+TypeStorageContainer+" ") {
		t.Errorf("storage types not listed: %v", l)
	}

	// The ARM path, given the same containers, produces identical resources.
	for _, r := range wantCtrs {
		env.e.PutContainer(armstorage.BlobContainer{ID: to.Ptr(r.UID), Name: to.Ptr(r.Name),
			Type: to.Ptr("Microsoft.Storage/storageAccounts/blobServices/containers"),
			ContainerProperties: &armstorage.ContainerProperties{
				PublicAccess:     to.Ptr(armstorage.PublicAccess(r.Properties["public_access"].(string))),
				LastModifiedTime: to.Ptr(env.modified[r.Name])}})
	}
	arm := collect(t, env.collector(t, nil, 0), subProd)
	if got := containers(arm); !reflect.DeepEqual(got, wantCtrs) {
		t.Errorf("the ARM path gives other containers\n got %+v\nwant %+v", got, wantCtrs)
	}

	private := env.check(t, "azure-storage-container-private")
	for _, tc := range []struct {
		uid  string
		want vigil.Status
	}{{ctrList, vigil.StatusFail}, {ctrRead, vigil.StatusFail}, {ctrPriv, vigil.StatusPass}} {
		if got := verdict(private, s.find(t, tc.uid)); got != tc.want {
			t.Errorf("%s: container-private %s, want %s", tc.uid, got, tc.want)
		}
	}

	// Soft delete: Azurite has it off, whatever ARM's copy says; the
	// settings the Blob service does not serve keep ARM's values.
	acct := s.find(t, blobAcct)
	bs, _ := acct.Properties["blob_service"].(map[string]any)
	wantBS := map[string]any{
		"delete_retention":           map[string]any{"enabled": false, "days": 0},
		"container_delete_retention": map[string]any{"enabled": true, "days": 7},
		"versioning_enabled":         true, "change_feed_enabled": false, "change_feed_retention_days": nil, "restore_policy_enabled": false,
	}
	if !reflect.DeepEqual(bs, wantBS) {
		t.Errorf("blob_service\n got %v\nwant %v", bs, wantBS)
	}
	if got := verdict(env.check(t, "azure-storage-account-blob-soft-delete"), acct); got != vigil.StatusFail {
		t.Errorf("blob soft delete %s, want fail", got)
	}
	if got := verdict(env.check(t, "azure-storage-account-container-soft-delete"), acct); got != vigil.StatusPass {
		t.Errorf("container soft delete %s, want pass (ARM's value)", got)
	}

	// The endpoint template reaches the same containers.
	tpl := azuriteKey()
	tpl.Endpoint = env.az.BlobURL
	if got := containers(collect(t, env.collector(t, tpl, 0), subProd)); !reflect.DeepEqual(got, wantCtrs) {
		t.Errorf("with the endpoint template\n got %+v\nwant %+v", got, wantCtrs)
	}

	// An account left out of Accounts is read through ARM: ARM's soft
	// delete, ARM's containers.
	other := azuriteKey()
	other.Accounts = []string{"someotheraccount"}
	viaARM := collect(t, env.collector(t, other, 0), subProd)
	if dr := viaARM.find(t, blobAcct).Properties["blob_service"].(map[string]any)["delete_retention"]; !reflect.DeepEqual(dr, map[string]any{"enabled": true, "days": 30}) {
		t.Errorf("delete retention of an account left to ARM: %v", dr)
	}
	if got := containers(viaARM); !reflect.DeepEqual(got, wantCtrs) {
		t.Errorf("containers of an account left to ARM\n got %+v\nwant %+v", got, wantCtrs)
	}
	named := azuriteKey()
	named.Accounts = []string{"ContosoBlob"}
	if dr := collect(t, env.collector(t, named, 0), subProd).find(t, blobAcct).Properties["blob_service"].(map[string]any)["delete_retention"]; !reflect.DeepEqual(dr, map[string]any{"enabled": false, "days": 0}) {
		t.Errorf("delete retention of an account named in Accounts: %v", dr)
	}

	// Get re-reads a container on the data plane, identical to the scan.
	gots, err := env.collector(t, azuriteKey(), 0).Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd},
		[]string{ctrRead, blobAcct + "/blobServices/default/containers/nope"})
	if err != nil {
		t.Fatal(err)
	}
	if !gots[0].Found || !reflect.DeepEqual(gots[0].Resource, wantCtrs[2]) {
		t.Errorf("get %s: %+v", ctrRead, gots[0])
	}
	if gots[1].Found || gots[1].Err != nil {
		t.Errorf("get of a missing container: found %v, err %v", gots[1].Found, gots[1].Err)
	}
}

// blobFixEnv is a fix.Runner as `vigil fix` wires it, over a data-plane
// scan of the estate.
type blobFixEnv struct {
	*blobEnv
	scan   *Collector
	runner *fix.Runner
}

func newBlobFix(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) *blobFixEnv {
	t.Helper()
	ctx := context.Background()
	env := newBlobEnv(t, az, checks)
	scan := env.collector(t, azuriteKey(), 0)
	s := collect(t, scan, subProd)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	sc := vigil.Scan{ID: "s-blob", StartedAt: fixedNow, Status: "running", Accounts: []string{subProd}}
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
	return &blobFixEnv{blobEnv: env, scan: scan,
		runner: &fix.Runner{Store: st, Actions: reg, Checks: checks, Refresh: fixer, Now: func() time.Time { return fixedNow }}}
}

// run plans and applies a fix, which must be verified; ARM receives no
// write.
func (h *blobFixEnv) run(t *testing.T, check, uid string, params map[string]any) (*fix.Plan, vigil.Fix) {
	t.Helper()
	ctx := context.Background()
	j, err := h.runner.Prepare(ctx, check, uid, params)
	if err != nil {
		t.Fatal(err)
	}
	f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if p.NoOp {
		t.Fatalf("plan is a no-op: %v", p.Steps)
	}
	out, err := h.runner.Apply(ctx, j, f, p)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if out.Status != vigil.FixVerified {
		t.Fatalf("fix: %s: %s (calls %+v)", out.Status, out.Reason, out.Calls)
	}
	if len(h.e.Requests()) != 0 {
		t.Errorf("ARM received writes: %+v", h.e.Requests())
	}
	return p, out
}

func (h *blobFixEnv) undo(t *testing.T, id string) vigil.Fix {
	t.Helper()
	out, err := h.runner.Undo(context.Background(), id, "user:test")
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	if out.Status != vigil.FixUndone {
		t.Fatalf("undo: %s: %s", out.Status, out.Reason)
	}
	return out
}

// acl reads a container's ACL back from Azurite.
func (h *blobFixEnv) acl(t *testing.T, name string) blobctr.GetAccessPolicyResponse {
	t.Helper()
	r, err := h.svc.NewContainerClient(name).GetAccessPolicy(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testBlobFixContainerPrivate: the fix sets the container private
// on Azurite with Set Container ACL, keeping its stored access policy; a
// rescan passes; undo makes it public again.
func testBlobFixContainerPrivate(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) {
	h := newBlobFix(t, az, checks)
	ctx := context.Background()
	p, done := h.run(t, "azure-storage-container-private", ctrList, nil)
	policy := []any{map[string]any{"id": "read-only", "accessPolicy": map[string]any{
		"permission": "r", "start": "2025-01-01T00:00:00Z", "expiry": "2030-01-01T00:00:00Z"}}}
	wantCall := []vigil.FixCall{{Operation: opContainersSetACL, Input: map[string]any{"method": "PUT",
		"url":  h.az.BlobURL + "/public-list?restype=container&comp=acl",
		"body": map[string]any{"publicAccess": "None", "signedIdentifiers": policy}}}}
	if got := asJSON(t, p.Calls); !reflect.DeepEqual(got, asJSON(t, wantCall)) {
		t.Errorf("planned calls\n got %v\nwant %v", got, asJSON(t, wantCall))
	}
	if got := asJSON(t, done.Calls); !reflect.DeepEqual(got, asJSON(t, wantCall)) {
		t.Errorf("recorded calls\n got %v\nwant %v", got, asJSON(t, wantCall))
	}
	if !strings.Contains(p.Steps[0], "keeping its 1 stored access policies") {
		t.Errorf("steps %q", p.Steps)
	}
	props, err := h.svc.NewContainerClient("public-list").GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if props.BlobPublicAccess != nil {
		t.Errorf("Azurite reports public access %q after the fix", *props.BlobPublicAccess)
	}
	keptPolicy := func() {
		t.Helper()
		a := h.acl(t, "public-list")
		if len(a.SignedIdentifiers) != 1 || deref(a.SignedIdentifiers[0].ID) != "read-only" ||
			deref(a.SignedIdentifiers[0].AccessPolicy.Permission) != "r" ||
			!a.SignedIdentifiers[0].AccessPolicy.Expiry.Equal(h.policyExpiry) {
			t.Errorf("stored access policies not kept: %+v", asJSON(t, a.SignedIdentifiers))
		}
	}
	keptPolicy()
	s := collect(t, h.scan, subProd)
	private := h.check(t, "azure-storage-container-private")
	if got := verdict(private, s.find(t, ctrList)); got != vigil.StatusPass {
		t.Errorf("rescan: %s, want pass", got)
	}
	if got := verdict(private, s.find(t, ctrRead)); got != vigil.StatusFail {
		t.Errorf("rescan of the container not fixed: %s, want fail", got)
	}

	u := h.undo(t, done.ID)
	wantUndo := []vigil.FixCall{{Operation: opContainersSetACL, Input: map[string]any{"method": "PUT",
		"url":  h.az.BlobURL + "/public-list?restype=container&comp=acl",
		"body": map[string]any{"publicAccess": "Container", "signedIdentifiers": policy}}}}
	if got := asJSON(t, u.Calls); !reflect.DeepEqual(got, asJSON(t, wantUndo)) {
		t.Errorf("undo calls\n got %v\nwant %v", got, asJSON(t, wantUndo))
	}
	if a := h.acl(t, "public-list"); deref(a.BlobPublicAccess) != blobctr.PublicAccessTypeContainer {
		t.Errorf("after undo Azurite reports public access %v, want container", a.BlobPublicAccess)
	}
	keptPolicy()
	if got := verdict(private, collect(t, h.scan, subProd).find(t, ctrList)); got != vigil.StatusFail {
		t.Errorf("rescan after undo: %s, want fail", got)
	}
}

// testBlobFixConflict: stored access policies changed between the
// plan and the apply stop the fix, changing nothing.
func testBlobFixConflict(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) {
	h := newBlobFix(t, az, checks)
	ctx := context.Background()
	j, err := h.runner.Prepare(ctx, "azure-storage-container-private", ctrList, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.NewContainerClient("public-list").SetAccessPolicy(ctx, &blobctr.SetAccessPolicyOptions{
		Access: to.Ptr(blobctr.PublicAccessTypeContainer),
		ContainerACL: []*blobctr.SignedIdentifier{{ID: to.Ptr("write-too"),
			AccessPolicy: &blobctr.AccessPolicy{Expiry: &h.policyExpiry, Permission: to.Ptr("rw")}}},
	}); err != nil {
		t.Fatal(err)
	}
	out, err := h.runner.Apply(ctx, j, f, p)
	if err == nil && out.Status == vigil.FixVerified {
		t.Fatalf("fix applied over a changed ACL: %+v", out)
	}
	if !strings.Contains(out.Reason+fmt.Sprint(err), "changed since the plan") {
		t.Errorf("fix %s: %s (%v)", out.Status, out.Reason, err)
	}
	a := h.acl(t, "public-list")
	if deref(a.BlobPublicAccess) != blobctr.PublicAccessTypeContainer || len(a.SignedIdentifiers) != 1 || deref(a.SignedIdentifiers[0].ID) != "write-too" {
		t.Errorf("the container changed: %v", asJSON(t, a))
	}
}

// testBlobFixSoftDelete: the fix turns delete retention on in
// Azurite with Set Blob Service Properties; undo turns it off again.
func testBlobFixSoftDelete(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) {
	h := newBlobFix(t, az, checks)
	ctx := context.Background()
	p, done := h.run(t, "azure-storage-account-blob-soft-delete", blobAcct, nil)
	wantCall := []vigil.FixCall{{Operation: opBlobServicesWrite, Input: map[string]any{"method": "PUT",
		"url":  h.az.BlobURL + "/?restype=service&comp=properties",
		"body": map[string]any{"deleteRetentionPolicy": map[string]any{"enabled": true, "days": 7}}}}}
	if got := asJSON(t, p.Calls); !reflect.DeepEqual(got, asJSON(t, wantCall)) {
		t.Errorf("planned calls\n got %v\nwant %v", got, asJSON(t, wantCall))
	}
	if got := asJSON(t, done.Calls); !reflect.DeepEqual(got, asJSON(t, wantCall)) {
		t.Errorf("recorded calls\n got %v\nwant %v", got, asJSON(t, wantCall))
	}
	if got := asJSON(t, p.Before); !reflect.DeepEqual(got, asJSON(t, map[string]any{"deleteRetentionPolicy": map[string]any{"enabled": false}})) {
		t.Errorf("before %v", got)
	}
	props, err := h.svc.GetProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rp := props.DeleteRetentionPolicy; rp == nil || !deref(rp.Enabled) || deref(rp.Days) != 7 {
		t.Errorf("Azurite's delete retention after the fix: %v", asJSON(t, rp))
	}
	h.undo(t, done.ID)
	if props, err = h.svc.GetProperties(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if rp := props.DeleteRetentionPolicy; rp == nil || deref(rp.Enabled) {
		t.Errorf("Azurite's delete retention after undo: %v", asJSON(t, rp))
	}
	if got := verdict(h.check(t, "azure-storage-account-blob-soft-delete"), collect(t, h.scan, subProd).find(t, blobAcct)); got != vigil.StatusFail {
		t.Errorf("rescan after undo: %s, want fail", got)
	}
}

// TestBlobDataPlaneFixPermissions: with the data plane on, the two actions
// declare the data-plane RBAC actions instead of the ARM writes.
func TestBlobDataPlaneFixPermissions(t *testing.T) {
	for _, tc := range []struct {
		plane      *BlobPlane
		ctr, blobs []string
	}{
		{nil, []string{opSubscriptionRead, opContainersRead, opContainersWrite},
			[]string{opSubscriptionRead, opBlobServicesRead, opBlobServicesWrite}},
		{azuriteKey(), []string{opSubscriptionRead, opStorageAccountsRead, opContainersGetACL, opContainersSetACL},
			[]string{opSubscriptionRead, opStorageAccountsRead, opBlobServicesRead, opBlobServicesWrite}},
		// Some accounts on each plane: both sets.
		{&BlobPlane{Accounts: []string{"contosoblob"}},
			[]string{opSubscriptionRead, opContainersRead, opContainersWrite, opStorageAccountsRead, opContainersGetACL, opContainersSetACL},
			[]string{opSubscriptionRead, opBlobServicesRead, opBlobServicesWrite, opStorageAccountsRead}},
	} {
		c, err := New(Options{Credential: tokenCred{"x"}, BlobDataPlane: tc.plane})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := fix.NewRegistry(NewFixer(c, tokenCred{"y"}, nil).Actions()...)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string][]string{"azure.storage.container-private": tc.ctr, "azure.storage.blob-soft-delete": tc.blobs} {
			a, _ := reg.Get(id)
			if got := a.Permissions(); !reflect.DeepEqual(got, want) {
				t.Errorf("data plane %v: %s permissions %v, want %v", tc.plane != nil, id, got, want)
			}
		}
	}
}

// testBlobReadErrors: a Blob service that refuses or cannot be
// reached is a read error of the blob service properties and of the
// container listing, never a missing value: the checks say error.
func testBlobReadErrors(t *testing.T, az *testenv.Azurite, checks *vpolicy.Set) {
	env := newBlobEnv(t, az, checks)
	wrongKey := base64.StdEncoding.EncodeToString([]byte("not the key of devstoreaccount1"))
	cases := []struct {
		name    string
		plane   *BlobPlane
		code    string
		message string
	}{
		{"403 bad key", &BlobPlane{SharedKey: &SharedKey{Account: testenv.AzuriteAccount, Key: wrongKey}}, vigil.EFORBIDDEN,
			"blob service " + env.az.BlobURL + ": AuthorizationFailure (HTTP 403)"},
		{"unreachable", &BlobPlane{Endpoint: "http://127.0.0.1:1/devstoreaccount1", SharedKey: azuriteKey().SharedKey}, vigil.EUNAVAILABLE,
			"blob service http://127.0.0.1:1/devstoreaccount1: cannot connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := collect(t, env.collector(t, tc.plane, 1), subProd)
			acct := s.find(t, blobAcct)
			if _, ok := acct.Properties["blob_service"]; ok {
				t.Errorf("blob_service present: %v", acct.Properties["blob_service"])
			}
			e, ok := acct.ReadErrorFor("blob_service")
			if !ok || e.Code != tc.code || e.Operation != opBlobServicesRead || !strings.HasPrefix(e.Message, tc.message) {
				t.Errorf("blob_service read error %+v (want code %s, message %q…)", e, tc.code, tc.message)
			}
			if got := verdict(env.check(t, "azure-storage-account-blob-soft-delete"), acct); got != vigil.StatusError {
				t.Errorf("blob soft delete %s, want error", got)
			}
			if n := len(containers(s)); n != 0 {
				t.Errorf("%d containers collected", n)
			}
			var listing []vigil.ReadError
			for _, e := range s.errs {
				if e.Type == TypeStorageContainer {
					listing = append(listing, e)
				}
			}
			if len(listing) != 1 || listing[0].UID != "/subscriptions/"+subProd || listing[0].Operation != opContainersRead ||
				listing[0].Code != tc.code || !strings.HasPrefix(listing[0].Message, tc.message) {
				t.Errorf("container listing errors %+v", listing)
			}
			for _, typ := range s.listedTypes() {
				if typ == TypeStorageContainer {
					t.Error("containers reported as listed: a sweep would delete them")
				}
			}
		})
	}

	// A plain-http endpoint on another host never gets a token.
	t.Run("plain http to a remote host", func(t *testing.T) {
		acct, _ := env.e.StorageAccount(blobAcct)
		acct.Properties.PrimaryEndpoints.Blob = to.Ptr("http://contosoblob.blob.example.com/")
		env.e.PutStorageAccount(acct)
		s := collect(t, env.collector(t, &BlobPlane{}, 1), subProd)
		r := s.find(t, blobAcct)
		e, ok := r.ReadErrorFor("blob_service")
		if !ok || e.Code != vigil.EINVALID || !strings.Contains(e.Message, "allowed only to a loopback host") {
			t.Errorf("read error %+v", e)
		}
	})
}

// TestBlobPlaneOptions: bad data-plane options are EINVALID from New.
func TestBlobPlaneOptions(t *testing.T) {
	cases := []struct {
		name  string
		plane BlobPlane
		want  string
	}{
		{"http to a remote host", BlobPlane{Endpoint: "http://{account}.blob.example.com"}, "allowed only to a loopback host"},
		{"sas token", BlobPlane{Endpoint: "https://{account}.blob.core.windows.net/?sv=2022&sig=secret"}, "no query allowed"},
		{"not a url", BlobPlane{Endpoint: "::"}, "not a URL"},
		{"ftp", BlobPlane{Endpoint: "ftp://x.example.com"}, "scheme must be https"},
		{"deep path", BlobPlane{Endpoint: "http://127.0.0.1:10000/a/b"}, "path must be empty or the account name"},
		{"key without account", BlobPlane{SharedKey: &SharedKey{Key: testenv.AzuriteKey}}, "needs an account name and a key"},
		{"key not base64", BlobPlane{SharedKey: &SharedKey{Account: "a", Key: "%%%"}}, "not base64"},
	}
	for _, tc := range cases {
		_, err := New(Options{Credential: tokenCred{"x"}, BlobDataPlane: &tc.plane})
		if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: %v, want EINVALID %q", tc.name, err, tc.want)
		}
		if strings.Contains(fmt.Sprint(err), "secret") {
			t.Errorf("%s: the error quotes the SAS token: %v", tc.name, err)
		}
	}
	for _, ok := range []BlobPlane{{}, {Endpoint: "https://{account}.blob.core.windows.net"}, {Endpoint: "http://localhost:10000/devstoreaccount1"}} {
		if _, err := New(Options{Credential: tokenCred{"x"}, BlobDataPlane: &ok}); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}
