package aws

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/iampolicy"
	"github.com/vigilsec/vigil/internal/testenv"
)

// Bucket policies the S3 tests seed. %s is the bucket name.
const (
	// tlsOnlyPolicy is AWS's documented deny-HTTP statement next to an
	// ordinary cross-account grant.
	tlsOnlyPolicy = `{"Version":"2012-10-17","Statement":[
		{"Sid":"AllowPartner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"},
		{"Sid":"DenyHTTP","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::%[1]s","arn:aws:s3:::%[1]s/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	// publicReadPolicy is the static-website policy: anyone may read objects.
	publicReadPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}`
	// publicWritePolicy lets anyone upload.
	publicWritePolicy = `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::%s/*"}}`
	// partialTLSPolicy denies HTTP reads only, and anyone may read from
	// one VPC endpoint (a condition: not public under the interim rule).
	partialTLSPolicy = `{"Version":"2012-10-17","Statement":[
		{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
		{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::%[1]s/*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}}]}`
)

// s3Seed is the estate the S3 tests seed: one bucket per branch of the
// collector and of the checks.
var s3Seed = struct{ publicRead, publicWrite, publicPolicy, tls, locked, logs, suspended, ignoreACLs, restricted, partial string }{
	publicRead:   "acl-public-read",      // public-read ACL, ACLs enabled (ObjectWriter)
	publicWrite:  "acl-public-write",     // public-read-write ACL
	publicPolicy: "policy-public-read",   // eu-west-1, public read policy, bucket BPA explicitly off
	tls:          "tls-only",             // the well-configured bucket
	locked:       "object-locked",        // object lock, governance 30 days
	logs:         "access-logs",          // log-delivery-write ACL, the logging target
	suspended:    "versioning-suspended", // versioning suspended, SSE-S3
	ignoreACLs:   "ignore-public-acls",   // public-read ACL neutralised by IgnorePublicAcls
	restricted:   "restrict-public",      // public write policy neutralised by RestrictPublicBuckets
	partial:      "tls-partial",          // HTTP denied for GetObject only; conditional public allow
}

func s3Client(t *testing.T, region string) *s3.Client {
	return s3.NewFromConfig(moto.Config(t, region), func(o *s3.Options) { o.UsePathStyle = true })
}

func s3controlClient(t *testing.T) *s3control.Client {
	return s3control.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3control.Options) {
		o.EndpointResolverV2 = noAccountHost{s3control.NewDefaultEndpointResolverV2()}
	})
}

