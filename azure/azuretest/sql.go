package azuretest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"
	sqlfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql/fake"
)

// Tables of the Microsoft.Sql namespace. Per-server singletons (auditing
// settings, encryption protector, …) are keyed by their own ARM id, such as
// {server id}/auditingSettings/default.
const (
	tableSQLServers        = "sql.servers"
	tableSQLFirewallRules  = "sql.firewallRules"
	tableSQLAuditing       = "sql.auditingSettings"
	tableSQLAdmins         = "sql.administrators"
	tableSQLProtectors     = "sql.encryptionProtector"
	tableSQLAlertPolicies  = "sql.securityAlertPolicies"
	tableSQLVulnAssessment = "sql.vulnerabilityAssessments"
	tableSQLDatabases      = "sql.databases"
	tableSQLTDE            = "sql.transparentDataEncryption"
)

func init() {
	RegisterNamespace("Microsoft.Sql", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"sqlServers":                   sqlkvLoad[armsql.Server](tableSQLServers, func(v *armsql.Server) *string { return v.ID }),
			"sqlFirewallRules":             sqlkvLoad[armsql.FirewallRule](tableSQLFirewallRules, func(v *armsql.FirewallRule) *string { return v.ID }),
			"sqlAuditingSettings":          sqlkvLoad[armsql.ServerBlobAuditingPolicy](tableSQLAuditing, func(v *armsql.ServerBlobAuditingPolicy) *string { return v.ID }),
			"sqlAdministrators":            sqlkvLoad[armsql.ServerAzureADAdministrator](tableSQLAdmins, func(v *armsql.ServerAzureADAdministrator) *string { return v.ID }),
			"sqlEncryptionProtectors":      sqlkvLoad[armsql.EncryptionProtector](tableSQLProtectors, func(v *armsql.EncryptionProtector) *string { return v.ID }),
			"sqlSecurityAlertPolicies":     sqlkvLoad[armsql.ServerSecurityAlertPolicy](tableSQLAlertPolicies, func(v *armsql.ServerSecurityAlertPolicy) *string { return v.ID }),
			"sqlVulnerabilityAssessments":  sqlkvLoad[armsql.ServerVulnerabilityAssessment](tableSQLVulnAssessment, func(v *armsql.ServerVulnerabilityAssessment) *string { return v.ID }),
			"sqlDatabases":                 sqlkvLoad[armsql.Database](tableSQLDatabases, func(v *armsql.Database) *string { return v.ID }),
			"sqlTransparentDataEncryption": sqlkvLoad[armsql.LogicalDatabaseTransparentDataEncryption](tableSQLTDE, func(v *armsql.LogicalDatabaseTransparentDataEncryption) *string { return v.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return sqlfake.NewServerFactoryTransport(e.sqlServer(sub))
		},
	})
}

// sqlkvLoad returns a fixture loader that stores each entry, which must have
// an id, in table.
func sqlkvLoad[T any](table string, id func(*T) *string) func(*Estate, json.RawMessage) error {
	return func(e *Estate, raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("want an ARM resource: %w", err)
		}
		if id(&v) == nil {
			return fmt.Errorf("want an ARM resource with id")
		}
		Put(e, Table[T](e, table), *id(&v), v)
		return nil
	}
}

// PutSQLServer adds or replaces a SQL logical server.
func (e *Estate) PutSQLServer(s armsql.Server) {
	Put(e, Table[armsql.Server](e, tableSQLServers), *s.ID, s)
}

// SQLAuditing returns a copy of a server's auditing settings as last
// written (nil when never set).
func (e *Estate) SQLAuditing(serverID string) (armsql.ServerBlobAuditingPolicy, bool) {
	return Get(e, Table[armsql.ServerBlobAuditingPolicy](e, tableSQLAuditing), serverID+"/auditingSettings/default")
}

func sqlServerIDOf(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Sql/servers/" + name
}

