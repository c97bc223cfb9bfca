package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/smtp"
)

// Secrets of the test channels; no error or printed Config may hold them.
const (
	slackPath   = "/services/T0001/B0002/sl4ckT0kenXYZ"
	teamsPath   = "/workflows/0f1e2d3c/triggers/manual/paths/invoke"
	teamsQuery  = "api-version=2016-06-01&sig=t3amsS1gnatureQQ"
	hookSecret  = "h00k-secret-0123456789"
	routingKey  = "R0UT1NGKEY0123456789abcdefabcdef"
	hookHeader  = "Bearer gw-t0ken-abc"
	userAgent   = "vigil/1.2.3"
	fixedUnix   = 1772600767 // at + 1h
	webhookPath = "/hooks/vigil"
)

var now = func() time.Time { return time.Unix(fixedUnix, 0) }

// request is what a receiver got.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

// receiver is a real HTTP server that records requests and answers each
// with the next reply (the last one repeats).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	replies []reply
}

type reply struct {
	status int
	body   string
	header map[string]string
	delay  time.Duration
}

func newReceiver(t *testing.T, replies ...reply) *receiver {
	t.Helper()
	r := &receiver{replies: replies}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
		rep := r.replies[min(len(r.got)-1, len(r.replies)-1)]
		r.mu.Unlock()
		if rep.delay > 0 {
			select {
			case <-time.After(rep.delay):
			case <-req.Context().Done():
				return
			}
		}
		for k, v := range rep.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// channelCase is one HTTP channel type: its config against a receiver,
// where the request must go, and its accepting reply.
type channelCase struct {
	typ       string
	path      string
	query     string
	ok        reply
	config    func(base string) Config
	payload   func(vigil.Alert) ([]byte, error)
	extraHead map[string]string
}

var httpChannels = []channelCase{
	{typ: TypeSlack, path: slackPath, ok: reply{status: 200, body: "ok"},
		config:  func(base string) Config { return Config{Name: "sec", Type: TypeSlack, URL: base + slackPath} },
		payload: SlackPayload},
	{typ: TypeTeams, path: teamsPath, query: teamsQuery, ok: reply{status: 202},
		config: func(base string) Config {
			return Config{Name: "sec", Type: TypeTeams, URL: base + teamsPath + "?" + teamsQuery}
		},
		payload: TeamsPayload},
	{typ: TypeWebhook, path: webhookPath, ok: reply{status: 204},
		config: func(base string) Config {
			return Config{Name: "sec", Type: TypeWebhook, URL: base + webhookPath, Secret: hookSecret,
				Headers: map[string]string{"Authorization": hookHeader}}
		},
		payload:   func(a vigil.Alert) ([]byte, error) { return WebhookPayload("sec", a) },
		extraHead: map[string]string{"Authorization": hookHeader, "Idempotency-Key": "", "X-Vigil-Timestamp": "1772600767"}},
	{typ: TypePagerDuty, path: "/v2/enqueue", ok: reply{status: 202, body: `{"status":"success","message":"Event processed","dedup_key":"k"}`},
		config: func(base string) Config {
			return Config{Name: "sec", Type: TypePagerDuty, URL: base + "/v2/enqueue", RoutingKey: routingKey}
		},
		payload: func(a vigil.Alert) ([]byte, error) { return PagerDutyPayload(routingKey, a) }},
}

func newChannel(t *testing.T, c Config) Channel {
	t.Helper()
	ch, err := New(c, Options{Now: now, UserAgent: userAgent, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New(%s): %v", c, err)
	}
	return ch
}

// TestGolden renders every fixture alert for every channel and compares
// with testdata/<type>/<alert>; -update rewrites them.
func TestGolden(t *testing.T) {
	for _, cc := range httpChannels {
		for _, a := range alerts {
			t.Run(cc.typ+"/"+a.name, func(t *testing.T) {
				body, err := cc.payload(a.alert)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, cc.typ+"/"+a.name+".json", indent(t, body))
			})
		}
	}
	for _, a := range alerts {
		t.Run("email/"+a.name, func(t *testing.T) {
			golden(t, "email/"+a.name+".txt", []byte("Subject: "+smtp.AlertSubject(a.alert)+"\n\n"+smtp.AlertBody(a.alert)))
		})
	}
}

// TestSend delivers every fixture alert to a real HTTP receiver per
// channel type and asserts the request: method, path, query, headers and
// body (the golden file); the webhook's signature verifies.
func TestSend(t *testing.T) {
	for _, cc := range httpChannels {
		t.Run(cc.typ, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, cc.ok)
			ch := newChannel(t, cc.config(rcv.URL))
			if ch.Name() != "sec" || ch.Type() != cc.typ {
				t.Errorf("Name %q Type %q", ch.Name(), ch.Type())
			}
			for _, a := range alerts {
				if err := ch.Send(t.Context(), a.alert); err != nil {
					t.Fatalf("Send %s: %v", a.name, err)
				}
			}
			got := rcv.requests()
			if len(got) != len(alerts) {
				t.Fatalf("%d requests, want %d", len(got), len(alerts))
			}
			for i, r := range got {
				a := alerts[i]
				if r.Method != http.MethodPost || r.Path != cc.path || r.Query != cc.query {
					t.Errorf("%s: %s %s?%s, want POST %s?%s", a.name, r.Method, r.Path, r.Query, cc.path, cc.query)
				}
				want := map[string]string{"Content-Type": "application/json", "User-Agent": userAgent}
				for k, v := range cc.extraHead {
					want[k] = v
				}
				if _, ok := want["Idempotency-Key"]; ok {
					want["Idempotency-Key"] = a.alert.Key
				}
				for k, v := range want {
					if g := r.Header.Get(k); g != v {
						t.Errorf("%s: header %s %q, want %q", a.name, k, g, v)
					}
				}
				golden(t, cc.typ+"/"+a.name+".json", indent(t, r.Body))
				if cc.typ == TypeWebhook {
					err := VerifySignature([]byte(hookSecret), r.Header.Get("X-Vigil-Timestamp"), r.Header.Get("X-Vigil-Signature"), r.Body, now(), time.Minute)
					if err != nil {
						t.Errorf("%s: %v", a.name, err)
					}
				} else if r.Header.Get("X-Vigil-Signature") != "" || r.Header.Get("Authorization") != "" {
					t.Errorf("%s: webhook headers sent to %s", a.name, cc.typ)
				}
			}
		})
	}
}

