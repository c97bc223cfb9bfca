package azure

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

const (
	roleAdmin    = "/subscriptions/" + subProd + "/providers/Microsoft.Authorization/roleDefinitions/0b0c7f4e-1d62-4a5b-9c3d-0f2a1b3c4d5e"
	roleOwner    = "/subscriptions/" + subProd + "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443b-a7f5-89a9d6f0c7dd"
	assignOwner  = "/subscriptions/" + subProd + "/providers/Microsoft.Authorization/roleAssignments/1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
	assignReader = "/subscriptions/" + subProd + "/resourceGroups/rg-web/providers/Microsoft.Authorization/roleAssignments/3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b"
)

// settingsProps are the azure.subscription properties of the security and
// monitor services.
var settingsProps = []string{propDefenderPlans, propSecurityContacts, propAutoProvisioning,
	propDiagnosticSettings, propActivityLogAlerts, propActivityLogAlertOps}

// newSecurityEstate returns the estate seeded from testdata/security.
func newSecurityEstate(t *testing.T) *azuretest.Estate {
	t.Helper()
	e := azuretest.New()
	if err := e.LoadFile(filepath.Join("testdata", "security", "estate.json")); err != nil {
		t.Fatal(err)
	}
	return e
}

// mine keeps what the security, monitor and authorization services
// report, so that other services' results on this estate do not matter.
func settingsErrors(errs []vigil.ReadError) []vigil.ReadError {
	var out []vigil.ReadError
	for _, e := range errs {
		switch {
		case e.Type == TypeRoleDefinition || e.Type == TypeRoleAssignment:
		case e.Type == TypeSubscription && hasString(settingsProps, e.Property):
		default:
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Type+out[i].UID+out[i].Property < out[j].Type+out[j].UID+out[j].Property
	})
	return out
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSecuritySettingsGolden asserts the exact subscription settings and
// RBAC documents collected from the seeded subscription.
func TestSecuritySettingsGolden(t *testing.T) {
	e := newSecurityEstate(t)
	s := collect(t, newCollector(t, e, Options{}), subProd)
	if errs := settingsErrors(s.errs); len(errs) != 0 {
		t.Fatalf("read errors: %+v", errs)
	}
	sub := s.find(t, "/subscriptions/"+subProd)
	settings := map[string]any{}
	for _, p := range settingsProps {
		v, ok := sub.Properties[p]
		if !ok {
			t.Errorf("azure.subscription lacks %s", p)
		}
		settings[p] = v
	}
	golden(t, "security-subscription.json", settings)

	type doc struct {
		UID        string         `json:"uid"`
		Type       string         `json:"type"`
		Name       string         `json:"name"`
		Region     string         `json:"region"`
		Properties map[string]any `json:"properties"`
	}
	var docs []doc
	for _, r := range s.byUID() {
		if r.Type == TypeRoleDefinition || r.Type == TypeRoleAssignment {
			docs = append(docs, doc{r.UID, r.Type, r.Name, r.Region, r.Properties})
		}
	}
	golden(t, "security-rbac.json", docs)
	// 2 custom roles (the 2 built-in ones are not collected), 4 assignments.
	if len(docs) != 6 {
		t.Errorf("collected %d RBAC resources, want 6", len(docs))
	}
	listed := map[string]bool{}
	for _, typ := range s.listedTypes() {
		listed[typ] = true
	}
	if !listed[TypeRoleDefinition] || !listed[TypeRoleAssignment] || !listed[TypeSubscription] {
		t.Errorf("listed %v", s.listedTypes())
	}
	wantOps := []any{
		"microsoft.authorization/policyassignments/write",
		"microsoft.network/networksecuritygroups/delete",
		"microsoft.network/networksecuritygroups/write",
	}
	if got := sub.Properties[propActivityLogAlertOps]; !reflect.DeepEqual(got, wantOps) {
		t.Errorf("activity_log_alert_operations = %v, want %v (disabled, resource-group and status-filtered alerts cover nothing)", got, wantOps)
	}
}

// TestSecuritySettingsReadErrors asserts that each failed call is a read
// error of exactly its own properties (or listing), classified and named
// by its operation, and that the other settings are still collected.
func TestSecuritySettingsReadErrors(t *testing.T) {
	uid := "/subscriptions/" + subProd
	denied := "AuthorizationFailed: denied"
	tests := []struct {
		name  string
		fault azuretest.Fault
		want  []vigil.ReadError
		gone  []string // subscription properties that must be absent
	}{
		{
			name:  "pricings denied",
			fault: azuretest.Fault{API: "PricingsClient.List", Status: 403, Code: "AuthorizationFailed", Message: "denied"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propDefenderPlans,
				Operation: opPricingsRead, Code: vigil.EFORBIDDEN, Message: denied}},
			gone: []string{propDefenderPlans},
		},
		{
			name:  "contacts denied",
			fault: azuretest.Fault{API: "ContactsClient.NewListPager", Status: 403, Code: "AuthorizationFailed", Message: "denied"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propSecurityContacts,
				Operation: opSecurityContactsRead, Code: vigil.EFORBIDDEN, Message: denied}},
			gone: []string{propSecurityContacts},
		},
		{
			name:  "auto provisioning unavailable",
			fault: azuretest.Fault{API: "AutoProvisioningSettingsClient.NewListPager", Status: 500, Code: "InternalServerError", Message: "boom"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propAutoProvisioning,
				Operation: opAutoProvisioningRead, Code: vigil.EUNAVAILABLE, Message: "InternalServerError: boom"}},
			gone: []string{propAutoProvisioning},
		},
		{
			name:  "diagnostic settings denied",
			fault: azuretest.Fault{API: "DiagnosticSettingsClient.NewListPager", Status: 403, Code: "AuthorizationFailed", Message: "denied"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propDiagnosticSettings,
				Operation: opDiagnosticSettingsRead, Code: vigil.EFORBIDDEN, Message: denied}},
			gone: []string{propDiagnosticSettings},
		},
		{
			name:  "activity log alerts denied",
			fault: azuretest.Fault{API: "ActivityLogAlertsClient.NewListBySubscriptionIDPager", Status: 403, Code: "AuthorizationFailed", Message: "denied"},
			want: []vigil.ReadError{
				{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propActivityLogAlertOps,
					Operation: opActivityLogAlertsRead, Code: vigil.EFORBIDDEN, Message: denied},
				{Account: subProd, Region: "global", Type: TypeSubscription, UID: uid, Property: propActivityLogAlerts,
					Operation: opActivityLogAlertsRead, Code: vigil.EFORBIDDEN, Message: denied},
			},
			gone: []string{propActivityLogAlerts, propActivityLogAlertOps},
		},
		{
			name:  "role assignments denied",
			fault: azuretest.Fault{API: "RoleAssignmentsClient.NewListForSubscriptionPager", Status: 403, Code: "AuthorizationFailed", Message: "denied"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeRoleAssignment, UID: uid,
				Operation: opRoleAssignmentsRead, Code: vigil.EFORBIDDEN, Message: denied}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSecurityEstate(t)
			e.Inject(tc.fault)
			s := collect(t, newCollector(t, e, Options{MaxRetries: 1}), subProd)
			if got := settingsErrors(s.errs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("read errors = %+v\nwant %+v", got, tc.want)
			}
			sub := s.find(t, uid)
			if got := settingsErrors(sub.ReadErrors); !reflect.DeepEqual(got, tc.want) && tc.gone != nil {
				t.Errorf("subscription read errors = %+v", got)
			}
			for _, p := range settingsProps {
				_, has := sub.Properties[p]
				if has == hasString(tc.gone, p) {
					t.Errorf("property %s present = %v", p, has)
				}
			}
		})
	}
}

