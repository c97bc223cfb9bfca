package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"golang.org/x/sync/errgroup"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/iampolicy"
)

// TypeS3Bucket is the resource type of an S3 general purpose bucket.
const TypeS3Bucket = "aws.s3.bucket"

func init() {
	register(&service{name: "s3", global: true, types: []string{TypeS3Bucket}, collect: collectS3, get: getS3})
}

// s3BucketWorkers bounds the buckets described at once. Each bucket takes
// about ten sequential calls; describing several at a time keeps a
// thousand-bucket account from taking minutes while the "s3" token bucket
// (defaultRates) still bounds the request rate.
const s3BucketWorkers = 8

// bpaFlags are the four Block Public Access settings, in the order and with
// the property names used by both the bucket and the account.
var bpaFlags = []string{"block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets"}

// bpa is a Block Public Access configuration as read: err set when the read
// failed, conf nil when none is configured.
type bpa struct {
	conf map[string]any
	err  error
}

// flag returns the value of one setting and whether it is known. A missing
// configuration means every setting is off.
func (b bpa) flag(name string) (on, known bool) {
	if b.err != nil {
		return false, false
	}
	if b.conf == nil {
		return false, true
	}
	return b.conf[name] == true, true
}

// s3Collector holds what the buckets of one account share: the per-region
// clients and the account-level Block Public Access configuration.
type s3Collector struct {
	t       *task
	mu      sync.Mutex
	clients map[string]*s3.Client
	account bpa
}

// collectS3 reads the account-level Block Public Access configuration, then
// lists every bucket (ListBuckets is global) and describes each from a client
// in the bucket's own region.
func collectS3(ctx context.Context, t *task) error {
	c := &s3Collector{t: t, clients: map[string]*s3.Client{}}
	c.account = c.accountBPA(ctx)
	home := c.client(t.region)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3BucketWorkers)
	p := s3.NewListBucketsPaginator(home, &s3.ListBucketsInput{MaxBuckets: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(gctx)
		if err != nil {
			// A failed emit cancels gctx; report that cause, not the
			// cancelled listing.
			if werr := g.Wait(); werr != nil {
				return werr
			}
			return err
		}
		for _, b := range page.Buckets {
			g.Go(func() error {
				r, ok := c.bucket(gctx, home, b)
				if !ok {
					return nil
				}
				return t.emit(gctx, r)
			})
		}
	}
	return g.Wait()
}

// getS3 re-reads the account-level Block Public Access configuration
// (every bucket's effective_public_access_block depends on it) and the
// buckets a Get wants. S3 cannot describe a bucket by name alone without
// losing its creation date, which only ListBuckets gives: a ListBuckets
// narrowed by Prefix to the name finds it, with its region, in one call.
func getS3(ctx context.Context, t *task) error {
	c := &s3Collector{t: t, clients: map[string]*s3.Client{}}
	c.account = c.accountBPA(ctx)
	home := c.client(t.region)
	for _, uid := range t.wantedUIDs(TypeS3Bucket) {
		name := arnTail(uid, ":::")
		b, found, err := s3FindBucket(ctx, home, name)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			t.getFailed(uid, err)
			continue
		case !found:
			continue
		}
		r, ok := c.bucket(ctx, home, b)
		if !ok {
			continue
		}
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// s3FindBucket returns the listing entry of the bucket name, from a
// ListBuckets narrowed to the buckets whose name starts with it.
func s3FindBucket(ctx context.Context, client *s3.Client, name string) (s3types.Bucket, bool, error) {
	if name == "" {
		return s3types.Bucket{}, false, nil
	}
	p := s3.NewListBucketsPaginator(client, &s3.ListBucketsInput{Prefix: &name, MaxBuckets: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s3types.Bucket{}, false, err
		}
		for _, b := range page.Buckets {
			if aws.ToString(b.Name) == name {
				return b, true, nil
			}
		}
	}
	return s3types.Bucket{}, false, nil
}

// client returns the S3 client for a region, built once. Emulators such as
// moto only understand path-style addressing.
func (c *s3Collector) client(region string) *s3.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.clients[region]; ok {
		return cl
	}
	cl := s3.NewFromConfig(c.t.cfg, func(o *s3.Options) {
		o.Region = region
		o.UsePathStyle = c.t.c.opts.Endpoint != ""
	})
	c.clients[region] = cl
	return cl
}

