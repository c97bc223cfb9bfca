package azure

import (
	"context"
	"errors"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/vigilsec/vigil"
)

// SQL resource types.
const (
	TypeSQLServer   = "azure.sql.server"
	TypeSQLDatabase = "azure.sql.database"
)

// ARM operations of the SQL collector, as named in Azure RBAC.
const (
	opSQLServersRead     = "Microsoft.Sql/servers/read"
	opSQLFirewallRead    = "Microsoft.Sql/servers/firewallRules/read"
	opSQLAuditingRead    = "Microsoft.Sql/servers/auditingSettings/read"
	opSQLAdminsRead      = "Microsoft.Sql/servers/administrators/read"
	opSQLProtectorRead   = "Microsoft.Sql/servers/encryptionProtector/read"
	opSQLAlertsRead      = "Microsoft.Sql/servers/securityAlertPolicies/read"
	opSQLVARead          = "Microsoft.Sql/servers/vulnerabilityAssessments/read"
	opSQLDatabasesRead   = "Microsoft.Sql/servers/databases/read"
	opSQLDatabaseTDERead = "Microsoft.Sql/servers/databases/transparentDataEncryption/read"
)

func init() {
	register(&service{
		name:    "sql",
		types:   []string{TypeSQLServer, TypeSQLDatabase},
		collect: collectSQL,
		get:     getSQL,
	})
	// Written here rather than in limits.go so that each service file
	// registers itself; init runs before any read.
	namespaceService["microsoft.sql"] = "sql"
}

// collectSQL streams every SQL logical server of the subscription, page by
// page; each server is followed by its databases.
func collectSQL(ctx context.Context, t *task) error {
	f, err := armsql.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opSQLServersRead, err)
	}
	pager := f.NewServersClient().NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return withOp(opSQLServersRead, err)
		}
		for _, s := range page.Value {
			if s == nil || s.ID == nil {
				continue
			}
			if err := t.emit(ctx, t.sqlServer(ctx, f, *s)); err != nil {
				return err
			}
			if err := t.listSQLDatabases(ctx, f, *s); err != nil {
				var stop stopError
				if errors.As(err, &stop) || ctx.Err() != nil {
					return err
				}
				t.listFailed(TypeSQLDatabase, opSQLDatabasesRead, err)
			}
		}
	}
	return nil
}

// sqlServer builds the azure.sql.server resource from a listed (or got)
// server and reads its per-server settings, each of which fails on its own.
func (t *task) sqlServer(ctx context.Context, f *armsql.ClientFactory, s armsql.Server) vigil.Resource {
	id := deref(s.ID)
	rg, name := resourceGroupOf(id), deref(s.Name)
	r := vigil.Resource{
		UID: id, Type: TypeSQLServer, Name: name, Region: deref(s.Location),
		Tags: tags(s.Tags), Properties: sqlServerProps(s, rg),
	}
	if fw, err := sqlFirewall(ctx, f, rg, name); err != nil {
		t.propErr(&r, "firewall", opSQLFirewallRead, err)
	} else {
		r.Properties["firewall"] = fw
	}
	if a, err := f.NewServerBlobAuditingPoliciesClient().Get(ctx, rg, name, nil); err != nil {
		t.propErr(&r, "auditing", opSQLAuditingRead, err)
	} else {
		r.Properties["auditing"] = sqlAuditingProps(a.Properties)
	}
	if adm, err := sqlEntraAdmin(ctx, f, rg, name); err != nil {
		t.propErr(&r, "entra_admin", opSQLAdminsRead, err)
	} else {
		r.Properties["entra_admin"] = adm
	}
	if p, err := f.NewEncryptionProtectorsClient().Get(ctx, rg, name, armsql.EncryptionProtectorNameCurrent, nil); err != nil {
		t.propErr(&r, "tde_protector", opSQLProtectorRead, err)
	} else {
		r.Properties["tde_protector"] = sqlProtectorProps(p.Properties)
	}
	if p, err := f.NewServerSecurityAlertPoliciesClient().Get(ctx, rg, name, armsql.SecurityAlertPolicyNameDefault, nil); err != nil {
		t.propErr(&r, "threat_protection", opSQLAlertsRead, err)
	} else {
		r.Properties["threat_protection"] = sqlAlertProps(p.Properties)
	}
	if v, err := f.NewServerVulnerabilityAssessmentsClient().Get(ctx, rg, name, armsql.VulnerabilityAssessmentNameDefault, nil); err != nil {
		t.propErr(&r, "vulnerability_assessment", opSQLVARead, err)
	} else {
		r.Properties["vulnerability_assessment"] = sqlVAProps(v.Properties)
	}
	return r
}

