package azure

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"

	"github.com/vigilsec/vigil"
)

// Storage resource types.
const (
	TypeStorageAccount   = "azure.storage.account"
	TypeStorageContainer = "azure.storage.container"
)

// ARM operations of the storage collector, as named in Azure RBAC.
const (
	opStorageAccountsRead = "Microsoft.Storage/storageAccounts/read"
	opBlobServicesRead    = "Microsoft.Storage/storageAccounts/blobServices/read"
	opContainersRead      = "Microsoft.Storage/storageAccounts/blobServices/containers/read"
)

func init() {
	register(&service{
		name:    "storage",
		types:   []string{TypeStorageAccount, TypeStorageContainer},
		collect: collectStorage,
		get:     getStorage,
	})
}

// collectStorage streams every storage account of the subscription, page by
// page; each account is followed by its blob containers.
func collectStorage(ctx context.Context, t *task) error {
	f, err := armstorage.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opStorageAccountsRead, err)
	}
	pager := f.NewAccountsClient().NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return withOp(opStorageAccountsRead, err)
		}
		for _, a := range page.Value {
			if a == nil || a.ID == nil {
				continue
			}
			r := t.storageAccount(ctx, f, *a)
			if err := t.emit(ctx, r); err != nil {
				return err
			}
			if !hasBlobService(*a) {
				continue
			}
			if t.c.blobFor(deref(a.Name)) {
				if err := t.listContainersData(ctx, *a); err != nil {
					var stop stopError
					if errors.As(err, &stop) || ctx.Err() != nil {
						return err
					}
					t.blobListFailed(TypeStorageContainer, opContainersRead, err)
				}
				continue
			}
			if err := t.listContainers(ctx, f, *a); err != nil {
				var stop stopError
				if errors.As(err, &stop) || ctx.Err() != nil {
					return err
				}
				t.listFailed(TypeStorageContainer, opContainersRead, err)
			}
		}
	}
	return nil
}

// hasBlobService reports whether the account kind has a blob service:
// FileStorage accounts have none, and ARM answers its blob service
// properties with an error.
func hasBlobService(a armstorage.Account) bool {
	return deref(a.Kind) != armstorage.KindFileStorage
}

// storageAccount builds the azure.storage.account resource from a listed
// (or got) account and reads its blob service properties.
func (t *task) storageAccount(ctx context.Context, f *armstorage.ClientFactory, a armstorage.Account) vigil.Resource {
	id := deref(a.ID)
	rg := resourceGroupOf(id)
	r := vigil.Resource{
		UID: id, Type: TypeStorageAccount, Name: deref(a.Name), Region: deref(a.Location),
		Tags: tags(a.Tags), Properties: storageAccountProps(a, rg),
	}
	if !hasBlobService(a) {
		r.Properties["blob_service"] = nil
		return r
	}
	resp, err := f.NewBlobServicesClient().GetServiceProperties(ctx, rg, deref(a.Name), nil)
	if err != nil {
		t.propErr(&r, "blob_service", opBlobServicesRead, err)
		return r
	}
	bs := blobServiceProps(resp.BlobServiceProperties)
	if t.c.blobFor(deref(a.Name)) {
		// The Blob service's own properties hold the delete retention
		// policy only; container delete retention, versioning, change
		// feed and restore policy exist in ARM alone (Azurite has none of
		// them either), so those keep ARM's values.
		dr, err := t.blobDeleteRetention(ctx, a)
		if err != nil {
			if ctx.Err() == nil {
				t.blobPropErr(&r, "blob_service", opBlobServicesRead, err)
			}
			return r
		}
		bs["delete_retention"] = dr
	}
	r.Properties["blob_service"] = bs
	return r
}

