package azure

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	vpolicy "github.com/vigilsec/vigil/policy"
)

func init() {
	// The SDK operations of the subscription-level actions, for the
	// recorder that checks their declared permissions.
	for api, op := range map[string]string{
		"PricingsClient.Get":                                   opPricingsRead,
		"PricingsClient.Update":                                opPricingsWrite,
		"DiagnosticSettingsClient.NewListPager":                opDiagnosticSettingsRead,
		"DiagnosticSettingsClient.CreateOrUpdate":              opDiagnosticSettingsWrite,
		"DiagnosticSettingsClient.Delete":                      opDiagnosticSettingsDelete,
		"ActivityLogAlertsClient.NewListBySubscriptionIDPager": opActivityLogAlertsRead,
		"ActivityLogAlertsClient.Get":                          opActivityLogAlertsRead,
		"ActivityLogAlertsClient.CreateOrUpdate":               opActivityLogAlertsWrite,
		"ActivityLogAlertsClient.Delete":                       opActivityLogAlertsDelete,
		"ResourceGroupsClient.Get":                             opResourceGroupsRead,
	} {
		rbacOperations[api] = op
	}
}

const (
	fxLAW        = fxSub + "/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-prod"
	fxArchive    = fxSub + "/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/contosoarchive"
	fxSecOps     = fxSub + "/resourceGroups/rg-monitor/providers/Microsoft.Insights/actionGroups/secops"
	fxAlerts     = fxSub + "/resourcegroups/rg-monitor/providers/Microsoft.Insights/activityLogAlerts/"
	fxPricings   = fxSub + "/providers/Microsoft.Security/pricings/"
	fxDiagnostic = fxSub + "/providers/Microsoft.Insights/diagnosticSettings/"
)

// newSubFixHarness is newFixHarness over the base estate plus the
// subscription settings of testdata/fix-sub.json; bare leaves them out
// (no Defender plans, diagnostic settings or alerts at all).
func newSubFixHarness(t *testing.T, bare bool) *fixHarness {
	t.Helper()
	if bare {
		return newFixHarness(t)
	}
	return newFixHarness(t, filepath.Join("testdata", "fix-sub.json"))
}

// alertBody is the alert rule the activity-log-alert action PUTs.
func alertBody(op string, actionGroups ...any) map[string]any {
	return map[string]any{"location": "Global", "properties": map[string]any{
		"enabled":     true,
		"description": "Created by Vigil: fires on every " + op + " operation in the subscription.",
		"scopes":      []any{fxSub},
		"condition": map[string]any{"allOf": []any{
			map[string]any{"field": "category", "equals": "Administrative"},
			map[string]any{"field": "operationName", "equals": op},
		}},
		"actions": map[string]any{"actionGroups": append([]any{}, actionGroups...)},
	}}
}

