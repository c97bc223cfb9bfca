package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
)

// Message attributes MoveAside puts on the copy it sends to the
// dead-letter queue, so that whoever reads that queue knows why.
const (
	AttrReason      = "vigil-reason"
	AttrMessageID   = "vigil-message-id"
	AttrReceived    = "vigil-receive-count"
	AttrSourceQueue = "vigil-source-queue"
)

// ErrDropped is wrapped by MoveAside when the queue has neither a
// dead-letter URL nor a redrive policy, so the message was deleted and
// exists nowhere any more.
var ErrDropped = errors.New("message deleted without a copy")

// QueueOptions configure an EventQueue.
type QueueOptions struct {
	// URL is the SQS queue URL, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
	// (required).
	URL string
	// DeadLetterURL, when set, is where MoveAside sends poison messages,
	// with the reason as a message attribute, before deleting them. When
	// empty, MoveAside leaves them to the queue's redrive policy (see
	// MoveAside). It must be in the queue's region.
	DeadLetterURL string
	// WaitTime is the long poll of one Receive, in whole seconds from 1 s
	// to 20 s (SQS's maximum); default 20 s.
	WaitTime time.Duration
	// Visibility hides a received message from other receivers for this
	// long (1 s to 12 h, whole seconds); default 60 s. A message that is
	// neither deleted nor released in that time is received again.
	Visibility time.Duration
	// MaxMessages is how many messages one Receive returns at most (1 to
	// 10); default 10.
	MaxMessages int
}

// Message is one received message.
type Message struct {
	// ID is SQS's message id.
	ID string
	// Body is the message body as sent (for EventBridge, the event JSON).
	Body string
	// Receipt is the handle that Delete, Release and MoveAside need.
	Receipt string
	// Received is SQS's ApproximateReceiveCount: 1 on the first delivery.
	Received int
	// SentAt is when the message was sent to the queue.
	SentAt time.Time
}

// EventQueue receives CloudTrail events from SQS with the scanning
// credentials of an account, which need sqs:ReceiveMessage,
// sqs:DeleteMessage, sqs:ChangeMessageVisibility and
// sqs:GetQueueAttributes on the queue, and sqs:SendMessage and
// sqs:GetQueueAttributes on the dead-letter queue. It is safe for
// concurrent use.
type EventQueue struct {
	client     *sqs.Client
	url, dlq   string
	region     string
	wait       int32
	visibility int32
	max        int32
	// redrive is the queue's own dead-letter target (its ARN), if any.
	redrive string
}

// Queue validates the options and returns the account's queue. It reads
// the queue's attributes (and the dead-letter queue's), so a queue that
// does not exist or cannot be read fails here, with a classified error,
// rather than on the first Receive.
func (c *Collector) Queue(ctx context.Context, acct vigil.Account, o QueueOptions) (*EventQueue, error) {
	q := &EventQueue{url: o.URL, dlq: o.DeadLetterURL}
	region, err := queueRegion("queue URL", o.URL)
	if err != nil {
		return nil, err
	}
	if o.DeadLetterURL != "" {
		dlqRegion, err := queueRegion("dead-letter queue URL", o.DeadLetterURL)
		if err != nil {
			return nil, err
		}
		if o.DeadLetterURL == o.URL {
			return nil, vigil.Errorf(vigil.EINVALID, "dead-letter queue URL %s is the queue itself", o.URL)
		}
		if dlqRegion != region {
			return nil, vigil.Errorf(vigil.EINVALID, "dead-letter queue %s is in %s, not in the queue's region %s",
				o.DeadLetterURL, dlqRegion, region)
		}
	}
	if q.wait, err = seconds(o.URL, "wait time", o.WaitTime, 20*time.Second, time.Second, 20*time.Second); err != nil {
		return nil, err
	}
	if q.visibility, err = seconds(o.URL, "visibility timeout", o.Visibility, 60*time.Second, time.Second, 12*time.Hour); err != nil {
		return nil, err
	}
	switch {
	case o.MaxMessages == 0:
		q.max = 10
	case o.MaxMessages < 1 || o.MaxMessages > 10:
		return nil, vigil.Errorf(vigil.EINVALID, "queue %s: max messages must be from 1 to 10, got %d", o.URL, o.MaxMessages)
	default:
		q.max = int32(o.MaxMessages)
	}

	base, err := c.base(ctx, acct)
	if err != nil {
		return nil, err
	}
	cfg := base.Copy()
	if region == "" {
		// An emulator's or a proxy's URL names no region: use the home
		// region, as Collect does.
		region = cfg.Region
		if len(c.opts.Regions) > 0 {
			region = c.opts.Regions[0]
		}
	}
	cfg.Region = region
	q.region = region
	// The shared client's overall timeout (60 s by default) must outlast a
	// long poll; only a caller's much shorter one needs its own client.
	if hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		if t := hc.GetTimeout(); t > 0 && t < time.Duration(q.wait)*time.Second+10*time.Second {
			cfg.HTTPClient = hc.WithTimeout(time.Duration(q.wait)*time.Second + 30*time.Second)
		}
	}
	q.client = sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		so.APIOptions = append(so.APIOptions, c.unlimited)
	})

	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(o.URL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		return nil, q.fail("read sqs queue", o.URL, err)
	}
	if rp := out.Attributes[string(sqstypes.QueueAttributeNameRedrivePolicy)]; rp != "" {
		var p struct {
			Target string `json:"deadLetterTargetArn"`
		}
		if err := json.Unmarshal([]byte(rp), &p); err == nil {
			q.redrive = p.Target
		}
	}
	if o.DeadLetterURL != "" {
		if _, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(o.DeadLetterURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}}); err != nil {
			return nil, q.fail("read sqs dead-letter queue", o.DeadLetterURL, err)
		}
	}
	return q, nil
}

