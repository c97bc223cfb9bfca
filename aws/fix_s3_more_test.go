package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/policy"
)

// s3FixGrants renders a bucket's ACL grants in order, "TYPE who PERMISSION",
// with the owner's canonical id shown as "owner".
func s3FixGrants(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	acl, err := c.GetBucketAcl(context.Background(), &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, g := range acl.Grants {
		who := aws.ToString(g.Grantee.URI)
		if g.Grantee.Type == s3types.TypeCanonicalUser {
			who = aws.ToString(g.Grantee.ID)
			if who == aws.ToString(acl.Owner.ID) {
				who = "owner"
			}
		}
		out = append(out, string(g.Grantee.Type)+" "+who+" "+string(g.Permission))
	}
	return out
}

// s3FixPolicy returns a bucket's policy, "" when it has none.
func s3FixPolicy(t *testing.T, c *s3.Client, bucket string) string {
	t.Helper()
	out, err := c.GetBucketPolicy(context.Background(), &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if hasCode(err, "NoSuchBucketPolicy") {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Policy)
}

// s3SameJSON compares two JSON documents by value.
func s3SameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

// s3FixOpen asserts that the job's check fails on the resource as
// collected, so that a verified fix is the fix's doing.
func s3FixOpen(t *testing.T, j *fix.Job) {
	t.Helper()
	if o := j.Check.Evaluate(policy.NewInput(&j.Target.Resource, time.Now())); o.Status != vigil.StatusFail {
		t.Fatalf("%s on %s before the fix: %s: %s", j.Check.ID, j.Target.Resource.Name, o.Status, o.Reason)
	}
}

const s3FixPartner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"

func TestFixS3RemovePublicACL(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	for _, b := range []string{"acl-open", "acl-private"} {
		must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("acl-open")})
	if err != nil {
		t.Fatal(err)
	}
	group := func(uri string, p s3types.Permission) s3types.Grant {
		return s3types.Grant{Grantee: &s3types.Grantee{Type: s3types.TypeGroup, URI: aws.String(uri)}, Permission: p}
	}
	user := func(id string, p s3types.Permission) s3types.Grant {
		return s3types.Grant{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: aws.String(id)}, Permission: p}
	}
	const logDelivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
	must[any](t)(c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("acl-open"),
		AccessControlPolicy: &s3types.AccessControlPolicy{Owner: acl.Owner, Grants: []s3types.Grant{
			user(aws.ToString(acl.Owner.ID), s3types.PermissionFullControl),
			group("http://acs.amazonaws.com/groups/global/AllUsers", s3types.PermissionRead),
			group(logDelivery, s3types.PermissionWrite),
			group("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", s3types.PermissionReadAcp),
			user(s3FixPartner, s3types.PermissionRead),
		}}}))
	putAccountBPA(t, false, false, false, false)
	h := newFixHarness(t, []string{"s3"})
	before := []string{
		"CanonicalUser owner FULL_CONTROL",
		"Group http://acs.amazonaws.com/groups/global/AllUsers READ",
		"Group " + logDelivery + " WRITE",
		"Group http://acs.amazonaws.com/groups/global/AuthenticatedUsers READ_ACP",
		"CanonicalUser " + s3FixPartner + " READ",
	}
	if got := s3FixGrants(t, c, "acl-open"); !reflect.DeepEqual(got, before) {
		t.Fatalf("seeded ACL %v", got)
	}

	// No check names the action (the public-read and -write checks name
	// block-public-access); it makes aws-s3-bucket-no-public-read pass on
	// a bucket public only by its ACL.
	j, f, p := h.planWith("aws-s3-bucket-no-public-read", "aws.s3.remove-public-acl", h.uid(TypeS3Bucket, "acl-open"), nil)
	s3FixOpen(t, j)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutBucketAcl"}) {
		t.Fatalf("planned calls %v", got)
	}
	if grants, _ := p.Calls[0].Input["Grants"].([]any); len(grants) != 3 {
		t.Errorf("planned grants %v, want the owner's, LogDelivery's and the partner's", p.Calls[0].Input["Grants"])
	}
	if got := s3FixGrants(t, c, "acl-open"); !reflect.DeepEqual(got, before) {
		t.Fatalf("the plan changed the ACL: %v", got)
	}
	done := h.apply(j, f, p)
	want := []string{"CanonicalUser owner FULL_CONTROL", "Group " + logDelivery + " WRITE", "CanonicalUser " + s3FixPartner + " READ"}
	if got := s3FixGrants(t, c, "acl-open"); !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %v, want %v", got, want)
	}
	if pub, _ := done.After["public"].(map[string]any); pub["acl"] != false {
		t.Errorf("after: public %v", done.After["public"])
	}
	h.undo(done.ID)
	if got := s3FixGrants(t, c, "acl-open"); !reflect.DeepEqual(got, before) {
		t.Errorf("after undo: %v, want %v", got, before)
	}

	// A private ACL: nothing to change.
	_, _, p = h.planWith("aws-s3-bucket-no-public-read", "aws.s3.remove-public-acl", h.uid(TypeS3Bucket, "acl-private"), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("private bucket: plan %+v", p)
	}
}

