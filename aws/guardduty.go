package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"
)

func init() {
	// GuardDuty contributes the region's "guardduty" setting only; failures
	// are recorded on aws.region, so collect returns nil.
	register(&service{name: "guardduty", collect: collectGuardDuty, get: collectGuardDuty})
}

// collectGuardDuty records whether GuardDuty is enabled in the region: a
// region has at most one detector per account, but the API returns a list.
func collectGuardDuty(ctx context.Context, t *task) error {
	client := guardduty.NewFromConfig(t.cfg)
	var ids []string
	p := guardduty.NewListDetectorsPaginator(client, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.regionErr("guardduty", err)
			return nil
		}
		ids = append(ids, page.DetectorIds...)
	}
	enabled := false
	var freq any
	detectors := make([]any, 0, len(ids))
	for _, id := range ids {
		d, err := client.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			t.regionErr("guardduty", err)
			return nil
		}
		features := map[string]any{}
		for _, f := range d.Features {
			features[string(f.Name)] = string(f.Status)
		}
		on := d.Status == gdtypes.DetectorStatusEnabled
		if on && !enabled {
			freq = string(d.FindingPublishingFrequency)
		}
		enabled = enabled || on
		detectors = append(detectors, map[string]any{
			"id":                           id,
			"status":                       string(d.Status),
			"finding_publishing_frequency": string(d.FindingPublishingFrequency),
			"features":                     features,
		})
	}
	t.setRegion("guardduty", map[string]any{
		"detector_ids":                 anyStrs(ids),
		"enabled":                      enabled,
		"finding_publishing_frequency": freq,
		"detectors":                    detectors,
	})
	return nil
}
