package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/vigilsec/vigil"
	azurecol "github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/internal/localsrv"
	"github.com/vigilsec/vigil/watch"
)

// azureWatcher wires one Storage Queue of Event Grid events to a
// watch.Watcher: the same decode → re-read → record → alert → Always Fix
// path as the SQS queues, with Azure's event mapping and get-one reads.
func (d *daemon) azureWatcher(ctx context.Context, qc azureQueueConfig, workers int) (*watch.Watcher, error) {
	where := strings.TrimRight(qc.serviceURL, "/") + "/" + qc.queue
	o := azurecol.QueueOptions{ServiceURL: qc.serviceURL, Queue: qc.queue, PoisonQueue: qc.poison, Visibility: qc.visibility}
	if qc.keyEnv != "" {
		key := os.Getenv(qc.keyEnv)
		if key == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "%s: watch.azure queue %s: account_key_env names %s, which is not set", d.cfg.file, where, qc.keyEnv)
		}
		o.SharedKey = &azurecol.SharedKey{Account: storageAccountName(qc.serviceURL), Key: key}
	} else {
		o.Credential = d.az.Credential()
	}
	q, err := azurecol.NewEventQueue(o)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", where, err)
	}
	if err := q.Check(ctx); err != nil {
		return nil, fmt.Errorf("watch %s: %w", where, err)
	}
	subs := accountsOf(d.accounts, vigil.Azure)
	ids := make([]string, len(subs))
	for i, s := range subs {
		ids[i] = strings.ToLower(s.ID)
	}
	sq := queueAdapter[azurecol.QueueMessage]{q: q, message: func(m azurecol.QueueMessage) watch.Message {
		return watch.Message{ID: m.ID, Body: []byte(m.Body), Receives: m.Received}
	}}
	return d.newWatcher(sq, d.decodeAzure, azureReader{d}, ids, workers, where)
}

// storageAccountName is the account of a queue service URL: the first
// label of ACCOUNT.queue.core.windows.net, or the first path segment of a
// path-style (Azurite) URL.
func storageAccountName(serviceURL string) string {
	u, err := url.Parse(serviceURL)
	if err != nil {
		return ""
	}
	if localsrv.IsLoopback(u.Hostname()) {
		seg, _, _ := strings.Cut(strings.Trim(u.Path, "/"), "/")
		return seg
	}
	label, _, _ := strings.Cut(u.Hostname(), ".")
	return label
}

// decodeAzure decodes an Event Grid event and maps it to the resources it
// touched. The subscription is lower-cased: ARM ids compare without case.
func (d *daemon) decodeAzure(body []byte) (watch.Event, error) {
	e, err := azurecol.ParseEvent(body)
	if err != nil {
		return watch.Event{}, err
	}
	ev := watch.Event{Account: strings.ToLower(e.Subscription), Cause: vigil.Cause{EventID: e.ID, EventSource: e.Provider,
		EventName: e.Operation, EventTime: e.Time, Actor: vigil.Actor{ARN: e.Actor.Principal(), Type: e.Actor.Type,
			AccessKeyID: e.Actor.AppID, SourceIP: e.Actor.SourceIP}}}
	if ev.Cause.EventName == "" {
		ev.Cause.EventName = e.Type
	}
	ts, ok := azurecol.Targets(e)
	switch {
	case e.Failed:
		ev.Ignore = "failed call"
		return ev, nil
	case e.ReadOnly:
		ev.Ignore = "read-only"
		return ev, nil
	case !ok:
		ev.Ignore = "unknown event"
		return ev, nil
	}
	for _, t := range ts {
		ev.Targets = append(ev.Targets, watch.Target{Type: t.Type, UID: t.UID, Region: t.Region, Deleted: t.Deleted})
	}
	if len(ev.Targets) == 0 {
		ev.Ignore = "nothing collected"
	}
	return ev, nil
}

// azureReader re-reads targets with the Azure collector's get-one path.
type azureReader struct{ d *daemon }

func (r azureReader) Get(ctx context.Context, account string, ts []watch.Target) ([]watch.Got, error) {
	acct, ok := r.d.account(account)
	if !ok {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "subscription %s is not watched", account)
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.UID
	}
	got, err := r.d.az.Get(ctx, acct, ids)
	if err != nil {
		return nil, err
	}
	out := make([]watch.Got, len(got))
	for i, g := range got {
		out[i] = watch.Got{Target: ts[i], Resource: g.Resource, Found: g.Found, Partial: g.Partial, Err: g.Err}
	}
	return out, nil
}
