package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

// testCert writes a self-signed certificate for 127.0.0.1 and returns the
// cert and key files and a pool that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailpit test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func authFile(t *testing.T, user, password string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(f, []byte(user+":"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// sampleFix is a verified fix as the runner records it.
func sampleFix() vigil.Fix {
	return vigil.Fix{ID: "x-0a1b2c3d4e", At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Actor: "rule:private-buckets",
		Mode: "always-fix", CheckID: "aws-s3-bucket-no-public-read", ResourceUID: "arn:aws:s3:::acme-exports",
		ResourceType: "aws.s3.bucket", Provider: vigil.AWS, Account: "123456789012", Region: "us-east-1",
		Action: "aws.s3.block-public-access", Status: vigil.FixVerified, Reason: "verified: the bucket is not public",
		Calls: []vigil.FixCall{{Operation: "s3:PutPublicAccessBlock", Input: map[string]any{"Bucket": "acme-exports", "BlockPublicAcls": true}}}}
}

// wantBody are the lines the message of sampleFix must hold.
var wantBody = []string{
	"Vigil fixed a finding and verified the fix: the check passes on the resource as read back.",
	"Resource: arn:aws:s3:::acme-exports (aws.s3.bucket, account 123456789012, region us-east-1)",
	"Check:    aws-s3-bucket-no-public-read",
	"Action:   aws.s3.block-public-access",
	"Outcome:  verified",
	"Reason:   verified: the bucket is not public",
	"Actor:    rule:private-buckets (always-fix)",
	"Time:     2026-03-04T05:06:07Z",
	"Fix id:   x-0a1b2c3d4e",
	"Calls made:",
	`  s3:PutPublicAccessBlock {"BlockPublicAcls":true,"Bucket":"acme-exports"}`,
	"To undo it:",
	"  vigil fix undo x-0a1b2c3d4e",
}

// TestDeliver sends a fix and an alert through a real SMTP server in each
// TLS mode, with and without authentication, and reads them back.
func TestDeliver(t *testing.T) {
	cert, key, pool := testCert(t)
	cases := []struct {
		name  string
		flags []string
		cfg   Config
	}{
		{"starttls with auth", []string{"--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
			"--smtp-auth-file", authFile(t, "vigil", "s3cret-pw")},
			Config{TLS: StartTLS, Username: "vigil", Password: "s3cret-pw", RootCAs: pool}},
		{"implicit tls with auth", []string{"--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-tls",
			"--smtp-auth-file", authFile(t, "vigil", "s3cret-pw")},
			Config{TLS: TLS, Username: "vigil", Password: "s3cret-pw", RootCAs: pool}},
		{"plain text without auth", nil, Config{TLS: NoTLS}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mp := testenv.StartMailpit(t, tc.flags...)
			cfg := tc.cfg
			cfg.Server, cfg.From, cfg.To = mp.SMTP, "Vigil <vigil@example.com>", []string{"secops@example.com", "Oncall <oncall@example.com>"}
			n, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := n.FixApplied(ctx, sampleFix()); err != nil {
				t.Fatalf("FixApplied: %v", err)
			}
			if err := n.Alert(ctx, "Always Fix held back 12 fixes", "max_fixes_per_run is 10"); err != nil {
				t.Fatalf("Alert: %v", err)
			}
			msgs := mp.Messages(t)
			if len(msgs) != 2 {
				t.Fatalf("%d messages, want 2", len(msgs))
			}
			alert, fixMsg := msgs[0], msgs[1]
			if fixMsg.Subject != "[vigil] verified: aws.s3.block-public-access on arn:aws:s3:::acme-exports" {
				t.Errorf("subject %q", fixMsg.Subject)
			}
			if fixMsg.From.Address != "vigil@example.com" {
				t.Errorf("from %q", fixMsg.From.Address)
			}
			var to []string
			for _, a := range fixMsg.To {
				to = append(to, a.Name+" <"+a.Address+">")
			}
			if want := []string{" <secops@example.com>", "Oncall <oncall@example.com>"}; !reflect.DeepEqual(to, want) {
				t.Errorf("to %q, want %q", to, want)
			}
			for _, line := range wantBody {
				if !strings.Contains(fixMsg.Text, line+"\r\n") && !strings.Contains(fixMsg.Text, line+"\n") {
					t.Errorf("body lacks line %q:\n%s", line, fixMsg.Text)
				}
			}
			if alert.Subject != "[vigil] alert: Always Fix held back 12 fixes" || strings.TrimSpace(alert.Text) != "max_fixes_per_run is 10" {
				t.Errorf("alert: %q %q", alert.Subject, alert.Text)
			}
		})
	}
}