// TestRetryAfterServerError: a receiver answering 500 then accepting makes
// Send fail (transient) then succeed, with the same body both times.
func TestRetryAfterServerError(t *testing.T) {
	for _, cc := range httpChannels {
		t.Run(cc.typ, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, reply{status: 500, body: "upstream exploded"}, cc.ok)
			ch := newChannel(t, cc.config(rcv.URL))
			a := alerts[0].alert
			err := ch.Send(t.Context(), a)
			want := cc.typ + " sec: HTTP 500 Internal Server Error: upstream exploded"
			if err == nil || err.Error() != want || IsPermanent(err) || RetryAfter(err) != 0 {
				t.Fatalf("first Send: %v (permanent %v), want %q, transient", err, IsPermanent(err), want)
			}
			if err := ch.Send(t.Context(), a); err != nil {
				t.Fatalf("second Send: %v", err)
			}
			got := rcv.requests()
			if len(got) != 2 || string(got[0].Body) != string(got[1].Body) {
				t.Fatalf("%d requests, bodies equal %v", len(got), len(got) == 2 && string(got[0].Body) == string(got[1].Body))
			}
		})
	}
}

// TestRefusals: how each refusal is classified, what error it gives and
// how long it asks to wait.
func TestRefusals(t *testing.T) {
	date := now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	cases := []struct {
		name      string
		typ       string
		reply     reply
		want      string
		permanent bool
		wait      time.Duration
	}{
		{"slack invalid_payload", TypeSlack, reply{status: 400, body: "invalid_payload"}, "slack sec: HTTP 400 Bad Request: invalid_payload", true, 0},
		{"slack no_service", TypeSlack, reply{status: 404, body: "no_service"}, "slack sec: HTTP 404 Not Found: no_service", true, 0},
		{"slack channel archived", TypeSlack, reply{status: 410, body: "channel_is_archived"}, "slack sec: HTTP 410 Gone: channel_is_archived", true, 0},
		{"slack invalid_token in a 200", TypeSlack, reply{status: 200, body: "invalid_token"}, "slack sec: HTTP 200 OK: invalid_token", true, 0},
		{"slack rate limited", TypeSlack, reply{status: 429, body: "rate_limited", header: map[string]string{"Retry-After": "30"}},
			"slack sec: HTTP 429 Too Many Requests: rate_limited (retry after 30s)", false, 30 * time.Second},
		{"slack 503 with a date", TypeSlack, reply{status: 503, header: map[string]string{"Retry-After": date}},
			"slack sec: HTTP 503 Service Unavailable (retry after 1m30s)", false, 90 * time.Second},
		{"teams bad request", TypeTeams, reply{status: 400, body: `{"error":{"code":"InvalidRequestContent"}}`},
			`teams sec: HTTP 400 Bad Request: {"error":{"code":"InvalidRequestContent"}}`, true, 0},
		{"teams request timeout", TypeTeams, reply{status: 408}, "teams sec: HTTP 408 Request Timeout", false, 0},
		{"teams redirect is not followed", TypeTeams, reply{status: 302, header: map[string]string{"Location": "https://elsewhere.example/"}},
			"teams sec: HTTP 302 Found", false, 0},
		{"webhook unauthorized", TypeWebhook, reply{status: 401, body: "bad signature"}, "webhook sec: HTTP 401 Unauthorized: bad signature", true, 0},
		{"webhook bad gateway", TypeWebhook, reply{status: 502}, "webhook sec: HTTP 502 Bad Gateway", false, 0},
		{"pagerduty invalid event", TypePagerDuty, reply{status: 400, body: `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}`},
			`pagerduty sec: HTTP 400 Bad Request: {"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}`, true, 0},
		{"pagerduty throttled", TypePagerDuty, reply{status: 429}, "pagerduty sec: HTTP 429 Too Many Requests", false, 0},
		{"pagerduty echoes the key", TypePagerDuty, reply{status: 403, body: "routing key " + routingKey + " is disabled"},
			"pagerduty sec: HTTP 403 Forbidden: routing key [redacted] is disabled", true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tc.reply)
			var cc channelCase
			for _, c := range httpChannels {
				if c.typ == tc.typ {
					cc = c
				}
			}
			err := newChannel(t, cc.config(rcv.URL)).Send(t.Context(), alerts[1].alert)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if IsPermanent(err) != tc.permanent || RetryAfter(err) != tc.wait {
				t.Errorf("IsPermanent %v RetryAfter %s, want %v %s", IsPermanent(err), RetryAfter(err), tc.permanent, tc.wait)
			}
			var se *StatusError
			if !errors.As(err, &se) {
				t.Errorf("%T is not a *StatusError", err)
			}
		})
	}
}

