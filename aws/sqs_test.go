package aws

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// publicQueuePolicy lets anyone send to the queue, with no condition.
const publicQueuePolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",` +
	`"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:public-q"}]}`

// seedQueues creates four queues in us-east-1: "sse-sqs" (the default
// SQS-managed encryption), "kms-q" (a KMS key, a dead-letter queue), "plain-q"
// (encryption turned off) and "public-q" (a public policy, no encryption).
func seedQueues(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	// In this order: kms-q's dead-letter queue must exist first.
	for _, q := range []struct {
		name  string
		attrs map[string]string
	}{
		{"sse-sqs", nil},
		{"kms-q", map[string]string{"KmsMasterKeyId": "alias/aws/sqs", "VisibilityTimeout": "60",
			"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:sse-sqs","maxReceiveCount":5}`}},
		{"plain-q", map[string]string{"SqsManagedSseEnabled": "false"}},
		{"public-q", map[string]string{"SqsManagedSseEnabled": "false", "Policy": publicQueuePolicy}},
	} {
		name, attrs := q.name, q.attrs
		if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs,
			Tags: map[string]string{"queue": name}}); err != nil {
			t.Fatalf("create queue %s: %v", name, err)
		}
	}
}

func TestSQS(t *testing.T) {
	moto.Reset(t)
	seedQueues(t)
	col := collect(t, []string{"sqs"})
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	queues := col.ofType(TypeSQSQueue)
	if len(queues) != 4 {
		t.Fatalf("got %d queues, want 4", len(queues))
	}
	kms := queues["kms-q"]
	if kms.UID != "arn:aws:sqs:us-east-1:123456789012:kms-q" || kms.Tags["queue"] != "kms-q" {
		t.Errorf("kms-q: uid %s tags %v", kms.UID, kms.Tags)
	}
	for name, want := range map[string]map[string]any{
		"sse-sqs": {"sqs_managed_sse_enabled": true, "kms_master_key_id": nil, "policy": nil,
			"visibility_timeout": 30, "message_retention_period": 345600, "fifo_queue": false, "redrive_policy": nil},
		"kms-q": {"kms_master_key_id": "alias/aws/sqs", "visibility_timeout": 60, "kms_data_key_reuse_period_seconds": 300,
			"redrive_policy": map[string]any{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:sse-sqs", "maxReceiveCount": float64(5)}},
		"plain-q": {"sqs_managed_sse_enabled": false, "kms_master_key_id": nil},
		"public-q": {"sqs_managed_sse_enabled": false, "policy": map[string]any{"Version": "2012-10-17",
			"Statement": []any{map[string]any{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
				"Resource": "arn:aws:sqs:us-east-1:123456789012:public-q"}}}},
	} {
		for k, v := range want {
			if got, ok := queues[name].Properties[k]; !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s = %#v (present %v), want %#v", name, k, got, ok, v)
			}
		}
	}
	if _, ok := kms.Properties["created"].(string); !ok {
		t.Errorf("kms-q created = %#v, want a timestamp", kms.Properties["created"])
	}
}

// TestSQSPolicyVerbatim checks that a queue policy, which SQS returns as
// plain JSON, reaches the properties unchanged: "+" is legal in IAM role
// names and "%41" is a literal condition value, and URL-decoding either
// would rewrite the policy.
func TestSQSPolicyVerbatim(t *testing.T) {
	moto.Reset(t)
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::111122223333:role/deploy+ci"},"Action":"sqs:SendMessage",` +
		`"Resource":"arn:aws:sqs:us-east-1:123456789012:partner-q","Condition":{"StringLike":{"aws:SourceArn":"arn:aws:sns:*:111122223333:100%41"}}}]}`
	c := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String("partner-q"),
		Attributes: map[string]string{"Policy": policy}}); err != nil {
		t.Fatal(err)
	}
	q := collect(t, []string{"sqs"}).ofType(TypeSQSQueue)["partner-q"]
	if got, want := q.Properties["policy"], parsePolicyJSON(t, policy); !reflect.DeepEqual(got, want) {
		t.Errorf("policy = %#v\nwant %#v", got, want)
	}
}

// TestSQSQueueGone checks that a queue deleted between ListQueues and
// GetQueueAttributes is skipped whichever code SQS gives: the query
// protocol's AWS.SimpleQueueService.NonExistentQueue or the JSON shape's
// QueueDoesNotExist.
func TestSQSQueueGone(t *testing.T) {
	moto.Reset(t)
	seedQueues(t)
	for _, override := range []*string{nil, aws.String("AWS.SimpleQueueService.NonExistentQueue")} {
		gone := answer("GetQueueAttributes", func(in any) any {
			if strings.HasSuffix(aws.ToString(in.(*sqs.GetQueueAttributesInput).QueueUrl), "/plain-q") {
				return &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist."), ErrorCodeOverride: override}
			}
			return nil
		})
		col := collectWith(t, []string{"sqs"}, gone)
		queues := col.ofType(TypeSQSQueue)
		if _, ok := queues["plain-q"]; ok || len(queues) != 3 {
			t.Errorf("code %s: got queues %v, want the 3 that still exist", (&sqstypes.QueueDoesNotExist{ErrorCodeOverride: override}).ErrorCode(), ec2Keys(queues))
		}
		if len(col.readErrors) != 0 {
			t.Errorf("read errors: %v", col.readErrors)
		}
	}
}

// parsePolicyJSON decodes a policy as plain JSON, for comparison.
func parsePolicyJSON(t *testing.T, doc string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	return v
}
