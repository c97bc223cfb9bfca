package aws

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// configSLRRole is AWS Config's service-linked role in moto's account.
const configSLRRole = "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"

// configState is a region's recorders (name: role, all supported, global,
// recording) and delivery channels (name: bucket), as the SDK reads them.
type configState struct {
	recorders map[string]string
	channels  map[string]string
}

func readConfigState(t *testing.T, region string) configState {
	t.Helper()
	ctx := context.Background()
	c := configservice.NewFromConfig(moto.Config(t, region))
	recs, err := c.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		t.Fatal(err)
	}
	sts, err := c.DescribeConfigurationRecorderStatus(ctx, &configservice.DescribeConfigurationRecorderStatusInput{})
	if err != nil {
		t.Fatal(err)
	}
	recording := map[string]bool{}
	for _, s := range sts.ConfigurationRecordersStatus {
		recording[aws.ToString(s.Name)] = s.Recording
	}
	chs, err := c.DescribeDeliveryChannels(ctx, &configservice.DescribeDeliveryChannelsInput{})
	if err != nil {
		t.Fatal(err)
	}
	out := configState{recorders: map[string]string{}, channels: map[string]string{}}
	for _, r := range recs.ConfigurationRecorders {
		g := r.RecordingGroup
		out.recorders[aws.ToString(r.Name)] = strings.Join([]string{aws.ToString(r.RoleARN),
			map[bool]string{true: "all", false: "some"}[g.AllSupported],
			map[bool]string{true: "global", false: "regional"}[g.IncludeGlobalResourceTypes],
			map[bool]string{true: "recording", false: "stopped"}[recording[aws.ToString(r.Name)]]}, " ")
	}
	for _, ch := range chs.DeliveryChannels {
		out.channels[aws.ToString(ch.Name)] = aws.ToString(ch.S3BucketName)
	}
	return out
}

func TestFixConfigEnableRecorder(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	must[any](t)(s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("config-deliveries")}))
	// us-west-2: a stopped recorder of all supported types, global ones
	// left out, with its delivery channel.
	seedConfigRecorder(t, "us-west-2", "stopped", false, false)
	h := newFixHarness(t, []string{"config"}, "us-east-1", "us-west-2")
	region := func(r string) string { return h.col.region(t, r).UID }
	empty := configState{recorders: map[string]string{}, channels: map[string]string{}}
	west := configState{recorders: map[string]string{"stopped": configSLRRole + " all regional stopped"},
		channels: map[string]string{"default": "config-us-west-2"}}

	// Without a recorder, the role and the bucket are needed.
	for _, tc := range []struct {
		params map[string]any
		err    string
	}{
		{nil, "there is no AWS Config recorder in us-east-1: pass param role_arn"},
		{map[string]any{"role_arn": "arn:aws:iam::123456789012:role/config-recorder"},
			"the AWS Config recorder in us-east-1 would record with role arn:aws:iam::123456789012:role/config-recorder, not the service-linked role"},
		{map[string]any{"role_arn": configSLRRole}, "there is no AWS Config delivery channel in us-east-1: pass param bucket"},
	} {
		j, err := h.runner.Prepare(ctx, "aws-config-recorder-enabled", region("us-east-1"), tc.params)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
		if err == nil || !strings.HasPrefix(err.Error(), tc.err) || f.Status != vigil.FixFailed {
			t.Errorf("params %v: %s, %v; want failed, %q", tc.params, f.Status, err, tc.err)
		}
	}

	// The home region: a recorder of every type, global ones included,
	// a delivery channel, started; undo deletes them.
	params := map[string]any{"role_arn": configSLRRole, "bucket": "config-deliveries"}
	j, f, p := h.plan("aws-config-recorder-enabled", region("us-east-1"), params)
	want := []vigil.FixCall{
		{Operation: "config:PutConfigurationRecorder", Input: map[string]any{"Name": "default", "RoleARN": configSLRRole,
			"RecordingGroup": map[string]any{"AllSupported": true, "IncludeGlobalResourceTypes": true}}},
		{Operation: "config:PutDeliveryChannel", Input: map[string]any{"Name": "default", "S3BucketName": "config-deliveries"}},
		{Operation: "config:StartConfigurationRecorder", Input: map[string]any{"ConfigurationRecorderName": "default"}},
	}
	if !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned %+v\nwant %+v", p.Calls, want)
	}
	if got := readConfigState(t, "us-east-1"); !reflect.DeepEqual(got, empty) {
		t.Fatalf("the plan changed the region: %+v", got)
	}
	done := h.apply(j, f, p)
	if got, want := readConfigState(t, "us-east-1"), (configState{recorders: map[string]string{"default": configSLRRole + " all global recording"},
		channels: map[string]string{"default": "config-deliveries"}}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %+v, want %+v", got, want)
	}
	undone := h.undo(done.ID)
	if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"config:StopConfigurationRecorder",
		"config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel"}) {
		t.Errorf("undo calls %v", got)
	}
	if got := readConfigState(t, "us-east-1"); !reflect.DeepEqual(got, empty) {
		t.Errorf("after undo: %+v, want nothing", got)
	}

	// A stopped recorder that records all types with the service-linked
	// role only needs starting (no params); not in the home region, global
	// types are not added.
	j, f, p = h.plan("aws-config-recorder-enabled", region("us-west-2"), nil)
	if want := []vigil.FixCall{{Operation: "config:StartConfigurationRecorder", Input: map[string]any{"ConfigurationRecorderName": "stopped"}}}; !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned %+v, want %+v", p.Calls, want)
	}
	done = h.apply(j, f, p)
	if got, want := readConfigState(t, "us-west-2"), (configState{recorders: map[string]string{"stopped": configSLRRole + " all regional recording"},
		channels: west.channels}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %+v, want %+v", got, want)
	}
	h.undo(done.ID)
	if got := readConfigState(t, "us-west-2"); !reflect.DeepEqual(got, west) {
		t.Errorf("after undo: %+v, want %+v", got, west)
	}

	// CIS wants global types in every region: the recorder is changed too,
	// and undo puts it back as it was.
	j, f, p = h.plan("aws-config-enabled-all-regions", region("us-west-2"), nil)
	want = []vigil.FixCall{
		{Operation: "config:PutConfigurationRecorder", Input: map[string]any{"Name": "stopped", "RoleARN": configSLRRole,
			"RecordingGroup": map[string]any{"AllSupported": true, "IncludeGlobalResourceTypes": true}}},
		{Operation: "config:StartConfigurationRecorder", Input: map[string]any{"ConfigurationRecorderName": "stopped"}},
	}
	if !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned %+v\nwant %+v", p.Calls, want)
	}
	done = h.apply(j, f, p)
	if got, want := readConfigState(t, "us-west-2"), (configState{recorders: map[string]string{"stopped": configSLRRole + " all global recording"},
		channels: west.channels}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %+v, want %+v", got, want)
	}
	undone = h.undo(done.ID)
	if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"config:StopConfigurationRecorder", "config:PutConfigurationRecorder"}) {
		t.Errorf("undo calls %v", got)
	}
	if got := readConfigState(t, "us-west-2"); !reflect.DeepEqual(got, west) {
		t.Errorf("after undo: %+v, want %+v", got, west)
	}
}