// closedURL is a URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// TestUnreachable: a destination that refuses connections or does not
// answer in time gives a transient error that names the host but holds
// neither the URL's path nor its query (where the tokens are) nor any
// other secret.
func TestUnreachable(t *testing.T) {
	slow := newReceiver(t, reply{status: 200, body: "ok", delay: 5 * time.Second})
	for _, cc := range httpChannels {
		t.Run(cc.typ+"/refused", func(t *testing.T) {
			base := closedURL(t)
			err := newChannel(t, cc.config(base)).Send(t.Context(), alerts[0].alert)
			host := strings.TrimPrefix(base, "http://")
			want := fmt.Sprintf("%s sec: post %s/[redacted]: dial tcp %s: connect: connection refused", cc.typ, base, host)
			if err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
			checkTransientAndClean(t, err)
		})
		t.Run(cc.typ+"/timeout", func(t *testing.T) {
			c := cc.config(slow.URL)
			c.Timeout = 200 * time.Millisecond
			err := newChannel(t, c).Send(t.Context(), alerts[0].alert)
			want := fmt.Sprintf("%s sec: post %s/[redacted]: context deadline exceeded", cc.typ, slow.URL)
			if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("error %v, want %q wrapping context.DeadlineExceeded", err, want)
			}
			checkTransientAndClean(t, err)
		})
	}
}

