package azure

import (
	"context"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"

	"github.com/vigilsec/vigil"
)

// Properties of azure.subscription that the monitor service sets.
const (
	propDiagnosticSettings   = "diagnostic_settings"
	propActivityLogAlerts    = "activity_log_alerts"
	propActivityLogAlertOps  = "activity_log_alert_operations"
	opDiagnosticSettingsRead = "Microsoft.Insights/diagnosticSettings/read"
	opActivityLogAlertsRead  = "Microsoft.Insights/activityLogAlerts/read"
)

// activityLogCategories are the categories of the subscription activity
// log; a setting that enables the category group "allLogs" exports them all.
var activityLogCategories = []string{
	"Administrative", "Alert", "Autoscale", "Policy", "Recommendation", "ResourceHealth", "Security", "ServiceHealth",
}

func init() {
	register(&service{
		name: "monitor",
		// The activity log's export and alerts are subscription-wide: they
		// go on the azure.subscription resource.
		types:   nil,
		collect: collectMonitor,
		get:     getMonitor,
	})
	namespaceService["microsoft.insights"] = "monitor"
}

// collectMonitor reads the subscription's activity-log diagnostic settings
// and activity log alerts into azure.subscription.
func collectMonitor(ctx context.Context, t *task) error {
	settings, err := t.activityLogSettings(ctx)
	if err == nil {
		t.syn.set(propDiagnosticSettings, settings)
	} else {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.subscriptionFailed(propDiagnosticSettings, opDiagnosticSettingsRead, err)
	}

	alerts, ops, err := t.activityLogAlerts(ctx)
	if err == nil {
		t.syn.set(propActivityLogAlerts, alerts)
		t.syn.set(propActivityLogAlertOps, ops)
	} else {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The derived list cannot be known either: both yield error.
		t.subscriptionFailed(propActivityLogAlerts, opActivityLogAlertsRead, err)
		t.subscriptionFailed(propActivityLogAlertOps, opActivityLogAlertsRead, err)
	}
	return nil
}

// activityLogSettings lists the diagnostic settings of the subscription
// itself, which export its activity log, sorted by name.
func (t *task) activityLogSettings(ctx context.Context) ([]any, error) {
	dc, err := armmonitor.NewDiagnosticSettingsClient(t.c.cred, t.c.clientOpts)
	if err != nil {
		return nil, err
	}
	var out []any
	pager := dc.NewListPager("subscriptions/"+t.acct.ID, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Value {
			if d != nil {
				out = append(out, diagnosticSettingProps(*d))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(map[string]any)["name"].(string) < out[j].(map[string]any)["name"].(string)
	})
	return orEmpty(out), nil
}

// diagnosticSettingProps is one activity-log diagnostic setting: where it
// sends the log and which categories it enables.
func diagnosticSettingProps(d armmonitor.DiagnosticSettingsResource) map[string]any {
	p := deref(d.Properties)
	cats := map[string]bool{}
	var groups []any
	for _, l := range p.Logs {
		if l == nil || !deref(l.Enabled) {
			continue
		}
		if l.Category != nil {
			cats[*l.Category] = true
		}
		if g := deref(l.CategoryGroup); g != "" {
			groups = append(groups, g)
			if strings.EqualFold(g, "allLogs") {
				for _, c := range activityLogCategories {
					cats[c] = true
				}
			}
		}
	}
	var enabled []any
	for c := range cats {
		enabled = append(enabled, c)
	}
	sort.Slice(enabled, func(i, j int) bool { return enabled[i].(string) < enabled[j].(string) })
	storage, workspace := deref(p.StorageAccountID), deref(p.WorkspaceID)
	eventHub, partner := deref(p.EventHubAuthorizationRuleID), deref(p.MarketplacePartnerID)
	return map[string]any{
		"name":                            deref(d.Name),
		"storage_account_id":              storage,
		"workspace_id":                    workspace,
		"event_hub_authorization_rule_id": eventHub,
		"event_hub_name":                  deref(p.EventHubName),
		"marketplace_partner_id":          partner,
		"has_destination":                 storage != "" || workspace != "" || eventHub != "" || partner != "",
		"enabled_categories":              orEmpty(enabled),
		"enabled_category_groups":         orEmpty(groups),
	}
}

// activityLogAlerts lists the subscription's activity log alerts, sorted
// by id, and the operation names covered by an enabled alert on the whole
// subscription (lowercased, sorted).
func (t *task) activityLogAlerts(ctx context.Context) ([]any, []any, error) {
	ac, err := armmonitor.NewActivityLogAlertsClient(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return nil, nil, err
	}
	var alerts []any
	covered := map[string]bool{}
	pager := ac.NewListBySubscriptionIDPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range page.Value {
			if a == nil || a.ID == nil {
				continue
			}
			doc, ops := alertProps(*a, t.acct.ID)
			alerts = append(alerts, doc)
			for _, op := range ops {
				covered[strings.ToLower(op)] = true
			}
		}
	}
	sort.SliceStable(alerts, func(i, j int) bool {
		return strings.ToLower(alerts[i].(map[string]any)["id"].(string)) < strings.ToLower(alerts[j].(map[string]any)["id"].(string))
	})
	ops := make([]any, 0, len(covered))
	for op := range covered {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].(string) < ops[j].(string) })
	return orEmpty(alerts), ops, nil
}

