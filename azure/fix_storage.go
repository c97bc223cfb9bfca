package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	blobctr "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	blobsvc "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// ARM operations of the storage fix actions, as named in Azure RBAC.
const (
	opStorageAccountsWrite = "Microsoft.Storage/storageAccounts/write"
	opBlobServicesWrite    = "Microsoft.Storage/storageAccounts/blobServices/write"
	opContainersWrite      = "Microsoft.Storage/storageAccounts/blobServices/containers/write"
)

func init() {
	accountPerms := []string{opSubscriptionRead, opStorageAccountsRead, opStorageAccountsWrite}
	setting := func(id, title, prop string, state func(p armstorage.AccountProperties) (cur, want any), steps func(name string, cur any) []string) func(*Fixer) fix.Action {
		return func(f *Fixer) fix.Action {
			return &accountSetting{fixAction: fixAction{f: f, id: id, typ: TypeStorageAccount, title: title, perms: accountPerms},
				prop: prop, state: state, steps: steps}
		}
	}
	fixActions = append(fixActions,
		setting("azure.storage.disallow-blob-public-access", "disallow anonymous (public) blob access on the storage account",
			"allowBlobPublicAccess", func(p armstorage.AccountProperties) (any, any) {
				return boolOr(p.AllowBlobPublicAccess, true), false // null permits anonymous access, as the collector says
			}, func(name string, _ any) []string {
				return []string{"set allowBlobPublicAccess to false on storage account " + name +
					": every container's anonymous access stops at once, whatever its public access level"}
			}),
		setting("azure.storage.https-only", "require secure transfer (HTTPS only) on the storage account",
			"supportsHttpsTrafficOnly", func(p armstorage.AccountProperties) (any, any) {
				return boolOr(p.EnableHTTPSTrafficOnly, true), true
			}, func(name string, _ any) []string {
				return []string{"set supportsHttpsTrafficOnly to true on storage account " + name +
					": requests over plain HTTP and unencrypted SMB are refused"}
			}),
		setting("azure.storage.min-tls-1-2", "require TLS 1.2 or later on the storage account",
			"minimumTlsVersion", func(p armstorage.AccountProperties) (any, any) {
				cur := string(deref(p.MinimumTLSVersion))
				if cur == "" {
					cur = string(armstorage.MinimumTLSVersionTLS10) // ARM's default interpretation
				}
				if cur == string(armstorage.MinimumTLSVersionTLS13) {
					return cur, cur
				}
				return cur, string(armstorage.MinimumTLSVersionTLS12)
			}, func(name string, cur any) []string {
				return []string{fmt.Sprintf("set minimumTlsVersion to TLS1_2 on storage account %s (now %v): clients limited to TLS 1.0 or 1.1 can no longer connect", name, cur)}
			}),
		setting("azure.storage.disable-shared-key", "disallow Shared Key (account key and SAS) authorization on the storage account",
			"allowSharedKeyAccess", func(p armstorage.AccountProperties) (any, any) {
				return boolOr(p.AllowSharedKeyAccess, true), false
			}, func(name string, _ any) []string {
				return []string{"set allowSharedKeyAccess to false on storage account " + name +
					": WARNING: every client that authorizes with an account key or an account or service SAS is refused; only Microsoft Entra ID (and user delegation SAS) keeps working"}
			}),
		func(f *Fixer) fix.Action {
			return &denyPublicNetwork{fixAction{f: f, id: "azure.storage.deny-public-network-access", typ: TypeStorageAccount,
				title: "make the storage account firewall deny by default (network rules default action Deny)", perms: accountPerms}}
		},
		func(f *Fixer) fix.Action {
			return &blobSoftDelete{fixAction{f: f, id: "azure.storage.blob-soft-delete", typ: TypeStorageAccount,
				title: "turn on soft delete for blobs (param days: retention, default 7)",
				perms: []string{opSubscriptionRead, opBlobServicesRead, opBlobServicesWrite}}}
		},
		func(f *Fixer) fix.Action {
			return &containerPrivate{fixAction{f: f, id: "azure.storage.container-private", typ: TypeStorageContainer,
				title: "set the blob container's public access level to None (private)",
				perms: []string{opSubscriptionRead, opContainersRead, opContainersWrite}}}
		},
	)
}