func must[T any](t *testing.T) func(T, error) {
	return func(_ T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func sprintf(format, name string) *string {
	return aws.String(strings.ReplaceAll(strings.ReplaceAll(format, "%[1]s", name), "%s", name))
}

// seedS3 creates the s3Seed buckets.
func seedS3(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c, eu := s3Client(t, "us-east-1"), s3Client(t, "eu-west-1")
	ok := must[any](t)
	create := func(name string, in *s3.CreateBucketInput) {
		t.Helper()
		in.Bucket = aws.String(name)
		cl := c
		if in.CreateBucketConfiguration != nil {
			cl = eu
		}
		ok(cl.CreateBucket(ctx, in))
	}
	bpa := func(name string, acls, ignore, policy, restrict bool) {
		t.Helper()
		ok(c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(name),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: &acls,
				IgnorePublicAcls: &ignore, BlockPublicPolicy: &policy, RestrictPublicBuckets: &restrict}}))
	}
	policy := func(name, doc string) {
		t.Helper()
		ok(c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(name), Policy: sprintf(doc, name)}))
	}
	versioning := func(name string, status s3types.BucketVersioningStatus) {
		t.Helper()
		ok(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: status}}))
	}
	encryption := func(name string, alg s3types.ServerSideEncryption, key string) {
		t.Helper()
		def := &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: alg}
		if key != "" {
			def.KMSMasterKeyID = aws.String(key)
		}
		ok(c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(name),
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{
				{ApplyServerSideEncryptionByDefault: def, BucketKeyEnabled: aws.Bool(key != "")}}}}))
	}
	// grants sets the ACL to the owner's full control plus the permissions
	// for a group.
	grants := func(name, group string, perms ...s3types.Permission) {
		t.Helper()
		acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		gs := []s3types.Grant{{Grantee: &s3types.Grantee{Type: s3types.TypeCanonicalUser, ID: acl.Owner.ID},
			Permission: s3types.PermissionFullControl}}
		for _, p := range perms {
			gs = append(gs, s3types.Grant{Grantee: &s3types.Grantee{Type: s3types.TypeGroup, URI: aws.String(group)}, Permission: p})
		}
		ok(c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(name),
			AccessControlPolicy: &s3types.AccessControlPolicy{Owner: acl.Owner, Grants: gs}}))
	}
	ownership := func(name string, o s3types.ObjectOwnership) {
		t.Helper()
		ok(c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String(name),
			OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: o}}}}))
	}

	create(s3Seed.publicRead, &s3.CreateBucketInput{ACL: s3types.BucketCannedACLPublicRead})
	ownership(s3Seed.publicRead, s3types.ObjectOwnershipObjectWriter)

	// moto reports only the first permission of a grant, so public-read-write
	// (and log-delivery-write below) are spelt out one grant per permission.
	create(s3Seed.publicWrite, &s3.CreateBucketInput{})
	grants(s3Seed.publicWrite, iampolicy.AllUsersGroup, s3types.PermissionRead, s3types.PermissionWrite)

	create(s3Seed.publicPolicy, &s3.CreateBucketInput{CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
		LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	ok(eu.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(s3Seed.publicPolicy),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(false),
			IgnorePublicAcls: aws.Bool(false), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}}))
	ok(eu.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(s3Seed.publicPolicy),
		Policy: sprintf(publicReadPolicy, s3Seed.publicPolicy)}))

	create(s3Seed.logs, &s3.CreateBucketInput{})
	grants(s3Seed.logs, "http://acs.amazonaws.com/groups/s3/LogDelivery", s3types.PermissionWrite, s3types.PermissionReadAcp)
	encryption(s3Seed.logs, s3types.ServerSideEncryptionAes256, "")

	create(s3Seed.tls, &s3.CreateBucketInput{})
	policy(s3Seed.tls, tlsOnlyPolicy)
	bpa(s3Seed.tls, true, true, true, true)
	encryption(s3Seed.tls, s3types.ServerSideEncryptionAwsKms, "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	versioning(s3Seed.tls, s3types.BucketVersioningStatusEnabled)
	ok(c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String(s3Seed.tls),
		BucketLoggingStatus: &s3types.BucketLoggingStatus{LoggingEnabled: &s3types.LoggingEnabled{
			TargetBucket: aws.String(s3Seed.logs), TargetPrefix: aws.String("tls-only/")}}}))
	ownership(s3Seed.tls, s3types.ObjectOwnershipBucketOwnerEnforced)
	ok(c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(s3Seed.tls),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("env"), Value: aws.String("prod")},
			{Key: aws.String("owner"), Value: aws.String("data-team")}}}}))

	create(s3Seed.locked, &s3.CreateBucketInput{ObjectLockEnabledForBucket: aws.Bool(true)})
	ok(c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String(s3Seed.locked),
		ObjectLockConfiguration: &s3types.ObjectLockConfiguration{ObjectLockEnabled: s3types.ObjectLockEnabledEnabled,
			Rule: &s3types.ObjectLockRule{DefaultRetention: &s3types.DefaultRetention{
				Mode: s3types.ObjectLockRetentionModeGovernance, Days: aws.Int32(30)}}}}))

	create(s3Seed.suspended, &s3.CreateBucketInput{})
	versioning(s3Seed.suspended, s3types.BucketVersioningStatusEnabled)
	versioning(s3Seed.suspended, s3types.BucketVersioningStatusSuspended)
	encryption(s3Seed.suspended, s3types.ServerSideEncryptionAes256, "")

	create(s3Seed.ignoreACLs, &s3.CreateBucketInput{ACL: s3types.BucketCannedACLPublicRead})
	bpa(s3Seed.ignoreACLs, false, true, false, false)

	create(s3Seed.restricted, &s3.CreateBucketInput{})
	policy(s3Seed.restricted, publicWritePolicy)
	bpa(s3Seed.restricted, false, false, false, true)

	create(s3Seed.partial, &s3.CreateBucketInput{})
	policy(s3Seed.partial, partialTLSPolicy)
}

