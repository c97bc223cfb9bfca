package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/spf13/pflag"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	azurecol "github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/fix"
)

// azureFlags are the Azure flags of scan, serve and fix.
type azureFlags struct {
	providers, subscriptions []string
	cloud, endpoint          string
	// The Blob data plane: containers' public access and blob soft
	// delete read (and fixed) on each account's Blob service.
	blobDataPlane             bool
	blobEndpoint, blobKeyAcct string
	blobAccounts              []string
}

// blobKeyEnv holds the shared key of --azure-blob-shared-key-account: a key
// is a secret, never a flag (flags show in the process list).
const blobKeyEnv = "VIGIL_AZURE_BLOB_KEY"

// register adds the flags; withScope adds --provider and --subscriptions,
// which only the commands that scan take.
func (f *azureFlags) register(fl *pflag.FlagSet, withScope bool) {
	if withScope {
		fl.StringSliceVar(&f.providers, "provider", []string{"aws"}, "clouds to scan: aws, azure, or aws,azure")
		fl.StringSliceVar(&f.subscriptions, "subscriptions", nil, "Azure subscription ids (default: every subscription the Azure credential can see)")
	}
	fl.StringVar(&f.cloud, "azure-cloud", "public", "Azure cloud: public, usgov or china")
	fl.StringVar(&f.endpoint, "azure-endpoint", os.Getenv("VIGIL_AZURE_ENDPOINT"),
		"send all Azure Resource Manager calls to this URL (Azure Stack, an emulator; plain http only to loopback) (env VIGIL_AZURE_ENDPOINT)")
	fl.BoolVar(&f.blobDataPlane, "azure-blob-data-plane", false,
		"read blob containers' public access and blob soft delete from each storage account's Blob service (Entra ID), and fix them there")
	fl.StringVar(&f.blobEndpoint, "azure-blob-endpoint", os.Getenv("VIGIL_AZURE_BLOB_ENDPOINT"),
		"Blob service URL for every account, {account} standing for its name (Azurite: http://127.0.0.1:10000/devstoreaccount1); implies --azure-blob-data-plane (env VIGIL_AZURE_BLOB_ENDPOINT)")
	fl.StringVar(&f.blobKeyAcct, "azure-blob-shared-key-account", "",
		"sign Blob data-plane calls with this storage account's shared key, read from env "+blobKeyEnv+" (Azurite: devstoreaccount1)")
	fl.StringSliceVar(&f.blobAccounts, "azure-blob-accounts", nil, "only these storage accounts use the Blob data plane (default: all, with the data plane on)")
}

// blobPlane is the data-plane option of the flags; nil when off.
func (f azureFlags) blobPlane() (*azurecol.BlobPlane, error) {
	if !f.blobDataPlane && f.blobEndpoint == "" {
		if f.blobKeyAcct != "" || len(f.blobAccounts) > 0 {
			return nil, vigil.Errorf(vigil.EINVALID, "--azure-blob-shared-key-account and --azure-blob-accounts need --azure-blob-data-plane or --azure-blob-endpoint")
		}
		return nil, nil
	}
	p := &azurecol.BlobPlane{Endpoint: f.blobEndpoint, Accounts: splitList(f.blobAccounts)}
	if f.blobKeyAcct != "" {
		key := os.Getenv(blobKeyEnv)
		if key == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "--azure-blob-shared-key-account %s: set the key in the environment variable %s", f.blobKeyAcct, blobKeyEnv)
		}
		p.SharedKey = &azurecol.SharedKey{Account: f.blobKeyAcct, Key: key}
	}
	return p, nil
}

// azureCollector builds the scanning Azure collector: its credential is
// azidentity's default chain (environment, workload identity, managed
// identity, Azure CLI), or azureCredential and azureTransport when the demo
// or a test serves an emulated estate.
func (a *app) azureCollector(f azureFlags, concurrency int) (*azurecol.Collector, error) {
	plane, err := f.blobPlane()
	if err != nil {
		return nil, err
	}
	return azurecol.New(azurecol.Options{Cloud: f.cloud, Endpoint: f.endpoint, Subscriptions: splitList(f.subscriptions),
		Concurrency: concurrency, Credential: a.azureCredential, Transport: a.azureTransport, Logger: a.logger(),
		BlobDataPlane: plane})
}