// storageFactory returns storage clients with the remediation credential.
func (f *Fixer) storageFactory(ctx context.Context, sub string) (*armstorage.ClientFactory, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armstorage.NewClientFactory(sub, cred, opts)
}

// readAccount reads a storage account with the remediation credential.
func (f *Fixer) readAccount(ctx context.Context, r vigil.Resource) (*armstorage.ClientFactory, armstorage.Account, error) {
	id, err := parseTarget(r)
	if err != nil {
		return nil, armstorage.Account{}, err
	}
	fac, err := f.storageFactory(ctx, id.SubscriptionID)
	if err != nil {
		return nil, armstorage.Account{}, err
	}
	resp, err := fac.NewAccountsClient().GetProperties(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return nil, armstorage.Account{}, fmt.Errorf("%s: %w", opStorageAccountsRead, errorf(err))
	}
	return fac, resp.Account, nil
}

// patchAccount sends one PATCH of the storage account, recorded.
func (f *Fixer) patchAccount(ctx context.Context, r vigil.Resource, body map[string]any, rec *fix.Recorder) error {
	id, err := parseTarget(r)
	if err != nil {
		return err
	}
	fac, err := f.storageFactory(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	var params armstorage.AccountUpdateParameters
	if err := fromJSON(body, &params); err != nil {
		return vigil.Errorf(vigil.EINVALID, "storage account update body: %v", err)
	}
	return rec.Do(opStorageAccountsWrite, call("PATCH", r.UID, body), func() error {
		_, err := fac.NewAccountsClient().Update(ctx, id.ResourceGroupName, id.Name, params, nil)
		return errorOf(err)
	})
}

// accountSetting sets one boolean or string property of a storage account
// with a PATCH that carries only that property. Undo sets the value the
// property had (ARM's default interpretation when it was unset).
type accountSetting struct {
	fixAction
	prop string
	// state returns the property's effective value and the value the fix
	// sets; equal means nothing to change.
	state func(p armstorage.AccountProperties) (cur, want any)
	steps func(name string, cur any) []string
}

func (a *accountSetting) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	_, acct, err := a.f.readAccount(ctx, t.Resource)
	if err != nil {
		return nil, err
	}
	cur, want := a.state(deref(acct.Properties))
	before := map[string]any{a.prop: cur}
	if cur == want {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{fmt.Sprintf("%s is already %v on storage account %s", a.prop, cur, t.Resource.Name)}}, nil
	}
	body := map[string]any{"properties": map[string]any{a.prop: want}}
	return &fix.Plan{Steps: a.steps(t.Resource.Name, cur), Before: before,
		Calls: []vigil.FixCall{{Operation: opStorageAccountsWrite, Input: call("PATCH", t.Resource.UID, body)}}}, nil
}

func (a *accountSetting) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	return a.f.patchAccount(ctx, t.Resource, body, rec)
}

func (a *accountSetting) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	v, ok := before[a.prop]
	if !ok || v == nil {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous %s to restore", a.prop)
	}
	return a.f.patchAccount(ctx, t.Resource, map[string]any{"properties": map[string]any{a.prop: v}}, rec)
}

// denyPublicNetwork sets the account firewall's default action to Deny.
// ARM replaces networkAcls as a whole on PATCH, so the body carries the
// current rule set (IP, virtual network and resource rules, bypass) with
// only the default action changed; Undo sends the rule set as it was.
type denyPublicNetwork struct{ fixAction }

