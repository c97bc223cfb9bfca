// Package azure collects Azure resources with the Azure SDK for Go. The
// engine here fans out over subscription × service with bounded concurrency
// and per-service rate limits; each service's collector (one file per
// service) only lists and describes.
//
// Resource UIDs are ARM resource ids exactly as ARM returns them. ARM ids
// are case-insensitive (ARM itself returns "resourceGroups" and
// "resourcegroups" from different APIs), so every comparison of ids in this
// package folds case (see SameID); the stored UID keeps ARM's spelling.
package azure

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/localsrv"
)

// Options configure the Azure collector. The zero value scans every
// subscription the default credential can see, in the public cloud, at the
// default limits.
type Options struct {
	// Cloud is "public" (default), "usgov" or "china".
	Cloud string
	// Endpoint sends every ARM call to this URL instead of the cloud's
	// Resource Manager (Azure Stack, an emulator); it is also the token
	// audience. Plain HTTP is allowed only for a loopback host.
	Endpoint string
	// Subscriptions restricts Resolve to these subscription ids; empty
	// means every subscription the credential lists.
	Subscriptions []string
	// Services restricts a scan to these services (see Services); empty
	// means all. A partial scan never resolves findings on the
	// subscription-wide settings, which several services contribute to.
	Services []string
	// Concurrency bounds the subscription × service tasks run at once per
	// subscription (default 16).
	Concurrency int
	// Rates overrides the requests per second allowed per subscription and
	// service, keyed by service name (see Services; default 20/s).
	Rates map[string]float64
	// MaxRetries is azcore's retry budget per call after the first attempt
	// (default 4). Retries honour 429 Retry-After.
	MaxRetries int
	// Credential authenticates every call (default
	// azidentity.NewDefaultAzureCredential: environment, workload
	// identity, managed identity, Azure CLI, …).
	Credential azcore.TokenCredential
	// Transport replaces the HTTP client of every SDK client (tests: the
	// in-memory estate of package azuretest).
	Transport policy.Transporter
	// BlobDataPlane, if set, reads blob containers (with their public
	// access level) and the blob service's delete retention from each
	// storage account's Blob service (the data plane) rather than through
	// ARM, and the container-private and blob-soft-delete fixes change
	// them there; see BlobPlane. Nil: storage is read and fixed through
	// ARM alone.
	BlobDataPlane *BlobPlane
	// Logger receives debug and warning logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Collector collects Azure subscriptions. It is safe for concurrent use.
type Collector struct {
	opts       Options
	clientOpts *arm.ClientOptions
	cred       azcore.TokenCredential
	calls      atomic.Int64
	limiters   sync.Map // "subscription/service" → *rate.Limiter
}

var _ vigil.Collector = (*Collector)(nil)

// clouds are the named sovereign clouds.
var clouds = map[string]cloud.Configuration{
	"public": cloud.AzurePublic,
	"usgov":  cloud.AzureGovernment,
	"china":  cloud.AzureChina,
}

var subscriptionRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// New returns a collector. It validates the options: an unknown cloud, a
// malformed endpoint or subscription id, a plain-HTTP endpoint on a
// non-loopback host and a non-positive rate are EINVALID errors.
func New(opts Options) (*Collector, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Cloud == "" {
		opts.Cloud = "public"
	}
	cfg, ok := clouds[opts.Cloud]
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "unknown azure cloud %q (known: public, usgov, china)", opts.Cloud)
	}
	for _, s := range opts.Subscriptions {
		if !subscriptionRe.MatchString(s) {
			return nil, vigil.Errorf(vigil.EINVALID, "invalid azure subscription id %q (want a GUID such as 00000000-0000-0000-0000-000000000000)", s)
		}
	}
	for _, s := range opts.Services {
		if _, ok := services[s]; !ok {
			return nil, vigil.Errorf(vigil.EINVALID, "unknown azure service %q (known: %s)", s, strings.Join(Services(), ", "))
		}
	}
	for s, r := range opts.Rates {
		if _, ok := services[s]; !ok && s != serviceSubscriptions {
			return nil, vigil.Errorf(vigil.EINVALID, "rate for unknown azure service %q (known: %s)", s, strings.Join(Services(), ", "))
		}
		if r <= 0 {
			return nil, vigil.Errorf(vigil.EINVALID, "rate for azure service %s must be positive, got %v", s, r)
		}
	}
	if err := checkBlobPlane(opts.BlobDataPlane); err != nil {
		return nil, err
	}
	insecure := false
	if opts.Endpoint != "" {
		u, err := url.Parse(opts.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, vigil.Errorf(vigil.EINVALID, "invalid azure endpoint %q (want an http(s) URL such as https://management.example.com)", opts.Endpoint)
		}
		if u.Scheme == "http" {
			if !localsrv.IsLoopback(u.Hostname()) {
				return nil, vigil.Errorf(vigil.EINVALID,
					"azure endpoint %q: plain HTTP would send credentials in clear text; it is allowed only for a loopback host (localhost, 127.0.0.1, ::1)", opts.Endpoint)
			}
			insecure = true
		}
		ep := strings.TrimRight(opts.Endpoint, "/")
		cfg = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cfg.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: ep, Audience: ep},
			},
		}
	}
	c := &Collector{opts: opts}
	c.clientOpts = &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{
			Cloud:     cfg,
			Transport: opts.Transport,
			Retry: policy.RetryOptions{
				MaxRetries: int32(opts.MaxRetries),
				// ARM asks for up to a minute in Retry-After; a longer
				// wait ends the retries and the read fails as throttled.
				MaxRetryDelay: 60 * time.Second,
			},
			PerRetryPolicies:                []policy.Policy{limitPolicy{c}},
			InsecureAllowCredentialWithHTTP: insecure,
		},
		// Scanning is read-only: never register resource providers.
		DisableRPRegistration: true,
	}
	c.cred = opts.Credential
	if c.cred == nil {
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
			ClientOptions: azcore.ClientOptions{Cloud: cfg, Transport: opts.Transport},
		})
		if err != nil {
			return nil, &vigil.Error{Code: vigil.EUNAUTHORIZED, Message: "azure default credential", Err: err}
		}
		c.cred = cred
	}
	c.cred = markedCredential{c.cred}
	return c, nil
}

