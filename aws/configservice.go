package aws

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	cfgtypes "github.com/aws/aws-sdk-go-v2/service/configservice/types"
)

func init() {
	// AWS Config has no resources of its own here: it contributes the
	// region's config_recorders and config_delivery_channels settings, so
	// every failure is recorded on aws.region and collect returns nil.
	register(&service{name: "config", collect: collectConfig, get: collectConfig})
}

// configSLR is the path of AWS Config's service-linked role.
const configSLR = ":role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"

// collectConfig records the region's configuration recorders, with their
// recording status, and how many delivery channels exist.
func collectConfig(ctx context.Context, t *task) error {
	client := configservice.NewFromConfig(t.cfg)
	recs, err := client.DescribeConfigurationRecorders(ctx, &configservice.DescribeConfigurationRecordersInput{})
	if err != nil {
		t.regionErr("config_recorders", err)
	} else if sts, err := client.DescribeConfigurationRecorderStatus(ctx,
		&configservice.DescribeConfigurationRecorderStatusInput{}); err != nil {
		t.regionErr("config_recorders", err)
	} else {
		status := map[string]cfgtypes.ConfigurationRecorderStatus{}
		for _, s := range sts.ConfigurationRecordersStatus {
			status[aws.ToString(s.Name)] = s
		}
		out := make([]any, 0, len(recs.ConfigurationRecorders))
		for _, rec := range recs.ConfigurationRecorders {
			out = append(out, configRecorder(rec, status))
		}
		t.setRegion("config_recorders", out)
	}
	chs, err := client.DescribeDeliveryChannels(ctx, &configservice.DescribeDeliveryChannelsInput{})
	if err != nil {
		t.regionErr("config_delivery_channels", err)
	} else {
		t.setRegion("config_delivery_channels", len(chs.DeliveryChannels))
	}
	return nil
}

// configRecorder renders one recorder and its status as plain values.
func configRecorder(rec cfgtypes.ConfigurationRecorder, status map[string]cfgtypes.ConfigurationRecorderStatus) map[string]any {
	name := aws.ToString(rec.Name)
	role := aws.ToString(rec.RoleARN)
	m := map[string]any{
		"name":                          name,
		"role_arn":                      strOrNil(rec.RoleARN),
		"uses_service_linked_role":      strings.HasSuffix(role, configSLR),
		"service_principal":             strOrNil(rec.ServicePrincipal),
		"all_supported":                 false,
		"include_global_resource_types": false,
		"resource_types":                []any{},
		"excluded_resource_types":       []any{},
		"recording_strategy":            nil,
		"recording_frequency":           nil,
	}
	if g := rec.RecordingGroup; g != nil {
		m["all_supported"] = g.AllSupported
		m["include_global_resource_types"] = g.IncludeGlobalResourceTypes
		types := make([]any, 0, len(g.ResourceTypes))
		for _, rt := range g.ResourceTypes {
			types = append(types, string(rt))
		}
		m["resource_types"] = types
		if ex := g.ExclusionByResourceTypes; ex != nil {
			types := make([]any, 0, len(ex.ResourceTypes))
			for _, rt := range ex.ResourceTypes {
				types = append(types, string(rt))
			}
			m["excluded_resource_types"] = types
		}
		if g.RecordingStrategy != nil && g.RecordingStrategy.UseOnly != "" {
			m["recording_strategy"] = string(g.RecordingStrategy.UseOnly)
		}
	}
	if rec.RecordingMode != nil && rec.RecordingMode.RecordingFrequency != "" {
		m["recording_frequency"] = string(rec.RecordingMode.RecordingFrequency)
	}
	// A recorder that has never been started may have no status entry:
	// then it is not recording.
	st, ok := status[name]
	m["recording"] = ok && st.Recording
	m["last_status"] = nil
	if ok && st.LastStatus != "" {
		// Upper-cased: the API says "Success", emulators and CIS "SUCCESS".
		m["last_status"] = strings.ToUpper(string(st.LastStatus))
	}
	m["last_error_code"] = nil
	if ok {
		m["last_error_code"] = strOrNil(st.LastErrorCode)
	}
	return m
}
