package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
)

// seedDetector creates a GuardDuty detector in region and returns its id.
func seedDetector(t *testing.T, region string, enable bool) string {
	t.Helper()
	out, err := guardduty.NewFromConfig(moto.Config(t, region)).CreateDetector(context.Background(),
		&guardduty.CreateDetectorInput{Enable: aws.Bool(enable),
			FindingPublishingFrequency: gdtypes.FindingPublishingFrequencyFifteenMinutes})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DetectorId)
}

func TestGuardDuty(t *testing.T) {
	moto.Reset(t)
	on := seedDetector(t, "us-east-1", true)
	off := seedDetector(t, "us-west-2", false)

	col := collect(t, []string{"guardduty"}, "us-east-1", "us-west-2", "eu-west-1")
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	detector := func(id, status string) map[string]any {
		return map[string]any{"id": id, "status": status, "finding_publishing_frequency": "FIFTEEN_MINUTES",
			"features": map[string]any{}}
	}
	for region, want := range map[string]map[string]any{
		"us-east-1": {"detector_ids": []any{on}, "enabled": true, "finding_publishing_frequency": "FIFTEEN_MINUTES",
			"detectors": []any{detector(on, "ENABLED")}},
		"us-west-2": {"detector_ids": []any{off}, "enabled": false, "finding_publishing_frequency": nil,
			"detectors": []any{detector(off, "DISABLED")}},
		"eu-west-1": {"detector_ids": []any{}, "enabled": false, "finding_publishing_frequency": nil,
			"detectors": []any{}},
	} {
		if got := col.region(t, region).Properties["guardduty"]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s guardduty = %#v\nwant %#v", region, got, want)
		}
	}
}