// TestFixSubActions runs the Defender, diagnostic-setting and
// activity-log-alert actions through plan, apply, verify (the
// subscription read again through Collector.Get) and undo: the planned
// calls are exactly the writes the estate receives, the check passes after
// the fix, and after the undo it fails again.
func TestFixSubActions(t *testing.T) {
	cases := []struct {
		name   string
		bare   bool
		check  string
		params map[string]any
		calls  []map[string]any
		undo   []map[string]any
		say    string // in the plan's step
	}{
		{name: "defender servers to standard", check: "azure-defender-servers-on", say: "billed",
			calls: []map[string]any{{"method": "PUT", "path": fxPricings + "VirtualMachines", "body": map[string]any{"properties": map[string]any{"pricingTier": "Standard"}}}},
			undo:  []map[string]any{{"method": "PUT", "path": fxPricings + "VirtualMachines", "body": map[string]any{"properties": map[string]any{"pricingTier": "Free"}}}}},
		{name: "defender storage keeps its sub-plan", check: "azure-defender-storage-on", say: "sub-plan DefenderForStorageV2",
			calls: []map[string]any{{"method": "PUT", "path": fxPricings + "StorageAccounts", "body": map[string]any{"properties": map[string]any{
				"pricingTier": "Standard", "subPlan": "DefenderForStorageV2"}}}},
			undo: []map[string]any{{"method": "PUT", "path": fxPricings + "StorageAccounts", "body": map[string]any{"properties": map[string]any{
				"pricingTier": "Free", "subPlan": "DefenderForStorageV2"}}}}},
		{name: "defender plan from param", check: "azure-defender-servers-on", params: map[string]any{"plan": "virtualmachines"},
			calls: []map[string]any{{"method": "PUT", "path": fxPricings + "VirtualMachines", "body": map[string]any{"properties": map[string]any{"pricingTier": "Standard"}}}},
			undo:  []map[string]any{{"method": "PUT", "path": fxPricings + "VirtualMachines", "body": map[string]any{"properties": map[string]any{"pricingTier": "Free"}}}}},
		{name: "diagnostic setting amended", check: "azure-monitor-diagnostic-setting-categories", say: "enable the Alert, Policy categories on diagnostic setting activity-to-law",
			params: map[string]any{"workspace_id": fxLAW},
			calls: []map[string]any{{"method": "PUT", "path": fxDiagnostic + "activity-to-law", "body": map[string]any{"properties": map[string]any{
				"workspaceId": fxLAW, "storageAccountId": fxArchive,
				"logs": []any{
					map[string]any{"category": "Administrative", "enabled": true},
					map[string]any{"category": "Security", "enabled": true},
					map[string]any{"category": "ServiceHealth", "enabled": false},
					map[string]any{"category": "Policy", "enabled": true},
					map[string]any{"category": "Alert", "enabled": true},
				}}}}},
			undo: []map[string]any{{"method": "PUT", "path": fxDiagnostic + "activity-to-law", "body": map[string]any{"properties": map[string]any{
				"workspaceId": fxLAW, "storageAccountId": fxArchive,
				"logs": []any{
					map[string]any{"category": "Administrative", "enabled": true},
					map[string]any{"category": "Security", "enabled": true},
					map[string]any{"category": "ServiceHealth", "enabled": false},
					map[string]any{"category": "Policy", "enabled": false},
				}}}}}},
		{name: "diagnostic setting created", bare: true, check: "azure-monitor-diagnostic-setting-exists", say: "create diagnostic setting vigil-activity-log",
			params: map[string]any{"workspace_id": fxLAW, "storage_account_id": legacyAcct},
			calls: []map[string]any{{"method": "PUT", "path": fxDiagnostic + "vigil-activity-log", "body": map[string]any{"properties": map[string]any{
				"workspaceId": fxLAW, "storageAccountId": legacyAcct,
				"logs": []any{
					map[string]any{"category": "Administrative", "enabled": true},
					map[string]any{"category": "Alert", "enabled": true},
					map[string]any{"category": "Policy", "enabled": true},
					map[string]any{"category": "Security", "enabled": true},
				}}}}},
			undo: []map[string]any{{"method": "DELETE", "path": fxDiagnostic + "vigil-activity-log"}}},
		{name: "alert created with action group", check: "azure-monitor-alert-create-update-nsg", say: "notifying action group " + fxSecOps,
			params: map[string]any{"resource_group": "rg-monitor", "action_group_id": fxSecOps},
			calls: []map[string]any{{"method": "PUT", "path": fxAlerts + "vigil-networksecuritygroups-write",
				"body": alertBody("Microsoft.Network/networkSecurityGroups/write", map[string]any{"actionGroupId": fxSecOps})}},
			undo: []map[string]any{{"method": "DELETE", "path": fxAlerts + "vigil-networksecuritygroups-write"}}},
		{name: "alert replaces a disabled one", check: "azure-monitor-alert-delete-nsg", say: "notify no one",
			params: map[string]any{"resource_group": "rg-monitor"},
			calls: []map[string]any{{"method": "PUT", "path": fxAlerts + "vigil-networksecuritygroups-delete",
				"body": alertBody("Microsoft.Network/networkSecurityGroups/delete")}},
			undo: []map[string]any{{"method": "PUT", "path": fxAlerts + "vigil-networksecuritygroups-delete", "body": map[string]any{
				"location": "Global", "properties": map[string]any{
					"enabled": false,
					"scopes":  []any{fxSub},
					"condition": map[string]any{"allOf": []any{
						map[string]any{"field": "category", "equals": "Administrative"},
						map[string]any{"field": "operationName", "equals": "Microsoft.Network/networkSecurityGroups/delete"},
					}},
					"actions": map[string]any{"actionGroups": []any{}},
				}}}}},
		{name: "alert in a group that holds resources", check: "azure-monitor-alert-delete-sql-firewall-rule", say: "in resource group rg-legacy",
			params: map[string]any{"resource_group": "rg-legacy"},
			calls: []map[string]any{{"method": "PUT", "path": fxSub + "/resourcegroups/rg-legacy/providers/Microsoft.Insights/activityLogAlerts/vigil-servers-firewallrules-delete",
				"body": alertBody("Microsoft.Sql/servers/firewallRules/delete")}},
			undo: []map[string]any{{"method": "DELETE", "path": fxSub + "/resourcegroups/rg-legacy/providers/Microsoft.Insights/activityLogAlerts/vigil-servers-firewallrules-delete"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSubFixHarness(t, tc.bare)
			ctx := context.Background()
			since := 0
			j, f, p := h.plan(tc.check, fxSub, tc.params)
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
			if len(p.Steps) != 1 || !strings.Contains(p.Steps[0], tc.say) {
				t.Errorf("plan steps %q, want one saying %q", p.Steps, tc.say)
			}
			if o := j.Check.Evaluate(vpolicy.NewInput(&j.Target.Resource, fixedNow)); o.Status != vigil.StatusFail {
				t.Fatalf("before the fix the check gives %s (%s), want fail", o.Status, o.Reason)
			}
			lists := h.e.Calls("PricingsClient.List") + h.e.Calls("DiagnosticSettingsClient.NewListPager")
			done := h.apply(j, f, p)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("writes received\n got %v\nwant %v", got, want)
			}
			if !strings.HasPrefix(done.Reason, "verified") {
				t.Errorf("reason %q", done.Reason)
			}
			// The verification read the subscription's settings services again.
			if now := h.e.Calls("PricingsClient.List") + h.e.Calls("DiagnosticSettingsClient.NewListPager"); now < lists+2 {
				t.Errorf("verifying re-read the security and monitor services %d times, want both", now-lists)
			}
			fresh, err := h.fixer.Refresh(ctx, j.Target.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if fresh.UID != fxSub || fresh.Type != TypeSubscription {
				t.Errorf("refresh gave %s %s", fresh.Type, fresh.UID)
			}
			if o := j.Check.Evaluate(vpolicy.NewInput(&fresh, fixedNow)); o.Status != vigil.StatusPass {
				t.Errorf("after the fix the check gives %s (%s), want pass", o.Status, o.Reason)
			}
			h.undo(done.ID)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.undo); !reflect.DeepEqual(got, want) {
				t.Errorf("undo writes\n got %v\nwant %v", got, want)
			}
			fresh, err = h.fixer.Refresh(ctx, j.Target.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if o := j.Check.Evaluate(vpolicy.NewInput(&fresh, fixedNow)); o.Status != vigil.StatusFail {
				t.Errorf("after undo the check gives %s (%s), want fail again", o.Status, o.Reason)
			}
		})
	}
}

// TestFixSubNoOp: settings already as the action would make them plan
// nothing.
func TestFixSubNoOp(t *testing.T) {
	cases := []struct {
		name    string
		harness func(*testing.T) *fixHarness
		check   string
		params  map[string]any
		say     string
	}{
		{"defender plan already standard", func(t *testing.T) *fixHarness { return newSubFixHarness(t, false) },
			"azure-defender-azure-sql-on", nil, "SqlServers of subscription " + subProd + " is already on the Standard tier"},
		{"alert already covers the operation", func(t *testing.T) *fixHarness { return newSubFixHarness(t, false) },
			"azure-monitor-alert-create-policy-assignment", map[string]any{"resource_group": "rg-monitor"}, "policy-assignment-write already watches"},
		{"a setting already exports the four categories", newMoreFixHarness,
			"azure-monitor-diagnostic-setting-categories", nil, "diagnostic setting archive already exports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.harness(t)
			_, _, p := h.plan(tc.check, fxSub, tc.params)
			if !p.NoOp || len(p.Calls) != 0 || len(p.Steps) != 1 || !strings.Contains(p.Steps[0], tc.say) {
				t.Errorf("plan %+v, want a no-op saying %q", p, tc.say)
			}
		})
	}
}