// putAccountBPA sets the account-level Block Public Access configuration.
func putAccountBPA(t *testing.T, acls, ignore, policy, restrict bool) {
	t.Helper()
	must[any](t)(s3controlClient(t).PutPublicAccessBlock(context.Background(), &s3control.PutPublicAccessBlockInput{
		AccountId: aws.String(testenv.MotoAccount),
		PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{BlockPublicAcls: &acls,
			IgnorePublicAcls: &ignore, BlockPublicPolicy: &policy, RestrictPublicBuckets: &restrict}}))
}

func bpaProp(acls, ignore, policy, restrict bool) map[string]any {
	return map[string]any{"block_public_acls": acls, "ignore_public_acls": ignore,
		"block_public_policy": policy, "restrict_public_buckets": restrict}
}

func publicProp(policy, policyRead, policyWrite, acl, aclRead, aclWrite bool) map[string]any {
	return map[string]any{"policy": policy, "policy_read": policyRead, "policy_write": policyWrite,
		"acl": acl, "acl_read": aclRead, "acl_write": aclWrite}
}

// assertProps compares the listed properties of r exactly.
func assertProps(t *testing.T, r vigil.Resource, want map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := r.Properties[k]
		if !ok {
			t.Errorf("%s: property %s absent (read errors %v)", r.Name, k, r.ReadErrors)
			continue
		}
		if !reflect.DeepEqual(got, want[k]) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want[k])
			t.Errorf("%s.%s =\n  %s\nwant\n  %s", r.Name, k, g, w)
		}
	}
}

// grantsTo returns the ACL grants of r as "grantee permission" strings,
// sorted, with the owner's canonical id shown as "owner".
func grantsTo(t *testing.T, r vigil.Resource) []string {
	t.Helper()
	acl := r.Properties["acl"].(map[string]any)
	owner := acl["owner"].(map[string]any)["id"]
	var out []string
	for _, g := range acl["grants"].([]any) {
		m := g.(map[string]any)
		who := m["uri"]
		if m["type"] == "CanonicalUser" {
			who = "id:" + m["id"].(string)
			if m["id"] == owner {
				who = "owner"
			}
		}
		out = append(out, who.(string)+" "+m["permission"].(string))
	}
	sort.Strings(out)
	return out
}

