// Package storetest is the conformance suite that every vigil.Store
// implementation must pass, in the manner of River's riverdrivertest: an
// implementation's test calls Run with a function that opens a fresh, empty
// store.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

// Run runs the conformance suite against the stores that open returns. Each
// subtest calls open once and expects an empty store of its own; open should
// close it with t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) vigil.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, vigil.Store)
	}{
		{"Accounts", testAccounts},
		{"Scans", testScans},
		{"TimesRoundTrip", testTimesRoundTrip},
		{"PutResourcesNew", testPutResourcesNew},
		{"PutResourcesUnchanged", testPutResourcesUnchanged},
		{"PutResourcesChanged", testPutResourcesChanged},
		{"PutResourcesGivenHash", testPutResourcesGivenHash},
		{"PutResourcesRelabel", testPutResourcesRelabel},
		{"PutResourcesAtomic", testPutResourcesAtomic},
		{"ResourceNotFound", testResourceNotFound},
		{"Resources", testResources},
		{"Sweep", testSweep},
		{"SweepAnyRegion", testSweepAnyRegion},
		{"SweepConcurrentScan", testSweepConcurrentScan},
		{"Resurrection", testResurrection},
		{"ResultLifecycle", testResultLifecycle},
		{"ResultPassNeverOpens", testResultPassNeverOpens},
		{"ResultDefaults", testResultDefaults},
		{"ResultDuplicatesInBatch", testResultDuplicatesInBatch},
		{"ResultReopenedStatusSince", testResultReopenedStatusSince},
		{"ResolveStale", testResolveStale},
		{"ResolveStaleAnyRegion", testResolveStaleAnyRegion},
		{"Results", testResults},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Fixes", testFixes},
		{"RecordNew", testRecordNew},
		{"RecordChanged", testRecordChanged},
		{"RecordTransitions", testRecordTransitions},
		{"RecordDeleted", testRecordDeleted},
		{"RecordComplete", testRecordComplete},
		{"RecordAfter", testRecordAfter},
		{"RecordInvalid", testRecordInvalid},
		{"Changes", testChanges},
		{"ChangesDefaultLimit", testChangesDefaultLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// t0 has nanoseconds so that a store that truncates times fails.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

// at returns t0 plus n minutes.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

func ptr[T any](v T) *T { return &v }

func bucket(uid, account, region string, props map[string]any) vigil.Resource {
	return vigil.Resource{
		UID: uid, Provider: vigil.AWS, Account: account, Region: region, Type: "aws.s3.bucket",
		Name: uid, Tags: map[string]string{"env": "dev"}, Properties: props, CollectedAt: t0,
	}
}

// hashed returns r with its hash computed, as the store should store it.
func hashed(r vigil.Resource) vigil.Resource {
	r.ComputeHash()
	return r
}

func put(t *testing.T, s vigil.Store, scanID string, rs ...vigil.Resource) int {
	t.Helper()
	n, err := s.PutResources(t.Context(), scanID, rs)
	if err != nil {
		t.Fatalf("PutResources(%s): %v", scanID, err)
	}
	return n
}

func putResults(t *testing.T, s vigil.Store, scanID string, rs ...vigil.Result) {
	t.Helper()
	if err := s.PutResults(t.Context(), scanID, rs); err != nil {
		t.Fatalf("PutResults(%s): %v", scanID, err)
	}
}

func resource(t *testing.T, s vigil.Store, uid string) vigil.Resource {
	t.Helper()
	r, err := s.Resource(t.Context(), uid)
	if err != nil {
		t.Fatalf("Resource(%s): %v", uid, err)
	}
	return utcResource(r)
}

func versions(t *testing.T, s vigil.Store, uid string) []vigil.Version {
	t.Helper()
	vs, err := s.Versions(t.Context(), uid)
	if err != nil {
		t.Fatalf("Versions(%s): %v", uid, err)
	}
	for i := range vs {
		vs[i].ObservedAt = vs[i].ObservedAt.UTC()
		vs[i].Resource = utcResource(vs[i].Resource)
	}
	return vs
}

func results(t *testing.T, s vigil.Store, f vigil.ResultFilter) []vigil.Result {
	t.Helper()
	rs, err := s.Results(t.Context(), f)
	if err != nil {
		t.Fatalf("Results(%+v): %v", f, err)
	}
	for i := range rs {
		rs[i] = utcResult(rs[i])
	}
	return rs
}

// result returns the one result of check on uid.
func result(t *testing.T, s vigil.Store, check, uid string) vigil.Result {
	t.Helper()
	rs := results(t, s, vigil.ResultFilter{CheckID: check, UID: uid})
	if len(rs) != 1 {
		t.Fatalf("Results(%s, %s) = %d results, want 1", check, uid, len(rs))
	}
	return rs[0]
}

// The utc functions let the suite compare with reflect.DeepEqual while
// allowing a store to return times in any location.
func utcResource(r vigil.Resource) vigil.Resource {
	r.CollectedAt = r.CollectedAt.UTC()
	return r
}

func utcResult(r vigil.Result) vigil.Result {
	r.FirstSeen, r.StatusSince, r.LastSeen = r.FirstSeen.UTC(), r.StatusSince.UTC(), r.LastSeen.UTC()
	if r.ResolvedAt != nil {
		r.ResolvedAt = ptr(r.ResolvedAt.UTC())
	}
	return r
}

func utcScan(s vigil.Scan) vigil.Scan {
	s.StartedAt = s.StartedAt.UTC()
	if s.FinishedAt != nil {
		s.FinishedAt = ptr(s.FinishedAt.UTC())
	}
	return s
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s =\n%#v\nwant\n%#v", what, got, want)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := vigil.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v has code %q, want %q", what, err, got, code)
	}
}

func uids(rs []vigil.Resource) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.UID)
	}
	return out
}

func testAccounts(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	if as, err := s.Accounts(ctx); err != nil || len(as) != 0 {
		t.Fatalf("Accounts on an empty store = %v, %v; want none", as, err)
	}
	azure := vigil.Account{Provider: vigil.Azure, ID: "sub-1", Name: "prod"}
	aws2 := vigil.Account{Provider: vigil.AWS, ID: "222", Name: "dev", Profile: "dev"}
	aws1 := vigil.Account{Provider: vigil.AWS, ID: "111", Name: "old"}
	for _, a := range []vigil.Account{azure, aws2, aws1} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatalf("PutAccount(%s): %v", a.ID, err)
		}
	}
	aws1 = vigil.Account{Provider: vigil.AWS, ID: "111", Name: "prod", RoleARN: "arn:aws:iam::111:role/vigil",
		Regions: []string{"eu-west-1", "us-east-1"}, Labels: map[string]string{"team": "sec"}}
	if err := s.PutAccount(ctx, aws1); err != nil {
		t.Fatalf("PutAccount(update): %v", err)
	}
	as, err := s.Accounts(ctx)
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	equal(t, "Accounts", as, []vigil.Account{aws1, aws2, azure})
	wantCode(t, "PutAccount without id", s.PutAccount(ctx, vigil.Account{Provider: vigil.AWS}), vigil.EINVALID)
}