// sqlServerProps is the part of the azure.sql.server document that the
// server itself carries.
func sqlServerProps(s armsql.Server, rg string) map[string]any {
	p := deref(s.Properties)
	props := map[string]any{
		"resource_group":        rg,
		"version":               deref(p.Version),
		"state":                 deref(p.State),
		"fqdn":                  deref(p.FullyQualifiedDomainName),
		"administrator_login":   deref(p.AdministratorLogin),
		"public_network_access": string(deref(p.PublicNetworkAccess)),
		// "None" is ARM's word for no minimum: clients may use TLS 1.0.
		"minimal_tls_version":              deref(p.MinimalTLSVersion),
		"restrict_outbound_network_access": deref(p.RestrictOutboundNetworkAccess) == armsql.ServerNetworkAccessFlagEnabled,
		"private_endpoint_connections":     len(p.PrivateEndpointConnections),
	}
	// Unset means Enabled: ARM leaves the field out of servers created
	// before it existed, and those accept public connections.
	if props["public_network_access"] == "" {
		props["public_network_access"] = string(armsql.ServerNetworkAccessFlagEnabled)
	}
	if props["minimal_tls_version"] == "" {
		props["minimal_tls_version"] = "None"
	}
	return props
}

// sqlFirewall reads and normalizes the server's firewall rules. ARM's
// special rule 0.0.0.0–0.0.0.0 ("Allow Azure services and resources to
// access this server") admits every Azure tenant's traffic.
func sqlFirewall(ctx context.Context, f *armsql.ClientFactory, rg, server string) (map[string]any, error) {
	rules := []any{}
	allowAzure, allowAny := false, false
	pager := f.NewFirewallRulesClient().NewListByServerPager(rg, server, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range page.Value {
			if r == nil {
				continue
			}
			p := deref(r.Properties)
			start, end := deref(p.StartIPAddress), deref(p.EndIPAddress)
			rules = append(rules, map[string]any{"name": deref(r.Name), "start_ip": start, "end_ip": end})
			switch {
			case start == "0.0.0.0" && end == "0.0.0.0":
				allowAzure = true
			case start == "0.0.0.0" && end == "255.255.255.255":
				allowAny = true
			}
		}
	}
	return map[string]any{"rules": rules, "allow_all_azure": allowAzure, "allow_any": allowAny}, nil
}

// sqlAuditingProps normalizes the server auditing settings. Retention 0
// means the storage destination keeps audit logs forever. The storage
// account key is write-only and never part of the document.
func sqlAuditingProps(a *armsql.ServerBlobAuditingPolicyProperties) map[string]any {
	p := deref(a)
	state := string(deref(p.State))
	if state == "" {
		state = string(armsql.BlobAuditingPolicyStateDisabled)
	}
	dest := []any{}
	if deref(p.StorageEndpoint) != "" {
		dest = append(dest, "storage")
	}
	// Log Analytics and Event Hubs receive audit logs through the
	// server's master-database diagnostic settings; ARM only says that
	// Azure Monitor is a target.
	if deref(p.IsAzureMonitorTargetEnabled) {
		dest = append(dest, "azure_monitor")
	}
	var groups []any
	for _, g := range p.AuditActionsAndGroups {
		if g != nil {
			groups = append(groups, *g)
		}
	}
	return map[string]any{
		"state":                    state,
		"enabled":                  state == string(armsql.BlobAuditingPolicyStateEnabled),
		"retention_days":           int(deref(p.RetentionDays)),
		"destinations":             dest,
		"storage_endpoint":         deref(p.StorageEndpoint),
		"audit_actions_and_groups": orEmpty(groups),
	}
}

// sqlEntraAdmin reads the server's Microsoft Entra administrator; a server
// has at most one (named ActiveDirectory).
func sqlEntraAdmin(ctx context.Context, f *armsql.ClientFactory, rg, server string) (map[string]any, error) {
	out := map[string]any{
		"configured": false, "login": "", "sid": "", "tenant_id": "", "administrator_type": "",
		"azure_ad_only_authentication": false,
	}
	pager := f.NewServerAzureADAdministratorsClient().NewListByServerPager(rg, server, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range page.Value {
			if a == nil || a.Properties == nil {
				continue
			}
			p := a.Properties
			out["configured"] = deref(p.Login) != "" || deref(p.Sid) != ""
			out["login"], out["sid"], out["tenant_id"] = deref(p.Login), deref(p.Sid), deref(p.TenantID)
			out["administrator_type"] = string(deref(p.AdministratorType))
			out["azure_ad_only_authentication"] = deref(p.AzureADOnlyAuthentication)
		}
	}
	return out, nil
}

// sqlProtectorProps normalizes the TDE protector: the key that wraps every
// database encryption key of the server.
func sqlProtectorProps(e *armsql.EncryptionProtectorProperties) map[string]any {
	p := deref(e)
	kt := string(deref(p.ServerKeyType))
	if kt == "" {
		kt = string(armsql.ServerKeyTypeServiceManaged)
	}
	return map[string]any{
		"key_type":              kt,
		"customer_managed":      kt == string(armsql.ServerKeyTypeAzureKeyVault),
		"server_key_name":       deref(p.ServerKeyName),
		"key_uri":               deref(p.URI),
		"auto_rotation_enabled": deref(p.AutoRotationEnabled),
	}
}