func TestFixS3EnableDefaultEncryption(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, b := range []string{"unencrypted", "sse-s3"} {
		must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	must[any](t)(c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("sse-s3"),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{
			{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}}))
	h := newFixHarness(t, []string{"s3"})
	// enc renders the default encryption: "none" or "ALGORITHM KEY bucket-key".
	enc := func(bucket string) string {
		t.Helper()
		out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(bucket)})
		if hasCode(err, "ServerSideEncryptionConfigurationNotFoundError") {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, r := range out.ServerSideEncryptionConfiguration.Rules {
			d := r.ApplyServerSideEncryptionByDefault
			rules = append(rules, string(d.SSEAlgorithm)+" "+aws.ToString(d.KMSMasterKeyID)+" "+
				map[bool]string{true: "bucket-key", false: "no-bucket-key"}[aws.ToBool(r.BucketKeyEnabled)])
		}
		return strings.Join(rules, "; ")
	}
	for _, tc := range []struct {
		name, check, bucket string
		params              map[string]any
		input               map[string]any
		before, after       string
	}{
		{name: "SSE-S3 where there was none", check: "aws-s3-bucket-default-encryption", bucket: "unencrypted",
			input: map[string]any{"Bucket": "unencrypted", "Rules": []any{map[string]any{"sse_algorithm": "AES256",
				"kms_master_key_id": nil, "bucket_key_enabled": false}}},
			before: "none", after: "AES256  no-bucket-key"},
		// The KMS check names no action; this one makes it pass with a key.
		{name: "SSE-KMS over SSE-S3", check: "aws-s3-bucket-kms-encryption", bucket: "sse-s3", params: map[string]any{"kms_key_id": key},
			input: map[string]any{"Bucket": "sse-s3", "Rules": []any{map[string]any{"sse_algorithm": "aws:kms",
				"kms_master_key_id": key, "bucket_key_enabled": true}}},
			before: "AES256  no-bucket-key", after: "aws:kms " + key + " bucket-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			action := ""
			if tc.check != "aws-s3-bucket-default-encryption" {
				action = "aws.s3.enable-default-encryption"
			}
			j, f, p := h.planWith(tc.check, action, h.uid(TypeS3Bucket, tc.bucket), tc.params)
			s3FixOpen(t, j)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutBucketEncryption"}) {
				t.Fatalf("planned calls %v", got)
			}
			if !reflect.DeepEqual(p.Calls[0].Input, tc.input) {
				t.Errorf("planned input %v, want %v", p.Calls[0].Input, tc.input)
			}
			if got := enc(tc.bucket); got != tc.before {
				t.Fatalf("the plan changed the bucket: %s", got)
			}
			done := h.apply(j, f, p)
			if got := enc(tc.bucket); got != tc.after {
				t.Errorf("after the fix: %q, want %q", got, tc.after)
			}
			h.undo(done.ID)
			if got := enc(tc.bucket); got != tc.before {
				t.Errorf("after undo: %q, want %q", got, tc.before)
			}
		})
	}

	// Already encrypted: nothing to change for the default-encryption check.
	_, _, p := h.plan("aws-s3-bucket-default-encryption", h.uid(TypeS3Bucket, "sse-s3"), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("encrypted bucket: plan %+v", p)
	}
}

