package notify

import (
	"context"
	"fmt"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/smtp"
)

// Email sends alerts by email through an SMTP server.
type Email struct {
	name string
	n    *smtp.Notifier
}

var _ Channel = (*Email)(nil)

// Name is the configured channel name.
func (e *Email) Name() string { return e.name }

// Type is "email".
func (e *Email) Type() string { return TypeEmail }

// Send emails the alert. An SMTP 5xx reply is permanent; 4xx replies and
// network errors are retried. The password never appears in the error.
func (e *Email) Send(ctx context.Context, a vigil.Alert) error {
	if err := e.n.SendAlert(ctx, a); err != nil {
		return fmt.Errorf("email %s: %w", e.name, err)
	}
	return nil
}
