package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// guardDutyState returns a region's detectors by id with their status.
func guardDutyState(t *testing.T, region string) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := guardduty.NewFromConfig(moto.Config(t, region))
	ids, err := c.ListDetectors(ctx, &guardduty.ListDetectorsInput{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, id := range ids.DetectorIds {
		d, err := c.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		out[id] = string(d.Status)
	}
	return out
}

func TestFixGuardDutyEnable(t *testing.T) {
	moto.Reset(t)
	suspended := seedDetector(t, "us-west-2", false)
	on := seedDetector(t, "eu-west-1", true)
	h := newFixHarness(t, []string{"guardduty"}, "us-east-1", "us-west-2", "eu-west-1")
	region := func(r string) string { return h.col.region(t, r).UID }

	// No detector: one is created, enabled; undo deletes it.
	j, f, p := h.plan("aws-guardduty-enabled", region("us-east-1"), nil)
	if want := []vigil.FixCall{{Operation: "guardduty:CreateDetector", Input: map[string]any{"Enable": true}}}; !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned %+v, want %+v", p.Calls, want)
	}
	if got := guardDutyState(t, "us-east-1"); len(got) != 0 {
		t.Fatalf("the plan changed the region: %v", got)
	}
	done := h.apply(j, f, p)
	got := guardDutyState(t, "us-east-1")
	var created string
	for id := range got {
		created = id
	}
	if !reflect.DeepEqual(got, map[string]string{created: "ENABLED"}) {
		t.Fatalf("after the fix: %v, want one enabled detector", got)
	}
	undone := h.undo(done.ID)
	if want := []vigil.FixCall{{Operation: "guardduty:DeleteDetector", Input: map[string]any{"DetectorId": created}}}; !reflect.DeepEqual(undone.Calls, want) {
		t.Errorf("undo calls %+v, want %+v", undone.Calls, want)
	}
	if got := guardDutyState(t, "us-east-1"); len(got) != 0 {
		t.Errorf("after undo: %v, want no detector", got)
	}

	// A suspended detector is enabled; undo suspends it again.
	j, f, p = h.plan("aws-guardduty-enabled", region("us-west-2"), nil)
	if want := []vigil.FixCall{{Operation: "guardduty:UpdateDetector", Input: map[string]any{"DetectorId": suspended, "Enable": true}}}; !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned %+v, want %+v", p.Calls, want)
	}
	if got := guardDutyState(t, "us-west-2"); !reflect.DeepEqual(got, map[string]string{suspended: "DISABLED"}) {
		t.Fatalf("the plan changed the region: %v", got)
	}
	done = h.apply(j, f, p)
	if got := guardDutyState(t, "us-west-2"); !reflect.DeepEqual(got, map[string]string{suspended: "ENABLED"}) {
		t.Errorf("after the fix: %v", got)
	}
	h.undo(done.ID)
	if got := guardDutyState(t, "us-west-2"); !reflect.DeepEqual(got, map[string]string{suspended: "DISABLED"}) {
		t.Errorf("after undo: %v", got)
	}

	// Already enabled: nothing to do, and verified.
	j, f, p = h.plan("aws-guardduty-enabled", region("eu-west-1"), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("plan for an enabled detector: %+v", p)
	}
	if done := h.apply(j, f, p); len(done.Calls) != 0 {
		t.Errorf("calls for an enabled detector: %+v", done.Calls)
	}
	if got := guardDutyState(t, "eu-west-1"); !reflect.DeepEqual(got, map[string]string{on: "ENABLED"}) {
		t.Errorf("eu-west-1: %v", got)
	}
}

// TestFixGuardDutyEnableFails: the one call fails; the fix is recorded
// failed and the region has no detector.
func TestFixGuardDutyEnableFails(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	h := newFixHarness(t, []string{"guardduty"})
	j, f, p := h.plan("aws-guardduty-enabled", h.col.region(t, "us-east-1").UID, nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("CreateDetector", func(any) any {
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.FixCall{{Operation: "guardduty:CreateDetector", Input: map[string]any{"Enable": true}, Error: "AccessDenied: denied"}}
	if out.Status != vigil.FixFailed || out.Reason != "apply: guardduty:CreateDetector: AccessDenied: denied" || !reflect.DeepEqual(out.Calls, want) {
		t.Errorf("failed fix: %s %q %+v", out.Status, out.Reason, out.Calls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != out.Reason || !reflect.DeepEqual(stored.Calls, want) {
		t.Errorf("stored: %s %q %+v", stored.Status, stored.Reason, stored.Calls)
	}
	if got := guardDutyState(t, "us-east-1"); len(got) != 0 {
		t.Errorf("after the failed fix: %v, want no detector", got)
	}
}
