package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// settingAction sets one attribute of a resource to a safe value and can
// put the previous value back: the shape of most single-setting fixes.
// The current value comes from the collected properties (the finding was
// raised on them); Apply writes the good value, Undo the recorded one.
type settingAction struct {
	fixAction
	// current returns the collected value and whether it is already good.
	current func(r vigil.Resource) (any, bool)
	// good is the value the fix sets, given the target (params).
	good func(t fix.Target) (any, error)
	// step describes the change for the plan.
	step func(r vigil.Resource, from, to any) string
	// op is the API call's IAM action and set makes the call.
	op  string
	set func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error
	// input renders the call's input for the record.
	input func(r vigil.Resource, v any) map[string]any
}

func (a *settingAction) Plan(_ context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	cur, ok := a.current(r)
	before := map[string]any{"value": cur}
	if ok {
		return &fix.Plan{NoOp: true, Steps: []string{fmt.Sprintf("%s is already set on %s", a.title, r.Name)}, Before: before}, nil
	}
	v, err := a.good(t)
	if err != nil {
		return nil, err
	}
	return &fix.Plan{Steps: []string{a.step(r, cur, v)}, Calls: fixCalls{{a.op, a.input(r, v)}}.calls(), Before: before, State: v}, nil
}

func (a *settingAction) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return rec.Do(a.op, a.input(t.Resource, p.State), func() error { return a.set(ctx, a, t.Resource, p.State) })
}

func (a *settingAction) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	v := before["value"]
	return rec.Do(a.op, a.input(t.Resource, v), func() error { return a.set(ctx, a, t.Resource, v) })
}

// prop reads a collected property.
func prop(r vigil.Resource, key string) any { return r.Properties[key] }

// boolProp reads a collected boolean, false when absent or null.
func boolProp(r vigil.Resource, key string) bool { b, _ := r.Properties[key].(bool); return b }

