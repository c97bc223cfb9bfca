package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/notify/alerttext"
)

// Slack posts alerts to a Slack incoming webhook as Block Kit messages.
type Slack struct{ *poster }

var _ Channel = (*Slack)(nil)

// Slack's documented limits: a header's text is at most 150 characters, a
// field's 2,000 and a section's 3,000; the diff's code block stays well
// under, with room for the fence.
const (
	slackHeaderMax = 150
	slackFieldMax  = 2000
	slackDiffMax   = 2500
)

// slackErrors are the error bodies of Slack's incoming webhooks that no
// retry cures: the payload, the webhook or its channel is wrong or gone.
var slackErrors = map[string]bool{
	"invalid_payload": true, "user_not_found": true, "channel_not_found": true, "channel_is_archived": true,
	"action_prohibited": true, "posting_to_general_channel_denied": true, "no_service": true,
	"no_service_id": true, "no_team": true, "team_disabled": true, "invalid_token": true, "no_text": true,
	"missing_text_or_fallback_or_attachments": true, "too_many_attachments": true, "invalid_blocks": true,
	"invalid_blocks_format": true,
}

// SlackPayload renders an alert as a Slack message: a header with the
// title, a section of What / Who / Why / Action / Finding fields, a context
// line with the resource, and the diff as a code block.
func SlackPayload(a vigil.Alert) ([]byte, error) {
	t := alerttext.Render(a, slackDiffMax)
	type text struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		Emoji bool   `json:"emoji,omitempty"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Fields   []text `json:"fields,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	blocks := []block{{Type: "header", Text: &text{Type: "plain_text", Text: alerttext.Truncate(t.Severity+" · "+t.Title, slackHeaderMax), Emoji: true}}}
	var fields []text
	for _, f := range t.Fields() {
		if f.Label == "Resource" {
			continue // in the context line
		}
		fields = append(fields, text{Type: "mrkdwn", Text: alerttext.Truncate("*"+f.Label+"*\n"+slackEscape(f.Value), slackFieldMax)})
	}
	if len(fields) > 0 {
		blocks = append(blocks, block{Type: "section", Fields: fields})
	}
	if t.Context != "" {
		ctx := t.Context
		if a.Resource.Type != "" {
			ctx = a.Resource.Type + " · " + ctx
		}
		blocks = append(blocks, block{Type: "context", Elements: []text{{Type: "mrkdwn", Text: slackEscape(ctx)}}})
	}
	if t.Diff != "" {
		// A fence inside the diff would end the code block early.
		diff := strings.ReplaceAll(slackEscape(t.Diff), "```", "'''")
		blocks = append(blocks, block{Type: "section", Text: &text{Type: "mrkdwn", Text: "*Diff*\n```" + diff + "```"}})
	}
	return marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{slackEscape(t.Subject), blocks})
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to, so that a resource named "<!channel>" pings no one.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Send posts the alert. Slack answers 200 "ok"; a 4xx (or an error body
// such as invalid_token) is permanent; 429 carries Retry-After.
func (s *Slack) Send(ctx context.Context, a vigil.Alert) error {
	body, err := SlackPayload(a)
	if err != nil {
		return fmt.Errorf("%s: encode alert %s: %w", s.label(), a.Key, err)
	}
	status, text, wait, err := s.post(ctx, body, nil)
	if err != nil {
		return err
	}
	if status >= 200 && status < 300 {
		if slackErrors[strings.TrimSpace(text)] {
			return &StatusError{Channel: s.label(), Status: status, Body: text, permanent: true}
		}
		return nil
	}
	// Slack's 4xx bodies (invalid_payload, no_service, …) are all
	// permanent, as any 4xx but 408 and 429 is.
	return s.refused(status, text, wait)
}
