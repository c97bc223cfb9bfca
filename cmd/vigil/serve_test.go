package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/notify"
)

// runMainEnv makes the test binary run main(): the serve tests start the
// daemon as a child process so that they can kill it.
const runMainEnv = "VIGIL_TEST_RUN_MAIN"

const hookSecret = "serve-test-secret-0123456789"

// daemonProc is a `vigil serve` child process.
type daemonProc struct {
	t      testing.TB
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	addr   string
	exited chan struct{}
}

var listenRe = regexp.MustCompile(`listening on http://(\S+) `)

// startServe starts the daemon and waits until it listens.
func startServe(t testing.TB, db, cfg string, extra ...string) *daemonProc {
	t.Helper()
	args := append([]string{"--db", db, "--config", cfg, "--log-level", "info", "serve", "--endpoint-url", emulator.URL,
		"--regions", "us-east-1", "--services", "s3", "--checks", publicCheck, "--listen", "127.0.0.1:0",
		"--retry-base", "200ms"}, extra...)
	d := &daemonProc{t: t, cmd: exec.Command(os.Args[0], args...), exited: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), runMainEnv+"=1", "VIGIL_TEST_HOOK_SECRET="+hookSecret)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.stderr.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", d.log())
		}
	})
	d.waitLog("listening on", 30*time.Second)
	m := listenRe.FindStringSubmatch(d.log())
	if m == nil {
		t.Fatalf("no listen address in:\n%s", d.log())
	}
	d.addr = m[1]
	return d
}

func (d *daemonProc) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

func (d *daemonProc) waitLog(s string, within time.Duration) {
	d.t.Helper()
	eventually(d.t, within, "daemon logs "+s, func() bool {
		select {
		case <-d.exited:
			d.t.Fatalf("daemon exited:\n%s", d.log())
		default:
		}
		return strings.Contains(d.log(), s)
	})
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemonProc) stop() {
	d.t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(40 * time.Second):
		d.t.Fatal("daemon did not stop within 40s of SIGTERM")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(d.log(), "vigil serve: stopped") {
		d.t.Fatalf("daemon exit %d after SIGTERM:\n%s", code, d.log())
	}
}

// kill sends SIGKILL: no shutdown at all.
func (d *daemonProc) kill() {
	d.t.Helper()
	_ = d.cmd.Process.Kill()
	<-d.exited
}