// fixed returns a constant good value.
func fixed(v any) func(fix.Target) (any, error) {
	return func(fix.Target) (any, error) { return v, nil }
}

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &settingAction{
				fixAction: fixAction{f: f, id: "aws.s3.disable-acls", typ: TypeS3Bucket,
					title: "set Object Ownership to bucket owner enforced, which turns the bucket's ACLs off",
					perms: []string{"s3:PutBucketOwnershipControls"}},
				current: func(r vigil.Resource) (any, bool) {
					oc, _ := prop(r, "ownership_controls").(map[string]any)
					if oc == nil {
						return nil, false
					}
					return oc["object_ownership"], oc["object_ownership"] == "BucketOwnerEnforced"
				},
				good: fixed("BucketOwnerEnforced"),
				step: func(r vigil.Resource, from, to any) string {
					return fmt.Sprintf("set Object Ownership of bucket %s to %v (now %v): ACLs no longer grant access", r.Name, to, orNone(from))
				},
				op: "s3:PutBucketOwnershipControls",
				input: func(r vigil.Resource, v any) map[string]any {
					return map[string]any{"Bucket": r.Name, "ObjectOwnership": v}
				},
				set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
					c, err := a.f.s3Client(ctx, r.Account, r.Region)
					if err != nil {
						return err
					}
					if v == nil { // there were no ownership controls before
						_, err = c.DeleteBucketOwnershipControls(ctx, &s3.DeleteBucketOwnershipControlsInput{Bucket: aws.String(r.Name)})
						return errorOf(err)
					}
					_, err = c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String(r.Name),
						OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnership(fmt.Sprint(v))}}}})
					return errorOf(err)
				},
			}
		},
		func(f *Fixer) fix.Action {
			return &settingAction{
				fixAction: fixAction{f: f, id: "aws.sqs.enable-encryption", typ: TypeSQSQueue,
					title: "turn on SQS-managed server-side encryption (SSE-SQS) for the queue",
					perms: []string{"sqs:SetQueueAttributes"}},
				current: func(r vigil.Resource) (any, bool) {
					return boolProp(r, "sqs_managed_sse_enabled"), boolProp(r, "sqs_managed_sse_enabled") || prop(r, "kms_master_key_id") != nil
				},
				good: fixed(true),
				step: func(r vigil.Resource, _, _ any) string {
					return "turn on SSE-SQS for queue " + r.Name + " (new messages are encrypted at rest with an SQS-owned key)"
				},
				op: "sqs:SetQueueAttributes",
				input: func(r vigil.Resource, v any) map[string]any {
					return map[string]any{"QueueUrl": prop(r, "url"), "SqsManagedSseEnabled": fmt.Sprint(v == true)}
				},
				set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
					cfg, err := a.f.config(ctx, r.Account, r.Region)
					if err != nil {
						return err
					}
					url, _ := prop(r, "url").(string)
					_, err = sqs.NewFromConfig(cfg).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
						Attributes: map[string]string{"SqsManagedSseEnabled": fmt.Sprint(v == true)}})
					return errorOf(err)
				},
			}
		},
		func(f *Fixer) fix.Action {
			return &settingAction{
				fixAction: fixAction{f: f, id: "aws.sns.enable-encryption", typ: TypeSNSTopic,
					title: "encrypt the topic with a KMS key (the AWS managed alias/aws/sns unless the kms_key_id param names one)",
					perms: []string{"sns:SetTopicAttributes"}},
				current: func(r vigil.Resource) (any, bool) {
					return prop(r, "kms_master_key_id"), prop(r, "kms_master_key_id") != nil
				},
				good: func(t fix.Target) (any, error) {
					if k, ok := t.Params["kms_key_id"].(string); ok && k != "" {
						return k, nil
					}
					return "alias/aws/sns", nil
				},
				step: func(r vigil.Resource, _, to any) string {
					return fmt.Sprintf("encrypt topic %s with KMS key %v", r.Name, to)
				},
				op: "sns:SetTopicAttributes",
				input: func(r vigil.Resource, v any) map[string]any {
					return map[string]any{"TopicArn": r.UID, "AttributeName": "KmsMasterKeyId", "AttributeValue": orEmpty(v)}
				},
				set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
					cfg, err := a.f.config(ctx, r.Account, r.Region)
					if err != nil {
						return err
					}
					_, err = sns.NewFromConfig(cfg).SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(r.UID),
						AttributeName: aws.String("KmsMasterKeyId"), AttributeValue: aws.String(orEmpty(v))})
					return errorOf(err)
				},
			}
		},
		func(f *Fixer) fix.Action {
			return rdsInstanceFlag(f, "aws.rds.enable-deletion-protection", "deletion_protection", "turn on deletion protection for the DB instance",
				func(in *rds.ModifyDBInstanceInput, v bool) { in.DeletionProtection = aws.Bool(v) }, "DeletionProtection")
		},
		func(f *Fixer) fix.Action {
			return rdsInstanceFlag(f, "aws.rds.enable-auto-minor-version-upgrade", "auto_minor_version_upgrade", "turn on automatic minor version upgrades for the DB instance",
				func(in *rds.ModifyDBInstanceInput, v bool) { in.AutoMinorVersionUpgrade = aws.Bool(v) }, "AutoMinorVersionUpgrade")
		},
		func(f *Fixer) fix.Action {
			return &settingAction{
				fixAction: fixAction{f: f, id: "aws.rds.enable-cluster-deletion-protection", typ: TypeRDSCluster,
					title: "turn on deletion protection for the DB cluster", perms: []string{"rds:ModifyDBCluster"}},
				current: func(r vigil.Resource) (any, bool) {
					return boolProp(r, "deletion_protection"), boolProp(r, "deletion_protection")
				},
				good: fixed(true),
				step: func(r vigil.Resource, _, _ any) string { return "turn on deletion protection for DB cluster " + r.Name },
				op:   "rds:ModifyDBCluster",
				input: func(r vigil.Resource, v any) map[string]any {
					return map[string]any{"DBClusterIdentifier": r.Name, "DeletionProtection": v == true, "ApplyImmediately": true}
				},
				set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
					cfg, err := a.f.config(ctx, r.Account, r.Region)
					if err != nil {
						return err
					}
					_, err = rds.NewFromConfig(cfg).ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String(r.Name),
						DeletionProtection: aws.Bool(v == true), ApplyImmediately: aws.Bool(true)})
					return errorOf(err)
				},
			}
		},
		func(f *Fixer) fix.Action {
			return &settingAction{
				fixAction: fixAction{f: f, id: "aws.rds.set-backup-retention", typ: TypeRDSInstance,
					title: "keep automated backups for at least 7 days (the days param raises it, up to 35)",
					perms: []string{"rds:ModifyDBInstance"}},
				current: func(r vigil.Resource) (any, bool) {
					n, _ := toInt(prop(r, "backup_retention_period"))
					return n, n >= 7
				},
				good: func(t fix.Target) (any, error) {
					days := 7
					if v, ok := t.Params["days"]; ok {
						n, ok := toInt(v)
						if !ok || n < 7 || n > 35 {
							return nil, vigil.Errorf(vigil.EINVALID, "aws.rds.set-backup-retention: param days must be a whole number from 7 to 35, got %v", v)
						}
						days = n
					}
					return days, nil
				},
				step: func(r vigil.Resource, from, to any) string {
					return fmt.Sprintf("keep automated backups of DB instance %s for %v days (now %v)", r.Name, to, from)
				},
				op: "rds:ModifyDBInstance",
				input: func(r vigil.Resource, v any) map[string]any {
					n, _ := toInt(v)
					return map[string]any{"DBInstanceIdentifier": r.Name, "BackupRetentionPeriod": n, "ApplyImmediately": true}
				},
				set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
					cfg, err := a.f.config(ctx, r.Account, r.Region)
					if err != nil {
						return err
					}
					n, _ := toInt(v)
					_, err = rds.NewFromConfig(cfg).ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(r.Name),
						BackupRetentionPeriod: aws.Int32(int32(n)), ApplyImmediately: aws.Bool(true)})
					return errorOf(err)
				},
			}
		},
	)
}

