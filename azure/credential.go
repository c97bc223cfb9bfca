package azure

import (
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/vigilsec/vigil"
)

// CredentialOptions name one Microsoft Entra identity explicitly, as the
// remediation identity must be: fixes never fall back to the default chain
// that scanning uses, so a scanning identity can never make a change.
type CredentialOptions struct {
	// Cloud is "public" (default), "usgov" or "china": it picks the
	// Entra authority.
	Cloud string
	// TenantID and ClientID are the application's (or, for a
	// user-assigned managed identity, ClientID is the identity's).
	TenantID, ClientID string
	// ClientSecret signs in as the application with a secret.
	ClientSecret string
	// ManagedIdentity signs in as the managed identity of the host; with
	// ClientID, that user-assigned identity.
	ManagedIdentity bool
	// WorkloadIdentity signs in with a federated token (AKS workload
	// identity): the file named by AZURE_FEDERATED_TOKEN_FILE.
	WorkloadIdentity bool
}

// NewCredential returns the credential the options name. Exactly one of
// ClientSecret, ManagedIdentity and WorkloadIdentity is set; the secret
// never appears in an error.
func NewCredential(o CredentialOptions) (azcore.TokenCredential, error) {
	if o.Cloud == "" {
		o.Cloud = "public"
	}
	cfg, ok := clouds[o.Cloud]
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "unknown azure cloud %q (known: public, usgov, china)", o.Cloud)
	}
	n := 0
	for _, set := range []bool{o.ClientSecret != "", o.ManagedIdentity, o.WorkloadIdentity} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, vigil.Errorf(vigil.EINVALID, "azure credential: set exactly one of a client secret, managed identity or workload identity")
	}
	for what, id := range map[string]string{"tenant id": o.TenantID, "client id": o.ClientID} {
		if id != "" && !subscriptionRe.MatchString(id) {
			return nil, vigil.Errorf(vigil.EINVALID, "azure credential: %s %q is not a GUID", what, id)
		}
	}
	client := azcore.ClientOptions{Cloud: cfg}
	switch {
	case o.ManagedIdentity:
		opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: client}
		if o.ClientID != "" {
			opts.ID = azidentity.ClientID(o.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(opts)
	case o.TenantID == "" || o.ClientID == "":
		return nil, vigil.Errorf(vigil.EINVALID, "azure credential: a client secret or workload identity needs both a tenant id and a client id")
	case o.WorkloadIdentity:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: client, TenantID: o.TenantID, ClientID: o.ClientID})
	default:
		cred, err := azidentity.NewClientSecretCredential(o.TenantID, o.ClientID, o.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: client})
		if err != nil {
			// azidentity's errors name the tenant, never the secret.
			return nil, &vigil.Error{Code: vigil.EINVALID, Message: "azure client secret credential", Err: err}
		}
		return cred, nil
	}
}

// Credential returns the scanning credential, for fix plans made with
// reads only when no remediation identity is configured.
func (c *Collector) Credential() azcore.TokenCredential {
	if m, ok := c.cred.(markedCredential); ok {
		return m.cred
	}
	return c.cred
}
