package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

// The Record and Changes subtests: observations written with their cause,
// what they return, and the change listing.

func record(t *testing.T, s vigil.Store, obs vigil.Observation) vigil.Recorded {
	t.Helper()
	rec, err := s.Record(t.Context(), obs, nil)
	if err != nil {
		t.Fatalf("Record(%s): %v", obs.ScanID, err)
	}
	return utcRecorded(rec)
}

func utcVersion(v vigil.Version) vigil.Version {
	v.ObservedAt = v.ObservedAt.UTC()
	v.Resource = utcResource(v.Resource)
	if v.Cause != nil {
		c := *v.Cause
		c.EventTime = c.EventTime.UTC()
		v.Cause = &c
	}
	return v
}

func utcRecorded(rec vigil.Recorded) vigil.Recorded {
	for i := range rec.Changes {
		c := &rec.Changes[i]
		if c.Old != nil {
			c.Old = ptr(utcResource(*c.Old))
		}
		c.New = utcResource(c.New)
		c.Version = utcVersion(c.Version)
	}
	for i := range rec.Transitions {
		rec.Transitions[i].Result = utcResult(rec.Transitions[i].Result)
	}
	return rec
}

// cause returns a CloudTrail event by the principal arn at time tm.
func cause(id, name, arn string, tm time.Time) *vigil.Cause {
	return &vigil.Cause{EventID: id, EventSource: "s3.amazonaws.com", EventName: name, EventTime: tm,
		Actor: vigil.Actor{ARN: arn, Type: "IAMUser", AccessKeyID: "AKIAEXAMPLE", SourceIP: "203.0.113.7", UserAgent: "aws-cli/2"}}
}

const alice = "arn:aws:iam::111:user/alice"

// testRecordNew: new resources get a first version with the cause and its
// actor; a new failing result opens a finding, a new pass, error or mute
// does not.
func testRecordNew(t *testing.T, s vigil.Store) {
	a := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"public": map[string]any{"policy": true}})
	b := bucket("arn:aws:s3:::b", "111", "eu-west-1", map[string]any{"size": 2.0})
	b.CollectedAt = time.Time{} // collected at the observation's time
	c := cause("ev-1", "CreateBucket", alice, at(-1))
	rec := record(t, s, vigil.Observation{ScanID: "ev-1", At: at(1), Resources: []vigil.Resource{a, b}, Cause: c,
		Results: []vigil.Result{
			fail("public", a.UID, at(1)),
			with(fail("versioning", a.UID, at(1)), vigil.StatusPass, "on"),
			with(fail("logging", a.UID, time.Time{}), vigil.StatusError, "AccessDenied"),
			with(fail("tls", a.UID, at(1)), vigil.StatusMuted, "muted"),
		}})

	a = hashed(a)
	b.CollectedAt = at(1)
	b = hashed(b)
	wantVersions := map[string]vigil.Version{
		a.UID: {UID: a.UID, Seq: 1, Hash: a.Hash, ObservedAt: t0, ScanID: "ev-1", Actor: alice, Cause: c, Resource: a},
		b.UID: {UID: b.UID, Seq: 1, Hash: b.Hash, ObservedAt: at(1), ScanID: "ev-1", Actor: alice, Cause: c, Resource: b},
	}
	equal(t, "Changes", rec.Changes, []vigil.Change{
		{New: a, Version: wantVersions[a.UID]},
		{New: b, Version: wantVersions[b.UID]},
	})
	for uid, v := range wantVersions {
		equal(t, "Versions("+uid+")", versions(t, s, uid), []vigil.Version{v})
	}
	equal(t, "Resource(b)", resource(t, s, b.UID), b)

	want := fail("public", a.UID, at(1))
	want.FirstSeen, want.StatusSince, want.ScanID = at(1), at(1), "ev-1"
	equal(t, "Transitions", rec.Transitions, []vigil.Transition{{Result: want, Opened: true}})
	equal(t, "stored result", result(t, s, "public", a.UID), want)
	if got := result(t, s, "logging", a.UID); !got.LastSeen.Equal(at(1)) {
		t.Errorf("result without a time last seen %v, want the observation's %v", got.LastSeen, at(1))
	}

	// The same state again: nothing changes, nothing opens.
	a.CollectedAt = at(2)
	rec = record(t, s, vigil.Observation{ScanID: "s2", At: at(2), Resources: []vigil.Resource{a},
		Results: []vigil.Result{fail("public", a.UID, at(2))}})
	if len(rec.Changes) != 0 || len(rec.Transitions) != 0 {
		t.Fatalf("unchanged observation recorded %+v, want nothing", rec)
	}
	if got := resource(t, s, a.UID).CollectedAt; !got.Equal(at(2)) {
		t.Errorf("unchanged resource collected at %v, want %v", got, at(2))
	}
}

