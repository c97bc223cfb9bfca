package azure

import (
	"context"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"

	"github.com/vigilsec/vigil"
)

// TypeKeyVault is the resource type of Key Vaults.
const TypeKeyVault = "azure.keyvault.vault"

// ARM operations of the Key Vault collector, as named in Azure RBAC. Keys
// and secrets are read from the management plane, which lists their
// attributes (never secret values) with the Reader role.
const (
	opKeyVaultsRead = "Microsoft.KeyVault/vaults/read"
	opKVKeysRead    = "Microsoft.KeyVault/vaults/keys/read"
	opKVSecretsRead = "Microsoft.KeyVault/vaults/secrets/read"
)

func init() {
	register(&service{
		name:    "keyvault",
		types:   []string{TypeKeyVault},
		collect: collectKeyVault,
		get:     getKeyVault,
	})
	// Written here rather than in limits.go so that each service file
	// registers itself; init runs before any read.
	namespaceService["microsoft.keyvault"] = "keyvault"
}

// collectKeyVault streams every Key Vault of the subscription, page by
// page, each with its keys' and secrets' metadata.
func collectKeyVault(ctx context.Context, t *task) error {
	f, err := armkeyvault.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opKeyVaultsRead, err)
	}
	pager := f.NewVaultsClient().NewListBySubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return withOp(opKeyVaultsRead, err)
		}
		for _, v := range page.Value {
			if v == nil || v.ID == nil {
				continue
			}
			if err := t.emit(ctx, t.keyVault(ctx, f, *v)); err != nil {
				return err
			}
		}
	}
	return nil
}

// keyVault builds the azure.keyvault.vault resource and lists its keys
// and secrets, each listing failing on its own.
func (t *task) keyVault(ctx context.Context, f *armkeyvault.ClientFactory, v armkeyvault.Vault) vigil.Resource {
	id := deref(v.ID)
	rg, name := resourceGroupOf(id), deref(v.Name)
	r := vigil.Resource{
		UID: id, Type: TypeKeyVault, Name: name, Region: deref(v.Location),
		Tags: tags(v.Tags), Properties: keyVaultProps(v, rg),
	}
	if keys, err := kvKeys(ctx, f, rg, name); err != nil {
		t.propErr(&r, "keys", opKVKeysRead, err)
	} else {
		r.Properties["keys"] = keys
	}
	if secrets, err := kvSecrets(ctx, f, rg, name); err != nil {
		t.propErr(&r, "secrets", opKVSecretsRead, err)
	} else {
		r.Properties["secrets"] = secrets
	}
	return r
}

// keyVaultProps is the part of the azure.keyvault.vault document that the
// vault itself carries. Unset fields take ARM's documented defaults.
func keyVaultProps(v armkeyvault.Vault, rg string) map[string]any {
	p := deref(v.Properties)
	approved := 0
	for _, c := range p.PrivateEndpointConnections {
		if c == nil || c.Properties == nil || c.Properties.PrivateLinkServiceConnectionState == nil {
			continue
		}
		if deref(c.Properties.PrivateLinkServiceConnectionState.Status) == armkeyvault.PrivateEndpointServiceConnectionStatusApproved {
			approved++
		}
	}
	props := map[string]any{
		"resource_group": rg,
		"vault_uri":      deref(p.VaultURI),
		"tenant_id":      deref(p.TenantID),
		"sku":            "",
		// "If it's not set to any value (true or false) when creating new
		// key vault, it will be set to true by default."
		"soft_delete_enabled": boolOr(p.EnableSoftDelete, true),
		// "softDelete data retention days … >=7 and <=90" (default 90).
		"soft_delete_retention_days": 90,
		"purge_protection_enabled":   boolOr(p.EnablePurgeProtection, false),
		// Unset: access policies authorize data actions (API 2023-07-01).
		"rbac_authorization_enabled":      boolOr(p.EnableRbacAuthorization, false),
		"public_network_access":           deref(p.PublicNetworkAccess),
		"network_acls":                    kvNetworkACLs(p.NetworkACLs),
		"private_endpoint_connections":    len(p.PrivateEndpointConnections),
		"private_endpoints_approved":      approved,
		"access_policies":                 len(p.AccessPolicies),
		"enabled_for_deployment":          boolOr(p.EnabledForDeployment, false),
		"enabled_for_disk_encryption":     boolOr(p.EnabledForDiskEncryption, false),
		"enabled_for_template_deployment": boolOr(p.EnabledForTemplateDeployment, false),
	}
	if p.SoftDeleteRetentionInDays != nil {
		props["soft_delete_retention_days"] = int(*p.SoftDeleteRetentionInDays)
	}
	if props["public_network_access"] == "" {
		props["public_network_access"] = "Enabled"
	}
	if p.SKU != nil {
		props["sku"] = string(deref(p.SKU.Name))
	}
	return props
}

