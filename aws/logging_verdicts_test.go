package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilsec/vigil"
)

// loggingServices are the services of the logging / messaging / secrets
// group, whose built-in checks TestLoggingVerdicts asserts.
var loggingServices = []string{"cloudtrail", "config", "guardduty", "kms", "sns", "sqs", "lambda", "secretsmanager"}

// TestLoggingVerdicts seeds a realistic mix of good and bad resources for
// the group's services in two regions, collects them and asserts the
// verdict of every check of the group on every resource it applies to.
//
// Moto cannot backdate anything, so every secret is brand new: the
// 90-day checks (SecretsManager.3 / .4) pass here and their failures are
// covered by the checks' fixtures.
func TestLoggingVerdicts(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	const east, west = "us-east-1", "us-west-2"

	// CloudTrail: "main" covers every region (validated, KMS, CloudWatch
	// Logs, logged bucket, management events + S3 object writes); "local"
	// has nothing turned on; "orphan"'s bucket was deleted after creation,
	// so its bucket logging cannot be read.
	seedTrailBuckets(t)
	ct := cloudtrail.NewFromConfig(moto.Config(t, east))
	createTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("ct-logged"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		KmsKeyId:                  aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:trail:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::123456789012:role/trail-logs")}, true)
	if _, err := ct.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("main"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)},
			{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(false),
				DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3"}}}}}}); err != nil {
		t.Fatal(err)
	}
	createTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("local"), S3BucketName: aws.String("ct-unlogged")}, false)
	s3c := s3.NewFromConfig(moto.Config(t, east), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ct-doomed")}); err != nil {
		t.Fatal(err)
	}
	createTrail(t, ct, &cloudtrail.CreateTrailInput{Name: aws.String("orphan"), S3BucketName: aws.String("ct-doomed"),
		EnableLogFileValidation: aws.Bool(true)}, true)
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("ct-doomed")}); err != nil {
		t.Fatal(err)
	}

	// Config: recording everything with the service-linked role in the
	// east; stopped, without global types, in the west.
	seedConfigRecorder(t, east, "default", true, true)
	seedConfigRecorder(t, west, "default", false, false)
	// GuardDuty: on in the east only.
	seedDetector(t, east, true)

	// KMS keys in the east.
	kc := kms.NewFromConfig(moto.Config(t, east))
	key := func(desc string, in *kms.CreateKeyInput) string {
		in.Description = aws.String(desc)
		out, err := kc.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.KeyMetadata.KeyId)
	}
	rotated := key("rotated", &kms.CreateKeyInput{})
	if _, err := kc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &rotated}); err != nil {
		t.Fatal(err)
	}
	unrotated := key("unrotated", &kms.CreateKeyInput{})
	doomed := key("doomed", &kms.CreateKeyInput{})
	if _, err := kc.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &doomed, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	signing := key("signing", &kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	public := key("public", &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`)})
	if _, err := kc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &public}); err != nil {
		t.Fatal(err)
	}

	seedTopics(t)    // plain, encrypted, public (+ queue alerts-sink)
	seedQueues(t)    // sse-sqs, kms-q, plain-q, public-q
	seedFunctions(t) // modern, public-fn, open-url, iam-url, old-runtime
	seedSecrets(t)   // rotated, static (+ function rotator)

	col := collect(t, loggingServices, east, west)
	got := verdicts(t, col)
	const (
		pass = vigil.StatusPass
		fail = vigil.StatusFail
		erro = vigil.StatusError
	)
	want := map[string]map[string]vigil.Status{
		// aws.region
		"aws-cloudtrail-multi-region-logging":   {east: pass, west: pass},
		"aws-cloudtrail-s3-object-write-events": {east: pass, west: pass},
		"aws-cloudtrail-s3-object-read-events":  {east: fail, west: fail},
		"aws-config-enabled-all-regions":        {east: pass, west: fail},
		"aws-config-recorder-enabled":           {east: pass, west: fail},
		"aws-guardduty-enabled":                 {east: pass, west: fail},
		// aws.cloudtrail.trail
		"aws-cloudtrail-log-file-validation":   {"main": pass, "local": fail, "orphan": pass},
		"aws-cloudtrail-kms-encrypted":         {"main": pass, "local": fail, "orphan": fail},
		"aws-cloudtrail-cloudwatch-logs":       {"main": pass, "local": fail, "orphan": fail},
		"aws-cloudtrail-bucket-access-logging": {"main": pass, "local": fail, "orphan": erro},
		// aws.kms.key
		"aws-kms-key-rotation-enabled":     {rotated: pass, unrotated: fail, public: pass},
		"aws-kms-key-not-pending-deletion": {rotated: pass, unrotated: pass, doomed: fail, signing: pass, public: pass},
		"aws-kms-key-policy-not-public":    {rotated: pass, unrotated: pass, doomed: pass, signing: pass, public: fail},
		// aws.sns.topic
		"aws-sns-topic-kms-encrypted": {"plain": fail, "encrypted": pass, "public": fail},
		"aws-sns-topic-not-public":    {"plain": pass, "encrypted": pass, "public": fail},
		// aws.sqs.queue
		"aws-sqs-queue-encrypted":  {"sse-sqs": pass, "kms-q": pass, "plain-q": fail, "public-q": fail, "alerts-sink": pass},
		"aws-sqs-queue-not-public": {"sse-sqs": pass, "kms-q": pass, "plain-q": pass, "public-q": fail, "alerts-sink": pass},
		// aws.lambda.function
		// open-url: the public permission of an auth-NONE URL is a grant to
		// "*" conditioned on lambda:FunctionUrlAuthType = NONE, which pins
		// nothing: public.
		"aws-lambda-function-not-public": {"modern": pass, "public-fn": fail, "open-url": fail, "iam-url": pass,
			"old-runtime": pass, "rotator": pass},
		"aws-lambda-supported-runtime": {"modern": pass, "public-fn": pass, "open-url": pass, "iam-url": pass,
			"old-runtime": fail, "rotator": pass},
		"aws-lambda-function-url-auth": {"modern": pass, "public-fn": pass, "open-url": fail, "iam-url": pass,
			"old-runtime": pass, "rotator": pass},
		// aws.secretsmanager.secret
		"aws-secretsmanager-rotation-enabled": {"rotated": pass, "static": fail},
		"aws-secretsmanager-unused-secret":    {"rotated": pass, "static": pass},
		"aws-secretsmanager-rotated-recently": {"rotated": pass, "static": pass},
	}
	for id, w := range want {
		if !reflect.DeepEqual(got[id], w) {
			t.Errorf("%s:\n got %v\nwant %v\nreasons: %v", id, got[id], w, reasons(t, col, id))
		}
	}

	// The only read error is the deleted bucket's logging status.
	if len(col.readErrors) != 1 || col.readErrors[0].Property != "s3_bucket_logging_enabled" ||
		col.readErrors[0].Code != vigil.ENOTFOUND {
		t.Errorf("read errors = %v, want only orphan's s3_bucket_logging_enabled (not found)", col.readErrors)
	}

	// Once main stops logging, no region is covered any more.
	if _, err := ct.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	got = verdicts(t, collect(t, []string{"cloudtrail"}, east, west))
	for id, w := range map[string]map[string]vigil.Status{
		"aws-cloudtrail-multi-region-logging":   {east: fail, west: fail},
		"aws-cloudtrail-s3-object-write-events": {east: fail, west: fail},
	} {
		if !reflect.DeepEqual(got[id], w) {
			t.Errorf("after stop-logging %s: got %v, want %v", id, got[id], w)
		}
	}
}