// storageAccountProps is the documented properties document of a storage
// account (docs/resources/azure.md). Unset booleans take the value ARM
// documents as their default interpretation, so that checks need not know.
func storageAccountProps(a armstorage.Account, rg string) map[string]any {
	p := deref(a.Properties)
	props := map[string]any{
		"resource_group": rg,
		"kind":           string(deref(a.Kind)),
		"sku":            "",
		"access_tier":    string(deref(p.AccessTier)),
		// Default true since API version 2019-04-01.
		"https_only": boolOr(p.EnableHTTPSTrafficOnly, true),
		// "The default interpretation is TLS 1.0."
		"minimum_tls_version": string(deref(p.MinimumTLSVersion)),
		// "The default value is null, which is equivalent to true."
		"allow_shared_key_access": boolOr(p.AllowSharedKeyAccess, true),
		// Unset (null) on accounts created before November 2023, which
		// Microsoft documents as permitting anonymous access ("either null
		// or true"); newer accounts carry an explicit false. The API's
		// "default interpretation is false" describes new accounts only.
		"allow_blob_public_access": boolOr(p.AllowBlobPublicAccess, true),
		// "The default interpretation is false for new accounts."
		"allow_cross_tenant_replication":  boolOr(p.AllowCrossTenantReplication, false),
		"default_to_oauth_authentication": boolOr(p.DefaultToOAuthAuthentication, false),
		"public_network_access":           string(deref(p.PublicNetworkAccess)),
		"network_rules":                   networkRuleProps(p.NetworkRuleSet),
		"encryption":                      encryptionProps(p.Encryption),
		"private_endpoint_connections":    len(p.PrivateEndpointConnections),
		"created_at":                      timeString(p.CreationTime),
		"key_expiration_period_days":      nil,
		"key_creation_time":               map[string]any{"key1": nil, "key2": nil},
		"primary_location":                deref(p.PrimaryLocation),
		"secondary_location":              deref(p.SecondaryLocation),
	}
	if props["minimum_tls_version"] == "" {
		props["minimum_tls_version"] = string(armstorage.MinimumTLSVersionTLS10)
	}
	if props["public_network_access"] == "" {
		props["public_network_access"] = string(armstorage.PublicNetworkAccessEnabled)
	}
	if a.SKU != nil {
		props["sku"] = string(deref(a.SKU.Name))
	}
	if p.KeyPolicy != nil && p.KeyPolicy.KeyExpirationPeriodInDays != nil {
		props["key_expiration_period_days"] = int(*p.KeyPolicy.KeyExpirationPeriodInDays)
	}
	if k := p.KeyCreationTime; k != nil {
		props["key_creation_time"] = map[string]any{"key1": timeOrNil(k.Key1), "key2": timeOrNil(k.Key2)}
	}
	return props
}

// networkRuleProps normalizes the account's firewall. Without a rule set
// ARM allows every network, as with default action Allow.
func networkRuleProps(n *armstorage.NetworkRuleSet) map[string]any {
	out := map[string]any{
		"default_action":        string(armstorage.DefaultActionAllow),
		"bypass":                []any{},
		"ip_rules":              []any{},
		"virtual_network_rules": []any{},
		"resource_access_rules": []any{},
	}
	if n == nil {
		return out
	}
	if n.DefaultAction != nil {
		out["default_action"] = string(*n.DefaultAction)
	}
	var bypass []any
	for _, b := range strings.Split(string(deref(n.Bypass)), ",") {
		if b = strings.TrimSpace(b); b != "" && b != string(armstorage.BypassNone) {
			bypass = append(bypass, b)
		}
	}
	out["bypass"] = orEmpty(bypass)
	var ips, vnets, ras []any
	for _, r := range n.IPRules {
		if r != nil && r.IPAddressOrRange != nil {
			ips = append(ips, *r.IPAddressOrRange)
		}
	}
	for _, r := range n.VirtualNetworkRules {
		if r != nil && r.VirtualNetworkResourceID != nil {
			vnets = append(vnets, *r.VirtualNetworkResourceID)
		}
	}
	for _, r := range n.ResourceAccessRules {
		if r != nil {
			ras = append(ras, map[string]any{"resource_id": deref(r.ResourceID), "tenant_id": deref(r.TenantID)})
		}
	}
	out["ip_rules"], out["virtual_network_rules"], out["resource_access_rules"] = orEmpty(ips), orEmpty(vnets), orEmpty(ras)
	return out
}

// encryptionProps normalizes the account's encryption at rest. Every
// account is encrypted; the key source says by whose key.
func encryptionProps(e *armstorage.Encryption) map[string]any {
	out := map[string]any{
		"key_source":                        string(armstorage.KeySourceMicrosoftStorage),
		"require_infrastructure_encryption": false,
		"key_vault_uri":                     "",
		"key_name":                          "",
	}
	if e == nil {
		return out
	}
	if e.KeySource != nil {
		out["key_source"] = string(*e.KeySource)
	}
	out["require_infrastructure_encryption"] = boolOr(e.RequireInfrastructureEncryption, false)
	if kv := e.KeyVaultProperties; kv != nil {
		out["key_vault_uri"] = deref(kv.KeyVaultURI)
		out["key_name"] = deref(kv.KeyName)
	}
	return out
}