// unlimited replaces the collector's rate limiter on the queue's client
// with a plain call counter: a long poll holds its connection for up to
// 20 s and must neither wait behind nor starve the sqs collector's token
// bucket, and SQS's own limits (nearly unlimited API calls per second per
// queue) are far above anything one watcher sends.
func (c *Collector) unlimited(st *middleware.Stack) error {
	count := middleware.FinalizeMiddlewareFunc(rateLimitID,
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.calls.Add(1)
			return next.HandleFinalize(ctx, in)
		})
	if _, err := st.Finalize.Swap(rateLimitID, count); err != nil {
		// No limiter on this stack (a config built elsewhere): count anyway.
		return st.Finalize.Add(count, middleware.After)
	}
	return nil
}

// URL returns the queue's URL.
func (q *EventQueue) URL() string { return q.url }

// Region returns the region the queue's client calls.
func (q *EventQueue) Region() string { return q.region }

// Receive long-polls the queue for up to the wait time and returns the
// messages received, possibly none. A cancelled ctx ends the poll at once
// and Receive returns ctx.Err().
func (q *EventQueue) Receive(ctx context.Context) ([]Message, error) {
	out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(q.url),
		MaxNumberOfMessages: q.max,
		WaitTimeSeconds:     q.wait,
		VisibilityTimeout:   q.visibility,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{
			sqstypes.MessageSystemAttributeNameApproximateReceiveCount,
			sqstypes.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, q.fail("receive from sqs queue", q.url, err)
	}
	msgs := make([]Message, 0, len(out.Messages))
	for _, m := range out.Messages {
		msg := Message{ID: aws.ToString(m.MessageId), Body: aws.ToString(m.Body), Receipt: aws.ToString(m.ReceiptHandle)}
		msg.Received, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		if ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
			msg.SentAt = time.UnixMilli(ms).UTC()
		}
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// Delete acknowledges a message: it is gone from the queue.
func (q *EventQueue) Delete(ctx context.Context, m Message) error {
	if _, err := q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url),
		ReceiptHandle: aws.String(m.Receipt)}); err != nil {
		return q.fail("delete message "+m.ID+" from sqs queue", q.url, err)
	}
	return nil
}

// Release makes a message visible again at once, for a transient failure:
// it is received again on the next poll, with Received one higher, until
// the queue's redrive policy moves it to the dead-letter queue after
// maxReceiveCount receives. A message that is no longer in flight (its
// visibility expired already) is visible already, so that is no error.
func (q *EventQueue) Release(ctx context.Context, m Message) error {
	_, err := q.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.url),
		ReceiptHandle: aws.String(m.Receipt), VisibilityTimeout: 0})
	if err != nil && !hasCode(err, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight") {
		return q.fail("release message "+m.ID+" on sqs queue", q.url, err)
	}
	return nil
}