func (a *denyPublicNetwork) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	_, acct, err := a.f.readAccount(ctx, t.Resource)
	if err != nil {
		return nil, err
	}
	p := deref(acct.Properties)
	rules := p.NetworkRuleSet
	if rules == nil {
		// No rule set is ARM's "allow every network".
		rules = &armstorage.NetworkRuleSet{DefaultAction: ptrTo(armstorage.DefaultActionAllow), Bypass: ptrTo(armstorage.BypassAzureServices)}
	}
	cur, err := jsonMap(rules)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"networkAcls": cur}
	if deref(rules.DefaultAction) == armstorage.DefaultActionDeny {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{"the firewall of storage account " + t.Resource.Name + " already denies by default"}}, nil
	}
	next, _ := jsonMap(rules)
	next["defaultAction"] = string(armstorage.DefaultActionDeny)
	body := map[string]any{"properties": map[string]any{"networkAcls": next}}
	allowed := fmt.Sprintf("%d IP rules, %d virtual network rules, %d resource instance rules, bypass %s",
		len(rules.IPRules), len(rules.VirtualNetworkRules), len(rules.ResourceAccessRules), orNone(string(deref(rules.Bypass))))
	return &fix.Plan{Before: before,
		Steps: []string{
			"set the firewall default action of storage account " + t.Resource.Name + " to Deny, keeping its rules (" + allowed + ")",
			"WARNING: this cuts off every public client that is not in those rules (applications, CI, users outside the listed networks)",
		},
		Calls: []vigil.FixCall{{Operation: opStorageAccountsWrite, Input: call("PATCH", t.Resource.UID, body)}}}, nil
}

func (a *denyPublicNetwork) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	return a.f.patchAccount(ctx, t.Resource, body, rec)
}

func (a *denyPublicNetwork) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, ok := before["networkAcls"].(map[string]any)
	if !ok {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous networkAcls to restore")
	}
	return a.f.patchAccount(ctx, t.Resource, map[string]any{"properties": map[string]any{"networkAcls": prev}}, rec)
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

// blobSoftDelete turns on the blob service's delete retention policy for
// param days (1–365, default 7). The blob service PUT carries only
// deleteRetentionPolicy: ARM leaves the properties a PUT of the blob
// service omits as they are. With the Blob data plane on, Set Blob Service
// Properties carries the policy instead. Undo puts the previous policy
// back.
type blobSoftDelete struct{ fixAction }

// retentionDays reads the days parameter.
func retentionDays(params map[string]any) (int, error) {
	v, ok := params["days"]
	if !ok || v == nil {
		return 7, nil
	}
	var d float64
	switch x := v.(type) {
	case int:
		d = float64(x)
	case int64:
		d = float64(x)
	case float64:
		d = x
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, vigil.Errorf(vigil.EINVALID, "param days of azure.storage.blob-soft-delete: %q is not a whole number of days", x)
		}
		d = float64(n)
	default:
		return 0, vigil.Errorf(vigil.EINVALID, "param days of azure.storage.blob-soft-delete: want a number of days, got %T", v)
	}
	if d != math.Trunc(d) || d < 1 || d > 365 {
		return 0, vigil.Errorf(vigil.EINVALID, "param days of azure.storage.blob-soft-delete: %v is not a whole number from 1 to 365", v)
	}
	return int(d), nil
}

func (a *blobSoftDelete) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	days, err := retentionDays(t.Params)
	if err != nil {
		return nil, err
	}
	if id, err := parseTarget(t.Resource); err == nil && a.f.scan.blobFor(id.Name) {
		return a.planData(ctx, t, days)
	}
	id, err := parseTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	fac, err := a.f.storageFactory(ctx, id.SubscriptionID)
	if err != nil {
		return nil, err
	}
	resp, err := fac.NewBlobServicesClient().GetServiceProperties(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opBlobServicesRead, errorf(err))
	}
	policy := deref(resp.BlobServiceProperties.BlobServiceProperties).DeleteRetentionPolicy
	if policy == nil {
		policy = &armstorage.DeleteRetentionPolicy{Enabled: ptrTo(false)}
	}
	cur, err := jsonMap(policy)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"deleteRetentionPolicy": cur}
	if boolOr(policy.Enabled, false) {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{fmt.Sprintf("blob soft delete is already on for storage account %s (%d days)", t.Resource.Name, deref(policy.Days))}}, nil
	}
	body := map[string]any{"properties": map[string]any{"deleteRetentionPolicy": map[string]any{"enabled": true, "days": days}}}
	return &fix.Plan{Before: before,
		Steps: []string{fmt.Sprintf("turn on soft delete for blobs of storage account %s, keeping deleted blobs and snapshots %d days (billed as stored data meanwhile)", t.Resource.Name, days)},
		Calls: []vigil.FixCall{{Operation: opBlobServicesWrite, Input: call("PUT", t.Resource.UID+"/blobServices/default", body)}}}, nil
}

