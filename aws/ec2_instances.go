package aws

import (
	"context"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil"
)

// listEC2Instances emits every instance of the region except terminated
// ones, which AWS keeps listing for about an hour after they are gone.
func listEC2Instances(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{
		Filters: ec2Only(t, TypeEC2Instance, "instance-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				if in.State != nil && in.State.Name == types.InstanceStateNameTerminated {
					continue
				}
				if err := emitOrStop(ctx, t, ec2Instance(t, in)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// transitionTime is the time in a StateTransitionReason such as
// "User initiated (2026-01-02 03:04:05 GMT)".
var transitionTime = regexp.MustCompile(`\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)`)

// stoppedSince returns when a stopped instance was stopped, from its state
// transition reason, or nil when it is not stopped or the reason has no time.
func stoppedSince(state any, reason string) any {
	if state != "stopped" {
		return nil
	}
	m := transitionTime.FindStringSubmatch(reason)
	if m == nil {
		return nil
	}
	at, err := time.Parse("2006-01-02 15:04:05", m[1])
	if err != nil {
		return nil
	}
	return at.UTC().Format(timeFormat)
}

// ec2Instance maps a described instance to a resource.
func ec2Instance(t *task, in types.Instance) vigil.Resource {
	id := aws.ToString(in.InstanceId)
	r := vigil.Resource{UID: t.arn("ec2", t.region, "instance/"+id), Type: TypeEC2Instance, Name: id,
		Tags: ec2Tags(in.Tags)}
	var state any
	if in.State != nil {
		state = string(in.State.Name)
	}
	var profile any
	if in.IamInstanceProfile != nil {
		profile = nonEmpty(in.IamInstanceProfile.Arn)
	}
	var az any
	if in.Placement != nil {
		az = nonEmpty(in.Placement.AvailabilityZone)
	}
	var monitoring any
	if in.Monitoring != nil {
		monitoring = string(in.Monitoring.State)
	}
	sgs := make([]any, 0, len(in.SecurityGroups))
	for _, g := range in.SecurityGroups {
		sgs = append(sgs, aws.ToString(g.GroupId))
	}
	r.Properties = map[string]any{
		"instance_id":          id,
		"state":                state,
		"instance_type":        string(in.InstanceType),
		"image_id":             nonEmpty(in.ImageId),
		"public_ip":            nonEmpty(in.PublicIpAddress),
		"private_ip":           nonEmpty(in.PrivateIpAddress),
		"subnet_id":            nonEmpty(in.SubnetId),
		"vpc_id":               nonEmpty(in.VpcId),
		"availability_zone":    az,
		"iam_instance_profile": profile,
		"key_name":             nonEmpty(in.KeyName),
		"security_group_ids":   sgs,
		"launch_time":          timeOrNil(in.LaunchTime),
		"monitoring":           monitoring,
		"architecture":         enumOrNil(in.Architecture),
		"platform_details":     nonEmpty(in.PlatformDetails),
		"stopped_since":        stoppedSince(state, aws.ToString(in.StateTransitionReason)),
	}
	// IMDSv2 is required when the instance refuses token-less (IMDSv1)
	// requests; an instance with the metadata endpoint disabled is
	// reported as it is, and checks decide whether that is acceptable.
	if m := in.MetadataOptions; m != nil {
		r.Properties["metadata_options"] = map[string]any{
			"http_tokens":                 string(m.HttpTokens),
			"http_endpoint":               string(m.HttpEndpoint),
			"http_put_response_hop_limit": int32OrNil(m.HttpPutResponseHopLimit),
		}
		r.Properties["imdsv2_required"] = m.HttpTokens == types.HttpTokensStateRequired
	} else {
		r.Properties["metadata_options"] = nil
		r.Properties["imdsv2_required"] = nil
	}
	return r
}
