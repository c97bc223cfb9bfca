package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/notify/alerttext"
)

// WebhookVersion is the version of the generic webhook's body schema. It
// changes only when a field changes meaning or goes away; new fields may
// appear in the same version.
const WebhookVersion = 1

// Webhook posts alerts as signed JSON to any HTTP endpoint.
type Webhook struct{ *poster }

var _ Channel = (*Webhook)(nil)

// WebhookBody is the generic webhook's body, version 1: the alert, plus a
// rendered summary for receivers that only forward text. It is its own
// type, not vigil.Alert, so that the documented schema does not change
// when the domain type does.
type WebhookBody struct {
	Version   int               `json:"version"`
	Key       string            `json:"key"`
	Rule      string            `json:"rule,omitempty"`
	Channel   string            `json:"channel"`
	Kind      string            `json:"kind"`
	Severity  string            `json:"severity"`
	Title     string            `json:"title"`
	What      string            `json:"what"`
	Why       string            `json:"why,omitempty"`
	Action    string            `json:"action,omitempty"`
	Resource  WebhookResource   `json:"resource"`
	Actor     *WebhookActor     `json:"actor,omitempty"`
	Diff      []WebhookDiffOp   `json:"diff,omitempty"`
	CheckID   string            `json:"check_id,omitempty"`
	FindingID string            `json:"finding_id,omitempty"`
	Fix       *WebhookFix       `json:"fix,omitempty"`
	At        string            `json:"at"`
	Text      map[string]string `json:"text"`
}

// WebhookResource is the resource an alert is about.
type WebhookResource struct {
	UID      string `json:"uid"`
	Type     string `json:"type"`
	Name     string `json:"name,omitempty"`
	Provider string `json:"provider,omitempty"`
	Account  string `json:"account,omitempty"`
	Region   string `json:"region,omitempty"`
}

// WebhookActor is who made a change.
type WebhookActor struct {
	ARN         string `json:"arn,omitempty"`
	Type        string `json:"type,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	SourceIP    string `json:"source_ip,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
}

// WebhookDiffOp is one change: op "add", "remove" or "replace" at a JSON
// Pointer path into the resource's properties.
type WebhookDiffOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
}

// WebhookFix is a fix record's id and outcome.
type WebhookFix struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// WebhookPayload renders an alert as the generic webhook's body, for the
// named channel.
func WebhookPayload(channel string, a vigil.Alert) ([]byte, error) {
	t := alerttext.Render(a, 0)
	b := WebhookBody{
		Version: WebhookVersion, Key: a.Key, Rule: a.Rule, Channel: channel, Kind: string(a.Kind),
		Severity: string(a.Severity), Title: t.Title, What: a.What, Why: a.Why, Action: a.Action,
		Resource: WebhookResource{UID: a.Resource.UID, Type: a.Resource.Type, Name: a.Resource.Name,
			Provider: string(a.Resource.Provider), Account: a.Resource.Account, Region: a.Resource.Region},
		CheckID: a.CheckID, FindingID: a.FindingID, At: a.At.UTC().Format(time.RFC3339Nano),
		Text: map[string]string{"subject": t.Subject, "body": alerttext.Body(t)},
	}
	if a.Actor != nil {
		b.Actor = &WebhookActor{ARN: a.Actor.ARN, Type: a.Actor.Type, AccessKeyID: a.Actor.AccessKeyID,
			SourceIP: a.Actor.SourceIP, UserAgent: a.Actor.UserAgent}
	}
	for _, op := range a.Diff {
		b.Diff = append(b.Diff, WebhookDiffOp(op))
	}
	if a.FixID != "" {
		b.Fix = &WebhookFix{ID: a.FixID, Status: string(a.FixStatus)}
	}
	return marshal(b)
}

// Sign returns the X-Vigil-Signature value of a body sent at timestamp
// (unix seconds): "sha256=" and the hex HMAC-SHA256 of timestamp + "." +
// body. The timestamp is signed so that a captured request cannot be
// replayed later.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a webhook request as a receiver should: the
// X-Vigil-Timestamp header (unix seconds) within tolerance of now (zero: 5
// minutes), and the X-Vigil-Signature header equal, in constant time, to
// Sign(secret, timestamp, body). body must be the raw bytes received, not
// a re-encoding. The error is EUNAUTHORIZED.
func VerifySignature(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	if len(secret) == 0 {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: no secret to verify with")
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
	if err != nil {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: X-Vigil-Timestamp %q is not unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: timestamp %d is %s away from now, more than %s", ts, d.Round(time.Second), tolerance)
	}
	got, ok := strings.CutPrefix(strings.TrimSpace(signature), "sha256=")
	if !ok {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: X-Vigil-Signature does not start with sha256=")
	}
	mac, err := hex.DecodeString(got)
	if err != nil {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: X-Vigil-Signature is not hex")
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(Sign(secret, timestamp, body), "sha256="))
	if !hmac.Equal(mac, want) {
		return vigil.Errorf(vigil.EUNAUTHORIZED, "webhook signature: does not match the body")
	}
	return nil
}

// Send posts the signed alert with its key as Idempotency-Key; any 2xx
// accepts it.
func (w *Webhook) Send(ctx context.Context, a vigil.Alert) error {
	body, err := WebhookPayload(w.cfg.Name, a)
	if err != nil {
		return fmt.Errorf("%s: encode alert %s: %w", w.label(), a.Key, err)
	}
	ts := strconv.FormatInt(w.opts.Now().Unix(), 10)
	h := http.Header{}
	for k, v := range w.cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Idempotency-Key", alerttext.OneLine(a.Key))
	h.Set("X-Vigil-Timestamp", ts)
	h.Set("X-Vigil-Signature", Sign([]byte(w.cfg.Secret), ts, body))
	status, text, wait, err := w.post(ctx, body, h)
	if err != nil {
		return err
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return w.refused(status, text, wait)
}
