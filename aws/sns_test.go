package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// publicTopicPolicy lets anyone publish to the topic, with no condition.
const publicTopicPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"anyone","Effect":"Allow",` +
	`"Principal":{"AWS":"*"},"Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:123456789012:public"}]}`

// seedTopics creates three topics in us-east-1: "plain" (default policy, no
// KMS), "encrypted" (KMS, display name, one SQS subscription) and "public"
// (a policy that lets anyone publish); and the queue "alerts-sink" it feeds.
func seedTopics(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := sns.NewFromConfig(moto.Config(t, "us-east-1"))
	create := func(name string, attrs map[string]string, tags ...snstypes.Tag) string {
		out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name), Attributes: attrs, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.TopicArn)
	}
	create("plain", nil)
	enc := create("encrypted", map[string]string{"KmsMasterKeyId": "alias/aws/sns", "DisplayName": "Alerts"},
		snstypes.Tag{Key: aws.String("env"), Value: aws.String("prod")})
	create("public", map[string]string{"Policy": publicTopicPolicy})
	if _, err := sqs.NewFromConfig(moto.Config(t, "us-east-1")).CreateQueue(ctx,
		&sqs.CreateQueueInput{QueueName: aws.String("alerts-sink")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &enc, Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:123456789012:alerts-sink")}); err != nil {
		t.Fatal(err)
	}
}

func TestSNS(t *testing.T) {
	moto.Reset(t)
	seedTopics(t)
	col := collect(t, []string{"sns"})
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	topics := col.ofType(TypeSNSTopic)
	if len(topics) != 3 {
		t.Fatalf("got %d topics, want 3", len(topics))
	}
	enc := topics["encrypted"]
	if enc.UID != "arn:aws:sns:us-east-1:123456789012:encrypted" || enc.Tags["env"] != "prod" {
		t.Errorf("encrypted: uid %s tags %v", enc.UID, enc.Tags)
	}
	for name, want := range map[string]map[string]any{
		"plain":     {"kms_master_key_id": nil, "display_name": "", "subscriptions": 0, "fifo_topic": false, "owner": "123456789012"},
		"encrypted": {"kms_master_key_id": "alias/aws/sns", "display_name": "Alerts", "subscriptions": 1},
		"public": {"kms_master_key_id": nil, "policy": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Sid": "anyone", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"},
				"Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:123456789012:public"}}}},
	} {
		for k, v := range want {
			if got, ok := topics[name].Properties[k]; !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s = %#v (present %v), want %#v", name, k, got, ok, v)
			}
		}
	}
	// The default policy lets the owner account in through a condition.
	st := topics["plain"].Properties["policy"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
	if st["Condition"] == nil {
		t.Errorf("plain: default policy statement %v has no condition", st)
	}
}