func (a *blobSoftDelete) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	if dataPlanned(p) {
		return a.setData(ctx, t.Resource, body, rec)
	}
	return a.put(ctx, t.Resource, body, rec)
}

func (a *blobSoftDelete) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, ok := before["deleteRetentionPolicy"].(map[string]any)
	if !ok {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous deleteRetentionPolicy to restore")
	}
	if id, err := parseTarget(t.Resource); err == nil && a.f.scan.blobFor(id.Name) {
		return a.setData(ctx, t.Resource, map[string]any{"deleteRetentionPolicy": prev}, rec)
	}
	return a.put(ctx, t.Resource, map[string]any{"properties": map[string]any{"deleteRetentionPolicy": prev}}, rec)
}

func (a *blobSoftDelete) put(ctx context.Context, r vigil.Resource, body map[string]any, rec *fix.Recorder) error {
	id, err := parseTarget(r)
	if err != nil {
		return err
	}
	fac, err := a.f.storageFactory(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	var props armstorage.BlobServiceProperties
	if err := fromJSON(body, &props); err != nil {
		return vigil.Errorf(vigil.EINVALID, "blob service body: %v", err)
	}
	return rec.Do(opBlobServicesWrite, call("PUT", r.UID+"/blobServices/default", body), func() error {
		_, err := fac.NewBlobServicesClient().SetServiceProperties(ctx, id.ResourceGroupName, id.Name, props, nil)
		return errorOf(err)
	})
}

// containerPrivate sets a blob container's public access level to None
// with a PATCH of the container, or on the Blob data plane with Set
// Container ACL (see fix_blob in this file). Undo restores the previous
// level.
type containerPrivate struct{ fixAction }

// containerTarget returns the resource group, account and container names
// of a container id.
func containerTarget(r vigil.Resource) (sub, rg, acct, name string, err error) {
	id, err := parseTarget(r)
	if err != nil {
		return "", "", "", "", err
	}
	a := id
	for a.Parent != nil && !strings.EqualFold(a.ResourceType.Type, "storageAccounts") {
		a = a.Parent
	}
	if !strings.EqualFold(a.ResourceType.Type, "storageAccounts") || !strings.EqualFold(strings.Join(id.ResourceType.Types, "/"), "storageAccounts/blobServices/containers") {
		return "", "", "", "", vigil.Errorf(vigil.EINVALID, "azure resource id %s is not a blob container", r.UID)
	}
	return id.SubscriptionID, id.ResourceGroupName, a.Name, id.Name, nil
}

func (a *containerPrivate) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	sub, rg, acct, name, err := containerTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	if a.f.scan.blobFor(acct) {
		return a.planData(ctx, t, sub, rg, acct, name)
	}
	fac, err := a.f.storageFactory(ctx, sub)
	if err != nil {
		return nil, err
	}
	resp, err := fac.NewBlobContainersClient().Get(ctx, rg, acct, name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opContainersRead, errorf(err))
	}
	cur := string(deref(deref(resp.ContainerProperties).PublicAccess))
	if cur == "" {
		cur = string(armstorage.PublicAccessNone)
	}
	before := map[string]any{"publicAccess": cur}
	if cur == string(armstorage.PublicAccessNone) {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"container " + name + " of storage account " + acct + " is already private"}}, nil
	}
	body := map[string]any{"properties": map[string]any{"publicAccess": string(armstorage.PublicAccessNone)}}
	return &fix.Plan{Before: before,
		Steps: []string{fmt.Sprintf("set the public access level of container %s of storage account %s to None (now %s): anonymous readers of its blobs get 404 from now on", name, acct, cur)},
		Calls: []vigil.FixCall{{Operation: opContainersWrite, Input: call("PATCH", t.Resource.UID, body)}}}, nil
}

func (a *containerPrivate) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	if dataPlanned(p) {
		return a.applyData(ctx, t.Resource, p.Calls[0].Input, body, rec)
	}
	return a.patch(ctx, t.Resource, body, rec)
}

