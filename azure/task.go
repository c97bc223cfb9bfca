package azure

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/vigilsec/vigil"
)

// Resource types produced by the engine itself.
const (
	// TypeSubscription is the synthetic resource holding subscription-wide
	// settings; its UID is the subscription's ARM id, /subscriptions/{id}.
	TypeSubscription = "azure.subscription"
)

// regionGlobal is the region of resources that belong to no location.
const regionGlobal = "global"

// serviceSubscriptions names the rate limit of Microsoft.Resources calls
// (subscriptions, resource groups), made by the engine itself.
const serviceSubscriptions = "subscriptions"

// service is one Azure service's collector, registered by name.
type service struct {
	// name is the service name used by the rate limits.
	name string
	// types are the resource types the service lists; a listing that
	// fails is reported for each of them unless the collector names one.
	types []string
	// collect lists and describes the service's resources in t's
	// subscription, streaming each to t.emit as its page arrives.
	collect func(ctx context.Context, t *task) error
	// get re-reads one resource of the service by its parsed id (see
	// Collector.Get).
	get func(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error)
}

// services is the registry filled by each service file's init; it is
// never written after init.
var services = map[string]*service{}

// register adds a service collector; called from each service file's init.
func register(s *service) {
	if _, dup := services[s.name]; dup {
		panic("azure: service registered twice: " + s.name)
	}
	services[s.name] = s
}

// Services returns the names of the registered services, sorted.
func Services() []string {
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Types returns every resource type the Azure collector produces, sorted.
func Types() []string {
	types := []string{TypeSubscription}
	for _, s := range services {
		types = append(types, s.types...)
	}
	sort.Strings(types)
	return types
}

// task is one service in one subscription: what a service's collect
// function receives.
type task struct {
	c    *Collector
	acct vigil.Account
	svc  *service
	sink vigil.Sink
	syn  *synthetic

	mu     sync.Mutex
	failed map[string]bool
	count  int
	errs   int
}

func (t *task) run(ctx context.Context) error {
	t.sink.Progress(vigil.Progress{Account: t.acct.ID, Service: t.svc.name})
	start := time.Now()
	err := t.svc.collect(ctx, t)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var stop stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		for _, typ := range t.svc.types {
			t.listFailed(typ, operationOf(err, t.svc.name), err)
		}
		// Whatever this service would have set on azure.subscription is
		// missing without a read error of its own.
		t.syn.markIncomplete()
	}
	t.mu.Lock()
	for _, typ := range t.svc.types {
		if !t.failed[typ] {
			t.sink.Listed(vigil.Scope{Account: t.acct.ID, Type: typ})
		}
	}
	count, errs := t.count, t.errs
	t.mu.Unlock()
	t.sink.Progress(vigil.Progress{Account: t.acct.ID, Service: t.svc.name, Done: true, Resources: count, Errors: errs})
	t.c.opts.Logger.Debug("collected", "subscription", t.acct.ID, "service", t.svc.name,
		"resources", count, "failed_reads", errs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// now returns the collector's clock reading.
func (t *task) now() time.Time { return t.c.opts.Now().UTC() }

// emit sends a collected resource down the pipeline, filling in the fields
// every resource shares. A sink error (the scan was cancelled) comes back
// as a stopError so that the service's listings end.
func (t *task) emit(ctx context.Context, r vigil.Resource) error {
	finish(&r, t.acct.ID, t.now())
	t.mu.Lock()
	t.count++
	t.mu.Unlock()
	if err := t.sink.Resource(ctx, r); err != nil {
		return stopError{err}
	}
	return nil
}

// finish fills the fields every Azure resource shares.
func finish(r *vigil.Resource, account string, at time.Time) {
	r.Provider = vigil.Azure
	r.Account = account
	if r.Region == "" {
		r.Region = regionGlobal
	}
	if r.CollectedAt.IsZero() {
		r.CollectedAt = at
	}
	if r.Properties == nil {
		r.Properties = map[string]any{}
	}
}

// propErr records that a property of r could not be read by operation
// (an ARM operation name such as
// "Microsoft.Storage/storageAccounts/blobServices/read"). The property is
// left out of r.Properties, so every check reading it yields error.
func (t *task) propErr(r *vigil.Resource, property, operation string, err error) {
	e := vigil.ReadError{
		Account: t.acct.ID, Region: r.Region, Type: r.Type, UID: r.UID, Property: property,
		Operation: operation, Code: classify(err), Message: message(err),
	}
	r.ReadErrors = append(r.ReadErrors, e)
	delete(r.Properties, property)
	t.mu.Lock()
	t.errs++
	t.mu.Unlock()
	t.sink.ReadError(e)
}

// listFailed records that the listing of typ failed in the subscription:
// every check of typ yields error, reported on the azure.subscription
// resource, and no Listed scope is sent so nothing is swept as gone.
func (t *task) listFailed(typ, operation string, err error) {
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
	e := vigil.ReadError{
		Account: t.acct.ID, Region: regionGlobal, Type: typ, UID: t.syn.uid,
		Operation: operation, Code: classify(err), Message: message(err),
	}
	t.c.opts.Logger.Info("listing failed", "subscription", t.acct.ID, "type", typ,
		"operation", e.Operation, "code", e.Code, "error", e.Message)
	t.sink.ReadError(e)
}

// opError tags an SDK error with the ARM operation that failed, so that a
// listing failure names it.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// withOp tags err with the ARM operation op; nil stays nil.
func withOp(op string, err error) error {
	if err == nil {
		return nil
	}
	var stop stopError
	if errors.As(err, &stop) {
		return err
	}
	return &opError{op: op, err: err}
}

// operationOf returns the ARM operation err was tagged with, or fallback.
func operationOf(err error, fallback string) string {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.op
	}
	return fallback
}

// stopError carries an error of the sink (the scan was cancelled), which
// ends the whole task rather than one listing.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

// listing is one resource type's listing within a service.
type listing struct {
	typ  string
	list func(ctx context.Context, t *task) error
}

// runListings runs a service's listings in order. Each fails on its own,
// so that a missing permission on one type does not hide the others; a
// sink error (the scan was cancelled) stops them all.
func runListings(ctx context.Context, t *task, ls []listing) error {
	for _, l := range ls {
		err := l.list(ctx, t)
		if err == nil {
			continue
		}
		var stop stopError
		if errors.As(err, &stop) {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.listFailed(l.typ, operationOf(err, t.svc.name), err)
	}
	return nil
}

// synthetic accumulates the azure.subscription resource, which the engine
// and (in later services) several collectors contribute to.
type synthetic struct {
	account    string
	uid        string
	at         time.Time
	mu         sync.Mutex
	res        vigil.Resource
	incomplete bool
}

func newSynthetic(acct vigil.Account, at time.Time) *synthetic {
	uid := "/subscriptions/" + acct.ID
	name := acct.Name
	if name == "" {
		name = acct.ID
	}
	return &synthetic{account: acct.ID, uid: uid, at: at.UTC(), res: vigil.Resource{
		UID: uid, Type: TypeSubscription, Region: regionGlobal, Name: name,
		Properties: map[string]any{"subscription_id": acct.ID},
	}}
}

func (s *synthetic) set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.Properties[key] = v
}

func (s *synthetic) setName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.Name = name
}