// TestRoleDefinitionsDenied asserts that a denied role definition listing
// fails that listing and makes each assignment's role a read error,
// while the assignments themselves are still collected.
func TestRoleDefinitionsDenied(t *testing.T) {
	e := newSecurityEstate(t)
	e.Inject(azuretest.Fault{API: "RoleDefinitionsClient.NewListPager", Status: 403, Code: "AuthorizationFailed", Message: "denied"})
	s := collect(t, newCollector(t, e, Options{}), subProd)
	for _, typ := range s.listedTypes() {
		if typ == TypeRoleDefinition {
			t.Error("failed role definition listing reported as listed")
		}
	}
	r := s.find(t, assignOwner)
	want := []vigil.ReadError{
		{Account: subProd, Region: "global", Type: TypeRoleAssignment, UID: assignOwner, Property: "role_name",
			Operation: opRoleDefinitionsRead, Code: vigil.EFORBIDDEN, Message: "AuthorizationFailed: denied"},
		{Account: subProd, Region: "global", Type: TypeRoleAssignment, UID: assignOwner, Property: "role_type",
			Operation: opRoleDefinitionsRead, Code: vigil.EFORBIDDEN, Message: "AuthorizationFailed: denied"},
	}
	if !reflect.DeepEqual(r.ReadErrors, want) {
		t.Errorf("assignment read errors = %+v", r.ReadErrors)
	}
	if _, ok := r.Properties["role_name"]; ok || r.Properties["principal_type"] != "User" {
		t.Errorf("assignment properties = %v", r.Properties)
	}
	// 1 failed listing + 2 properties × 4 assignments.
	if got := len(settingsErrors(s.errs)); got != 9 {
		t.Errorf("%d read errors, want 9: %+v", got, settingsErrors(s.errs))
	}
}

