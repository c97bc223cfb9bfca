package aws

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

func TestFixS3DisableACLs(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("legacy")}))
	must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("preferred")}))
	must[any](t)(s3c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: aws.String("preferred"),
		OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{ObjectOwnership: s3types.ObjectOwnershipBucketOwnerPreferred}}}}))
	ownership := func(b string) string {
		t.Helper()
		out, err := s3c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String(b)})
		if err != nil {
			if strings.Contains(err.Error(), "OwnershipControlsNotFoundError") {
				return "none"
			}
			t.Fatal(err)
		}
		return string(out.OwnershipControls.Rules[0].ObjectOwnership)
	}
	h := newFixHarness(t, []string{"s3"})
	for _, tc := range []struct{ bucket, before string }{{"legacy", "none"}, {"preferred", "BucketOwnerPreferred"}} {
		j, f, p := h.plan("aws-s3-bucket-acls-disabled", h.uid(TypeS3Bucket, tc.bucket), nil)
		if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutBucketOwnershipControls"}) || ownership(tc.bucket) != tc.before {
			t.Fatalf("%s: planned %v, ownership %s", tc.bucket, got, ownership(tc.bucket))
		}
		done := h.apply(j, f, p)
		if got := ownership(tc.bucket); got != "BucketOwnerEnforced" {
			t.Errorf("%s after the fix: %s", tc.bucket, got)
		}
		h.undo(done.ID)
		if got := ownership(tc.bucket); got != tc.before {
			t.Errorf("%s after undo: %s, want %s", tc.bucket, got, tc.before)
		}
	}
}

func TestFixMessagingEncryption(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	q := sqs.NewFromConfig(cfg)
	qu, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("plain"), Attributes: map[string]string{"SqsManagedSseEnabled": "false"}})
	if err != nil {
		t.Fatal(err)
	}
	sn := sns.NewFromConfig(cfg)
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("events")})
	if err != nil {
		t.Fatal(err)
	}
	h := newFixHarness(t, []string{"sqs", "sns"})

	sse := func() string {
		t.Helper()
		out, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: qu.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"SqsManagedSseEnabled"}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["SqsManagedSseEnabled"]
	}
	j, f, p := h.plan("aws-sqs-queue-encrypted", h.uid(TypeSQSQueue, "plain"), nil)
	if sse() != "false" {
		t.Fatal("the plan changed the queue")
	}
	done := h.apply(j, f, p)
	if sse() != "true" {
		t.Errorf("after the fix SqsManagedSseEnabled = %s", sse())
	}
	h.undo(done.ID)
	if sse() != "false" {
		t.Errorf("after undo SqsManagedSseEnabled = %s", sse())
	}

	key := func() string {
		t.Helper()
		out, err := sn.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: topic.TopicArn})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["KmsMasterKeyId"]
	}
	j, f, p = h.plan("aws-sns-topic-kms-encrypted", aws.ToString(topic.TopicArn), nil)
	if key() != "" {
		t.Fatal("the plan changed the topic")
	}
	done = h.apply(j, f, p)
	if key() != "alias/aws/sns" {
		t.Errorf("after the fix KmsMasterKeyId = %q", key())
	}
	h.undo(done.ID)
	if key() != "" {
		t.Errorf("after undo KmsMasterKeyId = %q", key())
	}

	// A refused call is a failed fix that changed nothing.
	j, f, p = h.plan("aws-sns-topic-kms-encrypted", aws.ToString(topic.TopicArn), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("SetTopicAttributes", func(any) any {
		return &smithy.GenericAPIError{Code: "AuthorizationError", Message: "not authorized"}
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || len(stored.Calls) != 1 || !strings.Contains(stored.Calls[0].Error, "AuthorizationError") ||
		!strings.Contains(stored.Reason, "sns:SetTopicAttributes") || key() != "" {
		t.Errorf("refused fix: %+v, key %q", stored, key())
	}
}

func TestFixRDSSettings(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := rds.NewFromConfig(moto.Config(t, "us-east-1"))
	must[any](t)(c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("orders"), Engine: aws.String("postgres"),
		DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("correct-horse-1"), BackupRetentionPeriod: aws.Int32(1), DeletionProtection: aws.Bool(false),
		AutoMinorVersionUpgrade: aws.Bool(false)}))
	must[any](t)(c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("ledger"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("correct-horse-1"), DeletionProtection: aws.Bool(false)}))
	instance := func() (bool, bool, int32) {
		t.Helper()
		out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("orders")})
		if err != nil {
			t.Fatal(err)
		}
		db := out.DBInstances[0]
		return aws.ToBool(db.DeletionProtection), aws.ToBool(db.AutoMinorVersionUpgrade), aws.ToInt32(db.BackupRetentionPeriod)
	}
	cluster := func() bool {
		t.Helper()
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("ledger")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.DBClusters[0].DeletionProtection)
	}
	h := newFixHarness(t, []string{"rds"})
	db := h.uid(TypeRDSInstance, "orders")

	j, f, p := h.plan("aws-rds-instance-deletion-protection", db, nil)
	done := h.apply(j, f, p)
	if dp, _, _ := instance(); !dp {
		t.Error("deletion protection still off")
	}
	h.undo(done.ID)
	if dp, _, _ := instance(); dp {
		t.Error("undo left deletion protection on")
	}

	j, f, p = h.plan("aws-rds-instance-auto-minor-version-upgrade", db, nil)
	done = h.apply(j, f, p)
	if _, amv, _ := instance(); !amv {
		t.Error("auto minor version upgrade still off")
	}
	h.undo(done.ID)
	if _, amv, _ := instance(); amv {
		t.Error("undo left auto minor version upgrade on")
	}

	if _, err := h.runner.Prepare(ctx, "aws-rds-instance-backup-retention", db, map[string]any{"days": 40}); err != nil {
		t.Fatal(err)
	}
	j, f, p = h.plan("aws-rds-instance-backup-retention", db, map[string]any{"days": 14})
	done = h.apply(j, f, p)
	if _, _, days := instance(); days != 14 {
		t.Errorf("backup retention %d, want 14", days)
	}
	h.undo(done.ID)
	if _, _, days := instance(); days != 1 {
		t.Errorf("after undo backup retention %d, want 1", days)
	}
	bad, err := h.runner.Prepare(ctx, "aws-rds-instance-backup-retention", db, map[string]any{"days": 40})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.runner.Plan(ctx, bad, "user:test", "fix-now"); err == nil ||
		!strings.Contains(err.Error(), "param days must be a whole number from 7 to 35, got 40") {
		t.Errorf("days 40: %v", err)
	}

	j, f, p = h.plan("aws-rds-cluster-deletion-protection", h.uid(TypeRDSCluster, "ledger"), nil)
	done = h.apply(j, f, p)
	if !cluster() {
		t.Error("cluster deletion protection still off")
	}
	h.undo(done.ID)
	if cluster() {
		t.Error("undo left cluster deletion protection on")
	}
}
