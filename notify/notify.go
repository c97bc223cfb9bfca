// Package notify delivers vigil.Alerts to channels: email (through smtp),
// Slack, Microsoft Teams, a generic HMAC-signed webhook and PagerDuty.
//
// A Channel's Send makes one delivery attempt. Retrying is the caller's
// job (a River job retried with backoff): Send returns nil when the
// destination accepted the alert, and an error otherwise; IsPermanent says
// whether a retry can succeed and RetryAfter how long the destination asked
// to wait. Every alert carries an idempotency key that each channel passes
// on in the destination's own terms (Idempotency-Key header, PagerDuty
// dedup_key, email Message-ID), so a retry after a lost reply is
// recognisable as a duplicate.
//
// Destination URLs, routing keys and secrets are credentials: they never
// appear in an error, a log line or a printed Config.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/localsrv"
	"github.com/vigilsec/vigil/notify/alerttext"
	"github.com/vigilsec/vigil/smtp"
)

// Channel types.
const (
	TypeEmail     = "email"
	TypeSlack     = "slack"
	TypeTeams     = "teams"
	TypeWebhook   = "webhook"
	TypePagerDuty = "pagerduty"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// DefaultTimeout bounds one delivery attempt when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Channel delivers alerts to one destination.
type Channel interface {
	// Name is the configured channel name.
	Name() string
	// Type is "email", "slack", "teams", "webhook" or "pagerduty".
	Type() string
	// Send makes one delivery attempt: nil means the destination accepted
	// the alert; an error means retry later unless IsPermanent(err).
	Send(ctx context.Context, a vigil.Alert) error
}

// Config is one channel as configured. Secrets (webhook URLs, the HMAC
// secret, the routing key, the SMTP password) come from environment
// variables the configuration names; Config holds the resolved values and
// String and LogValue redact them.
type Config struct {
	Name string
	Type string
	// URL is the destination: a Slack or Teams webhook URL (a secret), a
	// generic webhook's URL, or PagerDuty's endpoint (empty: the public
	// one).
	URL string
	// Secret is the generic webhook's HMAC-SHA256 key.
	Secret string
	// RoutingKey is the PagerDuty integration key.
	RoutingKey string
	// Email configures an email channel.
	Email *smtp.Config
	// Timeout bounds one delivery attempt (zero: DefaultTimeout).
	Timeout time.Duration
	// Headers are extra HTTP headers of a generic webhook, such as an
	// authorization the receiver's gateway needs.
	Headers map[string]string
}

// String describes the channel with every secret redacted, so that
// printing or logging a Config never leaks one.
func (c Config) String() string {
	var parts []string
	if c.URL != "" {
		parts = append(parts, "url "+redactURL(c.URL))
	}
	if c.Secret != "" {
		parts = append(parts, "secret set")
	}
	if c.RoutingKey != "" {
		parts = append(parts, "routing key set")
	}
	if c.Email != nil {
		parts = append(parts, c.Email.String())
	}
	if len(c.Headers) > 0 {
		names := make([]string, 0, len(c.Headers))
		for k := range c.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		parts = append(parts, "headers "+strings.Join(names, ", ")+" (values hidden)")
	}
	if c.Timeout != 0 {
		parts = append(parts, "timeout "+c.Timeout.String())
	}
	s := c.Type + " channel " + strconv.Quote(c.Name)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps secrets out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// Validate checks the configuration without contacting anything; the
// error is EINVALID and names the channel and the field.
func (c Config) Validate() error {
	_, err := c.validate()
	return err
}

// validate also returns the parsed URL of an HTTP channel.
func (c Config) validate() (*url.URL, error) {
	bad := func(field, format string, args ...any) error {
		return vigil.Errorf(vigil.EINVALID, "channel %q: %s: %s", c.Name, field, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(c.Name) == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "channel of type %q: no name", c.Type)
	}
	if c.Timeout < 0 {
		return nil, bad("timeout", "%s is negative", c.Timeout)
	}
	if len(c.Headers) > 0 && c.Type != TypeWebhook {
		return nil, bad("headers", "only a webhook channel takes headers, not %s", c.Type)
	}
	if c.Email != nil && c.Type != TypeEmail {
		return nil, bad("email", "only an email channel takes an email server, not %s", c.Type)
	}
	if c.Secret != "" && c.Type != TypeWebhook {
		return nil, bad("secret_env", "only a webhook channel is signed, not %s", c.Type)
	}
	if c.RoutingKey != "" && c.Type != TypePagerDuty {
		return nil, bad("routing_key_env", "only a pagerduty channel takes a routing key, not %s", c.Type)
	}
	switch c.Type {
	case TypeEmail:
		if c.URL != "" {
			return nil, bad("url", "an email channel has no url")
		}
		if c.Email == nil {
			return nil, bad("email", "no server, from and to")
		}
		return nil, nil
	case TypeSlack, TypeTeams:
		u, err := parseURL(c.URL, false)
		if err != nil {
			return nil, bad("url_env", "%v", err)
		}
		return u, nil
	case TypeWebhook:
		u, err := parseURL(c.URL, true)
		if err != nil {
			return nil, bad("url", "%v", err)
		}
		if len(c.Secret) < 16 {
			return nil, bad("secret_env", "the signing secret is %d characters, want at least 16 (e.g. openssl rand -hex 32)", len(c.Secret))
		}
		for k, v := range c.Headers {
			if err := checkHeader(k, v); err != nil {
				return nil, bad("headers", "%v", err)
			}
		}
		return u, nil
	case TypePagerDuty:
		raw := c.URL
		if raw == "" {
			raw = DefaultPagerDutyURL
		}
		u, err := parseURL(raw, false)
		if err != nil {
			return nil, bad("url", "%v", err)
		}
		if c.RoutingKey == "" || strings.ContainsAny(c.RoutingKey, " \t\r\n") {
			return nil, bad("routing_key_env", "no routing key (the integration key of an Events API v2 integration)")
		}
		return u, nil
	case "":
		return nil, bad("type", "missing: want email, slack, teams, webhook or pagerduty")
	default:
		return nil, bad("type", "%q: want email, slack, teams, webhook or pagerduty", c.Type)
	}
}

// parseURL accepts https URLs, and http ones to a loopback address (a
// local test receiver) or, when plainOK, anywhere. Its errors never hold
// the URL: it may be a secret.
func parseURL(raw string, plainOK bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("empty: want an https URL")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, errors.New("not a URL such as https://host/path (value hidden: it may be a secret)")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !plainOK && !localsrv.IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("http://%s… is not encrypted: want https", u.Host)
		}
	default:
		return nil, fmt.Errorf("scheme %q: want https", u.Scheme)
	}
	return u, nil
}

