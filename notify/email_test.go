package notify

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/smtp"
)

// messageIDs are the Message-IDs Mailpit received, newest first (its API
// gives them without angle brackets).
func messageIDs(t *testing.T, mp *testenv.Mailpit) []string {
	t.Helper()
	resp, err := http.Get("http://" + mp.API + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var list struct{ Messages []struct{ MessageID string } }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Messages {
		ids = append(ids, "<"+m.MessageID+">")
	}
	return ids
}

func emailConfig(server string, to ...string) Config {
	return Config{Name: "ops-email", Type: TypeEmail, Email: &smtp.Config{Server: server, TLS: smtp.NoTLS,
		From: "Vigil <vigil@example.com>", To: to}}
}

// TestEmail sends the fixture alerts through a real SMTP server: each
// message has the alert's subject, its lines, and a Message-ID derived
// from its key, the same when the alert is sent again.
func TestEmail(t *testing.T) {
	mp := testenv.StartMailpit(t)
	ch := newChannel(t, emailConfig(mp.SMTP, "secops@example.com"))
	if ch.Name() != "ops-email" || ch.Type() != TypeEmail {
		t.Errorf("Name %q Type %q", ch.Name(), ch.Type())
	}
	for _, a := range alerts {
		if err := ch.Send(t.Context(), a.alert); err != nil {
			t.Fatalf("Send %s: %v", a.name, err)
		}
	}
	// A retry after a lost reply: the same alert again.
	if err := ch.Send(t.Context(), alerts[0].alert); err != nil {
		t.Fatal(err)
	}
	msgs, ids := mp.Messages(t), messageIDs(t, mp)
	if len(msgs) != len(alerts)+1 || len(ids) != len(msgs) {
		t.Fatalf("%d messages, %d ids, want %d", len(msgs), len(ids), len(alerts)+1)
	}
	want := map[string][]string{
		"change": {
			"What happened:", "  The bucket policy of acme-logs now grants s3:GetObject to everyone (Principal \"*\").",
			"Who changed it:", "  arn:aws:iam::123456789012:user/alice from 203.0.113.7 at 2026-03-04T05:06:07Z",
			"Why it matters:", "What Vigil did:", "  nothing: alert only",
			"Resource:", "  arn:aws:s3:::acme-logs (aws.s3.bucket acme-logs, account 123456789012, region us-east-1)",
			"Diff:", "  ~ /public/policy: false -> true", `  - /tags/owner: "data-team"`,
			`  + /policy/Statement/1: {"Action":"s3:GetObject","Effect":"Allow","Principal":"*","Resource":"arn:aws:s3:::acme-logs/*"}`,
		},
		"finding": {"  finding f-059ce9d837 (check aws-ec2-sg-no-world-ssh)", "  The finding is open. To fix it: vigil fix f-059ce9d837"},
		"fix-verified": {"  finding f-1f2e3d4c5b (check aws-s3-bucket-no-public-access), fix x-0a1b2c3d4e verified",
			"  applied aws.s3.block-public-access and verified it: the check passes on the bucket as read back"},
		"fix-flapping": {"  finding f-1f2e3d4c5b (check aws-s3-bucket-no-public-access), fix x-99aa88bb77 skipped",
			"  The finding is open. To fix it: vigil fix f-1f2e3d4c5b"},
	}
	for i, a := range alerts {
		j := len(msgs) - 1 - i // newest first
		m := msgs[j]
		if wantSub := smtp.AlertSubject(a.alert); m.Subject != wantSub {
			t.Errorf("%s: subject %q, want %q", a.name, m.Subject, wantSub)
		}
		if id := smtp.MessageID(a.alert.Key, "example.com"); ids[j] != id {
			t.Errorf("%s: Message-ID %s, want %s", a.name, ids[j], id)
		}
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if text != smtp.AlertBody(a.alert) {
			t.Errorf("%s: body differs from the golden text:\n%s", a.name, text)
		}
		for _, line := range want[a.name] {
			if !strings.Contains(text, line+"\n") {
				t.Errorf("%s: body lacks the line %q:\n%s", a.name, line, text)
			}
		}
		if open := strings.Contains(text, "vigil fix "); open != (a.name == "finding" || a.name == "fix-flapping") {
			t.Errorf("%s: fix hint shown %v", a.name, open)
		}
	}
	if ids[0] != ids[len(ids)-1] || ids[0] != smtp.MessageID(alerts[0].alert.Key, "example.com") {
		t.Errorf("the resent alert has Message-ID %s, the first %s", ids[0], ids[len(ids)-1])
	}
	if ids[1] == ids[2] {
		t.Errorf("two alerts share the Message-ID %s", ids[1])
	}
}

// TestEmailFailures: a server that is down is transient and a recipient
// the server refuses (550) is permanent; neither panics.
func TestEmailFailures(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	_ = l.Close()
	err = newChannel(t, emailConfig(down, "secops@example.com")).Send(t.Context(), alerts[0].alert)
	want := fmt.Sprintf("email ops-email: smtp %s: dial tcp %s: connect: connection refused", down, down)
	if err == nil || err.Error() != want || IsPermanent(err) {
		t.Errorf("server down: %v (permanent %v), want %q, transient", err, IsPermanent(err), want)
	}

	mp := testenv.StartMailpit(t, "--smtp-allowed-recipients", `@example\.com$`)
	err = newChannel(t, emailConfig(mp.SMTP, "someone@elsewhere.org")).Send(t.Context(), alerts[0].alert)
	prefix := fmt.Sprintf("email ops-email: smtp %s: rcpt to someone@elsewhere.org: 550 ", mp.SMTP)
	if err == nil || !strings.HasPrefix(err.Error(), prefix) || !IsPermanent(err) {
		t.Errorf("refused recipient: %v (permanent %v), want prefix %q, permanent", err, IsPermanent(err), prefix)
	}
	if n := len(mp.Messages(t)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}