// TestDeliverFailures: a wrong password, a server without STARTTLS and an
// untrusted certificate fail with a clear error that never holds the
// password, and nothing is delivered.
func TestDeliverFailures(t *testing.T) {
	cert, key, pool := testCert(t)
	secure := testenv.StartMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, "--smtp-require-starttls",
		"--smtp-auth-file", authFile(t, "vigil", "right-pw"))
	plain := testenv.StartMailpit(t)
	cases := []struct {
		name string
		mp   *testenv.Mailpit
		cfg  Config
		want string
	}{
		{"wrong password", secure, Config{Username: "vigil", Password: "wrong-pw-123", RootCAs: pool},
			"smtp " + secure.SMTP + ": authenticate as vigil: "},
		{"no starttls offered", plain, Config{},
			"smtp " + plain.SMTP + ": the server does not offer STARTTLS (set tls: tls for port 465, or none to send in plain text)"},
		{"untrusted certificate", secure, Config{Username: "vigil", Password: "right-pw"},
			"smtp " + secure.SMTP + ": starttls: tls: failed to verify certificate: x509: certificate signed by unknown authority"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Server, cfg.From, cfg.To = tc.mp.SMTP, "vigil@example.com", []string{"secops@example.com"}
			n, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = n.FixApplied(context.Background(), sampleFix())
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			}
			if cfg.Password != "" && strings.Contains(err.Error(), cfg.Password) {
				t.Errorf("the error holds the password: %v", err)
			}
			if got := tc.mp.Messages(t); len(got) != 0 {
				t.Errorf("%d messages delivered", len(got))
			}
		})
	}
}

func TestNewInvalid(t *testing.T) {
	ok := Config{Server: "smtp.example.com:587", From: "vigil@example.com", To: []string{"secops@example.com"}}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no port", func(c *Config) { c.Server = "smtp.example.com" }, `smtp server "smtp.example.com": want host:port, e.g. smtp.example.com:587`},
		{"bad tls", func(c *Config) { c.TLS = "ssl" }, `smtp tls "ssl": want starttls, tls or none`},
		{"user without password", func(c *Config) { c.Username = "vigil" }, "smtp: a username needs a password and a password a username"},
		{"bad from", func(c *Config) { c.From = "vigil" }, `smtp from "vigil": mail: missing '@' or angle-addr`},
		{"no recipients", func(c *Config) { c.To = nil }, "smtp: no recipients"},
		{"bad recipient", func(c *Config) { c.To = []string{"secops@"} }, `smtp to "secops@": mail: missing '@' or angle-addr`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := New(c)
			if err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != vigil.EINVALID {
				t.Errorf("error %v (%s), want %q", err, vigil.ErrorCode(err), tc.want)
			}
		})
	}
}

// TestConfigHidesPassword: printing or logging a Config never shows the
// password.
func TestConfigHidesPassword(t *testing.T) {
	c := Config{Server: "smtp.example.com:587", Username: "vigil", Password: "hunter2-pw", From: "a@example.com", To: []string{"b@example.com"}}
	want := "smtp smtp.example.com:587 (starttls, user vigil, password set) from a@example.com to b@example.com"
	for _, got := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), c.LogValue().String()} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestFixBody: a failed fix says so, lists the failing call's error, and
// offers no undo for an action that cannot be undone; an undo names the
// fix it reverted.
func TestFixBody(t *testing.T) {
	n, err := New(Config{Server: "localhost:25", From: "vigil@example.com", To: []string{"b@example.com"},
		Undoable: func(id string) bool { return id != "aws.iam.delete-server-certificate" }})
	if err != nil {
		t.Fatal(err)
	}
	f := sampleFix()
	f.Action, f.Status, f.Reason = "aws.iam.delete-server-certificate", vigil.FixFailed, "apply: iam:DeleteServerCertificate: AccessDenied"
	f.Calls = []vigil.FixCall{{Operation: "iam:DeleteServerCertificate", Input: map[string]any{"ServerCertificateName": "old"}, Error: "AccessDenied"}}
	body := n.FixBody(f)
	for _, want := range []string{"A Vigil fix FAILED: the finding may still be open, and the resource may be partly changed.\n",
		"Outcome:  failed\n", `  iam:DeleteServerCertificate {"ServerCertificateName":"old"} -> error: AccessDenied` + "\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "vigil fix undo") {
		t.Errorf("undo offered for an action without undo:\n%s", body)
	}
	if got := FixSubject(f); got != "[vigil] failed: aws.iam.delete-server-certificate on arn:aws:s3:::acme-exports" {
		t.Errorf("subject %q", got)
	}
	u := sampleFix()
	u.ID, u.Mode, u.UndoOf, u.Status = "x-ffffffffff", "undo", "x-0a1b2c3d4e", vigil.FixUndone
	if body := n.FixBody(u); !strings.HasPrefix(body, "Vigil undid fix x-0a1b2c3d4e.\n") || strings.Contains(body, "vigil fix undo") {
		t.Errorf("undo body:\n%s", body)
	}
}

