package aws

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilsec/vigil"
)

// TypeSQSQueue is the resource type of an SQS queue.
const TypeSQSQueue = "aws.sqs.queue"

func init() {
	register(&service{name: "sqs", types: []string{TypeSQSQueue}, collect: collectSQS, get: getSQS})
}

// sqsQueueProps are the properties read from GetQueueAttributes: all of
// them are missing, with a read error, when that call fails.
var sqsQueueProps = []string{"policy", "kms_master_key_id", "kms_data_key_reuse_period_seconds",
	"sqs_managed_sse_enabled", "visibility_timeout", "message_retention_period", "delay_seconds",
	"maximum_message_size", "receive_message_wait_time_seconds", "fifo_queue", "content_based_deduplication",
	"redrive_policy", "redrive_allow_policy", "created", "last_modified"}

// collectSQS lists queues and describes each with its attributes and tags.
func collectSQS(ctx context.Context, t *task) error {
	client := sqs.NewFromConfig(t.cfg)
	p := sqs.NewListQueuesPaginator(client, &sqs.ListQueuesInput{MaxResults: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, url := range page.QueueUrls {
			r, ok := sqsQueue(ctx, t, client, url)
			if !ok {
				continue
			}
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// getSQS re-reads the queues a Get wants: GetQueueUrl turns the name of
// the ARN into the URL every other call takes.
func getSQS(ctx context.Context, t *task) error {
	client := sqs.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs(TypeSQSQueue) {
		name := arnTail(uid, ":")
		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &name})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case sqsGone(err):
			continue
		case err != nil:
			t.getFailed(uid, err)
			continue
		}
		r, ok := sqsQueue(ctx, t, client, aws.ToString(out.QueueUrl))
		if !ok {
			continue
		}
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// sqsGone reports whether err says the queue does not exist. SQS speaks
// JSON with query compatibility: the code is the query protocol's when AWS
// sends the x-amzn-query-error header, the JSON shape's name otherwise.
func sqsGone(err error) bool {
	return err != nil && (classify(err) == vigil.ENOTFOUND ||
		hasCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"))
}

// sqsQueue describes one queue; ok is false for a queue deleted since it
// was listed.
func sqsQueue(ctx context.Context, t *task, client *sqs.Client, url string) (r vigil.Resource, ok bool) {
	name := url[strings.LastIndex(url, "/")+1:]
	r = vigil.Resource{UID: t.arn("sqs", t.region, name), Type: TypeSQSQueue, Name: name,
		Properties: map[string]any{"url": url}}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
	switch {
	case sqsGone(err):
		return r, false
	case err != nil:
		for _, k := range sqsQueueProps {
			t.propErr(&r, k, err)
		}
	default:
		a := out.Attributes
		if arn := a["QueueArn"]; arn != "" {
			r.UID = arn
		}
		p := r.Properties
		p["policy"] = parsePolicy(a["Policy"])
		p["kms_master_key_id"] = attrOrNil(a, "KmsMasterKeyId")
		p["kms_data_key_reuse_period_seconds"] = attrNum(a, "KmsDataKeyReusePeriodSeconds")
		p["sqs_managed_sse_enabled"] = a["SqsManagedSseEnabled"] == "true"
		p["visibility_timeout"] = attrNum(a, "VisibilityTimeout")
		p["message_retention_period"] = attrNum(a, "MessageRetentionPeriod")
		p["delay_seconds"] = attrNum(a, "DelaySeconds")
		p["maximum_message_size"] = attrNum(a, "MaximumMessageSize")
		p["receive_message_wait_time_seconds"] = attrNum(a, "ReceiveMessageWaitTimeSeconds")
		p["fifo_queue"] = a["FifoQueue"] == "true"
		p["content_based_deduplication"] = a["ContentBasedDeduplication"] == "true"
		p["redrive_policy"] = jsonAttr(a, "RedrivePolicy")
		p["redrive_allow_policy"] = jsonAttr(a, "RedriveAllowPolicy")
		p["created"] = epochAttr(a, "CreatedTimestamp")
		p["last_modified"] = epochAttr(a, "LastModifiedTimestamp")
	}
	tags, err := client.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: &url})
	if err != nil {
		t.propErr(&r, "tags", err)
	} else if len(tags.Tags) > 0 {
		r.Tags = tags.Tags
	}
	return r, true
}

// jsonAttr decodes a JSON-valued attribute (RedrivePolicy…), or returns nil
// when it is absent; text that does not parse is kept as {"_raw": text}.
func jsonAttr(a map[string]string, k string) any {
	v := a[k]
	if v == "" {
		return nil
	}
	var out any
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return map[string]any{"_raw": v, "_error": err.Error()}
	}
	return out
}

// epochAttr converts an attribute in epoch seconds to timeFormat, or nil.
func epochAttr(a map[string]string, k string) any {
	f, err := strconv.ParseFloat(a[k], 64)
	if err != nil {
		return nil
	}
	return time.Unix(int64(f), 0).UTC().Format(timeFormat)
}
