package azure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	blobctr "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	blobsvc "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/localsrv"
)

// Data-plane operations of the Blob service that have no ARM twin, as named
// in Azure RBAC ("Permissions for calling data operations",
// learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory).
// List Containers, Get Container Properties and Get/Set Blob Service
// Properties are authorized by the same names as their ARM operations
// (opContainersRead, opBlobServicesRead, opBlobServicesWrite), which the
// reader and remediator roles hold already.
const (
	opContainersGetACL = "Microsoft.Storage/storageAccounts/blobServices/containers/getAcl/action"
	opContainersSetACL = "Microsoft.Storage/storageAccounts/blobServices/containers/setAcl/action"
)

// blobAccountPlaceholder is the part of BlobPlane.Endpoint replaced by the
// storage account's name.
const blobAccountPlaceholder = "{account}"

// BlobPlane makes the storage collector read blob containers (with their
// public access level) and the blob service's delete retention from each
// storage account's Blob service itself (the data plane: List Containers,
// Get Blob Service Properties, Get Container Properties) instead of
// through ARM, and makes the azure.storage.container-private and
// azure.storage.blob-soft-delete fixes there (Set Container ACL, Set Blob
// Service Properties). The resources are the same either way: same UIDs
// (the ARM ids …/blobServices/default/containers/NAME), same properties.
// The settings the Blob service does not serve (container delete
// retention, versioning, change feed, restore policy) are still read from
// ARM.
type BlobPlane struct {
	// Endpoint, if set, is the blob service URL of every storage account,
	// "{account}" standing for the account's name:
	// https://{account}.blob.core.windows.net, or for Azurite (path style)
	// http://127.0.0.1:10000/devstoreaccount1. Empty: each account's
	// primaryEndpoints.blob as ARM reports it. Plain http is allowed only
	// to a loopback host, and the URL carries no query (no SAS token).
	Endpoint string
	// SharedKey, if set, authorizes every data-plane call with this account
	// name and key (Azurite: devstoreaccount1 and its well-known key)
	// instead of Microsoft Entra tokens. One key serves every account, so
	// it suits an emulator or a single account; and a key can do anything,
	// so scans and fixes then share one all-powerful credential. Nil: the
	// collector's token credential reads, the Fixer's remediation
	// credential writes (docs/resources/azure.md lists the roles).
	SharedKey *SharedKey
	// Accounts, if set, restricts the data plane to the storage accounts of
	// these names; the others are read and fixed through ARM (an emulator
	// standing in for one account of an estate).
	Accounts []string
	// Transport sends the data-plane requests (default: the SDK's HTTP
	// client). Options.Transport serves ARM only, so that an in-memory ARM
	// estate and a real Blob service can be combined.
	Transport policy.Transporter
}

// checkBlobPlane validates the data-plane options; nil is valid (off).
func checkBlobPlane(p *BlobPlane) error {
	if p == nil {
		return nil
	}
	if p.Endpoint != "" {
		if _, _, err := blobServiceURL(strings.ReplaceAll(p.Endpoint, blobAccountPlaceholder, "account"), "blob endpoint template"); err != nil {
			return err
		}
	}
	if k := p.SharedKey; k != nil {
		if k.Account == "" || k.Key == "" {
			return vigil.Errorf(vigil.EINVALID, "azure blob data plane: a shared key needs an account name and a key")
		}
		if _, err := blobsvc.NewSharedKeyCredential(k.Account, k.Key); err != nil {
			return vigil.Errorf(vigil.EINVALID, "azure blob data plane: the shared key of account %s is not base64", k.Account)
		}
	}
	return nil
}