// TestGetRBAC asserts that a Get by id returns what the scan gives, and
// refuses ids that are not collected.
func TestGetRBAC(t *testing.T) {
	e := newSecurityEstate(t)
	c := newCollector(t, e, Options{})
	scanned := collect(t, c, subProd)
	acct := vigil.Account{Provider: vigil.Azure, ID: subProd}
	pricing := "/subscriptions/" + subProd + "/providers/Microsoft.Security/pricings/VirtualMachines"
	alert := "/subscriptions/" + subProd + "/resourceGroups/rg-monitor/providers/Microsoft.Insights/activityLogAlerts/nsg-changes"
	missing := "/subscriptions/" + subProd + "/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-000000000000"
	got, err := c.Get(context.Background(), acct, []string{roleAdmin, assignOwner, assignReader, roleOwner, pricing, alert, missing})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got[:3] {
		want := scanned.find(t, g.ID)
		if !g.Found || g.Err != nil {
			t.Errorf("%s: found %v, err %v", g.ID, g.Found, g.Err)
			continue
		}
		if !reflect.DeepEqual(g.Resource, want) {
			t.Errorf("%s: got %+v\nwant %+v", g.ID, g.Resource, want)
		}
	}
	for _, g := range got[3:6] {
		if vigil.ErrorCode(g.Err) != vigil.EINVALID || g.Found {
			t.Errorf("%s: err %v, want invalid (not collected)", g.ID, g.Err)
		}
	}
	if !strings.Contains(got[3].Err.Error(), `built-in role "Owner"`) {
		t.Errorf("built-in role error = %v", got[3].Err)
	}
	if g := got[6]; g.Found || g.Err != nil {
		t.Errorf("missing assignment: found %v, err %v", g.Found, g.Err)
	}
}

// TestGetRoleAssignmentRoleForbidden asserts that a denied read of an
// assignment's role is a read error of role_name and role_type.
func TestGetRoleAssignmentRoleForbidden(t *testing.T) {
	e := newSecurityEstate(t)
	e.Inject(azuretest.Fault{API: "RoleDefinitionsClient.GetByID", Status: 403, Code: "AuthorizationFailed", Message: "denied"})
	c := newCollector(t, e, Options{})
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, []string{assignReader})
	if err != nil {
		t.Fatal(err)
	}
	g := got[0]
	if !g.Found || g.Err != nil {
		t.Fatalf("found %v, err %v", g.Found, g.Err)
	}
	var props []string
	for _, e := range g.Resource.ReadErrors {
		if e.Code != vigil.EFORBIDDEN || e.Operation != opRoleDefinitionsRead || e.UID != assignReader {
			t.Errorf("read error %+v", e)
		}
		props = append(props, e.Property)
	}
	if !reflect.DeepEqual(props, []string{"role_name", "role_type"}) {
		t.Errorf("read error properties = %v", props)
	}
	if _, ok := g.Resource.Properties["role_name"]; ok || g.Resource.Properties["principal_type"] != "Group" {
		t.Errorf("properties = %v", g.Resource.Properties)
	}
}

