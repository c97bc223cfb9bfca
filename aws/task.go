package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// Resource types of the synthetic resources that hold account- and
// region-wide settings.
const (
	TypeAccount = "aws.account"
	TypeRegion  = "aws.region"
)

// service is one AWS service's collector, registered by name.
type service struct {
	// name is the service name used by --services and the rate limits.
	name string
	// global services are listed once per account, from the home region.
	global bool
	// types are the resource types the service lists; a listing that fails
	// is reported for each of them unless the collector names one.
	types []string
	// collect lists and describes the service's resources in t.region.
	collect func(ctx context.Context, t *task) error
	// get re-reads only what t.only names (see Collector.Get): the wanted
	// resources of t.region, and the account or region settings when
	// t.only.settings is set.
	get func(ctx context.Context, t *task) error
}

var services = map[string]*service{}

// register adds a service collector; called from each service file's init.
func register(s *service) {
	if _, dup := services[s.name]; dup {
		panic("aws: service registered twice: " + s.name)
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

// Types returns every resource type the AWS collector produces, sorted.
func Types() []string {
	types := []string{TypeAccount, TypeRegion}
	for _, s := range services {
		types = append(types, s.types...)
	}
	sort.Strings(types)
	return types
}

// task is one service in one region of one account: what a service's
// collect function receives.
type task struct {
	c      *Collector
	acct   vigil.Account
	region string
	cfg    aws.Config
	svc    *service
	sink   vigil.Sink
	syn    *synthetic
	// only restricts a Get's task to the resources it re-reads; nil in a
	// full collection.
	only *getFilter

	mu     sync.Mutex
	failed map[string]bool
	count  int
	errs   int
}

func (t *task) run(ctx context.Context) error {
	t.sink.Progress(vigil.Progress{Account: t.acct.ID, Region: t.scopeRegion(), Service: t.svc.name})
	start := time.Now()
	err := t.svc.collect(ctx, t)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		for _, typ := range t.svc.types {
			t.listFailed(typ, err)
		}
		// Whatever this service would have set on aws.account or
		// aws.region is missing without a read error of its own.
		t.syn.markIncomplete()
	}
	t.mu.Lock()
	for _, typ := range t.svc.types {
		if !t.failed[typ] {
			t.sink.Listed(vigil.Scope{Account: t.acct.ID, Region: t.scopeRegion(), Type: typ})
		}
	}
	t.sink.Progress(vigil.Progress{Account: t.acct.ID, Region: t.scopeRegion(), Service: t.svc.name,
		Done: true, Resources: t.count, Errors: t.errs})
	count, errs := t.count, t.errs
	t.mu.Unlock()
	t.c.opts.Logger.Debug("collected", "account", t.acct.ID, "region", t.region, "service", t.svc.name,
		"resources", count, "failed_reads", errs, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// scopeRegion is the region of the task's listings: "" for global services.
func (t *task) scopeRegion() string {
	if t.svc.global {
		return ""
	}
	return t.region
}

// now returns the collector's clock reading.
func (t *task) now() time.Time { return t.c.opts.Now().UTC() }

// partition returns the ARN partition of the task's region.
func (t *task) partition() string { return partition(t.region) }

// arn builds an ARN in the task's partition and account.
func (t *task) arn(service, region, resource string) string {
	return "arn:" + t.partition() + ":" + service + ":" + region + ":" + t.acct.ID + ":" + resource
}

// emit sends a collected resource down the pipeline, filling in the fields
// every resource shares.
func (t *task) emit(ctx context.Context, r vigil.Resource) error {
	r.Provider = vigil.AWS
	r.Account = t.acct.ID
	if r.Region == "" {
		r.Region = t.region
		if t.svc.global {
			r.Region = "global"
		}
	}
	if r.CollectedAt.IsZero() {
		r.CollectedAt = t.now()
	}
	if r.Properties == nil {
		r.Properties = map[string]any{}
	}
	t.mu.Lock()
	t.count++
	t.mu.Unlock()
	return t.sink.Resource(ctx, r)
}

// readError builds a ReadError for err on a property.
func (t *task) readError(typ, uid, property string, err error) vigil.ReadError {
	return vigil.ReadError{
		Account: t.acct.ID, Region: t.region, Type: typ, UID: uid, Property: property,
		Operation: operation(err, t.svc.name), Code: classify(err), Message: message(err),
	}
}

// propErr records that a property of r could not be read. The property is
// left out of r.Properties, so every check reading it yields error.
func (t *task) propErr(r *vigil.Resource, property string, err error) {
	e := t.readError(r.Type, r.UID, property, err)
	r.ReadErrors = append(r.ReadErrors, e)
	delete(r.Properties, property)
	t.mu.Lock()
	t.errs++
	t.mu.Unlock()
	t.sink.ReadError(e)
}

// listFailed records that the listing of typ failed in the task's scope:
// every check of typ yields error, reported on the account resource (global
// services) or the region resource.
func (t *task) listFailed(typ string, err error) {
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
	if t.only != nil {
		// A Get reports the failure on each touched resource of typ
		// (Got.Err), not as a listing error of the scope.
		t.only.fail(typ, err)
		return
	}
	e := t.readError(typ, "", "", err)
	t.c.opts.Logger.Info("listing failed", "account", t.acct.ID, "region", t.region, "type", typ,
		"operation", e.Operation, "code", e.Code, "error", e.Message)
	e.UID = t.syn.regionUID(t.region)
	if t.svc.global {
		e.UID = t.syn.accountUID()
		e.Region = "global"
	}
	t.sink.ReadError(e)
}

// setAccount sets a top-level property of the aws.account resource.
func (t *task) setAccount(key string, v any) { t.syn.set("", key, v) }

// setRegion sets a top-level property of the task region's aws.region resource.
func (t *task) setRegion(key string, v any) { t.syn.set(t.region, key, v) }

// accountErr records that an account-wide property could not be read.
func (t *task) accountErr(key string, err error) {
	e := t.readError(TypeAccount, t.syn.accountUID(), key, err)
	e.Region = "global"
	t.syn.fail("", key, e)
	t.countErr(e)
}

// regionErr records that a region-wide property could not be read.
func (t *task) regionErr(key string, err error) {
	e := t.readError(TypeRegion, t.syn.regionUID(t.region), key, err)
	t.syn.fail(t.region, key, e)
	t.countErr(e)
}

func (t *task) countErr(e vigil.ReadError) {
	t.mu.Lock()
	t.errs++
	t.mu.Unlock()
	t.sink.ReadError(e)
}

// listing is one resource type's listing within a service.
type listing[C any] struct {
	typ  string
	list func(ctx context.Context, t *task, client C) error
}

// runListings runs a service's listings in order. Each fails on its own,
// so that a missing permission for snapshots does not hide instances; a
// sink error (the scan was cancelled) stops them all.
func runListings[C any](ctx context.Context, t *task, client C, ls []listing[C]) error {
	for _, l := range ls {
		if !t.wants(l.typ) {
			continue
		}
		err := l.list(ctx, t, client)
		if err == nil {
			continue
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.listFailed(l.typ, err)
	}
	return nil
}

// stopError carries an error of the sink (the scan was cancelled), which
// ends the whole task rather than one listing.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }
func (e stopError) Unwrap() error { return e.err }

// emitOrStop emits r and wraps a sink error so that runListings stops.
func emitOrStop(ctx context.Context, t *task, r vigil.Resource) error {
	if err := t.emit(ctx, r); err != nil {
		return stopError{err}
	}
	return nil
}

// operation names the API operation of an SDK error as "service:Operation".
func operation(err error, fallback string) string {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return strings.ToLower(strings.ReplaceAll(oe.ServiceID, " ", "")) + ":" + oe.OperationName
	}
	return fallback
}

// partition returns the ARN partition a region belongs to.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// synthetic accumulates the aws.account and aws.region resources of one
// account, which several services contribute to.
type synthetic struct {
	account, part string
	at            time.Time
	mu            sync.Mutex
	res           map[string]*vigil.Resource // region ("" for the account) → resource
	incomplete    bool
}

// markIncomplete records that a service failed outright, so some account or
// region settings may be missing.
func (s *synthetic) markIncomplete() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incomplete = true
}

// complete reports whether every service that sets account or region
// settings ran to the end.
func (s *synthetic) complete() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.incomplete
}

func newSynthetic(account, part string, regions []string, at time.Time) *synthetic {
	s := &synthetic{account: account, part: part, at: at.UTC(), res: map[string]*vigil.Resource{}}
	s.res[""] = &vigil.Resource{UID: s.accountUID(), Type: TypeAccount, Region: "global", Name: account,
		Properties: map[string]any{"account_id": account, "partition": part, "regions": regions}}
	for _, r := range regions {
		s.res[r] = &vigil.Resource{UID: s.regionUID(r), Type: TypeRegion, Region: r, Name: r,
			Properties: map[string]any{"region": r}}
	}
	return s
}

func (s *synthetic) accountUID() string {
	return fmt.Sprintf("arn:%s:vigil::%s:account", s.part, s.account)
}

func (s *synthetic) regionUID(region string) string {
	return fmt.Sprintf("arn:%s:vigil:%s:%s:region", s.part, region, s.account)
}

func (s *synthetic) get(region string) *vigil.Resource {
	r, ok := s.res[region]
	if !ok {
		r = &vigil.Resource{UID: s.regionUID(region), Type: TypeRegion, Region: region, Name: region,
			Properties: map[string]any{"region": region}}
		s.res[region] = r
	}
	return r
}

func (s *synthetic) set(region, key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(region).Properties[key] = v
}

func (s *synthetic) fail(region, key string, e vigil.ReadError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.get(region)
	delete(r.Properties, key)
	r.ReadErrors = append(r.ReadErrors, e)
}

// resources returns the finished synthetic resources, account first.
func (s *synthetic) resources() []vigil.Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.res))
	for k := range s.res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]vigil.Resource, 0, len(keys))
	for _, k := range keys {
		r := *s.res[k]
		r.Provider, r.Account, r.CollectedAt = vigil.AWS, s.account, s.at
		out = append(out, r)
	}
	return out
}