func TestFixS3EnableVersioning(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	for _, b := range []string{"never-versioned", "suspended"} {
		must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	for _, st := range []s3types.BucketVersioningStatus{s3types.BucketVersioningStatusEnabled, s3types.BucketVersioningStatusSuspended} {
		must[any](t)(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("suspended"),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: st}}))
	}
	h := newFixHarness(t, []string{"s3"})
	status := func(bucket string) string {
		t.Helper()
		out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Status)
	}
	// AWS cannot return a bucket to unversioned: undo suspends it.
	for _, tc := range []struct{ bucket, before, undone string }{
		{"never-versioned", "", "Suspended"},
		{"suspended", "Suspended", "Suspended"},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			j, f, p := h.plan("aws-s3-bucket-versioning-enabled", h.uid(TypeS3Bucket, tc.bucket), nil)
			s3FixOpen(t, j)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutBucketVersioning"}) {
				t.Fatalf("planned calls %v", got)
			}
			if want := (map[string]any{"versioning": map[string]any{"status": tc.before, "mfa_delete": ""}}); !reflect.DeepEqual(p.Before, want) {
				t.Errorf("before %v, want %v", p.Before, want)
			}
			if got := status(tc.bucket); got != tc.before {
				t.Fatalf("the plan changed the bucket: %q", got)
			}
			done := h.apply(j, f, p)
			if got := status(tc.bucket); got != "Enabled" {
				t.Errorf("after the fix: %q", got)
			}
			h.undo(done.ID)
			if got := status(tc.bucket); got != tc.undone {
				t.Errorf("after undo: %q, want %q", got, tc.undone)
			}
		})
	}
}

