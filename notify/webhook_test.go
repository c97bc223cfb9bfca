package notify

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

// TestVerifySignature: a receiver accepts exactly the signed body within
// the tolerance, and rejects anything else as unauthorized.
func TestVerifySignature(t *testing.T) {
	secret := []byte(hookSecret)
	body := []byte(`{"version":1,"key":"k"}`)
	ts := "1772600767"
	sig := Sign(secret, ts, body)
	// The value a receiver computes with openssl (docs/notifications.md):
	// printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret"
	if want := "sha256=3ca25082f1044a12a11a16571a220b5d94f93a5dd76b441c49040e7a644fcb11"; sig != want {
		t.Fatalf("signature %q, want %q (what openssl computes)", sig, want)
	}
	at := time.Unix(1772600767, 0)
	cases := []struct {
		name      string
		secret    []byte
		ts, sig   string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      string
	}{
		{"valid", secret, ts, sig, body, at, time.Minute, ""},
		{"valid, clock 4m ahead, default tolerance", secret, ts, sig, body, at.Add(4 * time.Minute), 0, ""},
		{"stale", secret, ts, sig, body, at.Add(6 * time.Minute), 0, "webhook signature: timestamp 1772600767 is 6m0s away from now, more than 5m0s"},
		{"from the future", secret, ts, sig, body, at.Add(-2 * time.Minute), time.Minute, "webhook signature: timestamp 1772600767 is -2m0s away from now, more than 1m0s"},
		{"tampered body", secret, ts, sig, []byte(`{"version":1,"key":"K"}`), at, time.Minute, "webhook signature: does not match the body"},
		{"timestamp changed", secret, "1772600768", sig, body, at, time.Minute, "webhook signature: does not match the body"},
		{"wrong secret", []byte("another-secret-0123"), ts, sig, body, at, time.Minute, "webhook signature: does not match the body"},
		{"no prefix", secret, ts, sig[len("sha256="):], body, at, time.Minute, "webhook signature: X-Vigil-Signature does not start with sha256="},
		{"not hex", secret, ts, "sha256=zz", body, at, time.Minute, "webhook signature: X-Vigil-Signature is not hex"},
		{"empty signature", secret, ts, "", body, at, time.Minute, "webhook signature: X-Vigil-Signature does not start with sha256="},
		{"bad timestamp", secret, "yesterday", sig, body, at, time.Minute, `webhook signature: X-Vigil-Timestamp "yesterday" is not unix seconds`},
		{"no secret", nil, ts, sig, body, at, time.Minute, "webhook signature: no secret to verify with"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.secret, tc.ts, tc.sig, tc.body, tc.now, tc.tolerance)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.want || vigil.ErrorCode(err) != vigil.EUNAUTHORIZED {
				t.Fatalf("error %v (%s), want %q (unauthorized)", err, vigil.ErrorCode(err), tc.want)
			}
		})
	}
}