// sqlServer serves Microsoft.Sql for one subscription: servers, their
// firewall rules, auditing, Entra administrators, TDE protector, Defender
// policies, databases and their TDE state. Singletons never set answer
// what ARM answers for a new server (auditing, alerts and vulnerability
// assessment off, service-managed TDE protector, TDE on).
func (e *Estate) sqlServer(sub string) *sqlfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	servers := Table[armsql.Server](e, tableSQLServers)
	rules := Table[armsql.FirewallRule](e, tableSQLFirewallRules)
	audits := Table[armsql.ServerBlobAuditingPolicy](e, tableSQLAuditing)
	admins := Table[armsql.ServerAzureADAdministrator](e, tableSQLAdmins)
	protectors := Table[armsql.EncryptionProtector](e, tableSQLProtectors)
	alerts := Table[armsql.ServerSecurityAlertPolicy](e, tableSQLAlertPolicies)
	vas := Table[armsql.ServerVulnerabilityAssessment](e, tableSQLVulnAssessment)
	dbs := Table[armsql.Database](e, tableSQLDatabases)
	tdes := Table[armsql.LogicalDatabaseTransparentDataEncryption](e, tableSQLTDE)
	exists := func(rg, name string) bool {
		_, ok := Get(e, servers, sqlServerIDOf(sub, rg, name))
		return ok
	}
	notFound := func(errResp *azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	}
	return &sqlfake.ServerFactory{
		ServersServer: sqlfake.ServersServer{
			NewListPager: func(*armsql.ServersClientListOptions) (resp azfake.PagerResponder[armsql.ServersClientListResponse]) {
				for _, page := range Pages(e, List(e, servers, prefix)) {
					resp.AddPage(http.StatusOK, armsql.ServersClientListResponse{ServerListResult: armsql.ServerListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armsql.ServersClientGetOptions) (resp azfake.Responder[armsql.ServersClientGetResponse], errResp azfake.ErrorResponder) {
				s, ok := Get(e, servers, sqlServerIDOf(sub, rg, name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armsql.ServersClientGetResponse{Server: s}, nil)
				return
			},
		},
		FirewallRulesServer: sqlfake.FirewallRulesServer{
			NewListByServerPager: func(rg, name string, _ *armsql.FirewallRulesClientListByServerOptions) (resp azfake.PagerResponder[armsql.FirewallRulesClientListByServerResponse]) {
				if !exists(rg, name) {
					resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				for _, page := range Pages(e, List(e, rules, sqlServerIDOf(sub, rg, name)+"/firewallRules/")) {
					resp.AddPage(http.StatusOK, armsql.FirewallRulesClientListByServerResponse{FirewallRuleListResult: armsql.FirewallRuleListResult{Value: page}}, nil)
				}
				return resp
			},
			CreateOrUpdate: func(_ context.Context, rg, name, rule string, p armsql.FirewallRule, _ *armsql.FirewallRulesClientCreateOrUpdateOptions) (resp azfake.Responder[armsql.FirewallRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/firewallRules/" + rule
				p.ID, p.Name, p.Type = ptr(id), ptr(rule), ptr("Microsoft.Sql/servers/firewallRules")
				Put(e, rules, id, p)
				resp.SetResponse(http.StatusOK, armsql.FirewallRulesClientCreateOrUpdateResponse{FirewallRule: p}, nil)
				return
			},
			Delete: func(_ context.Context, rg, name, rule string, _ *armsql.FirewallRulesClientDeleteOptions) (resp azfake.Responder[armsql.FirewallRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
				Delete(e, rules, sqlServerIDOf(sub, rg, name)+"/firewallRules/"+rule)
				resp.SetResponse(http.StatusOK, armsql.FirewallRulesClientDeleteResponse{}, nil)
				return
			},
		},
		ServerBlobAuditingPoliciesServer: sqlfake.ServerBlobAuditingPoliciesServer{
			Get: func(_ context.Context, rg, name string, _ *armsql.ServerBlobAuditingPoliciesClientGetOptions) (resp azfake.Responder[armsql.ServerBlobAuditingPoliciesClientGetResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/auditingSettings/default"
				a, ok := Get(e, audits, id)
				if !ok {
					a = armsql.ServerBlobAuditingPolicy{ID: ptr(id), Name: ptr("default"), Type: ptr("Microsoft.Sql/servers/auditingSettings"),
						Properties: &armsql.ServerBlobAuditingPolicyProperties{State: ptr(armsql.BlobAuditingPolicyStateDisabled), RetentionDays: ptr[int32](0)}}
				}
				resp.SetResponse(http.StatusOK, armsql.ServerBlobAuditingPoliciesClientGetResponse{ServerBlobAuditingPolicy: a}, nil)
				return
			},
			// A PUT replaces the settings, as ARM's does; the storage
			// account key it may carry is write-only and never read back.
			BeginCreateOrUpdate: func(_ context.Context, rg, name string, p armsql.ServerBlobAuditingPolicy, _ *armsql.ServerBlobAuditingPoliciesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armsql.ServerBlobAuditingPoliciesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/auditingSettings/default"
				p.ID, p.Name, p.Type = ptr(id), ptr("default"), ptr("Microsoft.Sql/servers/auditingSettings")
				if p.Properties != nil {
					p.Properties.StorageAccountAccessKey = nil
				}
				Put(e, audits, id, p)
				got, _ := Get(e, audits, id)
				resp.SetTerminalResponse(http.StatusOK, armsql.ServerBlobAuditingPoliciesClientCreateOrUpdateResponse{ServerBlobAuditingPolicy: got}, nil)
				return
			},
		},
		ServerAzureADAdministratorsServer: sqlfake.ServerAzureADAdministratorsServer{
			NewListByServerPager: func(rg, name string, _ *armsql.ServerAzureADAdministratorsClientListByServerOptions) (resp azfake.PagerResponder[armsql.ServerAzureADAdministratorsClientListByServerResponse]) {
				if !exists(rg, name) {
					resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				for _, page := range Pages(e, List(e, admins, sqlServerIDOf(sub, rg, name)+"/administrators/")) {
					resp.AddPage(http.StatusOK, armsql.ServerAzureADAdministratorsClientListByServerResponse{AdministratorListResult: armsql.AdministratorListResult{Value: page}}, nil)
				}
				return resp
			},
		},
		EncryptionProtectorsServer: sqlfake.EncryptionProtectorsServer{
			Get: func(_ context.Context, rg, name string, _ armsql.EncryptionProtectorName, _ *armsql.EncryptionProtectorsClientGetOptions) (resp azfake.Responder[armsql.EncryptionProtectorsClientGetResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/encryptionProtector/current"
				p, ok := Get(e, protectors, id)
				if !ok {
					p = armsql.EncryptionProtector{ID: ptr(id), Name: ptr("current"), Kind: ptr("servicemanaged"),
						Type: ptr("Microsoft.Sql/servers/encryptionProtector"),
						Properties: &armsql.EncryptionProtectorProperties{ServerKeyType: ptr(armsql.ServerKeyTypeServiceManaged),
							ServerKeyName: ptr("ServiceManaged"), AutoRotationEnabled: ptr(false)}}
				}
				resp.SetResponse(http.StatusOK, armsql.EncryptionProtectorsClientGetResponse{EncryptionProtector: p}, nil)
				return
			},
		},
		ServerSecurityAlertPoliciesServer: sqlfake.ServerSecurityAlertPoliciesServer{
			Get: func(_ context.Context, rg, name string, _ armsql.SecurityAlertPolicyName, _ *armsql.ServerSecurityAlertPoliciesClientGetOptions) (resp azfake.Responder[armsql.ServerSecurityAlertPoliciesClientGetResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/securityAlertPolicies/Default"
				p, ok := Get(e, alerts, id)
				if !ok {
					p = armsql.ServerSecurityAlertPolicy{ID: ptr(id), Name: ptr("Default"), Type: ptr("Microsoft.Sql/servers/securityAlertPolicies"),
						Properties: &armsql.SecurityAlertsPolicyProperties{State: ptr(armsql.SecurityAlertsPolicyStateDisabled),
							DisabledAlerts: []*string{}, EmailAddresses: []*string{}, EmailAccountAdmins: ptr(false), RetentionDays: ptr[int32](0)}}
				}
				resp.SetResponse(http.StatusOK, armsql.ServerSecurityAlertPoliciesClientGetResponse{ServerSecurityAlertPolicy: p}, nil)
				return
			},
		},
		ServerVulnerabilityAssessmentsServer: sqlfake.ServerVulnerabilityAssessmentsServer{
			Get: func(_ context.Context, rg, name string, _ armsql.VulnerabilityAssessmentName, _ *armsql.ServerVulnerabilityAssessmentsClientGetOptions) (resp azfake.Responder[armsql.ServerVulnerabilityAssessmentsClientGetResponse], errResp azfake.ErrorResponder) {
				if !exists(rg, name) {
					notFound(&errResp)
					return
				}
				id := sqlServerIDOf(sub, rg, name) + "/vulnerabilityAssessments/Default"
				v, ok := Get(e, vas, id)
				if !ok {
					v = armsql.ServerVulnerabilityAssessment{ID: ptr(id), Name: ptr("Default"), Type: ptr("Microsoft.Sql/servers/vulnerabilityAssessments"),
						Properties: &armsql.ServerVulnerabilityAssessmentProperties{RecurringScans: &armsql.VulnerabilityAssessmentRecurringScansProperties{
							IsEnabled: ptr(false), EmailSubscriptionAdmins: ptr(true), Emails: []*string{}}}}
				}
				resp.SetResponse(http.StatusOK, armsql.ServerVulnerabilityAssessmentsClientGetResponse{ServerVulnerabilityAssessment: v}, nil)
				return
			},
		},
		DatabasesServer: sqlfake.DatabasesServer{
			NewListByServerPager: func(rg, name string, _ *armsql.DatabasesClientListByServerOptions) (resp azfake.PagerResponder[armsql.DatabasesClientListByServerResponse]) {
				if !exists(rg, name) {
					resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				for _, page := range Pages(e, List(e, dbs, sqlServerIDOf(sub, rg, name)+"/databases/")) {
					resp.AddPage(http.StatusOK, armsql.DatabasesClientListByServerResponse{DatabaseListResult: armsql.DatabaseListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, server, name string, _ *armsql.DatabasesClientGetOptions) (resp azfake.Responder[armsql.DatabasesClientGetResponse], errResp azfake.ErrorResponder) {
				d, ok := Get(e, dbs, sqlServerIDOf(sub, rg, server)+"/databases/"+name)
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armsql.DatabasesClientGetResponse{Database: d}, nil)
				return
			},
		},
		TransparentDataEncryptionsServer: sqlfake.TransparentDataEncryptionsServer{
			Get: func(_ context.Context, rg, server, name string, _ armsql.TransparentDataEncryptionName, _ *armsql.TransparentDataEncryptionsClientGetOptions) (resp azfake.Responder[armsql.TransparentDataEncryptionsClientGetResponse], errResp azfake.ErrorResponder) {
				dbID := sqlServerIDOf(sub, rg, server) + "/databases/" + name
				if _, ok := Get(e, dbs, dbID); !ok {
					notFound(&errResp)
					return
				}
				id := dbID + "/transparentDataEncryption/Current"
				t, ok := Get(e, tdes, id)
				if !ok {
					t = armsql.LogicalDatabaseTransparentDataEncryption{ID: ptr(id), Name: ptr("Current"),
						Type:       ptr("Microsoft.Sql/servers/databases/transparentDataEncryption"),
						Properties: &armsql.TransparentDataEncryptionProperties{State: ptr(armsql.TransparentDataEncryptionStateEnabled)}}
				}
				resp.SetResponse(http.StatusOK, armsql.TransparentDataEncryptionsClientGetResponse{LogicalDatabaseTransparentDataEncryption: t}, nil)
				return
			},
		},
	}
}