// blobServiceProps normalizes the blob service properties: soft delete of
// blobs and containers, versioning, change feed.
func blobServiceProps(b armstorage.BlobServiceProperties) map[string]any {
	p := deref(b.BlobServiceProperties)
	out := map[string]any{
		"delete_retention":           retentionProps(p.DeleteRetentionPolicy),
		"container_delete_retention": retentionProps(p.ContainerDeleteRetentionPolicy),
		"versioning_enabled":         boolOr(p.IsVersioningEnabled, false),
		"change_feed_enabled":        false,
		"change_feed_retention_days": nil,
		"restore_policy_enabled":     false,
	}
	if cf := p.ChangeFeed; cf != nil {
		out["change_feed_enabled"] = boolOr(cf.Enabled, false)
		if cf.RetentionInDays != nil {
			out["change_feed_retention_days"] = int(*cf.RetentionInDays)
		}
	}
	if rp := p.RestorePolicy; rp != nil {
		out["restore_policy_enabled"] = boolOr(rp.Enabled, false)
	}
	return out
}

// retentionProps normalizes a delete retention policy; days is 0 when
// retention is off.
func retentionProps(d *armstorage.DeleteRetentionPolicy) map[string]any {
	out := map[string]any{"enabled": false, "days": 0}
	if d == nil {
		return out
	}
	out["enabled"] = boolOr(d.Enabled, false)
	if d.Days != nil && boolOr(d.Enabled, false) {
		out["days"] = int(*d.Days)
	}
	return out
}

// listContainers streams the blob containers of one account.
func (t *task) listContainers(ctx context.Context, f *armstorage.ClientFactory, a armstorage.Account) error {
	rg := resourceGroupOf(deref(a.ID))
	pager := f.NewBlobContainersClient().NewListPager(rg, deref(a.Name), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, c := range page.Value {
			if c == nil || c.ID == nil {
				continue
			}
			if err := t.emit(ctx, containerResource(a, deref(c.ID), deref(c.Name), c.Properties)); err != nil {
				return err
			}
		}
	}
	return nil
}

// containerResource builds the azure.storage.container resource from ARM's
// container properties.
func containerResource(a armstorage.Account, id, name string, p *armstorage.ContainerProperties) vigil.Resource {
	cp := deref(p)
	access := string(deref(cp.PublicAccess))
	if access == "" {
		access = string(armstorage.PublicAccessNone)
	}
	return containerDoc(a, id, name, containerState{access: access, immutability: boolOr(cp.HasImmutabilityPolicy, false),
		legalHold: boolOr(cp.HasLegalHold, false), deleted: boolOr(cp.Deleted, false), modified: cp.LastModifiedTime})
}

// containerState is what either plane says of a container, normalized:
// access is ARM's public access level (None, Blob, Container).
type containerState struct {
	access                           string
	immutability, legalHold, deleted bool
	modified                         *time.Time
}

// containerDoc builds the azure.storage.container resource, the same from
// ARM and from the Blob service; it lives in its account's location.
func containerDoc(a armstorage.Account, id, name string, s containerState) vigil.Resource {
	return vigil.Resource{
		UID: id, Type: TypeStorageContainer, Name: name, Region: deref(a.Location),
		Properties: map[string]any{
			"resource_group":          resourceGroupOf(id),
			"account_id":              deref(a.ID),
			"account_name":            deref(a.Name),
			"public_access":           s.access,
			"has_immutability_policy": s.immutability,
			"has_legal_hold":          s.legalHold,
			"deleted":                 s.deleted,
			"last_modified":           timeString(s.modified),
		},
	}
}

// getStorage re-reads one storage account or blob container by id.
func getStorage(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	f, err := armstorage.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	acctID := id
	for acctID.Parent != nil && !strings.EqualFold(acctID.ResourceType.Type, "storageAccounts") {
		acctID = acctID.Parent
	}
	resp, err := f.NewAccountsClient().GetProperties(ctx, acctID.ResourceGroupName, acctID.Name, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opStorageAccountsRead, err)
	}
	switch types := strings.ToLower(strings.Join(id.ResourceType.Types, "/")); types {
	case "storageaccounts":
		return t.storageAccount(ctx, f, resp.Account), nil
	case "storageaccounts/blobservices/containers":
		if t.c.blobFor(acctID.Name) {
			return t.getContainerData(ctx, resp.Account, id.Name)
		}
		c, err := f.NewBlobContainersClient().Get(ctx, id.ResourceGroupName, acctID.Name, id.Name, nil)
		if err != nil {
			return vigil.Resource{}, withOp(opContainersRead, err)
		}
		return containerResource(resp.Account, deref(c.ID), deref(c.Name), c.ContainerProperties), nil
	default:
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
	}
}

// resourceGroupOf returns the resource group named in an ARM id.
func resourceGroupOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "resourceGroups") {
			return parts[i+1]
		}
	}
	return ""
}

// boolOr returns *p, or def when ARM left the property unset.
func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// timeString renders a timestamp as RFC 3339 in UTC, "" when unset.
func timeString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// timeOrNil renders a timestamp as RFC 3339 in UTC, nil when unset.
func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