// TestFixSubParams: bad or missing parameters, an unknown plan and a
// resource group that does not exist are EINVALID, and nothing is written.
func TestFixSubParams(t *testing.T) {
	cases := []struct {
		bare   bool
		check  string
		params map[string]any
		want   string
	}{
		{false, "azure-defender-servers-on", map[string]any{"plan": "Dns"},
			`"Dns" is not a Defender plan this action turns on (accepted: AppServices, Arm, Containers, CosmosDbs, KeyVaults, OpenSourceRelationalDatabases, SqlServerVirtualMachines, SqlServers, StorageAccounts, VirtualMachines)`},
		{false, "azure-defender-servers-on", map[string]any{"plan": 42}, `"42" is not a Defender plan`},
		{true, "azure-monitor-diagnostic-setting-exists", nil,
			"has no diagnostic setting exporting its activity log; to create vigil-activity-log give its destination with param workspace_id"},
		{true, "azure-monitor-diagnostic-setting-exists", map[string]any{"workspace_id": "law-prod"}, "param workspace_id of azure.monitor.diagnostic-setting: want the ARM id"},
		{true, "azure-monitor-diagnostic-setting-exists", map[string]any{"workspace_id": legacyAcct},
			"is a Microsoft.Storage/storageAccounts, not a Microsoft.OperationalInsights/workspaces"},
		{true, "azure-monitor-diagnostic-setting-exists", map[string]any{"event_hub_authorization_rule_id": fxSub + "/resourceGroups/rg-logs/providers/Microsoft.EventHub/namespaces/ns"},
			"not a Microsoft.EventHub/namespaces/authorizationRules"},
		{false, "azure-monitor-alert-create-update-nsg", nil, "needs param resource_group"},
		{false, "azure-monitor-alert-create-update-nsg", map[string]any{"resource_group": "rg/../x"}, "is not a resource group name"},
		{false, "azure-monitor-alert-create-update-nsg", map[string]any{"resource_group": "rg-missing"}, `has no resource group "rg-missing"`},
		{false, "azure-monitor-alert-create-update-nsg", map[string]any{"resource_group": "rg-monitor", "action_group_id": fxLAW},
			"not a Microsoft.Insights/actionGroups"},
		{false, "azure-monitor-alert-create-update-nsg", map[string]any{"resource_group": "rg-monitor", "operation": "delete everything"},
			"is not an ARM operation name"},
	}
	hs := map[bool]*fixHarness{false: newSubFixHarness(t, false), true: newSubFixHarness(t, true)}
	ctx := context.Background()
	for _, tc := range cases {
		h := hs[tc.bare]
		j, err := h.runner.Prepare(ctx, tc.check, fxSub, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = h.runner.Plan(ctx, j, "user:test", "fix-now")
		h.checkPermissions(j.Action)
		if err == nil || !strings.Contains(err.Error(), tc.want) || vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s %v: error %v (code %s), want EINVALID %q", tc.check, tc.params, err, vigil.ErrorCode(err), tc.want)
		}
	}
	for bare, h := range hs {
		if len(h.e.Requests()) != 0 {
			t.Errorf("bare=%v: writes: %+v", bare, h.e.Requests())
		}
	}
}

