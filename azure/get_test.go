package azure

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

// TestGet asserts that a resource read again by id equals the scan's,
// that a missing one is not Found, and that bad ids are errors of their own.
func TestGet(t *testing.T) {
	e := newEstate(t)
	c := newCollector(t, e, Options{})
	scan := collect(t, c, subProd)
	container := rgData + "/blobServices/default/containers/invoices"
	missing := "/subscriptions/" + subProd + "/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/gone"
	ids := []string{
		rgData, strings.ToUpper(container[:40]) + container[40:], nsgWeb, "/subscriptions/" + subProd, missing,
		"not-an-id", "/subscriptions/" + subSandbox + "/resourceGroups/x/providers/Microsoft.Network/networkSecurityGroups/y",
		"/subscriptions/" + subProd + "/resourceGroups/x/providers/Microsoft.Web/sites/app1",
	}
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ids) {
		t.Fatalf("got %d results for %d ids", len(got), len(ids))
	}
	for i, uid := range []string{rgData, container, nsgWeb} {
		want := scan.find(t, uid)
		if !got[i].Found || got[i].Err != nil || got[i].Partial {
			t.Errorf("%s: %+v", uid, got[i])
			continue
		}
		if !reflect.DeepEqual(got[i].Resource, want) {
			t.Errorf("%s: get differs from scan:\n got %+v\nwant %+v", uid, got[i].Resource, want)
		}
		if got[i].Resource.ComputeHash() != want.ComputeHash() {
			t.Errorf("%s: hash differs from scan", uid)
		}
	}
	sub := got[3]
	if !sub.Found || !sub.Partial || sub.Err != nil {
		t.Fatalf("subscription: %+v", sub)
	}
	// The settings services are read again; watcher regions come with the
	// network listing and stay as stored.
	for _, p := range []string{"subscription", propDefenderPlans, propSecurityContacts, propAutoProvisioning,
		propDiagnosticSettings, propActivityLogAlerts, propActivityLogAlertOps} {
		if _, ok := sub.Resource.Properties[p]; !ok {
			t.Errorf("subscription get lacks %s", p)
		}
	}
	if _, ok := sub.Resource.Properties[propWatcherRegions]; ok {
		t.Errorf("subscription get has %s, which only the network listing reads", propWatcherRegions)
	}
	stored := scan.find(t, "/subscriptions/"+subProd)
	if over := stored.Overlay(sub.Resource); over.ComputeHash() != stored.ComputeHash() {
		t.Errorf("subscription get laid over the scan changes it:\n got %+v\nwant %+v", over, stored)
	}
	if g := got[4]; g.Found || g.Err != nil {
		t.Errorf("missing account: found %v err %v, want not found without error", g.Found, g.Err)
	}
	for _, i := range []int{5, 6, 7} {
		if vigil.ErrorCode(got[i].Err) != vigil.EINVALID || got[i].Found {
			t.Errorf("%s: err = %v, want invalid", ids[i], got[i].Err)
		}
	}
}

// TestGetForbidden asserts that a denied GET is an error, neither found
// nor gone.
func TestGetForbidden(t *testing.T) {
	e := newEstate(t)
	e.Inject(azuretest.Fault{API: "SecurityGroupsClient.Get", Status: 403, Code: "AuthorizationFailed"})
	c := newCollector(t, e, Options{})
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, []string{nsgWeb})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Found || vigil.ErrorCode(got[0].Err) != vigil.EFORBIDDEN ||
		!strings.Contains(got[0].Err.Error(), "Microsoft.Network/networkSecurityGroups/read") {
		t.Errorf("got %+v, want a forbidden error naming the operation", got[0])
	}
}