func testScans(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	s1 := vigil.Scan{ID: "s1", StartedAt: at(0), Accounts: []string{"111"}}
	s2 := vigil.Scan{ID: "s2", StartedAt: at(10), Status: "running", Accounts: []string{"111", "222"}}
	s3 := vigil.Scan{ID: "s3", StartedAt: at(5)}
	for _, sc := range []vigil.Scan{s1, s2, s3} {
		if err := s.StartScan(ctx, sc); err != nil {
			t.Fatalf("StartScan(%s): %v", sc.ID, err)
		}
	}
	wantCode(t, "StartScan of an existing id", s.StartScan(ctx, vigil.Scan{ID: "s1", StartedAt: at(1)}), vigil.ECONFLICT)
	wantCode(t, "StartScan without id", s.StartScan(ctx, vigil.Scan{StartedAt: at(1)}), vigil.EINVALID)

	s1.Status = "partial"
	s1.FinishedAt = ptr(at(3))
	s1.Stats = vigil.ScanStats{Resources: 10, Changed: 2, Deleted: 1, APICalls: 99,
		Results:  map[vigil.Status]int{vigil.StatusPass: 7, vigil.StatusFail: 3},
		Findings: map[vigil.Severity]int{vigil.High: 3}}
	s1.ReadErrors = []vigil.ReadError{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket",
		Operation: "ListBuckets", Code: "AccessDenied", Message: "no"}}
	s1.Error = "1 listing failed"
	if err := s.FinishScan(ctx, s1); err != nil {
		t.Fatalf("FinishScan: %v", err)
	}
	wantCode(t, "FinishScan of an unknown scan", s.FinishScan(ctx, vigil.Scan{ID: "nope", FinishedAt: ptr(at(1))}), vigil.ENOTFOUND)

	got, err := s.Scans(ctx, 0)
	if err != nil {
		t.Fatalf("Scans: %v", err)
	}
	for i := range got {
		got[i] = utcScan(got[i])
	}
	s1.Status = "partial"
	s3.Status = "running"
	equal(t, "Scans(0)", got, []vigil.Scan{s2, s3, s1})

	got, err = s.Scans(ctx, 2)
	if err != nil {
		t.Fatalf("Scans(2): %v", err)
	}
	if len(got) != 2 || got[0].ID != "s2" || got[1].ID != "s3" {
		t.Fatalf("Scans(2) = %v, want s2 and s3", got)
	}

	// Ordered by time, not by a text form that trims trailing zeros.
	whole := time.Date(2030, 1, 1, 0, 0, 7, 0, time.UTC)
	for id, tm := range map[string]time.Time{"whole": whole, "half": whole.Add(500 * time.Millisecond), "tiny": whole.Add(time.Nanosecond)} {
		if err := s.StartScan(ctx, vigil.Scan{ID: id, StartedAt: tm}); err != nil {
			t.Fatalf("StartScan(%s): %v", id, err)
		}
	}
	got, err = s.Scans(ctx, 3)
	if err != nil {
		t.Fatalf("Scans(3): %v", err)
	}
	if len(got) != 3 || got[0].ID != "half" || got[1].ID != "tiny" || got[2].ID != "whole" {
		t.Fatalf("Scans(3) = %v, want half, tiny, whole", got)
	}
}

func testTimesRoundTrip(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, zone),
		time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 100000000, time.UTC),
		time.Date(1999, 12, 31, 0, 0, 0, 1, time.UTC),
		time.Now(), // with a monotonic reading
	}
	byID := map[string]time.Time{}
	for i, tm := range times {
		id := fmt.Sprint("scan-", i)
		byID[id] = tm
		if err := s.StartScan(ctx, vigil.Scan{ID: id, StartedAt: tm}); err != nil {
			t.Fatalf("StartScan: %v", err)
		}
		if err := s.FinishScan(ctx, vigil.Scan{ID: id, Status: "succeeded", FinishedAt: ptr(tm)}); err != nil {
			t.Fatalf("FinishScan: %v", err)
		}
		r := bucket(fmt.Sprint("uid-", i), "111", "eu-west-1", nil)
		r.CollectedAt = tm
		put(t, s, id, r)
		if got := resource(t, s, r.UID).CollectedAt; !got.Equal(tm) {
			t.Errorf("resource collected at %v, want %v", got, tm)
		}
		if got := versions(t, s, r.UID)[0].ObservedAt; !got.Equal(tm) {
			t.Errorf("version observed at %v, want %v", got, tm)
		}
		putResults(t, s, id, vigil.Result{CheckID: "c", ResourceUID: r.UID, Status: vigil.StatusFail, LastSeen: tm})
		putResults(t, s, id, vigil.Result{CheckID: "c", ResourceUID: r.UID, Status: vigil.StatusPass, LastSeen: tm})
		res := result(t, s, "c", r.UID)
		if !res.FirstSeen.Equal(tm) || !res.StatusSince.Equal(tm) || !res.LastSeen.Equal(tm) ||
			res.ResolvedAt == nil || !res.ResolvedAt.Equal(tm) {
			t.Errorf("result times %v %v %v %v, want all %v", res.FirstSeen, res.StatusSince, res.LastSeen, res.ResolvedAt, tm)
		}
	}
	scans, err := s.Scans(ctx, 0)
	if err != nil {
		t.Fatalf("Scans: %v", err)
	}
	if len(scans) != len(times) {
		t.Fatalf("Scans = %d, want %d", len(scans), len(times))
	}
	for _, sc := range scans {
		tm := byID[sc.ID]
		if !sc.StartedAt.Equal(tm) || sc.FinishedAt == nil || !sc.FinishedAt.Equal(tm) {
			t.Errorf("scan %s times %v %v, want %v", sc.ID, sc.StartedAt, sc.FinishedAt, tm)
		}
	}
}

