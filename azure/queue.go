package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/localsrv"
)

// Storage Queue limits and the defaults Vigil picks within them.
const (
	sqDefaultVisibility = 60 * time.Second
	sqMaxVisibility     = 7 * 24 * time.Hour // the service's maximum
	sqDefaultMax        = 16
	sqMaxMessages       = 32 // the most one Get Messages returns
	sqDefaultPoll       = 5 * time.Second
	sqMinPoll           = 10 * time.Millisecond
	sqMaxPoll           = time.Minute
	sqDefaultWait       = 20 * time.Second
	sqFirstRetry        = 100 * time.Millisecond
	// sqMaxMessageBytes is the largest message a queue stores (64 KiB).
	sqMaxMessageBytes = 64 << 10
	sqPoisonSuffix    = "-poison"
)

// SharedKey is a storage account name and key, for Azurite and accounts
// that still allow shared key access. The key is a secret: it is never
// logged nor put in an error.
type SharedKey struct {
	Account, Key string
}

// QueueOptions configure an EventQueue.
type QueueOptions struct {
	// ServiceURL is the queue service of the storage account:
	// https://ACCOUNT.queue.core.windows.net, or for Azurite (path style)
	// http://127.0.0.1:PORT/devstoreaccount1. Plain http is allowed only
	// to a loopback host. It must carry no query (no SAS token).
	ServiceURL string
	// Queue is the name of the queue Event Grid delivers to (required).
	Queue string
	// Credential is a Microsoft Entra token credential; the principal
	// needs the data actions listed in docs/azure-events.md on the queues.
	Credential azcore.TokenCredential
	// SharedKey authenticates with the account key instead (Azurite).
	// Exactly one of Credential and SharedKey is set.
	SharedKey *SharedKey
	// PoisonQueue is where MoveAside keeps messages that can never be
	// handled; default "<Queue>-poison". It must exist.
	PoisonQueue string
	// Visibility hides a received message from other receivers for this
	// long (whole seconds from 1 s to 7 days); default 60 s. A message
	// neither deleted nor released in that time is received again.
	Visibility time.Duration
	// MaxMessages is how many messages one Receive returns at most (1 to
	// 32); default 16.
	MaxMessages int
	// PollInterval is the longest pause between polls of an empty queue
	// (Storage Queues have no long poll): polls back off from 100 ms to
	// it; default 5 s, at most 1 min.
	PollInterval time.Duration
	// Wait is how long one Receive polls an empty queue before it returns
	// no message, like an SQS long poll; default 20 s.
	Wait time.Duration
	// Transport, if set, sends the SDK's requests (the engine's shared
	// HTTP client).
	Transport policy.Transporter
	// Retry tunes the SDK's retries of failed and throttled calls; zero is
	// the SDK's default (3 retries with exponential backoff).
	Retry policy.RetryOptions
	// Now is the clock of MoveAside's record; default time.Now.
	Now func() time.Time
}

// QueueMessage is one message received from an EventQueue.
type QueueMessage struct {
	// ID is the queue's message id.
	ID string
	// Body is the message text as stored: Event Grid's base64 of the
	// event JSON (ParseEvent takes either).
	Body string
	// PopReceipt is the handle of this receive, which Delete, Release and
	// MoveAside need.
	PopReceipt string
	// Received is the queue's DequeueCount: 1 on the first delivery.
	Received int
	// InsertedAt is when the message was put on the queue.
	InsertedAt time.Time
}

// EventQueue receives Event Grid events from an Azure Storage Queue. It is
// safe for concurrent use.
type EventQueue struct {
	queue, poison    *azqueue.QueueClient
	name, poisonName string
	service          string // the service URL, for messages
	visibility, max  int32
	poll, wait       time.Duration
	now              func() time.Time
}