// reservedHeaders are the webhook headers Vigil sets itself: a configured
// header may not replace them.
var reservedHeaders = map[string]bool{
	"Content-Type": true, "Content-Length": true, "Host": true, "User-Agent": true,
	"Idempotency-Key": true, "X-Vigil-Timestamp": true, "X-Vigil-Signature": true,
}

func checkHeader(k, v string) error {
	if k == "" || strings.IndexFunc(k, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) >= 0 {
		return fmt.Errorf("%q is not a header name", k)
	}
	if reservedHeaders[textproto.CanonicalMIMEHeaderKey(k)] {
		return fmt.Errorf("%s is set by Vigil", textproto.CanonicalMIMEHeaderKey(k))
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("the value of %s holds a line break", k)
	}
	return nil
}

// Options are what every channel shares.
type Options struct {
	// HTTPClient sends the HTTP channels' requests (nil: a client that
	// does not follow redirects, so a signed body never goes elsewhere).
	HTTPClient *http.Client
	// Now is the clock for the webhook's signature timestamp (nil:
	// time.Now).
	Now func() time.Time
	// Logger records deliveries at debug level, secrets redacted (nil:
	// discard).
	Logger *slog.Logger
	// UserAgent is sent by the HTTP channels (empty: "vigil").
	UserAgent string
}

// New validates c and returns its channel. It connects to nothing: a
// destination that is down fails the first Send, not startup.
func New(c Config, opts Options) (Channel, error) {
	u, err := c.validate()
	if err != nil {
		return nil, err
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "vigil"
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	h := &poster{cfg: c, url: u, opts: opts}
	switch c.Type {
	case TypeSlack:
		return &Slack{h}, nil
	case TypeTeams:
		return &Teams{h}, nil
	case TypeWebhook:
		return &Webhook{h}, nil
	case TypePagerDuty:
		return &PagerDuty{h}, nil
	default: // TypeEmail: validate accepts no other type
		ec := *c.Email
		if ec.Timeout == 0 {
			ec.Timeout = c.Timeout
		}
		if ec.Now == nil {
			ec.Now = opts.Now
		}
		n, err := smtp.New(ec)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "channel %q: email: %v", c.Name, err)
		}
		return &Email{name: c.Name, n: n}, nil
	}
}

