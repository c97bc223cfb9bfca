// Package smtp sends Vigil's fix notifications and alerts by email. It is
// named after its dependency, the standard library's net/smtp, and
// implements fix.Notifier: one message per applied fix, and one per guard
// alert; SendAlert emails a vigil.Alert for the notify package's email
// channel.
//
// The connection is always encrypted unless TLS is "none": "starttls"
// (port 587) upgrades the connection and fails when the server does not
// offer STARTTLS — it never falls back to plain text — and "tls" (port 465)
// speaks TLS from the first byte. Authentication is SMTP PLAIN, which
// net/smtp refuses to send over an unencrypted connection except to
// localhost. The password is never logged and never part of an error.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	netsmtp "net/smtp"
	"net/textproto"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/notify/alerttext"
)

// TLS modes.
const (
	StartTLS = "starttls"
	TLS      = "tls"
	NoTLS    = "none"
)

// Config says where and how to send.
type Config struct {
	// Server is host:port, e.g. smtp.example.com:587.
	Server string
	// TLS is StartTLS (the default when empty), TLS or NoTLS.
	TLS string
	// Username and Password authenticate with PLAIN; both empty sends
	// without authentication.
	Username string
	Password string
	// From is the sender address; To the recipients (at least one).
	From string
	To   []string
	// RootCAs verifies the server's certificate (nil: the system pool);
	// set it for a private CA.
	RootCAs *x509.CertPool
	// Undoable says whether an action can be undone, to offer the undo
	// command in the message only when it works (nil: always offered).
	Undoable func(actionID string) bool
	// Timeout bounds one delivery, connection to QUIT (default 30s).
	Timeout time.Duration
	// Now is the clock for the Date header (default time.Now).
	Now func() time.Time
}

// String describes the configuration without its password, so that
// printing or logging a Config never leaks it.
func (c Config) String() string {
	auth := "no auth"
	if c.Username != "" {
		auth = "user " + c.Username + ", password set"
		if c.Password == "" {
			auth = "user " + c.Username + ", no password"
		}
	}
	return fmt.Sprintf("smtp %s (%s, %s) from %s to %s", c.Server, c.mode(), auth, c.From, strings.Join(c.To, ", "))
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the password out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

func (c Config) mode() string {
	if c.TLS == "" {
		return StartTLS
	}
	return c.TLS
}

// Notifier emails fix outcomes and alerts.
type Notifier struct {
	cfg  Config
	host string
	from *mail.Address
	to   []*mail.Address
}

var _ fix.Notifier = (*Notifier)(nil)

// New validates the configuration and returns a Notifier. It does not
// connect: a server that is down fails the first delivery, not startup.
func New(cfg Config) (*Notifier, error) {
	host, port, err := net.SplitHostPort(cfg.Server)
	if err != nil || host == "" || port == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "smtp server %q: want host:port, e.g. smtp.example.com:587", cfg.Server)
	}
	switch cfg.mode() {
	case StartTLS, TLS, NoTLS:
	default:
		return nil, vigil.Errorf(vigil.EINVALID, "smtp tls %q: want starttls, tls or none", cfg.TLS)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, vigil.Errorf(vigil.EINVALID, "smtp: a username needs a password and a password a username")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "smtp from %q: %v", cfg.From, err)
	}
	if len(cfg.To) == 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "smtp: no recipients")
	}
	n := &Notifier{cfg: cfg, host: host, from: from}
	for _, t := range cfg.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "smtp to %q: %v", t, err)
		}
		n.to = append(n.to, a)
	}
	if n.cfg.Timeout <= 0 {
		n.cfg.Timeout = 30 * time.Second
	}
	if n.cfg.Now == nil {
		n.cfg.Now = time.Now
	}
	return n, nil
}

// FixApplied emails one fix: its outcome in the subject, and the resource,
// check, action, reason, calls, actor, time and undo command in the body.
func (n *Notifier) FixApplied(ctx context.Context, f vigil.Fix) error {
	return n.send(ctx, FixSubject(f), n.FixBody(f))
}