// testRecordChanged: a changed resource's Change has its previous state and
// the diff; a scan's change has no cause; a resurrected resource's Old is
// its state before the deletion.
func testRecordChanged(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	v1 := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"public": map[string]any{"policy": false}, "n": 1.0})
	put(t, s, "s1", v1)

	v2 := v1
	v2.CollectedAt = at(10)
	v2.Properties = map[string]any{"public": map[string]any{"policy": true}, "n": 1.0}
	c := cause("ev-2", "PutBucketPolicy", alice, at(9))
	rec := record(t, s, vigil.Observation{ScanID: "ev-2", At: at(10), Resources: []vigil.Resource{v2}, Cause: c})
	v1, v2 = hashed(v1), hashed(v2)
	wantV2 := vigil.Version{UID: v1.UID, Seq: 2, Hash: v2.Hash, ObservedAt: at(10), ScanID: "ev-2", Actor: alice, Cause: c,
		Resource: v2, Diff: []vigil.DiffOp{{Op: "replace", Path: "/properties/public/policy", Old: false, New: true}}}
	equal(t, "Changes", rec.Changes, []vigil.Change{{Old: &v1, New: v2, Version: wantV2}})
	equal(t, "Versions", versions(t, s, v1.UID), []vigil.Version{
		{UID: v1.UID, Seq: 1, Hash: v1.Hash, ObservedAt: t0, ScanID: "s1", Resource: v1},
		wantV2,
	})

	// A scan batch sees it changed back: no cause, no actor.
	v3 := v1
	v3.CollectedAt = at(20)
	rec = record(t, s, vigil.Observation{ScanID: "s3", At: at(20), Resources: []vigil.Resource{v3}})
	v3 = hashed(v3)
	equal(t, "Changes of a scan", rec.Changes, []vigil.Change{{Old: &v2, New: v3, Version: vigil.Version{
		UID: v1.UID, Seq: 3, Hash: v3.Hash, ObservedAt: at(20), ScanID: "s3", Resource: v3,
		Diff: []vigil.DiffOp{{Op: "replace", Path: "/properties/public/policy", Old: true, New: false}}}}})
	if vs := versions(t, s, v1.UID); vs[2].Cause != nil || vs[2].Actor != "" {
		t.Errorf("scan version has cause %+v and actor %q, want none", vs[2].Cause, vs[2].Actor)
	}

	// Deleted, then back changed: Old is the state before the deletion.
	if n, err := s.Sweep(ctx, "s4", at(30), []vigil.Scope{{Account: "111", Region: "eu-west-1", Type: "aws.s3.bucket"}}); err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	v5 := v1
	v5.CollectedAt, v5.Hash = at(40), ""
	v5.Properties = map[string]any{"public": map[string]any{"policy": false}, "n": 2.0}
	rec = record(t, s, vigil.Observation{ScanID: "s5", At: at(40), Resources: []vigil.Resource{v5}})
	v5 = hashed(v5)
	equal(t, "Changes of a resurrection", rec.Changes, []vigil.Change{{Old: &v3, New: v5, Version: vigil.Version{
		UID: v1.UID, Seq: 5, Hash: v5.Hash, ObservedAt: at(40), ScanID: "s5", Resource: v5,
		Diff: []vigil.DiffOp{{Op: "replace", Path: "/properties/n", Old: 1.0, New: 2.0}}}}})
	equal(t, "Resource", resource(t, s, v1.UID), v5)
}