func testPutResourcesNew(t *testing.T, s vigil.Store) {
	a := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"versioning": "Enabled", "size": 3.0})
	b := bucket("arn:aws:s3:::b", "111", "eu-west-1", map[string]any{"public": map[string]any{"acl": true}})
	b.ReadErrors = []vigil.ReadError{{Property: "policy", Operation: "GetBucketPolicy", Code: "AccessDenied", Message: "denied"}}
	in := []vigil.Resource{a, b}
	if n := put(t, s, "s1", in...); n != 2 {
		t.Fatalf("PutResources changed %d, want 2", n)
	}
	if in[0].Hash != "" || in[1].Hash != "" {
		t.Errorf("PutResources modified its argument")
	}
	for _, r := range []vigil.Resource{hashed(a), hashed(b)} {
		equal(t, "Resource", resource(t, s, r.UID), r)
		equal(t, "Versions", versions(t, s, r.UID), []vigil.Version{
			{UID: r.UID, Seq: 1, Hash: r.Hash, ObservedAt: t0, ScanID: "s1", Resource: r},
		})
	}
}

func testPutResourcesUnchanged(t *testing.T, s vigil.Store) {
	r := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"versioning": "Enabled"})
	put(t, s, "s1", r)
	r.CollectedAt = at(60)
	if n := put(t, s, "s2", r); n != 0 {
		t.Fatalf("re-put of an unchanged resource changed %d, want 0", n)
	}
	equal(t, "Resource", resource(t, s, r.UID), hashed(r))
	vs := versions(t, s, r.UID)
	if len(vs) != 1 || vs[0].ScanID != "s1" || !vs[0].ObservedAt.Equal(t0) {
		t.Fatalf("Versions = %+v, want only the first one", vs)
	}
	// Collected without a time: the store uses now.
	r.CollectedAt = time.Time{}
	before := time.Now()
	put(t, s, "s3", r)
	if got := resource(t, s, r.UID).CollectedAt; got.Before(before) || got.After(time.Now()) {
		t.Fatalf("collected at %v, want about now", got)
	}
}

func testPutResourcesChanged(t *testing.T, s vigil.Store) {
	v1 := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{
		"versioning": "Disabled",
		"public":     map[string]any{"acl": true, "policy": false},
		"rules":      []any{"r1", "r2"},
	})
	put(t, s, "s1", v1)

	v2 := v1
	v2.CollectedAt = at(60)
	v2.Tags = map[string]string{"env": "prod", "owner": "sec"}
	v2.Properties = map[string]any{
		"versioning": "Enabled",
		"public":     map[string]any{"acl": false, "policy": false},
		"rules":      []any{"r1"},
		"logging":    true,
	}
	if n := put(t, s, "s2", v2); n != 1 {
		t.Fatalf("PutResources changed %d, want 1", n)
	}
	v3 := v2
	v3.CollectedAt = at(120)
	v3.Name = "renamed"
	v3.ReadErrors = []vigil.ReadError{{Property: "policy", Operation: "GetBucketPolicy", Code: "AccessDenied"}}
	if n := put(t, s, "s3", v3); n != 1 {
		t.Fatalf("PutResources changed %d, want 1", n)
	}

	v1, v2, v3 = hashed(v1), hashed(v2), hashed(v3)
	equal(t, "Resource", resource(t, s, v1.UID), v3)
	equal(t, "Versions", versions(t, s, v1.UID), []vigil.Version{
		{UID: v1.UID, Seq: 1, Hash: v1.Hash, ObservedAt: t0, ScanID: "s1", Resource: v1},
		{UID: v1.UID, Seq: 2, Hash: v2.Hash, ObservedAt: at(60), ScanID: "s2", Resource: v2, Diff: []vigil.DiffOp{
			{Op: "add", Path: "/properties/logging", New: true},
			{Op: "replace", Path: "/properties/public/acl", Old: true, New: false},
			{Op: "remove", Path: "/properties/rules/1", Old: "r2"},
			{Op: "replace", Path: "/properties/versioning", Old: "Disabled", New: "Enabled"},
			{Op: "replace", Path: "/tags/env", Old: "dev", New: "prod"},
			{Op: "add", Path: "/tags/owner", New: "sec"},
		}},
		{UID: v1.UID, Seq: 3, Hash: v3.Hash, ObservedAt: at(120), ScanID: "s3", Resource: v3, Diff: []vigil.DiffOp{
			{Op: "replace", Path: "/name", Old: "arn:aws:s3:::a", New: "renamed"},
			{Op: "replace", Path: "/read_errors", New: []any{map[string]any{
				"property": "policy", "operation": "GetBucketPolicy", "code": "AccessDenied", "message": "",
			}}},
		}},
	})
}

func testPutResourcesGivenHash(t *testing.T, s vigil.Store) {
	r := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"x": 1.0})
	r.Hash = "h1"
	put(t, s, "s1", r)
	if got := resource(t, s, r.UID).Hash; got != "h1" {
		t.Fatalf("stored hash %q, want the given h1", got)
	}
	r.Hash = "h2" // same content, new hash: the caller's hash decides
	if n := put(t, s, "s2", r); n != 1 {
		t.Fatalf("PutResources changed %d, want 1", n)
	}
	vs := versions(t, s, r.UID)
	if len(vs) != 2 || vs[1].Hash != "h2" || vs[1].Diff != nil {
		t.Fatalf("Versions = %+v, want a second version h2 with no diff", vs)
	}
}

// testPutResourcesRelabel: the hash covers the content, not the account,
// region or type, so a change of those alone updates the row without a version.
func testPutResourcesRelabel(t *testing.T, s vigil.Store) {
	r := bucket("arn:aws:s3:::a", "111", "", map[string]any{"x": 1.0})
	put(t, s, "s1", r)
	r.Region = "eu-west-1"
	r.CollectedAt = at(1)
	if n := put(t, s, "s2", r); n != 0 {
		t.Fatalf("PutResources changed %d, want 0", n)
	}
	equal(t, "Resource", resource(t, s, r.UID), hashed(r))
	if vs := versions(t, s, r.UID); len(vs) != 1 {
		t.Fatalf("Versions = %d, want 1", len(vs))
	}
	rs, err := s.Resources(t.Context(), vigil.ResourceFilter{Region: "eu-west-1"})
	if err != nil || len(rs) != 1 {
		t.Fatalf("Resources(eu-west-1) = %v, %v; want the resource", rs, err)
	}
}

