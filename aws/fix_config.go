package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cfgtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"

	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &configEnableRecorder{fixAction{f: f, id: "aws.config.enable-recorder", typ: TypeRegion,
			title: "make AWS Config record all supported resource types in the region (global ones in the home region), " +
				"with params role_arn and bucket when it has no recorder or delivery channel, and start it (undo stops it and deletes what it created)",
			// PutConfigurationRecorder passes the recorder's role to AWS
			// Config: iam:PassRole on it is required (not for the
			// service-linked role, which Config assumes itself).
			perms: []string{"config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus",
				"config:DescribeDeliveryChannels", "config:PutConfigurationRecorder", "config:PutDeliveryChannel",
				"config:StartConfigurationRecorder", "config:StopConfigurationRecorder", "config:DeleteConfigurationRecorder",
				"config:DeleteDeliveryChannel", "iam:PassRole"},
			services: []string{"config"}}}
	})
}

// configAllRegionsCheck is the CIS check that wants global resource types
// recorded in every region, not only in the home region.
const configAllRegionsCheck = "aws-config-enabled-all-regions"

// configEnableRecorder makes AWS Config record in a region: the region's
// customer managed recorder (a new "default" one when there is none) is set
// to record all supported resource types — global ones (IAM) too in the
// home region, the first scanned, or in every region for
// aws-config-enabled-all-regions, or as param include_global says — a
// delivery channel "default" to param bucket is created when there is
// none, and the recorder is started. Params: role_arn (for a new recorder,
// or to change an existing one's role; aws-config-recorder-enabled wants
// the service-linked role AWSServiceRoleForConfig), bucket (for a new
// delivery channel), include_global (bool). Undo stops a recorder that was
// stopped, restores a recorder it changed, and deletes the recorder and
// delivery channel it created.
type configEnableRecorder struct{ fixAction }

// configPlan is what Apply needs.
type configPlan struct {
	put     *cfgtypes.ConfigurationRecorder // nil: the recorder stays as it is
	channel *cfgtypes.DeliveryChannel       // nil: the region has one
	start   string                          // the recorder to start, "" when recording
}

func (a *configEnableRecorder) client(ctx context.Context, account, region string) (*configservice.Client, error) {
	cfg, err := a.f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return configservice.NewFromConfig(cfg), nil
}

// homeRegion is the region global resource types are recorded in: the
// first scanned region, as the collector's.
func (a *configEnableRecorder) homeRegion(ctx context.Context, account string) (string, error) {
	if rs := a.f.scan.opts.Regions; len(rs) > 0 {
		return rs[0], nil
	}
	cfg, err := a.f.config(ctx, account, "")
	if err != nil {
		return "", err
	}
	return cfg.Region, nil
}

// configSLRARN is the ARN of AWS Config's service-linked role in account.
func configSLRARN(account string) string { return "arn:aws:iam::" + account + configSLR }