func checkTransientAndClean(t *testing.T, err error) {
	t.Helper()
	if IsPermanent(err) {
		t.Errorf("permanent: %v", err)
	}
	for _, s := range []string{slackPath, "sl4ckT0ken", teamsPath, "t3amsS1gnature", hookSecret, routingKey, hookHeader, webhookPath} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error holds the secret %q: %v", s, err)
		}
	}
}

// TestConfigString: printing or logging a Config never shows a secret.
func TestConfigString(t *testing.T) {
	cases := []struct {
		c    Config
		want string
	}{
		{Config{Name: "slack-sec", Type: TypeSlack, URL: "https://hooks.slack.com" + slackPath, Timeout: 5 * time.Second},
			`slack channel "slack-sec" (url https://hooks.slack.com/[redacted], timeout 5s)`},
		{Config{Name: "teams", Type: TypeTeams, URL: "https://prod-01.westeurope.logic.azure.com" + teamsPath + "?" + teamsQuery},
			`teams channel "teams" (url https://prod-01.westeurope.logic.azure.com/[redacted])`},
		{Config{Name: "hook", Type: TypeWebhook, URL: "https://hooks.example.com/vigil?token=abc", Secret: hookSecret,
			Headers: map[string]string{"X-B": "2", "Authorization": hookHeader}},
			`webhook channel "hook" (url https://hooks.example.com/[redacted], secret set, headers Authorization, X-B (values hidden))`},
		{Config{Name: "pd", Type: TypePagerDuty, RoutingKey: routingKey}, `pagerduty channel "pd" (routing key set)`},
		{Config{Name: "ops-email", Type: TypeEmail, Email: &smtp.Config{Server: "smtp.example.com:587", Username: "vigil", Password: "hunter2-pw",
			From: "vigil@example.com", To: []string{"ops@example.com"}}},
			`email channel "ops-email" (smtp smtp.example.com:587 (starttls, user vigil, password set) from vigil@example.com to ops@example.com)`},
	}
	for _, tc := range cases {
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("channel", "cfg", tc.c)
		for _, got := range []string{fmt.Sprint(tc.c), fmt.Sprintf("%+v", tc.c), fmt.Sprintf("%#v", tc.c), tc.c.LogValue().String()} {
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		}
		for _, s := range []string{"sl4ckT0ken", "t3amsS1gnature", "token=abc", hookSecret, routingKey, hookHeader, "hunter2-pw"} {
			if strings.Contains(logged.String(), s) {
				t.Errorf("the log holds %q: %s", s, logged.String())
			}
		}
	}
}

