package aws

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilsec/vigil"
)

// TypeCloudTrailTrail is the resource type of a CloudTrail trail.
const TypeCloudTrailTrail = "aws.cloudtrail.trail"

func init() {
	register(&service{name: "cloudtrail", types: []string{TypeCloudTrailTrail}, collect: collectCloudTrail, get: collectCloudTrail})
}

// collectCloudTrail emits the trails whose home is the task's region (so a
// multi-region trail appears once, not once per region) and sets the
// region's "cloudtrail" summary from every trail that covers the region,
// shadow copies of other regions' multi-region trails included.
func collectCloudTrail(ctx context.Context, t *task) error {
	client := cloudtrail.NewFromConfig(t.cfg)
	if !t.wantsSettings() {
		return getTrails(ctx, t, client)
	}
	// DescribeTrails is not paginated: it returns every trail at once.
	out, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{IncludeShadowTrails: aws.Bool(true)})
	if err != nil {
		t.regionErr("cloudtrail", err)
		return err
	}
	var sum trailSummary
	clients := map[string]*cloudtrail.Client{t.region: client}
	for _, tr := range out.TrailList {
		home := aws.ToString(tr.HomeRegion)
		if home == "" {
			home = t.region
		}
		// An organization trail of the management account is visible from
		// member accounts too: it is the management account's resource, so
		// here it only counts towards the region's coverage.
		if home == t.region && arnAccount(aws.ToString(tr.TrailARN)) == t.acct.ID {
			if !t.wanted(TypeCloudTrailTrail, aws.ToString(tr.TrailARN)) {
				// A Get of the region's settings needs only what the
				// summary counts, not the trail's bucket and tags.
				sum.add(tr, shadowTrailFacts(ctx, client, tr))
				continue
			}
			r, f := cloudTrail(ctx, t, client, tr)
			sum.add(tr, f)
			if err := t.emit(ctx, r); err != nil {
				return err
			}
			continue
		}
		// A shadow trail: its status and selectors live in its home region.
		hc, ok := clients[home]
		if !ok {
			cfg := t.cfg.Copy()
			cfg.Region = home
			hc = cloudtrail.NewFromConfig(cfg)
			clients[home] = hc
		}
		sum.add(tr, shadowTrailFacts(ctx, hc, tr))
	}
	sum.set(t)
	return nil
}

// getTrails re-reads the trails a Get wants, named in DescribeTrails: AWS
// answers trails of the current region and account only, as a scan of the
// region emits them.
func getTrails(ctx context.Context, t *task, client *cloudtrail.Client) error {
	uids := t.wantedUIDs(TypeCloudTrailTrail)
	if len(uids) == 0 {
		return nil
	}
	out, err := client.DescribeTrails(ctx, &cloudtrail.DescribeTrailsInput{TrailNameList: uids,
		IncludeShadowTrails: aws.Bool(false)})
	switch {
	case classify(err) == vigil.ENOTFOUND:
		return nil
	case err != nil:
		return err
	}
	for _, tr := range out.TrailList {
		home := aws.ToString(tr.HomeRegion)
		if home == "" {
			home = t.region
		}
		// moto ignores trailNameList: keep to the trails asked for.
		if home != t.region || arnAccount(aws.ToString(tr.TrailARN)) != t.acct.ID ||
			!t.wanted(TypeCloudTrailTrail, aws.ToString(tr.TrailARN)) {
			continue
		}
		r, _ := cloudTrail(ctx, t, client, tr)
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// trailFacts are the facts about one trail that the region summary needs;
// a nil field could not be read (its error is kept).
type trailFacts struct {
	logging        *bool
	mgmt, s3       *readWrite
	statusErr, sel error
}

// readWrite says whether read and write events of a kind are logged.
type readWrite struct{ read, write bool }

func (rw readWrite) value() map[string]any { return map[string]any{"read": rw.read, "write": rw.write} }

// trailSummary aggregates the trails that cover one region.
type trailSummary struct {
	trails, multiRegionLogging int
	s3                         readWrite
	// unknownMulti and unknownS3 are errors from trails whose facts could
	// not be read and that might have changed the result.
	unknownMulti, unknownS3 error
}

func (s *trailSummary) add(tr cttypes.Trail, f trailFacts) {
	s.trails++
	if f.logging != nil && !*f.logging {
		return // a trail that is not logging covers nothing
	}
	if aws.ToBool(tr.IsMultiRegionTrail) {
		switch {
		case f.logging == nil:
			s.unknownMulti = f.statusErr
		case f.mgmt == nil:
			s.unknownMulti = f.sel
		case f.mgmt.read && f.mgmt.write:
			s.multiRegionLogging++
		}
	}
	switch {
	case f.logging == nil:
		s.unknownS3 = f.statusErr
	case f.s3 == nil:
		s.unknownS3 = f.sel
	default:
		s.s3.read = s.s3.read || f.s3.read
		s.s3.write = s.s3.write || f.s3.write
	}
}

// set records the summary on the region. A count of zero, or a data-event
// flag that is false, is only reported when no unreadable trail could have
// changed it; otherwise that part of the summary is a read error.
func (s *trailSummary) set(t *task) {
	v := map[string]any{"trails": s.trails}
	if s.multiRegionLogging == 0 && s.unknownMulti != nil {
		t.regionErr("cloudtrail.multi_region_logging_trails", s.unknownMulti)
	} else {
		v["multi_region_logging_trails"] = s.multiRegionLogging
	}
	if (!s.s3.read || !s.s3.write) && s.unknownS3 != nil {
		t.regionErr("cloudtrail.s3_data_events", s.unknownS3)
	} else {
		v["s3_data_events"] = s.s3.value()
	}
	t.setRegion("cloudtrail", v)
}

// shadowTrailFacts reads status and event selectors of another region's
// trail through a client of that region.
func shadowTrailFacts(ctx context.Context, client *cloudtrail.Client, tr cttypes.Trail) trailFacts {
	var f trailFacts
	arn := tr.TrailARN
	if st, err := client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: arn}); err != nil {
		f.statusErr = err
	} else {
		f.logging = aws.Bool(aws.ToBool(st.IsLogging))
	}
	if sel, err := client.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: arn}); err != nil {
		f.sel = err
	} else {
		mgmt, s3ev := trailCoverage(tr, sel, partition(aws.ToString(tr.HomeRegion)))
		f.mgmt, f.s3 = &mgmt, &s3ev
	}
	return f
}