// testRecordTransitions: from every earlier state of a result to every new
// status, which transition Record reports.
func testRecordTransitions(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	const c = "c"
	st := func(uid string, status vigil.Status, tm time.Time) vigil.Result {
		return with(fail(c, uid, tm), status, string(status))
	}
	type tr struct {
		from                       vigil.Status
		opened, reopened, resolved bool
	}
	cases := []struct {
		uid    string
		before []vigil.Status // earlier results, oldest first
		stale  bool           // then resolved by ResolveStale
		now    vigil.Status
		want   *tr
	}{
		{uid: "new-fail", now: vigil.StatusFail, want: &tr{opened: true}},
		{uid: "new-error", now: vigil.StatusError},
		{uid: "new-pass", now: vigil.StatusPass},
		{uid: "new-muted", now: vigil.StatusMuted},
		{uid: "fail-fail", before: []vigil.Status{vigil.StatusFail}, now: vigil.StatusFail},
		{uid: "error-fail", before: []vigil.Status{vigil.StatusError}, now: vigil.StatusFail},
		{uid: "pass-fail", before: []vigil.Status{vigil.StatusPass}, now: vigil.StatusFail, want: &tr{from: vigil.StatusPass, opened: true}},
		{uid: "muted-fail", before: []vigil.Status{vigil.StatusMuted}, now: vigil.StatusFail, want: &tr{from: vigil.StatusMuted, opened: true}},
		{uid: "open-muted-fail", before: []vigil.Status{vigil.StatusFail, vigil.StatusMuted}, now: vigil.StatusFail,
			want: &tr{from: vigil.StatusMuted, opened: true}},
		{uid: "resolved-fail", before: []vigil.Status{vigil.StatusFail, vigil.StatusPass}, now: vigil.StatusFail,
			want: &tr{from: vigil.StatusPass, opened: true, reopened: true}},
		{uid: "stale-fail", before: []vigil.Status{vigil.StatusFail}, stale: true, now: vigil.StatusFail,
			want: &tr{from: vigil.StatusFail, opened: true, reopened: true}},
		{uid: "resolved-muted-fail", before: []vigil.Status{vigil.StatusFail, vigil.StatusPass, vigil.StatusMuted}, now: vigil.StatusFail,
			want: &tr{from: vigil.StatusMuted, opened: true, reopened: true}},
		{uid: "fail-error", before: []vigil.Status{vigil.StatusFail}, now: vigil.StatusError},
		{uid: "resolved-error", before: []vigil.Status{vigil.StatusFail, vigil.StatusPass}, now: vigil.StatusError},
		{uid: "fail-pass", before: []vigil.Status{vigil.StatusFail}, now: vigil.StatusPass, want: &tr{from: vigil.StatusFail, resolved: true}},
		{uid: "error-pass", before: []vigil.Status{vigil.StatusError}, now: vigil.StatusPass, want: &tr{from: vigil.StatusError, resolved: true}},
		{uid: "stale-pass", before: []vigil.Status{vigil.StatusFail}, stale: true, now: vigil.StatusPass},
		{uid: "resolved-pass", before: []vigil.Status{vigil.StatusFail, vigil.StatusPass}, now: vigil.StatusPass},
		{uid: "muted-pass", before: []vigil.Status{vigil.StatusMuted}, now: vigil.StatusPass},
		{uid: "open-muted-pass", before: []vigil.Status{vigil.StatusFail, vigil.StatusMuted}, now: vigil.StatusPass},
		{uid: "fail-muted", before: []vigil.Status{vigil.StatusFail}, now: vigil.StatusMuted},
		{uid: "pass-pass", before: []vigil.Status{vigil.StatusPass}, now: vigil.StatusPass},
	}
	var obs []vigil.Result
	for _, tc := range cases {
		mk := func(status vigil.Status, tm time.Time) vigil.Result {
			r := st(tc.uid, status, tm)
			if tc.stale {
				r.Account = "999" // the account whose stale results are resolved below
			}
			return r
		}
		for i, b := range tc.before {
			putResults(t, s, fmt.Sprint("s", i), mk(b, at(i)))
		}
		obs = append(obs, mk(tc.now, at(10)))
	}
	scope := []vigil.Scope{{Account: "999", Region: "eu-west-1", Type: "aws.s3.bucket"}}
	if n, err := s.ResolveStale(ctx, "s5", at(5), []string{c}, scope); err != nil || n != 2 {
		t.Fatalf("ResolveStale = %d, %v; want the 2 stale results", n, err)
	}
	rec := record(t, s, vigil.Observation{ScanID: "s10", At: at(10), Results: obs})
	var want []vigil.Transition
	for _, tc := range cases {
		if tc.want == nil {
			continue
		}
		res := result(t, s, c, tc.uid)
		if res.Status != tc.now || res.ScanID != "s10" || !res.LastSeen.Equal(at(10)) {
			t.Errorf("%s: stored %s from %s at %v, want %s from s10 at %v", tc.uid, res.Status, res.ScanID, res.LastSeen, tc.now, at(10))
		}
		switch {
		case tc.want.opened && res.ResolvedAt != nil:
			t.Errorf("%s: opened but resolved at %v", tc.uid, res.ResolvedAt)
		case tc.want.resolved && (res.ResolvedAt == nil || !res.ResolvedAt.Equal(at(10))):
			t.Errorf("%s: resolved at %v, want %v", tc.uid, res.ResolvedAt, at(10))
		}
		want = append(want, vigil.Transition{Result: res, From: tc.want.from,
			Opened: tc.want.opened, Reopened: tc.want.reopened, Resolved: tc.want.resolved})
	}
	equal(t, "Transitions", rec.Transitions, want)
}