func (a *configEnableRecorder) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	recs, err := c.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		return nil, fmt.Errorf("config:DescribeConfigurationRecorders: %w", errorf(err))
	}
	sts, err := c.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		return nil, fmt.Errorf("config:DescribeConfigurationRecorderStatus: %w", errorf(err))
	}
	chs, err := c.DescribeDeliveryChannels(ctx, &configservice.DescribeDeliveryChannelsInput{})
	if err != nil {
		return nil, fmt.Errorf("config:DescribeDeliveryChannels: %w", errorf(err))
	}
	// Service-linked recorders belong to the service that made them.
	var old *cfgtypes.ConfigurationRecorder
	for i := range recs.ConfigurationRecorders {
		if rec := &recs.ConfigurationRecorders[i]; aws.ToString(rec.ServicePrincipal) == "" {
			old = rec
			break
		}
	}
	global, err := a.includeGlobal(ctx, t)
	if err != nil {
		return nil, err
	}
	role, _ := t.Params["role_arn"].(string)
	bucket, _ := t.Params["bucket"].(string)
	slr := configSLRARN(r.Account)

	name := "default"
	before := map[string]any{"recorder": nil, "recorder_name": name, "put_recorder": false, "recording": false,
		"created_delivery_channel": nil}
	st := &configPlan{}
	var steps []string
	var calls fixCalls
	if old != nil {
		name = aws.ToString(old.Name)
		before["recorder_name"] = name
		before["recorder"] = configRecorderState(old)
	}
	recording, lastStatus, lastErr := false, "", ""
	for _, s := range sts.ConfigurationRecordersStatus {
		if aws.ToString(s.Name) == name {
			recording, lastStatus, lastErr = s.Recording, strings.ToUpper(string(s.LastStatus)), aws.ToString(s.LastErrorCode)
		}
	}
	before["recording"] = recording

	oldRole := ""
	if old != nil {
		oldRole = aws.ToString(old.RoleARN)
		if role == "" {
			role = oldRole
		}
	}
	switch {
	case role == "":
		return nil, fmt.Errorf("there is no AWS Config recorder in %s: pass param role_arn, the role AWS Config records with (%s, the service-linked role, is what aws-config-recorder-enabled asks for)", r.Region, slr)
	case t.CheckID == "aws-config-recorder-enabled" && !strings.HasSuffix(role, configSLR):
		return nil, fmt.Errorf("the AWS Config recorder in %s would record with role %s, not the service-linked role that aws-config-recorder-enabled asks for: pass param role_arn=%s", r.Region, role, slr)
	}
	if old == nil {
		st.put = &cfgtypes.ConfigurationRecorder{Name: aws.String(name), RoleARN: aws.String(role),
			RecordingGroup: &cfgtypes.RecordingGroup{AllSupported: true, IncludeGlobalResourceTypes: global}}
		steps = append(steps, fmt.Sprintf("create the AWS Config recorder %q in %s with role %s, recording all supported resource types%s",
			name, r.Region, role, configGlobalNote(global)))
	} else {
		g := old.RecordingGroup
		keepGlobal := g != nil && g.IncludeGlobalResourceTypes
		if g == nil || !g.AllSupported || (global && !keepGlobal) || role != oldRole {
			// Only the recording group and the role change; the recording
			// mode stays as it is.
			st.put = &cfgtypes.ConfigurationRecorder{Name: old.Name, RoleARN: aws.String(role), RecordingMode: old.RecordingMode,
				RecordingGroup: &cfgtypes.RecordingGroup{AllSupported: true, IncludeGlobalResourceTypes: global || keepGlobal}}
			what := "record all supported resource types" + configGlobalNote(global || keepGlobal)
			if role != oldRole {
				what += " with role " + role + " (now " + oldRole + ")"
			}
			steps = append(steps, fmt.Sprintf("change the AWS Config recorder %q in %s to %s", name, r.Region, what))
		}
	}
	if st.put != nil {
		before["put_recorder"] = true
		calls = append(calls, fixCall{"config:PutConfigurationRecorder", configRecorderInput(st.put)})
	}
	if len(chs.DeliveryChannels) == 0 {
		if bucket == "" {
			return nil, fmt.Errorf("there is no AWS Config delivery channel in %s: pass param bucket, the S3 bucket AWS Config delivers to (its policy must let AWS Config write)", r.Region)
		}
		st.channel = &cfgtypes.DeliveryChannel{Name: aws.String("default"), S3BucketName: aws.String(bucket)}
		before["created_delivery_channel"] = "default"
		steps = append(steps, fmt.Sprintf("create the AWS Config delivery channel \"default\" in %s to bucket %s", r.Region, bucket))
		calls = append(calls, fixCall{"config:PutDeliveryChannel", map[string]any{"Name": "default", "S3BucketName": bucket}})
	}
	if !recording {
		st.start = name
		steps = append(steps, fmt.Sprintf("start the AWS Config recorder %q in %s", name, r.Region))
		calls = append(calls, fixCall{"config:StartConfigurationRecorder", map[string]any{"ConfigurationRecorderName": name}})
	}
	if len(calls) == 0 {
		if lastStatus == "FAILURE" {
			return nil, fmt.Errorf("the AWS Config recorder %q in %s records, but its last delivery failed (%s): check the delivery channel's bucket and the role's permissions, which this action does not change", name, r.Region, lastErr)
		}
		return &fix.Plan{NoOp: true, Steps: []string{fmt.Sprintf("the AWS Config recorder %q in %s already records all supported resource types%s", name, r.Region, configGlobalNote(global))},
			Before: before}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before, State: st}, nil
}

// includeGlobal says whether the recorder must record global resource
// types: param include_global, else in the home region, or everywhere for
// the all-regions check.
func (a *configEnableRecorder) includeGlobal(ctx context.Context, t fix.Target) (bool, error) {
	if v, ok := t.Params["include_global"]; ok {
		b, ok := v.(bool)
		if !ok {
			return false, fmt.Errorf("param include_global must be true or false, not %v", v)
		}
		return b, nil
	}
	if t.CheckID == configAllRegionsCheck {
		return true, nil
	}
	home, err := a.homeRegion(ctx, t.Resource.Account)
	if err != nil {
		return false, err
	}
	return t.Resource.Region == home, nil
}

func configGlobalNote(global bool) string {
	if global {
		return ", global ones included"
	}
	return ""
}

// configRecorderState records the settable part of a recorder as plain
// values (undo writes it back).
func configRecorderState(rec *cfgtypes.ConfigurationRecorder) map[string]any {
	keep := cfgtypes.ConfigurationRecorder{Name: rec.Name, RoleARN: rec.RoleARN, RecordingGroup: rec.RecordingGroup,
		RecordingMode: rec.RecordingMode}
	b, err := json.Marshal(keep)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// configRecorderFrom reads back a recorded recorder.
func configRecorderFrom(m map[string]any) (*cfgtypes.ConfigurationRecorder, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var rec cfgtypes.ConfigurationRecorder
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("the recorded AWS Config recorder does not parse: %w", err)
	}
	// Config answers an all-supported group with an empty exclusion list,
	// which it refuses next to allSupported on the way in.
	if g := rec.RecordingGroup; g != nil && g.ExclusionByResourceTypes != nil && len(g.ExclusionByResourceTypes.ResourceTypes) == 0 {
		g.ExclusionByResourceTypes = nil
	}
	return &rec, nil
}