// sqNameRe is Azure's rule for queue names: 3 to 63 lower-case letters,
// digits and single hyphens, starting and ending with a letter or digit.
var sqNameRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9])*$`)

// NewEventQueue validates the options and returns the queue. It makes no
// call: Check does, to fail early on a missing queue or a missing role.
func NewEventQueue(o QueueOptions) (*EventQueue, error) {
	svcURL, loopback, err := sqServiceURL(o.ServiceURL)
	if err != nil {
		return nil, err
	}
	if err := sqName("queue", o.Queue); err != nil {
		return nil, err
	}
	poison := o.PoisonQueue
	if poison == "" {
		poison = o.Queue + sqPoisonSuffix
	}
	if err := sqName("poison queue", poison); err != nil {
		return nil, err
	}
	if poison == o.Queue {
		return nil, vigil.Errorf(vigil.EINVALID, "poison queue %q is the queue itself", poison)
	}
	q := &EventQueue{name: o.Queue, poisonName: poison, service: svcURL, now: o.Now}
	if q.now == nil {
		q.now = time.Now
	}
	if o.Visibility == 0 {
		o.Visibility = sqDefaultVisibility
	}
	if o.Visibility < time.Second || o.Visibility > sqMaxVisibility || o.Visibility%time.Second != 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: visibility must be whole seconds from 1s to 168h, got %s", o.Queue, o.Visibility)
	}
	q.visibility = int32(o.Visibility / time.Second)
	switch {
	case o.MaxMessages == 0:
		q.max = sqDefaultMax
	case o.MaxMessages < 1 || o.MaxMessages > sqMaxMessages:
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: max messages must be from 1 to %d, got %d", o.Queue, sqMaxMessages, o.MaxMessages)
	default:
		q.max = int32(o.MaxMessages)
	}
	if q.poll = o.PollInterval; q.poll == 0 {
		q.poll = sqDefaultPoll
	}
	if q.poll < sqMinPoll || q.poll > sqMaxPoll {
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: poll interval must be from %s to %s, got %s", o.Queue, sqMinPoll, sqMaxPoll, o.PollInterval)
	}
	if q.wait = o.Wait; q.wait == 0 {
		q.wait = sqDefaultWait
	}
	if q.wait < 0 || q.wait > 5*time.Minute {
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: wait must be from 0s to 5m, got %s", o.Queue, o.Wait)
	}

	opts := &azqueue.ClientOptions{}
	opts.Retry = o.Retry
	if o.Transport != nil {
		opts.Transport = o.Transport
	}
	var svc *azqueue.ServiceClient
	switch {
	case o.Credential != nil && o.SharedKey != nil:
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: set a credential or a shared key, not both", o.Queue)
	case o.SharedKey != nil:
		if o.SharedKey.Account == "" || o.SharedKey.Key == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "queue %s: shared key needs an account name and a key", o.Queue)
		}
		cred, err := azqueue.NewSharedKeyCredential(o.SharedKey.Account, o.SharedKey.Key)
		if err != nil {
			// The SDK's error would quote nothing secret, but say plainly
			// what is wrong rather than pass it on.
			return nil, vigil.Errorf(vigil.EINVALID, "queue %s: shared key of account %s is not base64", o.Queue, o.SharedKey.Account)
		}
		if svc, err = azqueue.NewServiceClientWithSharedKeyCredential(svcURL, cred, opts); err != nil {
			return nil, fmt.Errorf("queue service client %s: %w", svcURL, err)
		}
	case o.Credential != nil:
		// A bearer token over plain http is only for an emulator on this
		// machine; sqServiceURL refused http to any other host.
		opts.InsecureAllowCredentialWithHTTP = loopback
		if svc, err = azqueue.NewServiceClient(svcURL, o.Credential, opts); err != nil {
			return nil, fmt.Errorf("queue service client %s: %w", svcURL, err)
		}
	default:
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: a credential or a shared key is required", o.Queue)
	}
	q.queue, q.poison = svc.NewQueueClient(o.Queue), svc.NewQueueClient(poison)
	return q, nil
}

// sqServiceURL validates a queue service URL and reports whether its host
// is a loopback address. Errors quote the URL without its query, where a
// SAS token would be.
func sqServiceURL(raw string) (clean string, loopback bool, err error) {
	want := "(want https://ACCOUNT.queue.core.windows.net, or http://127.0.0.1:PORT/ACCOUNT for Azurite)"
	if raw == "" {
		return "", false, vigil.Errorf(vigil.EINVALID, "queue service URL is required %s", want)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, vigil.Errorf(vigil.EINVALID, "queue service URL is not a URL %s", want)
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	bad := func(why string) error {
		return vigil.Errorf(vigil.EINVALID, "queue service URL %s: %s %s", shown, why, want)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", false, bad("scheme must be https")
	case u.Host == "":
		return "", false, bad("no host")
	case u.User != nil:
		return "", false, bad("no user info allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return "", false, bad("no query allowed (a SAS token is not supported; use a credential)")
	case u.Fragment != "":
		return "", false, bad("no fragment allowed")
	}
	path := strings.Trim(u.Path, "/")
	if strings.Contains(path, "/") {
		return "", false, bad("path must be empty or the account name")
	}
	loopback = localsrv.IsLoopback(u.Hostname())
	if u.Scheme == "http" && !loopback {
		return "", false, bad("plain http is allowed only to a loopback host")
	}
	return shown, loopback, nil
}

// sqName validates a queue name.
func sqName(what, name string) error {
	if len(name) < 3 || len(name) > 63 || !sqNameRe.MatchString(name) {
		return vigil.Errorf(vigil.EINVALID,
			"%s name %q is not 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit", what, name)
	}
	return nil
}

// Queue returns the queue's name.
func (q *EventQueue) Queue() string { return q.name }

// PoisonQueue returns the poison queue's name.
func (q *EventQueue) PoisonQueue() string { return q.poisonName }

// Check peeks at the queue, so that a queue that does not exist or that
// the credential may not read fails at start, with a classified error,
// rather than on every Receive. Peeking changes nothing.
func (q *EventQueue) Check(ctx context.Context) error {
	if _, err := q.queue.PeekMessage(ctx, nil); err != nil {
		return q.fail(ctx, "peek at queue "+q.name, err)
	}
	return nil
}

// Receive returns the next messages, hiding them from other receivers for
// the visibility timeout. Storage Queues answer at once, so Receive polls
// an empty queue, backing off from 100 ms to the poll interval, until a
// message arrives or the wait time has passed (then it returns none). A
// cancelled ctx ends it at once with ctx.Err().
func (q *EventQueue) Receive(ctx context.Context) ([]QueueMessage, error) {
	deadline := time.Now().Add(q.wait)
	pause := min(sqFirstRetry, q.poll)
	for {
		resp, err := q.queue.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{
			NumberOfMessages: &q.max, VisibilityTimeout: &q.visibility})
		if err != nil {
			return nil, q.fail(ctx, "receive from queue "+q.name, err)
		}
		if len(resp.Messages) > 0 {
			out := make([]QueueMessage, 0, len(resp.Messages))
			for _, m := range resp.Messages {
				if m == nil || m.MessageID == nil || m.PopReceipt == nil {
					continue
				}
				msg := QueueMessage{ID: *m.MessageID, PopReceipt: *m.PopReceipt}
				if m.MessageText != nil {
					msg.Body = *m.MessageText
				}
				if m.DequeueCount != nil {
					msg.Received = int(*m.DequeueCount)
				}
				if m.InsertionTime != nil {
					msg.InsertedAt = m.InsertionTime.UTC()
				}
				out = append(out, msg)
			}
			return out, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, q.poll)
	}
}

// Delete acknowledges a message: it is gone from the queue. A receipt
// that no longer holds (the visibility timeout passed and the message was
// received again, or it was released) fails with ENOTFOUND.
func (q *EventQueue) Delete(ctx context.Context, m QueueMessage) error {
	if _, err := q.queue.DeleteMessage(ctx, m.ID, m.PopReceipt, nil); err != nil {
		return q.fail(ctx, "delete message "+m.ID+" from queue "+q.name, err)
	}
	return nil
}

// Release makes a message visible again at once, for a transient failure:
// it is received again on the next poll, with Received one higher. A
// message no longer in flight under this receipt (its visibility expired
// already) is visible already or was taken by another receiver, so that is
// no error.
func (q *EventQueue) Release(ctx context.Context, m QueueMessage) error {
	zero := int32(0)
	// Update Message rewrites the text: send it back unchanged.
	_, err := q.queue.UpdateMessage(ctx, m.ID, m.PopReceipt, m.Body, &azqueue.UpdateMessageOptions{VisibilityTimeout: &zero})
	if err != nil && !sqHasCode(err, "MessageNotFound", "PopReceiptMismatch") {
		return q.fail(ctx, "release message "+m.ID+" on queue "+q.name, err)
	}
	return nil
}

// PoisonRecord is what MoveAside puts on the poison queue: the message as
// received, and why it was taken off the queue. Storage Queue messages
// have no attributes, so the record is JSON text.
type PoisonRecord struct {
	Reason     string    `json:"reason"`
	Queue      string    `json:"queue"`
	MessageID  string    `json:"messageId"`
	Received   int       `json:"dequeueCount"`
	InsertedAt time.Time `json:"insertedAt,omitzero"`
	MovedAt    time.Time `json:"movedAt"`
	// Body is the original message text; Truncated says it was cut to fit
	// the 64 KiB message limit.
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

// MoveAside takes a poison message (one that can never be handled, such as
// a malformed event) off the queue: it puts a PoisonRecord on the poison
// queue, without expiry, then deletes the message. If that put fails (the
// poison queue does not exist, the credential may not add to it), the
// message stays and returns after its visibility timeout.
func (q *EventQueue) MoveAside(ctx context.Context, m QueueMessage, reason string) error {
	if reason == "" {
		reason = "no reason given"
	}
	rec := PoisonRecord{Reason: sqTruncate(reason, 1024), Queue: q.name, MessageID: m.ID, Received: m.Received,
		InsertedAt: m.InsertedAt, MovedAt: q.now().UTC(), Body: m.Body}
	text, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode poison record of message %s: %w", m.ID, err)
	}
	if over := len(text) - sqMaxMessageBytes; over > 0 {
		// JSON escapes can grow the body; the record's other fields fit in
		// far less than the limit.
		rec.Body, rec.Truncated = sqTruncate(rec.Body, max(len(rec.Body)-over-64, 0)), true
		if text, err = json.Marshal(rec); err != nil {
			return fmt.Errorf("encode poison record of message %s: %w", m.ID, err)
		}
	}
	forever := int32(-1) // kept until someone looks at it
	if _, err := q.poison.EnqueueMessage(ctx, string(text), &azqueue.EnqueueMessageOptions{TimeToLive: &forever}); err != nil {
		return q.fail(ctx, "move message "+m.ID+" to poison queue "+q.poisonName, err)
	}
	if err := q.Delete(ctx, m); err != nil {
		return fmt.Errorf("message %s copied to poison queue %s but not deleted (it will be seen again): %w", m.ID, q.poisonName, err)
	}
	return nil
}

// fail wraps a Storage Queue error with a Vigil code and a message naming
// the call. The SDK's own error text (the whole request and response) is
// not kept: the service's error code and status say what went wrong.
func (q *EventQueue) fail(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return &vigil.Error{Code: vigil.EUNAVAILABLE, Message: what + " at " + q.service, Err: errors.New(sqTruncate(err.Error(), 512))}
	}
	code := vigil.EINTERNAL
	switch {
	case re.ErrorCode == "QueueNotFound":
		code = vigil.ENOTFOUND
		what += " (no such queue in " + q.service + ")"
	case re.ErrorCode == "MessageNotFound" || re.ErrorCode == "PopReceiptMismatch":
		code = vigil.ENOTFOUND
		what += " (no longer received under this pop receipt)"
	case re.ErrorCode == "AuthenticationFailed" || re.StatusCode == http.StatusUnauthorized:
		code = vigil.EUNAUTHORIZED
	case re.StatusCode == http.StatusForbidden:
		code = vigil.EFORBIDDEN
	case re.StatusCode == http.StatusTooManyRequests || re.ErrorCode == "ServerBusy":
		code = vigil.ETHROTTLED
	case re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusRequestEntityTooLarge:
		code = vigil.EINVALID
	case re.StatusCode >= 500:
		code = vigil.EUNAVAILABLE
	}
	detail := re.ErrorCode
	if detail == "" {
		detail = http.StatusText(re.StatusCode)
	}
	return &vigil.Error{Code: code, Message: what, Err: fmt.Errorf("%s (HTTP %d)", detail, re.StatusCode)}
}

// sqHasCode reports whether err is a Storage error with one of the codes.
func sqHasCode(err error, codes ...string) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, c := range codes {
		if re.ErrorCode == c {
			return true
		}
	}
	return false
}

// sqTruncate shortens s to at most n bytes without splitting a character.
func sqTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
