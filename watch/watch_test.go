package watch

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/sqlite"
)

// memQueue is a watch.Queue in memory: what the watcher did to each
// message is recorded.
type memQueue struct {
	mu       sync.Mutex
	pending  []Message
	deleted  []string
	released []string
	aside    map[string]string
}

func (q *memQueue) Receive(ctx context.Context) ([]Message, error) {
	q.mu.Lock()
	batch := q.pending
	q.pending = nil
	q.mu.Unlock()
	if len(batch) == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return batch, nil
}

func (q *memQueue) Delete(_ context.Context, m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.deleted = append(q.deleted, m.ID)
	return nil
}

func (q *memQueue) Release(_ context.Context, m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = append(q.released, m.ID)
	return nil
}

func (q *memQueue) MoveAside(_ context.Context, m Message, reason string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.aside == nil {
		q.aside = map[string]string{}
	}
	q.aside[m.ID] = reason
	return nil
}

// testEvent is the message body the test decoder understands.
type testEvent struct {
	Account string   `json:"account"`
	ID      string   `json:"id"`
	Ignore  string   `json:"ignore"`
	UIDs    []string `json:"uids"`
}

func decode(body []byte) (Event, error) {
	var e testEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, err
	}
	if e.ID == "" {
		return Event{}, errors.New("event has no id")
	}
	ev := Event{Account: e.Account, Ignore: e.Ignore, Cause: vigil.Cause{EventID: e.ID, EventName: "PutBucketPolicy",
		EventTime: t0, Actor: vigil.Actor{ARN: "arn:aws:iam::123456789012:user/alice", SourceIP: "203.0.113.7"}}}
	for _, u := range e.UIDs {
		ev.Targets = append(ev.Targets, Target{Type: "aws.s3.bucket", UID: u})
	}
	return ev, nil
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// reader serves the resources of its map; a missing uid is gone, one in
// fail cannot be read.
type reader struct {
	mu       sync.Mutex
	state    map[string]vigil.Resource
	partial  map[string]bool
	fail     map[string]error
	failCall error
	panics   bool
}

func (r *reader) Get(_ context.Context, account string, ts []Target) ([]Got, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failCall != nil {
		return nil, r.failCall
	}
	if r.panics {
		panic("odd event")
	}
	var out []Got
	for _, t := range ts {
		res, ok := r.state[t.UID]
		out = append(out, Got{Target: t, Resource: res, Found: ok, Partial: r.partial[t.UID], Err: r.fail[t.UID]})
	}
	return out, nil
}

func bucket(uid string, props map[string]any) vigil.Resource {
	return vigil.Resource{UID: uid, Provider: vigil.AWS, Account: "123456789012", Region: "us-east-1", Type: "aws.s3.bucket",
		Name: uid[len("arn:aws:s3:::"):], Properties: props, CollectedAt: t0}
}

// evaluate is one check: a bucket must not be public.
func evaluate(r *vigil.Resource, at time.Time, scanID string) []vigil.Result {
	st := vigil.StatusPass
	if r.Properties["public"] == true {
		st = vigil.StatusFail
	}
	return []vigil.Result{{CheckID: "no-public", ResourceUID: r.UID, ResourceType: r.Type, Provider: r.Provider,
		Account: r.Account, Region: r.Region, Severity: vigil.Critical, Status: st, LastSeen: at, ScanID: scanID}}
}

