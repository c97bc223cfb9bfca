package azuretest

import (
	"context"
	"encoding/json"
	"net/http"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault"
	kvfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/keyvault/armkeyvault/fake"
)

// Tables of the Microsoft.KeyVault namespace.
const (
	tableKVVaults  = "keyvault.vaults"
	tableKVKeys    = "keyvault.keys"
	tableKVSecrets = "keyvault.secrets"
)

func init() {
	RegisterNamespace("Microsoft.KeyVault", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"keyVaults":       sqlkvLoad[armkeyvault.Vault](tableKVVaults, func(v *armkeyvault.Vault) *string { return v.ID }),
			"keyVaultKeys":    sqlkvLoad[armkeyvault.Key](tableKVKeys, func(v *armkeyvault.Key) *string { return v.ID }),
			"keyVaultSecrets": sqlkvLoad[armkeyvault.Secret](tableKVSecrets, func(v *armkeyvault.Secret) *string { return v.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return kvfake.NewServerFactoryTransport(e.keyVaultServer(sub))
		},
	})
}

// KeyVault returns a copy of the vault with id.
func (e *Estate) KeyVault(id string) (armkeyvault.Vault, bool) {
	return Get(e, Table[armkeyvault.Vault](e, tableKVVaults), id)
}

func kvVaultID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.KeyVault/vaults/" + name
}

// keyVaultServer serves Microsoft.KeyVault for one subscription: vaults
// (list, get, PATCH, PUT) and the management-plane listings of their keys
// and secrets. Secret values are never served: ARM does not return them.
func (e *Estate) keyVaultServer(sub string) *kvfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	vaults := Table[armkeyvault.Vault](e, tableKVVaults)
	keys := Table[armkeyvault.Key](e, tableKVKeys)
	secrets := Table[armkeyvault.Secret](e, tableKVSecrets)
	notFound := func(errResp *azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	}
	exists := func(rg, name string) bool {
		_, ok := Get(e, vaults, kvVaultID(sub, rg, name))
		return ok
	}
	return &kvfake.ServerFactory{
		VaultsServer: kvfake.VaultsServer{
			NewListBySubscriptionPager: func(*armkeyvault.VaultsClientListBySubscriptionOptions) (resp azfake.PagerResponder[armkeyvault.VaultsClientListBySubscriptionResponse]) {
				for _, page := range Pages(e, List(e, vaults, prefix)) {
					resp.AddPage(http.StatusOK, armkeyvault.VaultsClientListBySubscriptionResponse{VaultListResult: armkeyvault.VaultListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armkeyvault.VaultsClientGetOptions) (resp azfake.Responder[armkeyvault.VaultsClientGetResponse], errResp azfake.ErrorResponder) {
				v, ok := Get(e, vaults, kvVaultID(sub, rg, name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armkeyvault.VaultsClientGetResponse{Vault: v}, nil)
				return
			},
			// PATCH merges the properties sent, as ARM's does; purge
			// protection, once on, cannot be turned off.
			Update: func(_ context.Context, rg, name string, p armkeyvault.VaultPatchParameters, _ *armkeyvault.VaultsClientUpdateOptions) (resp azfake.Responder[armkeyvault.VaultsClientUpdateResponse], errResp azfake.ErrorResponder) {
				id := kvVaultID(sub, rg, name)
				e.mu.Lock()
				v, ok := vaults[key(id)]
				var bad bool
				if ok {
					if v.Properties == nil {
						v.Properties = &armkeyvault.VaultProperties{}
					}
					if pp := p.Properties; pp != nil && pp.EnablePurgeProtection != nil && !*pp.EnablePurgeProtection &&
						kvTrue(v.Properties.EnablePurgeProtection) {
						bad = true
					} else if err := patch(v, p); err != nil {
						bad = true
					}
				}
				e.mu.Unlock()
				if !ok {
					notFound(&errResp)
					return
				}
				if bad {
					errResp.SetResponseError(http.StatusBadRequest, "BadRequest")
					return
				}
				got, _ := Get(e, vaults, id)
				resp.SetResponse(http.StatusOK, armkeyvault.VaultsClientUpdateResponse{Vault: got}, nil)
				return
			},
			BeginCreateOrUpdate: func(_ context.Context, rg, name string, p armkeyvault.VaultCreateOrUpdateParameters, _ *armkeyvault.VaultsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armkeyvault.VaultsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				id := kvVaultID(sub, rg, name)
				v := armkeyvault.Vault{ID: ptr(id), Name: ptr(name), Type: ptr("Microsoft.KeyVault/vaults"),
					Location: p.Location, Tags: p.Tags, Properties: p.Properties}
				if cur, ok := Get(e, vaults, id); ok {
					v.ID = cur.ID // keep ARM's spelling of the id
				}
				Put(e, vaults, id, v)
				got, _ := Get(e, vaults, id)
				resp.SetTerminalResponse(http.StatusOK, armkeyvault.VaultsClientCreateOrUpdateResponse{Vault: got}, nil)
				return
			},
		},
		KeysServer: kvfake.KeysServer{
			NewListPager: func(rg, name string, _ *armkeyvault.KeysClientListOptions) (resp azfake.PagerResponder[armkeyvault.KeysClientListResponse]) {
				if !exists(rg, name) {
					resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				for _, page := range Pages(e, List(e, keys, kvVaultID(sub, rg, name)+"/keys/")) {
					resp.AddPage(http.StatusOK, armkeyvault.KeysClientListResponse{KeyListResult: armkeyvault.KeyListResult{Value: page}}, nil)
				}
				return resp
			},
		},
		SecretsServer: kvfake.SecretsServer{
			NewListPager: func(rg, name string, _ *armkeyvault.SecretsClientListOptions) (resp azfake.PagerResponder[armkeyvault.SecretsClientListResponse]) {
				if !exists(rg, name) {
					resp.AddResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				var items []*armkeyvault.Secret
				for _, s := range List(e, secrets, kvVaultID(sub, rg, name)+"/secrets/") {
					if s.Properties != nil {
						s.Properties.Value = nil
					}
					items = append(items, s)
				}
				for _, page := range Pages(e, items) {
					resp.AddPage(http.StatusOK, armkeyvault.SecretsClientListResponse{SecretListResult: armkeyvault.SecretListResult{Value: page}}, nil)
				}
				return resp
			},
		},
	}
}

func kvTrue(p *bool) bool { return p != nil && *p }
