package azuretest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	monfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor/fake"
)

// Tables of Microsoft.Insights, keyed by ARM id.
const (
	tableDiagnosticSettings = "insights.diagnosticSettings"
	tableActivityLogAlerts  = "insights.activityLogAlerts"
)

func init() {
	RegisterNamespace("Microsoft.Insights", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"diagnosticSettings": loadKeyedModel[armmonitor.DiagnosticSettingsResource](tableDiagnosticSettings,
				func(d *armmonitor.DiagnosticSettingsResource) *string { return d.ID }),
			"activityLogAlerts": loadKeyedModel[armmonitor.ActivityLogAlertResource](tableActivityLogAlerts,
				func(a *armmonitor.ActivityLogAlertResource) *string { return a.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return monfake.NewServerFactoryTransport(e.insightsServer(sub))
		},
	})
}

// DiagnosticSetting returns the diagnostic setting stored under id
// ({resource uri}/providers/Microsoft.Insights/diagnosticSettings/{name}).
func (e *Estate) DiagnosticSetting(id string) (armmonitor.DiagnosticSettingsResource, bool) {
	return Get(e, Table[armmonitor.DiagnosticSettingsResource](e, tableDiagnosticSettings), id)
}

// ActivityLogAlert returns the activity log alert stored under id.
func (e *Estate) ActivityLogAlert(id string) (armmonitor.ActivityLogAlertResource, bool) {
	return Get(e, Table[armmonitor.ActivityLogAlertResource](e, tableActivityLogAlerts), id)
}

func activityLogAlertID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Insights/activityLogAlerts/" + name
}

// insightsServer serves Microsoft.Insights for one subscription:
// diagnostic settings of any resource uri (the subscription's own are the
// activity log's export) and activity log alerts, with the PUTs that fixes
// send.
func (e *Estate) insightsServer(sub string) *monfake.ServerFactory {
	settings := Table[armmonitor.DiagnosticSettingsResource](e, tableDiagnosticSettings)
	alerts := Table[armmonitor.ActivityLogAlertResource](e, tableActivityLogAlerts)
	settingsOf := func(uri string) string {
		return "/" + strings.Trim(uri, "/") + "/providers/Microsoft.Insights/diagnosticSettings/"
	}
	return &monfake.ServerFactory{
		DiagnosticSettingsServer: monfake.DiagnosticSettingsServer{
			NewListPager: func(uri string, _ *armmonitor.DiagnosticSettingsClientListOptions) (resp azfake.PagerResponder[armmonitor.DiagnosticSettingsClientListResponse]) {
				for _, page := range Pages(e, List(e, settings, settingsOf(uri))) {
					resp.AddPage(http.StatusOK, armmonitor.DiagnosticSettingsClientListResponse{
						DiagnosticSettingsResourceCollection: armmonitor.DiagnosticSettingsResourceCollection{Value: page}}, nil)
				}
				return
			},
			Get: func(_ context.Context, uri, name string, _ *armmonitor.DiagnosticSettingsClientGetOptions) (resp azfake.Responder[armmonitor.DiagnosticSettingsClientGetResponse], errResp azfake.ErrorResponder) {
				d, ok := Get(e, settings, settingsOf(uri)+name)
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armmonitor.DiagnosticSettingsClientGetResponse{DiagnosticSettingsResource: d}, nil)
				return
			},
			CreateOrUpdate: func(_ context.Context, uri, name string, d armmonitor.DiagnosticSettingsResource, _ *armmonitor.DiagnosticSettingsClientCreateOrUpdateOptions) (resp azfake.Responder[armmonitor.DiagnosticSettingsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				p := d.Properties
				if p == nil || (p.StorageAccountID == nil && p.WorkspaceID == nil && p.EventHubAuthorizationRuleID == nil && p.MarketplacePartnerID == nil) {
					// ARM refuses a setting without a destination.
					errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
					return
				}
				id := settingsOf(uri) + name
				d.ID, d.Name, d.Type = ptr(id), ptr(name), ptr("Microsoft.Insights/diagnosticSettings")
				Put(e, settings, id, d)
				got, _ := Get(e, settings, id)
				resp.SetResponse(http.StatusOK, armmonitor.DiagnosticSettingsClientCreateOrUpdateResponse{DiagnosticSettingsResource: got}, nil)
				return
			},
			Delete: func(_ context.Context, uri, name string, _ *armmonitor.DiagnosticSettingsClientDeleteOptions) (resp azfake.Responder[armmonitor.DiagnosticSettingsClientDeleteResponse], errResp azfake.ErrorResponder) {
				Delete(e, settings, settingsOf(uri)+name)
				resp.SetResponse(http.StatusOK, armmonitor.DiagnosticSettingsClientDeleteResponse{}, nil)
				return
			},
		},
		ActivityLogAlertsServer: monfake.ActivityLogAlertsServer{
			NewListBySubscriptionIDPager: func(*armmonitor.ActivityLogAlertsClientListBySubscriptionIDOptions) (resp azfake.PagerResponder[armmonitor.ActivityLogAlertsClientListBySubscriptionIDResponse]) {
				for _, page := range Pages(e, List(e, alerts, "/subscriptions/"+sub+"/")) {
					resp.AddPage(http.StatusOK, armmonitor.ActivityLogAlertsClientListBySubscriptionIDResponse{
						AlertRuleList: armmonitor.AlertRuleList{Value: page}}, nil)
				}
				return
			},
			Get: func(_ context.Context, rg, name string, _ *armmonitor.ActivityLogAlertsClientGetOptions) (resp azfake.Responder[armmonitor.ActivityLogAlertsClientGetResponse], errResp azfake.ErrorResponder) {
				a, ok := Get(e, alerts, activityLogAlertID(sub, rg, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armmonitor.ActivityLogAlertsClientGetResponse{ActivityLogAlertResource: a}, nil)
				return
			},
			CreateOrUpdate: func(_ context.Context, rg, name string, a armmonitor.ActivityLogAlertResource, _ *armmonitor.ActivityLogAlertsClientCreateOrUpdateOptions) (resp azfake.Responder[armmonitor.ActivityLogAlertsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				if a.Properties == nil || len(a.Properties.Scopes) == 0 || a.Properties.Condition == nil {
					errResp.SetResponseError(http.StatusBadRequest, "InvalidRequestContent")
					return
				}
				id := activityLogAlertID(sub, rg, name)
				if cur, ok := Get(e, alerts, id); ok && cur.ID != nil {
					id = *cur.ID
				}
				if a.Properties.Enabled == nil {
					a.Properties.Enabled = ptr(true) // ARM's default
				}
				a.ID, a.Name, a.Type = ptr(id), ptr(name), ptr("Microsoft.Insights/ActivityLogAlerts")
				if a.Location == nil {
					a.Location = ptr("global")
				}
				Put(e, alerts, id, a)
				got, _ := Get(e, alerts, id)
				resp.SetResponse(http.StatusCreated, armmonitor.ActivityLogAlertsClientCreateOrUpdateResponse{ActivityLogAlertResource: got}, nil)
				return
			},
			Delete: func(_ context.Context, rg, name string, _ *armmonitor.ActivityLogAlertsClientDeleteOptions) (resp azfake.Responder[armmonitor.ActivityLogAlertsClientDeleteResponse], errResp azfake.ErrorResponder) {
				Delete(e, alerts, activityLogAlertID(sub, rg, name))
				resp.SetResponse(http.StatusOK, armmonitor.ActivityLogAlertsClientDeleteResponse{}, nil)
				return
			},
		},
	}
}