// blobServiceURL validates a blob service URL and reports whether its host
// is a loopback address. Errors quote the URL without its query, where a
// SAS token would be.
func blobServiceURL(raw, what string) (clean string, loopback bool, err error) {
	want := "(want https://ACCOUNT.blob.core.windows.net, or http://127.0.0.1:PORT/ACCOUNT for Azurite)"
	u, err := url.Parse(raw)
	if raw == "" || err != nil {
		return "", false, vigil.Errorf(vigil.EINVALID, "%s is not a URL %s", what, want)
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	bad := func(why string) error {
		return vigil.Errorf(vigil.EINVALID, "%s %s: %s %s", what, shown, why, want)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", false, bad("scheme must be https")
	case u.Host == "":
		return "", false, bad("no host")
	case u.User != nil:
		return "", false, bad("no user info allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return "", false, bad("no query allowed (a SAS token is not supported; use a credential)")
	case u.Fragment != "":
		return "", false, bad("no fragment allowed")
	case strings.Contains(strings.Trim(u.Path, "/"), "/"):
		return "", false, bad("path must be empty or the account name")
	}
	loopback = localsrv.IsLoopback(u.Hostname())
	if u.Scheme == "http" && !loopback {
		return "", false, bad("plain http would send credentials in clear text; it is allowed only to a loopback host")
	}
	return strings.TrimRight(shown, "/"), loopback, nil
}

// blobEnabled reports whether the collector reads blobs on the data plane
// (for some accounts at least).
func (c *Collector) blobEnabled() bool { return c != nil && c.opts.BlobDataPlane != nil }

// blobFor reports whether the storage account named name is read and
// fixed on the data plane.
func (c *Collector) blobFor(name string) bool {
	if !c.blobEnabled() {
		return false
	}
	if len(c.opts.BlobDataPlane.Accounts) == 0 {
		return true
	}
	for _, a := range c.opts.BlobDataPlane.Accounts {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// blobURL returns the blob service URL of a storage account: the
// endpoint template's, or ARM's primaryEndpoints.blob.
func (c *Collector) blobURL(a armstorage.Account) (string, bool, error) {
	p := c.opts.BlobDataPlane
	if p.Endpoint != "" {
		return blobServiceURL(strings.ReplaceAll(p.Endpoint, blobAccountPlaceholder, deref(a.Name)), "blob endpoint of storage account "+deref(a.Name))
	}
	var ep string
	if props := a.Properties; props != nil && props.PrimaryEndpoints != nil {
		ep = deref(props.PrimaryEndpoints.Blob)
	}
	if ep == "" {
		return "", false, vigil.Errorf(vigil.EINVALID,
			"ARM reports no blob endpoint (primaryEndpoints.blob) for storage account %s: set a blob endpoint template", deref(a.Name))
	}
	return blobServiceURL(ep, "blob endpoint of storage account "+deref(a.Name))
}

// blobClient returns a Blob service client for storage account a of
// subscription sub, authorized by the shared key if one is configured,
// else by cred. Its calls count in APICalls and share the subscription's
// storage rate limit with ARM's storage calls.
func (c *Collector) blobClient(sub string, a armstorage.Account, cred azcore.TokenCredential) (*blobsvc.Client, string, error) {
	u, loopback, err := c.blobURL(a)
	if err != nil {
		return nil, "", err
	}
	p := c.opts.BlobDataPlane
	o := &blobsvc.ClientOptions{}
	o.Retry = policy.RetryOptions{MaxRetries: int32(c.opts.MaxRetries), MaxRetryDelay: 60 * time.Second}
	o.PerRetryPolicies = []policy.Policy{blobLimit{c: c, sub: sub}}
	if p.Transport != nil {
		o.Transport = p.Transport
	}
	// The SDK wants the service URL with a trailing slash before it
	// appends container names.
	svcURL := u + "/"
	if k := p.SharedKey; k != nil {
		kc, err := blobsvc.NewSharedKeyCredential(k.Account, k.Key)
		if err != nil {
			return nil, "", vigil.Errorf(vigil.EINVALID, "azure blob data plane: the shared key of account %s is not base64", k.Account)
		}
		cl, err := blobsvc.NewClientWithSharedKeyCredential(svcURL, kc, o)
		if err != nil {
			return nil, "", fmt.Errorf("blob service client %s: %w", u, err)
		}
		return cl, u, nil
	}
	if cred == nil {
		return nil, "", vigil.Errorf(vigil.EINVALID, "azure blob data plane: no credential for %s", u)
	}
	// A bearer token over plain http only ever goes to this machine:
	// blobServiceURL refused http to any other host.
	o.InsecureAllowCredentialWithHTTP = loopback
	cl, err := blobsvc.NewClient(svcURL, cred, o)
	if err != nil {
		return nil, "", fmt.Errorf("blob service client %s: %w", u, err)
	}
	return cl, u, nil
}

// blobLimit is the data plane's per-retry policy: a token of the
// subscription's storage limiter, then the call is counted.
type blobLimit struct {
	c   *Collector
	sub string
}

// Do implements policy.Policy.
func (p blobLimit) Do(req *policy.Request) (*http.Response, error) {
	if err := p.c.limiter(p.sub, "storage").Wait(req.Raw().Context()); err != nil {
		return nil, err
	}
	p.c.calls.Add(1)
	return req.Next()
}

// blobError is a failed data-plane call: the service URL it went to and
// the error. Its message keeps the Blob service's error code and status,
// not the SDK's request dump.
type blobError struct {
	url string
	err error
}

func (e *blobError) Error() string { return "blob service " + e.url + ": " + blobMessage(e.err) }
func (e *blobError) Unwrap() error { return e.err }

// blobErr wraps an error of a data-plane call to url; nil stays nil.
func blobErr(u string, err error) error {
	if err == nil {
		return nil
	}
	return &blobError{url: u, err: err}
}

// blobMessage is the short message of a data-plane error. The Blob
// service answers in XML, which message() does not read; its error code
// comes in the x-ms-error-code header, which azcore puts in ErrorCode.
func blobMessage(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.StatusCode)
		}
		return fmt.Sprintf("%s (HTTP %d)", code, re.StatusCode)
	}
	var ve *vigil.Error
	if errors.As(err, &ve) {
		return ve.Error()
	}
	return message(err)
}

// blobCode classifies a data-plane error: bad configuration (no endpoint,
// plain http to a remote host) keeps its own code.
func blobCode(err error) string {
	var ve *vigil.Error
	if errors.As(err, &ve) && !isResponseError(err) {
		return ve.Code
	}
	return classify(err)
}

// blobReadError is the ReadError of a failed data-plane read of property
// (empty for a listing) of the resource uid.
func (t *task) blobReadError(region, typ, uid, property, operation string, err error) vigil.ReadError {
	msg := blobMessage(err)
	var be *blobError
	if errors.As(err, &be) {
		msg = be.Error()
	}
	return vigil.ReadError{Account: t.acct.ID, Region: region, Type: typ, UID: uid, Property: property,
		Operation: operation, Code: blobCode(err), Message: msg}
}

// blobPropErr records that a property of r could not be read on the data
// plane; like propErr, the property is left out so dependent checks say
// error.
func (t *task) blobPropErr(r *vigil.Resource, property, operation string, err error) {
	e := t.blobReadError(r.Region, r.Type, r.UID, property, operation, err)
	r.ReadErrors = append(r.ReadErrors, e)
	delete(r.Properties, property)
	t.mu.Lock()
	t.errs++
	t.mu.Unlock()
	t.sink.ReadError(e)
}

// blobListFailed records that the data-plane listing of an account's
// containers failed: as with listFailed, the subscription carries the
// error, so container checks say error, and no Listed scope is sent, so
// no container is swept as gone.
func (t *task) blobListFailed(typ, operation string, err error) {
	t.mu.Lock()
	if t.failed == nil {
		t.failed = map[string]bool{}
	}
	already := t.failed[typ]
	t.failed[typ] = true
	t.errs++
	t.mu.Unlock()
	if already {
		return
	}
	e := t.blobReadError(regionGlobal, typ, t.syn.uid, "", operation, err)
	t.c.opts.Logger.Info("listing failed", "subscription", t.acct.ID, "type", typ,
		"operation", e.Operation, "code", e.Code, "error", e.Message)
	t.sink.ReadError(e)
}

// blobDeleteRetention reads the blob service's delete retention policy on
// the data plane, in the form retentionProps gives the ARM one.
func (t *task) blobDeleteRetention(ctx context.Context, a armstorage.Account) (map[string]any, error) {
	cl, u, err := t.c.blobClient(t.acct.ID, a, t.c.cred)
	if err != nil {
		return nil, err
	}
	resp, err := cl.GetProperties(ctx, nil)
	if err != nil {
		return nil, blobErr(u, err)
	}
	return retentionProps(armRetention(resp.DeleteRetentionPolicy)), nil
}

// armRetention converts the data plane's retention policy to ARM's model.
func armRetention(p *blobsvc.RetentionPolicy) *armstorage.DeleteRetentionPolicy {
	if p == nil {
		return nil
	}
	out := &armstorage.DeleteRetentionPolicy{Enabled: p.Enabled, AllowPermanentDelete: p.AllowPermanentDelete}
	if p.Days != nil {
		out.Days = p.Days
	}
	return out
}

// listContainersData streams the containers of one account from its Blob
// service, as listContainers does from ARM.
func (t *task) listContainersData(ctx context.Context, a armstorage.Account) error {
	cl, u, err := t.c.blobClient(t.acct.ID, a, t.c.cred)
	if err != nil {
		return err
	}
	pager := cl.NewListContainersPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return blobErr(u, err)
		}
		for _, it := range page.ContainerItems {
			if it == nil || it.Name == nil {
				continue
			}
			p := deref(it.Properties)
			r := containerDoc(a, containerUID(a, *it.Name), *it.Name, containerState{
				access: dataAccess(p.PublicAccess), immutability: boolOr(p.HasImmutabilityPolicy, false),
				legalHold: boolOr(p.HasLegalHold, false), deleted: boolOr(it.Deleted, false), modified: p.LastModified,
			})
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// getContainerData reads one container of an account from its Blob
// service (Get Container Properties).
func (t *task) getContainerData(ctx context.Context, a armstorage.Account, name string) (vigil.Resource, error) {
	cl, u, err := t.c.blobClient(t.acct.ID, a, t.c.cred)
	if err != nil {
		return vigil.Resource{}, err
	}
	p, err := cl.NewContainerClient(name).GetProperties(ctx, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opContainersRead, blobErr(u, err))
	}
	return containerDoc(a, containerUID(a, name), name, containerState{
		access: dataAccess(p.BlobPublicAccess), immutability: boolOr(p.HasImmutabilityPolicy, false),
		legalHold: boolOr(p.HasLegalHold, false), modified: p.LastModified,
	}), nil
}

// containerUID is the ARM id of a container of account a, as ARM spells
// it: the account id + /blobServices/default/containers/NAME.
func containerUID(a armstorage.Account, name string) string {
	return strings.TrimRight(deref(a.ID), "/") + "/blobServices/default/containers/" + name
}

// dataAccess maps the data plane's public access level ("container",
// "blob", absent) to ARM's ("Container", "Blob", "None"), the values the
// checks compare with. An unknown level is kept as sent: it is not None,
// so the container fails the check rather than pass unseen.
func dataAccess(p *blobctr.PublicAccessType) string {
	switch v := strings.ToLower(string(deref(p))); v {
	case "", "none", "off":
		return string(armstorage.PublicAccessNone)
	case string(blobctr.PublicAccessTypeContainer):
		return string(armstorage.PublicAccessContainer)
	case string(blobctr.PublicAccessTypeBlob):
		return string(armstorage.PublicAccessBlob)
	default:
		return string(deref(p))
	}
}

// dataAccessType maps ARM's public access level back to the data plane's;
// nil is private.
func dataAccessType(level string) (*blobctr.PublicAccessType, error) {
	switch {
	case strings.EqualFold(level, string(armstorage.PublicAccessNone)):
		return nil, nil
	case strings.EqualFold(level, string(armstorage.PublicAccessContainer)):
		return ptrTo(blobctr.PublicAccessTypeContainer), nil
	case strings.EqualFold(level, string(armstorage.PublicAccessBlob)):
		return ptrTo(blobctr.PublicAccessTypeBlob), nil
	}
	return nil, vigil.Errorf(vigil.EINVALID, "unknown container public access level %q (want None, Blob or Container)", level)
}

// signedIdentifiers is the JSON form of a container's stored access
// policies, as a plan records them.
func signedIdentifiers(ids []*blobctr.SignedIdentifier) []any {
	out := []any{}
	for _, s := range ids {
		if s == nil {
			continue
		}
		m := map[string]any{"id": deref(s.ID)}
		if ap := s.AccessPolicy; ap != nil {
			pol := map[string]any{"permission": deref(ap.Permission)}
			if ap.Start != nil {
				pol["start"] = ap.Start.UTC().Format(time.RFC3339Nano)
			}
			if ap.Expiry != nil {
				pol["expiry"] = ap.Expiry.UTC().Format(time.RFC3339Nano)
			}
			m["accessPolicy"] = pol
		}
		out = append(out, m)
	}
	return out
}
