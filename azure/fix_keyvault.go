package azure

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// opKeyVaultsWrite is the RBAC operation of the vault PATCH.
const opKeyVaultsWrite = "Microsoft.KeyVault/vaults/write"

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &purgeProtection{fixAction{f: f, id: "azure.keyvault.purge-protection", typ: TypeKeyVault,
			title: "turn on purge protection (and soft delete, if off) on the Key Vault; it cannot be turned off again",
			perms: []string{opSubscriptionRead, opKeyVaultsRead, opKeyVaultsWrite}}}
	})
}

// purgeProtection turns on a vault's purge protection with a PATCH that
// carries only enablePurgeProtection (and enableSoftDelete when soft
// delete is explicitly off: purge protection needs it). ARM refuses to
// turn purge protection off again, so the action has no Undo.
type purgeProtection struct{ fixAction }

// vaultsClient returns a vaults client with the remediation credential.
func (f *Fixer) vaultsClient(ctx context.Context, sub string) (*armkeyvault.VaultsClient, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armkeyvault.NewVaultsClient(sub, cred, opts)
}

func (a *purgeProtection) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	id, err := parseTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	vc, err := a.f.vaultsClient(ctx, id.SubscriptionID)
	if err != nil {
		return nil, err
	}
	resp, err := vc.Get(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opKeyVaultsRead, errorf(err))
	}
	p := deref(resp.Properties)
	softDelete := boolOr(p.EnableSoftDelete, true) // on for every vault since 2025 when unset
	purge := boolOr(p.EnablePurgeProtection, false)
	before := map[string]any{"enableSoftDelete": softDelete, "enablePurgeProtection": purge}
	if softDelete && purge {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{"purge protection is already on for Key Vault " + t.Resource.Name}}, nil
	}
	props := map[string]any{"enablePurgeProtection": true}
	steps := []string{"set enablePurgeProtection to true on Key Vault " + t.Resource.Name +
		": WARNING: this cannot be undone; deleted vaults, keys, secrets and certificates can no longer be purged before their retention period ends"}
	if !softDelete {
		props["enableSoftDelete"] = true
		steps = append(steps, "set enableSoftDelete to true on Key Vault "+t.Resource.Name+", which purge protection needs; it cannot be turned off again either")
	}
	body := map[string]any{"properties": props}
	return &fix.Plan{Steps: steps, Before: before,
		Calls: []vigil.FixCall{{Operation: opKeyVaultsWrite, Input: call("PATCH", t.Resource.UID, body)}}}, nil
}

func (a *purgeProtection) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	id, err := parseTarget(t.Resource)
	if err != nil {
		return err
	}
	vc, err := a.f.vaultsClient(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	var params armkeyvault.VaultPatchParameters
	if err := fromJSON(body, &params); err != nil {
		return vigil.Errorf(vigil.EINVALID, "key vault update body: %v", err)
	}
	return rec.Do(opKeyVaultsWrite, call("PATCH", t.Resource.UID, body), func() error {
		_, err := vc.Update(ctx, id.ResourceGroupName, id.Name, params, nil)
		return errorOf(err)
	})
}
