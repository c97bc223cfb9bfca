package aws

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/vigilsec/vigil"
)

// TypeSNSTopic is the resource type of an SNS topic.
const TypeSNSTopic = "aws.sns.topic"

func init() {
	register(&service{name: "sns", types: []string{TypeSNSTopic}, collect: collectSNS, get: getSNS})
}

// snsTopicProps are the properties read from GetTopicAttributes: all of
// them are missing, with a read error, when that call fails.
var snsTopicProps = []string{"display_name", "owner", "policy", "kms_master_key_id",
	"subscriptions_confirmed", "subscriptions_pending", "fifo_topic", "content_based_deduplication",
	"signature_version", "tracing_config", "delivery_status_logging"}

// collectSNS lists topics and describes each with its attributes and tags.
func collectSNS(ctx context.Context, t *task) error {
	client := sns.NewFromConfig(t.cfg)
	p := sns.NewListTopicsPaginator(client, &sns.ListTopicsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, tp := range page.Topics {
			r, ok := snsTopic(ctx, t, client, aws.ToString(tp.TopicArn))
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

// getSNS re-reads the topics a Get wants: a topic is addressed by its ARN.
func getSNS(ctx context.Context, t *task) error {
	client := sns.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs(TypeSNSTopic) {
		r, ok := snsTopic(ctx, t, client, uid)
		if !ok {
			continue
		}
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// snsTopic describes one topic; ok is false for a topic deleted since it
// was listed.
func snsTopic(ctx context.Context, t *task, client *sns.Client, arn string) (r vigil.Resource, ok bool) {
	r = vigil.Resource{UID: arn, Type: TypeSNSTopic, Name: arn[strings.LastIndex(arn, ":")+1:],
		Properties: map[string]any{}}
	out, err := client.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &arn})
	switch {
	case classify(err) == vigil.ENOTFOUND:
		return r, false
	case err != nil:
		for _, k := range snsTopicProps {
			t.propErr(&r, k, err)
		}
	default:
		a := out.Attributes
		p := r.Properties
		p["display_name"] = a["DisplayName"]
		p["owner"] = a["Owner"]
		p["policy"] = parsePolicy(a["Policy"])
		p["kms_master_key_id"] = attrOrNil(a, "KmsMasterKeyId")
		confirmed, pending := attrNum(a, "SubscriptionsConfirmed"), attrNum(a, "SubscriptionsPending")
		p["subscriptions_confirmed"] = confirmed
		p["subscriptions_pending"] = pending
		p["fifo_topic"] = a["FifoTopic"] == "true"
		p["content_based_deduplication"] = a["ContentBasedDeduplication"] == "true"
		p["signature_version"] = attrOrNil(a, "SignatureVersion")
		p["tracing_config"] = attrOrNil(a, "TracingConfig")
		// Delivery status logging is configured per protocol by a
		// <Protocol>FailureFeedbackRoleArn attribute.
		var logged []string
		for k, v := range a {
			if proto, found := strings.CutSuffix(k, "FailureFeedbackRoleArn"); found && v != "" {
				logged = append(logged, strings.ToLower(proto))
			}
		}
		sort.Strings(logged)
		p["delivery_status_logging"] = anyStrs(logged)
	}
	// The Subscriptions* attributes are refreshed about once a minute;
	// listing the subscriptions gives the exact count.
	n := 0
	sp := sns.NewListSubscriptionsByTopicPaginator(client, &sns.ListSubscriptionsByTopicInput{TopicArn: &arn})
	for sp.HasMorePages() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.propErr(&r, "subscriptions", err)
			n = -1
			break
		}
		n += len(page.Subscriptions)
	}
	if n >= 0 {
		r.Properties["subscriptions"] = n
	}
	tags, err := client.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil {
		t.propErr(&r, "tags", err)
	} else {
		r.Tags = tagMap(tags.Tags, func(tg snstypes.Tag) (*string, *string) { return tg.Key, tg.Value })
	}
	return r, true
}

// attrOrNil returns a string attribute, or nil when it is absent or empty.
func attrOrNil(a map[string]string, k string) any {
	if v := a[k]; v != "" {
		return v
	}
	return nil
}

// attrNum returns an integer attribute, or nil when it is absent or not a
// number (never a made-up 0).
func attrNum(a map[string]string, k string) any {
	n, err := strconv.Atoi(a[k])
	if err != nil {
		return nil
	}
	return n
}