// APICalls returns how many HTTP requests (attempts, retries included) the
// collector has sent.
func (c *Collector) APICalls() int64 { return c.calls.Load() }

// Resolve returns the accounts to scan: the given subscription ids (or
// Options.Subscriptions), each read from ARM so that it carries its display
// name, or every enabled subscription the credential lists when both are
// empty. A subscription the credential cannot read is an error naming it.
func (c *Collector) Resolve(ctx context.Context, subscriptionIDs []string) ([]vigil.Account, error) {
	ids := subscriptionIDs
	if len(ids) == 0 {
		ids = c.opts.Subscriptions
	}
	client, err := armsubscriptions.NewClient(c.cred, c.clientOpts)
	if err != nil {
		return nil, fmt.Errorf("azure subscriptions client: %w", err)
	}
	var out []vigil.Account
	if len(ids) == 0 {
		pager := client.NewListPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, &vigil.Error{Code: classify(err), Message: "list azure subscriptions", Err: errorf(err)}
			}
			for _, s := range page.Value {
				if s == nil || s.SubscriptionID == nil {
					continue
				}
				if st := deref(s.State); st == armsubscriptions.SubscriptionStateDisabled || st == armsubscriptions.SubscriptionStateDeleted {
					c.opts.Logger.Info("skipping azure subscription", "subscription", *s.SubscriptionID, "state", st)
					continue
				}
				out = append(out, account(*s))
			}
		}
		if len(out) == 0 {
			return nil, vigil.Errorf(vigil.ENOTFOUND, "the azure credential can see no enabled subscription")
		}
		return out, nil
	}
	for _, id := range ids {
		if !subscriptionRe.MatchString(id) {
			return nil, vigil.Errorf(vigil.EINVALID, "invalid azure subscription id %q (want a GUID)", id)
		}
		resp, err := client.Get(ctx, id, nil)
		if err != nil {
			return nil, &vigil.Error{Code: classify(err), Message: "azure subscription " + id, Err: errorf(err)}
		}
		out = append(out, account(resp.Subscription))
	}
	return out, nil
}