// accountBPA reads the account-level Block Public Access configuration into
// the aws.account property s3_public_access_block.
func (c *s3Collector) accountBPA(ctx context.Context) bpa {
	t := c.t
	client := s3control.NewFromConfig(t.cfg, func(o *s3control.Options) {
		if t.c.opts.Endpoint != "" {
			o.EndpointResolverV2 = noAccountHost{s3control.NewDefaultEndpointResolverV2()}
		}
	})
	out, err := client.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(t.acct.ID)})
	switch {
	case hasCode(err, "NoSuchPublicAccessBlockConfiguration"):
		t.setAccount("s3_public_access_block", nil)
		return bpa{}
	case err != nil:
		t.accountErr("s3_public_access_block", err)
		return bpa{err: err}
	}
	var conf map[string]any
	if pc := out.PublicAccessBlockConfiguration; pc != nil {
		conf = bpaMap(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets)
	}
	t.setAccount("s3_public_access_block", conf)
	return bpa{conf: conf}
}

// noAccountHost resolves S3 Control endpoints without the "{AccountId}."
// host prefix that the endpoint rules prepend to a custom endpoint: an
// emulator at 127.0.0.1 cannot be reached as 123456789012.127.0.0.1. The
// account still travels in the x-amz-account-id header.
type noAccountHost struct{ next s3control.EndpointResolverV2 }

func (r noAccountHost) ResolveEndpoint(ctx context.Context, p s3control.EndpointParameters) (smithyendpoints.Endpoint, error) {
	p.RequiresAccountId = aws.Bool(false)
	return r.next.ResolveEndpoint(ctx, p)
}

func bpaMap(acls, ignore, policy, restrict *bool) map[string]any {
	return map[string]any{
		"block_public_acls":       aws.ToBool(acls),
		"ignore_public_acls":      aws.ToBool(ignore),
		"block_public_policy":     aws.ToBool(policy),
		"restrict_public_buckets": aws.ToBool(restrict),
	}
}

// s3BucketProps are the properties read from the bucket's own API calls; a
// bucket whose region cannot be found has each of them recorded as failed.
var s3BucketProps = []string{"policy", "acl", "public_access_block", "encryption", "versioning",
	"logging", "ownership_controls", "object_lock", "tags"}

// bucket describes one bucket. It reports false for a bucket deleted between
// listing and describing.
func (c *s3Collector) bucket(ctx context.Context, home *s3.Client, b s3types.Bucket) (vigil.Resource, bool) {
	t := c.t
	name := aws.ToString(b.Name)
	r := vigil.Resource{UID: "arn:" + t.partition() + ":s3:::" + name, Type: TypeS3Bucket, Name: name,
		Properties: map[string]any{}}
	p := r.Properties
	if b.CreationDate != nil {
		p["created"] = b.CreationDate.UTC().Format(timeFormat)
	}
	// ListBuckets reports the region on AWS since 2024, saving a call per
	// bucket; emulators and older partitions leave it empty.
	region := aws.ToString(b.BucketRegion)
	if region == "" {
		loc, err := home.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &name})
		if hasCode(err, "NoSuchBucket") {
			return r, false
		}
		if err != nil {
			// Without the region no other call can be addressed, so
			// nothing about the bucket is known.
			for _, prop := range s3BucketProps {
				t.propErr(&r, prop, err)
			}
			c.derive(&r, policyResult{err: err}, aclResult{err: err}, bpa{err: err})
			return r, true
		}
		region = bucketRegion(loc.LocationConstraint)
	}
	r.Region = region
	client := c.client(region)
	in := &name

	var policyDoc any
	var policyErr error
	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: in})
	switch {
	case hasCode(err, "NoSuchBucketPolicy"):
		p["policy"] = nil
	case err != nil:
		policyErr = err
		t.propErr(&r, "policy", err)
	default:
		policyDoc = parsePolicy(aws.ToString(pol.Policy))
		p["policy"] = policyDoc
	}

	var grants []any
	var aclErr error
	acl, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: in})
	if err != nil {
		aclErr = err
		t.propErr(&r, "acl", err)
	} else {
		grants = aclGrants(acl.Grants)
		var owner any
		if o := acl.Owner; o != nil {
			owner = map[string]any{"id": optString(o.ID), "display_name": optString(o.DisplayName)}
		}
		p["acl"] = map[string]any{"owner": owner, "grants": grants}
	}

	var block bpa
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: in})
	switch {
	case hasCode(err, "NoSuchPublicAccessBlockConfiguration"):
		p["public_access_block"] = nil
	case err != nil:
		block.err = err
		t.propErr(&r, "public_access_block", err)
	default:
		if pc := pab.PublicAccessBlockConfiguration; pc != nil {
			block.conf = bpaMap(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets)
		}
		p["public_access_block"] = block.conf
	}

	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: in})
	switch {
	case hasCode(err, "ServerSideEncryptionConfigurationNotFoundError"):
		p["encryption"] = nil
	case err != nil:
		t.propErr(&r, "encryption", err)
	default:
		p["encryption"] = encryptionMap(enc.ServerSideEncryptionConfiguration)
	}

	ver, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: in})
	if err != nil {
		t.propErr(&r, "versioning", err)
	} else {
		p["versioning"] = map[string]any{"status": string(ver.Status), "mfa_delete": string(ver.MFADelete)}
	}

	lg, err := client.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: in})
	if err != nil {
		t.propErr(&r, "logging", err)
	} else if le := lg.LoggingEnabled; le == nil {
		p["logging"] = nil
	} else {
		p["logging"] = map[string]any{"target_bucket": aws.ToString(le.TargetBucket), "target_prefix": aws.ToString(le.TargetPrefix)}
	}

	own, err := client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: in})
	switch {
	case hasCode(err, "OwnershipControlsNotFoundError"):
		p["ownership_controls"] = nil
	case err != nil:
		t.propErr(&r, "ownership_controls", err)
	default:
		var ownership any
		if oc := own.OwnershipControls; oc != nil && len(oc.Rules) > 0 {
			ownership = string(oc.Rules[0].ObjectOwnership)
		}
		p["ownership_controls"] = map[string]any{"object_ownership": ownership}
	}

	lock, err := client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: in})
	switch {
	case hasCode(err, "ObjectLockConfigurationNotFoundError"):
		p["object_lock"] = nil
	case err != nil:
		t.propErr(&r, "object_lock", err)
	default:
		p["object_lock"] = objectLockMap(lock.ObjectLockConfiguration)
	}

	tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: in})
	switch {
	case hasCode(err, "NoSuchTagSet"):
	case err != nil:
		t.propErr(&r, "tags", err)
	default:
		r.Tags = tagMap(tags.TagSet, func(tg s3types.Tag) (*string, *string) { return tg.Key, tg.Value })
	}

	if policyErr == nil {
		if m, ok := policyDoc.(map[string]any); ok && m["_error"] != nil {
			policyErr = fmt.Errorf("bucket policy does not parse: %v", m["_error"])
		}
	}
	if policyErr != nil {
		policyDoc = nil
	}
	c.derive(&r, policyResult{doc: policyDoc, err: policyErr}, aclResult{grants: grants, err: aclErr}, block)
	return r, true
}

