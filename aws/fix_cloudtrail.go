package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &ctEnableLogFileValidation{fixAction{f: f, id: "aws.cloudtrail.enable-log-file-validation", typ: TypeCloudTrailTrail,
				title: "turn on log file validation (signed digest files) for the trail",
				perms: []string{"cloudtrail:GetTrail", "cloudtrail:UpdateTrail"}}}
		},
		func(f *Fixer) fix.Action {
			return &ctEnableMultiRegion{fixAction{f: f, id: "aws.cloudtrail.enable-multi-region", typ: TypeRegion,
				title: "cover the region with a multi-region trail: make one of its trails (param trail, default the first whose home is the region) multi-region, with global service events, and start its logging if stopped",
				perms: []string{"cloudtrail:DescribeTrails", "cloudtrail:GetTrail", "cloudtrail:GetTrailStatus", "cloudtrail:UpdateTrail",
					"cloudtrail:StartLogging", "cloudtrail:StopLogging"},
				services: []string{"cloudtrail"}}}
		},
	)
}

// cloudTrailClient returns a CloudTrail client for a trail's home region
// with the remediation credentials.
func (f *Fixer) cloudTrailClient(ctx context.Context, account, region string) (*cloudtrail.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return cloudtrail.NewFromConfig(cfg), nil
}

// ctGetTrail reads a trail by name in its home region.
func ctGetTrail(ctx context.Context, c *cloudtrail.Client, name string) (*cttypes.Trail, error) {
	out, err := c.GetTrail(ctx, &cloudtrail.GetTrailInput{Name: aws.String(name)})
	if err != nil {
		return nil, fmt.Errorf("cloudtrail:GetTrail: %w", errorf(err))
	}
	return out.Trail, nil
}

// ctEnableLogFileValidation turns log file validation on. Undo turns it
// off; the digest files delivered in between stay in the bucket.
type ctEnableLogFileValidation struct{ fixAction }

func (a *ctEnableLogFileValidation) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	tr, err := ctGetTrail(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	on := aws.ToBool(tr.LogFileValidationEnabled)
	before := map[string]any{"log_file_validation_enabled": on}
	if on {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"log file validation is already on for trail " + r.Name}}, nil
	}
	return &fix.Plan{
		Steps:  []string{"turn on log file validation for trail " + r.Name},
		Calls:  fixCalls{{"cloudtrail:UpdateTrail", map[string]any{"Name": r.Name, "EnableLogFileValidation": true}}}.calls(),
		Before: before,
	}, nil
}

func (a *ctEnableLogFileValidation) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.set(ctx, t, true, rec)
}

func (a *ctEnableLogFileValidation) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	if on, _ := before["log_file_validation_enabled"].(bool); on {
		return nil // it was on: the fix changed nothing
	}
	return a.set(ctx, t, false, rec)
}

func (a *ctEnableLogFileValidation) set(ctx context.Context, t fix.Target, on bool, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return rec.Do("cloudtrail:UpdateTrail", map[string]any{"Name": r.Name, "EnableLogFileValidation": on}, func() error {
		_, err := c.UpdateTrail(ctx, &cloudtrail.UpdateTrailInput{Name: aws.String(r.Name), EnableLogFileValidation: aws.Bool(on)})
		return errorOf(err)
	})
}

// ctEnableMultiRegion makes a trail multi-region and starts its logging
// when it is stopped: what aws-cloudtrail-multi-region-logging asks of at
// least one trail. A multi-region trail must include global service
// events, so those are turned on too when they were off. The trail's
// event selectors are left alone. Undo restores the three settings.
//
// The check judges the region (aws-cloudtrail-multi-region-logging), so
// the action works on the region and picks the trail to extend: the
// param trail, else the first trail whose home is the region. With no
// trail it refuses: creating one needs a bucket and a policy the owner
// should choose.
type ctEnableMultiRegion struct{ fixAction }

// trailTarget returns the target with Resource.Name the chosen trail.
func (a *ctEnableMultiRegion) trailTarget(ctx context.Context, t fix.Target) (fix.Target, error) {
	r := t.Resource
	if name, ok := t.Params["trail"].(string); ok && name != "" {
		t.Resource.Name = name
		return t, nil
	}
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return t, err
	}
	out, err := c.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{})
	if err != nil {
		return t, fmt.Errorf("cloudtrail:DescribeTrails: %w", errorf(err))
	}
	for _, tr := range out.TrailList {
		if aws.ToString(tr.HomeRegion) == r.Region {
			t.Resource.Name = aws.ToString(tr.Name)
			return t, nil
		}
	}
	return t, vigil.Errorf(vigil.EINVALID, "aws.cloudtrail.enable-multi-region: region %s is home to no trail to extend; create a multi-region trail (it needs an S3 bucket for its logs) or pass --param trail=NAME", r.Region)
}

