package aws

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/iampolicy"
	"github.com/vigilsec/vigil/internal/testenv"
)

// queueCollector returns a collector on moto and the account it resolves.
func queueCollector(t *testing.T, opts Options) (*Collector, vigil.Account) {
	t.Helper()
	opts.Endpoint = moto.URL
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := c.Resolve(context.Background(), Target{})
	if err != nil {
		t.Fatal(err)
	}
	return c, acct
}

// seedQueue creates a queue in us-east-1 and returns its URL. The test's
// name prefixes the queue's, so tests share moto without a reset (which
// costs seconds).
func seedQueue(t *testing.T, name string, attrs map[string]string) string {
	t.Helper()
	name = qname(t, name)
	client := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create queue %s: %v", name, err)
	}
	// Later tests that collect without a reset must not find it.
	t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
	return aws.ToString(out.QueueUrl)
}

// qname is the name of the test's queue called name.
func qname(t *testing.T, name string) string {
	t.Helper()
	prefix := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return prefix[:min(len(prefix), 60)] + "-" + name
}

// sendBodies puts bodies on a queue and returns their message ids by body.
func sendBodies(t *testing.T, queueURL string, bodies ...string) map[string]string {
	t.Helper()
	client := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	ids := map[string]string{}
	for _, b := range bodies {
		out, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(b)})
		if err != nil {
			t.Fatalf("send %q: %v", b, err)
		}
		ids[b] = aws.ToString(out.MessageId)
	}
	return ids
}

// queueDepth returns the queue's visible and in-flight message counts.
func queueDepth(t *testing.T, queueURL string) (visible, inFlight int) {
	t.Helper()
	out, err := sqs.NewFromConfig(moto.Config(t, "us-east-1")).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatalf("queue attributes of %s: %v", queueURL, err)
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight
}

// receiveBodies receives once and returns the messages by body.
func receiveBodies(t *testing.T, q *EventQueue) map[string]Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := q.Receive(ctx)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	out := map[string]Message{}
	for _, m := range msgs {
		out[m.Body] = m
	}
	return out
}

func bodyKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestQueueOptionsInvalid(t *testing.T) {
	const good = "https://sqs.us-east-1.amazonaws.com/123456789012/vigil-events"
	c, err := New(Options{Endpoint: "http://127.0.0.1:1"}) // never called: validation comes first
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    QueueOptions
		want string // in the error message
	}{
		{"missing", QueueOptions{}, "queue URL is required"},
		{"not a URL", QueueOptions{URL: "vigil-events"}, `queue URL "vigil-events"`},
		{"scheme", QueueOptions{URL: "ftp://sqs.us-east-1.amazonaws.com/123456789012/q"}, "scheme must be https"},
		{"plain http to AWS", QueueOptions{URL: "http://sqs.us-east-1.amazonaws.com/123456789012/q"}, "scheme must be https"},
		{"no account", QueueOptions{URL: "https://sqs.us-east-1.amazonaws.com/vigil-events"}, "path must be /ACCOUNT/NAME"},
		{"short account", QueueOptions{URL: "https://sqs.us-east-1.amazonaws.com/12345/q"}, `account "12345" is not 12 digits`},
		{"bad name", QueueOptions{URL: "https://sqs.us-east-1.amazonaws.com/123456789012/a:b"}, `queue name "a:b"`},
		{"query", QueueOptions{URL: good + "?x=1"}, "host and a path only"},
		{"no region", QueueOptions{URL: "https://sqs.amazonaws.com/123456789012/q"}, "no region in host sqs.amazonaws.com"},
		{"bad dlq", QueueOptions{URL: good, DeadLetterURL: "https://sqs.us-east-1.amazonaws.com/1/q"}, `dead-letter queue URL "https://sqs.us-east-1.amazonaws.com/1/q"`},
		{"dlq is queue", QueueOptions{URL: good, DeadLetterURL: good}, "is the queue itself"},
		{"dlq elsewhere", QueueOptions{URL: good, DeadLetterURL: "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq"}, "is in eu-west-1, not in the queue's region us-east-1"},
		{"wait too long", QueueOptions{URL: good, WaitTime: 21 * time.Second}, "wait time must be whole seconds from 1s to 20s, got 21s"},
		{"wait fraction", QueueOptions{URL: good, WaitTime: 1500 * time.Millisecond}, "got 1.5s"},
		{"visibility negative", QueueOptions{URL: good, Visibility: -time.Second}, "visibility timeout must be whole seconds from 1s to 12h0m0s, got -1s"},
		{"max messages", QueueOptions{URL: good, MaxMessages: 11}, "max messages must be from 1 to 10, got 11"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Queue(context.Background(), vigil.Account{Provider: vigil.AWS}, tc.o)
			if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (code %q), want EINVALID containing %q", err, vigil.ErrorCode(err), tc.want)
			}
		})
	}
}