// Alert emails a guard alert.
func (n *Notifier) Alert(ctx context.Context, subject, body string) error {
	return n.send(ctx, "[vigil] alert: "+subject, body+"\n")
}

// maxAlertDiff bounds the diff in an alert's email: enough for any one
// resource's change, small enough for every mail client.
const maxAlertDiff = 20000

// SendAlert emails an alert: subject "[Vigil] CRITICAL <title>", the text
// of AlertBody, and a Message-ID derived from the alert's key, so that a
// duplicate delivery (a retry after a lost reply) carries the same
// Message-ID and mail clients and archives can recognise it.
func (n *Notifier) SendAlert(ctx context.Context, a vigil.Alert) error {
	t := alerttext.Render(a, maxAlertDiff)
	return n.sendMessage(ctx, t.Subject, alerttext.Body(t), MessageID(a.Key, n.domain()), oneLine(a.Key))
}

// AlertSubject is the subject of an alert's email.
func AlertSubject(a vigil.Alert) string { return alerttext.Render(a, 0).Subject }

// AlertBody is the plain text of an alert's email.
func AlertBody(a vigil.Alert) string { return alerttext.Body(alerttext.Render(a, maxAlertDiff)) }

// MessageID is the Message-ID of the email of the alert with this key, at
// the sender's domain: "<vigil.HASH@example.com>". It hashes the key
// because a key may hold any character and a Message-ID may not.
func MessageID(key, domain string) string {
	sum := sha256.Sum256([]byte(key))
	return "<vigil." + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}

// FixSubject is the subject of a fix's message:
// "[vigil] verified: aws.s3.block-public-access on arn:aws:s3:::acme-exports".
func FixSubject(f vigil.Fix) string {
	return fmt.Sprintf("[vigil] %s: %s on %s", f.Status, f.Action, f.ResourceUID)
}

// FixBody is the text of a fix's message.
func (n *Notifier) FixBody(f vigil.Fix) string {
	var b strings.Builder
	switch {
	case f.Mode == "undo":
		fmt.Fprintf(&b, "Vigil undid fix %s.\n\n", f.UndoOf)
	case f.Status == vigil.FixVerified:
		b.WriteString("Vigil fixed a finding and verified the fix: the check passes on the resource as read back.\n\n")
	case f.Status == vigil.FixFailed:
		b.WriteString("A Vigil fix FAILED: the finding may still be open, and the resource may be partly changed.\n\n")
	default:
		fmt.Fprintf(&b, "Vigil fix %s.\n\n", f.Status)
	}
	where := f.ResourceType
	if f.Account != "" {
		where += ", account " + f.Account
	}
	if f.Region != "" {
		where += ", region " + f.Region
	}
	line := func(k, v string) { fmt.Fprintf(&b, "%-9s %s\n", k+":", v) }
	line("Resource", f.ResourceUID+" ("+where+")")
	line("Check", f.CheckID)
	line("Action", f.Action)
	line("Outcome", string(f.Status))
	line("Reason", f.Reason)
	line("Actor", f.Actor+" ("+f.Mode+")")
	line("Time", f.At.UTC().Format(time.RFC3339))
	line("Fix id", f.ID)
	if len(f.Calls) > 0 {
		b.WriteString("\nCalls made:\n")
		for _, c := range f.Calls {
			in, _ := json.Marshal(c.Input)
			fmt.Fprintf(&b, "  %s %s", c.Operation, in)
			if c.Error != "" {
				fmt.Fprintf(&b, " -> error: %s", c.Error)
			}
			b.WriteString("\n")
		}
	}
	if f.Mode != "undo" && len(f.Calls) > 0 && (n.cfg.Undoable == nil || n.cfg.Undoable(f.Action)) {
		fmt.Fprintf(&b, "\nTo undo it:\n  vigil fix undo %s\n", f.ID)
	}
	return b.String()
}