// TestValidate: each bad configuration is EINVALID with a message naming
// the channel and the field, and never the secret URL.
func TestValidate(t *testing.T) {
	email := &smtp.Config{Server: "smtp.example.com:587", From: "vigil@example.com", To: []string{"ops@example.com"}}
	cases := []struct {
		name string
		c    Config
		want string
	}{
		{"no name", Config{Type: TypeSlack}, `channel of type "slack": no name`},
		{"no type", Config{Name: "x"}, `channel "x": type: missing: want email, slack, teams, webhook or pagerduty`},
		{"unknown type", Config{Name: "x", Type: "sms"}, `channel "x": type: "sms": want email, slack, teams, webhook or pagerduty`},
		{"slack without url", Config{Name: "s", Type: TypeSlack}, `channel "s": url_env: empty: want an https URL`},
		{"slack over http", Config{Name: "s", Type: TypeSlack, URL: "http://hooks.slack.com" + slackPath},
			`channel "s": url_env: http://hooks.slack.com… is not encrypted: want https`},
		{"slack not a url", Config{Name: "s", Type: TypeSlack, URL: "hooks.slack.com" + slackPath},
			`channel "s": url_env: not a URL such as https://host/path (value hidden: it may be a secret)`},
		{"teams ftp", Config{Name: "t", Type: TypeTeams, URL: "ftp://example.com/x"}, `channel "t": url_env: scheme "ftp": want https`},
		{"webhook without secret", Config{Name: "h", Type: TypeWebhook, URL: "https://example.com/h"},
			`channel "h": secret_env: the signing secret is 0 characters, want at least 16 (e.g. openssl rand -hex 32)`},
		{"webhook reserved header", Config{Name: "h", Type: TypeWebhook, URL: "https://example.com/h", Secret: hookSecret,
			Headers: map[string]string{"x-vigil-signature": "forged"}}, `channel "h": headers: X-Vigil-Signature is set by Vigil`},
		{"webhook header injection", Config{Name: "h", Type: TypeWebhook, URL: "https://example.com/h", Secret: hookSecret,
			Headers: map[string]string{"X-A": "1\r\nX-B: 2"}}, `channel "h": headers: the value of X-A holds a line break`},
		{"webhook bad header name", Config{Name: "h", Type: TypeWebhook, URL: "https://example.com/h", Secret: hookSecret,
			Headers: map[string]string{"X A": "1"}}, `channel "h": headers: "X A" is not a header name`},
		{"headers on slack", Config{Name: "s", Type: TypeSlack, URL: "https://hooks.slack.com/x", Headers: map[string]string{"A": "b"}},
			`channel "s": headers: only a webhook channel takes headers, not slack`},
		{"pagerduty without key", Config{Name: "pd", Type: TypePagerDuty},
			`channel "pd": routing_key_env: no routing key (the integration key of an Events API v2 integration)`},
		{"secret on pagerduty", Config{Name: "pd", Type: TypePagerDuty, RoutingKey: routingKey, Secret: hookSecret},
			`channel "pd": secret_env: only a webhook channel is signed, not pagerduty`},
		{"email without server", Config{Name: "e", Type: TypeEmail}, `channel "e": email: no server, from and to`},
		{"email bad from", Config{Name: "e", Type: TypeEmail, Email: &smtp.Config{Server: "smtp.example.com:587", From: "vigil", To: []string{"a@example.com"}}},
			`channel "e": email: smtp from "vigil": mail: missing '@' or angle-addr`},
		{"negative timeout", Config{Name: "e", Type: TypeEmail, Email: email, Timeout: -time.Second}, `channel "e": timeout: -1s is negative`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.c, Options{})
			if err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("error %v (%s), want %q (invalid)", err, vigil.ErrorCode(err), tc.want)
			}
			if strings.Contains(err.Error(), "sl4ckT0ken") || strings.Contains(err.Error(), hookSecret) {
				t.Errorf("the error holds a secret: %v", err)
			}
		})
	}
	for _, c := range []Config{
		{Name: "e", Type: TypeEmail, Email: email},
		{Name: "s", Type: TypeSlack, URL: "https://hooks.slack.com" + slackPath},
		{Name: "s", Type: TypeSlack, URL: "http://127.0.0.1:8080" + slackPath},
		{Name: "h", Type: TypeWebhook, URL: "http://alerts.internal:8080/vigil", Secret: hookSecret},
		{Name: "pd", Type: TypePagerDuty, RoutingKey: routingKey},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

// TestIsPermanent: SMTP replies and other errors.
func TestIsPermanent(t *testing.T) {
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{fmt.Errorf("smtp x: rcpt to a@b: %w", &textproto.Error{Code: 550, Msg: "mailbox unavailable"}), true},
		{fmt.Errorf("smtp x: %w", &textproto.Error{Code: 451, Msg: "try again later"}), false},
		{fmt.Errorf("smtp x: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), false},
		{context.DeadlineExceeded, false},
		{&StatusError{Status: 400, permanent: true}, true},
		{errors.New("anything else"), false},
	}
	for _, tc := range cases {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("IsPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
