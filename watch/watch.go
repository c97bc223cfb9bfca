// Package watch turns change events into recorded changes within seconds:
// it receives events from a queue (SQS fed by EventBridge for AWS), maps
// each to the resources it touched, re-reads only those, and records the
// new state with the event's actor in one store transaction, together
// with the alert and fix jobs that the change causes. It knows no cloud
// SDK: the queue, the decoder and the reader are the provider's.
package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vigilsec/vigil"
)

// Message is one message from an event queue. Ref is the queue's own
// handle on it (an SQS receipt).
type Message struct {
	ID       string
	Body     []byte
	Receives int
	Ref      any
}

// Queue is where change events arrive.
type Queue interface {
	// Receive waits for messages (a long poll) and returns ctx.Err() once
	// ctx is done.
	Receive(ctx context.Context) ([]Message, error)
	// Delete acknowledges a handled message.
	Delete(ctx context.Context, m Message) error
	// Release makes a message visible again soon, to retry it.
	Release(ctx context.Context, m Message) error
	// MoveAside takes a message that can never be handled off the queue,
	// keeping it (a dead-letter queue) with the reason.
	MoveAside(ctx context.Context, m Message, reason string) error
}

// Event is a decoded change event.
type Event struct {
	Account string
	Cause   vigil.Cause
	Targets []Target
	// Ignore, when not empty, says why the event changes nothing Vigil
	// collects: "read-only", "failed call", "unknown event".
	Ignore string
}

// Target is one resource an event touched.
type Target struct {
	Type, UID, Region string
	Deleted           bool
}

// Decoder decodes a message body; an error means the message is malformed
// and will never decode.
type Decoder func(body []byte) (Event, error)

// Got is a target read again.
type Got struct {
	Target   Target
	Resource vigil.Resource
	// Found is false when the resource does not exist.
	Found bool
	// Partial says Resource holds only some properties of an account or
	// region settings resource: they are laid over the stored one.
	Partial bool
	// Err is set when the resource could not be read at all (denied,
	// throttled out): neither found nor known to be gone, so the stored
	// state stands.
	Err error
}

// Reader re-reads the targets of an event in one account.
type Reader interface {
	Get(ctx context.Context, account string, ts []Target) ([]Got, error)
}

// Evaluator runs the checks of a resource's type on it and returns their
// results, every check that applies included.
type Evaluator func(r *vigil.Resource, at time.Time, scanID string) []vigil.Result

// Store is what the watcher needs of the store.
type Store interface {
	vigil.ChangeStore
	Resource(ctx context.Context, uid string) (vigil.Resource, error)
}

// Outcome is what became of one message.
type Outcome string

// Outcomes, counted by the metrics.
const (
	Recorded  Outcome = "recorded"  // a change (or a finding transition) was recorded
	Unchanged Outcome = "unchanged" // re-read, nothing differed from the stored state
	Ignored   Outcome = "ignored"   // read-only, failed or unknown events, accounts not watched
	Malformed Outcome = "malformed" // not an event: moved aside
	Failed    Outcome = "failed"    // re-reading or recording failed: released to retry
	GaveUp    Outcome = "gave_up"   // failed MaxReceives times: moved aside
)

// Options configure a Watcher.
type Options struct {
	Queue    Queue
	Decode   Decoder
	Read     Reader
	Evaluate Evaluator
	Store    Store
	// After runs in the record transaction: it enqueues the alert and
	// fix jobs the change causes, so they exist exactly when it does.
	After vigil.AfterRecord
	// Accounts are the watched accounts; events of others are ignored.
	// Empty watches every account the reader knows.
	Accounts []string
	// Workers handle messages at once (default 4).
	Workers int
	// MaxReceives is how often a message may fail before it is moved
	// aside (default 5).
	MaxReceives int
	// Observe, if set, is called once per message with its outcome and,
	// for a decoded event, the lag from the event's time to now (metrics).
	Observe func(o Outcome, lag time.Duration)
	Logger  *slog.Logger
	Now     func() time.Time
}

// Watcher consumes one queue.
type Watcher struct {
	o        Options
	accounts map[string]bool
}

// New validates the options and returns a Watcher.
func New(o Options) (*Watcher, error) {
	switch {
	case o.Queue == nil, o.Decode == nil, o.Read == nil, o.Evaluate == nil, o.Store == nil:
		return nil, vigil.Errorf(vigil.EINVALID, "watch: queue, decoder, reader, evaluator and store are all required")
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.MaxReceives <= 0 {
		o.MaxReceives = 5
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Watcher{o: o}
	if len(o.Accounts) > 0 {
		w.accounts = map[string]bool{}
		for _, a := range o.Accounts {
			w.accounts[a] = true
		}
	}
	return w, nil
}

// Run receives and handles messages until ctx is done. A failing queue is
// retried with backoff (up to 30 s between attempts) and logged; Run
// returns nil when ctx ends. Messages being handled when ctx ends finish
// first, on a context that is not cancelled, so that a SIGTERM never
// leaves a change half recorded.
func (w *Watcher) Run(ctx context.Context) error {
	msgs := make(chan Message)
	var wg sync.WaitGroup
	for range w.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				_, _ = w.Handle(context.WithoutCancel(ctx), m)
			}
		}()
	}
	defer func() { close(msgs); wg.Wait() }()
	backoff := time.Second
	for ctx.Err() == nil {
		batch, err := w.o.Queue.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.o.Logger.Error("receive events", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		for _, m := range batch {
			select {
			case msgs <- m:
			case <-ctx.Done():
				// Not handled: the queue delivers it again after its
				// visibility timeout.
				return nil
			}
		}
	}
	return nil
}

