package aws

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil"
)

// ec2Estate names what seedEC2 created: logical name → resource id.
type ec2Estate map[string]string

// seedEC2 builds a realistic mix of good and bad EC2/VPC resources in
// us-east-1 (EBS encryption by default off) and turns EBS encryption by
// default on in eu-west-1, where only moto's default VPC lives.
func seedEC2(t *testing.T) ec2Estate {
	t.Helper()
	defer seedFailed(t)
	ctx := context.Background()
	ids := ec2Estate{}
	eu := ec2.NewFromConfig(moto.Config(t, "eu-west-1"))
	seedOK(eu.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{}))
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))

	// VPCs: "app" with an active flow log, "bare" without; moto's default
	// VPC has none either.
	app := seedOK(c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")}))
	ids["vpc-app"] = aws.ToString(app.Vpc.VpcId)
	bare := seedOK(c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")}))
	ids["vpc-bare"] = aws.ToString(bare.Vpc.VpcId)
	fl := seedOK(c.CreateFlowLogs(ctx, &ec2.CreateFlowLogsInput{
		ResourceIds: []string{ids["vpc-app"]}, ResourceType: types.FlowLogsResourceTypeVpc,
		TrafficType: types.TrafficTypeReject, LogGroupName: aws.String("vpc-flow"),
		DeliverLogsPermissionArn: aws.String("arn:aws:iam::123456789012:role/flow-logs"),
	}))
	if len(fl.FlowLogIds) != 1 {
		t.Fatalf("create flow logs: %+v", fl.Unsuccessful)
	}
	ids["flow-log"] = fl.FlowLogIds[0]

	// Subnets: private (no public IPs on launch) and public.
	priv := seedOK(c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: app.Vpc.VpcId,
		CidrBlock: aws.String("10.0.1.0/24"), AvailabilityZone: aws.String("us-east-1a")}))
	ids["subnet-private"] = aws.ToString(priv.Subnet.SubnetId)
	pub := seedOK(c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: app.Vpc.VpcId,
		CidrBlock: aws.String("10.0.2.0/24"), AvailabilityZone: aws.String("us-east-1b")}))
	ids["subnet-public"] = aws.ToString(pub.Subnet.SubnetId)
	seedOK(c.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: pub.Subnet.SubnetId,
		MapPublicIpOnLaunch: &types.AttributeBooleanValue{Value: aws.Bool(true)}}))

	// Security groups.
	sg := func(name string, perms ...types.IpPermission) string {
		g := seedOK(c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name),
			Description: aws.String(name), VpcId: app.Vpc.VpcId}))
		if len(perms) > 0 {
			seedOK(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
				GroupId: g.GroupId, IpPermissions: perms}))
		}
		ids["sg-"+name] = aws.ToString(g.GroupId)
		return aws.ToString(g.GroupId)
	}
	tcp := func(from, to int32, cidr string) types.IpPermission {
		return types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
			IpRanges: []types.IpRange{{CidrIp: aws.String(cidr), Description: aws.String("seeded")}}}
	}
	sg("ssh-world", tcp(22, 22, "0.0.0.0/0"))
	office := sg("ssh-office", tcp(22, 22, "203.0.113.0/24"))
	sg("all-world", types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})
	sg("rdp-v6", types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3389), ToPort: aws.Int32(3389),
		Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}})
	sg("web", types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443),
		IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}, Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}})
	sg("mysql-world", tcp(3306, 3306, "0.0.0.0/0"))
	sg("from-office", types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(0), ToPort: aws.Int32(65535),
		UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(office)}}})
	sg("ping-world", types.IpPermission{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(8), ToPort: aws.Int32(-1),
		IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}})

	// The app VPC's default security group is emptied (CIS 5.4); the
	// default VPC's and the bare VPC's keep moto's default rules.
	def := seedOK(c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{ids["vpc-app"]}},
		{Name: aws.String("group-name"), Values: []string{"default"}}}}))
	if len(def.SecurityGroups) != 1 {
		t.Fatalf("default security groups of the app VPC: %d", len(def.SecurityGroups))
	}
	d := def.SecurityGroups[0]
	ids["sg-app-default"] = aws.ToString(d.GroupId)
	if len(d.IpPermissions) > 0 {
		seedOK(c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: d.GroupId, IpPermissions: d.IpPermissions}))
	}
	if len(d.IpPermissionsEgress) > 0 {
		seedOK(c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: d.GroupId, IpPermissions: d.IpPermissionsEgress}))
	}

	// Network ACLs.
	acl := func(name string, entries ...types.NetworkAclEntry) {
		a := seedOK(c.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: app.Vpc.VpcId}))
		for _, e := range entries {
			seedOK(c.CreateNetworkAclEntry(ctx, &ec2.CreateNetworkAclEntryInput{
				NetworkAclId: a.NetworkAcl.NetworkAclId, RuleNumber: e.RuleNumber, Protocol: e.Protocol,
				RuleAction: e.RuleAction, Egress: aws.Bool(false), CidrBlock: e.CidrBlock,
				Ipv6CidrBlock: e.Ipv6CidrBlock, PortRange: e.PortRange}))
		}
		ids["acl-"+name] = aws.ToString(a.NetworkAcl.NetworkAclId)
	}
	entry := func(n int32, action types.RuleAction, proto, cidr string, from, to int32) types.NetworkAclEntry {
		e := types.NetworkAclEntry{RuleNumber: aws.Int32(n), RuleAction: action, Protocol: aws.String(proto)}
		if proto == "6" || proto == "17" {
			e.PortRange = &types.PortRange{From: aws.Int32(from), To: aws.Int32(to)}
		}
		if len(cidr) > 0 && cidr[0] == ':' || len(cidr) > 2 && cidr[:2] == "::" {
			e.Ipv6CidrBlock = aws.String(cidr)
		} else {
			e.CidrBlock = aws.String(cidr)
		}
		return e
	}
	// A deny for the world on 22 shadows the allow-all after it; 3389 stays open.
	acl("deny-ssh-first",
		entry(100, types.RuleActionDeny, "6", "0.0.0.0/0", 22, 22),
		entry(200, types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0))
	// Only HTTPS from the world and SSH from the corporate range.
	acl("restricted",
		entry(100, types.RuleActionAllow, "6", "0.0.0.0/0", 443, 443),
		entry(110, types.RuleActionAllow, "6", "10.0.0.0/8", 22, 22))
	// A narrow deny does not close SSH for the rest of the internet.
	acl("narrow-deny",
		entry(100, types.RuleActionDeny, "6", "198.51.100.0/24", 22, 22),
		entry(200, types.RuleActionAllow, "6", "0.0.0.0/0", 20, 30))
	// RDP open to the IPv6 internet over UDP.
	acl("rdp-v6",
		entry(100, types.RuleActionAllow, "17", "::/0", 3389, 3389))

	// AMIs: a private base image and a public one.
	base := seedOK(c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("base"),
		RootDeviceName: aws.String("/dev/xvda"), Architecture: types.ArchitectureValuesX8664}))
	ids["ami-base"] = aws.ToString(base.ImageId)
	shared := seedOK(c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("shared"),
		RootDeviceName: aws.String("/dev/xvda")}))
	ids["ami-public"] = aws.ToString(shared.ImageId)
	seedOK(c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: shared.ImageId,
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{Group: types.PermissionGroupAll}}}}))
	acct := seedOK(c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("to-partner"),
		RootDeviceName: aws.String("/dev/xvda")}))
	ids["ami-partner"] = aws.ToString(acct.ImageId)
	seedOK(c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: acct.ImageId,
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{{UserId: aws.String("111122223333")}}}}))

	// Instances.
	run := func(name, subnet string, meta *types.InstanceMetadataOptionsRequest, groups ...string) string {
		in := seedOK(c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: base.ImageId, MinCount: aws.Int32(1),
			MaxCount: aws.Int32(1), InstanceType: types.InstanceTypeT3Micro, SubnetId: aws.String(subnet),
			SecurityGroupIds: groups, MetadataOptions: meta,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeInstance,
				Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}}))
		id := aws.ToString(in.Instances[0].InstanceId)
		ids["i-"+name] = id
		return id
	}
	v1 := run("v1-public", ids["subnet-public"], nil, ids["sg-ssh-world"])
	v2 := run("v2-private", ids["subnet-private"], &types.InstanceMetadataOptionsRequest{
		HttpTokens: types.HttpTokensStateRequired, HttpPutResponseHopLimit: aws.Int32(2)}, ids["sg-ssh-office"])
	stopped := run("v1-stopped", ids["subnet-private"], &types.InstanceMetadataOptionsRequest{HttpTokens: types.HttpTokensStateOptional})
	seedOK(c.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}))
	run("imds-off", ids["subnet-private"], &types.InstanceMetadataOptionsRequest{HttpEndpoint: types.InstanceMetadataEndpointStateDisabled})
	gone := run("terminated", ids["subnet-private"], nil)
	seedOK(c.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{gone}}))

	// Volumes: encrypted and unencrypted, attached and detached.
	vol := func(name string, encrypted bool, attachTo string) string {
		v := seedOK(c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"),
			Size: aws.Int32(8), Encrypted: aws.Bool(encrypted), VolumeType: types.VolumeTypeGp3,
			TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVolume,
				Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String(name)}}}}}))
		if attachTo != "" {
			seedOK(c.AttachVolume(ctx, &ec2.AttachVolumeInput{VolumeId: v.VolumeId, InstanceId: aws.String(attachTo),
				Device: aws.String("/dev/sdf")}))
		}
		ids["vol-"+name] = aws.ToString(v.VolumeId)
		return aws.ToString(v.VolumeId)
	}
	enc := vol("encrypted-attached", true, v2)
	plain := vol("plain-attached", false, v1)
	vol("plain-detached", false, "")

	// Snapshots: public, shared with one account, private.
	snap := func(name, volume string) *string {
		s := seedOK(c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(volume), Description: aws.String(name)}))
		ids["snap-"+name] = aws.ToString(s.SnapshotId)
		return s.SnapshotId
	}
	pubSnap := snap("public", plain)
	seedOK(c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: pubSnap,
		Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: types.OperationTypeAdd,
		GroupNames: []string{"all"}}))
	sharedSnap := snap("shared", enc)
	seedOK(c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: sharedSnap,
		Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: types.OperationTypeAdd,
		UserIds: []string{"111122223333"}}))
	snap("private", enc)
	return ids
}