// alertProps is one activity log alert, and the operations it covers on
// the whole subscription: none unless it is enabled, scoped to the
// subscription itself, and conditioned on nothing but the Administrative
// category and operation names — any other condition (a resource group, a
// caller, a status, a level) watches only part of the operations.
func alertProps(a armmonitor.ActivityLogAlertResource, subscription string) (map[string]any, []string) {
	p := deref(a.Properties)
	// "The default value is true."
	enabled := boolOr(p.Enabled, true)
	var scopes []any
	wholeSub := false
	for _, s := range p.Scopes {
		if s == nil {
			continue
		}
		scopes = append(scopes, *s)
		if SameID(*s, "/subscriptions/"+subscription) {
			wholeSub = true
		}
	}
	var ops, cats, others []any
	var opNames []string
	narrowed := false
	for _, c := range deref(p.Condition).AllOf {
		if c == nil {
			continue
		}
		field := strings.ToLower(deref(c.Field))
		switch {
		case field == "operationname" && (c.Equals != nil || len(c.ContainsAny) > 0):
			for _, v := range append([]*string{c.Equals}, c.ContainsAny...) {
				if v != nil {
					ops = append(ops, *v)
					opNames = append(opNames, *v)
				}
			}
		case field == "category" && c.Equals != nil:
			cats = append(cats, *c.Equals)
			if !strings.EqualFold(*c.Equals, "Administrative") {
				narrowed = true
			}
		case field == "" && len(c.AnyOf) > 0:
			// anyOf is an OR of leaves: it covers its operation names only
			// when every leaf is one.
			for _, l := range c.AnyOf {
				if l == nil || !strings.EqualFold(deref(l.Field), "operationName") || l.Equals == nil {
					narrowed = true
					others = append(others, "anyOf")
					break
				}
				ops = append(ops, *l.Equals)
				opNames = append(opNames, *l.Equals)
			}
		default:
			narrowed = true
			others = append(others, deref(c.Field))
		}
	}
	doc := map[string]any{
		"id":               deref(a.ID),
		"name":             deref(a.Name),
		"resource_group":   resourceGroupOf(deref(a.ID)),
		"enabled":          enabled,
		"scopes":           orEmpty(scopes),
		"operation_names":  orEmpty(ops),
		"categories":       orEmpty(cats),
		"other_conditions": orEmpty(others),
	}
	if !enabled || !wholeSub || narrowed {
		return doc, nil
	}
	return doc, opNames
}

// getMonitor refuses ids of Microsoft.Insights: the activity log's export
// and alerts are properties of azure.subscription, re-read with the
// subscription's id.
func getMonitor(_ context.Context, _ *task, id *arm.ResourceID) (vigil.Resource, error) {
	return vigil.Resource{}, vigil.Errorf(vigil.EINVALID,
		"azure resource id %s: activity log settings and alerts are properties of azure.subscription; get /subscriptions/%s instead",
		id.String(), id.SubscriptionID)
}