// send delivers one message to every recipient, with a random Message-ID.
func (n *Notifier) send(ctx context.Context, subject, body string) error {
	var id [12]byte
	_, _ = rand.Read(id[:])
	return n.sendMessage(ctx, subject, body, "<"+hex.EncodeToString(id[:])+"@"+n.domain()+">", "")
}

func (n *Notifier) domain() string {
	return n.from.Address[strings.LastIndex(n.from.Address, "@")+1:]
}

// sendMessage delivers one message to every recipient; alertKey, when not
// empty, goes in an X-Vigil-Alert-Key header.
func (n *Notifier) sendMessage(ctx context.Context, subject, body, msgID, alertKey string) error {
	msg, err := n.message(subject, body, msgID, alertKey)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	c, err := n.dial(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	if err := n.deliver(c, msg); err != nil {
		return fmt.Errorf("smtp %s: %w", n.cfg.Server, err)
	}
	return nil
}

// dial connects, upgrades to TLS as configured, and authenticates.
func (n *Notifier) dial(ctx context.Context) (*netsmtp.Client, error) {
	tc := &tls.Config{ServerName: n.host, RootCAs: n.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	var err error
	if n.cfg.mode() == TLS {
		conn, err = (&tls.Dialer{Config: tc}).DialContext(ctx, "tcp", n.cfg.Server)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", n.cfg.Server)
	}
	if err != nil {
		return nil, fmt.Errorf("smtp %s: %w", n.cfg.Server, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := netsmtp.NewClient(conn, n.host)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("smtp %s: %w", n.cfg.Server, err)
	}
	fail := func(err error) (*netsmtp.Client, error) {
		_ = c.Close()
		return nil, fmt.Errorf("smtp %s: %w", n.cfg.Server, err)
	}
	if n.cfg.mode() == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fail(configError{errors.New("the server does not offer STARTTLS (set tls: tls for port 465, or none to send in plain text)")})
		}
		if err := c.StartTLS(tc); err != nil {
			return fail(fmt.Errorf("starttls: %w", err))
		}
	}
	if n.cfg.Username != "" {
		// PlainAuth refuses an unencrypted connection to anything but
		// localhost, so the password never crosses a network in clear.
		if err := c.Auth(netsmtp.PlainAuth("", n.cfg.Username, n.cfg.Password, n.host)); err != nil {
			return fail(fmt.Errorf("authenticate as %s: %w", n.cfg.Username, redactErr(err, n.cfg.Password)))
		}
	}
	return c, nil
}

func (n *Notifier) deliver(c *netsmtp.Client, msg []byte) error {
	if err := c.Mail(n.from.Address); err != nil {
		return fmt.Errorf("mail from %s: %w", n.from.Address, err)
	}
	for _, t := range n.to {
		if err := c.Rcpt(t.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", t.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return c.Quit()
}

// message renders the headers and a quoted-printable text body (long
// lines, such as a call's JSON input, stay within SMTP's line limit).
func (n *Notifier) message(subject, body, msgID, alertKey string) ([]byte, error) {
	to := make([]string, len(n.to))
	for i, a := range n.to {
		to[i] = a.String()
	}
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", n.from.String())
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	h("Date", n.cfg.Now().Format(time.RFC1123Z))
	h("Message-ID", msgID)
	h("MIME-Version", "1.0")
	h("Content-Type", `text/plain; charset="utf-8"`)
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	if alertKey != "" {
		h("X-Vigil-Alert-Key", alertKey)
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// oneLine keeps a header value on one line: a resource name cannot inject
// headers.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// redactErr keeps the server's reply code of an SMTP error (5xx is
// permanent, 4xx is not) while taking the password out of its text.
func redactErr(err error, secret string) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &textproto.Error{Code: te.Code, Msg: redact(te.Msg, secret)}
	}
	return errors.New(redact(err.Error(), secret))
}

// configError is a failure that retrying cannot cure: the configuration
// or the server must change first.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

// Permanent tells retrying callers (notify.IsPermanent) not to retry.
func (e configError) Permanent() bool { return true }
