package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// RBAC operations of the monitor actions.
const (
	opDiagnosticSettingsWrite  = "Microsoft.Insights/diagnosticSettings/write"
	opDiagnosticSettingsDelete = "Microsoft.Insights/diagnosticSettings/delete"
	opActivityLogAlertsWrite   = "Microsoft.Insights/activityLogAlerts/write"
	opActivityLogAlertsDelete  = "Microsoft.Insights/activityLogAlerts/delete"
	opResourceGroupsRead       = "Microsoft.Resources/subscriptions/resourceGroups/read"
	// A Log Analytics workspace is a diagnostic setting's destination only
	// for a caller who may read it and list its shared keys (Azure
	// Monitor's "manage access" documentation); ARM checks both on the PUT.
	opWorkspacesRead       = "Microsoft.OperationalInsights/workspaces/read"
	opWorkspacesSharedKeys = "Microsoft.OperationalInsights/workspaces/sharedKeys/action"
)

// vigilDiagnosticSetting is the name of the activity-log export Vigil
// creates when the subscription has none.
const vigilDiagnosticSetting = "vigil-activity-log"

// requiredLogCategories are the activity-log categories that
// azure-monitor-diagnostic-setting-categories requires of one setting
// (azure-monitor-diagnostic-setting-exists needs any one of them).
var requiredLogCategories = []string{"Administrative", "Alert", "Policy", "Security"}

// alertCheckOperations maps each azure-monitor-alert-* check to the
// operation name its expression looks for.
var alertCheckOperations = map[string]string{
	"azure-monitor-alert-create-policy-assignment":        "Microsoft.Authorization/policyAssignments/write",
	"azure-monitor-alert-delete-policy-assignment":        "Microsoft.Authorization/policyAssignments/delete",
	"azure-monitor-alert-create-update-nsg":               "Microsoft.Network/networkSecurityGroups/write",
	"azure-monitor-alert-delete-nsg":                      "Microsoft.Network/networkSecurityGroups/delete",
	"azure-monitor-alert-create-update-security-solution": "Microsoft.Security/securitySolutions/write",
	"azure-monitor-alert-delete-security-solution":        "Microsoft.Security/securitySolutions/delete",
	"azure-monitor-alert-create-update-sql-firewall-rule": "Microsoft.Sql/servers/firewallRules/write",
	"azure-monitor-alert-delete-sql-firewall-rule":        "Microsoft.Sql/servers/firewallRules/delete",
	"azure-monitor-alert-create-update-public-ip":         "Microsoft.Network/publicIPAddresses/write",
	"azure-monitor-alert-delete-public-ip":                "Microsoft.Network/publicIPAddresses/delete",
}

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &diagnosticSetting{fixAction{f: f, id: "azure.monitor.diagnostic-setting", typ: TypeSubscription,
			title: "export the subscription activity log with the Administrative, Alert, Policy and Security categories: on the existing diagnostic setting, or a new one (params workspace_id, storage_account_id, event_hub_authorization_rule_id)",
			perms: []string{opSubscriptionRead, opDiagnosticSettingsRead, opDiagnosticSettingsWrite, opDiagnosticSettingsDelete,
				opWorkspacesRead, opWorkspacesSharedKeys}}}
	}, func(f *Fixer) fix.Action {
		return &activityLogAlert{fixAction{f: f, id: "azure.monitor.activity-log-alert", typ: TypeSubscription,
			title: "create an activity log alert on the whole subscription for the operation the finding requires (params resource_group, required; action_group_id; operation)",
			perms: []string{opSubscriptionRead, opActivityLogAlertsRead, opActivityLogAlertsWrite, opActivityLogAlertsDelete, opResourceGroupsRead}}}
	})
}

// diagnosticSettingsClient returns a diagnostic settings client with the
// remediation credential. The subscription's own settings (resource uri
// subscriptions/{id}) are the activity log's export; armmonitor has no
// separate subscription client any more.
func (f *Fixer) diagnosticSettingsClient(ctx context.Context, sub string) (*armmonitor.DiagnosticSettingsClient, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armmonitor.NewDiagnosticSettingsClient(cred, opts)
}

