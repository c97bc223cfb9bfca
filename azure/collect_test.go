package azure

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

// TestCollectGolden asserts the exact documents of every type in the
// seeded subscription.
func TestCollectGolden(t *testing.T) {
	e := newEstate(t)
	s := collect(t, newCollector(t, e, Options{Services: coreServices}), subProd)
	if len(s.errs) != 0 {
		t.Fatalf("read errors: %v", s.errs)
	}
	type doc struct {
		UID        string            `json:"uid"`
		Type       string            `json:"type"`
		Name       string            `json:"name"`
		Region     string            `json:"region"`
		Account    string            `json:"account"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties map[string]any    `json:"properties"`
	}
	var docs []doc
	for _, r := range s.byUID() {
		if r.Provider != vigil.Azure || !r.CollectedAt.Equal(fixedNow) {
			t.Errorf("%s: provider %q collected at %v", r.UID, r.Provider, r.CollectedAt)
		}
		docs = append(docs, doc{r.UID, r.Type, r.Name, r.Region, r.Account, r.Tags, r.Properties})
	}
	golden(t, "subscription-prod.json", docs)
	// A scan of some services only never lists the subscription's
	// settings (other services contribute to them).
	want := []string{TypeFlowLog, TypeNSG, TypeNetworkWatcher, TypeStorageAccount, TypeStorageContainer}
	if got := s.listedTypes(); !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	// 3 accounts, 3 containers, 2 NSGs, 1 subscription.
	if len(docs) != 9 {
		t.Errorf("collected %d resources, want 9", len(docs))
	}
}

// TestPaging asserts that a listing of three pages streams every item.
func TestPaging(t *testing.T) {
	e := newEstate(t)
	e.PageSize = 1
	s := collect(t, newCollector(t, e, Options{}), subProd)
	if got := e.Calls("AccountsClient.NewListPager"); got != 3 {
		t.Errorf("account list requests = %d, want 3 (one per page)", got)
	}
	n := 0
	for _, r := range s.resources {
		if r.Type == TypeStorageAccount {
			n++
		}
	}
	if n != 3 {
		t.Errorf("collected %d storage accounts over 3 pages, want 3", n)
	}
	if len(s.errs) != 0 {
		t.Errorf("read errors: %v", s.errs)
	}
}

// TestBlobServiceForbidden asserts that a denied read of blob service
// properties is a read error on exactly that property.
func TestBlobServiceForbidden(t *testing.T) {
	e := newEstate(t)
	e.Inject(azuretest.Fault{API: "BlobServicesClient.GetServiceProperties", Path: "/storageAccounts/contosodata/",
		Status: 403, Code: "AuthorizationFailed", Message: "The client does not have authorization to perform action."})
	s := collect(t, newCollector(t, e, Options{}), subProd)
	r := s.find(t, rgData)
	want := vigil.ReadError{Account: subProd, Region: "westeurope", Type: TypeStorageAccount, UID: rgData,
		Property: "blob_service", Operation: "Microsoft.Storage/storageAccounts/blobServices/read", Code: vigil.EFORBIDDEN,
		Message: "AuthorizationFailed: The client does not have authorization to perform action."}
	if !reflect.DeepEqual(r.ReadErrors, []vigil.ReadError{want}) {
		t.Errorf("read errors = %+v, want %+v", r.ReadErrors, want)
	}
	if _, ok := r.Properties["blob_service"]; ok {
		t.Error("blob_service present although it could not be read")
	}
	if r.Properties["minimum_tls_version"] != "TLS1_2" {
		t.Errorf("other properties lost: %v", r.Properties)
	}
	if !reflect.DeepEqual(s.errs, []vigil.ReadError{want}) {
		t.Errorf("sink read errors = %+v", s.errs)
	}
	legacy := s.find(t, "/subscriptions/"+subProd+"/resourceGroups/rg-legacy/providers/Microsoft.Storage/storageAccounts/contosolegacy")
	if len(legacy.ReadErrors) != 0 || legacy.Properties["blob_service"] == nil {
		t.Errorf("other account affected: %+v", legacy.ReadErrors)
	}
}

// TestThrottledThenSuccess asserts that a 429 with Retry-After is retried
// after the wait and every attempt is counted.
// coreServices are the services of the wave-1 estate (estate.json): the
// tests that count calls and read errors scan only them, so that adding a
// service does not change their figures.
var coreServices = []string{"network", "storage"}

func TestThrottledThenSuccess(t *testing.T) {
	e := newEstate(t)
	e.Inject(azuretest.Fault{API: "AccountsClient.NewListPager", Status: 429, Code: "TooManyRequests", RetryAfter: "1", Times: 1})
	c := newCollector(t, e, Options{Services: coreServices})
	start := time.Now()
	s := collect(t, c, subProd)
	if took := time.Since(start); took < time.Second {
		t.Errorf("collection took %v; Retry-After: 1 was not honoured", took)
	}
	if got := e.Calls("AccountsClient.NewListPager"); got != 2 {
		t.Errorf("account list attempts = %d, want 2", got)
	}
	if len(s.errs) != 0 {
		t.Errorf("read errors after a successful retry: %v", s.errs)
	}
	s.find(t, rgData)
	// subscription get, account list ×2, 2 blob services, 2 container
	// lists, NSG list, network watcher list, virtual network list.
	if got := c.APICalls(); got != 10 {
		t.Errorf("APICalls = %d, want 10", got)
	}
}

// TestThrottledOut asserts that a listing throttled past the retry budget
// is a failed listing with code throttled.
func TestThrottledOut(t *testing.T) {
	e := newEstate(t)
	e.Inject(azuretest.Fault{API: "SecurityGroupsClient.NewListAllPager", Status: 429, Code: "TooManyRequests", RetryAfterMS: "5"})
	c := newCollector(t, e, Options{MaxRetries: 2})
	s := collect(t, c, subProd)
	if got := e.Calls("SecurityGroupsClient.NewListAllPager"); got != 3 {
		t.Errorf("NSG list attempts = %d, want 3 (1 + 2 retries)", got)
	}
	want := []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeNSG, UID: "/subscriptions/" + subProd,
		Operation: "Microsoft.Network/networkSecurityGroups/read", Code: vigil.ETHROTTLED, Message: "TooManyRequests: injected TooManyRequests (429)"}}
	if !reflect.DeepEqual(s.errs, want) {
		t.Errorf("read errors = %+v, want %+v", s.errs, want)
	}
	for _, typ := range s.listedTypes() {
		if typ == TypeNSG {
			t.Error("failed NSG listing reported as listed")
		}
	}
}

// TestSubscriptionCannotBeListed asserts that a subscription the
// credential may not read yields a failed listing for each of its types.
func TestSubscriptionCannotBeListed(t *testing.T) {
	e := newEstate(t)
	e.Inject(azuretest.Fault{Path: "/subscriptions/" + subSandbox, Status: 403, Code: "AuthorizationFailed"})
	s := collect(t, newCollector(t, e, Options{Services: coreServices}), subSandbox)
	got := map[string]vigil.ReadError{}
	for _, e := range s.errs {
		got[e.Type+"|"+e.Property] = e
	}
	wantOps := map[string]string{
		TypeSubscription + "|subscription":            "Microsoft.Resources/subscriptions/read",
		TypeStorageAccount + "|":                      "Microsoft.Storage/storageAccounts/read",
		TypeStorageContainer + "|":                    "Microsoft.Storage/storageAccounts/read",
		TypeNSG + "|":                                 "Microsoft.Network/networkSecurityGroups/read",
		TypeNetworkWatcher + "|":                      "Microsoft.Network/networkWatchers/read",
		TypeFlowLog + "|":                             "Microsoft.Network/networkWatchers/read",
		TypeSubscription + "|network_watcher_regions": "Microsoft.Network/networkWatchers/read",
		TypeSubscription + "|network_regions_in_use":  "Microsoft.Network/virtualNetworks/read",
	}
	if len(got) != len(wantOps) || len(s.errs) != len(wantOps) {
		t.Fatalf("read errors = %+v", s.errs)
	}
	for k, op := range wantOps {
		e := got[k]
		if e.Operation != op || e.Code != vigil.EFORBIDDEN || e.UID != "/subscriptions/"+subSandbox || e.Account != subSandbox {
			t.Errorf("%s: %+v, want operation %s, code forbidden, on the subscription", k, e, op)
		}
	}
	// A partial scan (some services only) lists no subscription settings.
	if l := s.listedTypes(); len(l) != 0 {
		t.Errorf("listed %v, want nothing", l)
	}
	sub := s.find(t, "/subscriptions/"+subSandbox)
	if _, ok := sub.Properties["subscription"]; ok || len(sub.ReadErrors) != 3 {
		t.Errorf("subscription resource: %+v", sub)
	}
}

// TestCollectBadCredential asserts that a credential that yields no token
// fails the collection outright with code unauthorized.
func TestCollectBadCredential(t *testing.T) {
	e := newEstate(t)
	cred := &azfake.TokenCredential{}
	cred.SetError(errors.New("no credential configured"))
	c := newCollector(t, e, Options{Credential: cred})
	err := c.Collect(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, &sink{})
	if vigil.ErrorCode(err) != vigil.EUNAUTHORIZED || !strings.Contains(err.Error(), "azure subscription "+subProd) {
		t.Errorf("err = %v (code %s), want unauthorized naming the subscription", err, vigil.ErrorCode(err))
	}
}

// TestCollectBadAccount asserts that a non-Azure or malformed account is refused.
func TestCollectBadAccount(t *testing.T) {
	c := newCollector(t, newEstate(t), Options{})
	for _, a := range []vigil.Account{{Provider: vigil.AWS, ID: subProd}, {Provider: vigil.Azure, ID: "prod"}} {
		if err := c.Collect(context.Background(), a, &sink{}); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%+v: err = %v, want invalid", a, err)
		}
	}
}

// TestWriteThenRescan asserts that writes through the SDK change what the
// next scan sees.
func TestWriteThenRescan(t *testing.T) {
	e := newEstate(t)
	c := newCollector(t, e, Options{})
	legacy := "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.Storage/storageAccounts/contosolegacy"
	f, err := armstorage.NewClientFactory(subProd, c.cred, c.clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	f2 := false
	tls := armstorage.MinimumTLSVersionTLS12
	if _, err := f.NewAccountsClient().Update(context.Background(), "rg-legacy", "contosolegacy", armstorage.AccountUpdateParameters{
		Properties: &armstorage.AccountPropertiesUpdateParameters{AllowBlobPublicAccess: &f2, MinimumTLSVersion: &tls}}, nil); err != nil {
		t.Fatal(err)
	}
	reqs := e.Requests()
	if len(reqs) != 1 || reqs[0].Method != "PATCH" ||
		reqs[0].Body != `{"properties":{"allowBlobPublicAccess":false,"minimumTlsVersion":"TLS1_2"}}` {
		t.Errorf("writes = %+v", reqs)
	}
	r := collect(t, c, subProd).find(t, legacy)
	if r.Properties["allow_blob_public_access"] != false || r.Properties["minimum_tls_version"] != "TLS1_2" ||
		r.Properties["https_only"] != false {
		t.Errorf("after update: %v", r.Properties)
	}
}

// TestFullScanListsEverything: a scan of every service lists every type,
// the subscription's settings included; an unknown service is refused.
func TestFullScanListsEverything(t *testing.T) {
	s := collect(t, newCollector(t, newEstate(t), Options{}), subProd)
	want := Types()
	sort.Strings(want)
	if got := s.listedTypes(); !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want every type %v", got, want)
	}
	if _, err := New(Options{Services: []string{"storage", "batch"}}); vigil.ErrorCode(err) != vigil.EINVALID ||
		!strings.Contains(err.Error(), `unknown azure service "batch"`) {
		t.Errorf("New with an unknown service: %v", err)
	}
}