// MoveAside takes a poison message (one that can never be processed, such
// as malformed JSON) out of the queue:
//
//   - with a DeadLetterURL, it sends a copy there with the reason and the
//     original message id, receive count and queue as message attributes
//     (AttrReason, …), then deletes the message. If the send fails the
//     message stays in the queue and returns after its visibility timeout.
//   - without one, when the queue has a redrive policy, it releases the
//     message, so that the next receives quickly use up maxReceiveCount
//     and SQS moves it to the queue's own dead-letter queue (without the
//     reason: set DeadLetterURL to keep it).
//   - with neither, it deletes the message and returns an error wrapping
//     ErrDropped that names the message and the reason, for the log: a
//     poison message never gets better, and keeping it would cost a
//     receive per visibility timeout until its retention ends.
func (q *EventQueue) MoveAside(ctx context.Context, m Message, reason string) error {
	if reason == "" {
		reason = "no reason given" // SQS rejects empty attribute values
	}
	reason = truncate(reason, 1024)
	switch {
	case q.dlq != "":
		in := &sqs.SendMessageInput{QueueUrl: aws.String(q.dlq), MessageBody: aws.String(m.Body),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{
				AttrReason:      {DataType: aws.String("String"), StringValue: aws.String(reason)},
				AttrSourceQueue: {DataType: aws.String("String"), StringValue: aws.String(q.url)},
				AttrReceived:    {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(max(m.Received, 0)))},
			}}
		if m.ID != "" {
			in.MessageAttributes[AttrMessageID] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(m.ID)}
		}
		if strings.HasSuffix(q.dlq, ".fifo") {
			in.MessageGroupId = aws.String("vigil")
			in.MessageDeduplicationId = aws.String(dedupID(m))
		}
		if _, err := q.client.SendMessage(ctx, in); err != nil {
			return q.fail("move message "+m.ID+" to dead-letter queue", q.dlq, err)
		}
		if err := q.Delete(ctx, m); err != nil {
			return fmt.Errorf("message %s copied to dead-letter queue %s but not deleted (it will be seen again): %w", m.ID, q.dlq, err)
		}
		return nil
	case q.redrive != "":
		if err := q.Release(ctx, m); err != nil {
			return fmt.Errorf("release poison message %s for redrive to %s: %w", m.ID, q.redrive, err)
		}
		return nil
	}
	if err := q.Delete(ctx, m); err != nil {
		return err
	}
	return fmt.Errorf("poison message %s on queue %s (%s): no dead-letter URL and no redrive policy: %w", m.ID, q.url, reason, ErrDropped)
}

// fail wraps an SQS error with a Vigil code and a message naming the call
// and the queue.
func (q *EventQueue) fail(what, queueURL string, err error) error {
	code := classify(err)
	switch {
	case hasCode(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
		code = vigil.ENOTFOUND
	case hasCode(err, "ReceiptHandleIsInvalid", "InvalidParameterValue", "InvalidAttributeValue",
		"AWS.SimpleQueueService.InvalidBatchEntryId"):
		code = vigil.EINVALID
	case hasCode(err, "OverLimit", "RequestThrottled", "KMS.KMSThrottlingException"):
		code = vigil.ETHROTTLED
	}
	msg := what + " " + queueURL
	if code == vigil.ENOTFOUND {
		msg += " (no such queue in " + q.region + ")"
	}
	return &vigil.Error{Code: code, Message: msg, Err: errorf(err)}
}

// queueNameRe is SQS's rule for queue names: up to 80 alphanumerics,
// hyphens and underscores, with .fifo at the end of a FIFO queue's.
var queueNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// queueRegion validates an SQS queue URL and returns its region, or "" for
// a host that is not an AWS endpoint (an emulator, a proxy).
func queueRegion(what, raw string) (string, error) {
	bad := func(why string) error {
		return vigil.Errorf(vigil.EINVALID, "%s %q: %s (want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", what, raw, why)
	}
	if raw == "" {
		return "", vigil.Errorf(vigil.EINVALID, "%s is required (want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)", what)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", bad("not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", bad("scheme must be https")
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", bad("want a host and a path only")
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 2 {
		return "", bad("path must be /ACCOUNT/NAME")
	}
	if len(parts[0]) != 12 || strings.Trim(parts[0], "0123456789") != "" {
		return "", bad("account " + strconv.Quote(parts[0]) + " is not 12 digits")
	}
	if !queueNameRe.MatchString(strings.TrimSuffix(parts[1], ".fifo")) || len(parts[1]) > 80 {
		return "", bad("queue name " + strconv.Quote(parts[1]) + " is not up to 80 letters, digits, - and _")
	}
	host := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(host, ".amazonaws.com") && !strings.HasSuffix(host, ".amazonaws.com.cn") {
		return "", nil
	}
	if u.Scheme != "https" {
		return "", bad("scheme must be https")
	}
	if host == "queue.amazonaws.com" { // the legacy endpoint of us-east-1
		return "us-east-1", nil
	}
	// sqs.REGION.amazonaws.com, sqs-fips.REGION…, REGION.queue.amazonaws.com
	// (legacy), vpce-….sqs.REGION.vpce.amazonaws.com.
	for _, label := range strings.Split(host, ".") {
		if regionRe.MatchString(label) {
			return label, nil
		}
	}
	return "", bad("no region in host " + host)
}

// seconds converts an optional duration to whole seconds within bounds.
func seconds(queueURL, what string, d, def, lo, hi time.Duration) (int32, error) {
	if d == 0 {
		d = def
	}
	if d < lo || d > hi || d%time.Second != 0 {
		return 0, vigil.Errorf(vigil.EINVALID, "queue %s: %s must be whole seconds from %s to %s, got %s", queueURL, what, lo, hi, d)
	}
	return int32(d / time.Second), nil
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// dedupID is the FIFO deduplication id of a moved message: its original
// id (or its body's hash), so that moving it twice (after a failed delete)
// stores one copy.
func dedupID(m Message) string {
	if m.ID != "" {
		return m.ID
	}
	sum := sha256.Sum256([]byte(m.Body))
	return hex.EncodeToString(sum[:])
}