func (f *Fixer) activityLogAlertsClient(ctx context.Context, sub string) (*armmonitor.ActivityLogAlertsClient, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armmonitor.NewActivityLogAlertsClient(sub, cred, opts)
}

// armIDParam reads an optional param holding the ARM id of a resource of
// type typ; "" when absent.
func armIDParam(action string, params map[string]any, name, typ string) (string, error) {
	v, ok := params[name]
	if !ok || v == nil {
		return "", nil
	}
	s, _ := v.(string)
	s = strings.TrimSpace(s)
	id, err := arm.ParseResourceID(s)
	if s == "" || err != nil || id.SubscriptionID == "" {
		return "", vigil.Errorf(vigil.EINVALID, "param %s of %s: want the ARM id of a %s (/subscriptions/…/providers/%s/…), got %q",
			name, action, typ, typ, fmt.Sprint(v))
	}
	if !strings.EqualFold(id.ResourceType.String(), typ) {
		return "", vigil.Errorf(vigil.EINVALID, "param %s of %s: %s is a %s, not a %s", name, action, s, id.ResourceType.String(), typ)
	}
	return s, nil
}

// diagnosticSetting makes the subscription's activity log go to a
// destination with the four categories the checks require. It amends an
// existing setting (the whole setting PUT back with only those category
// flags changed: ARM replaces a setting as a whole) or creates
// vigil-activity-log. Undo puts the amended setting back, or deletes the
// created one.
type diagnosticSetting struct{ fixAction }

// destinations reads the destination params; a new setting needs one.
func diagnosticDestinations(params map[string]any) (map[string]any, error) {
	const action = "azure.monitor.diagnostic-setting"
	out := map[string]any{}
	for _, p := range []struct{ param, field, typ string }{
		{"workspace_id", "workspaceId", "Microsoft.OperationalInsights/workspaces"},
		{"storage_account_id", "storageAccountId", "Microsoft.Storage/storageAccounts"},
		{"event_hub_authorization_rule_id", "eventHubAuthorizationRuleId", "Microsoft.EventHub/namespaces/authorizationRules"},
	} {
		id, err := armIDParam(action, params, p.param, p.typ)
		if err != nil {
			return nil, err
		}
		if id != "" {
			out[p.field] = id
		}
	}
	return out, nil
}

func diagnosticSettingPath(sub, name string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.Insights/diagnosticSettings/" + name
}

// missingCategories returns the required categories a setting does not
// enable, in order.
func missingCategories(doc map[string]any) []string {
	have := map[string]bool{}
	for _, c := range doc["enabled_categories"].([]any) {
		have[strings.ToLower(c.(string))] = true
	}
	var out []string
	for _, c := range requiredLogCategories {
		if !have[strings.ToLower(c)] {
			out = append(out, c)
		}
	}
	return out
}