// fail records a subscription-wide property that could not be read.
func (s *synthetic) fail(e vigil.ReadError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.res.Properties, e.Property)
	s.res.ReadErrors = append(s.res.ReadErrors, e)
}

// markIncomplete records that a contributor failed outright, so some
// subscription settings may be missing without a read error of their own.
func (s *synthetic) markIncomplete() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incomplete = true
}

// complete reports whether every contributor ran to the end.
func (s *synthetic) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.incomplete
}

// resource returns the finished synthetic resource.
func (s *synthetic) resource() vigil.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.res
	r.Properties = make(map[string]any, len(s.res.Properties))
	for k, v := range s.res.Properties {
		r.Properties[k] = v
	}
	r.ReadErrors = append([]vigil.ReadError(nil), s.res.ReadErrors...)
	r.Provider, r.Account, r.CollectedAt = vigil.Azure, s.account, s.at
	return r
}

// isResponseError reports whether err carries an HTTP response from ARM.
func isResponseError(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re)
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// orEmpty returns s, or an empty (non-nil) list so that the JSON document
// says [] rather than null.
func orEmpty(s []any) []any {
	if s == nil {
		return []any{}
	}
	return s
}

// tags converts ARM tags to a plain map; nil when there are none.
func tags(in map[string]*string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = deref(v)
	}
	return out
}

// SameID reports whether two ARM resource ids name the same resource:
// ARM ids compare case-insensitively.
func SameID(a, b string) bool {
	return strings.EqualFold(strings.TrimRight(a, "/"), strings.TrimRight(b, "/"))
}