// testRecordDeleted: a deleted resource gets a deletion version with the
// cause, its open findings resolve as transitions; an unknown or already
// deleted uid is ignored.
func testRecordDeleted(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	a := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"k": "v"})
	keep := bucket("arn:aws:s3:::keep", "111", "eu-west-1", nil)
	put(t, s, "s1", a, keep)
	putResults(t, s, "s1",
		fail("fails", a.UID, t0),
		with(fail("errors", a.UID, t0), vigil.StatusError, "denied"),
		with(fail("passes", a.UID, t0), vigil.StatusPass, "ok"),
		with(fail("muted", a.UID, t0), vigil.StatusMuted, "muted"),
		fail("fixed", a.UID, t0),
		fail("fails", keep.UID, t0),
	)
	putResults(t, s, "s1", with(fail("fixed", a.UID, at(1)), vigil.StatusPass, "ok"))

	c := cause("ev-3", "DeleteBucket", alice, at(4))
	rec := record(t, s, vigil.Observation{ScanID: "ev-3", At: at(5), Cause: c,
		Deleted: []vigil.Resource{{UID: a.UID}, {UID: "arn:aws:s3:::unknown"}}})
	a = hashed(a)
	wantV := vigil.Version{UID: a.UID, Seq: 2, Hash: a.Hash, ObservedAt: at(5), ScanID: "ev-3", Actor: alice, Cause: c,
		Deleted: true, Resource: a, Diff: []vigil.DiffOp{
			{Op: "remove", Path: "/name", Old: a.UID},
			{Op: "remove", Path: "/properties", Old: map[string]any{"k": "v"}},
			{Op: "remove", Path: "/read_errors"},
			{Op: "remove", Path: "/tags", Old: map[string]any{"env": "dev"}},
		}}
	equal(t, "Changes", rec.Changes, []vigil.Change{{Old: &a, New: a, Version: wantV}})
	equal(t, "Versions", versions(t, s, a.UID)[1], wantV)

	resolved := func(check string, st vigil.Status, reason string) vigil.Result {
		r := with(fail(check, a.UID, t0), st, reason)
		r.FirstSeen, r.StatusSince, r.ScanID, r.ResolvedAt = t0, t0, "s1", ptr(at(5))
		return r
	}
	equal(t, "Transitions", rec.Transitions, []vigil.Transition{
		{Result: resolved("errors", vigil.StatusError, "denied"), From: vigil.StatusError, Resolved: true},
		{Result: resolved("fails", vigil.StatusFail, "public"), From: vigil.StatusFail, Resolved: true},
	})
	for _, tt := range []struct {
		check    string
		resolved *time.Time
	}{{"fails", ptr(at(5))}, {"errors", ptr(at(5))}, {"passes", ptr(at(5))}, {"muted", ptr(at(5))}, {"fixed", ptr(at(1))}} {
		if got := result(t, s, tt.check, a.UID); !equalTime(got.ResolvedAt, tt.resolved) {
			t.Errorf("result %s resolved at %v, want %v", tt.check, got.ResolvedAt, tt.resolved)
		}
	}
	if got := result(t, s, "fails", keep.UID); got.ResolvedAt != nil {
		t.Errorf("result on another resource resolved at %v", got.ResolvedAt)
	}
	rs, err := s.Resources(ctx, vigil.ResourceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "Resources", uids(rs), []string{keep.UID})
	_, err = s.Resource(ctx, "arn:aws:s3:::unknown")
	wantCode(t, "Resource(unknown)", err, vigil.ENOTFOUND)

	// Deleted again: nothing to do.
	rec = record(t, s, vigil.Observation{ScanID: "ev-4", At: at(6), Deleted: []vigil.Resource{{UID: a.UID}}})
	if len(rec.Changes) != 0 || len(rec.Transitions) != 0 {
		t.Fatalf("second deletion recorded %+v, want nothing", rec)
	}
	if vs := versions(t, s, a.UID); len(vs) != 2 {
		t.Fatalf("Versions after a second deletion = %d, want 2", len(vs))
	}
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// testRecordComplete: a complete observation resolves the open results of
// checks that no longer apply to its resources, and only those.
func testRecordComplete(t *testing.T, s vigil.Store) {
	a := bucket("arn:aws:s3:::a", "111", "eu-west-1", nil)
	b := bucket("arn:aws:s3:::b", "111", "eu-west-1", nil)
	other := bucket("arn:aws:s3:::other", "111", "eu-west-1", nil)
	put(t, s, "s1", a, b, other)
	putResults(t, s, "s1",
		fail("website", a.UID, t0),
		with(fail("website-tls", a.UID, t0), vigil.StatusError, "denied"),
		with(fail("website-logs", a.UID, t0), vigil.StatusMuted, "muted"),
		with(fail("website-ok", a.UID, t0), vigil.StatusPass, "ok"),
		fail("public", a.UID, t0),
		fail("website", b.UID, t0), // b is observed, but with website evaluated
		fail("website", other.UID, t0),
	)
	obs := vigil.Observation{ScanID: "ev-5", At: at(5), Resources: []vigil.Resource{a, b},
		Results: []vigil.Result{fail("public", a.UID, at(5)), fail("website", b.UID, at(5))}}

	// Not complete: nothing is resolved.
	rec := record(t, s, obs)
	if len(rec.Transitions) != 0 {
		t.Fatalf("incomplete observation: transitions %+v, want none", rec.Transitions)
	}
	if open := results(t, s, vigil.ResultFilter{Open: true}); len(open) != 7 {
		t.Fatalf("open results after an incomplete observation = %d, want 7", len(open))
	}

	obs.Complete, obs.ScanID, obs.At = true, "ev-6", at(6)
	rec = record(t, s, obs)
	resolved := func(check string, st vigil.Status, reason string) vigil.Result {
		r := with(fail(check, a.UID, t0), st, reason)
		r.FirstSeen, r.StatusSince, r.ScanID, r.ResolvedAt = t0, t0, "s1", ptr(at(6))
		return r
	}
	equal(t, "Transitions", rec.Transitions, []vigil.Transition{
		{Result: resolved("website", vigil.StatusFail, "public"), From: vigil.StatusFail, Resolved: true},
		{Result: resolved("website-tls", vigil.StatusError, "denied"), From: vigil.StatusError, Resolved: true},
	})
	for _, tt := range []struct {
		check, uid string
		resolved   *time.Time
	}{
		{"website", a.UID, ptr(at(6))},
		{"website-tls", a.UID, ptr(at(6))},
		{"website-logs", a.UID, ptr(at(6))}, // resolved, but a mute is no finding to announce
		{"website-ok", a.UID, nil},
		{"public", a.UID, nil},
		{"website", b.UID, nil},
		{"website", other.UID, nil},
	} {
		if got := result(t, s, tt.check, tt.uid); !equalTime(got.ResolvedAt, tt.resolved) {
			t.Errorf("result %s on %s resolved at %v, want %v", tt.check, tt.uid, got.ResolvedAt, tt.resolved)
		}
	}
}