// account turns a subscription into the account Vigil scans.
func account(s armsubscriptions.Subscription) vigil.Account {
	a := vigil.Account{Provider: vigil.Azure, ID: deref(s.SubscriptionID), Name: deref(s.DisplayName)}
	if a.Name == "" {
		a.Name = a.ID
	}
	return a
}

// Collect scans one subscription: every service concurrently and bounded,
// then the synthetic azure.subscription resource. It fails only when
// nothing can be collected: a malformed account, a credential that cannot
// get a token, an unreachable endpoint.
func (c *Collector) Collect(ctx context.Context, acct vigil.Account, sink vigil.Sink) error {
	if err := checkAccount(acct); err != nil {
		return err
	}
	syn := newSynthetic(acct, c.opts.Now())
	if err := c.readSubscription(ctx, acct, syn, sink); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	names := c.opts.Services
	if len(names) == 0 {
		names = Services()
	}
	for _, name := range names {
		t := &task{c: c, acct: acct, svc: services[name], sink: sink, syn: syn}
		g.Go(func() error { return t.run(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r := syn.resource()
	if err := sink.Resource(ctx, r); err != nil {
		return err
	}
	if syn.complete() && len(c.opts.Services) == 0 {
		sink.Listed(vigil.Scope{Account: acct.ID, Type: TypeSubscription})
	}
	return nil
}

// checkAccount validates that acct is an Azure subscription.
func checkAccount(acct vigil.Account) error {
	if acct.Provider != vigil.Azure {
		return vigil.Errorf(vigil.EINVALID, "azure collector given a %q account %s", acct.Provider, acct.ID)
	}
	if !subscriptionRe.MatchString(acct.ID) {
		return vigil.Errorf(vigil.EINVALID, "invalid azure subscription id %q (want a GUID)", acct.ID)
	}
	return nil
}

// readSubscription reads the subscription itself into the synthetic
// resource. A credential or connection failure ends the collection; a
// subscription ARM refuses or does not know becomes a read error, and the
// services' listings then report their own failures.
func (c *Collector) readSubscription(ctx context.Context, acct vigil.Account, syn *synthetic, sink vigil.Sink) error {
	client, err := armsubscriptions.NewClient(c.cred, c.clientOpts)
	if err != nil {
		return fmt.Errorf("azure subscriptions client: %w", err)
	}
	resp, err := client.Get(ctx, acct.ID, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		code := classify(err)
		if code == vigil.EUNAUTHORIZED || (code == vigil.EUNAVAILABLE && !isResponseError(err)) {
			return &vigil.Error{Code: code, Message: "azure subscription " + acct.ID, Err: errorf(err)}
		}
		e := vigil.ReadError{Account: acct.ID, Region: regionGlobal, Type: TypeSubscription, UID: syn.uid,
			Property: "subscription", Operation: "Microsoft.Resources/subscriptions/read", Code: code, Message: message(err)}
		syn.fail(e)
		sink.ReadError(e)
		return nil
	}
	syn.set("subscription", subscriptionProps(resp.Subscription))
	if resp.DisplayName != nil && acct.Name == "" {
		syn.setName(*resp.DisplayName)
	}
	return nil
}

// subscriptionProps is the "subscription" property of azure.subscription.
func subscriptionProps(s armsubscriptions.Subscription) map[string]any {
	p := map[string]any{
		"display_name":         deref(s.DisplayName),
		"state":                string(deref(s.State)),
		"tenant_id":            deref(s.TenantID),
		"authorization_source": deref(s.AuthorizationSource),
	}
	if sp := s.SubscriptionPolicies; sp != nil {
		p["quota_id"] = deref(sp.QuotaID)
		p["spending_limit"] = string(deref(sp.SpendingLimit))
	}
	var managers []any
	for _, m := range s.ManagedByTenants {
		if m != nil && m.TenantID != nil {
			managers = append(managers, *m.TenantID)
		}
	}
	p["managed_by_tenants"] = orEmpty(managers)
	return p
}