func TestQueueRegion(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1"},
		{"https://sqs.eu-central-2.amazonaws.com/123456789012/q.fifo", "eu-central-2"},
		{"https://sqs-fips.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"},
		{"https://ap-southeast-2.queue.amazonaws.com/123456789012/q", "ap-southeast-2"},
		{"https://queue.amazonaws.com/123456789012/q", "us-east-1"},
		{"https://vpce-0a1b2c3d-4e5f.sqs.eu-west-3.vpce.amazonaws.com/123456789012/q", "eu-west-3"},
		{"http://127.0.0.1:5000/123456789012/q", ""},
		{"https://sqs.internal.example/123456789012/q", ""},
	} {
		got, err := queueRegion("queue URL", tc.url)
		if err != nil || got != tc.want {
			t.Errorf("queueRegion(%s) = %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
}

func TestQueueNotFound(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	missing := moto.URL + "/" + testenv.MotoAccount + "/" + qname(t, "no-such-queue")
	_, err := c.Queue(context.Background(), acct, QueueOptions{URL: missing})
	if vigil.ErrorCode(err) != vigil.ENOTFOUND || !strings.Contains(err.Error(), "read sqs queue "+missing+" (no such queue in us-east-1)") {
		t.Fatalf("missing queue: got %v (code %q), want ENOTFOUND naming %s", err, vigil.ErrorCode(err), missing)
	}
	main := seedQueue(t, "main", nil)
	_, err = c.Queue(context.Background(), acct, QueueOptions{URL: main, DeadLetterURL: missing})
	if vigil.ErrorCode(err) != vigil.ENOTFOUND || !strings.Contains(err.Error(), "read sqs dead-letter queue "+missing) {
		t.Fatalf("missing dead-letter queue: got %v (code %q), want ENOTFOUND naming %s", err, vigil.ErrorCode(err), missing)
	}
}

func TestQueueReceiveDeleteRelease(t *testing.T) {
	// A rate of 0.01/s (burst 1) would hold the second sqs call for 100 s:
	// the queue's client must not go through the collector's limiter.
	c, acct := queueCollector(t, Options{Rates: map[string]float64{"sqs": 0.01}})
	queueURL := seedQueue(t, "events", nil)
	ids := sendBodies(t, queueURL, `{"n":1}`, `{"n":2}`, `{"n":3}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := c.APICalls()
	q, err := c.Queue(ctx, acct, QueueOptions{URL: queueURL, WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if q.Region() != "us-east-1" || q.URL() != queueURL {
		t.Fatalf("queue region %q url %q", q.Region(), q.URL())
	}
	start := time.Now()
	got := receiveBodies(t, q)
	if keys := bodyKeys(got); !reflect.DeepEqual(keys, []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}) {
		t.Fatalf("received %q, want the three bodies", keys)
	}
	for body, m := range got {
		if m.ID != ids[body] || m.Received != 1 || m.Receipt == "" {
			t.Errorf("%s: id %q (want %q) received %d (want 1) receipt %q", body, m.ID, ids[body], m.Received, m.Receipt)
		}
		if d := time.Since(m.SentAt); d < 0 || d > time.Minute {
			t.Errorf("%s: sent at %s, %s ago", body, m.SentAt, d)
		}
	}
	if err := q.Delete(ctx, got[`{"n":1}`]); err != nil {
		t.Fatal(err)
	}
	if err := q.Release(ctx, got[`{"n":2}`]); err != nil {
		t.Fatal(err)
	}
	// n=3 stays in flight (60 s visibility): only the released one comes back.
	again := receiveBodies(t, q)
	if keys := bodyKeys(again); !reflect.DeepEqual(keys, []string{`{"n":2}`}) {
		t.Fatalf("after delete and release, received %q, want only n=2", keys)
	}
	if m := again[`{"n":2}`]; m.Received != 2 || m.ID != ids[`{"n":2}`] {
		t.Errorf("released message: id %q received %d, want %q received 2", m.ID, m.Received, ids[`{"n":2}`])
	}
	if v, f := queueDepth(t, queueURL); v != 0 || f != 2 {
		t.Errorf("depth: %d visible %d in flight, want 0 and 2 (n=2, n=3)", v, f)
	}
	for _, m := range []Message{again[`{"n":2}`], got[`{"n":3}`]} {
		if err := q.Delete(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if v, f := queueDepth(t, queueURL); v != 0 || f != 0 {
		t.Errorf("after deleting all: %d visible %d in flight, want none", v, f)
	}
	if rest := receiveBodies(t, q); len(rest) != 0 {
		t.Errorf("empty queue returned %q", bodyKeys(rest))
	}
	// A deleted message's receipt is no longer valid.
	if err := q.Release(ctx, got[`{"n":1}`]); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("release of a deleted message: %v (code %q), want EINVALID", err, vigil.ErrorCode(err))
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("took %s: the rate limiter held the calls", elapsed)
	}
	// Queue: 1 read; then 3 receives, 3 deletes, 2 releases.
	if calls := c.APICalls() - before; calls != 9 {
		t.Errorf("counted %d API calls, want 9", calls)
	}
}

func TestQueueReleaseExpired(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	queueURL := seedQueue(t, "events", nil)
	sendBodies(t, queueURL, "slow")
	q, err := c.Queue(context.Background(), acct, QueueOptions{URL: queueURL, WaitTime: time.Second, Visibility: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := receiveBodies(t, q)["slow"]
	time.Sleep(1500 * time.Millisecond)
	// Its visibility ran out: it is visible already, which is what
	// Release wants, so that is no error.
	if err := q.Release(context.Background(), m); err != nil {
		t.Fatalf("release after the visibility timeout: %v", err)
	}
	if again := receiveBodies(t, q)["slow"]; again.Received != 2 {
		t.Errorf("received again %+v, want receive count 2", again)
	}
}

func TestQueueMaxMessages(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	queueURL := seedQueue(t, "events", nil)
	sendBodies(t, queueURL, "a", "b", "c")
	q, err := c.Queue(context.Background(), acct, QueueOptions{URL: queueURL, WaitTime: time.Second, MaxMessages: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveBodies(t, q); len(got) != 2 {
		t.Fatalf("received %d messages, want 2", len(got))
	}
}

func TestQueueMoveAside(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	ctx := context.Background()
	dlqURL := seedQueue(t, "events-dlq", nil)
	queueURL := seedQueue(t, "events", nil)
	ids := sendBodies(t, queueURL, "not json")
	q, err := c.Queue(ctx, acct, QueueOptions{URL: queueURL, DeadLetterURL: dlqURL, WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := receiveBodies(t, q)["not json"]
	if err := q.MoveAside(ctx, m, "parse event: invalid character 'o' in literal null"); err != nil {
		t.Fatal(err)
	}
	if v, f := queueDepth(t, queueURL); v != 0 || f != 0 {
		t.Errorf("queue after MoveAside: %d visible %d in flight, want empty", v, f)
	}
	out, err := sqs.NewFromConfig(moto.Config(t, "us-east-1")).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(dlqURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != "not json" {
		t.Fatalf("dead-letter queue holds %+v, want the one body", out.Messages)
	}
	attrs := map[string]string{}
	for k, v := range out.Messages[0].MessageAttributes {
		attrs[k] = aws.ToString(v.DataType) + ":" + aws.ToString(v.StringValue)
	}
	want := map[string]string{
		AttrReason:      "String:parse event: invalid character 'o' in literal null",
		AttrMessageID:   "String:" + ids["not json"],
		AttrReceived:    "Number:1",
		AttrSourceQueue: "String:" + queueURL,
	}
	if !reflect.DeepEqual(attrs, want) {
		t.Errorf("dead-letter attributes\n got %v\nwant %v", attrs, want)
	}
}

func TestQueueMoveAsideRedrive(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	ctx := context.Background()
	dlqURL := seedQueue(t, "events-dlq", nil)
	queueURL := seedQueue(t, "events", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:` + qname(t, "events-dlq") + `","maxReceiveCount":2}`})
	sendBodies(t, queueURL, "poison")
	q, err := c.Queue(ctx, acct, QueueOptions{URL: queueURL, WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Without a dead-letter URL, MoveAside releases: two receives use up
	// maxReceiveCount 2 and SQS moves the message on the third.
	for i := 1; i <= 2; i++ {
		m, ok := receiveBodies(t, q)["poison"]
		if !ok || m.Received != i {
			t.Fatalf("receive %d: got %+v", i, m)
		}
		if err := q.MoveAside(ctx, m, "malformed"); err != nil {
			t.Fatal(err)
		}
	}
	if rest := receiveBodies(t, q); len(rest) != 0 {
		t.Fatalf("after maxReceiveCount, received %q", bodyKeys(rest))
	}
	if v, _ := queueDepth(t, dlqURL); v != 1 {
		t.Errorf("dead-letter queue holds %d messages, want 1", v)
	}
}

func TestQueueMoveAsideNowhere(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	ctx := context.Background()
	queueURL := seedQueue(t, "events", nil)
	ids := sendBodies(t, queueURL, "poison")
	q, err := c.Queue(ctx, acct, QueueOptions{URL: queueURL, WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = q.MoveAside(ctx, receiveBodies(t, q)["poison"], "malformed")
	if !errors.Is(err, ErrDropped) || !strings.Contains(err.Error(), "poison message "+ids["poison"]+" on queue "+queueURL+" (malformed)") {
		t.Fatalf("got %v, want ErrDropped naming the message, queue and reason", err)
	}
	if v, f := queueDepth(t, queueURL); v != 0 || f != 0 {
		t.Errorf("queue: %d visible %d in flight, want empty", v, f)
	}
}

func TestQueueReceiveCancel(t *testing.T) {
	c, acct := queueCollector(t, Options{})
	queueURL := seedQueue(t, "quiet", nil)
	q, err := c.Queue(context.Background(), acct, QueueOptions{URL: queueURL}) // 20 s long poll
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	msgs, err := q.Receive(ctx)
	elapsed := time.Since(start)
	// ctx.Err() itself, not wrapped: the watcher tells shutdown apart by it.
	if !errors.Is(err, context.Canceled) || err.Error() != context.Canceled.Error() || msgs != nil {
		t.Fatalf("got %v, %v; want exactly context.Canceled", msgs, err)
	}
	if elapsed > 1300*time.Millisecond {
		t.Errorf("cancel took %s after the poll began, want under 1 s after cancel", elapsed)
	}
}

// The deployment artefacts: the EventBridge pattern must name exactly the
// event sources Vigil maps, and the CloudFormation template must carry the
// same pattern and queue policy as the files for users without it.

const deployDir = "../deploy/aws/"

// readDeployJSON decodes a file of deployDir.
func readDeployJSON(t *testing.T, name string) any {
	t.Helper()
	data, err := os.ReadFile(deployDir + name)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// cfnTemplate returns the CloudFormation template, parsed.
func cfnTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(deployDir + "vigil-events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("vigil-events.yaml: %v", err)
	}
	return v
}

// jsonNormal round-trips v through JSON so that YAML- and JSON-decoded values
// compare equal.
func jsonNormal(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEventPatternMatchesMappers(t *testing.T) {
	pattern := readDeployJSON(t, "event-pattern.json").(map[string]any)
	var inPattern []string
	for _, s := range evLookup(pattern, "detail", "eventSource").([]any) {
		inPattern = append(inPattern, s.(string))
	}
	sort.Strings(inPattern)
	mapped := bodyKeys(eventMappers)
	if !reflect.DeepEqual(inPattern, mapped) {
		t.Errorf("event-pattern.json eventSource\n  %q\neventMappers\n  %q", inPattern, mapped)
	}
	tmpl := cfnTemplate(t)
	rule := evLookup(tmpl, "Resources", "Rule", "Properties")
	if got := jsonNormal(t, evLookup(rule, "EventPattern")); !reflect.DeepEqual(got, pattern) {
		t.Errorf("template's EventPattern differs from event-pattern.json:\n%v\n%v", got, pattern)
	}
	policy := readDeployJSON(t, "queue-policy.json")
	tmplPolicy := jsonNormal(t, evLookup(tmpl, "Resources", "QueuePolicy", "Properties", "PolicyDocument"))
	// The template's intrinsics stand where the file has placeholders.
	st := tmplPolicy.(map[string]any)["Statement"].([]any)[0].(map[string]any)
	if !reflect.DeepEqual(st["Resource"], map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}) {
		t.Errorf("policy resource %v, want the queue's ARN", st["Resource"])
	}
	st["Resource"] = "${QUEUE_ARN}"
	cond := evLookup(st, "Condition", "ArnEquals").(map[string]any)
	if !reflect.DeepEqual(cond["aws:SourceArn"], map[string]any{"Fn::GetAtt": []any{"Rule", "Arn"}}) {
		t.Errorf("policy aws:SourceArn %v, want the rule's ARN", cond["aws:SourceArn"])
	}
	cond["aws:SourceArn"] = "${RULE_ARN}"
	if !reflect.DeepEqual(tmplPolicy, policy) {
		t.Errorf("template's queue policy differs from queue-policy.json:\n%v\n%v", tmplPolicy, policy)
	}
}

// createStack creates the template's stack on moto, checks that it holds
// the template's resources, and returns its outputs.
func createStack(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	body, err := os.ReadFile(deployDir + "vigil-events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	client := cloudformation.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := client.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("vigil-events"), TemplateBody: aws.String(string(body))}); err != nil {
		t.Fatalf("create stack: %v", err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("vigil-events")}); err != nil {
			t.Errorf("delete stack: %v", err)
		}
	})
	described, err := client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("vigil-events")})
	if err != nil {
		t.Fatalf("describe stack: %v", err)
	}
	if len(described.Stacks) != 1 || described.Stacks[0].StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack: %+v", described.Stacks)
	}
	outputs := map[string]string{}
	for _, o := range described.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}

	res, err := client.DescribeStackResources(ctx, &cloudformation.DescribeStackResourcesInput{StackName: aws.String("vigil-events")})
	if err != nil {
		t.Fatalf("describe stack resources: %v", err)
	}
	got := map[string]string{}
	unnamed := 0
	for _, r := range res.StackResources {
		if r.LogicalResourceId == nil {
			unnamed++ // moto's stand-in for a resource type it skips
			continue
		}
		got[aws.ToString(r.LogicalResourceId)] = aws.ToString(r.ResourceType) + " " + string(r.ResourceStatus) + " " + aws.ToString(r.PhysicalResourceId)
	}
	// The physical ids are the queues' URLs and the rule's name. moto 5.2
	// has no AWS::SQS::QueuePolicy: it lists an empty resource in its place.
	want := map[string]string{
		"Queue":           "AWS::SQS::Queue CREATE_COMPLETE " + outputs["QueueUrl"],
		"DeadLetterQueue": "AWS::SQS::Queue CREATE_COMPLETE " + outputs["DeadLetterQueueUrl"],
		"Rule":            "AWS::Events::Rule CREATE_COMPLETE vigil-events",
	}
	if q, ok := got["QueuePolicy"]; ok {
		if !strings.HasPrefix(q, "AWS::SQS::QueuePolicy CREATE_COMPLETE ") {
			t.Errorf("stack resource QueuePolicy: %s", q)
		}
		delete(got, "QueuePolicy")
		unnamed++ // any physical id will do, should moto learn the type
	}
	if unnamed != 1 {
		t.Errorf("stack has %d resources besides Queue, DeadLetterQueue and Rule, want 1 (QueuePolicy)", unnamed)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stack resources\n got %v\nwant %v", got, want)
	}
	return outputs
}

