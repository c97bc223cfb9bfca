package aws

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
	"github.com/vigilsec/vigil/policy"
)

// ctSeed creates the log bucket and the trails, none of them logging.
func ctSeed(t *testing.T, trails ...*cloudtrail.CreateTrailInput) *cloudtrail.Client {
	t.Helper()
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("ct-logs")}))
	c := cloudtrail.NewFromConfig(moto.Config(t, "us-east-1"))
	for _, in := range trails {
		in.S3BucketName = aws.String("ct-logs")
		createTrail(t, c, in, false)
	}
	return c
}

// ctState is what the actions change on a trail, read with the SDK.
func ctState(t *testing.T, c *cloudtrail.Client, name string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	tr, err := c.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]bool{"validation": aws.ToBool(tr.Trail.LogFileValidationEnabled), "multi": aws.ToBool(tr.Trail.IsMultiRegionTrail),
		"global": aws.ToBool(tr.Trail.IncludeGlobalServiceEvents), "logging": aws.ToBool(st.IsLogging)}
}

func TestFixCloudTrailEnableLogFileValidation(t *testing.T) {
	moto.Reset(t)
	c := ctSeed(t, &cloudtrail.CreateTrailInput{Name: aws.String("plain")}, &cloudtrail.CreateTrailInput{Name: aws.String("denied")})
	h := newFixHarness(t, []string{"cloudtrail"})
	const check = "aws-cloudtrail-log-file-validation"
	off := map[string]bool{"validation": false, "multi": false, "global": true, "logging": false}
	on := map[string]bool{"validation": true, "multi": false, "global": true, "logging": false}

	j, f, p := h.plan(check, h.uid(TypeCloudTrailTrail, "plain"), nil)
	if want := map[string]any{"Name": "plain", "EnableLogFileValidation": true}; len(p.Calls) != 1 ||
		p.Calls[0].Operation != "cloudtrail:UpdateTrail" || !reflect.DeepEqual(p.Calls[0].Input, want) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if got := ctState(t, c, "plain"); !reflect.DeepEqual(got, off) {
		t.Fatalf("the plan changed the trail: %v", got)
	}
	done := h.apply(j, f, p)
	if got := ctState(t, c, "plain"); !reflect.DeepEqual(got, on) {
		t.Errorf("after the fix: %v, want %v", got, on)
	}
	h.undo(done.ID)
	if got := ctState(t, c, "plain"); !reflect.DeepEqual(got, off) {
		t.Errorf("after undo: %v, want %v", got, off)
	}

	// The one call denied: failed, and validation still off.
	j, f, p = h.plan(check, h.uid(TypeCloudTrailTrail, "denied"), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("UpdateTrail", iamDenied))
	iamApplyDenied(t, h, j, f, p, "apply: cloudtrail:UpdateTrail: AccessDenied: denied",
		[]string{"cloudtrail:UpdateTrail: AccessDenied: denied"})
	if got := ctState(t, c, "denied"); !reflect.DeepEqual(got, off) {
		t.Errorf("after the failed fix: %v, want %v", got, off)
	}
}

// The check judges the region; the action extends one of the region's
// trails (the one whose home it is, or --param trail) and is verified by
// the check passing on the re-collected region.
func TestFixCloudTrailEnableMultiRegion(t *testing.T) {
	moto.Reset(t)
	c := ctSeed(t, &cloudtrail.CreateTrailInput{Name: aws.String("local"), IncludeGlobalServiceEvents: aws.Bool(false)},
		&cloudtrail.CreateTrailInput{Name: aws.String("halfway")})
	h := newFixHarness(t, []string{"cloudtrail"})
	const check = "aws-cloudtrail-multi-region-logging"
	region := func() vigil.Status {
		t.Helper()
		chk, _ := h.runner.Checks.Get(check)
		r := collect(t, []string{"cloudtrail"}).region(t, "us-east-1")
		return chk.Evaluate(policy.NewInput(&r, time.Now())).Status
	}
	if got := region(); got != vigil.StatusFail {
		t.Fatalf("region before the fix: %s", got)
	}
	before := map[string]bool{"validation": false, "multi": false, "global": false, "logging": false}

	regionUID := "arn:aws:vigil:us-east-1:" + testenv.MotoAccount + ":region"
	j, f, p := h.plan(check, regionUID, map[string]any{"trail": "local"})
	wantCalls := []vigil.FixCall{
		{Operation: "cloudtrail:UpdateTrail", Input: map[string]any{"Name": "local", "IsMultiRegionTrail": true, "IncludeGlobalServiceEvents": true}},
		{Operation: "cloudtrail:StartLogging", Input: map[string]any{"Name": "local"}},
	}
	if !reflect.DeepEqual(p.Calls, wantCalls) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if got := ctState(t, c, "local"); !reflect.DeepEqual(got, before) {
		t.Fatalf("the plan changed the trail: %v", got)
	}
	done := h.apply(j, f, p)
	if got, want := ctState(t, c, "local"), map[string]bool{"validation": false, "multi": true, "global": true, "logging": true}; !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %v, want %v", got, want)
	}
	if got := region(); got != vigil.StatusPass {
		t.Errorf("region after the fix: %s", got)
	}
	undo := h.undo(done.ID)
	if got := operations(undo.Calls); !reflect.DeepEqual(got, []string{"cloudtrail:StopLogging", "cloudtrail:UpdateTrail"}) {
		t.Errorf("undo calls %v", got)
	}
	if got := ctState(t, c, "local"); !reflect.DeepEqual(got, before) {
		t.Errorf("after undo: %v, want %v", got, before)
	}
	if got := region(); got != vigil.StatusFail {
		t.Errorf("region after undo: %s", got)
	}

	// Made multi-region, then StartLogging denied: failed half-way, the
	// first change made and recorded without error.
	j, f, p = h.plan(check, regionUID, map[string]any{"trail": "halfway"})
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"cloudtrail:UpdateTrail", "cloudtrail:StartLogging"}) {
		t.Fatalf("planned calls %v", got)
	}
	if p.Calls[0].Input["IncludeGlobalServiceEvents"] != nil {
		t.Errorf("global service events were on: the update should not name them: %v", p.Calls[0].Input)
	}
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("StartLogging", iamDenied))
	iamApplyDenied(t, h, j, f, p, "apply: cloudtrail:StartLogging: AccessDenied: denied",
		[]string{"cloudtrail:UpdateTrail", "cloudtrail:StartLogging: AccessDenied: denied"})
	if got, want := ctState(t, c, "halfway"), map[string]bool{"validation": false, "multi": true, "global": true, "logging": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("after the half-way fix: %v, want %v", got, want)
	}
}