// kvNetworkACLs normalizes the vault firewall. Without a rule set the
// vault accepts every network, as with default action Allow.
func kvNetworkACLs(n *armkeyvault.NetworkRuleSet) map[string]any {
	out := map[string]any{
		"default_action":        string(armkeyvault.NetworkRuleActionAllow),
		"bypass":                string(armkeyvault.NetworkRuleBypassOptionsAzureServices),
		"ip_rules":              []any{},
		"virtual_network_rules": []any{},
	}
	if n == nil {
		return out
	}
	if n.DefaultAction != nil {
		out["default_action"] = string(*n.DefaultAction)
	}
	if n.Bypass != nil {
		out["bypass"] = string(*n.Bypass)
	}
	var ips, vnets []any
	for _, r := range n.IPRules {
		if r != nil && r.Value != nil {
			ips = append(ips, *r.Value)
		}
	}
	for _, r := range n.VirtualNetworkRules {
		if r != nil && r.ID != nil {
			vnets = append(vnets, *r.ID)
		}
	}
	out["ip_rules"], out["virtual_network_rules"] = orEmpty(ips), orEmpty(vnets)
	return out
}

// kvKeys lists the metadata of the vault's keys (current versions).
func kvKeys(ctx context.Context, f *armkeyvault.ClientFactory, rg, vault string) ([]any, error) {
	out := []any{}
	pager := f.NewKeysClient().NewListPager(rg, vault, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range page.Value {
			if k == nil {
				continue
			}
			p := deref(k.Properties)
			a := deref(p.Attributes)
			out = append(out, map[string]any{
				"name":            deref(k.Name),
				"enabled":         boolOr(a.Enabled, true),
				"expires":         unixOrNil(a.Expires),
				"not_before":      unixOrNil(a.NotBefore),
				"created":         unixOrNil(a.Created),
				"key_type":        string(deref(p.Kty)),
				"rotation_policy": kvRotationPolicy(p.RotationPolicy),
			})
		}
	}
	return out, nil
}

// kvRotationPolicy normalizes a key's rotation policy; nil when the key has
// none. auto_rotate says whether a lifetime action rotates the key (the
// other action, Notify, only raises an event).
func kvRotationPolicy(rp *armkeyvault.RotationPolicy) any {
	if rp == nil {
		return nil
	}
	out := map[string]any{"auto_rotate": false, "rotate_after_create": "", "rotate_before_expiry": "", "expiry_time": ""}
	if rp.Attributes != nil {
		out["expiry_time"] = deref(rp.Attributes.ExpiryTime)
	}
	for _, la := range rp.LifetimeActions {
		if la == nil || la.Action == nil || !strings.EqualFold(string(deref(la.Action.Type)), string(armkeyvault.KeyRotationPolicyActionTypeRotate)) {
			continue
		}
		out["auto_rotate"] = true
		if la.Trigger != nil {
			out["rotate_after_create"] = deref(la.Trigger.TimeAfterCreate)
			out["rotate_before_expiry"] = deref(la.Trigger.TimeBeforeExpiry)
		}
	}
	return out
}

// kvSecrets lists the metadata of the vault's secrets; values are never
// read (ARM's listing does not return them either).
func kvSecrets(ctx context.Context, f *armkeyvault.ClientFactory, rg, vault string) ([]any, error) {
	out := []any{}
	pager := f.NewSecretsClient().NewListPager(rg, vault, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			if s == nil {
				continue
			}
			p := deref(s.Properties)
			a := deref(p.Attributes)
			out = append(out, map[string]any{
				"name":         deref(s.Name),
				"enabled":      boolOr(a.Enabled, true),
				"expires":      timeOrNil(a.Expires),
				"not_before":   timeOrNil(a.NotBefore),
				"created":      timeOrNil(a.Created),
				"content_type": deref(p.ContentType),
			})
		}
	}
	return out, nil
}

// unixOrNil renders a Key Vault timestamp (seconds since the epoch) as
// RFC 3339 in UTC, nil when unset.
func unixOrNil(s *int64) any {
	if s == nil {
		return nil
	}
	return time.Unix(*s, 0).UTC().Format(time.RFC3339)
}

// getKeyVault re-reads one Key Vault by id.
func getKeyVault(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	if !strings.EqualFold(strings.Join(id.ResourceType.Types, "/"), "vaults") {
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
	}
	f, err := armkeyvault.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	resp, err := f.NewVaultsClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opKeyVaultsRead, err)
	}
	return t.keyVault(ctx, f, resp.Vault), nil
}
