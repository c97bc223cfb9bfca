package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil"
)

// Got is one resource read again by id.
type Got struct {
	// ID is the resource id as asked.
	ID string
	// Resource is valid when Found.
	Resource vigil.Resource
	// Found is false when ARM says the resource does not exist (any more).
	Found bool
	// Partial marks an azure.subscription resource holding only the
	// settings re-read; the caller overlays it on the stored one
	// (vigil.Resource.Overlay).
	Partial bool
	// Err is set when the resource could not be read at all (denied,
	// throttled out, an id of a type Vigil does not collect): it is
	// neither Found nor known to be gone.
	Err error
}

// Get re-reads resources of one subscription by ARM id, with one GET per
// resource rather than a listing. A resource read again is identical
// (properties, read errors, hash) to what a full scan gives for it. The
// result has one Got per id, in order; Get returns an error only for a
// malformed account or a cancelled context.
func (c *Collector) Get(ctx context.Context, acct vigil.Account, ids []string) ([]Got, error) {
	if err := checkAccount(acct); err != nil {
		return nil, err
	}
	out := make([]Got, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i, id := range ids {
		out[i].ID = id
		g.Go(func() error {
			out[i] = c.getOne(gctx, acct, id)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// getOne re-reads one resource.
func (c *Collector) getOne(ctx context.Context, acct vigil.Account, id string) Got {
	got := Got{ID: id}
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		got.Err = vigil.Errorf(vigil.EINVALID, "invalid azure resource id %q: %v", id, err)
		return got
	}
	if !strings.EqualFold(rid.SubscriptionID, acct.ID) {
		got.Err = vigil.Errorf(vigil.EINVALID, "azure resource id %s is not in subscription %s", id, acct.ID)
		return got
	}
	t := &task{c: c, acct: acct, sink: discardSink{}}
	if strings.EqualFold(rid.ResourceType.String(), "Microsoft.Resources/subscriptions") {
		syn := newSynthetic(acct, c.opts.Now())
		if err := c.readSubscription(ctx, acct, syn, discardSink{}); err != nil {
			got.Err = err
			return got
		}
		// The services that keep only subscription settings (Defender for
		// Cloud, activity-log monitoring) are read again in full: an event
		// on one of their settings, or a fix's verification, must see it.
		// Settings that come with resource listings (network watcher
		// regions) stay as stored: the result is Partial.
		for _, name := range settingsServices() {
			st := &task{c: c, acct: acct, svc: services[name], sink: discardSink{}, syn: syn}
			if err := st.run(ctx); err != nil {
				got.Err = err
				return got
			}
		}
		r := syn.resource()
		if e, ok := r.ReadErrorFor("subscription"); ok && e.Code == vigil.ENOTFOUND {
			return got
		}
		got.Resource, got.Found, got.Partial = r, true, true
		return got
	}
	svc, ok := services[namespaceService[strings.ToLower(rid.ResourceType.Namespace)]]
	if !ok {
		got.Err = vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id, rid.ResourceType.String())
		return got
	}
	t.svc = svc
	r, err := svc.get(ctx, t, rid)
	switch {
	case err == nil:
		finish(&r, acct.ID, t.now())
		got.Resource, got.Found = r, true
	case classify(err) == vigil.ENOTFOUND:
	case vigil.ErrorCode(err) == vigil.EINVALID && !isResponseError(err):
		got.Err = err
	default:
		got.Err = &vigil.Error{Code: classify(err), Message: "get " + id + " (" + operationOf(err, svc.name) + ")", Err: errorf(err)}
	}
	return got
}

// settingsServices names the services whose only output is settings of
// azure.subscription, sorted.
func settingsServices() []string {
	var out []string
	for _, name := range Services() {
		if len(services[name].types) == 0 {
			out = append(out, name)
		}
	}
	return out
}

// discardSink drops what a Get's task reports: the read errors are on the
// resource it returns.
type discardSink struct{}

func (discardSink) Resource(context.Context, vigil.Resource) error { return nil }
func (discardSink) ReadError(vigil.ReadError)                      {}
func (discardSink) Listed(vigil.Scope)                             {}
func (discardSink) Progress(vigil.Progress)                        {}