// rdsInstanceFlag is a settingAction that turns one ModifyDBInstance flag on.
func rdsInstanceFlag(f *Fixer, id, property, title string, set func(*rds.ModifyDBInstanceInput, bool), field string) fix.Action {
	return &settingAction{
		fixAction: fixAction{f: f, id: id, typ: TypeRDSInstance, title: title, perms: []string{"rds:ModifyDBInstance"}},
		current:   func(r vigil.Resource) (any, bool) { return boolProp(r, property), boolProp(r, property) },
		good:      fixed(true),
		step: func(r vigil.Resource, _, _ any) string {
			return title[:len(title)-len("the DB instance")] + "DB instance " + r.Name
		},
		op: "rds:ModifyDBInstance",
		input: func(r vigil.Resource, v any) map[string]any {
			return map[string]any{"DBInstanceIdentifier": r.Name, field: v == true, "ApplyImmediately": true}
		},
		set: func(ctx context.Context, a *settingAction, r vigil.Resource, v any) error {
			cfg, err := a.f.config(ctx, r.Account, r.Region)
			if err != nil {
				return err
			}
			in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(r.Name), ApplyImmediately: aws.Bool(true)}
			set(in, v == true)
			_, err = rds.NewFromConfig(cfg).ModifyDBInstance(ctx, in)
			return errorOf(err)
		},
	}
}

func orNone(v any) any {
	if v == nil {
		return "none"
	}
	return v
}

func orEmpty(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// toInt reads a whole number from JSON-ish values.
func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}