func (a *diagnosticSetting) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	dests, err := diagnosticDestinations(t.Params)
	if err != nil {
		return nil, err
	}
	sub, err := subscriptionOf(t.Resource)
	if err != nil {
		return nil, err
	}
	c, err := a.f.diagnosticSettingsClient(ctx, sub)
	if err != nil {
		return nil, err
	}
	var settings []*armmonitor.DiagnosticSettingsResource
	pager := c.NewListPager("subscriptions/"+sub, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opDiagnosticSettingsRead, errorf(err))
		}
		for _, s := range page.Value {
			if s != nil && s.Name != nil {
				settings = append(settings, s)
			}
		}
	}
	sort.SliceStable(settings, func(i, j int) bool { return *settings[i].Name < *settings[j].Name })

	// The setting to amend: one with a destination and no category
	// groups (ARM does not mix groups and categories in one setting), the
	// fewest categories missing, by name.
	var pick *armmonitor.DiagnosticSettingsResource
	var pickMissing []string
	var grouped []string
	nameTaken := false
	for _, s := range settings {
		doc := diagnosticSettingProps(*s)
		missing := missingCategories(doc)
		if doc["has_destination"] == true && len(missing) == 0 {
			return &fix.Plan{NoOp: true, Before: map[string]any{},
				Steps: []string{"diagnostic setting " + *s.Name + " already exports the activity log of subscription " + sub + " with the " +
					strings.Join(requiredLogCategories, ", ") + " categories"}}, nil
		}
		if strings.EqualFold(*s.Name, vigilDiagnosticSetting) {
			nameTaken = true
		}
		if doc["has_destination"] != true {
			continue
		}
		if len(doc["enabled_category_groups"].([]any)) > 0 || usesCategoryGroups(s) {
			grouped = append(grouped, *s.Name)
			continue
		}
		if pick == nil || len(missing) < len(pickMissing) {
			pick, pickMissing = s, missing
		}
	}

	if pick != nil {
		props, err := jsonMap(deref(pick.Properties))
		if err != nil {
			return nil, err
		}
		prev, err := jsonMap(deref(pick.Properties))
		if err != nil {
			return nil, err
		}
		props["logs"] = enableCategories(props["logs"], pickMissing)
		name := *pick.Name
		step := fmt.Sprintf("enable the %s categories on diagnostic setting %s, which exports the activity log of subscription %s; its destinations and other categories stay as they are",
			strings.Join(pickMissing, ", "), name, sub)
		if len(dests) > 0 {
			step += " (the destination params are not used: they are for a new setting)"
		}
		body := map[string]any{"properties": props}
		return &fix.Plan{Steps: []string{step},
			Before: map[string]any{"mode": "update", "name": name, "setting": map[string]any{"properties": prev}},
			Calls:  []vigil.FixCall{{Operation: opDiagnosticSettingsWrite, Input: call("PUT", diagnosticSettingPath(sub, name), body)}}}, nil
	}

	if len(dests) == 0 {
		why := "subscription " + sub + " has no diagnostic setting exporting its activity log"
		if len(grouped) > 0 {
			why = "the diagnostic settings of subscription " + sub + " (" + strings.Join(grouped, ", ") +
				") select category groups, to which categories cannot be added"
		}
		return nil, vigil.Errorf(vigil.EINVALID, "azure.monitor.diagnostic-setting: %s; to create %s give its destination with param workspace_id (a Log Analytics workspace id), storage_account_id or event_hub_authorization_rule_id",
			why, vigilDiagnosticSetting)
	}
	if nameTaken {
		return nil, vigil.Errorf(vigil.ECONFLICT, "azure.monitor.diagnostic-setting: subscription %s already has a diagnostic setting named %s that Vigil cannot amend; remove or fix it first",
			sub, vigilDiagnosticSetting)
	}
	props := map[string]any{}
	var where []string
	for _, k := range []string{"workspaceId", "storageAccountId", "eventHubAuthorizationRuleId"} {
		if v, ok := dests[k]; ok {
			props[k] = v
			where = append(where, v.(string))
		}
	}
	logs := make([]any, 0, len(requiredLogCategories))
	for _, c := range requiredLogCategories {
		logs = append(logs, map[string]any{"category": c, "enabled": true})
	}
	props["logs"] = logs
	body := map[string]any{"properties": props}
	step := fmt.Sprintf("create diagnostic setting %s on subscription %s, exporting the %s categories of its activity log to %s",
		vigilDiagnosticSetting, sub, strings.Join(requiredLogCategories, ", "), strings.Join(where, " and "))
	return &fix.Plan{Steps: []string{step},
		Before: map[string]any{"mode": "create", "name": vigilDiagnosticSetting},
		Calls:  []vigil.FixCall{{Operation: opDiagnosticSettingsWrite, Input: call("PUT", diagnosticSettingPath(sub, vigilDiagnosticSetting), body)}}}, nil
}

// usesCategoryGroups reports whether any log entry of a setting selects a
// category group, enabled or not.
func usesCategoryGroups(s *armmonitor.DiagnosticSettingsResource) bool {
	for _, l := range deref(s.Properties).Logs {
		if l != nil && deref(l.CategoryGroup) != "" {
			return true
		}
	}
	return false
}

