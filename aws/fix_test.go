package aws

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/sqlite"
)

// fixHarness is a fix.Runner wired as `vigil fix` wires it — the AWS
// fixer, the built-in checks, a real SQLite store — over resources
// collected from moto. The remediation credentials are moto's (the same
// account as the scan).
type fixHarness struct {
	t      *testing.T
	store  *sqlite.Store
	runner *fix.Runner
	fixer  *Fixer // set fixer.APIOptions to make remediation calls fail
	col    *collected

	// calls are the IAM actions of the remediation calls made since the
	// last check: every one must be among the action's Permissions.
	mu    sync.Mutex
	calls map[string]bool
}

// checkPermissions fails the test when an action called AWS with a
// permission it does not declare.
func (h *fixHarness) checkPermissions(a fix.Action) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	declared := map[string]bool{}
	for _, p := range a.Permissions() {
		declared[p] = true
	}
	for c := range h.calls {
		if !declared[c] {
			h.t.Errorf("action %s called %s, which its Permissions() do not list %v", a.ID(), c, a.Permissions())
		}
	}
	clear(h.calls) // in place: the recording middleware holds this map
}

// newFixHarness collects services (in us-east-1 unless regions say
// otherwise) from the current moto state into a fresh store.
func newFixHarness(t *testing.T, services []string, regions ...string) *fixHarness {
	t.Helper()
	ctx := context.Background()
	col := collect(t, services, regions...)
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	scan := vigil.Scan{ID: "s-fix-test", StartedAt: time.Now().UTC(), Status: "running", Accounts: []string{testenv.MotoAccount}}
	if err := st.StartScan(ctx, scan); err != nil {
		t.Fatal(err)
	}
	rs := make([]vigil.Resource, 0, len(col.resources))
	for _, r := range col.resources {
		rs = append(rs, r)
	}
	if _, err := st.PutResources(ctx, scan.ID, rs); err != nil {
		t.Fatal(err)
	}
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	scanner, err := New(Options{Endpoint: moto.URL, Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	fixer := NewFixer(scanner, Target{}, []vigil.Account{{Provider: vigil.AWS, ID: testenv.MotoAccount}})
	reg, err := fix.NewRegistry(fixer.Actions()...)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	h := &fixHarness{t: t, store: st, col: col, fixer: fixer, calls: map[string]bool{},
		runner: &fix.Runner{Store: st, Actions: reg, Checks: checks, Refresh: fixer}}
	fixer.APIOptions = append(fixer.APIOptions, recordCalls(&h.mu, h.calls))
	return h
}

// uid returns the uid of the collected resource of type typ named name.
func (h *fixHarness) uid(typ, name string) string {
	h.t.Helper()
	r, ok := h.col.ofType(typ)[name]
	if !ok {
		h.t.Fatalf("no %s named %s collected", typ, name)
	}
	return r.UID
}

// plan prepares and plans the fix of a finding, asserting it is recorded
// as planned.
func (h *fixHarness) plan(checkID, uid string, params map[string]any) (*fix.Job, vigil.Fix, *fix.Plan) {
	h.t.Helper()
	return h.planWith(checkID, "", uid, params)
}

// planWith is plan with another action than the check's own ("" for it).
func (h *fixHarness) planWith(checkID, actionID, uid string, params map[string]any) (*fix.Job, vigil.Fix, *fix.Plan) {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.runner.PrepareWith(ctx, checkID, actionID, uid, params)
	if err != nil {
		h.t.Fatalf("prepare %s on %s: %v", checkID, uid, err)
	}
	f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
	h.checkPermissions(j.Action)
	if err != nil {
		h.t.Fatalf("plan %s on %s: %v", checkID, uid, err)
	}
	if got, err := h.store.Fix(ctx, f.ID); err != nil || got.Status != vigil.FixPlanned {
		h.t.Fatalf("plan record: %+v, %v", got, err)
	}
	return j, f, p
}

// apply applies a plan and asserts the fix is verified.
func (h *fixHarness) apply(j *fix.Job, f vigil.Fix, p *fix.Plan) vigil.Fix {
	h.t.Helper()
	out, err := h.runner.Apply(context.Background(), j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	if out.Status != vigil.FixVerified {
		h.t.Fatalf("fix %s: %s: %s (calls %+v)", out.ID, out.Status, out.Reason, out.Calls)
	}
	return out
}

// undo undoes a fix and asserts it is recorded as undone.
func (h *fixHarness) undo(id string) vigil.Fix {
	h.t.Helper()
	out, err := h.runner.Undo(context.Background(), id, "user:test")
	if a, ok := h.runner.Actions.Get(out.Action); ok {
		h.checkPermissions(a)
	}
	if err != nil {
		h.t.Fatalf("undo %s: %v", id, err)
	}
	if out.Status != vigil.FixUndone || out.UndoOf != id {
		h.t.Fatalf("undo %s: %s: %s", id, out.Status, out.Reason)
	}
	return out
}

// operations lists the operations of calls.
func operations(calls []vigil.FixCall) []string {
	out := []string{}
	for _, c := range calls {
		out = append(out, c.Operation)
	}
	return out
}

func TestFixS3BlockPublicAccess(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"leaky", "half"} {
		must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}))
	}
	must[any](t)(s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("leaky"), Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::leaky/*"}]}`)}))
	must[any](t)(s3c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String("half"),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true),
			IgnorePublicAcls: aws.Bool(false), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(false)}}))
	putAccountBPA(t, false, false, false, false)
	h := newFixHarness(t, []string{"s3"})
	bpa := func(bucket string) *s3types.PublicAccessBlockConfiguration {
		t.Helper()
		out, err := s3c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(bucket)})
		if err != nil {
			if strings.Contains(err.Error(), "NoSuchPublicAccessBlockConfiguration") {
				return nil
			}
			t.Fatal(err)
		}
		return out.PublicAccessBlockConfiguration
	}
	all := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
		BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
	same := func(a, b *s3types.PublicAccessBlockConfiguration) bool {
		if a == nil || b == nil {
			return a == b
		}
		return aws.ToBool(a.BlockPublicAcls) == aws.ToBool(b.BlockPublicAcls) && aws.ToBool(a.IgnorePublicAcls) == aws.ToBool(b.IgnorePublicAcls) &&
			aws.ToBool(a.BlockPublicPolicy) == aws.ToBool(b.BlockPublicPolicy) && aws.ToBool(a.RestrictPublicBuckets) == aws.ToBool(b.RestrictPublicBuckets)
	}

	// A public bucket without a configuration: the plan changes nothing,
	// the fix turns all four on and the check passes; undo removes it.
	j, f, p := h.plan("aws-s3-bucket-no-public-read", h.uid(TypeS3Bucket, "leaky"), nil)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"s3:PutPublicAccessBlock"}) {
		t.Errorf("planned calls %v", got)
	}
	if bpa("leaky") != nil {
		t.Fatal("the plan changed the bucket")
	}
	done := h.apply(j, f, p)
	if !same(bpa("leaky"), all) {
		t.Errorf("after the fix: %+v", bpa("leaky"))
	}
	if pub, _ := done.After["public"].(map[string]any); pub["policy"] != true {
		t.Errorf("after: the policy itself is still public, only neutralised: %v", done.After["public"])
	}
	h.undo(done.ID)
	if bpa("leaky") != nil {
		t.Errorf("after undo: %+v, want no configuration", bpa("leaky"))
	}

	// A partial configuration is completed and restored exactly.
	j, f, p = h.plan("aws-s3-bucket-block-public-access", h.uid(TypeS3Bucket, "half"), nil)
	done = h.apply(j, f, p)
	if !same(bpa("half"), all) {
		t.Errorf("after the fix: %+v", bpa("half"))
	}
	h.undo(done.ID)
	want := &s3types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(false),
		BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(false)}
	if !same(bpa("half"), want) {
		t.Errorf("after undo: %+v, want %+v", bpa("half"), want)
	}
	fixes, err := h.store.Fixes(ctx, vigil.FixFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, f := range fixes {
		statuses = append(statuses, string(f.Status))
	}
	if !reflect.DeepEqual(statuses, []string{"undone", "verified", "undone", "verified"}) {
		t.Errorf("audit trail %v", statuses)
	}
}