func (a *containerPrivate) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, ok := before["publicAccess"].(string)
	if !ok || prev == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous publicAccess to restore")
	}
	if _, _, acct, _, err := containerTarget(t.Resource); err == nil && a.f.scan.blobFor(acct) {
		return a.undoData(ctx, t.Resource, prev, rec)
	}
	return a.patch(ctx, t.Resource, map[string]any{"properties": map[string]any{"publicAccess": prev}}, rec)
}

func (a *containerPrivate) patch(ctx context.Context, r vigil.Resource, body map[string]any, rec *fix.Recorder) error {
	sub, rg, acct, name, err := containerTarget(r)
	if err != nil {
		return err
	}
	fac, err := a.f.storageFactory(ctx, sub)
	if err != nil {
		return err
	}
	var c armstorage.BlobContainer
	if err := fromJSON(body, &c); err != nil {
		return vigil.Errorf(vigil.EINVALID, "blob container body: %v", err)
	}
	return rec.Do(opContainersWrite, call("PATCH", r.UID, body), func() error {
		_, err := fac.NewBlobContainersClient().Update(ctx, rg, acct, name, c, nil)
		return errorOf(err)
	})
}

func ptrTo[T any](v T) *T { return &v }

// Blob data plane (Options.BlobDataPlane): the container-private and
// blob-soft-delete actions change the Blob service itself. Their plans
// record each data-plane call as method, url (no query but the operation's
// restype/comp: never a SAS) and a JSON rendering of the XML body.

// blobDataPlane reports whether the Fixer's collector reads and fixes
// blobs on the data plane.
func (f *Fixer) blobDataPlane() bool { return f.scan.blobEnabled() }

// dataPlanned reports whether a plan's first call is a data-plane call.
func dataPlanned(p *fix.Plan) bool {
	if p == nil || len(p.Calls) == 0 {
		return false
	}
	_, ok := p.Calls[0].Input["url"]
	return ok
}

// dataCall is the recorded input of one data-plane call.
func dataCall(method, u string, body map[string]any) map[string]any {
	return map[string]any{"method": method, "url": u, "body": body}
}

// blobClient returns a Blob service client of storage account rg/name in
// sub for a fix: the remediation credential (checked against the
// subscription first) unless a shared key is configured.
func (f *Fixer) blobClient(ctx context.Context, sub, rg, name string) (*blobsvc.Client, string, error) {
	if !f.blobDataPlane() {
		return nil, "", vigil.Errorf(vigil.EINVALID, "the fix plan calls the blob data plane, which is not configured")
	}
	fac, err := f.storageFactory(ctx, sub)
	if err != nil {
		return nil, "", err
	}
	resp, err := fac.NewAccountsClient().GetProperties(ctx, rg, name, nil)
	if err != nil {
		return nil, "", &vigil.Error{Code: classify(err), Message: opStorageAccountsRead, Err: errorf(err)}
	}
	return f.scan.blobClient(sub, resp.Account, f.cred)
}

// dataFail wraps a failed data-plane call of a fix with its classified
// code and the operation.
func dataFail(op, u string, err error) error {
	return &vigil.Error{Code: blobCode(err), Message: op, Err: dataErr(u, err)}
}

// dataErr is a failed data-plane write, classified; recorded in the fix's
// calls, so it carries the service's error code and status only.
func dataErr(u string, err error) error {
	if err == nil {
		return nil
	}
	return &vigil.Error{Code: blobCode(err), Message: "blob service " + u, Err: errors.New(blobMessage(err))}
}

// blobPerms are the permissions of the data-plane actions.
var (
	containerPrivateDataPerms = []string{opSubscriptionRead, opStorageAccountsRead, opContainersGetACL, opContainersSetACL}
	blobSoftDeleteDataPerms   = []string{opSubscriptionRead, opStorageAccountsRead, opBlobServicesRead, opBlobServicesWrite}
)

// Permissions are the ARM operations, or with the data plane on the RBAC
// actions of Get and Set Container ACL (and the account read that finds
// the blob endpoint); both when the data plane serves some accounts only.
func (a *containerPrivate) Permissions() []string {
	return a.f.planePerms(a.perms, containerPrivateDataPerms)
}