// TestFixConfigEnableRecorderFailsHalfway: the delivery channel cannot be
// created after the recorder was; the fix is recorded failed with both
// calls, and undo removes the recorder it left behind.
func TestFixConfigEnableRecorderFailsHalfway(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	h := newFixHarness(t, []string{"config"})
	j, f, p := h.plan("aws-config-recorder-enabled", h.col.region(t, "us-east-1").UID,
		map[string]any{"role_arn": configSLRRole, "bucket": "config-deliveries"})
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("PutDeliveryChannel", func(any) any {
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"}
	}))
	out, err := h.runner.Apply(ctx, j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.FixCall{
		{Operation: "config:PutConfigurationRecorder", Input: map[string]any{"Name": "default", "RoleARN": configSLRRole,
			"RecordingGroup": map[string]any{"AllSupported": true, "IncludeGlobalResourceTypes": true}}},
		{Operation: "config:PutDeliveryChannel", Input: map[string]any{"Name": "default", "S3BucketName": "config-deliveries"},
			Error: "AccessDenied: denied"},
	}
	if out.Status != vigil.FixFailed || out.Reason != "apply: config:PutDeliveryChannel: AccessDenied: denied" || !reflect.DeepEqual(out.Calls, want) {
		t.Errorf("failed fix: %s %q %+v", out.Status, out.Reason, out.Calls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != out.Reason || !reflect.DeepEqual(stored.Calls, want) {
		t.Errorf("stored: %s %q %+v", stored.Status, stored.Reason, stored.Calls)
	}
	if got, want := readConfigState(t, "us-east-1"), (configState{recorders: map[string]string{"default": configSLRRole + " all global stopped"},
		channels: map[string]string{}}); !reflect.DeepEqual(got, want) {
		t.Errorf("after the failed fix: %+v, want %+v", got, want)
	}
	h.undo(out.ID)
	if got, want := readConfigState(t, "us-east-1"), (configState{recorders: map[string]string{}, channels: map[string]string{}}); !reflect.DeepEqual(got, want) {
		t.Errorf("after undo: %+v, want nothing", got)
	}
}
