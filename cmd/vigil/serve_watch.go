package main

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/watch"
)

// watcher wires one SQS queue to a watch.Watcher: the queue is read with
// the scanning credentials of the account it names (default the first).
func (d *daemon) watcher(ctx context.Context, qc queueConfig, workers int) (*watch.Watcher, error) {
	awsAccts := accountsOf(d.accounts, vigil.AWS)
	acct := awsAccts[0]
	if qc.account != "" {
		acct, _ = d.account(qc.account)
	}
	q, err := d.col.Queue(ctx, acct, awscol.QueueOptions{URL: qc.url, DeadLetterURL: qc.deadLetterURL,
		WaitTime: qc.waitTime, Visibility: qc.visibility})
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", qc.url, err)
	}
	ids := make([]string, len(awsAccts))
	for i, a := range awsAccts {
		ids[i] = a.ID
	}
	sqs := queueAdapter[awscol.Message]{q: q, message: func(m awscol.Message) watch.Message {
		return watch.Message{ID: m.ID, Body: []byte(m.Body), Receives: m.Received}
	}}
	return d.newWatcher(sqs, d.decode, awsReader{d}, ids, workers, qc.url)
}

// eventQueue is what the clouds' queue consumers share (awscol.EventQueue
// of SQS, azurecol.EventQueue of Storage Queues), M being their message.
type eventQueue[M any] interface {
	Receive(ctx context.Context) ([]M, error)
	Delete(ctx context.Context, m M) error
	Release(ctx context.Context, m M) error
	MoveAside(ctx context.Context, m M, reason string) error
}

// queueAdapter is an eventQueue as a watch.Queue; message says what a
// received message is to the watcher, and the message itself is its Ref.
type queueAdapter[M any] struct {
	q       eventQueue[M]
	message func(M) watch.Message
}

func (a queueAdapter[M]) Receive(ctx context.Context) ([]watch.Message, error) {
	ms, err := a.q.Receive(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]watch.Message, len(ms))
	for i, m := range ms {
		out[i] = a.message(m)
		out[i].Ref = m
	}
	return out, nil
}

func (a queueAdapter[M]) Delete(ctx context.Context, m watch.Message) error {
	return a.q.Delete(ctx, m.Ref.(M))
}

func (a queueAdapter[M]) Release(ctx context.Context, m watch.Message) error {
	return a.q.Release(ctx, m.Ref.(M))
}

func (a queueAdapter[M]) MoveAside(ctx context.Context, m watch.Message, reason string) error {
	return a.q.MoveAside(ctx, m.Ref.(M), reason)
}

// newWatcher is a watch.Watcher on a queue with the daemon's evaluation,
// store, after hook and metrics: the part every cloud shares.
func (d *daemon) newWatcher(q watch.Queue, decode watch.Decoder, read watch.Reader, accounts []string, workers int, where string) (*watch.Watcher, error) {
	return watch.New(watch.Options{
		Queue:    q,
		Decode:   decode,
		Read:     read,
		Evaluate: d.evaluate,
		Store:    d.store,
		After:    d.after,
		Accounts: accounts,
		Workers:  workers,
		Observe:  func(o watch.Outcome, lag time.Duration) { d.metrics.Handled(string(o), lag) },
		Logger:   d.log.With("queue", where),
	})
}

// decode decodes an event and keeps the targets in the scanned regions:
// with --regions, a resource elsewhere is not in the inventory, and reading
// it would add one that the next scan removes.
func (d *daemon) decode(body []byte) (watch.Event, error) {
	ev, err := decodeAWSEvent(body)
	if err != nil || len(d.regions) == 0 || ev.Ignore != "" {
		return ev, err
	}
	kept := ev.Targets[:0]
	for _, t := range ev.Targets {
		if t.Region == "" || t.Region == "global" || contains(d.regions, t.Region) {
			kept = append(kept, t)
		}
	}
	if ev.Targets = kept; len(kept) == 0 {
		ev.Ignore = "region not scanned"
	}
	return ev, nil
}

// decodeAWSEvent decodes an EventBridge CloudTrail event and maps it to
// the resources it touched.
func decodeAWSEvent(body []byte) (watch.Event, error) {
	e, err := awscol.ParseEvent(body)
	if err != nil {
		return watch.Event{}, err
	}
	ev := watch.Event{Account: e.Account, Cause: vigil.Cause{EventID: e.ID, EventSource: e.Source, EventName: e.Name,
		EventTime: e.Time, Actor: vigil.Actor{ARN: e.Actor.ARN, Type: e.Actor.Type, AccessKeyID: e.Actor.AccessKeyID,
			SourceIP: e.Actor.SourceIP, UserAgent: e.Actor.UserAgent}}}
	switch {
	case e.Failed:
		ev.Ignore = "failed call"
		return ev, nil
	case e.ReadOnly:
		ev.Ignore = "read-only"
		return ev, nil
	}
	ts, ok := awscol.Targets(e)
	if !ok {
		ev.Ignore = "unknown event"
		return ev, nil
	}
	for _, t := range ts {
		ev.Targets = append(ev.Targets, watch.Target{Type: t.Type, UID: t.UID, Region: t.Region, Deleted: t.Deleted})
	}
	return ev, nil
}

// awsReader re-reads targets with the collector's get-one path.
type awsReader struct{ d *daemon }

func (r awsReader) Get(ctx context.Context, account string, ts []watch.Target) ([]watch.Got, error) {
	acct, ok := r.d.account(account)
	if !ok {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "account %s is not watched", account)
	}
	touched := make([]awscol.Touched, len(ts))
	for i, t := range ts {
		touched[i] = awscol.Touched{Type: t.Type, UID: t.UID, Region: t.Region, Deleted: t.Deleted}
	}
	got, err := r.d.col.Get(ctx, acct, touched)
	if err != nil {
		return nil, err
	}
	out := make([]watch.Got, len(got))
	for i, g := range got {
		t := g.Touched
		out[i] = watch.Got{Target: watch.Target{Type: t.Type, UID: t.UID, Region: t.Region, Deleted: t.Deleted},
			Resource: g.Resource, Found: g.Found, Partial: g.Partial, Err: g.Err}
	}
	return out, nil
}