// policyResult is a bucket policy as read: doc nil when there is none.
type policyResult struct {
	doc any
	err error
}

// aclResult is a bucket ACL's grants as read.
type aclResult struct {
	grants []any
	err    error
}

// derive computes the properties Vigil derives from the bucket's policy,
// ACL and Block Public Access settings: tls_only, public and
// effective_public_access_block. A derived value whose inputs could not be
// read is left out with a read error.
func (c *s3Collector) derive(r *vigil.Resource, polr policyResult, aclr aclResult, block bpa) {
	t := c.t
	p := r.Properties

	exp, err := analyzeBucketPolicy(polr.doc, r.UID, r.Account)
	if polr.err == nil && err != nil {
		err = fmt.Errorf("analyze bucket policy: %w", err)
	} else {
		err = polr.err
	}
	if err != nil {
		t.propErr(r, "tls_only", err)
	} else {
		p["tls_only"] = exp.tlsOnly
	}

	// public.policy*: by S3's meaning of public (iampolicy); an answer the
	// engine could not reach is a read error, never "not public".
	public := map[string]any{}
	p["public"] = public
	for k, v := range map[string]iampolicy.Verdict{"policy": exp.public, "policy_read": exp.read, "policy_write": exp.write} {
		switch {
		case err != nil:
			t.propErr(r, "public."+k, err)
		case v == iampolicy.Unknown:
			t.propErr(r, "public."+k, errors.New("the bucket policy is too complex to decide whether it is public"))
		default:
			public[k] = v == iampolicy.Public
		}
	}
	if err != nil {
		t.propErr(r, "policy_public_reason", err)
	} else {
		p["policy_public_reason"] = exp.reason
	}
	if aclr.err != nil {
		for _, k := range []string{"acl", "acl_read", "acl_write"} {
			t.propErr(r, "public."+k, aclr.err)
		}
	} else {
		acl := iampolicy.PublicACL(engineGrants(aclr.grants))
		public["acl"], public["acl_read"], public["acl_write"] = acl.Public, acl.Read, acl.Write
	}

	eff := map[string]any{}
	p["effective_public_access_block"] = eff
	for _, f := range bpaFlags {
		bOn, bKnown := block.flag(f)
		aOn, aKnown := c.account.flag(f)
		switch {
		case bOn || aOn:
			eff[f] = true
		case bKnown && aKnown:
			eff[f] = false
		case !bKnown:
			t.propErr(r, "effective_public_access_block."+f, block.err)
		default:
			t.propErr(r, "effective_public_access_block."+f, c.account.err)
		}
	}
}

