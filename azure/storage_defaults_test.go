package azure

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
)

// TestStorageDefaults: properties ARM leaves unset take the values
// Microsoft documents for them, the permissive ones where that is what an
// old account does.
func TestStorageDefaults(t *testing.T) {
	p := storageAccountProps(armstorage.Account{Properties: &armstorage.AccountProperties{}}, "rg")
	for key, want := range map[string]any{
		"allow_blob_public_access": true, // null or true permits anonymous access
		"allow_shared_key_access":  true,
		"https_only":               true,
		"minimum_tls_version":      "TLS1_0",
		"public_network_access":    "Enabled",
	} {
		if p[key] != want {
			t.Errorf("%s = %v, want %v", key, p[key], want)
		}
	}
}

// TestDisallowBlobPublicAccessUnset: the fix agrees with the collector on
// an account that leaves the property unset: there is something to fix.
func TestDisallowBlobPublicAccessUnset(t *testing.T) {
	for _, a := range NewFixer(nil, nil, nil).Actions() {
		if s, ok := a.(*accountSetting); ok && a.ID() == "azure.storage.disallow-blob-public-access" {
			cur, want := s.state(armstorage.AccountProperties{})
			if cur != true || want != false {
				t.Errorf("unset allowBlobPublicAccess: current %v, wanted %v; want true then false", cur, want)
			}
			return
		}
	}
	t.Fatal("no azure.storage.disallow-blob-public-access action")
}