func TestS3Buckets(t *testing.T) {
	moto.Reset(t)
	seedS3(t)
	got := collect(t, []string{"s3"}, "us-east-1", "eu-west-1")
	buckets := got.ofType(TypeS3Bucket)
	if len(buckets) != 10 {
		t.Fatalf("got %d buckets, want 10: %v", len(buckets), buckets)
	}
	if len(got.readErrors) != 0 {
		t.Fatalf("read errors: %v", got.readErrors)
	}
	wantKeys := []string{"acl", "created", "effective_public_access_block", "encryption", "logging", "object_lock",
		"ownership_controls", "policy", "policy_public_reason", "public", "public_access_block", "tls_only", "versioning"}
	for name, r := range buckets {
		var keys []string
		for k := range r.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !reflect.DeepEqual(keys, wantKeys) {
			t.Errorf("%s: properties %v, want %v", name, keys, wantKeys)
		}
		if r.UID != "arn:aws:s3:::"+name {
			t.Errorf("%s: uid %s", name, r.UID)
		}
		wantRegion := "us-east-1"
		if name == s3Seed.publicPolicy {
			wantRegion = "eu-west-1"
		}
		if r.Region != wantRegion {
			t.Errorf("%s: region %s, want %s", name, r.Region, wantRegion)
		}
	}
	if a := got.account(t); !reflect.DeepEqual(a.Properties["s3_public_access_block"], nil) {
		t.Errorf("account s3_public_access_block = %v, want null", a.Properties["s3_public_access_block"])
	} else if _, ok := a.Properties["s3_public_access_block"]; !ok {
		t.Errorf("account s3_public_access_block absent: %v", a.ReadErrors)
	}

	const (
		allUsers = "http://acs.amazonaws.com/groups/global/AllUsers"
		logGroup = "http://acs.amazonaws.com/groups/s3/LogDelivery"
	)
	off := bpaProp(false, false, false, false)
	notVersioned := map[string]any{"status": "", "mfa_delete": ""}
	for _, tc := range []struct {
		bucket string
		grants []string
		props  map[string]any
	}{
		{s3Seed.publicRead, []string{allUsers + " READ", "owner FULL_CONTROL"}, map[string]any{
			"policy": nil, "public_access_block": nil, "effective_public_access_block": off, "tls_only": false,
			"public": publicProp(false, false, false, true, true, false), "encryption": nil,
			"versioning": notVersioned, "logging": nil, "object_lock": nil,
			"ownership_controls": map[string]any{"object_ownership": "ObjectWriter"},
		}},
		{s3Seed.publicWrite, []string{allUsers + " READ", allUsers + " WRITE", "owner FULL_CONTROL"}, map[string]any{
			"public":             publicProp(false, false, false, true, true, true),
			"ownership_controls": nil, "tls_only": false,
		}},
		{s3Seed.publicPolicy, []string{"owner FULL_CONTROL"}, map[string]any{
			"policy":              parsePolicy(*sprintf(publicReadPolicy, s3Seed.publicPolicy)),
			"public_access_block": off, "effective_public_access_block": off, "tls_only": false,
			"public": publicProp(true, true, false, false, false, false),
		}},
		{s3Seed.tls, []string{"owner FULL_CONTROL"}, map[string]any{
			"policy":              parsePolicy(*sprintf(tlsOnlyPolicy, s3Seed.tls)),
			"tls_only":            true,
			"public":              publicProp(false, false, false, false, false, false),
			"public_access_block": bpaProp(true, true, true, true), "effective_public_access_block": bpaProp(true, true, true, true),
			"encryption": map[string]any{"rules": []any{map[string]any{"sse_algorithm": "aws:kms",
				"kms_master_key_id": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", "bucket_key_enabled": true}}},
			"versioning":         map[string]any{"status": "Enabled", "mfa_delete": ""},
			"logging":            map[string]any{"target_bucket": s3Seed.logs, "target_prefix": "tls-only/"},
			"ownership_controls": map[string]any{"object_ownership": "BucketOwnerEnforced"},
			"object_lock":        nil,
		}},
		{s3Seed.locked, []string{"owner FULL_CONTROL"}, map[string]any{
			"object_lock": map[string]any{"enabled": true, "mode": "GOVERNANCE", "days": int64(30), "years": nil},
			"versioning":  map[string]any{"status": "Enabled", "mfa_delete": ""},
		}},
		{s3Seed.logs, []string{logGroup + " READ_ACP", logGroup + " WRITE", "owner FULL_CONTROL"}, map[string]any{
			"public": publicProp(false, false, false, false, false, false),
			"encryption": map[string]any{"rules": []any{map[string]any{"sse_algorithm": "AES256",
				"kms_master_key_id": nil, "bucket_key_enabled": false}}},
		}},
		{s3Seed.suspended, nil, map[string]any{
			"versioning": map[string]any{"status": "Suspended", "mfa_delete": ""},
		}},
		{s3Seed.ignoreACLs, []string{allUsers + " READ", "owner FULL_CONTROL"}, map[string]any{
			"public_access_block":           bpaProp(false, true, false, false),
			"effective_public_access_block": bpaProp(false, true, false, false),
			"public":                        publicProp(false, false, false, true, true, false),
		}},
		{s3Seed.restricted, nil, map[string]any{
			"public_access_block":           bpaProp(false, false, false, true),
			"effective_public_access_block": bpaProp(false, false, false, true),
			"public":                        publicProp(true, false, true, false, false, false),
			"tls_only":                      false,
		}},
		{s3Seed.partial, nil, map[string]any{
			"public":   publicProp(false, false, false, false, false, false),
			"tls_only": false,
		}},
	} {
		r, ok := buckets[tc.bucket]
		if !ok {
			t.Errorf("bucket %s not collected", tc.bucket)
			continue
		}
		assertProps(t, r, tc.props)
		if tc.grants != nil {
			if g := grantsTo(t, r); !reflect.DeepEqual(g, tc.grants) {
				t.Errorf("%s: grants %q, want %q", tc.bucket, g, tc.grants)
			}
		}
	}
	if tags := buckets[s3Seed.tls].Tags; !reflect.DeepEqual(tags, map[string]string{"env": "prod", "owner": "data-team"}) {
		t.Errorf("tls-only tags = %v", tags)
	}
	if tags := buckets[s3Seed.publicRead].Tags; tags != nil {
		t.Errorf("untagged bucket has tags %v", tags)
	}
}

func TestS3AccountPublicAccessBlock(t *testing.T) {
	moto.Reset(t)
	seedS3(t)
	putAccountBPA(t, true, true, false, true)
	got := collect(t, []string{"s3"}, "us-east-1")
	if len(got.readErrors) != 0 {
		t.Fatalf("read errors: %v", got.readErrors)
	}
	assertProps(t, got.account(t), map[string]any{"s3_public_access_block": bpaProp(true, true, false, true)})
	buckets := got.ofType(TypeS3Bucket)
	// The effective settings are the OR of the bucket's and the account's.
	assertProps(t, buckets[s3Seed.publicRead], map[string]any{
		"public_access_block": nil, "effective_public_access_block": bpaProp(true, true, false, true)})
	assertProps(t, buckets[s3Seed.tls], map[string]any{
		"effective_public_access_block": bpaProp(true, true, true, true)})
}

// denyS3Control makes every S3 Control call fail as AccessDenied, as for a
// scanning role without s3:GetAccountPublicAccessBlock.
var denyS3Control = func(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("DenyS3Control",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) == "S3 Control" {
				return middleware.InitializeOutput{}, middleware.Metadata{},
					&smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform s3:GetAccountPublicAccessBlock"}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After) // after the operation's metadata, which names the service
}

// collectS3With runs the s3 collector alone with extra SDK API options.
func collectS3With(t *testing.T, apiOptions ...func(*middleware.Stack) error) *collected {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c, err := New(Options{Endpoint: moto.URL, Regions: []string{"us-east-1"}, Services: []string{"s3"},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := c.Resolve(ctx, Target{})
	if err != nil {
		t.Fatal(err)
	}
	base, err := c.base(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	cfg := base.Copy()
	cfg.APIOptions = append(append([]func(*middleware.Stack) error{}, base.APIOptions...), apiOptions...)
	out := &collected{resources: map[string]vigil.Resource{}}
	syn := newSynthetic(acct.ID, "aws", []string{"us-east-1"}, now)
	tk := &task{c: c, acct: acct, region: "us-east-1", cfg: cfg, svc: services["s3"], sink: out, syn: syn}
	if err := tk.run(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range syn.resources() {
		if err := out.Resource(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestS3AccountPublicAccessBlockUnreadable(t *testing.T) {
	moto.Reset(t)
	seedS3(t)
	got := collectS3With(t, denyS3Control)

	acct := got.account(t)
	if _, ok := acct.Properties["s3_public_access_block"]; ok {
		t.Errorf("account s3_public_access_block present: %v", acct.Properties["s3_public_access_block"])
	}
	if e, ok := acct.ReadErrorFor("s3_public_access_block"); !ok || e.Code != vigil.EFORBIDDEN || e.Operation != "s3control:GetPublicAccessBlock" {
		t.Errorf("account read error = %+v (found %v), want EFORBIDDEN from s3control:GetPublicAccessBlock", e, ok)
	}
	buckets := got.ofType(TypeS3Bucket)
	if len(buckets) != 10 {
		t.Fatalf("got %d buckets, want 10", len(buckets))
	}
	// A setting on at the bucket is on whatever the account says; one off
	// at the bucket is unknown, never off.
	for name, want := range map[string]map[string]any{
		s3Seed.tls:        bpaProp(true, true, true, true),
		s3Seed.ignoreACLs: {"ignore_public_acls": true},
		s3Seed.restricted: {"restrict_public_buckets": true},
		s3Seed.publicRead: {},
	} {
		r := buckets[name]
		if got := r.Properties["effective_public_access_block"]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: effective_public_access_block = %v, want %v", name, got, want)
		}
		for _, f := range bpaFlags {
			e, failed := r.ReadErrorFor("effective_public_access_block." + f)
			if _, known := want[f]; known == failed {
				t.Errorf("%s: %s known %v but read error %v", name, f, known, failed)
			} else if failed && e.Code != vigil.EFORBIDDEN {
				t.Errorf("%s: %s read error %+v", name, f, e)
			}
		}
		// Everything read from the bucket itself is still there.
		if _, ok := r.Properties["public_access_block"]; !ok {
			t.Errorf("%s: public_access_block absent", name)
		}
	}
}

func TestS3PolicyAnalysis(t *testing.T) {
	const arn = "arn:aws:s3:::b"
	doc := func(statements ...string) any {
		return parsePolicy(`{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`)
	}
	const denyHTTP = `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`
	for _, tc := range []struct {
		name                string
		doc                 any
		tls                 bool
		public, read, write bool
	}{
		{name: "no policy", doc: nil},
		{name: "aws documented deny http", doc: doc(denyHTTP), tls: true},
		{name: "statement as object", doc: parsePolicy(`{"Statement":` + denyHTTP + `}`), tls: true},
		{name: "action star, resource star, AWS star, bool false", tls: true, doc: doc(
			`{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"*","Condition":{"Bool":{"aws:securetransport":false}}}`)},
		{name: "bucket wildcard covers both", tls: true, doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:*"],"Resource":"arn:aws:s3:::b*","Condition":{"BoolIfExists":{"aws:SecureTransport":["false"]}}}`)},
		{name: "objects only", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "bucket only", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "prefix only", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/private/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "other bucket", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::c","arn:aws:s3:::c/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "get object only", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "one principal only", doc: doc(
			`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`)},
		{name: "secure transport true is the opposite", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"true"}}}`)},
		{name: "extra condition narrows the deny", doc: doc(
			`{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`)},
		{name: "allow is not a deny", public: true, read: true, write: true, doc: doc(
			`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}`)},
		{name: "public read", public: true, read: true, doc: doc(
			`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}`)},
		{name: "public list via wildcard", public: true, read: true, doc: doc(
			`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"Action":"s3:List*","Resource":"arn:aws:s3:::b"}`)},
		{name: "public write", public: true, write: true, tls: true, doc: doc(denyHTTP,
			`{"Effect":"Allow","Principal":"*","Action":["s3:PutObject","s3:PutObjectAcl"],"Resource":"arn:aws:s3:::b/*"}`)},
		{name: "public tagging is neither read nor write", public: true, doc: doc(
			`{"Effect":"Allow","Principal":"*","Action":"s3:GetObjectTagging","Resource":"arn:aws:s3:::b/*"}`)},
		{name: "not action", public: true, read: true, doc: doc(
			`{"Effect":"Allow","Principal":"*","NotAction":["s3:Put*","s3:Delete*"],"Resource":"arn:aws:s3:::b/*"}`)},
		{name: "fixed organization makes it not public", doc: doc(
			`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-123"}}}`)},
		{name: "empty condition matches every request", public: true, read: true, doc: doc(
			`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{}}`)},
		{name: "allow with NotPrincipal grants everyone else", public: true, read: true, write: true, doc: doc(
			`{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`)},
		{name: "deny with NotPrincipal grants nothing", doc: doc(
			`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`)},
		{name: "account principal", doc: doc(
			`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}`)},
		{name: "service principal", doc: doc(
			`{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := analyzeBucketPolicy(tc.doc, arn, "123456789012")
			if err != nil {
				t.Fatal(err)
			}
			if exp.tlsOnly != tc.tls {
				t.Errorf("tls only = %v, want %v", exp.tlsOnly, tc.tls)
			}
			verdict := func(b bool) iampolicy.Verdict {
				if b {
					return iampolicy.Public
				}
				return iampolicy.NotPublic
			}
			if exp.public != verdict(tc.public) || exp.read != verdict(tc.read) || exp.write != verdict(tc.write) {
				t.Errorf("public, read, write = %v, %v, %v, want %v, %v, %v (%s)", exp.public, exp.read, exp.write, tc.public, tc.read, tc.write, exp.reason)
			}
		})
	}
}