func (a *ctEnableMultiRegion) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	t, err := a.trailTarget(ctx, t)
	if err != nil {
		return nil, err
	}
	p, err := a.plan(ctx, t)
	if p != nil {
		p.Before["trail"] = t.Resource.Name
	}
	return p, err
}

func (a *ctEnableMultiRegion) plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	tr, err := ctGetTrail(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	st, err := c.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: aws.String(r.Name)})
	if err != nil {
		return nil, fmt.Errorf("cloudtrail:GetTrailStatus: %w", errorf(err))
	}
	multi, global, logging := aws.ToBool(tr.IsMultiRegionTrail), aws.ToBool(tr.IncludeGlobalServiceEvents), aws.ToBool(st.IsLogging)
	before := map[string]any{"is_multi_region": multi, "include_global_service_events": global, "is_logging": logging}
	var steps []string
	var calls fixCalls
	if !multi {
		in := ctMultiRegionInput(r.Name, true, global)
		steps = append(steps, "make trail "+r.Name+" multi-region")
		if !global {
			steps[0] += " and include global service events (a multi-region trail must)"
		}
		calls = append(calls, fixCall{"cloudtrail:UpdateTrail", in})
	}
	if !logging {
		steps = append(steps, "start logging for trail "+r.Name)
		calls = append(calls, fixCall{"cloudtrail:StartLogging", map[string]any{"Name": r.Name}})
	}
	if len(calls) == 0 {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"trail " + r.Name + " is already multi-region and logging"}}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before}, nil
}

func (a *ctEnableMultiRegion) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	t.Resource.Name, _ = p.Before["trail"].(string)
	r := t.Resource
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	if multi, _ := p.Before["is_multi_region"].(bool); !multi {
		global, _ := p.Before["include_global_service_events"].(bool)
		if err := a.update(ctx, c, r.Name, true, global, rec); err != nil {
			return err
		}
	}
	if logging, _ := p.Before["is_logging"].(bool); !logging {
		return rec.Do("cloudtrail:StartLogging", map[string]any{"Name": r.Name}, func() error {
			_, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: aws.String(r.Name)})
			return errorOf(err)
		})
	}
	return nil
}

// Undo stops logging if the fix started it, then makes the trail
// single-region again with its global service events setting, in the
// reverse order of the fix.
func (a *ctEnableMultiRegion) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	t.Resource.Name, _ = before["trail"].(string)
	r := t.Resource
	c, err := a.f.cloudTrailClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	if logging, _ := before["is_logging"].(bool); !logging {
		err := rec.Do("cloudtrail:StopLogging", map[string]any{"Name": r.Name}, func() error {
			_, err := c.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String(r.Name)})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	if multi, _ := before["is_multi_region"].(bool); !multi {
		global, _ := before["include_global_service_events"].(bool)
		return a.update(ctx, c, r.Name, false, global, rec)
	}
	return nil
}

// update sets IsMultiRegionTrail; turning it on also turns on global
// service events (which IAM, STS and CloudFront events need, and AWS
// requires of a multi-region trail), turning it off restores them.
func (a *ctEnableMultiRegion) update(ctx context.Context, c *cloudtrail.Client, name string, multi, global bool, rec *fix.Recorder) error {
	in := ctMultiRegionInput(name, multi, global)
	return rec.Do("cloudtrail:UpdateTrail", in, func() error {
		up := &cloudtrail.UpdateTrailInput{Name: aws.String(name), IsMultiRegionTrail: aws.Bool(multi)}
		if g, ok := in["IncludeGlobalServiceEvents"].(bool); ok {
			up.IncludeGlobalServiceEvents = aws.Bool(g)
		}
		_, err := c.UpdateTrail(ctx, up)
		return errorOf(err)
	})
}

// ctMultiRegionInput is the UpdateTrail input that sets IsMultiRegionTrail
// to multi on a trail whose global service events were global before the
// fix: it names IncludeGlobalServiceEvents only when that changes.
func ctMultiRegionInput(name string, multi, global bool) map[string]any {
	in := map[string]any{"Name": name, "IsMultiRegionTrail": multi}
	if !global {
		in["IncludeGlobalServiceEvents"] = multi
	}
	return in
}