func testPutResourcesAtomic(t *testing.T, s vigil.Store) {
	good := bucket("arn:aws:s3:::a", "111", "eu-west-1", nil)
	bad := bucket("", "111", "eu-west-1", nil)
	n, err := s.PutResources(t.Context(), "s1", []vigil.Resource{good, bad})
	wantCode(t, "PutResources with an empty uid", err, vigil.EINVALID)
	if n != 0 {
		t.Errorf("failed PutResources reported %d changed", n)
	}
	_, err = s.Resource(t.Context(), good.UID)
	wantCode(t, "Resource put in a failed batch", err, vigil.ENOTFOUND)
	if n := put(t, s, "s1"); n != 0 {
		t.Fatalf("PutResources of nothing changed %d", n)
	}
}

func testResourceNotFound(t *testing.T, s vigil.Store) {
	_, err := s.Resource(t.Context(), "arn:aws:s3:::nope")
	wantCode(t, "Resource", err, vigil.ENOTFOUND)
	_, err = s.Versions(t.Context(), "arn:aws:s3:::nope")
	wantCode(t, "Versions", err, vigil.ENOTFOUND)
}

func testResources(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	mk := func(uid, account, region, typ string) vigil.Resource {
		r := bucket(uid, account, region, map[string]any{"k": uid})
		r.Type = typ
		return r
	}
	put(t, s, "s1",
		mk("u5", "111", "eu-west-1", "aws.sqs.queue"),
		mk("u4", "111", "us-east-1", "aws.s3.bucket"),
		mk("u3", "222", "eu-west-1", "aws.s3.bucket"),
		mk("u2", "111", "eu-west-1", "aws.s3.bucket"),
		mk("u1", "111", "", "aws.iam.role"),
		mk("gone", "111", "eu-west-1", "aws.s3.bucket"),
	)
	put(t, s, "s2", mk("u2", "111", "eu-west-1", "aws.s3.bucket"))
	if n, err := s.Sweep(ctx, "s2", at(1), []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	for _, tt := range []struct {
		f    vigil.ResourceFilter
		want []string
	}{
		{vigil.ResourceFilter{}, []string{"u1", "u2", "u3", "u4", "u5"}},
		{vigil.ResourceFilter{Account: "111"}, []string{"u1", "u2", "u4", "u5"}},
		{vigil.ResourceFilter{Region: "eu-west-1"}, []string{"u2", "u3", "u5"}},
		{vigil.ResourceFilter{Type: "aws.s3.bucket"}, []string{"u2", "u3", "u4"}},
		{vigil.ResourceFilter{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}, []string{"u2"}},
		{vigil.ResourceFilter{Type: "aws.s3.bucket", Limit: 2}, []string{"u2", "u3"}},
		{vigil.ResourceFilter{Account: "999"}, []string{}},
	} {
		rs, err := s.Resources(ctx, tt.f)
		if err != nil {
			t.Fatalf("Resources(%+v): %v", tt.f, err)
		}
		equal(t, fmt.Sprintf("Resources(%+v)", tt.f), uids(rs), tt.want)
	}
	rs, err := s.Resources(ctx, vigil.ResourceFilter{Account: "222"})
	if err != nil || len(rs) != 1 {
		t.Fatalf("Resources(222) = %v, %v", rs, err)
	}
	equal(t, "Resources(222)[0]", utcResource(rs[0]), hashed(mk("u3", "222", "eu-west-1", "aws.s3.bucket")))
}

func testSweep(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	mk := func(uid, account, region, typ string) vigil.Resource {
		r := bucket(uid, account, region, map[string]any{"k": uid})
		r.Type = typ
		return r
	}
	gone := mk("gone", "111", "eu-west-1", "aws.s3.bucket")
	gone.Tags = nil
	all := []vigil.Resource{
		gone,
		mk("seen", "111", "eu-west-1", "aws.s3.bucket"),
		mk("other-region", "111", "us-east-1", "aws.s3.bucket"),
		mk("other-type", "111", "eu-west-1", "aws.sqs.queue"),
		mk("other-account", "222", "eu-west-1", "aws.s3.bucket"),
	}
	put(t, s, "s1", all...)
	for _, r := range all {
		putResults(t, s, "s1",
			vigil.Result{CheckID: "fails", ResourceUID: r.UID, Account: r.Account, Region: r.Region, ResourceType: r.Type, Status: vigil.StatusFail, LastSeen: t0},
			vigil.Result{CheckID: "passes", ResourceUID: r.UID, Account: r.Account, Region: r.Region, ResourceType: r.Type, Status: vigil.StatusPass, LastSeen: t0},
		)
	}
	// A finding on the resource to be deleted, already fixed.
	fixed := vigil.Result{CheckID: "fixed", ResourceUID: "gone", Account: "111", Region: "eu-west-1", ResourceType: "aws.s3.bucket", Status: vigil.StatusFail, LastSeen: t0}
	putResults(t, s, "s1", fixed)
	fixed.Status, fixed.LastSeen = vigil.StatusPass, at(1)
	putResults(t, s, "s1", fixed)
	put(t, s, "s2", mk("seen", "111", "eu-west-1", "aws.s3.bucket"))

	scope := []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}
	n, err := s.Sweep(ctx, "s2", at(5), scope)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	// Already deleted: nothing more to do.
	if n, err := s.Sweep(ctx, "s2", at(6), scope); err != nil || n != 0 {
		t.Fatalf("second Sweep = %d, %v; want 0", n, err)
	}
	if n, err := s.Sweep(ctx, "s2", at(6), nil); err != nil || n != 0 {
		t.Fatalf("Sweep without scopes = %d, %v; want 0", n, err)
	}

	rs, err := s.Resources(ctx, vigil.ResourceFilter{})
	if err != nil {
		t.Fatalf("Resources: %v", err)
	}
	equal(t, "Resources after Sweep", uids(rs), []string{"other-account", "other-region", "seen", "other-type"})

	g := hashed(gone)
	equal(t, "Resource(gone)", resource(t, s, "gone"), g)
	equal(t, "Versions(gone)", versions(t, s, "gone"), []vigil.Version{
		{UID: "gone", Seq: 1, Hash: g.Hash, ObservedAt: t0, ScanID: "s1", Resource: g},
		{UID: "gone", Seq: 2, Hash: g.Hash, ObservedAt: at(5), ScanID: "s2", Deleted: true, Resource: g, Diff: []vigil.DiffOp{
			{Op: "remove", Path: "/name", Old: "gone"},
			{Op: "remove", Path: "/properties", Old: map[string]any{"k": "gone"}},
			{Op: "remove", Path: "/read_errors"},
			{Op: "remove", Path: "/tags"},
		}},
	})

	// The deleted resource's results are resolved with their status kept;
	// the others are untouched.
	for _, r := range results(t, s, vigil.ResultFilter{}) {
		switch {
		case r.CheckID == "fixed":
			if r.ResolvedAt == nil || !r.ResolvedAt.Equal(at(1)) {
				t.Errorf("result fixed on gone resolved at %v, want %v kept", r.ResolvedAt, at(1))
			}
		case r.ResourceUID == "gone":
			if r.ResolvedAt == nil || !r.ResolvedAt.Equal(at(5)) {
				t.Errorf("result %s on gone resolved at %v, want %v", r.CheckID, r.ResolvedAt, at(5))
			}
		case r.ResolvedAt != nil:
			t.Errorf("result %s on %s resolved at %v, want open", r.CheckID, r.ResourceUID, r.ResolvedAt)
		}
	}
	if got := result(t, s, "fails", "gone").Status; got != vigil.StatusFail {
		t.Errorf("swept result status %s, want fail kept", got)
	}
}