// Handle handles one message: decode, re-read, record, acknowledge. It
// returns the outcome and, for Failed and GaveUp, the error. A panic while
// handling (a bug met by an odd event) is a failure of that message, not
// of the watcher: it is logged with its stack, and the message is retried
// and then moved aside like any other failure.
func (w *Watcher) Handle(ctx context.Context, m Message) (out Outcome, err error) {
	var lag time.Duration
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic handling message %s: %v", m.ID, p)
			w.o.Logger.Error("event handling panicked", "message", m.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out = w.failed(ctx, w.o.Logger.With("message", m.ID), m, err)
		}
		if w.o.Observe != nil {
			w.o.Observe(out, lag)
		}
	}()
	out, lag, err = w.handle(ctx, m)
	return out, err
}

// failed releases a message to retry it, or moves it aside once it has
// failed MaxReceives times.
func (w *Watcher) failed(ctx context.Context, log *slog.Logger, m Message, err error) Outcome {
	if m.Receives >= w.o.MaxReceives {
		log.Error("event failed too often, moved aside", "receives", m.Receives, "err", err)
		if merr := w.o.Queue.MoveAside(ctx, m, fmt.Sprintf("failed %d times: %v", m.Receives, err)); merr != nil {
			log.Error("move failed message aside", "err", merr)
		}
		return GaveUp
	}
	log.Warn("event failed, will retry", "receives", m.Receives, "err", err)
	if rerr := w.o.Queue.Release(ctx, m); rerr != nil {
		log.Error("release message", "err", rerr)
	}
	return Failed
}

func (w *Watcher) handle(ctx context.Context, m Message) (Outcome, time.Duration, error) {
	log := w.o.Logger.With("message", m.ID)
	ev, err := w.o.Decode(m.Body)
	if err != nil {
		log.Warn("malformed event message moved aside", "err", err)
		if merr := w.o.Queue.MoveAside(ctx, m, "malformed: "+err.Error()); merr != nil {
			log.Error("move malformed message aside", "err", merr)
		}
		return Malformed, 0, nil
	}
	var lag time.Duration
	if !ev.Cause.EventTime.IsZero() {
		lag = w.o.Now().Sub(ev.Cause.EventTime)
	}
	log = log.With("event", ev.Cause.EventName, "event_id", ev.Cause.EventID, "account", ev.Account)
	if ev.Ignore == "" && w.accounts != nil && !w.accounts[ev.Account] {
		ev.Ignore = "account not watched"
	}
	if ev.Ignore != "" || len(ev.Targets) == 0 {
		reason := ev.Ignore
		if reason == "" {
			reason = "no resource touched"
		}
		log.Debug("event ignored", "reason", reason)
		w.ack(ctx, log, m)
		return Ignored, lag, nil
	}
	changed, err := w.record(ctx, ev)
	if err != nil {
		return w.failed(ctx, log, m, err), lag, err
	}
	w.ack(ctx, log, m)
	if !changed {
		return Unchanged, lag, nil
	}
	log.Info("change recorded", "actor", ev.Cause.Actor.ARN, "targets", len(ev.Targets))
	return Recorded, lag, nil
}

func (w *Watcher) ack(ctx context.Context, log *slog.Logger, m Message) {
	if err := w.o.Queue.Delete(ctx, m); err != nil {
		// Delivered again later; recording is idempotent.
		log.Warn("delete handled message", "err", err)
	}
}

// ScanID names the observation of an event in versions and results.
func ScanID(ev Event) string {
	id := ev.Cause.EventID
	if id == "" {
		id = ev.Cause.EventTime.UTC().Format("20060102T150405.000") + "-" + ev.Cause.EventName
	}
	return "ev-" + id
}

// record re-reads the targets and records what they are now. It reports
// whether anything changed.
func (w *Watcher) record(ctx context.Context, ev Event) (bool, error) {
	got, err := w.o.Read.Get(ctx, ev.Account, ev.Targets)
	if err != nil {
		return false, fmt.Errorf("re-read %d resource(s): %w", len(ev.Targets), err)
	}
	now := w.o.Now().UTC()
	id := ScanID(ev)
	cause := ev.Cause
	obs := vigil.Observation{ScanID: id, At: now, Cause: &cause, Complete: true}
	var readErrs []error
	for _, g := range got {
		switch {
		case g.Err != nil:
			readErrs = append(readErrs, fmt.Errorf("%s: %w", g.Target.UID, g.Err))
			continue
		case !g.Found:
			obs.Deleted = append(obs.Deleted, vigil.Resource{UID: g.Target.UID, Type: g.Target.Type})
			continue
		case g.Partial:
			stored, err := w.o.Store.Resource(ctx, g.Resource.UID)
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				// The next scan creates it whole.
				continue
			}
			if err != nil {
				return false, fmt.Errorf("read stored %s: %w", g.Resource.UID, err)
			}
			g.Resource = stored.Overlay(g.Resource)
		}
		r := g.Resource
		r.ComputeHash()
		obs.Resources = append(obs.Resources, r)
		obs.Results = append(obs.Results, w.o.Evaluate(&r, now, id)...)
	}
	if len(readErrs) > 0 {
		if len(obs.Resources) == 0 && len(obs.Deleted) == 0 {
			// Nothing could be read: retry the event later.
			return false, errors.Join(readErrs...)
		}
		w.o.Logger.Warn("some resources of an event could not be read; their stored state stands",
			"event_id", ev.Cause.EventID, "err", errors.Join(readErrs...))
	}
	if len(obs.Resources) == 0 && len(obs.Deleted) == 0 {
		return false, nil
	}
	rec, err := w.o.Store.Record(ctx, obs, w.o.After)
	if err != nil {
		return false, err
	}
	return len(rec.Changes) > 0 || len(rec.Transitions) > 0, nil
}
