package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// opSubscriptionRead is the RBAC operation of reading a subscription, which
// every action does once per subscription before its first call.
const opSubscriptionRead = "Microsoft.Resources/subscriptions/read"

// Fixer runs fix actions against Azure. Scanning keeps its read-only
// credential (it re-reads resources after a change); fixes use the
// remediation credential, configured separately, through clients with the
// collector's endpoint, transport, retry and rate-limit options. Before its
// first call in a subscription the Fixer reads the subscription with the
// remediation credential and refuses one that credential cannot see.
type Fixer struct {
	scan     *Collector
	cred     azcore.TokenCredential
	opts     *arm.ClientOptions
	accounts map[string]vigil.Account // scanned subscriptions by id

	mu       sync.Mutex
	verified map[string]bool // subscriptions the remediation credential can read
}

// NewFixer returns a Fixer. scan is the scanning collector (its options are
// shared and its credential re-reads resources); remediation is the
// credential that makes the changes; accounts are the scanned subscriptions.
func NewFixer(scan *Collector, remediation azcore.TokenCredential, accounts []vigil.Account) *Fixer {
	f := &Fixer{scan: scan, accounts: map[string]vigil.Account{}, verified: map[string]bool{}}
	if remediation != nil {
		f.cred = markedCredential{remediation}
	}
	if scan != nil {
		opts := *scan.clientOpts
		f.opts = &opts
	}
	for _, a := range accounts {
		if a.Provider == vigil.Azure {
			f.accounts[subKey(a.ID)] = a
		}
	}
	return f
}

// subKey is the form of a subscription id used as a map key: ARM
// ids compare case-insensitively.
func subKey(id string) string { return strings.ToLower(id) }

// client checks, once per subscription, that the remediation credential
// can read sub, and returns the credential and client options to build
// remediation clients with.
func (f *Fixer) client(ctx context.Context, sub string) (azcore.TokenCredential, *arm.ClientOptions, error) {
	if f.cred == nil || f.opts == nil {
		return nil, nil, vigil.Errorf(vigil.EINVALID, "no azure remediation credential is configured: fixes need one, separate from the scanning credential")
	}
	k := subKey(sub)
	f.mu.Lock()
	ok := f.verified[k]
	f.mu.Unlock()
	if ok {
		return f.cred, f.opts, nil
	}
	c, err := armsubscriptions.NewClient(f.cred, f.opts)
	if err != nil {
		return nil, nil, fmt.Errorf("azure subscriptions client: %w", err)
	}
	resp, err := c.Get(ctx, sub, nil)
	if err != nil {
		return nil, nil, &vigil.Error{Code: classify(err),
			Message: "the azure remediation credential cannot read subscription " + sub + ": refusing to change it", Err: errorf(err)}
	}
	if got := deref(resp.SubscriptionID); !SameID(got, sub) {
		return nil, nil, vigil.Errorf(vigil.EINVALID, "the azure remediation credential read subscription %q when asked for %s: refusing to change it", got, sub)
	}
	f.mu.Lock()
	f.verified[k] = true
	f.mu.Unlock()
	return f.cred, f.opts, nil
}

// Refresh implements fix.Refresher: it reads the resource again with the
// scanning credential through Collector.Get; ENOTFOUND when it is gone.
func (f *Fixer) Refresh(ctx context.Context, r vigil.Resource) (vigil.Resource, error) {
	acct, ok := f.accounts[subKey(r.Account)]
	if !ok {
		acct = vigil.Account{Provider: vigil.Azure, ID: r.Account}
	}
	gots, err := f.scan.Get(ctx, acct, []string{r.UID})
	if err != nil {
		return vigil.Resource{}, fmt.Errorf("refresh %s: %w", r.UID, err)
	}
	g := gots[0]
	switch {
	case g.Err != nil:
		return vigil.Resource{}, fmt.Errorf("refresh %s: %w", r.UID, g.Err)
	case !g.Found:
		return vigil.Resource{}, vigil.Errorf(vigil.ENOTFOUND, "refresh %s: the resource is gone", r.UID)
	case g.Partial:
		return r.Overlay(g.Resource), nil
	}
	return g.Resource, nil
}

// fixAction is the shared part of every Azure action: id, type, title and
// RBAC permissions.
type fixAction struct {
	f     *Fixer
	id    string
	typ   string
	title string
	perms []string
}

func (a *fixAction) ID() string            { return a.id }
func (a *fixAction) ResourceType() string  { return a.typ }
func (a *fixAction) Title() string         { return a.title }
func (a *fixAction) Permissions() []string { return a.perms }

// fixActions are the constructors of the Azure actions, added by each
// fix_*.go file's init.
var fixActions []func(*Fixer) fix.Action

// Actions returns every Azure fix action.
func (f *Fixer) Actions() []fix.Action {
	out := make([]fix.Action, 0, len(fixActions))
	for _, mk := range fixActions {
		out = append(out, mk(f))
	}
	return out
}

// call is the recorded input of one ARM call: method, path and the exact
// JSON body sent.
func call(method, path string, body any) map[string]any {
	in := map[string]any{"method": method, "path": path}
	if body != nil {
		in["body"] = body
	}
	return in
}

// jsonMap converts an SDK model to its JSON form as a plain map: the exact
// document the SDK sends or ARM returned.
func jsonMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// fromJSON decodes a plain JSON value (a plan's body, a recorded
// before-state) into an SDK model.
func fromJSON(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// plannedBody returns the body of the plan's call number i.
func plannedBody(p *fix.Plan, i int) (map[string]any, error) {
	if p == nil || i >= len(p.Calls) {
		return nil, vigil.Errorf(vigil.EINVALID, "the fix plan has no call %d", i+1)
	}
	body, ok := p.Calls[i].Input["body"].(map[string]any)
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "the fix plan's call %d (%s) has no body", i+1, p.Calls[i].Operation)
	}
	return body, nil
}

// errorOf is errorf for errors that may be nil: ARM's code and message,
// without the SDK's request dump (its URLs may carry secrets).
func errorOf(err error) error {
	if err == nil {
		return nil
	}
	return errorf(err)
}

// parseTarget parses a resource's ARM id.
func parseTarget(r vigil.Resource) (*arm.ResourceID, error) {
	id, err := arm.ParseResourceID(r.UID)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "invalid azure resource id %q: %v", r.UID, err)
	}
	return id, nil
}