// cloudTrail describes one trail whose home is the task's region.
func cloudTrail(ctx context.Context, t *task, client *cloudtrail.Client, tr cttypes.Trail) (vigil.Resource, trailFacts) {
	name := aws.ToString(tr.Name)
	r := vigil.Resource{UID: aws.ToString(tr.TrailARN), Type: TypeCloudTrailTrail, Name: name}
	if r.UID == "" {
		r.UID = t.arn("cloudtrail", t.region, "trail/"+name)
	}
	p := map[string]any{
		"home_region":                   aws.ToString(tr.HomeRegion),
		"is_multi_region":               aws.ToBool(tr.IsMultiRegionTrail),
		"include_global_service_events": aws.ToBool(tr.IncludeGlobalServiceEvents),
		"is_organization_trail":         aws.ToBool(tr.IsOrganizationTrail),
		"log_file_validation_enabled":   aws.ToBool(tr.LogFileValidationEnabled),
		"kms_key_id":                    strOrNil(tr.KmsKeyId),
		"cloudwatch_logs_log_group_arn": strOrNil(tr.CloudWatchLogsLogGroupArn),
		"cloudwatch_logs_role_arn":      strOrNil(tr.CloudWatchLogsRoleArn),
		"s3_bucket_name":                aws.ToString(tr.S3BucketName),
		"s3_key_prefix":                 strOrNil(tr.S3KeyPrefix),
		"sns_topic_arn":                 strOrNil(tr.SnsTopicARN),
		"has_custom_event_selectors":    aws.ToBool(tr.HasCustomEventSelectors),
		"has_insight_selectors":         aws.ToBool(tr.HasInsightSelectors),
	}
	r.Properties = p
	var f trailFacts

	st, err := client.GetTrailStatus(ctx, &cloudtrail.GetTrailStatusInput{Name: tr.TrailARN})
	if err != nil {
		f.statusErr = err
		for _, k := range []string{"is_logging", "latest_delivery_time", "latest_delivery_error",
			"latest_cloudwatch_logs_delivery_time", "start_logging_time", "stop_logging_time"} {
			t.propErr(&r, k, err)
		}
	} else {
		f.logging = aws.Bool(aws.ToBool(st.IsLogging))
		p["is_logging"] = *f.logging
		p["latest_delivery_time"] = tsOrNil(st.LatestDeliveryTime)
		p["latest_delivery_error"] = strOrNil(st.LatestDeliveryError)
		p["latest_cloudwatch_logs_delivery_time"] = tsOrNil(st.LatestCloudWatchLogsDeliveryTime)
		p["start_logging_time"] = tsOrNil(st.StartLoggingTime)
		p["stop_logging_time"] = tsOrNil(st.StopLoggingTime)
	}

	sel, err := client.GetEventSelectors(ctx, &cloudtrail.GetEventSelectorsInput{TrailName: tr.TrailARN})
	if err != nil {
		f.sel = err
		for _, k := range []string{"event_selectors", "advanced_event_selectors", "management_events", "s3_data_events"} {
			t.propErr(&r, k, err)
		}
	} else {
		p["event_selectors"] = eventSelectors(sel.EventSelectors)
		p["advanced_event_selectors"] = advancedSelectors(sel.AdvancedEventSelectors)
		mgmt, s3ev := trailCoverage(tr, sel, t.partition())
		f.mgmt, f.s3 = &mgmt, &s3ev
		m := mgmt.value()
		m["exclude_sources"] = excludedSources(sel)
		p["management_events"] = m
		p["s3_data_events"] = s3ev.value()
	}

	if bucket := aws.ToString(tr.S3BucketName); bucket != "" {
		on, err := trailBucketLogging(ctx, t, bucket)
		if err != nil {
			t.propErr(&r, "s3_bucket_logging_enabled", err)
		} else {
			p["s3_bucket_logging_enabled"] = on
		}
	} else {
		p["s3_bucket_logging_enabled"] = nil
	}

	tags, err := client.ListTags(ctx, &cloudtrail.ListTagsInput{ResourceIdList: []string{r.UID}})
	if err != nil {
		t.propErr(&r, "tags", err)
	} else {
		for _, rt := range tags.ResourceTagList {
			if m := tagMap(rt.TagsList, func(tg cttypes.Tag) (*string, *string) { return tg.Key, tg.Value }); m != nil {
				r.Tags = m
			}
		}
	}
	return r, f
}