func (d *daemonProc) metrics() string {
	d.t.Helper()
	resp, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func eventually(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// receiver is a webhook endpoint that verifies Vigil's signature, fails
// while down or for its first failFirst requests, and counts what it
// accepted per idempotency key.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	down      bool
	failFirst int
	attempts  map[string]int
	accepted  map[string]int
	bodies    map[string]notify.WebhookBody
	badSigs   int
	// onAccept, if set, sees each accepted alert (under the lock).
	onAccept func(notify.WebhookBody)
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{attempts: map[string]int{}, accepted: map[string]int{}, bodies: map[string]notify.WebhookBody{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		key := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := notify.VerifySignature([]byte(hookSecret), req.Header.Get("X-Vigil-Timestamp"),
			req.Header.Get("X-Vigil-Signature"), body, time.Now(), 5*time.Minute); err != nil {
			r.badSigs++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.attempts[key]++
		if r.down || r.failFirst > 0 {
			r.failFirst--
			http.Error(w, "receiver down", http.StatusInternalServerError)
			return
		}
		// A receiver drops a key it has accepted; the count says whether
		// Vigil ever sent it again.
		r.accepted[key]++
		var b notify.WebhookBody
		if err := json.Unmarshal(body, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.bodies[key] = b
		if r.onAccept != nil {
			r.onAccept(b)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) snapshot() (attempts, accepted map[string]int, bodies []notify.WebhookBody, badSigs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	attempts, accepted = map[string]int{}, map[string]int{}
	for k, v := range r.attempts {
		attempts[k] = v
	}
	for k, v := range r.accepted {
		accepted[k] = v
	}
	for _, b := range r.bodies {
		bodies = append(bodies, b)
	}
	sort.Slice(bodies, func(i, j int) bool { return bodies[i].Kind < bodies[j].Kind })
	return attempts, accepted, bodies, r.badSigs
}

func (r *receiver) setDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// eventQueues creates the event queue and its dead-letter queue on moto.
func eventQueues(t testing.TB) (client *sqs.Client, queue, dlq string) {
	t.Helper()
	client = sqs.NewFromConfig(emulator.Config(t, "us-east-1"))
	mk := func(name string) string {
		out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl)
	}
	return client, mk("vigil-events"), mk("vigil-events-dlq")
}

const alice = "arn:aws:iam::123456789012:user/alice"

// cloudTrailEvent is an S3 management event as EventBridge delivers it to
// SQS (the shape of aws/testdata/events/s3_put_bucket_policy.json).
func cloudTrailEvent(id, name, bucket string, at time.Time) string {
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
		"account": testenv.MotoAccount, "time": at.UTC().Format(time.RFC3339), "region": "us-east-1", "resources": []any{},
		"detail": map[string]any{
			"eventVersion": "1.09",
			"userIdentity": map[string]any{"type": "IAMUser", "principalId": "AIDAEXAMPLEALICE", "arn": alice,
				"accountId": testenv.MotoAccount, "accessKeyId": "AKIAEXAMPLEALICE", "userName": "alice"},
			"eventTime": at.UTC().Format(time.RFC3339), "eventSource": "s3.amazonaws.com", "eventName": name,
			"awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
			"requestParameters": map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com", "policy": ""},
			"responseElements":  nil, "requestID": "REQ" + id, "eventID": "ev-" + id, "readOnly": false,
			"eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": testenv.MotoAccount,
			"eventCategory": "Management",
		},
	}
	b, _ := json.Marshal(ev)
	return string(b)
}

func send(t testing.TB, c *sqs.Client, queue, body string) {
	t.Helper()
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// makePublic gives an existing bucket a policy that lets anyone read it,
// as a user would.
func makePublic(t testing.TB, bucket string) {
	t.Helper()
	c := s3.NewFromConfig(emulator.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/*"}]}`
	if _, err := c.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(pol)}); err != nil {
		t.Fatal(err)
	}
}

func createBucket(t testing.TB, bucket string) func() bool {
	t.Helper()
	c := s3.NewFromConfig(emulator.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return func() bool {
		out, err := c.GetPublicAccessBlock(context.Background(), &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
		return err == nil && allBlocked(out.PublicAccessBlockConfiguration)
	}
}

// serveConfig is the config of the serve tests: Always Fix for public
// buckets, an alert when a bucket is made public and one per fix.
func serveTestConfig(t testing.TB, queue, dlq, hookURL, smtpServer string, extraRules ...string) string {
	t.Helper()
	channels := "  hook: {type: webhook, url: \"" + hookURL + "\", secret_env: VIGIL_TEST_HOOK_SECRET}\n"
	names := "hook"
	if smtpServer != "" {
		channels += "  ops-email: {type: email, server: \"" + smtpServer + "\", tls: none, from: \"Vigil <vigil@example.com>\", to: [secops@example.com]}\n"
		names += ", ops-email"
	}
	t.Setenv("VIGIL_TEST_HOOK_SECRET", hookSecret)
	return writeConfig(t, `remediation: {}
watch:
  aws:
    - {queue_url: "`+queue+`", dead_letter_url: "`+dlq+`", wait_time: 1s}
channels:
`+channels+`alerts:
  - name: bucket-made-public
    on: change
    type: aws.s3.bucket
    when: 'new != null && new.public.policy && (old == null || !old.public.policy)'
    description: Anyone on the internet can read this bucket's objects.
    severity: critical
    channels: [`+names+`]
  - name: healing
    on: fix
    outcomes: [verified, failed, flapping]
    channels: [`+names+`]
`+strings.Join(extraRules, "")+`autofix:
  enabled: true
  rules:
    - {name: private-buckets, checks: [`+publicCheck+`]}
`)
}

// changesOf returns the recorded versions of a resource, newest first.
func changesOf(t testing.TB, db, uid string) []vigil.Version {
	t.Helper()
	code, out, stderr := runCLI(t, "--db", db, "changes", "--uid", uid, "--format", "json")
	if code != 0 {
		t.Fatalf("changes: exit %d: %s", code, stderr)
	}
	var vs []vigil.Version
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("changes output: %v\n%s", err, out)
	}
	return vs
}

func verifiedFixes(t testing.TB, db string) int {
	t.Helper()
	n := 0
	for _, f := range fixRecords(t, db) {
		if f.Status == vigil.FixVerified {
			n++
		}
	}
	return n
}

// TestServeHealsPublicBucket is the paper's scenario on moto: a user makes
// a bucket public, CloudTrail's event reaches the queue, and Vigil records
// the change with the user, makes the bucket private again, verifies it,
// and tells the admin by email and webhook (which fails twice first).
func TestServeHealsPublicBucket(t *testing.T) {
	emulator.Reset(t)
	const bucket, uid = "acme-exports", "arn:aws:s3:::acme-exports"
	private := createBucket(t, bucket)
	sqsc, queue, dlq := eventQueues(t)
	mp := testenv.StartMailpit(t)
	hook := newReceiver(t)
	hook.failFirst = 2
	cfg := serveTestConfig(t, queue, dlq, hook.URL, mp.SMTP)
	db := filepath.Join(t.TempDir(), "vigil.db")
	// The inventory before: the bucket is private.
	if code, _, stderr := runCLI(t, "--db", db, "scan", "--endpoint-url", emulator.URL, "--regions", "us-east-1",
		"--services", "s3", "--checks", publicCheck); code != 0 {
		t.Fatalf("scan: exit %d: %s", code, stderr)
	}
	d := startServe(t, db, cfg)

	makePublic(t, bucket)
	at := time.Now().UTC().Truncate(time.Second)
	send(t, sqsc, queue, cloudTrailEvent("0001", "PutBucketPolicy", bucket, at))

	eventually(t, 30*time.Second, "a verified fix", func() bool { return verifiedFixes(t, db) == 1 })
	if !private() {
		t.Fatal("the bucket is still public after the verified fix")
	}
	eventually(t, 30*time.Second, "two alerts on the webhook", func() bool {
		_, accepted, _, _ := hook.snapshot()
		return len(accepted) == 2
	})
	eventually(t, 30*time.Second, "two emails", func() bool { return len(mp.Messages(t)) == 2 })

	// The change, with who made it; then Vigil's own fix.
	vs := changesOf(t, db, uid)
	if len(vs) != 3 {
		t.Fatalf("%d versions of %s, want 3 (scan, alice's change, the fix): %+v", len(vs), uid, vs)
	}
	change, fixed := vs[1], vs[0]
	if change.Actor != alice || change.Cause == nil || change.Cause.EventName != "PutBucketPolicy" ||
		change.Cause.Actor.SourceIP != "203.0.113.7" || !change.Cause.EventTime.Equal(at) || change.ScanID != "ev-ev-0001" {
		t.Errorf("change version %+v cause %+v", change, change.Cause)
	}
	if !hasDiff(change.Diff, "/properties/public/policy", false, true) {
		t.Errorf("change diff lacks /properties/public/policy false → true: %+v", change.Diff)
	}
	if fixed.Actor != "rule:private-buckets" || fixed.Cause == nil || fixed.Cause.EventName != "vigil fix aws.s3.block-public-access" {
		t.Errorf("fix version actor %q cause %+v", fixed.Actor, fixed.Cause)
	}
	if !hasDiff(fixed.Diff, "/properties/effective_public_access_block/restrict_public_buckets", false, true) {
		t.Errorf("fix diff lacks restrict_public_buckets false → true: %+v", fixed.Diff)
	}

	// The webhook: two signed alerts, each accepted once, after two failures.
	attempts, accepted, bodies, badSigs := hook.snapshot()
	if badSigs != 0 {
		t.Errorf("%d requests with a bad signature", badSigs)
	}
	total := 0
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("key %s accepted %d times", k, n)
		}
		total += attempts[k]
	}
	if total != 4 {
		t.Errorf("%d attempts for 2 alerts with the first 2 failing, want 4: %v", total, attempts)
	}
	if len(bodies) != 2 || bodies[0].Kind != string(vigil.AlertChange) || bodies[1].Kind != string(vigil.AlertFix) {
		t.Fatalf("webhook bodies %+v", bodies)
	}
	ch, fx := bodies[0], bodies[1]
	if ch.Rule != "bucket-made-public" || ch.Severity != "critical" || ch.Actor == nil || ch.Actor.ARN != alice ||
		ch.Actor.SourceIP != "203.0.113.7" || ch.Resource.UID != uid || ch.Why != "Anyone on the internet can read this bucket's objects." ||
		ch.Action != "Always Fix will correct it" {
		t.Errorf("change alert %+v", ch)
	}
	if fx.Rule != "healing" || fx.Fix == nil || fx.Fix.Status != "verified" || fx.Resource.UID != uid || fx.CheckID != publicCheck ||
		fx.Actor == nil || fx.Actor.ARN != alice {
		t.Errorf("fix alert %+v", fx)
	}

	// The emails say the same to the admin.
	var subjects []string
	for _, m := range mp.Messages(t) {
		subjects = append(subjects, m.Subject)
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if !strings.Contains(text, alice) || !strings.Contains(text, uid) {
			t.Errorf("email %q lacks the actor or the bucket:\n%s", m.Subject, text)
		}
	}
	sort.Strings(subjects)
	if len(subjects) != 2 || !strings.HasPrefix(subjects[0], "[Vigil] CRITICAL ") || !strings.HasPrefix(subjects[1], "[Vigil] ") {
		t.Errorf("email subjects %q", subjects)
	}

	// Metrics: one event recorded, two alerts delivered per channel, one fix.
	m := d.metrics()
	for _, want := range []string{`vigil_events_total{outcome="recorded"} 1`, `vigil_alerts_delivered_total{channel="hook"} 2`,
		`vigil_alerts_delivered_total{channel="ops-email"} 2`, `vigil_alert_failures_total{channel="hook",final="false"} 2`,
		`vigil_fixes_total{status="verified"} 1`} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	resp, err := http.Get("http://" + d.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(hb)) != `{"status":"ok","checks":{"store":"ok"}}` {
		t.Errorf("/healthz %d %s", resp.StatusCode, hb)
	}
	d.stop()

	code, out, stderr := runCLI(t, "--db", db, "notifications", "--format", "json")
	if code != 0 {
		t.Fatalf("notifications: exit %d: %s", code, stderr)
	}
	var ds []struct {
		State   string
		Attempt int
		Alert   vigil.Alert
	}
	if err := json.Unmarshal([]byte(out), &ds); err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Fatalf("%d notifications, want 4 (2 alerts × 2 channels): %s", len(ds), out)
	}
	for _, n := range ds {
		if n.State != "completed" {
			t.Errorf("notification %s on %s is %s", n.Alert.Key, n.Alert.Channel, n.State)
		}
	}
}

func hasDiff(ops []vigil.DiffOp, path string, old, new any) bool {
	for _, op := range ops {
		if op.Path == path && fmt.Sprint(op.Old) == fmt.Sprint(old) && fmt.Sprint(op.New) == fmt.Sprint(new) {
			return true
		}
	}
	return false
}

// TestServeDurability kills the daemon (SIGKILL) between a change and the
// delivery of its alerts, while the receiver is down, then restarts it: each
// alert reaches the receiver exactly once, and the fix is not applied twice.
func TestServeDurability(t *testing.T) {
	emulator.Reset(t)
	const bucket = "acme-durable"
	private := createBucket(t, bucket)
	sqsc, queue, dlq := eventQueues(t)
	hook := newReceiver(t)
	hook.setDown(true)
	cfg := serveTestConfig(t, queue, dlq, hook.URL, "")
	db := filepath.Join(t.TempDir(), "vigil.db")

	d := startServe(t, db, cfg)
	makePublic(t, bucket)
	send(t, sqsc, queue, cloudTrailEvent("0002", "PutBucketPolicy", bucket, time.Now()))
	// Both alerts (the change and the fix) have failed at least once.
	eventually(t, 30*time.Second, "both alerts tried", func() bool {
		attempts, _, _, _ := hook.snapshot()
		return len(attempts) == 2
	})
	// Let River record the failed attempts, then kill it between retries.
	time.Sleep(time.Second)
	d.kill()
	if n := verifiedFixes(t, db); n != 1 || !private() {
		t.Fatalf("before the restart: %d verified fixes, private %v", n, private())
	}

	hook.setDown(false)
	d = startServe(t, db, cfg)
	eventually(t, 60*time.Second, "both alerts delivered after the restart", func() bool {
		_, accepted, _, _ := hook.snapshot()
		return len(accepted) == 2
	})
	// SQS delivers at least once: the same event again changes nothing,
	// alerts nothing and fixes nothing. (The killed daemon's last long
	// poll, still open on the queue's side, would take a message sent
	// within its wait time and hide it for the visibility timeout; the
	// test's wait time is 1 s.)
	time.Sleep(1500 * time.Millisecond)
	send(t, sqsc, queue, cloudTrailEvent("0002", "PutBucketPolicy", bucket, time.Now()))
	eventually(t, 30*time.Second, "the redelivered event handled", func() bool {
		return strings.Contains(d.metrics(), `vigil_events_total{outcome="unchanged"} 1`+"\n")
	})
	// Give a duplicate the time to show up.
	time.Sleep(2 * time.Second)
	d.stop()
	_, accepted, bodies, _ := hook.snapshot()
	for k, n := range accepted {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", k, n)
		}
	}
	if len(bodies) != 2 || bodies[0].Kind != string(vigil.AlertChange) || bodies[1].Kind != string(vigil.AlertFix) {
		t.Errorf("delivered %+v", bodies)
	}
	fs := fixRecords(t, db)
	if n := verifiedFixes(t, db); n != 1 {
		t.Errorf("%d verified fixes after the restart, want 1: %v", n, statuses(fs))
	}
}

// TestServeBadEvents: malformed and poison messages are moved aside with a
// reason, unknown and read-only events are counted and dropped, an
// unreachable SMTP server fails its own alerts (visible, retried) and holds
// nothing else back, and the daemon never stops.
func TestServeBadEvents(t *testing.T) {
	emulator.Reset(t)
	const bucket = "acme-bad-events"
	createBucket(t, bucket)
	sqsc, queue, dlq := eventQueues(t)
	hook := newReceiver(t)
	cfg := serveTestConfig(t, queue, dlq, hook.URL, "127.0.0.1:1")
	db := filepath.Join(t.TempDir(), "vigil.db")
	d := startServe(t, db, cfg)

	for _, body := range []string{
		"not json at all",
		`{"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "s3.amazonaws.com"}}`,
		`{"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "eventTime": "2026-12-01T10:00:00Z", "recipientAccountId": "123456789012"}}`,
		`{"detail-type": "AWS API Call via CloudTrail", "detail": {"eventSource": "s3.amazonaws.com", "eventName": "GetBucketPolicy", "readOnly": true, "eventTime": "2026-12-01T10:00:00Z", "recipientAccountId": "123456789012", "requestParameters": {"bucketName": "x"}}}`,
	} {
		send(t, sqsc, queue, body)
	}
	makePublic(t, bucket)
	send(t, sqsc, queue, cloudTrailEvent("0003", "PutBucketPolicy", bucket, time.Now()))

	eventually(t, 30*time.Second, "the change and fix alerts on the webhook", func() bool {
		_, accepted, _, _ := hook.snapshot()
		return len(accepted) == 2
	})
	eventually(t, 30*time.Second, "metrics for every message", func() bool {
		m := d.metrics()
		return strings.Contains(m, `vigil_events_total{outcome="malformed"} 2`+"\n") &&
			strings.Contains(m, `vigil_events_total{outcome="ignored"} 2`+"\n") &&
			strings.Contains(m, `vigil_events_total{outcome="recorded"} 1`+"\n")
	})
	eventually(t, 30*time.Second, "email failures counted", func() bool {
		return strings.Contains(d.metrics(), `vigil_alert_failures_total{channel="ops-email",final="false"}`)
	})
	// The malformed messages are in the dead-letter queue with why.
	out, err := sqsc.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq),
		MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, m := range out.Messages {
		reasons = append(reasons, aws.ToString(m.MessageAttributes["vigil-reason"].StringValue))
	}
	sort.Strings(reasons)
	if len(reasons) != 2 || !strings.HasPrefix(reasons[0], "malformed: event has no eventName") ||
		!strings.HasPrefix(reasons[1], "malformed: parse event") {
		t.Errorf("dead-letter reasons %q", reasons)
	}
	// The email alerts are retrying, visible with their error; the
	// webhook's went out.
	var listing string
	eventually(t, 30*time.Second, "both email alerts failing", func() bool {
		code, out, stderr := runCLI(t, "--db", db, "notifications", "--failing")
		if code != 0 {
			t.Fatalf("notifications: exit %d: %s", code, stderr)
		}
		listing = out
		return strings.HasSuffix(out, "\n2 notifications, 2 failing\n")
	})
	if strings.Count(listing, " ops-email ") != 2 || strings.Count(listing, "email ops-email: smtp 127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused") != 2 ||
		strings.Contains(listing, " hook ") {
		t.Errorf("failing notifications:\n%s", listing)
	}
	d.stop()
	if strings.Contains(d.log(), "panic") {
		t.Errorf("the daemon panicked:\n%s", d.log())
	}
}

// TestServeScheduledScan: a scan at start-up (the path every schedule
// takes) opens the finding of a bucket that was public before Vigil
// started, alerts it, and Always Fix corrects it.
func TestServeScheduledScan(t *testing.T) {
	emulator.Reset(t)
	bpa := seedBuckets(t, nil, "acme-old-public")
	_, queue, dlq := eventQueues(t)
	hook := newReceiver(t)
	cfg := serveTestConfig(t, queue, dlq, hook.URL, "", `  - {name: new-critical, on: finding, severity: critical, channels: [hook]}
`)
	db := filepath.Join(t.TempDir(), "vigil.db")
	d := startServe(t, db, cfg, "--scan-on-start")
	// The scan found the bucket (new to the inventory, and public: the
	// change rule fires too) and its finding; then the fix.
	eventually(t, 60*time.Second, "the finding, change and fix alerts", func() bool {
		_, accepted, _, _ := hook.snapshot()
		return len(accepted) == 3
	})
	_, _, bodies, _ := hook.snapshot()
	kinds := map[string]notify.WebhookBody{}
	for _, b := range bodies {
		kinds[b.Kind] = b
	}
	if f := kinds["finding"]; f.CheckID != publicCheck || f.Rule != "new-critical" || f.Resource.UID != "arn:aws:s3:::acme-old-public" ||
		f.Actor != nil || f.Action != "Always Fix will correct it" {
		t.Errorf("finding alert %+v", f)
	}
	if c := kinds["change"]; c.Rule != "bucket-made-public" || c.Title != "aws.s3.bucket acme-old-public created" {
		t.Errorf("change alert %+v", c)
	}
	if f := kinds["fix"]; f.Fix == nil || f.Fix.Status != "verified" {
		t.Errorf("fix alert %+v", f)
	}
	if !allBlocked(bpa("acme-old-public")) {
		t.Errorf("the bucket is still public: %+v", bpa("acme-old-public"))
	}
	eventually(t, 10*time.Second, "the scan counted", func() bool {
		return strings.Contains(d.metrics(), `vigil_scans_total{status="succeeded"} 1`+"\n")
	})
	if m := d.metrics(); !strings.Contains(m, `vigil_findings_open{severity="critical"} 0`+"\n") {
		t.Errorf("open critical findings after the fix are not 0:\n%s", grepLines(m, "vigil_findings_open"))
	}
	d.stop()
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