// enableCategories sets enabled on the log entries of the categories
// (appending an entry for a category the setting does not list) and
// leaves every other entry as it is.
func enableCategories(logs any, categories []string) []any {
	list, _ := logs.([]any)
	out := make([]any, 0, len(list)+len(categories))
	done := map[string]bool{}
	want := map[string]bool{}
	for _, c := range categories {
		want[strings.ToLower(c)] = true
	}
	for _, l := range list {
		m, ok := l.(map[string]any)
		if !ok {
			out = append(out, l)
			continue
		}
		cat, _ := m["category"].(string)
		if want[strings.ToLower(cat)] {
			cp := make(map[string]any, len(m))
			for k, v := range m {
				cp[k] = v
			}
			cp["enabled"] = true
			m = cp
			done[strings.ToLower(cat)] = true
		}
		out = append(out, m)
	}
	for _, c := range categories {
		if !done[strings.ToLower(c)] {
			out = append(out, map[string]any{"category": c, "enabled": true})
		}
	}
	return out
}

func (a *diagnosticSetting) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	name, _ := p.Before["name"].(string)
	return a.put(ctx, t.Resource, name, body, rec)
}

func (a *diagnosticSetting) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	name, _ := before["name"].(string)
	if name == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no diagnostic setting to restore")
	}
	switch before["mode"] {
	case "create":
		sub, err := subscriptionOf(t.Resource)
		if err != nil {
			return err
		}
		c, err := a.f.diagnosticSettingsClient(ctx, sub)
		if err != nil {
			return err
		}
		return rec.Do(opDiagnosticSettingsDelete, call("DELETE", diagnosticSettingPath(sub, name), nil), func() error {
			_, err := c.Delete(ctx, "subscriptions/"+sub, name, nil)
			return errorOf(err)
		})
	case "update":
		prev, ok := before["setting"].(map[string]any)
		if !ok {
			return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous diagnostic setting %s to restore", name)
		}
		return a.put(ctx, t.Resource, name, prev, rec)
	}
	return vigil.Errorf(vigil.EINVALID, "the fix recorded no diagnostic setting change to undo")
}

func (a *diagnosticSetting) put(ctx context.Context, r vigil.Resource, name string, body map[string]any, rec *fix.Recorder) error {
	if name == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix plan names no diagnostic setting")
	}
	sub, err := subscriptionOf(r)
	if err != nil {
		return err
	}
	c, err := a.f.diagnosticSettingsClient(ctx, sub)
	if err != nil {
		return err
	}
	var setting armmonitor.DiagnosticSettingsResource
	if err := fromJSON(body, &setting); err != nil {
		return vigil.Errorf(vigil.EINVALID, "diagnostic setting body: %v", err)
	}
	return rec.Do(opDiagnosticSettingsWrite, call("PUT", diagnosticSettingPath(sub, name), body), func() error {
		_, err := c.CreateOrUpdate(ctx, "subscriptions/"+sub, name, setting, nil)
		return errorOf(err)
	})
}

// activityLogAlert creates an enabled activity log alert on the whole
// subscription for one Administrative operation. Undo deletes it, or puts
// back the alert of the same name it replaced.
type activityLogAlert struct{ fixAction }

