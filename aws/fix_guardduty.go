package aws

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/guardduty"
	gdtypes "github.com/aws/aws-sdk-go-v2/service/guardduty/types"

	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &guardDutyEnable{fixAction{f: f, id: "aws.guardduty.enable", typ: TypeRegion,
			title: "enable GuardDuty in the region: create a detector, or enable the suspended one (undo deletes a detector it created, or suspends it again)",
			// GuardDuty creates its service-linked role
			// AWSServiceRoleForAmazonGuardDuty on the first CreateDetector
			// of an account, with the caller's permissions.
			perms: []string{"guardduty:ListDetectors", "guardduty:GetDetector", "guardduty:CreateDetector",
				"guardduty:UpdateDetector", "guardduty:DeleteDetector", "iam:CreateServiceLinkedRole"},
			services: []string{"guardduty"}}}
	})
}

// guardDutyEnable turns GuardDuty on in a region. A region holds at most
// one detector per account: with none, the fix creates one, enabled; with
// a suspended one, it enables it. Before records which: undo deletes the
// region's detector only when there was none before the fix, and suspends
// the existing one otherwise.
type guardDutyEnable struct{ fixAction }

func (a *guardDutyEnable) client(ctx context.Context, account, region string) (*guardduty.Client, error) {
	cfg, err := a.f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return guardduty.NewFromConfig(cfg), nil
}

// guardDutyDetectors lists the region's detector ids.
func guardDutyDetectors(ctx context.Context, c *guardduty.Client) ([]string, error) {
	var ids []string
	p := guardduty.NewListDetectorsPaginator(c, &guardduty.ListDetectorsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("guardduty:ListDetectors: %w", errorf(err))
		}
		ids = append(ids, page.DetectorIds...)
	}
	return ids, nil
}

func (a *guardDutyEnable) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	ids, err := guardDutyDetectors(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return &fix.Plan{
			Steps:  []string{"create a GuardDuty detector in " + r.Region + ", enabled"},
			Calls:  fixCalls{{"guardduty:CreateDetector", map[string]any{"Enable": true}}}.calls(),
			Before: map[string]any{"detector_id": nil, "created": true},
		}, nil
	}
	suspended := ""
	for _, id := range ids {
		d, err := c.GetDetector(ctx, &guardduty.GetDetectorInput{DetectorId: aws.String(id)})
		if err != nil {
			return nil, fmt.Errorf("guardduty:GetDetector %s: %w", id, errorf(err))
		}
		if d.Status == gdtypes.DetectorStatusEnabled {
			return &fix.Plan{NoOp: true, Steps: []string{"GuardDuty detector " + id + " is already enabled in " + r.Region},
				Before: map[string]any{"detector_id": id, "created": false}}, nil
		}
		if suspended == "" {
			suspended = id
		}
	}
	return &fix.Plan{
		Steps:  []string{"enable the suspended GuardDuty detector " + suspended + " in " + r.Region},
		Calls:  fixCalls{{"guardduty:UpdateDetector", map[string]any{"DetectorId": suspended, "Enable": true}}}.calls(),
		Before: map[string]any{"detector_id": suspended, "created": false},
	}, nil
}

func (a *guardDutyEnable) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	if created, _ := p.Before["created"].(bool); created {
		return rec.Do("guardduty:CreateDetector", map[string]any{"Enable": true}, func() error {
			_, err := c.CreateDetector(ctx, &guardduty.CreateDetectorInput{Enable: aws.Bool(true)})
			return errorOf(err)
		})
	}
	id, _ := p.Before["detector_id"].(string)
	return a.update(ctx, c, id, true, rec)
}

// Undo deletes the detector when the fix created it — the region had none
// before, and holds one per account, so the one there now is the fix's —
// and suspends the detector the fix enabled otherwise.
func (a *guardDutyEnable) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	created, ok := before["created"].(bool)
	if !ok {
		return errors.New("no detector state was recorded before the fix")
	}
	if !created {
		id, _ := before["detector_id"].(string)
		return a.update(ctx, c, id, false, rec)
	}
	ids, err := guardDutyDetectors(ctx, c)
	if err != nil {
		return err
	}
	switch len(ids) {
	case 0:
		return nil // the fix never created it, or it is gone already
	case 1:
	default:
		return fmt.Errorf("%d GuardDuty detectors in %s: cannot tell which one the fix created", len(ids), r.Region)
	}
	return rec.Do("guardduty:DeleteDetector", map[string]any{"DetectorId": ids[0]}, func() error {
		_, err := c.DeleteDetector(ctx, &guardduty.DeleteDetectorInput{DetectorId: aws.String(ids[0])})
		return errorOf(err)
	})
}

func (a *guardDutyEnable) update(ctx context.Context, c *guardduty.Client, id string, enable bool, rec *fix.Recorder) error {
	if id == "" {
		return errors.New("no GuardDuty detector id was recorded")
	}
	return rec.Do("guardduty:UpdateDetector", map[string]any{"DetectorId": id, "Enable": enable}, func() error {
		_, err := c.UpdateDetector(ctx, &guardduty.UpdateDetectorInput{DetectorId: aws.String(id), Enable: aws.Bool(enable)})
		return errorOf(err)
	})
}
