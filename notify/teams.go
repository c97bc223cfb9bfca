package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/notify/alerttext"
)

// Teams posts alerts to a Microsoft Teams Workflows webhook ("When a Teams
// webhook request is received", Power Automate) as an Adaptive Card 1.4.
// Workflows accept Adaptive Cards only: the Office 365 connector
// MessageCard format is retired.
type Teams struct{ *poster }

var _ Channel = (*Teams)(nil)

// teamsDiffMax bounds the diff: a Teams message is at most about 28 KB.
const (
	teamsDiffMax  = 8000
	teamsDiffRows = 40
)

// TeamsPayload renders an alert as a Workflows webhook message holding one
// Adaptive Card: the title, a FactSet of the fields, the resource, and the
// diff in monospace, one line a block.
func TeamsPayload(a vigil.Alert) ([]byte, error) {
	t := alerttext.Render(a, teamsDiffMax)
	type obj = map[string]any
	color := "Default"
	switch a.Severity {
	case vigil.Critical, vigil.High:
		color = "Attention"
	case vigil.Medium:
		color = "Warning"
	}
	body := []any{
		obj{"type": "TextBlock", "text": t.Title, "weight": "Bolder", "size": "Medium", "wrap": true, "color": color, "style": "heading"},
		obj{"type": "TextBlock", "text": t.Severity + " · " + string(a.Kind), "isSubtle": true, "spacing": "None", "wrap": true},
	}
	var facts []any
	for _, f := range t.Fields() {
		facts = append(facts, obj{"title": f.Label, "value": f.Value})
	}
	if len(facts) > 0 {
		body = append(body, obj{"type": "FactSet", "facts": facts})
	}
	if t.Diff != "" {
		rows := []any{obj{"type": "TextBlock", "text": "Diff", "weight": "Bolder", "wrap": true}}
		lines := strings.Split(t.Diff, "\n")
		if len(lines) > teamsDiffRows {
			lines = append(lines[:teamsDiffRows-1], fmt.Sprintf("… %d more line(s) not shown", len(lines)-teamsDiffRows+1))
		}
		for _, l := range lines {
			rows = append(rows, obj{"type": "TextBlock", "text": l, "fontType": "Monospace", "wrap": true, "spacing": "None"})
		}
		body = append(body, obj{"type": "Container", "items": rows, "separator": true})
	}
	card := obj{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"msteams": obj{"width": "Full"},
		"body":    body,
	}
	return marshal(obj{
		"type": "message",
		"attachments": []any{obj{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	})
}

// Send posts the alert. Workflows answer 202 Accepted; a 4xx is permanent.
func (c *Teams) Send(ctx context.Context, a vigil.Alert) error {
	body, err := TeamsPayload(a)
	if err != nil {
		return fmt.Errorf("%s: encode alert %s: %w", c.label(), a.Key, err)
	}
	status, text, wait, err := c.post(ctx, body, nil)
	if err != nil {
		return err
	}
	if status >= 200 && status < 300 {
		return nil
	}
	return c.refused(status, text, wait)
}