// trailBucketLogging reports whether server access logging is on for the
// trail's bucket. The bucket may live in any region, so its region is asked
// first: GetBucketLocation is answered from any endpoint of the partition.
func trailBucketLogging(ctx context.Context, t *task, bucket string) (bool, error) {
	pathStyle := t.c.opts.Endpoint != ""
	locRegion := t.region
	if t.partition() == "aws" {
		locRegion = "us-east-1"
	}
	loc, err := s3.NewFromConfig(t.cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		o.Region = locRegion
	}).GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: &bucket})
	if err != nil {
		return false, err
	}
	region := string(loc.LocationConstraint)
	switch region {
	case "":
		region = "us-east-1"
	case "EU":
		region = "eu-west-1"
	}
	lg, err := s3.NewFromConfig(t.cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		o.Region = region
	}).GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: &bucket})
	if err != nil {
		return false, err
	}
	return lg.LoggingEnabled != nil && aws.ToString(lg.LoggingEnabled.TargetBucket) != "", nil
}

// trailCoverage normalises basic and advanced event selectors into two
// facts: which management events the trail logs, and which S3 object-level
// data events it logs for ALL buckets (CIS 3.8 / 3.9). A selector limited to
// some buckets, or by any other field, does not count for the latter.
//
// A trail without any selector logs all management events, as AWS documents
// for trails created without event selectors.
func trailCoverage(tr cttypes.Trail, sel *cloudtrail.GetEventSelectorsOutput, part string) (mgmt, s3ev readWrite) {
	if len(sel.EventSelectors) == 0 && len(sel.AdvancedEventSelectors) == 0 && !aws.ToBool(tr.HasCustomEventSelectors) {
		return readWrite{true, true}, readWrite{}
	}
	allBuckets := []string{"arn:" + part + ":s3", "arn:" + part + ":s3:::"}
	for _, es := range sel.EventSelectors {
		read, write := true, true
		switch es.ReadWriteType {
		case cttypes.ReadWriteTypeReadOnly:
			write = false
		case cttypes.ReadWriteTypeWriteOnly:
			read = false
		}
		if es.IncludeManagementEvents == nil || *es.IncludeManagementEvents {
			mgmt.read, mgmt.write = mgmt.read || read, mgmt.write || write
		}
		for _, dr := range es.DataResources {
			if aws.ToString(dr.Type) != "AWS::S3::Object" {
				continue
			}
			if slices.ContainsFunc(dr.Values, func(v string) bool { return slices.Contains(allBuckets, v) }) {
				s3ev.read, s3ev.write = s3ev.read || read, s3ev.write || write
			}
		}
	}
	for _, as := range sel.AdvancedEventSelectors {
		var category, types []string
		read, write, narrowed := true, true, false
		for _, fs := range as.FieldSelectors {
			switch aws.ToString(fs.Field) {
			case "eventCategory":
				category = fs.Equals
			case "resources.type":
				types = fs.Equals
			case "readOnly":
				switch {
				case slices.Equal(fs.Equals, []string{"true"}) || slices.Equal(fs.NotEquals, []string{"false"}):
					write = false
				case slices.Equal(fs.Equals, []string{"false"}) || slices.Equal(fs.NotEquals, []string{"true"}):
					read = false
				default:
					narrowed = true
				}
			case "resources.ARN":
				// Only "every bucket" (StartsWith arn:<partition>:s3) with no other
				// operator covers all objects.
				others := len(fs.Equals) + len(fs.NotEquals) + len(fs.EndsWith) + len(fs.NotEndsWith) + len(fs.NotStartsWith)
				if !slices.Equal(fs.StartsWith, allBuckets[1:]) || others > 0 {
					narrowed = true
				}
			case "eventSource":
				// Excluding event sources narrows data events; for
				// management events it is reported in exclude_sources.
				if slices.Contains(category, "Data") || !slices.Contains(category, "Management") {
					narrowed = true
				}
			default:
				narrowed = true
			}
		}
		switch {
		case slices.Equal(category, []string{"Management"}):
			mgmt.read, mgmt.write = mgmt.read || read, mgmt.write || write
		case slices.Equal(category, []string{"Data"}) && slices.Contains(types, "AWS::S3::Object") && !narrowed:
			s3ev.read, s3ev.write = s3ev.read || read, s3ev.write || write
		}
	}
	return mgmt, s3ev
}

