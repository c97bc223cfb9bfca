package aws

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil"
)

// Got is one touched resource read again.
type Got struct {
	Touched  Touched
	Resource vigil.Resource // valid when Found
	Found    bool           // false: the resource does not exist (any more)
	// Partial: Resource is an aws.account / aws.region synthetic resource holding only the
	// properties (and read errors) of the services re-run; the caller overlays them on the stored one
	// (see Apply).
	Partial bool
	// Err is set when the resource could not be read at all (the describe
	// call that finds it was denied, throttled out, …): it is neither Found
	// nor known to be gone, and the stored version should stay as it is.
	Err error
}

// Apply returns what to store for g given the stored version of the
// resource: the resource read again or, for a Partial one, stored with the
// re-read settings laid over it. Each top-level property the re-run
// services set or failed to read replaces the stored one, with its read
// errors; every other property stays as stored.
func (g Got) Apply(stored vigil.Resource) vigil.Resource {
	if !g.Partial || stored.UID == "" {
		return g.Resource
	}
	return stored.Overlay(g.Resource)
}

// topProperty is the first element of a dotted property path.
func topProperty(p string) string {
	top, _, _ := strings.Cut(p, ".")
	return top
}

// settingServices are the services that set properties of the synthetic
// resources (see the setAccount and setRegion calls of each service): a Get
// of aws.account or aws.region re-runs them in settings-only mode.
var settingServices = map[string][]string{
	TypeAccount: {"iam", "s3"},
	TypeRegion:  {"accessanalyzer", "cloudtrail", "config", "ec2", "guardduty"},
}

// getFilter is what one Get task re-reads, and what it could not.
type getFilter struct {
	// uids are the wanted resources by type, without duplicates.
	uids map[string][]string
	// settings asks for the account or region settings the service sets.
	settings bool

	mu     sync.Mutex
	failed map[string]error // type or uid → why it could not be read
}

func (f *getFilter) add(typ, uid string) {
	if f.uids == nil {
		f.uids = map[string][]string{}
	}
	if !slices.Contains(f.uids[typ], uid) {
		f.uids[typ] = append(f.uids[typ], uid)
	}
}

// fail records that key (a type, or one uid) could not be read.
func (f *getFilter) fail(key string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed == nil {
		f.failed = map[string]error{}
	}
	if _, dup := f.failed[key]; !dup {
		f.failed[key] = err
	}
}

// failure returns why uid of typ could not be read, or nil.
func (f *getFilter) failure(typ, uid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.failed[uid]; ok {
		return err
	}
	return f.failed[typ]
}

// wants reports whether the task lists typ: always in a full collection,
// only for types with wanted resources in a Get.
func (t *task) wants(typ string) bool { return t.only == nil || len(t.only.uids[typ]) > 0 }

// wanted reports whether the task emits the resource uid of typ.
func (t *task) wanted(typ, uid string) bool {
	return t.only == nil || slices.Contains(t.only.uids[typ], uid)
}

// wantsSettings reports whether the task reads the account or region
// settings its service sets.
func (t *task) wantsSettings() bool { return t.only == nil || t.only.settings }

// wantedUIDs returns the resources of typ a Get asked for (nil in a full
// collection).
func (t *task) wantedUIDs(typ string) []string {
	if t.only == nil {
		return nil
	}
	return t.only.uids[typ]
}

// getFailed records that the resource uid could not be read by a Get.
func (t *task) getFailed(uid string, err error) { t.only.fail(uid, err) }

// get runs the service's get path; a failure of the service as a whole is
// recorded for each of its types, as a listing failure is in a scan.
func (t *task) get(ctx context.Context) error {
	err := t.svc.get(ctx, t)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var stop stopError
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		for _, typ := range t.svc.types {
			t.listFailed(typ, err)
		}
	}
	return nil
}

// Get re-reads the touched resources of one account with the scanning credentials, doing only the
// API calls those resources need (no listing of the whole service where the API can filter by id/name).
//
// The result has one Got per touched entry, in order. A resource read
// again is identical (properties, read errors, hash) to what a full scan
// gives for it. Touched entries marked Deleted are checked all the same.
// aws.account and aws.region entries re-run every service that sets their
// settings, in settings-only mode, and come back Partial. Get reports no
// listed scopes: it must never make the caller sweep what it did not see.
// For IAM entities, which events name without their path, Resource.UID is
// the entity's real ARN and may differ from Touched.UID.
func (c *Collector) Get(ctx context.Context, acct vigil.Account, touched []Touched) ([]Got, error) {
	return c.get(ctx, acct, touched, nil)
}

// getTaskKey names one task of a Get: a service in a region.
type getTaskKey struct{ svc, region string }

