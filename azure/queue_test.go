package azure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

// qTestKey is Azurite's well-known account key.
var qTestKey = &SharedKey{Account: testenv.AzuriteAccount, Key: testenv.AzuriteKey}

// qNames gives each subtest its own queues on the shared Azurite.
var qNames atomic.Int64

// qEnv is one Azurite for the queue tests, with a raw SDK client to seed
// queues and to see their contents.
type qEnv struct {
	az  *testenv.Azurite
	svc *azqueue.ServiceClient
}

func (e *qEnv) newQueues(t *testing.T, poison bool) string {
	t.Helper()
	name := fmt.Sprintf("vigil-events-%d", qNames.Add(1))
	names := []string{name}
	if poison {
		names = append(names, name+"-poison")
	}
	for _, n := range names {
		if _, err := e.svc.CreateQueue(context.Background(), n, nil); err != nil {
			t.Fatalf("create queue %s: %v", n, err)
		}
	}
	return name
}

func (e *qEnv) open(t *testing.T, o QueueOptions) *EventQueue {
	t.Helper()
	o.ServiceURL, o.SharedKey = e.az.QueueURL, qTestKey
	if o.PollInterval == 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.Wait == 0 {
		o.Wait = 2 * time.Second
	}
	q, err := NewEventQueue(o)
	if err != nil {
		t.Fatalf("NewEventQueue: %v", err)
	}
	return q
}

func (e *qEnv) send(t *testing.T, queue, text string) {
	t.Helper()
	if _, err := e.svc.NewQueueClient(queue).EnqueueMessage(context.Background(), text, nil); err != nil {
		t.Fatalf("enqueue on %s: %v", queue, err)
	}
}

// peek returns the visible messages of a queue, without receiving them.
func (e *qEnv) peek(t *testing.T, queue string) []*azqueue.PeekedMessage {
	t.Helper()
	n := int32(32)
	resp, err := e.svc.NewQueueClient(queue).PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		t.Fatalf("peek %s: %v", queue, err)
	}
	return resp.Messages
}

func receiveN(t *testing.T, q *EventQueue, n int) []QueueMessage {
	t.Helper()
	var got []QueueMessage
	for deadline := time.Now().Add(10 * time.Second); len(got) < n && time.Now().Before(deadline); {
		ms, err := q.Receive(context.Background())
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		got = append(got, ms...)
	}
	if len(got) != n {
		t.Fatalf("received %d messages, want %d", len(got), n)
	}
	return got
}