// testRecordAfter: the after hook sees what Record returns, runs before the
// commit, and its error rolls the whole observation back.
func testRecordAfter(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	a := bucket("arn:aws:s3:::a", "111", "eu-west-1", map[string]any{"v": 1.0})
	b := bucket("arn:aws:s3:::b", "111", "eu-west-1", nil)
	record(t, s, vigil.Observation{ScanID: "s1", At: t0, Resources: []vigil.Resource{a, b},
		Results: []vigil.Result{fail("c", a.UID, t0), fail("c", b.UID, t0)}})
	beforeA, beforeB := resource(t, s, a.UID), resource(t, s, b.UID)
	beforeResults := results(t, s, vigil.ResultFilter{})

	a2 := a
	a2.Properties = map[string]any{"v": 2.0}
	n := bucket("arn:aws:s3:::new", "111", "eu-west-1", nil)
	obs := vigil.Observation{ScanID: "ev-1", At: at(5), Cause: cause("ev-1", "PutBucketPolicy", alice, at(4)),
		Resources: []vigil.Resource{a2, n}, Deleted: []vigil.Resource{{UID: b.UID}},
		Results: []vigil.Result{with(fail("c", a.UID, at(5)), vigil.StatusPass, "ok"), fail("c", n.UID, at(5))}, Complete: true}

	boom := errors.New("boom")
	calls := 0
	_, err := s.Record(ctx, obs, func(_ context.Context, rec vigil.Recorded, out vigil.Outbox) error {
		calls++
		if len(rec.Changes) != 3 || len(rec.Transitions) != 3 || out == nil {
			t.Errorf("after saw %d changes, %d transitions, outbox %v; want 3, 3, an outbox", len(rec.Changes), len(rec.Transitions), out)
		}
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("Record with a failing hook = %v after %d calls, want boom after 1", err, calls)
	}
	// No trace: resources, versions and results as before.
	equal(t, "Resource(a) after a rollback", resource(t, s, a.UID), beforeA)
	equal(t, "Resource(b) after a rollback", resource(t, s, b.UID), beforeB)
	for _, uid := range []string{a.UID, b.UID} {
		if vs := versions(t, s, uid); len(vs) != 1 {
			t.Errorf("Versions(%s) after a rollback = %d, want 1", uid, len(vs))
		}
	}
	_, err = s.Resource(ctx, n.UID)
	wantCode(t, "Resource(new) after a rollback", err, vigil.ENOTFOUND)
	equal(t, "Results after a rollback", results(t, s, vigil.ResultFilter{}), beforeResults)
	if cs, err := s.Changes(ctx, vigil.ChangeFilter{Since: at(1)}); err != nil || len(cs) != 0 {
		t.Fatalf("Changes after a rollback = %v, %v; want none", cs, err)
	}

	// The same observation with a hook that succeeds.
	var seen vigil.Recorded
	got, err := s.Record(ctx, obs, func(_ context.Context, rec vigil.Recorded, _ vigil.Outbox) error {
		seen = rec
		return nil
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	equal(t, "what after saw", utcRecorded(seen), utcRecorded(got))
	var kinds []string
	for _, c := range got.Changes {
		kinds = append(kinds, fmt.Sprintf("%s#%d deleted=%v", c.Version.UID, c.Version.Seq, c.Version.Deleted))
	}
	equal(t, "changes", kinds, []string{a.UID + "#2 deleted=false", n.UID + "#1 deleted=false", b.UID + "#2 deleted=true"})
	var trs []string
	for _, tr := range got.Transitions {
		trs = append(trs, fmt.Sprintf("%s %s→%s opened=%v resolved=%v", tr.Result.ResourceUID, tr.From, tr.Result.Status, tr.Opened, tr.Resolved))
	}
	equal(t, "transitions", trs, []string{
		b.UID + " fail→fail opened=false resolved=true",
		a.UID + " fail→pass opened=false resolved=true",
		n.UID + " →fail opened=true resolved=false",
	})
	if vs := versions(t, s, b.UID); len(vs) != 2 || !vs[1].Deleted {
		t.Errorf("Versions(b) = %+v, want a deletion", vs)
	}
}

// testRecordInvalid: bad observations are EINVALID and write nothing; a zero
// time is now.
func testRecordInvalid(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	good := bucket("arn:aws:s3:::a", "111", "eu-west-1", nil)
	for _, tc := range []struct {
		name string
		obs  vigil.Observation
	}{
		{"no scan id", vigil.Observation{Resources: []vigil.Resource{good}}},
		{"resource without uid", vigil.Observation{ScanID: "s1", Resources: []vigil.Resource{good, bucket("", "111", "eu-west-1", nil)}}},
		{"deletion without uid", vigil.Observation{ScanID: "s1", Resources: []vigil.Resource{good}, Deleted: []vigil.Resource{{Name: "x"}}}},
		{"result without check", vigil.Observation{ScanID: "s1", Resources: []vigil.Resource{good}, Results: []vigil.Result{fail("", good.UID, t0)}}},
		{"result without uid", vigil.Observation{ScanID: "s1", Resources: []vigil.Resource{good}, Results: []vigil.Result{fail("c", "", t0)}}},
	} {
		called := false
		rec, err := s.Record(ctx, tc.obs, func(context.Context, vigil.Recorded, vigil.Outbox) error {
			called = true
			return nil
		})
		wantCode(t, tc.name, err, vigil.EINVALID)
		if called || len(rec.Changes) != 0 {
			t.Errorf("%s: after called %v, recorded %+v", tc.name, called, rec)
		}
	}
	_, err := s.Resource(ctx, good.UID)
	wantCode(t, "Resource after invalid observations", err, vigil.ENOTFOUND)

	// No time: now.
	r := good
	r.CollectedAt = time.Time{}
	before := time.Now()
	rec := record(t, s, vigil.Observation{ScanID: "s1", Resources: []vigil.Resource{r}, Results: []vigil.Result{fail("c", r.UID, time.Time{})}})
	after := time.Now()
	if len(rec.Changes) != 1 {
		t.Fatalf("Changes = %d, want 1", len(rec.Changes))
	}
	for what, tm := range map[string]time.Time{
		"version observed": versions(t, s, r.UID)[0].ObservedAt,
		"change observed":  rec.Changes[0].Version.ObservedAt,
		"result seen":      result(t, s, "c", r.UID).LastSeen,
	} {
		if tm.Before(before) || tm.After(after) {
			t.Errorf("%s at %v, want about now", what, tm)
		}
	}
	// An empty observation is valid and changes nothing.
	if rec := record(t, s, vigil.Observation{ScanID: "s2"}); len(rec.Changes) != 0 || len(rec.Transitions) != 0 {
		t.Errorf("empty observation recorded %+v", rec)
	}
}

// testChanges: the filters of Changes, its order and what each version
// carries.
func testChanges(t *testing.T, s vigil.Store) {
	ctx := t.Context()
	mk := func(uid, account, typ string, props map[string]any) vigil.Resource {
		r := bucket(uid, account, "eu-west-1", props)
		r.Type = typ
		return r
	}
	const bob = "arn:aws:iam::222:user/Bob"
	const role = "arn:aws:sts::222:assumed-role/Admin/Alice"
	logs := mk("logs", "111", "aws.s3.bucket", map[string]any{"public": false})
	queue := mk("queue", "222", "aws.sqs.queue", map[string]any{"fifo": false})
	site := mk("site", "222", "aws.s3.bucket", nil)
	odd := mk("odd", "111", "aws.s3x.bucket", nil)
	rec := func(scan string, tm time.Time, c *vigil.Cause, rs []vigil.Resource, gone ...string) {
		t.Helper()
		obs := vigil.Observation{ScanID: scan, At: tm, Cause: c}
		for _, r := range rs {
			r.CollectedAt = tm
			obs.Resources = append(obs.Resources, r)
		}
		for _, uid := range gone {
			obs.Deleted = append(obs.Deleted, vigil.Resource{UID: uid})
		}
		record(t, s, obs)
	}
	rec("s0", at(-5), nil, []vigil.Resource{odd})
	rec("s1", at(0), nil, []vigil.Resource{logs})
	rec("ev-1", at(5), cause("ev-1", "CreateQueue", bob, at(5)), []vigil.Resource{queue})
	logs2 := logs
	logs2.Properties = map[string]any{"public": true}
	rec("ev-2", at(10), cause("ev-2", "PutBucketPolicy", alice, at(9)), []vigil.Resource{logs2})
	rec("s2", at(10), nil, []vigil.Resource{site})
	rec("ev-3", at(20), cause("ev-3", "DeleteQueue", role, at(20)), nil, queue.UID)

	ids := func(vs []vigil.Version) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s#%d", v.UID, v.Seq))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    vigil.ChangeFilter
		want []string
	}{
		{"all, newest first, ties by uid", vigil.ChangeFilter{}, []string{"queue#2", "logs#2", "site#1", "queue#1", "logs#1", "odd#1"}},
		{"since is inclusive", vigil.ChangeFilter{Since: at(10)}, []string{"queue#2", "logs#2", "site#1"}},
		{"until is exclusive", vigil.ChangeFilter{Until: at(10)}, []string{"queue#1", "logs#1", "odd#1"}},
		{"window", vigil.ChangeFilter{Since: at(0), Until: at(20)}, []string{"logs#2", "site#1", "queue#1", "logs#1"}},
		{"account", vigil.ChangeFilter{Account: "222"}, []string{"queue#2", "site#1", "queue#1"}},
		{"type glob", vigil.ChangeFilter{Type: "aws.s3.*"}, []string{"logs#2", "site#1", "logs#1"}},
		{"type glob suffix", vigil.ChangeFilter{Type: "*.bucket"}, []string{"logs#2", "site#1", "logs#1", "odd#1"}},
		{"type exact", vigil.ChangeFilter{Type: "aws.sqs.queue"}, []string{"queue#2", "queue#1"}},
		{"type ? is literal", vigil.ChangeFilter{Type: "aws.s3?bucket"}, []string{}},
		{"type is case-sensitive", vigil.ChangeFilter{Type: "AWS.S3.*"}, []string{}},
		{"uid", vigil.ChangeFilter{UID: "logs"}, []string{"logs#2", "logs#1"}},
		{"actor substring, any case", vigil.ChangeFilter{Actor: "ALICE"}, []string{"queue#2", "logs#2"}},
		{"actor", vigil.ChangeFilter{Actor: "user/bob"}, []string{"queue#1"}},
		{"actor unknown", vigil.ChangeFilter{Actor: "mallory"}, []string{}},
		{"limit", vigil.ChangeFilter{Limit: 2}, []string{"queue#2", "logs#2"}},
		{"limit max", vigil.ChangeFilter{Limit: 10_000}, []string{"queue#2", "logs#2", "site#1", "queue#1", "logs#1", "odd#1"}},
		{"all filters", vigil.ChangeFilter{Since: at(5), Until: at(21), Account: "222", Type: "aws.sqs.*", UID: "queue", Actor: "alice"}, []string{"queue#2"}},
	} {
		vs, err := s.Changes(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: Changes(%+v): %v", tc.name, tc.f, err)
		}
		equal(t, tc.name, ids(vs), tc.want)
	}
	for _, l := range []int{-1, 10_001} {
		_, err := s.Changes(ctx, vigil.ChangeFilter{Limit: l})
		wantCode(t, fmt.Sprint("Changes with limit ", l), err, vigil.EINVALID)
	}

	// Each version as Versions returns it: resource, diff, cause, actor.
	vs, err := s.Changes(ctx, vigil.ChangeFilter{UID: "logs", Limit: 1})
	if err != nil || len(vs) != 1 {
		t.Fatalf("Changes(logs, 1) = %v, %v", vs, err)
	}
	got := utcVersion(vs[0])
	equal(t, "Changes(logs)[0]", got, versions(t, s, "logs")[1])
	logs2.CollectedAt = at(10)
	equal(t, "version resource", got.Resource, hashed(logs2))
	equal(t, "version diff", got.Diff, []vigil.DiffOp{{Op: "replace", Path: "/properties/public", Old: false, New: true}})
	equal(t, "version cause", got.Cause, cause("ev-2", "PutBucketPolicy", alice, at(9)))
	if got.Actor != alice || got.ScanID != "ev-2" {
		t.Errorf("version actor %q scan %q, want %q ev-2", got.Actor, got.ScanID, alice)
	}
	vs, err = s.Changes(ctx, vigil.ChangeFilter{UID: "queue", Limit: 1})
	if err != nil || len(vs) != 1 || !vs[0].Deleted || vs[0].Actor != role {
		t.Fatalf("Changes(queue, 1) = %+v, %v; want the deletion by %s", vs, err, role)
	}
}

// testChangesDefaultLimit: without a limit, Changes returns 100 versions.
func testChangesDefaultLimit(t *testing.T, s vigil.Store) {
	var rs []vigil.Resource
	for i := range 101 {
		rs = append(rs, bucket(fmt.Sprintf("b%03d", i), "111", "eu-west-1", nil))
	}
	record(t, s, vigil.Observation{ScanID: "s1", At: t0, Resources: rs})
	vs, err := s.Changes(t.Context(), vigil.ChangeFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 100 || vs[0].UID != "b000" || vs[99].UID != "b099" {
		var last string
		if len(vs) > 0 {
			last = vs[len(vs)-1].UID
		}
		t.Fatalf("Changes = %d versions ending at %s, want 100 from b000 to b099", len(vs), last)
	}
	if !strings.HasPrefix(vs[0].Resource.UID, "b") {
		t.Errorf("version without its resource: %+v", vs[0])
	}
}