// operationName is an ARM operation: a namespace, resource types and a
// verb, such as Microsoft.Network/networkSecurityGroups/write.
var operationName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(/[A-Za-z0-9_.-]+)+$`)

// resourceGroupName is what ARM accepts as a resource group name.
var resourceGroupName = regexp.MustCompile(`^[-\w._()]{0,89}[-\w_()]$`)

// alertParams reads the operation (param operation, else the check's),
// the resource group and the optional action group.
func alertParams(t fix.Target) (op, rg, actionGroup string, err error) {
	const action = "azure.monitor.activity-log-alert"
	if v, ok := t.Params["operation"]; ok && v != nil {
		s, _ := v.(string)
		if !operationName.MatchString(strings.TrimSpace(s)) {
			return "", "", "", vigil.Errorf(vigil.EINVALID, "param operation of %s: %q is not an ARM operation name such as Microsoft.Network/networkSecurityGroups/write",
				action, fmt.Sprint(v))
		}
		op = strings.TrimSpace(s)
	} else if op = alertCheckOperations[t.CheckID]; op == "" {
		return "", "", "", vigil.Errorf(vigil.EINVALID, "%s: check %q names no operation; set param operation (such as Microsoft.Network/networkSecurityGroups/write)",
			action, t.CheckID)
	}
	v, ok := t.Params["resource_group"]
	if !ok || v == nil {
		return "", "", "", vigil.Errorf(vigil.EINVALID, "%s needs param resource_group: the existing resource group to create the alert rule in", action)
	}
	rg, _ = v.(string)
	rg = strings.TrimSpace(rg)
	if !resourceGroupName.MatchString(rg) {
		return "", "", "", vigil.Errorf(vigil.EINVALID, "param resource_group of %s: %q is not a resource group name", action, fmt.Sprint(v))
	}
	actionGroup, err = armIDParam(action, t.Params, "action_group_id", "Microsoft.Insights/actionGroups")
	return op, rg, actionGroup, err
}

// alertName is vigil-<the operation without its namespace>, lowercased:
// vigil-networksecuritygroups-write.
func alertName(op string) string {
	parts := strings.Split(op, "/")
	return "vigil-" + strings.ToLower(strings.Join(parts[1:], "-"))
}

// activityLogAlertPath is the alert's path as the SDK sends it (ARM
// compares paths case-insensitively; the plan shows the one on the wire).
func activityLogAlertPath(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourcegroups/" + rg + "/providers/Microsoft.Insights/activityLogAlerts/" + name
}

// resourceGroupExists reads a resource group with a plain GET through the
// remediation client's pipeline (the armresources module would be a
// dependency for this one call).
func (f *Fixer) resourceGroupExists(ctx context.Context, sub, rg string) (bool, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return false, err
	}
	c, err := arm.NewClient("armresources", "v1.2.0", cred, opts)
	if err != nil {
		return false, err
	}
	// The API name the SDK's own client would give the call, for tracing
	// and for tests that map calls to RBAC operations.
	ctx = context.WithValue(ctx, runtime.CtxAPINameKey{}, "ResourceGroupsClient.Get")
	req, err := runtime.NewRequest(ctx, http.MethodGet,
		runtime.JoinPaths(c.Endpoint(), "/subscriptions/"+url.PathEscape(sub)+"/resourcegroups/"+url.PathEscape(rg)))
	if err != nil {
		return false, err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", "2021-04-01")
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header["Accept"] = []string{"application/json"}
	resp, err := c.Pipeline().Do(req)
	if err != nil {
		return false, err
	}
	defer func() { _ = resp.Body.Close() }()
	if runtime.HasStatusCode(resp, http.StatusOK) {
		return true, nil
	}
	err = runtime.NewResponseError(resp)
	if classify(err) == vigil.ENOTFOUND {
		return false, nil
	}
	return false, err
}

func (a *activityLogAlert) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	op, rg, actionGroup, err := alertParams(t)
	if err != nil {
		return nil, err
	}
	sub, err := subscriptionOf(t.Resource)
	if err != nil {
		return nil, err
	}
	c, err := a.f.activityLogAlertsClient(ctx, sub)
	if err != nil {
		return nil, err
	}
	pager := c.NewListBySubscriptionIDPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", opActivityLogAlertsRead, errorf(err))
		}
		for _, al := range page.Value {
			if al == nil || al.ID == nil {
				continue
			}
			// The same test as the collector's activity_log_alert_operations.
			_, covered := alertProps(*al, sub)
			for _, o := range covered {
				if strings.EqualFold(o, op) {
					return &fix.Plan{NoOp: true, Before: map[string]any{},
						Steps: []string{"the enabled activity log alert " + deref(al.Name) + " already watches " + op + " on the whole subscription " + sub}}, nil
				}
			}
		}
	}
	ok, err := a.f.resourceGroupExists(ctx, sub, rg)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", opResourceGroupsRead, rg, errorf(err))
	}
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "param resource_group of azure.monitor.activity-log-alert: subscription %s has no resource group %q", sub, rg)
	}
	name := alertName(op)
	before := map[string]any{"mode": "create", "resource_group": rg, "name": name}
	replaces := ""
	prev, err := c.Get(ctx, rg, name, nil)
	switch {
	case err == nil:
		doc, err := jsonMap(prev.ActivityLogAlertResource)
		if err != nil {
			return nil, err
		}
		for _, k := range []string{"id", "name", "type", "systemData"} {
			delete(doc, k) // read-only: not part of a PUT
		}
		before["mode"], before["alert"] = "update", doc
		replaces = " (replacing the alert of that name there, which does not cover the operation; undo puts it back)"
	case classify(err) != vigil.ENOTFOUND:
		return nil, fmt.Errorf("%s %s: %w", opActivityLogAlertsRead, name, errorf(err))
	}
	groups := []any{}
	notify := "notifying action group " + actionGroup
	if actionGroup != "" {
		groups = append(groups, map[string]any{"actionGroupId": actionGroup})
	} else {
		notify = "with no action group: the alert will fire but notify no one (give param action_group_id to reach the security team)"
	}
	body := map[string]any{
		"location": "Global",
		"properties": map[string]any{
			"enabled":     true,
			"description": "Created by Vigil: fires on every " + op + " operation in the subscription.",
			"scopes":      []any{"/subscriptions/" + sub},
			"condition": map[string]any{"allOf": []any{
				map[string]any{"field": "category", "equals": "Administrative"},
				map[string]any{"field": "operationName", "equals": op},
			}},
			"actions": map[string]any{"actionGroups": groups},
		},
	}
	step := fmt.Sprintf("create activity log alert %s in resource group %s%s: enabled, location Global, on the whole subscription %s, for operation %s (category Administrative), %s",
		name, rg, replaces, sub, op, notify)
	return &fix.Plan{Before: before, Steps: []string{step},
		Calls: []vigil.FixCall{{Operation: opActivityLogAlertsWrite, Input: call("PUT", activityLogAlertPath(sub, rg, name), body)}}}, nil
}

func (a *activityLogAlert) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	rg, _ := p.Before["resource_group"].(string)
	name, _ := p.Before["name"].(string)
	return a.put(ctx, t.Resource, rg, name, body, rec)
}

func (a *activityLogAlert) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	rg, _ := before["resource_group"].(string)
	name, _ := before["name"].(string)
	if rg == "" || name == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no activity log alert to remove")
	}
	switch before["mode"] {
	case "create":
		sub, err := subscriptionOf(t.Resource)
		if err != nil {
			return err
		}
		c, err := a.f.activityLogAlertsClient(ctx, sub)
		if err != nil {
			return err
		}
		return rec.Do(opActivityLogAlertsDelete, call("DELETE", activityLogAlertPath(sub, rg, name), nil), func() error {
			_, err := c.Delete(ctx, rg, name, nil)
			return errorOf(err)
		})
	case "update":
		prev, ok := before["alert"].(map[string]any)
		if !ok {
			return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous activity log alert %s to restore", name)
		}
		return a.put(ctx, t.Resource, rg, name, prev, rec)
	}
	return vigil.Errorf(vigil.EINVALID, "the fix recorded no activity log alert change to undo")
}

func (a *activityLogAlert) put(ctx context.Context, r vigil.Resource, rg, name string, body map[string]any, rec *fix.Recorder) error {
	if rg == "" || name == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix plan names no activity log alert")
	}
	sub, err := subscriptionOf(r)
	if err != nil {
		return err
	}
	c, err := a.f.activityLogAlertsClient(ctx, sub)
	if err != nil {
		return err
	}
	var alert armmonitor.ActivityLogAlertResource
	if err := fromJSON(body, &alert); err != nil {
		return vigil.Errorf(vigil.EINVALID, "activity log alert body: %v", err)
	}
	return rec.Do(opActivityLogAlertsWrite, call("PUT", activityLogAlertPath(sub, rg, name), body), func() error {
		_, err := c.CreateOrUpdate(ctx, rg, name, alert, nil)
		return errorOf(err)
	})
}
