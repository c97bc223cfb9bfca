package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &s3BlockPublicAccess{fixAction{f: f, id: "aws.s3.block-public-access", typ: TypeS3Bucket,
			title: "turn on all four S3 Block Public Access settings for the bucket",
			perms: []string{"s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"}}}
	})
}

// s3Client returns an S3 client for a bucket's region with the remediation
// credentials (path-style addressing against an emulator).
func (f *Fixer) s3Client(ctx context.Context, account, region string) (*s3.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = f.scan.opts.Endpoint != "" }), nil
}

// s3BlockPublicAccess sets BlockPublicAcls, IgnorePublicAcls,
// BlockPublicPolicy and RestrictPublicBuckets on a bucket. Undo restores
// the previous configuration (or removes it, when there was none).
type s3BlockPublicAccess struct{ fixAction }

func (a *s3BlockPublicAccess) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(r.Name)})
	var before any
	switch {
	case hasCode(err, "NoSuchPublicAccessBlockConfiguration"):
	case err != nil:
		return nil, fmt.Errorf("s3:GetBucketPublicAccessBlock: %w", errorf(err))
	default:
		pc := out.PublicAccessBlockConfiguration
		before = bpaMap(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets)
		if allTrue(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets) {
			return &fix.Plan{NoOp: true, Steps: []string{"Block Public Access is already on for bucket " + r.Name},
				Before: map[string]any{"public_access_block": before}}, nil
		}
	}
	now := "none"
	if before != nil {
		now = fmt.Sprint(before)
	}
	return &fix.Plan{
		Steps: []string{fmt.Sprintf("turn on BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets for bucket %s (now: %s)", r.Name, now)},
		Calls: fixCalls{{"s3:PutPublicAccessBlock", map[string]any{"Bucket": r.Name, "BlockPublicAcls": true,
			"IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}}.calls(),
		Before: map[string]any{"public_access_block": before},
	}, nil
}

func (a *s3BlockPublicAccess) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.put(ctx, t, true, true, true, true, rec)
}

func (a *s3BlockPublicAccess) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, _ := before["public_access_block"].(map[string]any)
	if prev == nil {
		r := t.Resource
		c, err := a.f.s3Client(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return rec.Do("s3:DeletePublicAccessBlock", map[string]any{"Bucket": r.Name}, func() error {
			_, err := c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: aws.String(r.Name)})
			return errorOf(err)
		})
	}
	b := func(k string) bool { v, _ := prev[k].(bool); return v }
	return a.put(ctx, t, b("block_public_acls"), b("ignore_public_acls"), b("block_public_policy"), b("restrict_public_buckets"), rec)
}

func (a *s3BlockPublicAccess) put(ctx context.Context, t fix.Target, acls, ignore, policy, restrict bool, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	in := map[string]any{"Bucket": r.Name, "BlockPublicAcls": acls, "IgnorePublicAcls": ignore,
		"BlockPublicPolicy": policy, "RestrictPublicBuckets": restrict}
	return rec.Do("s3:PutPublicAccessBlock", in, func() error {
		_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(r.Name),
			PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(acls),
				IgnorePublicAcls: aws.Bool(ignore), BlockPublicPolicy: aws.Bool(policy), RestrictPublicBuckets: aws.Bool(restrict)}})
		return errorOf(err)
	})
}

func allTrue(bs ...*bool) bool {
	for _, b := range bs {
		if !aws.ToBool(b) {
			return false
		}
	}
	return true
}