func TestFixS3DenyInsecureTransport(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	for _, b := range []string{"no-policy", "partner", "tls-only"} {
		must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	// A partner grant and a Deny of HTTP reads only, whose Sid the new
	// statement must not reuse.
	const partner = `{"Version":"2012-10-17","Id":"PartnerAccess","Statement":[` +
		`{"Sid":"AllowPartner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::partner/*"},` +
		`{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::partner/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	must[any](t)(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("partner"), Policy: aws.String(partner)}))
	must[any](t)(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("tls-only"), Policy: sprintf(tlsOnlyPolicy, "tls-only")}))
	h := newFixHarness(t, []string{"s3"})
	deny := func(sid, bucket string) string {
		return `{"Sid":"` + sid + `","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::` + bucket +
			`","arn:aws:s3:::` + bucket + `/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	}
	for _, tc := range []struct{ bucket, before, after string }{
		{"no-policy", "", `{"Version":"2012-10-17","Statement":[` + deny("DenyInsecureTransport", "no-policy") + `]}`},
		{"partner", partner, strings.TrimSuffix(partner, "]}") + "," + deny("DenyInsecureTransport2", "partner") + "]}"},
	} {
		t.Run(tc.bucket, func(t *testing.T) {
			j, f, p := h.plan("aws-s3-bucket-tls-only", h.uid(TypeS3Bucket, tc.bucket), nil)
			s3FixOpen(t, j)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutBucketPolicy"}) {
				t.Fatalf("planned calls %v", got)
			}
			// The edit keeps every byte of the existing statements.
			if got := p.Calls[0].Input["Policy"]; got != tc.after {
				t.Errorf("planned policy\n%v\nwant\n%s", got, tc.after)
			}
			if got := s3FixPolicy(t, c, tc.bucket); got != tc.before {
				t.Fatalf("the plan changed the policy: %s", got)
			}
			done := h.apply(j, f, p)
			if got := s3FixPolicy(t, c, tc.bucket); !s3SameJSON(t, got, tc.after) {
				t.Errorf("after the fix:\n%s\nwant\n%s", got, tc.after)
			}
			h.undo(done.ID)
			if got := s3FixPolicy(t, c, tc.bucket); got != tc.before {
				t.Errorf("after undo:\n%s\nwant\n%s", got, tc.before)
			}
		})
	}

	// A policy that already denies HTTP: nothing to change.
	_, _, p := h.plan("aws-s3-bucket-tls-only", h.uid(TypeS3Bucket, "tls-only"), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("TLS-only bucket: plan %+v", p)
	}
}

// TestFixS3DenyInsecureTransportFails makes the action's one call fail:
// the fix is recorded as failed with the error, and the bucket keeps its
// (missing) policy. A plan gone stale fails without a call.
func TestFixS3DenyInsecureTransportFails(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("no-policy")}))
	h := newFixHarness(t, []string{"s3"})
	j, f, p := h.plan("aws-s3-bucket-tls-only", h.uid(TypeS3Bucket, "no-policy"), nil)
	s3FixOpen(t, j)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("PutBucketPolicy", func(any) any {
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != vigil.FixFailed || !strings.Contains(out.Reason, "AccessDenied") {
		t.Errorf("fix %s: %s", out.Status, out.Reason)
	}
	if len(out.Calls) != 1 || out.Calls[0].Operation != "s3:PutBucketPolicy" || !strings.Contains(out.Calls[0].Error, "AccessDenied: denied") {
		t.Errorf("calls %+v", out.Calls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != out.Reason || !reflect.DeepEqual(operations(stored.Calls), []string{"s3:PutBucketPolicy"}) ||
		stored.Calls[0].Error != out.Calls[0].Error {
		t.Errorf("stored %s: %s, calls %+v", stored.Status, stored.Reason, stored.Calls)
	}
	if got := s3FixPolicy(t, c, "no-policy"); got != "" {
		t.Errorf("the failed fix left a policy: %s", got)
	}

	// A policy written between plan and apply is not overwritten.
	h.fixer.APIOptions = nil
	j, f, p = h.plan("aws-s3-bucket-tls-only", h.uid(TypeS3Bucket, "no-policy"), nil)
	meanwhile := *sprintf(publicReadPolicy, "no-policy")
	must[any](t)(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("no-policy"), Policy: aws.String(meanwhile)}))
	out, err = h.runner.Apply(ctx, j, f, p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != vigil.FixFailed || !strings.Contains(out.Reason, "changed since the plan") || len(out.Calls) != 0 {
		t.Errorf("stale plan: %s: %s, calls %+v", out.Status, out.Reason, out.Calls)
	}
	if got := s3FixPolicy(t, c, "no-policy"); got != meanwhile {
		t.Errorf("stale plan: policy %s, want %s", got, meanwhile)
	}
}

func TestFixS3AccountBlockPublicAccess(t *testing.T) {
	ctx := context.Background()
	// bpa renders the account's configuration, "none" or the four flags.
	bpa := func(t *testing.T) string {
		t.Helper()
		out, err := s3controlClient(t).GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(testenv.MotoAccount)})
		if hasCode(err, "NoSuchPublicAccessBlockConfiguration") {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		pc := out.PublicAccessBlockConfiguration
		return fmt.Sprint(aws.ToBool(pc.BlockPublicAcls), aws.ToBool(pc.IgnorePublicAcls),
			aws.ToBool(pc.BlockPublicPolicy), aws.ToBool(pc.RestrictPublicBuckets))
	}
	for _, tc := range []struct {
		name   string
		seed   func(t *testing.T)
		before string
	}{
		{"none", func(*testing.T) {}, "none"},
		{"partial", func(t *testing.T) { putAccountBPA(t, true, true, false, false) }, "true true false false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moto.Reset(t)
			tc.seed(t)
			h := newFixHarness(t, []string{"s3"})
			j, f, p := h.plan("aws-s3-account-block-public-access", h.col.account(t).UID, nil)
			s3FixOpen(t, j)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3control:PutPublicAccessBlock"}) {
				t.Fatalf("planned calls %v", got)
			}
			if got := bpa(t); got != tc.before {
				t.Fatalf("the plan changed the account: %s", got)
			}
			done := h.apply(j, f, p)
			if got := bpa(t); got != "true true true true" {
				t.Errorf("after the fix: %s", got)
			}
			if got := done.After["s3_public_access_block"]; !reflect.DeepEqual(got, bpaProp(true, true, true, true)) {
				t.Errorf("after: %v", got)
			}
			h.undo(done.ID)
			if got := bpa(t); got != tc.before {
				t.Errorf("after undo: %s, want %s", got, tc.before)
			}
		})
	}
}

func TestFixS3RemovePublicPolicyStatements(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := s3Client(t, "us-east-1")
	for _, b := range []string{"mixed", "only-public", "private-policy"} {
		must[any](t)(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	const (
		partnerStmt = `{"Sid":"AllowPartner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::mixed/*"}`
		readStmt    = `{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::mixed/*"}`
		vpceStmt    = `{"Sid":"ReadFromVpce","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::mixed/*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}`
		// Public too, but hidden by PublicRead, which covers the same
		// objects: the engine names it on the second round only.
		againStmt = `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::mixed/public/*"}`
		denyStmt  = `{"Sid":"DenyHTTP","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::mixed","arn:aws:s3:::mixed/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	)
	mixed := `{"Version":"2012-10-17","Statement":[` + strings.Join([]string{partnerStmt, readStmt, vpceStmt, againStmt, denyStmt}, ",") + `]}`
	onlyPublic := sprintf(publicWritePolicy, "only-public")
	private := sprintf(tlsOnlyPolicy, "private-policy")
	for b, doc := range map[string]string{"mixed": mixed, "only-public": *onlyPublic, "private-policy": *private} {
		must[any](t)(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b), Policy: aws.String(doc)}))
	}
	putAccountBPA(t, false, false, false, false)
	h := newFixHarness(t, []string{"s3"})
	for _, tc := range []struct {
		name, check, bucket, before string
		call, after                 string // after "" when the policy is deleted
		step                        string
	}{
		{"public statements among others", "aws-s3-bucket-no-public-read", "mixed", mixed, "s3:PutBucketPolicy",
			`{"Version":"2012-10-17","Statement":[` + strings.Join([]string{partnerStmt, vpceStmt, denyStmt}, ",") + `]}`,
			`remove the public statements Statement[1] "PublicRead", Statement[3] from the policy of bucket mixed, keeping its 3 other statements`},
		{"nothing but a public statement", "aws-s3-bucket-no-public-write", "only-public", *onlyPublic, "s3:DeleteBucketPolicy", "",
			`delete the policy of bucket only-public: every statement makes it public (Statement[0])`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, f, p := h.planWith(tc.check, "aws.s3.remove-public-policy-statements", h.uid(TypeS3Bucket, tc.bucket), nil)
			s3FixOpen(t, j)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{tc.call}) {
				t.Fatalf("planned calls %v", got)
			}
			if !reflect.DeepEqual(p.Steps, []string{tc.step}) {
				t.Errorf("plan %q, want %q", p.Steps, tc.step)
			}
			if got, _ := p.Calls[0].Input["Policy"].(string); got != tc.after {
				t.Errorf("planned policy\n%s\nwant\n%s", got, tc.after)
			}
			if got := s3FixPolicy(t, c, tc.bucket); got != tc.before {
				t.Fatalf("the plan changed the policy: %s", got)
			}
			done := h.apply(j, f, p)
			got := s3FixPolicy(t, c, tc.bucket)
			if tc.after == "" && got != "" || tc.after != "" && !s3SameJSON(t, got, tc.after) {
				t.Errorf("after the fix:\n%s\nwant\n%s", got, tc.after)
			}
			if pub, _ := done.After["public"].(map[string]any); pub["policy"] != false {
				t.Errorf("after: public %v", done.After["public"])
			}
			h.undo(done.ID)
			if got := s3FixPolicy(t, c, tc.bucket); got != tc.before {
				t.Errorf("after undo:\n%s\nwant\n%s", got, tc.before)
			}
		})
	}

	// A policy that is not public: nothing to change.
	_, _, p := h.planWith("aws-s3-bucket-no-public-read", "aws.s3.remove-public-policy-statements", h.uid(TypeS3Bucket, "private-policy"), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("private policy: plan %+v", p)
	}
}