func testSweepAnyRegion(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	a := bucket("a", "111", "eu-west-1", nil)
	b := bucket("b", "111", "us-east-1", nil)
	c := bucket("c", "111", "", nil)
	d := bucket("d", "111", "us-east-1", nil)
	put(t, s, "s1", a, b, c, d)
	put(t, s, "s2", d)
	n, err := s.Sweep(ctx, "s2", at(5), []vigil.Scope{{Account: "111", Type: "aws.s3.bucket"}})
	if err != nil || n != 3 {
		t.Fatalf("Sweep = %d, %v; want 3", n, err)
	}
	rs, err := s.Resources(ctx, vigil.ResourceFilter{})
	if err != nil {
		t.Fatalf("Resources: %v", err)
	}
	equal(t, "Resources after Sweep", uids(rs), []string{"d"})
}

func testSweepConcurrentScan(t *testing.T, s vigil.Store) {
	// Scans s2 (started at 5) and s3 (started at 6) run at once on one
	// database; both see bucket a and its failing check, s3 last. When s2
	// finishes, a is not gone and its finding is not stale.
	ctx := t.Context()
	a := bucket("a", "111", "eu-west-1", map[string]any{"k": "v"})
	put(t, s, "s1", a)
	putResults(t, s, "s1", fail("c", "a", t0))
	a.CollectedAt = at(7)
	put(t, s, "s2", a)
	putResults(t, s, "s2", fail("c", "a", at(5)))
	a.CollectedAt = at(8)
	put(t, s, "s3", a)
	putResults(t, s, "s3", fail("c", "a", at(6)))
	scope := []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}
	if n, err := s.Sweep(ctx, "s2", at(5), scope); err != nil || n != 0 {
		t.Fatalf("Sweep(s2) = %d, %v; want 0: s3 saw the bucket after s2 started", n, err)
	}
	if n, err := s.ResolveStale(ctx, "s2", at(5), []string{"c"}, scope); err != nil || n != 0 {
		t.Fatalf("ResolveStale(s2) = %d, %v; want 0: s3 produced the finding after s2 started", n, err)
	}
	if got := resource(t, s, "a"); len(versions(t, s, "a")) != 1 || got.UID != "a" {
		t.Errorf("bucket a has %d versions, want 1", len(versions(t, s, "a")))
	}
	if got := result(t, s, "c", "a"); got.ResolvedAt != nil {
		t.Errorf("finding resolved at %v, want open", got.ResolvedAt)
	}
	if rs := results(t, s, vigil.ResultFilter{Open: true}); len(rs) != 1 {
		t.Errorf("open results = %v, want the finding on a", rs)
	}
}

