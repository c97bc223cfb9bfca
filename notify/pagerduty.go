package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/notify/alerttext"
)

// PagerDuty triggers events with the PagerDuty Events API v2.
type PagerDuty struct{ *poster }

var _ Channel = (*PagerDuty)(nil)

// The Events API v2's limits: summary 1,024 characters, dedup_key 255.
// The whole event may be 512 KB; the diff stays far below.
const (
	pdSummaryMax = 1024
	pdDedupMax   = 255
	pdDiffMax    = 16000
)

// PagerDutySeverity maps a Vigil severity to the Events API's critical,
// error, warning or info.
func PagerDutySeverity(s vigil.Severity) string {
	switch s {
	case vigil.Critical:
		return "critical"
	case vigil.High:
		return "error"
	case vigil.Medium:
		return "warning"
	default:
		return "info"
	}
}

// PagerDutyDedupKey is the dedup_key of an alert: its key, or when that is
// longer than PagerDuty allows, a hash of it (still the same for the same
// key).
func PagerDutyDedupKey(key string) string {
	if len(key) <= pdDedupMax {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "vigil:" + hex.EncodeToString(sum[:])
}

// PagerDutyPayload renders an alert as a trigger event for routingKey.
func PagerDutyPayload(routingKey string, a vigil.Alert) ([]byte, error) {
	t := alerttext.Render(a, pdDiffMax)
	source := a.Resource.UID
	if source == "" {
		source = "vigil"
	}
	details := map[string]string{}
	for k, v := range map[string]string{
		"what": t.What, "who": t.Who, "why": t.Why, "action": t.Action, "check_id": a.CheckID,
		"finding_id": a.FindingID, "diff": t.Diff, "resource": t.Resource, "fix_id": a.FixID,
		"fix_status": string(a.FixStatus), "rule": a.Rule, "finding": t.Finding,
	} {
		if v != "" {
			details[k] = v
		}
	}
	type payload struct {
		Summary       string            `json:"summary"`
		Source        string            `json:"source"`
		Severity      string            `json:"severity"`
		Timestamp     string            `json:"timestamp,omitempty"`
		Component     string            `json:"component,omitempty"`
		Group         string            `json:"group,omitempty"`
		Class         string            `json:"class,omitempty"`
		CustomDetails map[string]string `json:"custom_details,omitempty"`
	}
	ev := struct {
		RoutingKey  string  `json:"routing_key"`
		EventAction string  `json:"event_action"`
		DedupKey    string  `json:"dedup_key"`
		Client      string  `json:"client"`
		Payload     payload `json:"payload"`
	}{
		RoutingKey: routingKey, EventAction: "trigger", DedupKey: PagerDutyDedupKey(a.Key), Client: "Vigil",
		Payload: payload{
			Summary:  alerttext.Truncate(t.Title, pdSummaryMax),
			Source:   source,
			Severity: PagerDutySeverity(a.Severity),
			// Component is the kind of resource ("aws.s3.bucket"), group
			// the account, class the kind of alert: what PagerDuty groups
			// and filters by.
			Component:     a.Resource.Type,
			Group:         a.Resource.Account,
			Class:         string(a.Kind),
			CustomDetails: details,
		},
	}
	if !a.At.IsZero() {
		ev.Payload.Timestamp = a.At.UTC().Format(time.RFC3339Nano)
	}
	return marshal(ev)
}

// Send triggers the event. PagerDuty answers 202; 400 (an invalid event)
// and other 4xx are permanent; 429 and 5xx are retried.
func (p *PagerDuty) Send(ctx context.Context, a vigil.Alert) error {
	body, err := PagerDutyPayload(p.cfg.RoutingKey, a)
	if err != nil {
		return fmt.Errorf("%s: encode alert %s: %w", p.label(), a.Key, err)
	}
	status, text, wait, err := p.post(ctx, body, nil)
	if err != nil {
		return err
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return p.refused(status, text, wait)
}
