package aws

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// seedTrailBuckets creates the trails' log buckets in us-east-1: "ct-logged"
// with server access logging into "ct-access-logs", and "ct-unlogged".
func seedTrailBuckets(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s3c := s3.NewFromConfig(moto.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range []string{"ct-logged", "ct-unlogged", "ct-access-logs"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("ct-access-logs"),
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],` +
			`"Resource":"arn:aws:s3:::ct-access-logs/*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: aws.String("ct-logged"),
		BucketLoggingStatus: &s3types.BucketLoggingStatus{LoggingEnabled: &s3types.LoggingEnabled{
			TargetBucket: aws.String("ct-access-logs"), TargetPrefix: aws.String("ct/")}}}); err != nil {
		t.Fatal(err)
	}
}

func createTrail(t *testing.T, c *cloudtrail.Client, in *cloudtrail.CreateTrailInput, start bool) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateTrail(ctx, in); err != nil {
		t.Fatalf("create trail %s: %v", aws.ToString(in.Name), err)
	}
	if start {
		if _, err := c.StartLogging(ctx, &cloudtrail.StartLoggingInput{Name: in.Name}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCloudTrail(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	seedTrailBuckets(t)
	east := cloudtrail.NewFromConfig(moto.Config(t, "us-east-1"))
	west := cloudtrail.NewFromConfig(moto.Config(t, "us-west-2"))

	// main: multi-region, validated, encrypted, sent to CloudWatch Logs,
	// logging all management events and all S3 object write events.
	createTrail(t, east, &cloudtrail.CreateTrailInput{Name: aws.String("main"), S3BucketName: aws.String("ct-logged"),
		IsMultiRegionTrail: aws.Bool(true), EnableLogFileValidation: aws.Bool(true),
		KmsKeyId:                  aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
		CloudWatchLogsLogGroupArn: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:trail:*"),
		CloudWatchLogsRoleArn:     aws.String("arn:aws:iam::123456789012:role/trail-logs"),
		TagsList:                  []cttypes.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}}, true)
	if _, err := east.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("main"),
		EventSelectors: []cttypes.EventSelector{{ReadWriteType: cttypes.ReadWriteTypeAll, IncludeManagementEvents: aws.Bool(true)},
			{ReadWriteType: cttypes.ReadWriteTypeWriteOnly, IncludeManagementEvents: aws.Bool(false),
				DataResources: []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3"}}}}}}); err != nil {
		t.Fatal(err)
	}
	// local: single-region, nothing turned on, not logging.
	createTrail(t, east, &cloudtrail.CreateTrailInput{Name: aws.String("local"), S3BucketName: aws.String("ct-unlogged")}, false)
	// west-data: single-region in us-west-2, advanced selectors logging
	// read-only management events and S3 object reads of ONE bucket.
	createTrail(t, west, &cloudtrail.CreateTrailInput{Name: aws.String("west-data"), S3BucketName: aws.String("ct-unlogged")}, true)
	if _, err := west.PutEventSelectors(ctx, &cloudtrail.PutEventSelectorsInput{TrailName: aws.String("west-data"),
		AdvancedEventSelectors: []cttypes.AdvancedEventSelector{
			{Name: aws.String("mgmt reads"), FieldSelectors: []cttypes.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Management"}},
				{Field: aws.String("readOnly"), Equals: []string{"true"}}}},
			{Name: aws.String("one bucket"), FieldSelectors: []cttypes.AdvancedFieldSelector{
				{Field: aws.String("eventCategory"), Equals: []string{"Data"}},
				{Field: aws.String("resources.type"), Equals: []string{"AWS::S3::Object"}},
				{Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::ct-logged/"}}}}}}); err != nil {
		t.Fatal(err)
	}

	col := collect(t, []string{"cloudtrail"}, "us-east-1", "us-west-2", "eu-west-1")
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	trails := col.ofType(TypeCloudTrailTrail)
	if len(trails) != 3 {
		t.Fatalf("got %d trails, want 3 (a multi-region trail once): %v", len(trails), trails)
	}
	main, wd := trails["main"], trails["west-data"]
	if main.Region != "us-east-1" || wd.Region != "us-west-2" {
		t.Errorf("regions: main %s, west-data %s", main.Region, wd.Region)
	}
	if main.UID != "arn:aws:cloudtrail:us-east-1:123456789012:trail/main" || main.Tags["team"] != "sec" {
		t.Errorf("main uid %s tags %v", main.UID, main.Tags)
	}
	want := map[string]map[string]any{
		"main": {
			"is_multi_region": true, "include_global_service_events": true, "is_logging": true,
			"log_file_validation_enabled": true, "is_organization_trail": false, "home_region": "us-east-1",
			"kms_key_id":                    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
			"cloudwatch_logs_log_group_arn": "arn:aws:logs:us-east-1:123456789012:log-group:trail:*",
			"s3_bucket_name":                "ct-logged", "s3_bucket_logging_enabled": true,
			"management_events": map[string]any{"read": true, "write": true, "exclude_sources": []any{}},
			"s3_data_events":    map[string]any{"read": false, "write": true},
		},
		"local": {
			"is_multi_region": false, "is_logging": false, "log_file_validation_enabled": false,
			"kms_key_id": nil, "cloudwatch_logs_log_group_arn": nil, "s3_bucket_logging_enabled": false,
			"latest_delivery_time": nil,
			// No selectors at all: AWS's default, all management events.
			"management_events": map[string]any{"read": true, "write": true, "exclude_sources": []any{}},
			"s3_data_events":    map[string]any{"read": false, "write": false},
			"event_selectors":   []any{}, "advanced_event_selectors": []any{},
		},
		"west-data": {
			"is_logging": true, "home_region": "us-west-2",
			"management_events": map[string]any{"read": true, "write": false, "exclude_sources": []any{}},
			// One bucket only does not count as "all S3 buckets".
			"s3_data_events": map[string]any{"read": false, "write": false},
		},
	}
	for name, props := range want {
		for k, v := range props {
			got, ok := trails[name].Properties[k]
			if !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s = %#v (present %v), want %#v", name, k, got, ok, v)
			}
		}
	}
	if _, ok := main.Properties["latest_delivery_time"].(string); !ok {
		t.Errorf("main latest_delivery_time = %#v, want a timestamp", main.Properties["latest_delivery_time"])
	}
	if sel := main.Properties["event_selectors"].([]any); len(sel) != 2 ||
		!reflect.DeepEqual(sel[1].(map[string]any)["data_resources"],
			[]any{map[string]any{"type": "AWS::S3::Object", "values": []any{"arn:aws:s3"}}}) {
		t.Errorf("main event_selectors = %#v", sel)
	}
	adv := wd.Properties["advanced_event_selectors"].([]any)
	if len(adv) != 2 || adv[1].(map[string]any)["name"] != "one bucket" ||
		!reflect.DeepEqual(adv[1].(map[string]any)["field_selectors"].([]any)[2],
			map[string]any{"field": "resources.ARN", "starts_with": []any{"arn:aws:s3:::ct-logged/"}}) {
		t.Errorf("west-data advanced_event_selectors = %#v", adv)
	}

	// Every region is covered by main (multi-region, logging, read+write
	// management events); us-west-2 also sees its own trail.
	for region, n := range map[string]int{"us-east-1": 2, "us-west-2": 2, "eu-west-1": 1} {
		got := col.region(t, region).Properties["cloudtrail"]
		wantSum := map[string]any{"trails": n, "multi_region_logging_trails": 1,
			"s3_data_events": map[string]any{"read": false, "write": true}}
		if !reflect.DeepEqual(got, wantSum) {
			t.Errorf("%s cloudtrail = %#v, want %#v", region, got, wantSum)
		}
	}

	// Once main stops logging no region has a multi-region logging trail.
	if _, err := east.StopLogging(ctx, &cloudtrail.StopLoggingInput{Name: aws.String("main")}); err != nil {
		t.Fatal(err)
	}
	col = collect(t, []string{"cloudtrail"}, "us-east-1", "eu-west-1")
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		sum := col.region(t, region).Properties["cloudtrail"].(map[string]any)
		if sum["multi_region_logging_trails"] != 0 ||
			!reflect.DeepEqual(sum["s3_data_events"], map[string]any{"read": false, "write": false}) {
			t.Errorf("%s after stop: %#v", region, sum)
		}
	}
}

func TestCloudTrailCoverage(t *testing.T) {
	sel := func(es ...cttypes.EventSelector) *cloudtrail.GetEventSelectorsOutput {
		return &cloudtrail.GetEventSelectorsOutput{EventSelectors: es}
	}
	adv := func(fs ...[]cttypes.AdvancedFieldSelector) *cloudtrail.GetEventSelectorsOutput {
		out := &cloudtrail.GetEventSelectorsOutput{}
		for _, f := range fs {
			out.AdvancedEventSelectors = append(out.AdvancedEventSelectors, cttypes.AdvancedEventSelector{FieldSelectors: f})
		}
		return out
	}
	f := func(field string, equals ...string) cttypes.AdvancedFieldSelector {
		return cttypes.AdvancedFieldSelector{Field: aws.String(field), Equals: equals}
	}
	s3all := []cttypes.DataResource{{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::"}}}
	for _, tc := range []struct {
		name      string
		sel       *cloudtrail.GetEventSelectorsOutput
		custom    bool
		mgmt, s3v readWrite
	}{
		{"no selectors: AWS default", sel(), false, readWrite{true, true}, readWrite{}},
		{"custom but empty", sel(), true, readWrite{}, readWrite{}},
		{"basic read only", sel(cttypes.EventSelector{ReadWriteType: cttypes.ReadWriteTypeReadOnly}), true,
			readWrite{true, false}, readWrite{}},
		{"basic management off, S3 all", sel(cttypes.EventSelector{IncludeManagementEvents: aws.Bool(false), DataResources: s3all}),
			true, readWrite{}, readWrite{true, true}},
		{"basic S3 one bucket", sel(cttypes.EventSelector{DataResources: []cttypes.DataResource{
			{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws:s3:::b/"}}}}), true, readWrite{true, true}, readWrite{}},
		{"basic other partition value", sel(cttypes.EventSelector{DataResources: []cttypes.DataResource{
			{Type: aws.String("AWS::S3::Object"), Values: []string{"arn:aws-cn:s3"}}}}), true, readWrite{true, true}, readWrite{}},
		{"advanced management all", adv([]cttypes.AdvancedFieldSelector{f("eventCategory", "Management")}), true,
			readWrite{true, true}, readWrite{}},
		{"advanced S3 writes", adv([]cttypes.AdvancedFieldSelector{f("eventCategory", "Data"),
			f("resources.type", "AWS::S3::Object"), f("readOnly", "false")}), true, readWrite{}, readWrite{false, true}},
		{"advanced S3 all buckets prefix", adv([]cttypes.AdvancedFieldSelector{f("eventCategory", "Data"),
			f("resources.type", "AWS::S3::Object"), {Field: aws.String("resources.ARN"), StartsWith: []string{"arn:aws:s3:::"}}}),
			true, readWrite{}, readWrite{true, true}},
		{"advanced S3 narrowed by event name", adv([]cttypes.AdvancedFieldSelector{f("eventCategory", "Data"),
			f("resources.type", "AWS::S3::Object"), f("eventName", "PutObject")}), true, readWrite{}, readWrite{}},
		{"advanced Lambda data events", adv([]cttypes.AdvancedFieldSelector{f("eventCategory", "Data"),
			f("resources.type", "AWS::Lambda::Function")}), true, readWrite{}, readWrite{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := cttypes.Trail{HasCustomEventSelectors: aws.Bool(tc.custom)}
			mgmt, s3v := trailCoverage(tr, tc.sel, "aws")
			if mgmt != tc.mgmt || s3v != tc.s3v {
				t.Errorf("got mgmt %+v s3 %+v, want %+v %+v", mgmt, s3v, tc.mgmt, tc.s3v)
			}
		})
	}
}