// azureRemediationCredential returns the credential of remediation.azure,
// nil without that section. The client secret is read from its environment
// variable only here, when a fix may run.
func (a *app) azureRemediationCredential(cfg *fileConfig, cloud string) (azcore.TokenCredential, error) {
	r := cfg.azureRemediation
	if r == nil {
		return nil, nil
	}
	if a.azureFixCredential != nil {
		return a.azureFixCredential, nil
	}
	if r.clientID != "" && strings.EqualFold(r.clientID, os.Getenv("AZURE_CLIENT_ID")) {
		return nil, vigil.Errorf(vigil.EINVALID, "%s: remediation.azure.client_id is the scanning identity's (AZURE_CLIENT_ID): "+
			"fixes need an identity of their own, with the vigil-remediator role, separate from the read-only one", cfg.file)
	}
	o := azurecol.CredentialOptions{Cloud: cloud, TenantID: r.tenantID, ClientID: r.clientID,
		ManagedIdentity: r.managedIdentity, WorkloadIdentity: r.workloadIdentity}
	if r.secretEnv != "" {
		if o.ClientSecret = os.Getenv(r.secretEnv); o.ClientSecret == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "%s: remediation.azure.client_secret_env names %s, which is not set", cfg.file, r.secretEnv)
		}
	}
	cred, err := azurecol.NewCredential(o)
	if err != nil {
		return nil, fmt.Errorf("%s: remediation.azure: %w", cfg.file, err)
	}
	return cred, nil
}

// errNoAWSRemediation is what AWS actions answer when only Azure
// remediation is configured.
var errNoAWSRemediation = vigil.Errorf(vigil.EINVALID, "no AWS remediation credentials are configured (remediation: profile or role_arn); "+
	"Vigil never changes AWS with its scanning credentials")

// fixers is the fix wiring of every cloud in use: one registry of all the
// actions (their ids name their cloud) and one fix.Refresher that reads a
// resource again with its own cloud's scanning collector. A cloud without
// remediation credentials still lists its actions; they refuse to run.
type fixers struct {
	aws   *awscol.Fixer
	azure *azurecol.Fixer
}

// newFixers wires the clouds in use: az nil means Azure is not scanned,
// awsTarget nil that AWS has no remediation credentials, azureCred nil
// that Azure has none.
func newFixers(col *awscol.Collector, awsTarget *awscol.Target, az *azurecol.Collector, azureCred azcore.TokenCredential,
	accounts []vigil.Account) fixers {
	var f fixers
	if col != nil {
		if awsTarget != nil {
			f.aws = awscol.NewFixer(col, *awsTarget, accounts)
		} else {
			f.aws = awscol.NewFixer(col, awscol.Target{}, accounts)
			f.aws.Refuse = errNoAWSRemediation
		}
	}
	if az != nil {
		f.azure = azurecol.NewFixer(az, azureCred, accounts)
	}
	return f
}

// actions lists the actions of the wired clouds.
func (f fixers) actions() []fix.Action {
	var out []fix.Action
	if f.aws != nil {
		out = append(out, f.aws.Actions()...)
	}
	if f.azure != nil {
		out = append(out, f.azure.Actions()...)
	}
	return out
}

// registry is the actions as a fix.Registry.
func (f fixers) registry() (*fix.Registry, error) { return fix.NewRegistry(f.actions()...) }

// Refresh implements fix.Refresher by the resource's cloud.
func (f fixers) Refresh(ctx context.Context, r vigil.Resource) (vigil.Resource, error) {
	switch providerOf(r) {
	case vigil.Azure:
		if f.azure == nil {
			return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "refresh %s: Azure is not wired in this command (--provider azure)", r.UID)
		}
		return f.azure.Refresh(ctx, r)
	default:
		if f.aws == nil {
			return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "refresh %s: AWS is not wired in this command", r.UID)
		}
		return f.aws.Refresh(ctx, r)
	}
}

// providerOf is a resource's cloud; resources stored before the field was
// filled are told apart by their uid (ARNs against ARM ids).
func providerOf(r vigil.Resource) vigil.Provider {
	if r.Provider != "" {
		return r.Provider
	}
	if strings.HasPrefix(r.UID, "/subscriptions/") {
		return vigil.Azure
	}
	return vigil.AWS
}

// actionRegistry lists the actions this build has, for validation and
// `vigil fix actions`; fixing uses the registry of wired fixers.
func actionRegistry() (*fix.Registry, error) {
	c, err := awscol.New(awscol.Options{})
	if err != nil {
		return nil, err
	}
	acts := awscol.NewFixer(c, awscol.Target{}, nil).Actions()
	acts = append(acts, azurecol.NewFixer(nil, nil, nil).Actions()...)
	return fix.NewRegistry(acts...)
}

// accountsOf keeps the accounts of one cloud.
func accountsOf(accounts []vigil.Account, p vigil.Provider) []vigil.Account {
	var out []vigil.Account
	for _, acct := range accounts {
		if acct.Provider == p {
			out = append(out, acct)
		}
	}
	return out
}