// get is Get with the settings services per synthetic type overridden by
// only (nil: settingServices); the Fixer re-reads just the services its
// action changed.
func (c *Collector) get(ctx context.Context, acct vigil.Account, touched []Touched, only map[string][]string) ([]Got, error) {
	cfg, err := c.base(ctx, acct)
	if err != nil {
		return nil, err
	}
	home := cfg.Region
	if len(c.opts.Regions) > 0 {
		home = c.opts.Regions[0]
	}
	syn := newSynthetic(acct.ID, partition(home), nil, c.opts.Now())
	plan := map[getTaskKey]*getFilter{}
	filter := func(svc, region string) *getFilter {
		k := getTaskKey{svc, region}
		if plan[k] == nil {
			plan[k] = &getFilter{}
		}
		return plan[k]
	}
	gots := make([]Got, len(touched))
	keys := make([]getTaskKey, len(touched)) // the task that reads each touched resource
	for i, tc := range touched {
		gots[i].Touched = tc
		switch tc.Type {
		case TypeAccount, TypeRegion:
			region := ""
			if tc.Type == TypeRegion {
				region = tc.Region
				if region == "" || region == "global" {
					region = arnRegion(tc.UID)
				}
				if !regionRe.MatchString(region) {
					gots[i].Err = vigil.Errorf(vigil.EINVALID, "get %s: touched aws.region has no valid region (got %q)", tc.UID, region)
					continue
				}
			}
			uid := syn.accountUID()
			if region != "" {
				uid = syn.regionUID(region)
			}
			if tc.UID != "" && tc.UID != uid {
				continue // another account's settings: not found here
			}
			syn.get(region) // the region resource exists even if no service sets anything
			svcs := only[tc.Type]
			if len(svcs) == 0 {
				svcs = settingServices[tc.Type]
			}
			for _, name := range svcs {
				svc, ok := services[name]
				if !ok {
					return nil, vigil.Errorf(vigil.EINVALID, "get %s: unknown service %q", tc.UID, name)
				}
				r := region
				if svc.global || r == "" {
					r = home
				}
				filter(name, r).settings = true
			}
		default:
			svc := serviceOf(tc.Type)
			if svc == nil {
				gots[i].Err = vigil.Errorf(vigil.EINVALID, "get %s: unknown resource type %q", tc.UID, tc.Type)
				continue
			}
			if tc.UID == "" {
				gots[i].Err = vigil.Errorf(vigil.EINVALID, "get: touched %s has no uid", tc.Type)
				continue
			}
			// A scan lists the account's own resources only: another
			// account's (or an AWS managed IAM policy) is not collected.
			if a := arnAccount(tc.UID); a != "" && a != acct.ID {
				continue
			}
			region := home
			if !svc.global {
				region = arnRegion(tc.UID)
				if region == "" {
					region = tc.Region
				}
				if !regionRe.MatchString(region) {
					gots[i].Err = vigil.Errorf(vigil.EINVALID, "get %s: no valid region for %s (got %q)", tc.UID, tc.Type, region)
					continue
				}
			}
			keys[i] = getTaskKey{svc.name, region}
			filter(svc.name, region).add(tc.Type, tc.UID)
		}
	}

	sink := &getSink{byUID: map[string]vigil.Resource{}, byName: map[string]vigil.Resource{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, k := range slices.SortedFunc(maps.Keys(plan), func(a, b getTaskKey) int {
		return strings.Compare(a.svc+"/"+a.region, b.svc+"/"+b.region)
	}) {
		t := &task{c: c, acct: acct, region: k.region, svc: services[k.svc], sink: sink, syn: syn, only: plan[k]}
		t.cfg = cfg.Copy()
		t.cfg.Region = k.region
		g.Go(func() error { return t.get(gctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	synth := map[string]vigil.Resource{}
	for _, r := range syn.resources() {
		synth[r.UID] = r
	}
	for i := range gots {
		got := &gots[i]
		tc := got.Touched
		if got.Err != nil {
			continue
		}
		if tc.Type == TypeAccount || tc.Type == TypeRegion {
			uid := syn.accountUID()
			if tc.Type == TypeRegion {
				region := tc.Region
				if region == "" || region == "global" {
					region = arnRegion(tc.UID)
				}
				uid = syn.regionUID(region)
			}
			r, ok := synth[uid]
			if !ok || (tc.UID != "" && tc.UID != uid) {
				continue
			}
			// The list of scanned regions is the scan's to say, not a
			// setting any service read.
			r.Properties = maps.Clone(r.Properties)
			delete(r.Properties, "regions")
			got.Resource, got.Found, got.Partial = r, true, true
			continue
		}
		if r, ok := sink.find(tc.Type, tc.UID); ok {
			got.Resource, got.Found = r, true
			continue
		}
		if f := plan[keys[i]]; f != nil {
			if err := f.failure(tc.Type, tc.UID); err != nil {
				got.Err = &vigil.Error{Code: classify(err), Message: "get " + tc.UID, Err: errorf(err)}
			}
		}
	}
	return gots, nil
}

// serviceOf returns the service that lists typ, or nil.
func serviceOf(typ string) *service {
	for _, s := range services {
		if slices.Contains(s.types, typ) {
			return s
		}
	}
	return nil
}

// arnRegion returns the region field of an ARN, or "".
func arnRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

// arnTail returns what follows the last sep in s (all of s without one).
func arnTail(s, sep string) string { return s[strings.LastIndex(s, sep)+len(sep):] }

// getSink keeps the resources a Get's tasks emit. Read errors and listed
// scopes are dropped: the read errors travel on the resources, and a Get
// must never make the caller sweep.
type getSink struct {
	mu     sync.Mutex
	byUID  map[string]vigil.Resource
	byName map[string]vigil.Resource // "type|name" of IAM entities
}

// iamByName are the types a Get may find under another uid than the
// touched one: events name IAM entities without their path.
var iamByName = map[string]bool{typeIAMUser: true, typeIAMGroup: true, typeIAMRole: true, typeIAMServerCert: true}

func (s *getSink) Resource(_ context.Context, r vigil.Resource) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byUID[r.UID] = r
	if iamByName[r.Type] {
		s.byName[r.Type+"|"+r.Name] = r
	}
	return nil
}
func (s *getSink) ReadError(vigil.ReadError) {}
func (s *getSink) Listed(vigil.Scope)        {}
func (s *getSink) Progress(vigil.Progress)   {}

// find returns the emitted resource for a touched one.
func (s *getSink) find(typ, uid string) (vigil.Resource, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byUID[uid]; ok && r.Type == typ {
		return r, true
	}
	if iamByName[typ] {
		r, ok := s.byName[typ+"|"+arnTail(uid, "/")]
		return r, ok
	}
	return vigil.Resource{}, false
}