// planePerms returns the permissions of an action that runs on ARM (arm)
// or on the data plane (data), as configured.
func (f *Fixer) planePerms(arm, data []string) []string {
	switch {
	case !f.blobDataPlane():
		return arm
	case len(f.scan.opts.BlobDataPlane.Accounts) == 0:
		return data
	}
	out := append([]string(nil), arm...)
	for _, p := range data {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// planData reads the container's ACL: its public access level and its
// stored access policies, which Set Container ACL replaces as a whole and
// the plan therefore sends back unchanged.
func (a *containerPrivate) planData(ctx context.Context, t fix.Target, sub, rg, acct, name string) (*fix.Plan, error) {
	cl, u, err := a.f.blobClient(ctx, sub, rg, acct)
	if err != nil {
		return nil, err
	}
	pol, err := cl.NewContainerClient(name).GetAccessPolicy(ctx, nil)
	if err != nil {
		return nil, dataFail(opContainersGetACL, u, err)
	}
	cur := dataAccess(pol.BlobPublicAccess)
	before := map[string]any{"publicAccess": cur}
	if cur == string(armstorage.PublicAccessNone) {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"container " + name + " of storage account " + acct + " is already private"}}, nil
	}
	ids := signedIdentifiers(pol.SignedIdentifiers)
	body := map[string]any{"publicAccess": string(armstorage.PublicAccessNone), "signedIdentifiers": ids}
	return &fix.Plan{Before: before,
		Steps: []string{fmt.Sprintf("set the public access level of container %s of storage account %s to None (now %s) on the Blob service, keeping its %d stored access policies: anonymous readers of its blobs get 404 from now on",
			name, acct, cur, len(ids))},
		Calls: []vigil.FixCall{{Operation: opContainersSetACL, Input: dataCall("PUT", ctrACLURL(u, name), body)}}}, nil
}

// ctrACLURL is the Set Container ACL URL of a container.
func ctrACLURL(svc, name string) string {
	return svc + "/" + url.PathEscape(name) + "?restype=container&comp=acl"
}

// applyData makes the container private. The stored access policies are
// read again: if they changed since the plan, sending the planned ones
// would undo someone's change, so the fix stops with ECONFLICT.
func (a *containerPrivate) applyData(ctx context.Context, r vigil.Resource, input, body map[string]any, rec *fix.Recorder) error {
	sub, rg, acct, name, err := containerTarget(r)
	if err != nil {
		return err
	}
	cl, u, err := a.f.blobClient(ctx, sub, rg, acct)
	if err != nil {
		return err
	}
	cc := cl.NewContainerClient(name)
	pol, err := cc.GetAccessPolicy(ctx, nil)
	if err != nil {
		return dataFail(opContainersGetACL, u, err)
	}
	planned, _ := json.Marshal(body["signedIdentifiers"])
	now, _ := json.Marshal(signedIdentifiers(pol.SignedIdentifiers))
	if string(planned) != string(now) {
		return vigil.Errorf(vigil.ECONFLICT, "the stored access policies of container %s of storage account %s changed since the plan: plan the fix again", name, acct)
	}
	return rec.Do(opContainersSetACL, input, func() error {
		_, err := cc.SetAccessPolicy(ctx, &blobctr.SetAccessPolicyOptions{ContainerACL: pol.SignedIdentifiers})
		return dataErr(u, err)
	})
}

// undoData restores the previous public access level, keeping the stored
// access policies the container has now.
func (a *containerPrivate) undoData(ctx context.Context, r vigil.Resource, prev string, rec *fix.Recorder) error {
	access, err := dataAccessType(prev)
	if err != nil {
		return err
	}
	sub, rg, acct, name, err := containerTarget(r)
	if err != nil {
		return err
	}
	cl, u, err := a.f.blobClient(ctx, sub, rg, acct)
	if err != nil {
		return err
	}
	cc := cl.NewContainerClient(name)
	pol, err := cc.GetAccessPolicy(ctx, nil)
	if err != nil {
		return dataFail(opContainersGetACL, u, err)
	}
	body := map[string]any{"publicAccess": prev, "signedIdentifiers": signedIdentifiers(pol.SignedIdentifiers)}
	return rec.Do(opContainersSetACL, dataCall("PUT", ctrACLURL(u, name), body), func() error {
		_, err := cc.SetAccessPolicy(ctx, &blobctr.SetAccessPolicyOptions{Access: access, ContainerACL: pol.SignedIdentifiers})
		return dataErr(u, err)
	})
}