// excludedSources lists the event sources excluded from management events.
func excludedSources(sel *cloudtrail.GetEventSelectorsOutput) []any {
	set := map[string]bool{}
	for _, es := range sel.EventSelectors {
		if es.IncludeManagementEvents == nil || *es.IncludeManagementEvents {
			for _, s := range es.ExcludeManagementEventSources {
				set[s] = true
			}
		}
	}
	for _, as := range sel.AdvancedEventSelectors {
		management := false
		for _, fs := range as.FieldSelectors {
			if aws.ToString(fs.Field) == "eventCategory" && slices.Contains(fs.Equals, "Management") {
				management = true
			}
		}
		for _, fs := range as.FieldSelectors {
			if management && aws.ToString(fs.Field) == "eventSource" {
				for _, s := range fs.NotEquals {
					set[s] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return anyStrs(out)
}

// eventSelectors renders basic event selectors as plain values.
func eventSelectors(sels []cttypes.EventSelector) []any {
	out := make([]any, 0, len(sels))
	for _, es := range sels {
		rwt := string(es.ReadWriteType)
		if rwt == "" {
			rwt = string(cttypes.ReadWriteTypeAll)
		}
		drs := make([]any, 0, len(es.DataResources))
		for _, dr := range es.DataResources {
			drs = append(drs, map[string]any{"type": aws.ToString(dr.Type), "values": anyStrs(dr.Values)})
		}
		out = append(out, map[string]any{
			"read_write_type":                  rwt,
			"include_management_events":        es.IncludeManagementEvents == nil || *es.IncludeManagementEvents,
			"exclude_management_event_sources": anyStrs(es.ExcludeManagementEventSources),
			"data_resources":                   drs,
		})
	}
	return out
}

// advancedSelectors renders advanced event selectors as plain values,
// keeping only the operators a field selector uses.
func advancedSelectors(sels []cttypes.AdvancedEventSelector) []any {
	out := make([]any, 0, len(sels))
	for _, as := range sels {
		fields := make([]any, 0, len(as.FieldSelectors))
		for _, fs := range as.FieldSelectors {
			m := map[string]any{"field": aws.ToString(fs.Field)}
			for k, v := range map[string][]string{"equals": fs.Equals, "not_equals": fs.NotEquals,
				"starts_with": fs.StartsWith, "not_starts_with": fs.NotStartsWith,
				"ends_with": fs.EndsWith, "not_ends_with": fs.NotEndsWith} {
				if len(v) > 0 {
					m[k] = anyStrs(v)
				}
			}
			fields = append(fields, m)
		}
		out = append(out, map[string]any{"name": aws.ToString(as.Name), "field_selectors": fields})
	}
	return out
}

// arnAccount returns the account id field of an ARN, or "".
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// strOrNil returns the string, or nil when the API returned none or "".
func strOrNil(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	return *s
}

// tsOrNil formats a timestamp in timeFormat, or returns nil for none.
func tsOrNil(ts *time.Time) any {
	if ts == nil || ts.IsZero() {
		return nil
	}
	return ts.UTC().Format(timeFormat)
}

// anyStrs converts a string slice to the []any that CEL sees as a list.
func anyStrs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