// IsPermanent reports whether retrying err cannot succeed: an HTTP 4xx
// other than 408 and 429, a Slack error body such as invalid_token, an
// SMTP 5xx reply, or a configuration the destination refuses. 5xx, 429,
// SMTP 4xx replies, timeouts and network errors are transient.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) {
		return p.Permanent()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500 && te.Code < 600
	}
	return false
}

// RetryAfter is how long the destination asked to wait before the next
// attempt (an HTTP 429 or 503 with Retry-After), or 0.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// StatusError is a destination's refusal: its HTTP status and what it
// said.
type StatusError struct {
	// Channel is "slack sec-alerts", the type and name.
	Channel string
	Status  int
	// Body is the start of the response, secrets removed.
	Body string
	// RetryAfter is the wait the destination asked for (0: none).
	RetryAfter time.Duration
	permanent  bool
}

// Error says who refused and why.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("%s: HTTP %d %s", e.Channel, e.Status, http.StatusText(e.Status))
	if e.Body != "" {
		s += ": " + e.Body
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Permanent reports whether a retry cannot succeed.
func (e *StatusError) Permanent() bool { return e.permanent }

// permanentStatus: the request itself is wrong (or the destination gone);
// 408 and 429 are the server asking to come back later.
func permanentStatus(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// poster is what the HTTP channels share: the configuration and one POST.
type poster struct {
	cfg  Config
	url  *url.URL
	opts Options
}

// Name is the configured channel name.
func (p *poster) Name() string { return p.cfg.Name }

// Type is the channel type.
func (p *poster) Type() string { return p.cfg.Type }

func (p *poster) label() string { return p.cfg.Type + " " + p.cfg.Name }

// post sends body and returns the response's status and its first bytes.
// Any error it returns is scrubbed of the URL and the secrets.
func (p *poster) post(ctx context.Context, body []byte, header http.Header) (int, string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url.String(), bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, p.scrub(fmt.Errorf("%s: build request: %w", p.label(), err))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.opts.UserAgent)
	start := time.Now()
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL
		}
		return 0, "", 0, p.scrub(fmt.Errorf("%s: post %s: %w", p.label(), redactURL(p.cfg.URL), err))
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	text := p.scrubText(alerttext.Truncate(alerttext.OneLine(string(b)), 300))
	p.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "notify", slog.String("channel", p.cfg.Name), slog.String("type", p.cfg.Type),
		slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
	return resp.StatusCode, text, retryAfter(resp.Header.Get("Retry-After"), p.opts.Now()), nil
}

// marshal encodes v as compact JSON without HTML escaping: no receiver
// renders it as HTML, and "<" stays readable in payloads and golden files.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// refused is the error for a response outside 2xx.
func (p *poster) refused(status int, body string, wait time.Duration) *StatusError {
	return &StatusError{Channel: p.label(), Status: status, Body: body, RetryAfter: wait, permanent: permanentStatus(status)}
}

// secrets are the strings no error may hold: the URL, its path and query
// (where Slack and Teams keep their tokens), the HMAC secret, the routing
// key.
func (p *poster) secrets() []string {
	var s []string
	add := func(v string) {
		if len(v) > 3 {
			s = append(s, v)
		}
	}
	add(p.cfg.URL)
	add(p.cfg.Secret)
	add(p.cfg.RoutingKey)
	for _, v := range p.cfg.Headers {
		add(v)
	}
	if p.url != nil {
		add(p.url.EscapedPath())
		add(p.url.Path)
		add(p.url.RawQuery)
		for _, vs := range p.url.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	sort.Slice(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

func (p *poster) scrubText(t string) string {
	for _, s := range p.secrets() {
		t = strings.ReplaceAll(t, s, "[redacted]")
	}
	return t
}

// scrub wraps err with a message free of secrets; errors.Is and As still
// see the original chain (a timeout stays a timeout).
func (p *poster) scrub(err error) error {
	return &scrubbed{msg: p.scrubText(err.Error()), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// redactURL shows only a URL's scheme and host: the path and query of a
// webhook URL are its credential.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted]"
	}
	if u.Path == "" && u.RawQuery == "" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/[redacted]"
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}