func testResurrection(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	r := bucket("a", "111", "eu-west-1", map[string]any{"versioning": "Enabled"})
	put(t, s, "s1", r)
	if n, err := s.Sweep(ctx, "s2", at(5), []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	// Back unchanged: a version that says so, with no diff.
	r.CollectedAt = at(10)
	if n := put(t, s, "s3", r); n != 1 {
		t.Fatalf("PutResources of a deleted resource changed %d, want 1", n)
	}
	// Deleted again and back changed: the diff is from the state before the deletion.
	if n, err := s.Sweep(ctx, "s4", at(15), []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	r2 := r
	r2.CollectedAt = at(20)
	r2.Properties = map[string]any{"versioning": "Suspended"}
	if n := put(t, s, "s5", r2); n != 1 {
		t.Fatalf("PutResources of a deleted resource changed %d, want 1", n)
	}

	rs, err := s.Resources(ctx, vigil.ResourceFilter{})
	if err != nil {
		t.Fatalf("Resources: %v", err)
	}
	equal(t, "Resources", uids(rs), []string{"a"})
	vs := versions(t, s, "a")
	if len(vs) != 5 {
		t.Fatalf("Versions = %d, want 5", len(vs))
	}
	for i, want := range []struct {
		deleted bool
		at      time.Time
		scan    string
	}{{false, t0, "s1"}, {true, at(5), "s2"}, {false, at(10), "s3"}, {true, at(15), "s4"}, {false, at(20), "s5"}} {
		v := vs[i]
		if v.Seq != i+1 || v.Deleted != want.deleted || !v.ObservedAt.Equal(want.at) || v.ScanID != want.scan {
			t.Errorf("version %d = seq %d deleted %v at %v scan %s; want seq %d deleted %v at %v scan %s",
				i, v.Seq, v.Deleted, v.ObservedAt, v.ScanID, i+1, want.deleted, want.at, want.scan)
		}
	}
	if vs[2].Diff != nil {
		t.Errorf("unchanged resurrection diff = %v, want none", vs[2].Diff)
	}
	equal(t, "changed resurrection diff", vs[4].Diff, []vigil.DiffOp{
		{Op: "replace", Path: "/properties/versioning", Old: "Enabled", New: "Suspended"},
	})
	equal(t, "Resource", resource(t, s, "a"), hashed(r2))
}

func fail(check, uid string, tm time.Time) vigil.Result {
	return vigil.Result{CheckID: check, ResourceUID: uid, ResourceType: "aws.s3.bucket", Provider: vigil.AWS,
		Account: "111", Region: "eu-west-1", Severity: vigil.High, Status: vigil.StatusFail, Reason: "public", LastSeen: tm}
}

func with(r vigil.Result, st vigil.Status, reason string) vigil.Result {
	r.Status, r.Reason = st, reason
	return r
}

func testResultLifecycle(t *testing.T, s vigil.Store) {
	const c, u = "aws-s3-bucket-no-public-access", "arn:aws:s3:::a"
	want := fail(c, u, at(0))
	want.FirstSeen, want.StatusSince, want.ScanID = at(0), at(0), "s1"
	check := func(step string, scan string, in vigil.Result) {
		t.Helper()
		putResults(t, s, scan, in)
		equal(t, step, result(t, s, c, u), want)
	}

	check("new fail", "s1", fail(c, u, at(0)))

	want.LastSeen, want.ScanID, want.Reason, want.Severity = at(1), "s2", "still public", vigil.Critical
	in := with(fail(c, u, at(1)), vigil.StatusFail, "still public")
	in.Severity = vigil.Critical
	in.FirstSeen, in.StatusSince = at(-100), at(-100) // ignored
	check("fail again", "s2", in)

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusPass, "private", at(2), at(2), ptr(at(2)), "s3"
	want.Severity = vigil.High
	check("fixed", "s3", with(fail(c, u, at(2)), vigil.StatusPass, "private"))

	want.LastSeen, want.ScanID = at(3), "s4"
	check("still fixed", "s4", with(fail(c, u, at(3)), vigil.StatusPass, "private"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusError, "AccessDenied", at(4), at(4), nil, "s5"
	check("error reopens", "s5", with(fail(c, u, at(4)), vigil.StatusError, "AccessDenied"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ScanID = vigil.StatusFail, "public", at(5), at(5), "s6"
	check("error then fail", "s6", fail(c, u, at(5)))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusPass, "private", at(6), at(6), ptr(at(6)), "s7"
	check("fixed again", "s7", with(fail(c, u, at(6)), vigil.StatusPass, "private"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusMuted, "muted", at(7), at(7), ptr(at(6)), "s8"
	check("muted keeps resolution", "s8", with(fail(c, u, at(7)), vigil.StatusMuted, "muted"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusFail, "public", at(8), at(8), nil, "s9"
	check("fail after mute reopens", "s9", fail(c, u, at(8)))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ScanID = vigil.StatusMuted, "muted", at(9), at(9), "s10"
	check("muted while open stays open", "s10", with(fail(c, u, at(9)), vigil.StatusMuted, "muted"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ScanID = vigil.StatusError, "AccessDenied", at(10), at(10), "s11"
	check("error", "s11", with(fail(c, u, at(10)), vigil.StatusError, "AccessDenied"))

	want.Status, want.Reason, want.StatusSince, want.LastSeen, want.ResolvedAt, want.ScanID = vigil.StatusPass, "private", at(11), at(11), ptr(at(11)), "s12"
	check("error then pass resolves", "s12", with(fail(c, u, at(11)), vigil.StatusPass, "private"))
}

func testResultPassNeverOpens(t *testing.T, s vigil.Store) {
	const c, u = "c", "u"
	in := with(fail(c, u, at(0)), vigil.StatusPass, "ok")
	putResults(t, s, "s1", in)
	want := in
	want.FirstSeen, want.StatusSince, want.ScanID = at(0), at(0), "s1"
	equal(t, "new pass", result(t, s, c, u), want)

	putResults(t, s, "s2", with(fail(c, u, at(1)), vigil.StatusPass, "ok"))
	want.LastSeen, want.ScanID = at(1), "s2"
	equal(t, "pass again", result(t, s, c, u), want)
}

func testResultDefaults(t *testing.T, s vigil.Store) {
	before := time.Now()
	putResults(t, s, "s1", fail("c", "u", time.Time{}))
	got := result(t, s, "c", "u")
	if got.LastSeen.Before(before) || got.LastSeen.After(time.Now()) || !got.FirstSeen.Equal(got.LastSeen) {
		t.Fatalf("result without a time: first seen %v, last seen %v; want now", got.FirstSeen, got.LastSeen)
	}
	err := s.PutResults(t.Context(), "s1", []vigil.Result{fail("c", "v", t0), fail("", "u", t0)})
	wantCode(t, "PutResults without check id", err, vigil.EINVALID)
	if rs := results(t, s, vigil.ResultFilter{UID: "v"}); len(rs) != 0 {
		t.Fatalf("a failed PutResults stored %v", rs)
	}
	if err := s.PutResults(t.Context(), "s1", nil); err != nil {
		t.Fatalf("PutResults(nil): %v", err)
	}
}

func testResultDuplicatesInBatch(t *testing.T, s vigil.Store) {
	// The same pair twice in one batch (a resource collected twice): the
	// worst status stands whatever the order, and a new failure is open.
	pass := func(c, u string) vigil.Result { return with(fail(c, u, at(0)), vigil.StatusPass, "ok") }
	putResults(t, s, "s1",
		fail("c", "fail-pass", at(0)), pass("c", "fail-pass"),
		pass("c", "pass-fail"), fail("c", "pass-fail", at(0)),
		with(fail("c", "err-pass", at(0)), vigil.StatusError, "denied"), pass("c", "err-pass"),
		pass("c", "pass-pass"), with(pass("c", "pass-pass"), vigil.StatusPass, "ok again"),
	)
	for _, tt := range []struct {
		uid, reason string
		status      vigil.Status
	}{
		{"fail-pass", "public", vigil.StatusFail},
		{"pass-fail", "public", vigil.StatusFail},
		{"err-pass", "denied", vigil.StatusError},
		{"pass-pass", "ok again", vigil.StatusPass},
	} {
		got := result(t, s, "c", tt.uid)
		if got.Status != tt.status || got.Reason != tt.reason || got.ResolvedAt != nil ||
			!got.FirstSeen.Equal(at(0)) || !got.StatusSince.Equal(at(0)) {
			t.Errorf("%s: status %s reason %q resolved at %v first seen %v since %v; want %s %q, open, since %v",
				tt.uid, got.Status, got.Reason, got.ResolvedAt, got.FirstSeen, got.StatusSince, tt.status, tt.reason, at(0))
		}
	}
}

func testResultReopenedStatusSince(t *testing.T, s vigil.Store) {
	// A finding resolved by ResolveStale (or Sweep) keeps its status; when it
	// fails again it is a new open period, and status_since says so.
	ctx := t.Context()
	const c, u = "c", "u"
	putResults(t, s, "s1", fail(c, u, at(0)))
	scope := []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}
	if n, err := s.ResolveStale(ctx, "s2", at(1), []string{c}, scope); err != nil || n != 1 {
		t.Fatalf("ResolveStale = %d, %v; want 1", n, err)
	}
	putResults(t, s, "s3", fail(c, u, at(2)))
	got := result(t, s, c, u)
	if got.ResolvedAt != nil || !got.StatusSince.Equal(at(2)) || !got.FirstSeen.Equal(at(0)) {
		t.Errorf("reopened: resolved at %v, status since %v, first seen %v; want open since %v, first seen %v",
			got.ResolvedAt, got.StatusSince, got.FirstSeen, at(2), at(0))
	}
	// Failing on while open keeps it.
	putResults(t, s, "s4", fail(c, u, at(3)))
	if got := result(t, s, c, u); !got.StatusSince.Equal(at(2)) {
		t.Errorf("still failing: status since %v, want %v", got.StatusSince, at(2))
	}
}

func testResolveStale(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	mk := func(check, uid, account, region, typ string, st vigil.Status) vigil.Result {
		r := with(fail(check, uid, t0), st, "")
		r.Account, r.Region, r.ResourceType = account, region, typ
		return r
	}
	const b, q = "aws.s3.bucket", "aws.sqs.queue"
	scope := []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: b}}

	// A finding already resolved keeps its resolution time.
	putResults(t, s, "s0", mk("c1", "resolved", "111", "eu-west-1", b, vigil.StatusFail))
	if n, err := s.ResolveStale(ctx, "s1", at(2), []string{"c1"}, scope); err != nil || n != 1 {
		t.Fatalf("ResolveStale(s1) = %d, %v; want 1", n, err)
	}
	putResults(t, s, "s1",
		mk("c1", "stale", "111", "eu-west-1", b, vigil.StatusFail),         // resolved
		mk("c1", "stale-error", "111", "eu-west-1", b, vigil.StatusError),  // resolved
		mk("c1", "stale-muted", "111", "eu-west-1", b, vigil.StatusMuted),  // resolved
		mk("c1", "stale-pass", "111", "eu-west-1", b, vigil.StatusPass),    // passes are not resolved
		mk("c1", "fresh", "111", "eu-west-1", b, vigil.StatusFail),         // produced again by s2
		mk("c2", "stale", "111", "eu-west-1", b, vigil.StatusFail),         // other check
		mk("c1", "other-region", "111", "us-east-1", b, vigil.StatusFail),  // other region
		mk("c1", "other-type", "111", "eu-west-1", q, vigil.StatusFail),    // other type
		mk("c1", "other-account", "222", "eu-west-1", b, vigil.StatusFail), // other account
	)
	putResults(t, s, "s2", mk("c1", "fresh", "111", "eu-west-1", b, vigil.StatusFail))

	if n, err := s.ResolveStale(ctx, "s2", at(5), nil, scope); err != nil || n != 0 {
		t.Fatalf("ResolveStale without checks = %d, %v; want 0", n, err)
	}
	if n, err := s.ResolveStale(ctx, "s2", at(5), []string{"c1"}, nil); err != nil || n != 0 {
		t.Fatalf("ResolveStale without scopes = %d, %v; want 0", n, err)
	}
	n, err := s.ResolveStale(ctx, "s2", at(5), []string{"c1", "c3"}, scope)
	if err != nil || n != 3 {
		t.Fatalf("ResolveStale = %d, %v; want 3", n, err)
	}
	for _, tt := range []struct {
		check, uid string
		status     vigil.Status
		resolved   *time.Time
	}{
		{"c1", "stale", vigil.StatusFail, ptr(at(5))},
		{"c1", "stale-error", vigil.StatusError, ptr(at(5))},
		{"c1", "stale-muted", vigil.StatusMuted, ptr(at(5))},
		{"c1", "stale-pass", vigil.StatusPass, nil},
		{"c1", "fresh", vigil.StatusFail, nil},
		{"c2", "stale", vigil.StatusFail, nil},
		{"c1", "other-region", vigil.StatusFail, nil},
		{"c1", "other-type", vigil.StatusFail, nil},
		{"c1", "other-account", vigil.StatusFail, nil},
		{"c1", "resolved", vigil.StatusFail, ptr(at(2))},
	} {
		got := result(t, s, tt.check, tt.uid)
		if got.Status != tt.status || !reflect.DeepEqual(got.ResolvedAt, tt.resolved) {
			t.Errorf("%s on %s: status %s resolved at %v; want %s, %v", tt.check, tt.uid, got.Status, got.ResolvedAt, tt.status, tt.resolved)
		}
	}
	// A pass on a resolved finding keeps the time it was first resolved.
	putResults(t, s, "s3", with(mk("c1", "resolved", "111", "eu-west-1", b, vigil.StatusPass), vigil.StatusPass, ""))
	if got := result(t, s, "c1", "resolved"); got.ResolvedAt == nil || !got.ResolvedAt.Equal(at(2)) {
		t.Errorf("resolved finding passing: resolved at %v, want %v kept", got.ResolvedAt, at(2))
	}
}

func testResolveStaleAnyRegion(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	mk := func(uid, region string) vigil.Result {
		r := fail("c1", uid, t0)
		r.Region = region
		return r
	}
	putResults(t, s, "s1", mk("a", "eu-west-1"), mk("b", "us-east-1"), mk("c", ""))
	putResults(t, s, "s2", mk("d", "us-east-1"))
	n, err := s.ResolveStale(ctx, "s2", at(5), []string{"c1"}, []vigil.Scope{{Account: "111", Type: "aws.s3.bucket"}})
	if err != nil || n != 3 {
		t.Fatalf("ResolveStale = %d, %v; want 3", n, err)
	}
	open := results(t, s, vigil.ResultFilter{Open: true})
	if len(open) != 1 || open[0].ResourceUID != "d" {
		t.Fatalf("open results = %v, want only d", open)
	}
}

func testResults(t *testing.T, s vigil.Store) {
	mk := func(check, uid, account string, sev vigil.Severity, st vigil.Status) vigil.Result {
		r := with(fail(check, uid, t0), st, "")
		r.Account, r.Severity = account, sev
		return r
	}
	putResults(t, s, "s1",
		mk("c-low", "u1", "111", vigil.Low, vigil.StatusFail),
		mk("c-crit", "u2", "111", vigil.Critical, vigil.StatusFail),
		mk("c-crit", "u1", "111", vigil.Critical, vigil.StatusPass),
		mk("c-info", "u1", "222", vigil.Info, vigil.StatusError),
		mk("c-med", "u3", "222", vigil.Medium, vigil.StatusMuted),
		mk("c-high", "u1", "111", vigil.High, vigil.StatusFail),
		mk("c-odd", "u1", "111", "", vigil.StatusFail),
	)
	putResults(t, s, "s2",
		mk("c-high", "u2", "222", vigil.High, vigil.StatusFail),
		mk("c-low", "u1", "111", vigil.Low, vigil.StatusPass), // resolved
	)
	ids := func(rs []vigil.Result) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.CheckID+"/"+r.ResourceUID)
		}
		return out
	}
	for _, tt := range []struct {
		f    vigil.ResultFilter
		want []string
	}{
		{vigil.ResultFilter{}, []string{"c-crit/u1", "c-crit/u2", "c-high/u1", "c-high/u2", "c-med/u3", "c-low/u1", "c-info/u1", "c-odd/u1"}},
		{vigil.ResultFilter{Account: "222"}, []string{"c-high/u2", "c-med/u3", "c-info/u1"}},
		{vigil.ResultFilter{CheckID: "c-high"}, []string{"c-high/u1", "c-high/u2"}},
		{vigil.ResultFilter{UID: "u1"}, []string{"c-crit/u1", "c-high/u1", "c-low/u1", "c-info/u1", "c-odd/u1"}},
		{vigil.ResultFilter{ScanID: "s2"}, []string{"c-high/u2", "c-low/u1"}},
		{vigil.ResultFilter{Statuses: []vigil.Status{vigil.StatusFail}}, []string{"c-crit/u2", "c-high/u1", "c-high/u2", "c-odd/u1"}},
		{vigil.ResultFilter{Statuses: []vigil.Status{vigil.StatusError, vigil.StatusMuted}}, []string{"c-med/u3", "c-info/u1"}},
		{vigil.ResultFilter{Open: true}, []string{"c-crit/u1", "c-crit/u2", "c-high/u1", "c-high/u2", "c-med/u3", "c-info/u1", "c-odd/u1"}},
		{vigil.ResultFilter{Open: true, Statuses: []vigil.Status{vigil.StatusPass}}, []string{"c-crit/u1"}},
		{vigil.ResultFilter{Account: "111", UID: "u1", Open: true, Statuses: []vigil.Status{vigil.StatusFail, vigil.StatusError}}, []string{"c-high/u1", "c-odd/u1"}},
		{vigil.ResultFilter{CheckID: "nope"}, []string{}},
	} {
		equal(t, fmt.Sprintf("Results(%+v)", tt.f), ids(results(t, s, tt.f)), tt.want)
	}
}

func testConcurrentWrites(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers*2)
	for w := range workers {
		wg.Go(func() {
			var rs []vigil.Resource
			var res []vigil.Result
			for i := range each {
				uid := fmt.Sprintf("w%d-%02d", w, i)
				rs = append(rs, bucket(uid, "111", "eu-west-1", map[string]any{"i": float64(i)}))
				res = append(res, fail("c", uid, t0))
			}
			if _, err := s.PutResources(ctx, "s1", rs); err != nil {
				errs <- err
			}
			if err := s.PutResults(ctx, "s1", res); err != nil {
				errs <- err
			}
			if _, err := s.Resources(ctx, vigil.ResourceFilter{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	rs, err := s.Resources(ctx, vigil.ResourceFilter{})
	if err != nil || len(rs) != workers*each {
		t.Fatalf("Resources = %d, %v; want %d", len(rs), err, workers*each)
	}
	if got := results(t, s, vigil.ResultFilter{}); len(got) != workers*each {
		t.Fatalf("Results = %d, want %d", len(got), workers*each)
	}
}

// testFixes: fix records round-trip with every field, replace by id, and
// filter by time, finding and status, newest first.
func testFixes(t *testing.T, s vigil.Store) {
	ctx := context.Background()
	plan := vigil.Fix{ID: "x-1", At: t0, Actor: "user:alice", Mode: "fix-now", CheckID: "aws-s3-bucket-no-public-read",
		ResourceUID: "arn:aws:s3:::b", ResourceType: "aws.s3.bucket", Provider: vigil.AWS, Account: "123456789012",
		Region: "us-east-1", Action: "aws.s3.block-public-access", Status: vigil.FixPlanned, Reason: "plan shown",
		Plan:   []string{"turn on Block Public Access for bucket b"},
		Calls:  []vigil.FixCall{{Operation: "s3:PutPublicAccessBlock", Input: map[string]any{"Bucket": "b"}}},
		Before: map[string]any{"public_access_block": nil}}
	if err := s.PutFix(ctx, plan); err != nil {
		t.Fatal(err)
	}
	done := plan
	done.At, done.Status, done.Reason = t0.Add(time.Second), vigil.FixVerified, "the check passes"
	done.After = map[string]any{"public_access_block": map[string]any{"block_public_acls": true}}
	if err := s.PutFix(ctx, done); err != nil {
		t.Fatal(err)
	}
	other := vigil.Fix{ID: "x-2", At: t0.Add(time.Hour), Actor: "rule:buckets", Mode: "always-fix", CheckID: "c2",
		ResourceUID: "u2", ResourceType: "t", Provider: vigil.AWS, Account: "123456789012", Region: "eu-west-1",
		Action: "a2", Status: vigil.FixFailed, Reason: "s3:PutPublicAccessBlock: forbidden",
		Calls: []vigil.FixCall{{Operation: "s3:PutPublicAccessBlock", Input: map[string]any{"Bucket": "u2"}, Error: "AccessDenied"}}}
	if err := s.PutFix(ctx, other); err != nil {
		t.Fatal(err)
	}
	got, err := s.Fix(ctx, "x-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, done) {
		t.Errorf("Fix(x-1)\n got %+v\nwant %+v", got, done)
	}
	if _, err := s.Fix(ctx, "x-9"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("unknown fix: %v", err)
	}
	ids := func(f vigil.FixFilter) []string {
		t.Helper()
		fs, err := s.Fixes(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    vigil.FixFilter
		want []string
	}{
		{"all, newest first", vigil.FixFilter{}, []string{"x-2", "x-1"}},
		{"since", vigil.FixFilter{Since: t0.Add(time.Minute)}, []string{"x-2"}},
		{"since is inclusive", vigil.FixFilter{Since: t0.Add(time.Second)}, []string{"x-2", "x-1"}},
		{"finding", vigil.FixFilter{CheckID: "aws-s3-bucket-no-public-read", ResourceUID: "arn:aws:s3:::b"}, []string{"x-1"}},
		{"status", vigil.FixFilter{Statuses: []vigil.FixStatus{vigil.FixFailed}}, []string{"x-2"}},
		{"limit", vigil.FixFilter{Limit: 1}, []string{"x-2"}},
	} {
		if got := ids(tc.f); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