// seedOK returns v, or aborts the seeding with err; seeding functions
// defer seedFailed(t) to turn that into a test failure.
func seedOK[T any](v T, err error) T {
	if err != nil {
		panic(seedError{err})
	}
	return v
}

type seedError struct{ err error }

// seedFailed fails the test when seedOK aborted the seeding.
func seedFailed(t *testing.T) {
	t.Helper()
	if r := recover(); r != nil {
		if e, ok := r.(seedError); ok {
			t.Fatalf("seed: %v", e.err)
		}
		panic(r)
	}
}

func dump(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var _ = vigil.StatusPass

func TestEC2Explore(t *testing.T) {
	moto.Reset(t)
	ids := seedEC2(t)
	col := collect(t, []string{"ec2"}, "us-east-1", "eu-west-1")
	for _, typ := range []string{TypeEC2Instance, TypeEC2SecurityGroup, TypeEC2NetworkACL, TypeEC2Volume, TypeEC2Snapshot, TypeEC2Image, TypeEC2VPC, TypeEC2Subnet} {
		for n, r := range col.ofType(typ) {
			t.Logf("%s %s %s %s tags=%v\n%s", typ, n, r.Region, r.UID, r.Tags, dump(t, r.Properties))
		}
	}
	t.Logf("region us: %s", dump(t, col.region(t, "us-east-1")))
	t.Logf("region eu: %s", dump(t, col.region(t, "eu-west-1")))
	t.Logf("errors: %s", dump(t, col.readErrors))
	t.Logf("ids: %v", ids)
}