type fixture struct {
	q     *memQueue
	r     *reader
	store *sqlite.Store
	w     *Watcher
	after []vigil.Recorded
	fail  error
	seen  []Outcome
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{q: &memQueue{}, r: &reader{state: map[string]vigil.Resource{}, partial: map[string]bool{}, fail: map[string]error{}}, store: store}
	w, err := New(Options{Queue: f.q, Decode: decode, Read: f.r, Evaluate: evaluate, Store: store,
		Accounts: []string{"123456789012"}, MaxReceives: 3,
		After: func(_ context.Context, rec vigil.Recorded, _ vigil.Outbox) error {
			if f.fail != nil {
				return f.fail
			}
			f.after = append(f.after, rec)
			return nil
		},
		Observe: func(o Outcome, _ time.Duration) { f.seen = append(f.seen, o) },
		Now:     func() time.Time { return t0.Add(3 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	return f
}

func msg(id string, receives int, body string) Message {
	return Message{ID: id, Body: []byte(body), Receives: receives}
}

func (f *fixture) handle(t *testing.T, m Message) Outcome {
	t.Helper()
	o, _ := f.w.Handle(t.Context(), m)
	return o
}

func TestHandleRecordsChangeWithActor(t *testing.T) {
	f := newFixture(t)
	const uid = "arn:aws:s3:::logs"
	f.r.state[uid] = bucket(uid, map[string]any{"public": true})
	if o := f.handle(t, msg("m1", 1, `{"account":"123456789012","id":"e1","uids":["`+uid+`"]}`)); o != Recorded {
		t.Fatalf("outcome %s, want recorded", o)
	}
	vs, err := f.store.Versions(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Actor != "arn:aws:iam::123456789012:user/alice" || vs[0].Cause == nil ||
		vs[0].Cause.EventID != "e1" || vs[0].Cause.Actor.SourceIP != "203.0.113.7" || vs[0].ScanID != "ev-e1" {
		t.Fatalf("versions %+v", vs)
	}
	if len(f.after) != 1 || len(f.after[0].Changes) != 1 || len(f.after[0].Transitions) != 1 || !f.after[0].Transitions[0].Opened {
		t.Errorf("after saw %+v", f.after)
	}
	// The same event delivered again changes nothing and alerts nothing.
	if o := f.handle(t, msg("m1", 2, `{"account":"123456789012","id":"e1","uids":["`+uid+`"]}`)); o != Unchanged {
		t.Errorf("redelivery outcome %s, want unchanged", o)
	}
	if len(f.after) != 2 || len(f.after[1].Changes) != 0 || len(f.after[1].Transitions) != 0 {
		t.Errorf("after the redelivery: %+v", f.after)
	}
	if !slices.Equal(f.q.deleted, []string{"m1", "m1"}) {
		t.Errorf("deleted %v", f.q.deleted)
	}
}

func TestHandleDeletion(t *testing.T) {
	f := newFixture(t)
	const uid = "arn:aws:s3:::gone"
	f.r.state[uid] = bucket(uid, map[string]any{"public": true})
	f.handle(t, msg("m1", 1, `{"account":"123456789012","id":"e1","uids":["`+uid+`"]}`))
	delete(f.r.state, uid)
	if o := f.handle(t, msg("m2", 1, `{"account":"123456789012","id":"e2","uids":["`+uid+`"]}`)); o != Recorded {
		t.Fatalf("outcome %s, want recorded", o)
	}
	res, err := f.store.Resource(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	open, err := f.store.Results(t.Context(), vigil.ResultFilter{UID: uid, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := f.store.Versions(t.Context(), uid)
	if len(vs) != 2 || !vs[1].Deleted || vs[1].Cause == nil || vs[1].Cause.EventID != "e2" || len(open) != 0 {
		t.Errorf("resource %+v versions %+v open results %+v", res, vs, open)
	}
}

func TestHandleBadMessages(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, body string
		want       Outcome
	}{
		{"not json", "{", Malformed},
		{"no id", `{"account":"123456789012"}`, Malformed},
		{"read-only", `{"account":"123456789012","id":"e3","ignore":"read-only","uids":["arn:aws:s3:::x"]}`, Ignored},
		{"other account", `{"account":"210987654321","id":"e4","uids":["arn:aws:s3:::x"]}`, Ignored},
		{"no target", `{"account":"123456789012","id":"e5"}`, Ignored},
	} {
		if o := f.handle(t, msg(c.name, 1, c.body)); o != c.want {
			t.Errorf("%s: outcome %s, want %s", c.name, o, c.want)
		}
	}
	if len(f.q.aside) != 2 || f.q.aside["not json"] != "malformed: unexpected end of JSON input" ||
		f.q.aside["no id"] != "malformed: event has no id" {
		t.Errorf("moved aside %v", f.q.aside)
	}
	if !slices.Equal(f.q.deleted, []string{"read-only", "other account", "no target"}) || len(f.after) != 0 {
		t.Errorf("deleted %v, recorded %d", f.q.deleted, len(f.after))
	}
}

func TestHandleFailuresRetryThenGiveUp(t *testing.T) {
	f := newFixture(t)
	f.r.failCall = errors.New("throttled")
	body := `{"account":"123456789012","id":"e6","uids":["arn:aws:s3:::x"]}`
	if o := f.handle(t, msg("m1", 1, body)); o != Failed {
		t.Errorf("first failure: %s, want failed", o)
	}
	if o := f.handle(t, msg("m1", 3, body)); o != GaveUp {
		t.Errorf("third failure: %s, want gave_up", o)
	}
	if !slices.Equal(f.q.released, []string{"m1"}) || f.q.aside["m1"] != "failed 3 times: re-read 1 resource(s): throttled" || len(f.q.deleted) != 0 {
		t.Errorf("released %v aside %v deleted %v", f.q.released, f.q.aside, f.q.deleted)
	}
	// A resource that cannot be read keeps its stored state: retried.
	f.r.failCall = nil
	f.r.fail["arn:aws:s3:::x"] = errors.New("AccessDenied")
	if o := f.handle(t, msg("m2", 1, body)); o != Failed {
		t.Errorf("unreadable resource: %s, want failed", o)
	}
	// An after hook that fails rolls the observation back.
	delete(f.r.fail, "arn:aws:s3:::x")
	f.r.state["arn:aws:s3:::x"] = bucket("arn:aws:s3:::x", map[string]any{"public": false})
	f.fail = errors.New("queue full")
	if o := f.handle(t, msg("m3", 1, body)); o != Failed {
		t.Errorf("failing hook: %s, want failed", o)
	}
	if _, err := f.store.Resource(t.Context(), "arn:aws:s3:::x"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("a rolled-back observation was stored: %v", err)
	}
	if !slices.Equal(f.seen, []Outcome{Failed, GaveUp, Failed, Failed}) {
		t.Errorf("observed %v", f.seen)
	}
}

func TestHandlePartialOverlay(t *testing.T) {
	f := newFixture(t)
	const uid = "arn:aws:::123456789012:account"
	stored := vigil.Resource{UID: uid, Provider: vigil.AWS, Account: "123456789012", Type: "aws.account", Name: "123456789012",
		Properties: map[string]any{"password_policy": map[string]any{"min_length": 14.0}, "s3_public_access_block": nil},
		ReadErrors: []vigil.ReadError{{Property: "s3_public_access_block", Operation: "GetPublicAccessBlock", Code: "forbidden"}}}
	if _, err := f.store.PutResources(t.Context(), "s-1", []vigil.Resource{stored}); err != nil {
		t.Fatal(err)
	}
	f.r.state[uid] = vigil.Resource{UID: uid, Provider: vigil.AWS, Account: "123456789012", Type: "aws.account",
		Properties: map[string]any{"s3_public_access_block": map[string]any{"block_public_acls": true}}, CollectedAt: t0}
	f.r.partial[uid] = true
	if o := f.handle(t, msg("m1", 1, `{"account":"123456789012","id":"e7","uids":["`+uid+`"]}`)); o != Recorded {
		t.Fatalf("outcome %s", o)
	}
	got, err := f.store.Resource(t.Context(), uid)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"password_policy": map[string]any{"min_length": 14.0},
		"s3_public_access_block": map[string]any{"block_public_acls": true}}
	gb, _ := json.Marshal(got.Properties)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) || len(got.ReadErrors) != 0 || got.Name != "123456789012" {
		t.Errorf("overlaid %s read errors %+v name %q, want %s and none", gb, got.ReadErrors, got.Name, wb)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	f := newFixture(t)
	const uid = "arn:aws:s3:::run"
	f.r.state[uid] = bucket(uid, map[string]any{"public": false})
	f.q.pending = []Message{msg("m1", 1, `{"account":"123456789012","id":"e8","uids":["`+uid+`"]}`)}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.q.mu.Lock()
		n := len(f.q.deleted)
		f.q.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("message not handled within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("New with nothing: %v, want EINVALID", err)
	}
}

func TestHandlePanicIsAFailure(t *testing.T) {
	f := newFixture(t)
	f.r.panics = true
	body := `{"account":"123456789012","id":"e9","uids":["arn:aws:s3:::x"]}`
	o, err := f.w.Handle(t.Context(), msg("m1", 1, body))
	if o != Failed || err == nil || err.Error() != "panic handling message m1: odd event" {
		t.Errorf("first: %s, %v", o, err)
	}
	if o, _ := f.w.Handle(t.Context(), msg("m1", 3, body)); o != GaveUp {
		t.Errorf("third: %s, want gave_up", o)
	}
	if !slices.Equal(f.q.released, []string{"m1"}) || f.q.aside["m1"] != "failed 3 times: panic handling message m1: odd event" ||
		!slices.Equal(f.seen, []Outcome{Failed, GaveUp}) {
		t.Errorf("released %v aside %v observed %v", f.q.released, f.q.aside, f.seen)
	}
}