// configRecorderInput is the recorded input of PutConfigurationRecorder.
func configRecorderInput(rec *cfgtypes.ConfigurationRecorder) map[string]any {
	in := map[string]any{"Name": aws.ToString(rec.Name), "RoleARN": aws.ToString(rec.RoleARN)}
	if g := rec.RecordingGroup; g != nil {
		group := map[string]any{"AllSupported": g.AllSupported, "IncludeGlobalResourceTypes": g.IncludeGlobalResourceTypes}
		if len(g.ResourceTypes) > 0 {
			group["ResourceTypes"] = configTypes(g.ResourceTypes)
		}
		if ex := g.ExclusionByResourceTypes; ex != nil && len(ex.ResourceTypes) > 0 {
			group["ExclusionByResourceTypes"] = map[string]any{"ResourceTypes": configTypes(ex.ResourceTypes)}
		}
		if s := g.RecordingStrategy; s != nil && s.UseOnly != "" {
			group["RecordingStrategy"] = map[string]any{"UseOnly": string(s.UseOnly)}
		}
		in["RecordingGroup"] = group
	}
	if m := rec.RecordingMode; m != nil && m.RecordingFrequency != "" {
		in["RecordingMode"] = map[string]any{"RecordingFrequency": string(m.RecordingFrequency)}
	}
	return in
}

func configTypes(ts []cfgtypes.ResourceType) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

func (a *configEnableRecorder) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*configPlan)
	if !ok {
		return errors.New("the plan does not come from this action")
	}
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	if st.put != nil {
		if err := a.put(ctx, c, st.put, rec); err != nil {
			return err
		}
	}
	if st.channel != nil {
		in := map[string]any{"Name": aws.ToString(st.channel.Name), "S3BucketName": aws.ToString(st.channel.S3BucketName)}
		if err := rec.Do("config:PutDeliveryChannel", in, func() error {
			_, err := c.PutDeliveryChannel(ctx, &configservice.PutDeliveryChannelInput{DeliveryChannel: st.channel})
			return errorOf(err)
		}); err != nil {
			return err
		}
	}
	if st.start != "" {
		return rec.Do("config:StartConfigurationRecorder", map[string]any{"ConfigurationRecorderName": st.start}, func() error {
			_, err := c.StartConfigurationRecorder(ctx, &configservice.StartConfigurationRecorderInput{ConfigurationRecorderName: aws.String(st.start)})
			return errorOf(err)
		})
	}
	return nil
}

func (a *configEnableRecorder) put(ctx context.Context, c *configservice.Client, r *cfgtypes.ConfigurationRecorder, rec *fix.Recorder) error {
	return rec.Do("config:PutConfigurationRecorder", configRecorderInput(r), func() error {
		_, err := c.PutConfigurationRecorder(ctx, &configservice.PutConfigurationRecorderInput{ConfigurationRecorder: r})
		return errorOf(err)
	})
}

// Undo stops the recorder if it was stopped, restores the recorder the fix
// changed or deletes the one it created, and deletes the delivery channel
// it created. What a fix that failed half-way never made is already as it
// was: a missing recorder or channel is not an error.
func (a *configEnableRecorder) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	name, _ := before["recorder_name"].(string)
	if name == "" {
		return errors.New("no AWS Config recorder was recorded before the fix")
	}
	r := t.Resource
	c, err := a.client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	gone := func(err error) error {
		if hasCode(err, "NoSuchConfigurationRecorderException", "NoSuchDeliveryChannelException") {
			return nil
		}
		return errorOf(err)
	}
	if recording, _ := before["recording"].(bool); !recording {
		if err := rec.Do("config:StopConfigurationRecorder", map[string]any{"ConfigurationRecorderName": name}, func() error {
			_, err := c.StopConfigurationRecorder(ctx, &configservice.StopConfigurationRecorderInput{ConfigurationRecorderName: aws.String(name)})
			return gone(err)
		}); err != nil {
			return err
		}
	}
	old, _ := before["recorder"].(map[string]any)
	switch put, _ := before["put_recorder"].(bool); {
	case old == nil:
		if err := rec.Do("config:DeleteConfigurationRecorder", map[string]any{"ConfigurationRecorderName": name}, func() error {
			_, err := c.DeleteConfigurationRecorder(ctx, &configservice.DeleteConfigurationRecorderInput{ConfigurationRecorderName: aws.String(name)})
			return gone(err)
		}); err != nil {
			return err
		}
	case put:
		prev, err := configRecorderFrom(old)
		if err != nil {
			return err
		}
		if err := a.put(ctx, c, prev, rec); err != nil {
			return err
		}
	}
	if ch, _ := before["created_delivery_channel"].(string); ch != "" {
		return rec.Do("config:DeleteDeliveryChannel", map[string]any{"DeliveryChannelName": ch}, func() error {
			_, err := c.DeleteDeliveryChannel(ctx, &configservice.DeleteDeliveryChannelInput{DeliveryChannelName: aws.String(ch)})
			return gone(err)
		})
	}
	return nil
}
