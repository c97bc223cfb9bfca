package aws

import (
	"sort"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

// s3Buckets lists every seeded bucket.
func s3Buckets() []string {
	s := s3Seed
	return []string{s.publicRead, s.publicWrite, s.publicPolicy, s.tls, s.locked, s.logs, s.suspended,
		s.ignoreACLs, s.restricted, s.partial}
}

// statuses gives every seeded bucket the status def, except those listed.
func statuses(def vigil.Status, except map[string]vigil.Status) map[string]vigil.Status {
	out := map[string]vigil.Status{}
	for _, b := range s3Buckets() {
		out[b] = def
		if st, ok := except[b]; ok {
			out[b] = st
		}
	}
	return out
}

// assertVerdicts compares the verdicts of the listed checks exactly,
// resource by resource.
func assertVerdicts(t *testing.T, col *collected, want map[string]map[string]vigil.Status) {
	t.Helper()
	got := verdicts(t, col)
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		var why map[string]string
		names := map[string]bool{}
		for n := range want[id] {
			names[n] = true
		}
		for n := range got[id] {
			names[n] = true
		}
		for n := range names {
			if g, w := got[id][n], want[id][n]; g != w {
				if why == nil {
					why = reasons(t, col, id)
				}
				t.Errorf("%s on %s: got %q, want %q (%s)", id, n, g, w, why[n])
			}
		}
	}
}

func TestS3Verdicts(t *testing.T) {
	const (
		pass = vigil.StatusPass
		fail = vigil.StatusFail
		errs = vigil.StatusError
	)
	s := s3Seed
	acct := testenv.MotoAccount
	moto.Reset(t)
	seedS3(t)

	t.Run("no account block", func(t *testing.T) {
		col := collect(t, []string{"s3"}, "us-east-1", "eu-west-1")
		assertVerdicts(t, col, map[string]map[string]vigil.Status{
			"aws-s3-bucket-tls-only": statuses(fail, map[string]vigil.Status{s.tls: pass}),
			// moto ignores MFADelete in PutBucketVersioning, so no bucket
			// can pass here; the fixtures cover the passing case.
			"aws-s3-bucket-mfa-delete-enabled":   statuses(fail, nil),
			"aws-s3-bucket-block-public-access":  statuses(fail, map[string]vigil.Status{s.tls: pass}),
			"aws-s3-account-block-public-access": {acct: fail},
			"aws-s3-bucket-no-public-read": statuses(pass, map[string]vigil.Status{
				s.publicRead: fail, s.publicWrite: fail, s.publicPolicy: fail}),
			"aws-s3-bucket-no-public-write": statuses(pass, map[string]vigil.Status{s.publicWrite: fail}),
			"aws-s3-bucket-access-logging":  statuses(fail, map[string]vigil.Status{s.tls: pass}),
			"aws-s3-bucket-acls-disabled":   statuses(fail, map[string]vigil.Status{s.tls: pass}),
			"aws-s3-bucket-versioning-enabled": statuses(fail, map[string]vigil.Status{
				s.tls: pass, s.locked: pass}),
			"aws-s3-bucket-default-encryption": statuses(fail, map[string]vigil.Status{
				s.tls: pass, s.logs: pass, s.suspended: pass}),
			"aws-s3-bucket-kms-encryption": statuses(fail, map[string]vigil.Status{s.tls: pass}),
		})
	})

	t.Run("account block unreadable", func(t *testing.T) {
		col := collectS3With(t, denyS3Control)
		// The account setting matters only for a bucket that grants public
		// access and does not neutralise it itself: only those are unknown.
		// A bucket without a public grant is not exposed whatever the
		// account says, and one whose own IgnorePublicAcls or
		// RestrictPublicBuckets covers its grant is not exposed either.
		assertVerdicts(t, col, map[string]map[string]vigil.Status{
			"aws-s3-account-block-public-access": {acct: errs},
			"aws-s3-bucket-no-public-read": statuses(pass, map[string]vigil.Status{
				s.publicRead: errs, s.publicWrite: errs, s.publicPolicy: errs}),
			"aws-s3-bucket-no-public-write":     statuses(pass, map[string]vigil.Status{s.publicWrite: errs}),
			"aws-s3-bucket-block-public-access": statuses(fail, map[string]vigil.Status{s.tls: pass}),
			"aws-s3-bucket-tls-only":            statuses(fail, map[string]vigil.Status{s.tls: pass}),
		})
	})

	t.Run("account block on", func(t *testing.T) {
		putAccountBPA(t, true, true, true, true)
		col := collect(t, []string{"s3"}, "us-east-1", "eu-west-1")
		assertVerdicts(t, col, map[string]map[string]vigil.Status{
			"aws-s3-account-block-public-access": {acct: pass},
			// The account settings neutralise every public ACL and policy.
			"aws-s3-bucket-no-public-read":  statuses(pass, nil),
			"aws-s3-bucket-no-public-write": statuses(pass, nil),
			// The bucket-level check still asks for the bucket's own settings.
			"aws-s3-bucket-block-public-access": statuses(fail, map[string]vigil.Status{s.tls: pass}),
		})
	})
}