// TestSettingsWritesThenRescan asserts that the PUTs fixes send (a Defender
// plan to Standard, a diagnostic setting, an activity log alert) change
// what the next scan sees.
func TestSettingsWritesThenRescan(t *testing.T) {
	e := newSecurityEstate(t)
	c := newCollector(t, e, Options{})
	ctx := context.Background()
	scope := "subscriptions/" + subProd
	pc, err := armsecurity.NewPricingsClient(c.cred, c.clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	std := armsecurity.PricingTierStandard
	if _, err := pc.Update(ctx, scope, "SqlServers", armsecurity.Pricing{Properties: &armsecurity.PricingProperties{PricingTier: &std}}, nil); err != nil {
		t.Fatal(err)
	}
	mf, err := armmonitor.NewClientFactory(subProd, c.cred, c.clientOpts)
	if err != nil {
		t.Fatal(err)
	}
	ws := "/subscriptions/" + subProd + "/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-prod"
	var logs []*armmonitor.LogSettings
	for _, cat := range []string{"Administrative", "Alert", "Policy", "Security"} {
		logs = append(logs, &armmonitor.LogSettings{Category: ptrTo(cat), Enabled: ptrTo(true)})
	}
	if _, err := mf.NewDiagnosticSettingsClient().CreateOrUpdate(ctx, scope, "vigil", armmonitor.DiagnosticSettingsResource{
		Properties: &armmonitor.DiagnosticSettings{WorkspaceID: &ws, Logs: logs}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mf.NewActivityLogAlertsClient().CreateOrUpdate(ctx, "rg-monitor", "sql-firewall-delete", armmonitor.ActivityLogAlertResource{
		Location: ptrTo("Global"),
		Properties: &armmonitor.AlertRuleProperties{
			Scopes: []*string{ptrTo("/subscriptions/" + subProd)},
			Condition: &armmonitor.AlertRuleAllOfCondition{AllOf: []*armmonitor.AlertRuleAnyOfOrLeafCondition{
				{Field: ptrTo("category"), Equals: ptrTo("Administrative")},
				{Field: ptrTo("operationName"), Equals: ptrTo("Microsoft.Sql/servers/firewallRules/delete")},
			}},
		}}, nil); err != nil {
		t.Fatal(err)
	}
	var methods []string
	for _, r := range e.Requests() {
		methods = append(methods, r.Method+" "+r.API)
	}
	want := []string{"PUT PricingsClient.Update", "PUT DiagnosticSettingsClient.CreateOrUpdate", "PUT ActivityLogAlertsClient.CreateOrUpdate"}
	if !reflect.DeepEqual(methods, want) {
		t.Errorf("writes = %v, want %v", methods, want)
	}
	if body := e.Requests()[0].Body; body != `{"properties":{"pricingTier":"Standard"}}` {
		t.Errorf("pricing PUT body = %s", body)
	}
	sub := collect(t, c, subProd).find(t, "/subscriptions/"+subProd)
	plans := sub.Properties[propDefenderPlans].(map[string]any)
	if tier := plans["SqlServers"].(map[string]any)["tier"]; tier != "Standard" {
		t.Errorf("SqlServers tier after PUT = %v", tier)
	}
	var names []string
	for _, d := range sub.Properties[propDiagnosticSettings].([]any) {
		names = append(names, d.(map[string]any)["name"].(string))
	}
	if !reflect.DeepEqual(names, []string{"activity-to-law", "archive", "vigil"}) {
		t.Errorf("diagnostic settings after PUT = %v", names)
	}
	if !hasString(secStrings(sub.Properties[propActivityLogAlertOps]), "microsoft.sql/servers/firewallrules/delete") {
		t.Errorf("activity_log_alert_operations after PUT = %v", sub.Properties[propActivityLogAlertOps])
	}
}

func secStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