// sqlAlertProps normalizes the server's security alert policy (Microsoft
// Defender for SQL's Advanced Threat Protection).
func sqlAlertProps(a *armsql.SecurityAlertsPolicyProperties) map[string]any {
	p := deref(a)
	state := string(deref(p.State))
	if state == "" {
		state = string(armsql.SecurityAlertsPolicyStateDisabled)
	}
	strs := func(in []*string) []any {
		var out []any
		for _, s := range in {
			if s != nil && *s != "" {
				out = append(out, *s)
			}
		}
		return orEmpty(out)
	}
	return map[string]any{
		"state":                state,
		"enabled":              state == string(armsql.SecurityAlertsPolicyStateEnabled),
		"disabled_alerts":      strs(p.DisabledAlerts),
		"email_account_admins": deref(p.EmailAccountAdmins),
		"email_addresses":      strs(p.EmailAddresses),
	}
}

// sqlVAProps normalizes the server's vulnerability assessment settings; it
// is configured when a storage container receives the scan results. The
// SAS and account keys are write-only and never part of the document.
func sqlVAProps(v *armsql.ServerVulnerabilityAssessmentProperties) map[string]any {
	p := deref(v)
	rs := deref(p.RecurringScans)
	var emails []any
	for _, e := range rs.Emails {
		if e != nil && *e != "" {
			emails = append(emails, *e)
		}
	}
	return map[string]any{
		"enabled":                   deref(p.StorageContainerPath) != "",
		"storage_container_path":    deref(p.StorageContainerPath),
		"recurring_scans_enabled":   deref(rs.IsEnabled),
		"email_subscription_admins": deref(rs.EmailSubscriptionAdmins),
		"emails":                    orEmpty(emails),
	}
}

// listSQLDatabases streams the databases of one server. The master
// database is left out: it is the server's system database, which ARM
// lists but whose encryption and auditing follow the server's.
func (t *task) listSQLDatabases(ctx context.Context, f *armsql.ClientFactory, s armsql.Server) error {
	rg, server := resourceGroupOf(deref(s.ID)), deref(s.Name)
	pager := f.NewDatabasesClient().NewListByServerPager(rg, server, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, d := range page.Value {
			if d == nil || d.ID == nil || strings.EqualFold(deref(d.Name), "master") {
				continue
			}
			if err := t.emit(ctx, t.sqlDatabase(ctx, f, s, *d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// sqlDatabase builds the azure.sql.database resource and reads its TDE
// state.
func (t *task) sqlDatabase(ctx context.Context, f *armsql.ClientFactory, s armsql.Server, d armsql.Database) vigil.Resource {
	id := deref(d.ID)
	p := deref(d.Properties)
	r := vigil.Resource{
		UID: id, Type: TypeSQLDatabase, Name: deref(d.Name), Region: deref(d.Location), Tags: tags(d.Tags),
		Properties: map[string]any{
			"resource_group":            resourceGroupOf(id),
			"server_id":                 deref(s.ID),
			"server_name":               deref(s.Name),
			"status":                    string(deref(p.Status)),
			"sku":                       "",
			"zone_redundant":            deref(p.ZoneRedundant),
			"ledger_enabled":            deref(p.IsLedgerOn),
			"backup_storage_redundancy": string(deref(p.CurrentBackupStorageRedundancy)),
			"elastic_pool_id":           deref(p.ElasticPoolID),
		},
	}
	if d.SKU != nil {
		r.Properties["sku"] = deref(d.SKU.Name)
	}
	tde, err := f.NewTransparentDataEncryptionsClient().Get(ctx, resourceGroupOf(id), deref(s.Name), deref(d.Name),
		armsql.TransparentDataEncryptionNameCurrent, nil)
	if err != nil {
		t.propErr(&r, "tde_state", opSQLDatabaseTDERead, err)
		return r
	}
	state := string(deref(deref(tde.Properties).State))
	if state == "" {
		state = string(armsql.TransparentDataEncryptionStateDisabled)
	}
	r.Properties["tde_state"] = state
	return r
}

// getSQL re-reads one SQL server or database by id.
func getSQL(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	f, err := armsql.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	srvID := id
	for srvID.Parent != nil && !strings.EqualFold(srvID.ResourceType.Type, "servers") {
		srvID = srvID.Parent
	}
	types := strings.ToLower(strings.Join(id.ResourceType.Types, "/"))
	if types != "servers" && types != "servers/databases" {
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
	}
	resp, err := f.NewServersClient().Get(ctx, srvID.ResourceGroupName, srvID.Name, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opSQLServersRead, err)
	}
	if types == "servers" {
		return t.sqlServer(ctx, f, resp.Server), nil
	}
	if strings.EqualFold(id.Name, "master") {
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: the master database is not collected", id.String())
	}
	d, err := f.NewDatabasesClient().Get(ctx, id.ResourceGroupName, srvID.Name, id.Name, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opSQLDatabasesRead, err)
	}
	return t.sqlDatabase(ctx, f, resp.Server, d.Database), nil
}