// Permissions are the ARM operations, or with the data plane on those of
// Get and Set Blob Service Properties (the same names) and the account
// read that finds the blob endpoint.
func (a *blobSoftDelete) Permissions() []string {
	return a.f.planePerms(a.perms, blobSoftDeleteDataPerms)
}

// svcPropsURL is the Set Blob Service Properties URL of a blob service.
func svcPropsURL(svc string) string { return svc + "/?restype=service&comp=properties" }

// planData reads the delete retention policy from the Blob service. Set
// Blob Service Properties leaves the settings it does not carry as they
// are, so the body holds the policy alone.
func (a *blobSoftDelete) planData(ctx context.Context, t fix.Target, days int) (*fix.Plan, error) {
	id, err := parseTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	cl, u, err := a.f.blobClient(ctx, id.SubscriptionID, id.ResourceGroupName, id.Name)
	if err != nil {
		return nil, err
	}
	resp, err := cl.GetProperties(ctx, nil)
	if err != nil {
		return nil, dataFail(opBlobServicesRead, u, err)
	}
	p := resp.DeleteRetentionPolicy
	cur := map[string]any{"enabled": false}
	if p != nil {
		cur["enabled"] = boolOr(p.Enabled, false)
		if p.Days != nil {
			cur["days"] = int(*p.Days)
		}
		if p.AllowPermanentDelete != nil {
			cur["allowPermanentDelete"] = *p.AllowPermanentDelete
		}
	}
	// The same before-state as the ARM path: either plane can undo it.
	before := map[string]any{"deleteRetentionPolicy": cur}
	if cur["enabled"] == true {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{fmt.Sprintf("blob soft delete is already on for storage account %s (%v days)", t.Resource.Name, cur["days"])}}, nil
	}
	body := map[string]any{"deleteRetentionPolicy": map[string]any{"enabled": true, "days": days}}
	return &fix.Plan{Before: before,
		Steps: []string{fmt.Sprintf("turn on soft delete for blobs of storage account %s on the Blob service, keeping deleted blobs and snapshots %d days (billed as stored data meanwhile)", t.Resource.Name, days)},
		Calls: []vigil.FixCall{{Operation: opBlobServicesWrite, Input: dataCall("PUT", svcPropsURL(u), body)}}}, nil
}

// setData sends body's deleteRetentionPolicy with Set Blob Service
// Properties. A disabled policy goes without days, which the service
// accepts only for an enabled one.
func (a *blobSoftDelete) setData(ctx context.Context, r vigil.Resource, body map[string]any, rec *fix.Recorder) error {
	var pol armstorage.DeleteRetentionPolicy
	if err := fromJSON(body["deleteRetentionPolicy"], &pol); err != nil || pol.Enabled == nil {
		return vigil.Errorf(vigil.EINVALID, "blob service body: no valid deleteRetentionPolicy")
	}
	rp := &blobsvc.RetentionPolicy{Enabled: pol.Enabled}
	sent := map[string]any{"enabled": *pol.Enabled}
	if *pol.Enabled {
		rp.Days = pol.Days
		sent["days"] = int(deref(pol.Days))
	}
	if boolOr(pol.AllowPermanentDelete, false) {
		rp.AllowPermanentDelete = pol.AllowPermanentDelete
		sent["allowPermanentDelete"] = true
	}
	id, err := parseTarget(r)
	if err != nil {
		return err
	}
	cl, u, err := a.f.blobClient(ctx, id.SubscriptionID, id.ResourceGroupName, id.Name)
	if err != nil {
		return err
	}
	return rec.Do(opBlobServicesWrite, dataCall("PUT", svcPropsURL(u), map[string]any{"deleteRetentionPolicy": sent}), func() error {
		_, err := cl.SetProperties(ctx, &blobsvc.SetPropertiesOptions{DeleteRetentionPolicy: rp})
		return dataErr(u, err)
	})
}