// sampleAlert is a finding alert as the alert rules make it.
func sampleAlert() vigil.Alert {
	return vigil.Alert{Key: "finding/aws-s3-bucket-no-public-read/arn:aws:s3:::acme-exports/ops", Kind: vigil.AlertFinding,
		Severity: vigil.Critical, Title: "S3 bucket acme-exports is public", What: "The bucket ACL grants READ to AllUsers.",
		Why: "Anyone can list and read the objects.", Action: "nothing: alert only",
		Resource: vigil.AlertTarget{UID: "arn:aws:s3:::acme-exports", Type: "aws.s3.bucket", Account: "123456789012", Region: "us-east-1"},
		CheckID:  "aws-s3-bucket-no-public-read", FindingID: "f-059ce9d837", At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
}

// TestSendAlert emails an alert twice (a retry) to a real SMTP server:
// both copies have its subject, body and the same Message-ID derived from
// its key, and the key in X-Vigil-Alert-Key.
func TestSendAlert(t *testing.T) {
	mp := testenv.StartMailpit(t)
	n, err := New(Config{Server: mp.SMTP, TLS: NoTLS, From: "vigil@example.com", To: []string{"secops@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	a := sampleAlert()
	for range 2 {
		if err := n.SendAlert(t.Context(), a); err != nil {
			t.Fatalf("SendAlert: %v", err)
		}
	}
	msgs := mp.Messages(t)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	wantID := MessageID(a.Key, "example.com")
	if !strings.HasPrefix(wantID, "<vigil.") || !strings.HasSuffix(wantID, "@example.com>") || len(wantID) != len("<vigil.@example.com>")+32 {
		t.Errorf("MessageID %q", wantID)
	}
	if MessageID(a.Key+"x", "example.com") == wantID {
		t.Error("two keys give one Message-ID")
	}
	for _, m := range msgs {
		if m.Subject != "[Vigil] CRITICAL S3 bucket acme-exports is public" {
			t.Errorf("subject %q", m.Subject)
		}
		for _, line := range []string{"What happened:", "  The bucket ACL grants READ to AllUsers.", "Why it matters:",
			"  Anyone can list and read the objects.", "What Vigil did:", "  nothing: alert only",
			"  arn:aws:s3:::acme-exports (aws.s3.bucket, account 123456789012, region us-east-1)",
			"  finding f-059ce9d837 (check aws-s3-bucket-no-public-read)",
			"  The finding is open. To fix it: vigil fix f-059ce9d837"} {
			if !strings.Contains(m.Text, line+"\r\n") && !strings.Contains(m.Text, line+"\n") {
				t.Errorf("body lacks line %q:\n%s", line, m.Text)
			}
		}
	}
	var list struct {
		Messages []struct{ ID, MessageID string }
	}
	getJSON(t, "http://"+mp.API+"/api/v1/messages", &list)
	for _, m := range list.Messages {
		if "<"+m.MessageID+">" != wantID {
			t.Errorf("Message-ID <%s>, want %s", m.MessageID, wantID)
		}
		var h map[string][]string
		getJSON(t, "http://"+mp.API+"/api/v1/message/"+m.ID+"/headers", &h)
		if got := h["X-Vigil-Alert-Key"]; len(got) != 1 || got[0] != a.Key {
			t.Errorf("X-Vigil-Alert-Key %q, want %q", got, a.Key)
		}
	}
}

// TestAuthErrorKeepsCode: a refused login keeps the server's 535 reply
// (permanent for notify.IsPermanent) without the password in it.
func TestAuthErrorKeepsCode(t *testing.T) {
	mp := testenv.StartMailpit(t, "--smtp-auth-file", authFile(t, "vigil", "right-pw"), "--smtp-auth-allow-insecure")
	n, err := New(Config{Server: mp.SMTP, TLS: NoTLS, Username: "vigil", Password: "wrong-pw-123", From: "vigil@example.com", To: []string{"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	err = n.SendAlert(t.Context(), sampleAlert())
	var te *textproto.Error
	if !errors.As(err, &te) || te.Code != 535 || strings.Contains(err.Error(), "wrong-pw-123") {
		t.Fatalf("error %v, want a 535 reply without the password", err)
	}
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
