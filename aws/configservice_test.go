package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cfgtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// seedConfigRecorder creates a recorder named name in region with a
// delivery channel, recording all supported types (global ones too when
// global), and starts it when start is set.
func seedConfigRecorder(t *testing.T, region, name string, global, start bool) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, region)
	bucket := "config-" + region
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(region)}
	}
	if _, err := s3c.CreateBucket(ctx, in); err != nil {
		t.Fatal(err)
	}
	c := configservice.NewFromConfig(cfg)
	if _, err := c.PutConfigurationRecorder(ctx, &configservice.PutConfigurationRecorderInput{
		ConfigurationRecorder: &cfgtypes.ConfigurationRecorder{Name: aws.String(name),
			RoleARN:        aws.String("arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"),
			RecordingGroup: &cfgtypes.RecordingGroup{AllSupported: true, IncludeGlobalResourceTypes: global}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutDeliveryChannel(ctx, &configservice.PutDeliveryChannelInput{
		DeliveryChannel: &cfgtypes.DeliveryChannel{Name: aws.String("default"), S3BucketName: aws.String(bucket)}}); err != nil {
		t.Fatal(err)
	}
	if start {
		if _, err := c.StartConfigurationRecorder(ctx, &configservice.StartConfigurationRecorderInput{
			ConfigurationRecorderName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfig(t *testing.T) {
	moto.Reset(t)
	seedConfigRecorder(t, "us-east-1", "default", true, true)
	seedConfigRecorder(t, "us-west-2", "stopped", false, false)

	col := collect(t, []string{"config"}, "us-east-1", "us-west-2", "eu-west-1")
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	recorder := func(name string, global, recording bool, status any) map[string]any {
		return map[string]any{
			"name":                     name,
			"role_arn":                 "arn:aws:iam::123456789012:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
			"uses_service_linked_role": true, "service_principal": nil,
			"all_supported": true, "include_global_resource_types": global,
			"resource_types": []any{}, "excluded_resource_types": []any{},
			"recording_strategy": "ALL_SUPPORTED_RESOURCE_TYPES", "recording_frequency": nil,
			"recording": recording, "last_status": status, "last_error_code": nil,
		}
	}
	for region, want := range map[string]struct {
		recorders []any
		channels  int
	}{
		"us-east-1": {[]any{recorder("default", true, true, "PENDING")}, 1},
		"us-west-2": {[]any{recorder("stopped", false, false, nil)}, 1},
		"eu-west-1": {[]any{}, 0},
	} {
		p := col.region(t, region).Properties
		if !reflect.DeepEqual(p["config_recorders"], want.recorders) {
			t.Errorf("%s config_recorders = %#v\nwant %#v", region, p["config_recorders"], want.recorders)
		}
		if p["config_delivery_channels"] != want.channels {
			t.Errorf("%s config_delivery_channels = %v, want %d", region, p["config_delivery_channels"], want.channels)
		}
	}
}