// TestFixSubWriteForbidden: a 403 on the write is a failed fix that
// changed nothing.
func TestFixSubWriteForbidden(t *testing.T) {
	cases := []struct {
		check, api, op string
		params         map[string]any
		state          func(h *fixHarness) any
	}{
		{"azure-defender-servers-on", "PricingsClient.Update", opPricingsWrite, nil,
			func(h *fixHarness) any { p, ok := h.e.Pricing(fxPricings + "VirtualMachines"); return []any{p, ok} }},
		{"azure-monitor-diagnostic-setting-categories", "DiagnosticSettingsClient.CreateOrUpdate", opDiagnosticSettingsWrite, nil,
			func(h *fixHarness) any {
				d, ok := h.e.DiagnosticSetting(fxDiagnostic + "activity-to-law")
				return []any{d, ok}
			}},
		{"azure-monitor-alert-create-update-nsg", "ActivityLogAlertsClient.CreateOrUpdate", opActivityLogAlertsWrite, map[string]any{"resource_group": "rg-monitor"},
			func(h *fixHarness) any {
				a, ok := h.e.ActivityLogAlert(fxAlerts + "vigil-networksecuritygroups-write")
				return []any{a, ok}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.check, func(t *testing.T) {
			h := newSubFixHarness(t, false)
			before := asJSON(t, tc.state(h))
			h.e.Inject(azuretest.Fault{API: tc.api, Status: 403, Code: "AuthorizationFailed",
				Message: "The client does not have authorization to perform action '" + tc.op + "'."})
			j, f, p := h.plan(tc.check, fxSub, tc.params)
			out, err := h.runner.Apply(context.Background(), j, f, p)
			h.checkPermissions(j.Action)
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != vigil.FixFailed || !strings.Contains(out.Reason, "AuthorizationFailed") {
				t.Errorf("fix %s: %s", out.Status, out.Reason)
			}
			if len(out.Calls) != 1 || out.Calls[0].Operation != tc.op || out.Calls[0].Error == "" {
				t.Errorf("calls %+v", out.Calls)
			}
			if after := asJSON(t, tc.state(h)); !reflect.DeepEqual(after, before) {
				t.Errorf("the estate changed although the write was refused:\n got %v\nwant %v", after, before)
			}
		})
	}
}