func TestEventQueueAzurite(t *testing.T) {
	az := testenv.StartAzurite(t)
	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &qEnv{az: az, svc: svc}

	t.Run("receive and delete Event Grid events", func(t *testing.T) {
		name := env.newQueues(t, true)
		raw := evFixture(t, "nsg_rule_write")
		// Event Grid base64-encodes what it writes; older deliveries and
		// other writers put the JSON as is. Both must decode.
		env.send(t, name, base64.StdEncoding.EncodeToString(evFixture(t, "storage_account_write")))
		env.send(t, name, string(raw))
		q := env.open(t, QueueOptions{Queue: name})
		if err := q.Check(context.Background()); err != nil {
			t.Fatalf("Check: %v", err)
		}
		got := receiveN(t, q, 2)
		ids := map[string]bool{}
		for _, m := range got {
			if m.Received != 1 || m.ID == "" || m.PopReceipt == "" || m.InsertedAt.IsZero() {
				t.Errorf("message %+v: want received 1, an id, a receipt and an insertion time", m)
			}
			e, err := ParseEvent([]byte(m.Body))
			if err != nil {
				t.Fatalf("ParseEvent of message %s: %v", m.ID, err)
			}
			ids[e.ID] = true
		}
		if want := map[string]bool{"4db48cba-50a2-455a-93b4-de41a3b5b7f6": true, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": true}; fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("event ids %v, want %v", ids, want)
		}
		// Received messages are hidden for the visibility timeout.
		if vis := env.peek(t, name); len(vis) != 0 {
			t.Fatalf("%d messages visible while in flight, want 0", len(vis))
		}
		for _, m := range got {
			if err := q.Delete(context.Background(), m); err != nil {
				t.Fatalf("Delete %s: %v", m.ID, err)
			}
		}
		// Deleted: a second delete finds nothing.
		err := q.Delete(context.Background(), got[0])
		if vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("second Delete: %v, want %s", err, vigil.ENOTFOUND)
		}
	})

	t.Run("release makes a message visible again", func(t *testing.T) {
		name := env.newQueues(t, true)
		body := base64.StdEncoding.EncodeToString(evFixture(t, "vm_write"))
		env.send(t, name, body)
		q := env.open(t, QueueOptions{Queue: name, Visibility: 10 * time.Minute, MaxMessages: 1})
		first := receiveN(t, q, 1)[0]
		if err := q.Release(context.Background(), first); err != nil {
			t.Fatalf("Release: %v", err)
		}
		start := time.Now()
		again := receiveN(t, q, 1)[0]
		// Without the release it would be hidden for 10 minutes.
		if time.Since(start) > 5*time.Second {
			t.Fatalf("released message took %s to come back", time.Since(start))
		}
		if again.ID != first.ID || again.Received != 2 || again.Body != body {
			t.Fatalf("received again %+v, want id %s, received 2 and the body unchanged", again, first.ID)
		}
		// The first receipt is void now: releasing it again is no error,
		// deleting with it is ENOTFOUND.
		if err := q.Release(context.Background(), first); err != nil {
			t.Fatalf("Release with a stale receipt: %v", err)
		}
		if err := q.Delete(context.Background(), first); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("Delete with a stale receipt: %v, want %s", err, vigil.ENOTFOUND)
		}
		if err := q.Delete(context.Background(), again); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	})

	t.Run("poison message moved aside with its reason", func(t *testing.T) {
		name := env.newQueues(t, true)
		body := string(evFixture(t, "malformed_no_resource_uri"))
		env.send(t, name, body)
		at := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
		q := env.open(t, QueueOptions{Queue: name, Now: func() time.Time { return at }})
		m := receiveN(t, q, 1)[0]
		_, perr := ParseEvent([]byte(m.Body))
		if perr == nil {
			t.Fatal("malformed fixture parsed")
		}
		reason := "malformed: " + perr.Error()
		if err := q.MoveAside(context.Background(), m, reason); err != nil {
			t.Fatalf("MoveAside: %v", err)
		}
		if err := q.Release(context.Background(), m); err != nil {
			t.Fatalf("Release after MoveAside: %v", err)
		}
		if vis := env.peek(t, name); len(vis) != 0 {
			t.Fatalf("%d messages left on the queue, want 0", len(vis))
		}
		poisoned := env.peek(t, name+"-poison")
		if len(poisoned) != 1 {
			t.Fatalf("%d messages on the poison queue, want 1", len(poisoned))
		}
		var rec PoisonRecord
		if err := json.Unmarshal([]byte(*poisoned[0].MessageText), &rec); err != nil {
			t.Fatalf("poison record: %v", err)
		}
		want := PoisonRecord{Reason: reason, Queue: name, MessageID: m.ID, Received: 1, InsertedAt: m.InsertedAt, MovedAt: at, Body: body}
		if rec != want {
			t.Fatalf("poison record\n got %+v\nwant %+v", rec, want)
		}
		if exp := *poisoned[0].ExpirationTime; exp.Before(time.Now().AddDate(1, 0, 0)) {
			t.Fatalf("poison record expires %s, want never", exp)
		}
	})

	t.Run("missing poison queue keeps the message", func(t *testing.T) {
		name := env.newQueues(t, false)
		env.send(t, name, "not an event")
		q := env.open(t, QueueOptions{Queue: name})
		m := receiveN(t, q, 1)[0]
		err := q.MoveAside(context.Background(), m, "malformed")
		if vigil.ErrorCode(err) != vigil.ENOTFOUND || !strings.Contains(err.Error(), name+"-poison") {
			t.Fatalf("MoveAside: %v, want %s naming the poison queue", err, vigil.ENOTFOUND)
		}
		if err := q.Release(context.Background(), m); err != nil {
			t.Fatalf("Release: %v", err)
		}
		vis := env.peek(t, name)
		if len(vis) != 1 || *vis[0].MessageID != m.ID || *vis[0].MessageText != "not an event" {
			t.Fatalf("queue holds %d messages, want the one not moved", len(vis))
		}
	})

	t.Run("empty queue returns none after the wait", func(t *testing.T) {
		name := env.newQueues(t, true)
		q := env.open(t, QueueOptions{Queue: name, Wait: 300 * time.Millisecond})
		start := time.Now()
		ms, err := q.Receive(context.Background())
		if err != nil || len(ms) != 0 {
			t.Fatalf("Receive = %v, %v; want none", ms, err)
		}
		if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
			t.Fatalf("Receive returned after %s, want about 300ms", d)
		}
	})

	t.Run("cancel ends a receive at once", func(t *testing.T) {
		name := env.newQueues(t, true)
		q := env.open(t, QueueOptions{Queue: name, Wait: time.Minute, PollInterval: 5 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err := q.Receive(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Receive after cancel: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Receive returned %s after start, want soon after the cancel at 300ms", d)
		}
	})

	t.Run("missing queue", func(t *testing.T) {
		q := env.open(t, QueueOptions{Queue: "no-such-queue"})
		err := q.Check(context.Background())
		if vigil.ErrorCode(err) != vigil.ENOTFOUND || !strings.Contains(err.Error(), "no-such-queue") {
			t.Fatalf("Check: %v, want %s naming the queue", err, vigil.ENOTFOUND)
		}
		if _, err := q.Receive(context.Background()); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("Receive: %v, want %s", err, vigil.ENOTFOUND)
		}
	})

	t.Run("wrong key", func(t *testing.T) {
		name := env.newQueues(t, true)
		q, err := NewEventQueue(QueueOptions{ServiceURL: az.QueueURL, Queue: name,
			SharedKey: &SharedKey{Account: testenv.AzuriteAccount, Key: base64.StdEncoding.EncodeToString([]byte("not the key"))}})
		if err != nil {
			t.Fatal(err)
		}
		err = q.Check(context.Background())
		// Azurite, like Azure, answers a bad signature with 403
		// AuthenticationFailed: the caller is not who it claims.
		if code := vigil.ErrorCode(err); code != vigil.EUNAUTHORIZED || !strings.Contains(err.Error(), "AuthenticationFailed (HTTP 403)") {
			t.Fatalf("Check with a wrong key: %v, want %s", err, vigil.EUNAUTHORIZED)
		}
		if strings.Contains(err.Error(), "bm90IHRoZSBrZXk") {
			t.Fatalf("error shows the key: %v", err)
		}
	})

	t.Run("unreachable service", func(t *testing.T) {
		q, err := NewEventQueue(QueueOptions{ServiceURL: "http://127.0.0.1:1/devstoreaccount1", Queue: "q-down", SharedKey: qTestKey,
			Transport: refusedTransport{}, Retry: policy.RetryOptions{MaxRetries: -1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Check(context.Background()); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
			t.Fatalf("Check: %v, want %s", err, vigil.EUNAVAILABLE)
		}
	})
}

// refusedTransport fails every request at once, as a refused connection.
type refusedTransport struct{}

func (refusedTransport) Do(*http.Request) (*http.Response, error) {
	return nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
}

// qCred is a token credential that is never asked for a token: the
// validation fails first.
type qCred struct{}

func (qCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("not used")
}

func TestEventQueueOptions(t *testing.T) {
	t.Parallel()
	ok := QueueOptions{ServiceURL: "https://stvigil.queue.core.windows.net", Queue: "vigil-events", Credential: qCred{}}
	with := func(f func(o *QueueOptions)) QueueOptions { o := ok; f(&o); return o }
	tests := []struct {
		name string
		o    QueueOptions
		want string // "" means valid
	}{
		{"valid", ok, ""},
		{"azurite shared key", QueueOptions{ServiceURL: "http://127.0.0.1:10001/devstoreaccount1", Queue: "q01", SharedKey: qTestKey}, ""},
		{"token over http to localhost", with(func(o *QueueOptions) { o.ServiceURL = "http://localhost:10001/devstoreaccount1" }), ""},
		{"no service URL", with(func(o *QueueOptions) { o.ServiceURL = "" }), "queue service URL is required"},
		{"ftp", with(func(o *QueueOptions) { o.ServiceURL = "ftp://stvigil.queue.core.windows.net" }), "scheme must be https"},
		{"http to a remote host", with(func(o *QueueOptions) { o.ServiceURL = "http://stvigil.queue.core.windows.net" }), "plain http is allowed only to a loopback host"},
		{"SAS token", with(func(o *QueueOptions) {
			o.ServiceURL = "https://stvigil.queue.core.windows.net/?sv=2022-11-02&sig=SECRET"
		}), "no query allowed"},
		{"path too deep", with(func(o *QueueOptions) { o.ServiceURL = "https://stvigil.queue.core.windows.net/a/b" }), "path must be empty or the account name"},
		{"no queue", with(func(o *QueueOptions) { o.Queue = "" }), `queue name ""`},
		{"upper-case queue", with(func(o *QueueOptions) { o.Queue = "Vigil-Events" }), `queue name "Vigil-Events"`},
		{"double hyphen", with(func(o *QueueOptions) { o.Queue = "vigil--events" }), `queue name "vigil--events"`},
		{"default poison name too long", with(func(o *QueueOptions) { o.Queue = strings.Repeat("q", 60) }), "poison queue name"},
		{"poison is the queue", with(func(o *QueueOptions) { o.PoisonQueue = "vigil-events" }), "is the queue itself"},
		{"visibility not whole seconds", with(func(o *QueueOptions) { o.Visibility = 1500 * time.Millisecond }), "visibility must be whole seconds"},
		{"visibility over 7 days", with(func(o *QueueOptions) { o.Visibility = 8 * 24 * time.Hour }), "visibility must be whole seconds"},
		{"max messages 33", with(func(o *QueueOptions) { o.MaxMessages = 33 }), "max messages must be from 1 to 32, got 33"},
		{"max messages negative", with(func(o *QueueOptions) { o.MaxMessages = -1 }), "max messages must be from 1 to 32, got -1"},
		{"poll interval too long", with(func(o *QueueOptions) { o.PollInterval = 2 * time.Minute }), "poll interval must be"},
		{"wait negative", with(func(o *QueueOptions) { o.Wait = -time.Second }), "wait must be"},
		{"both credentials", with(func(o *QueueOptions) { o.SharedKey = qTestKey }), "not both"},
		{"no credential", with(func(o *QueueOptions) { o.Credential = nil }), "a credential or a shared key is required"},
		{"key not base64", with(func(o *QueueOptions) { o.Credential, o.SharedKey = nil, &SharedKey{Account: "a", Key: "!!secret!!"} }), "shared key of account a is not base64"},
		{"key without account", with(func(o *QueueOptions) { o.Credential, o.SharedKey = nil, &SharedKey{Key: testenv.AzuriteKey} }), "needs an account name and a key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := NewEventQueue(tt.o)
			if tt.want == "" {
				if err != nil || q == nil {
					t.Fatalf("NewEventQueue: %v", err)
				}
				return
			}
			if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewEventQueue error = %v, want %s containing %q", err, vigil.EINVALID, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "!!secret!!") {
				t.Fatalf("error shows a secret: %v", err)
			}
		})
	}
	q, err := NewEventQueue(ok)
	if err != nil {
		t.Fatal(err)
	}
	if q.PoisonQueue() != "vigil-events-poison" || q.Queue() != "vigil-events" || q.max != 16 || q.visibility != 60 || q.poll != 5*time.Second || q.wait != 20*time.Second {
		t.Fatalf("defaults: poison %s max %d visibility %d poll %s wait %s", q.PoisonQueue(), q.max, q.visibility, q.poll, q.wait)
	}
}