func TestEventsStack(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	out := createStack(t)
	const (
		queueARN = "arn:aws:sqs:us-east-1:123456789012:vigil-events"
		dlqARN   = "arn:aws:sqs:us-east-1:123456789012:vigil-events-dlq"
		ruleARN  = "arn:aws:events:us-east-1:123456789012:rule/vigil-events"
	)
	if out["QueueArn"] != queueARN || out["DeadLetterQueueArn"] != dlqARN || out["RuleArn"] != ruleARN ||
		!strings.HasSuffix(out["QueueUrl"], "/123456789012/vigil-events") ||
		!strings.HasSuffix(out["DeadLetterQueueUrl"], "/123456789012/vigil-events-dlq") {
		t.Fatalf("outputs: %v", out)
	}

	client := sqs.NewFromConfig(moto.Config(t, "us-east-1"))
	attrsOf := func(queueURL string) map[string]string {
		t.Helper()
		a, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Attributes
	}
	qa := attrsOf(out["QueueUrl"])
	for k, want := range map[string]string{"SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "345600",
		"VisibilityTimeout": "60", "ReceiveMessageWaitTimeSeconds": "20", "QueueArn": queueARN} {
		if qa[k] != want {
			t.Errorf("queue %s = %q, want %q", k, qa[k], want)
		}
	}
	var redrive struct {
		Target string `json:"deadLetterTargetArn"`
		Max    any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(qa["RedrivePolicy"]), &redrive); err != nil || redrive.Target != dlqARN ||
		(redrive.Max != 5.0 && redrive.Max != "5") {
		t.Errorf("redrive policy %q (%v), want %s after 5 receives", qa["RedrivePolicy"], err, dlqARN)
	}
	da := attrsOf(out["DeadLetterQueueUrl"])
	if da["SqsManagedSseEnabled"] != "true" || da["MessageRetentionPeriod"] != "1209600" {
		t.Errorf("dead-letter queue: SSE %q retention %q, want true and 1209600", da["SqsManagedSseEnabled"], da["MessageRetentionPeriod"])
	}
	// moto 5.2's CloudFormation has no AWS::SQS::QueuePolicy: it skips the
	// resource. The policy is asserted from the template below instead.
	if qa["Policy"] != "" {
		t.Logf("moto applied the queue policy: %s", qa["Policy"])
	}

	events := eventbridge.NewFromConfig(moto.Config(t, "us-east-1"))
	rule, err := events.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("vigil-events")})
	if err != nil {
		t.Fatalf("describe rule: %v", err)
	}
	if aws.ToString(rule.Arn) != ruleARN || rule.State != ebtypes.RuleStateEnabled || aws.ToString(rule.EventBusName) != "default" {
		t.Errorf("rule: arn %q state %q bus %q", aws.ToString(rule.Arn), rule.State, aws.ToString(rule.EventBusName))
	}
	var gotPattern any
	if err := json.Unmarshal([]byte(aws.ToString(rule.EventPattern)), &gotPattern); err != nil {
		t.Fatalf("rule pattern %q: %v", aws.ToString(rule.EventPattern), err)
	}
	if want := readDeployJSON(t, "event-pattern.json"); !reflect.DeepEqual(gotPattern, want) {
		t.Errorf("rule pattern\n %v\nwant\n %v", gotPattern, want)
	}
	targets, err := events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String("vigil-events")})
	if err != nil {
		t.Fatalf("list targets: %v", err)
	}
	if len(targets.Targets) != 1 || aws.ToString(targets.Targets[0].Arn) != queueARN || aws.ToString(targets.Targets[0].Id) != "vigil-queue" {
		var got []string
		for _, tg := range targets.Targets {
			got = append(got, aws.ToString(tg.Id)+" "+aws.ToString(tg.Arn))
		}
		t.Errorf("targets: %q, want the queue as vigil-queue", got)
	}

	// The policy, with the stack's ARNs, lets this rule's deliveries in
	// and nobody else.
	data, err := os.ReadFile(deployDir + "queue-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("${QUEUE_ARN}", queueARN, "${RULE_ARN}", ruleARN).Replace(string(data))
	policy, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	eventsSvc := iampolicy.Principal{Kind: iampolicy.ServicePrincipal, ID: "events.amazonaws.com"}
	for _, tc := range []struct {
		name string
		r    iampolicy.Request
		want iampolicy.Decision
	}{
		{"the rule sends", iampolicy.Request{Principal: eventsSvc, Action: "sqs:SendMessage", Resource: queueARN,
			Context: map[string][]string{"aws:SourceArn": {ruleARN}}}, iampolicy.Allowed},
		{"another rule", iampolicy.Request{Principal: eventsSvc, Action: "sqs:SendMessage", Resource: queueARN,
			Context: map[string][]string{"aws:SourceArn": {"arn:aws:events:us-east-1:999999999999:rule/x"}}}, iampolicy.ImplicitDeny},
		{"no source", iampolicy.Request{Principal: eventsSvc, Action: "sqs:SendMessage", Resource: queueARN}, iampolicy.ImplicitDeny},
		{"the rule reads", iampolicy.Request{Principal: eventsSvc, Action: "sqs:ReceiveMessage", Resource: queueARN,
			Context: map[string][]string{"aws:SourceArn": {ruleARN}}}, iampolicy.ImplicitDeny},
		{"a stranger", iampolicy.Request{Principal: iampolicy.AWS("999999999999"), Action: "sqs:SendMessage", Resource: queueARN,
			Context: map[string][]string{"aws:SourceArn": {ruleARN}}}, iampolicy.ImplicitDeny},
	} {
		if got := iampolicy.Evaluate(tc.r, policy); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if v := iampolicy.IsPublic(policy, iampolicy.Options{ResourceType: TypeSQSQueue, ResourceARN: queueARN,
		Account: testenv.MotoAccount}).Verdict; v != iampolicy.NotPublic {
		t.Errorf("queue policy public verdict %s, want not_public", v)
	}

	// moto routes the rule's matches to the queue: a write event of a
	// mapped service arrives; a read, an unmapped service and a forged
	// source do not.
	c, acct := queueCollector(t, Options{})
	q, err := c.Queue(ctx, acct, QueueOptions{URL: out["QueueUrl"], DeadLetterURL: out["DeadLetterQueueUrl"], WaitTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	detail := func(source, name string, readOnly *bool) string {
		d := map[string]any{"eventVersion": "1.09", "eventSource": source, "eventName": name,
			"eventTime": "2026-12-01T10:00:00Z", "awsRegion": "us-east-1", "recipientAccountId": testenv.MotoAccount,
			"eventID": name + "-id", "requestParameters": map[string]any{"bucketName": "b1"}}
		if readOnly != nil {
			d["readOnly"] = *readOnly
		}
		b, _ := json.Marshal(d)
		return string(b)
	}
	yes, no := true, false
	entry := func(source, evSource, name string, readOnly *bool) ebtypes.PutEventsRequestEntry {
		return ebtypes.PutEventsRequestEntry{Source: aws.String(source), DetailType: aws.String("AWS API Call via CloudTrail"),
			Detail: aws.String(detail(evSource, name, readOnly)), EventBusName: aws.String("default")}
	}
	put, err := events.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		entry("aws.s3", "s3.amazonaws.com", "PutBucketPolicy", &no),
		entry("aws.s3", "s3.amazonaws.com", "DeleteBucketPolicy", nil), // readOnly absent
		entry("aws.s3", "s3.amazonaws.com", "GetBucketPolicy", &yes),
		entry("aws.dynamodb", "dynamodb.amazonaws.com", "CreateTable", &no),
		entry("forged.s3", "s3.amazonaws.com", "PutBucketAcl", &no),
	}})
	if err != nil {
		t.Fatalf("put events: %v", err)
	}
	if put.FailedEntryCount != 0 {
		t.Fatalf("put events: %d failed", put.FailedEntryCount)
	}
	var names []string
	for _, m := range receiveBodies(t, q) {
		e, err := ParseEvent([]byte(m.Body))
		if err != nil {
			t.Fatalf("parse %s: %v", m.Body, err)
		}
		if e.Source != "s3.amazonaws.com" || e.Account != testenv.MotoAccount || e.Region != "us-east-1" {
			t.Errorf("event %+v", e)
		}
		names = append(names, e.Name)
		if err := q.Delete(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(names)
	if want := []string{"DeleteBucketPolicy", "PutBucketPolicy"}; !reflect.DeepEqual(names, want) {
		t.Errorf("queue received %q, want %q", names, want)
	}
}