// bucketRegion maps a LocationConstraint to a region: empty means
// us-east-1 and the legacy "EU" means eu-west-1.
func bucketRegion(lc s3types.BucketLocationConstraint) string {
	switch lc {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	}
	return string(lc)
}

func optString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func aclGrants(gs []s3types.Grant) []any {
	out := make([]any, 0, len(gs))
	for _, g := range gs {
		m := map[string]any{"type": nil, "id": nil, "uri": nil, "email": nil, "permission": string(g.Permission)}
		if ge := g.Grantee; ge != nil {
			m["type"] = string(ge.Type)
			m["id"] = optString(ge.ID)
			m["uri"] = optString(ge.URI)
			m["email"] = optString(ge.EmailAddress)
		}
		out = append(out, m)
	}
	return out
}

func encryptionMap(conf *s3types.ServerSideEncryptionConfiguration) any {
	if conf == nil {
		return nil
	}
	rules := make([]any, 0, len(conf.Rules))
	for _, rule := range conf.Rules {
		m := map[string]any{"sse_algorithm": nil, "kms_master_key_id": nil,
			"bucket_key_enabled": aws.ToBool(rule.BucketKeyEnabled)}
		if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
			m["sse_algorithm"] = string(d.SSEAlgorithm)
			m["kms_master_key_id"] = optString(d.KMSMasterKeyID)
		}
		rules = append(rules, m)
	}
	return map[string]any{"rules": rules}
}

func objectLockMap(conf *s3types.ObjectLockConfiguration) any {
	if conf == nil {
		return nil
	}
	m := map[string]any{"enabled": conf.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled,
		"mode": nil, "days": nil, "years": nil}
	if conf.Rule != nil && conf.Rule.DefaultRetention != nil {
		d := conf.Rule.DefaultRetention
		if d.Mode != "" {
			m["mode"] = string(d.Mode)
		}
		// A rule sets Days or Years, never both; 0 stands for unset.
		if d.Days != nil && *d.Days > 0 {
			m["days"] = int64(*d.Days)
		}
		if d.Years != nil && *d.Years > 0 {
			m["years"] = int64(*d.Years)
		}
	}
	return m
}

// Actions whose public grant makes a bucket publicly readable (reading or
// listing objects) or writable (writing, deleting or re-permissioning
// objects or the bucket).
var (
	s3ReadActions  = []string{"s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:ListBucketVersions"}
	s3WriteActions = []string{"s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl",
		"s3:PutBucketAcl", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:DeleteBucket"}
)

// policyExposure is what the iampolicy engine says about a bucket policy.
type policyExposure struct {
	public, read, write iampolicy.Verdict
	reason              string
	tlsOnly             bool
}

// analyzeBucketPolicy decides a bucket policy's public access (any action,
// read actions, write actions) by S3's documented meaning of public, and
// whether it denies every request made without TLS. A nil doc is no
// policy.
func analyzeBucketPolicy(doc any, bucketARN, account string) (policyExposure, error) {
	out := policyExposure{public: iampolicy.NotPublic, read: iampolicy.NotPublic, write: iampolicy.NotPublic}
	if doc == nil {
		out.reason = "the bucket has no policy"
		return out, nil
	}
	p, err := iampolicy.ParseValue(doc)
	if err != nil {
		return out, err
	}
	o := iampolicy.Options{ResourceType: TypeS3Bucket, ResourceARN: bucketARN, Account: account}
	all := iampolicy.IsPublic(p, o)
	out.public, out.reason = all.Verdict, strings.Join(all.Reasons, "; ")
	o.Actions = s3ReadActions
	out.read = iampolicy.IsPublic(p, o).Verdict
	o.Actions = s3WriteActions
	out.write = iampolicy.IsPublic(p, o).Verdict
	out.tlsOnly = iampolicy.RequiresTLS(p, bucketARN, account)
	return out, nil
}

// engineGrants converts collected ACL grants for the engine.
func engineGrants(grants []any) []iampolicy.Grant {
	out := make([]iampolicy.Grant, 0, len(grants))
	for _, g := range grants {
		m, _ := g.(map[string]any)
		uri, _ := m["uri"].(string)
		perm, _ := m["permission"].(string)
		out = append(out, iampolicy.Grant{Grantee: uri, Permission: perm})
	}
	return out
}
