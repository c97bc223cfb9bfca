package aws

import (
	"context"
	"encoding/json"
	"strings"
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
		if strings.Contains(cidr, ":") {
			e.Ipv6CidrBlock = aws.String(cidr)
		} else {
			e.CidrBlock = aws.String(cidr)
		}
		return e
	}
	// Denies for the world on 22 shadow the allow-all after them; 3389
	// stays open.
	acl("deny-ssh-first",
		entry(100, types.RuleActionDeny, "6", "0.0.0.0/0", 22, 22),
		entry(101, types.RuleActionDeny, "17", "0.0.0.0/0", 22, 22),
		entry(200, types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0))
	// Both administration ports denied before the allow-all.
	acl("deny-admin-first",
		entry(100, types.RuleActionDeny, "6", "0.0.0.0/0", 22, 22),
		entry(101, types.RuleActionDeny, "17", "0.0.0.0/0", 22, 22),
		entry(102, types.RuleActionDeny, "-1", "::/0", 0, 0),
		entry(110, types.RuleActionDeny, "6", "0.0.0.0/0", 3389, 3389),
		entry(111, types.RuleActionDeny, "17", "0.0.0.0/0", 3389, 3389),
		entry(200, types.RuleActionAllow, "-1", "0.0.0.0/0", 0, 0),
		entry(201, types.RuleActionAllow, "-1", "::/0", 0, 0))
	// TCP 22 is denied, but UDP 22 reaches the allow-all.
	acl("udp-ssh-open",
		entry(100, types.RuleActionDeny, "6", "0.0.0.0/0", 22, 22),
		entry(110, types.RuleActionDeny, "6", "0.0.0.0/0", 3389, 3389),
		entry(111, types.RuleActionDeny, "17", "0.0.0.0/0", 3389, 3389),
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

// TestEC2 checks the properties the ec2 service collects from the seeded
// estate in us-east-1 and eu-west-1.
func TestEC2(t *testing.T) {
	moto.Reset(t)
	ids := seedEC2(t)
	col := collect(t, []string{"ec2"}, "us-east-1", "eu-west-1")
	if len(col.readErrors) != 2 {
		t.Errorf("read errors: %s", dump(t, col.readErrors))
	}

	t.Run("region", func(t *testing.T) {
		for region, want := range map[string]bool{"us-east-1": false, "eu-west-1": true} {
			r := col.region(t, region)
			if got, ok := r.Properties["ebs_encryption_by_default"]; !ok || got != want {
				t.Errorf("%s ebs_encryption_by_default = %v (present %v), want %v", region, got, ok, want)
			}
			// moto does not implement GetEbsDefaultKmsKeyId: a read error,
			// never a made-up default.
			if _, ok := r.Properties["ebs_default_kms_key_id"]; ok {
				t.Errorf("%s ebs_default_kms_key_id present: %v", region, r.Properties["ebs_default_kms_key_id"])
			}
			if e, ok := r.ReadErrorFor("ebs_default_kms_key_id"); !ok || e.Operation != "ec2:GetEbsDefaultKmsKeyId" {
				t.Errorf("%s: read error for ebs_default_kms_key_id = %+v, %v", region, e, ok)
			}
		}
	})

	t.Run("instances", func(t *testing.T) {
		got := col.ofType(TypeEC2Instance)
		if len(got) != 4 {
			t.Fatalf("got %d instances, want 4 (the terminated one is left out): %v", len(got), ec2Keys(got))
		}
		if _, ok := got[ids["i-terminated"]]; ok {
			t.Error("terminated instance emitted")
		}
		pub := got[ids["i-v1-public"]]
		if ip, _ := pub.Properties["public_ip"].(string); ip == "" {
			t.Errorf("v1-public public_ip = %v", pub.Properties["public_ip"])
		}
		wantProps(t, pub, map[string]any{
			"instance_id": ids["i-v1-public"], "state": "running", "instance_type": "t3.micro",
			"image_id": ids["ami-base"], "subnet_id": ids["subnet-public"], "vpc_id": ids["vpc-app"],
			"iam_instance_profile": nil, "imdsv2_required": false, "monitoring": "disabled",
			"security_group_ids": []any{ids["sg-ssh-world"]},
			"metadata_options":   map[string]any{"http_tokens": "optional", "http_endpoint": "enabled", "http_put_response_hop_limit": 1},
		})
		if pub.Tags["Name"] != "v1-public" || pub.UID != "arn:aws:ec2:us-east-1:123456789012:instance/"+ids["i-v1-public"] {
			t.Errorf("v1-public uid %s tags %v", pub.UID, pub.Tags)
		}
		wantProps(t, got[ids["i-v2-private"]], map[string]any{
			"public_ip": nil, "imdsv2_required": true, "state": "running",
			"metadata_options": map[string]any{"http_tokens": "required", "http_endpoint": "enabled", "http_put_response_hop_limit": 2},
		})
		wantProps(t, got[ids["i-v1-stopped"]], map[string]any{"state": "stopped", "imdsv2_required": false, "public_ip": nil})
		wantProps(t, got[ids["i-imds-off"]], map[string]any{
			"imdsv2_required":  false,
			"metadata_options": map[string]any{"http_tokens": "optional", "http_endpoint": "disabled", "http_put_response_hop_limit": 1},
		})
		if _, ok := pub.Properties["launch_time"].(string); !ok {
			t.Errorf("launch_time = %v", pub.Properties["launch_time"])
		}
	})

	t.Run("security groups", func(t *testing.T) {
		got := col.ofType(TypeEC2SecurityGroup)
		rule := func(proto string, from, to int, key, value string, desc any) map[string]any {
			m := map[string]any{"protocol": proto, "from_port": from, "to_port": to, "cidr": nil, "ipv6_cidr": nil,
				"source_group": nil, "prefix_list": nil, "description": desc}
			m[key] = value
			return m
		}
		allOut := []any{rule("all", 0, 65535, "cidr", "0.0.0.0/0", nil)}
		for name, want := range map[string][]any{
			"ssh-world":   {rule("tcp", 22, 22, "cidr", "0.0.0.0/0", "seeded")},
			"ssh-office":  {rule("tcp", 22, 22, "cidr", "203.0.113.0/24", "seeded")},
			"all-world":   {rule("all", 0, 65535, "cidr", "0.0.0.0/0", nil)},
			"rdp-v6":      {rule("tcp", 3389, 3389, "ipv6_cidr", "::/0", nil)},
			"web":         {rule("tcp", 443, 443, "cidr", "0.0.0.0/0", nil), rule("tcp", 443, 443, "ipv6_cidr", "::/0", nil)},
			"from-office": {rule("tcp", 0, 65535, "source_group", ids["sg-ssh-office"], nil)},
			"ping-world":  {rule("icmp", 8, -1, "cidr", "0.0.0.0/0", nil)},
		} {
			r, ok := got[ids["sg-"+name]]
			if !ok {
				t.Errorf("no security group %s", name)
				continue
			}
			wantProps(t, r, map[string]any{"group_name": name, "vpc_id": ids["vpc-app"], "is_default": false,
				"ingress": want, "egress": allOut})
		}
		wantProps(t, got[ids["sg-app-default"]], map[string]any{"group_name": "default", "is_default": true,
			"ingress": []any{}, "egress": []any{}})
		// moto's default groups (default VPCs of both regions and the bare
		// VPC) keep their default rules: all traffic out and, unlike AWS's
		// default groups, no inbound rule from the group itself.
		defaults := 0
		for _, r := range got {
			if r.Properties["is_default"] != true || r.Name == ids["sg-app-default"] {
				continue
			}
			defaults++
			wantProps(t, r, map[string]any{"egress": allOut, "ingress": []any{}})
		}
		if defaults != 3 {
			t.Errorf("%d untouched default security groups, want 3", defaults)
		}
		// Each instance's network interface counts towards its groups.
		wantProps(t, got[ids["sg-ssh-world"]], map[string]any{"attached_eni_count": 1})
		wantProps(t, got[ids["sg-mysql-world"]], map[string]any{"attached_eni_count": 0})
	})

	t.Run("network acls", func(t *testing.T) {
		got := col.ofType(TypeEC2NetworkACL)
		for name, want := range map[string]map[string]any{
			"deny-ssh-first":   {"22": false, "3389": true},
			"deny-admin-first": {"22": false, "3389": false},
			"udp-ssh-open":     {"22": true, "3389": false},
			"restricted":       {"22": false, "3389": false},
			"narrow-deny":      {"22": true, "3389": false},
			"rdp-v6":           {"22": false, "3389": true},
		} {
			wantProps(t, got[ids["acl-"+name]], map[string]any{"admin_port_ingress_from_world": want,
				"is_default": false, "vpc_id": ids["vpc-app"], "subnet_ids": []any{}})
		}
		// Entries come in rule order with names for protocols and actions.
		entries := got[ids["acl-narrow-deny"]].Properties["entries"].([]any)
		wantEntry := func(n int, action, cidr string, from, to int) map[string]any {
			return map[string]any{"rule_number": n, "egress": false, "protocol": "tcp", "rule_action": action,
				"cidr": cidr, "ipv6_cidr": nil, "from_port": from, "to_port": to}
		}
		if dump(t, entries[:2]) != dump(t, []any{wantEntry(100, "deny", "198.51.100.0/24", 22, 22), wantEntry(200, "allow", "0.0.0.0/0", 20, 30)}) {
			t.Errorf("narrow-deny entries = %s", dump(t, entries))
		}
		defaults := 0
		for _, r := range got {
			if r.Properties["is_default"] == true {
				defaults++
				wantProps(t, r, map[string]any{"admin_port_ingress_from_world": map[string]any{"22": true, "3389": true}})
			}
		}
		if defaults != 4 {
			t.Errorf("%d default network ACLs, want 4 (3 VPCs in us-east-1, 1 in eu-west-1)", defaults)
		}
	})

	t.Run("volumes", func(t *testing.T) {
		got := col.ofType(TypeEC2Volume)
		wantProps(t, got[ids["vol-encrypted-attached"]], map[string]any{"encrypted": true, "state": "in-use", "size": 8,
			"volume_type": "gp3", "attachments": []any{map[string]any{"instance_id": ids["i-v2-private"], "device": "/dev/sdf",
				"state": "attached", "delete_on_termination": false}}})
		wantProps(t, got[ids["vol-plain-attached"]], map[string]any{"encrypted": false, "kms_key_id": nil, "state": "in-use"})
		wantProps(t, got[ids["vol-plain-detached"]], map[string]any{"encrypted": false, "state": "available", "attachments": []any{}})
	})

	t.Run("snapshots", func(t *testing.T) {
		got := col.ofType(TypeEC2Snapshot)
		wantProps(t, got[ids["snap-public"]], map[string]any{"public": true, "encrypted": false,
			"volume_id": ids["vol-plain-attached"], "create_volume_permissions": []any{map[string]any{"group": "all"}}})
		wantProps(t, got[ids["snap-shared"]], map[string]any{"public": false, "encrypted": true,
			"create_volume_permissions": []any{map[string]any{"user_id": "111122223333"}}})
		wantProps(t, got[ids["snap-private"]], map[string]any{"public": false, "create_volume_permissions": []any{}})
		if r := got[ids["snap-public"]]; r.UID != "arn:aws:ec2:us-east-1::snapshot/"+ids["snap-public"] {
			t.Errorf("snapshot uid %s", r.UID)
		}
	})

	t.Run("images", func(t *testing.T) {
		got := col.ofType(TypeEC2Image)
		if len(got) != 3 {
			t.Errorf("got %d images, want the 3 owned ones: %v", len(got), ec2Keys(got))
		}
		wantProps(t, got[ids["ami-base"]], map[string]any{"image_name": "base", "public": false, "launch_permissions": []any{}})
		wantProps(t, got[ids["ami-public"]], map[string]any{"image_name": "shared", "public": true,
			"launch_permissions": []any{map[string]any{"group": "all"}}})
		wantProps(t, got[ids["ami-partner"]], map[string]any{"public": false,
			"launch_permissions": []any{map[string]any{"user_id": "111122223333"}}})
	})

	t.Run("vpcs and subnets", func(t *testing.T) {
		vpcs := col.ofType(TypeEC2VPC)
		wantProps(t, vpcs[ids["vpc-app"]], map[string]any{"is_default": false, "cidr": "10.0.0.0/16",
			"cidr_blocks": []any{"10.0.0.0/16"}, "flow_logs_enabled": true, "flow_logs": []any{map[string]any{
				"id": ids["flow-log"], "status": "ACTIVE", "traffic_type": "REJECT", "destination_type": "cloud-watch-logs",
				"destination": nil, "log_group_name": "vpc-flow", "deliver_logs_status": "FAILED"}}})
		wantProps(t, vpcs[ids["vpc-bare"]], map[string]any{"is_default": false, "flow_logs_enabled": false, "flow_logs": []any{}})
		byRegion := map[string]int{}
		for _, v := range vpcs {
			if v.Properties["is_default"] == true {
				byRegion[v.Region]++
				wantProps(t, v, map[string]any{"cidr": "172.31.0.0/16", "flow_logs_enabled": false})
			}
		}
		if byRegion["us-east-1"] != 1 || byRegion["eu-west-1"] != 1 {
			t.Errorf("default VPCs per region: %v", byRegion)
		}
		subnets := col.ofType(TypeEC2Subnet)
		wantProps(t, subnets[ids["subnet-private"]], map[string]any{"vpc_id": ids["vpc-app"], "cidr": "10.0.1.0/24",
			"availability_zone": "us-east-1a", "map_public_ip_on_launch": false, "default_for_az": false})
		wantProps(t, subnets[ids["subnet-public"]], map[string]any{"map_public_ip_on_launch": true, "default_for_az": false})
	})
}

// TestEC2ListingFails checks that one failed listing is reported for its
// type alone while the other listings go on.
func TestEC2ListingFails(t *testing.T) {
	moto.Reset(t)
	saved := ec2Listings
	t.Cleanup(func() { ec2Listings = saved })
	ec2Listings = append([]listing[*ec2.Client](nil), saved...)
	for i := range ec2Listings {
		if ec2Listings[i].typ == TypeEC2Snapshot {
			ec2Listings[i].list = func(ctx context.Context, t *task, client *ec2.Client) error {
				// A request moto rejects, as AWS rejects one without permission.
				_, err := client.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{SnapshotIds: []string{"snap-missing"}})
				return err
			}
		}
	}
	col := collect(t, []string{"ec2"})
	var failed []string
	for _, e := range col.readErrors {
		if e.Property == "" {
			failed = append(failed, e.Type)
			if e.UID != "arn:aws:vigil:us-east-1:123456789012:region" || e.Operation != "ec2:DescribeSnapshots" {
				t.Errorf("listing error %+v", e)
			}
		}
	}
	if len(failed) != 1 || failed[0] != TypeEC2Snapshot {
		t.Errorf("failed listings = %v, want only %s", failed, TypeEC2Snapshot)
	}
	for _, s := range col.listed {
		if s.Type == TypeEC2Snapshot {
			t.Errorf("snapshot listing reported complete: %+v", s)
		}
	}
	if len(col.ofType(TypeEC2VPC)) != 1 || len(col.ofType(TypeEC2SecurityGroup)) != 1 {
		t.Errorf("other listings did not go on: %d VPCs, %d groups", len(col.ofType(TypeEC2VPC)), len(col.ofType(TypeEC2SecurityGroup)))
	}
}

// TestNACLOrderedEvaluation covers the rule-order logic on entries that moto
// cannot hold (entries out of order, ICMP, IPv6).
func TestNACLOrderedEvaluation(t *testing.T) {
	t.Parallel()
	e := func(n int32, allow bool, proto, cidr string, from, to int32) types.NetworkAclEntry {
		x := types.NetworkAclEntry{RuleNumber: aws.Int32(n), Protocol: aws.String(proto), Egress: aws.Bool(false),
			RuleAction: types.RuleActionDeny, PortRange: &types.PortRange{From: aws.Int32(from), To: aws.Int32(to)}}
		if allow {
			x.RuleAction = types.RuleActionAllow
		}
		if strings.Contains(cidr, ":") {
			x.Ipv6CidrBlock = aws.String(cidr)
		} else {
			x.CidrBlock = aws.String(cidr)
		}
		return x
	}
	for _, tc := range []struct {
		name    string
		entries []types.NetworkAclEntry
		port    int
		want    bool
	}{
		{"allow all", []types.NetworkAclEntry{e(100, true, "-1", "0.0.0.0/0", 0, 0)}, 22, true},
		{"deny first", []types.NetworkAclEntry{e(100, false, "-1", "0.0.0.0/0", 0, 0), e(200, true, "-1", "0.0.0.0/0", 0, 0)}, 22, false},
		{"allow range", []types.NetworkAclEntry{e(100, true, "6", "0.0.0.0/0", 1, 1024)}, 22, true},
		{"range misses port", []types.NetworkAclEntry{e(100, true, "6", "0.0.0.0/0", 1, 1024)}, 3389, false},
		{"narrow allow", []types.NetworkAclEntry{e(100, true, "6", "10.0.0.0/8", 22, 22)}, 22, false},
		{"narrow deny does not shadow", []types.NetworkAclEntry{e(100, false, "6", "10.0.0.0/8", 22, 22), e(200, true, "6", "0.0.0.0/0", 22, 22)}, 22, true},
		{"icmp ignored", []types.NetworkAclEntry{e(100, true, "1", "0.0.0.0/0", 0, 0)}, 22, false},
		{"ipv6 world", []types.NetworkAclEntry{e(100, true, "17", "::/0", 3389, 3389)}, 3389, true},
		{"ipv4 deny leaves ipv6 open", []types.NetworkAclEntry{e(100, false, "-1", "0.0.0.0/0", 0, 0), e(200, true, "6", "::/0", 22, 22)}, 22, true},
		{"no entries", nil, 22, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := naclAllowsWorldIngress(tc.entries, tc.port); got != tc.want {
				t.Errorf("naclAllowsWorldIngress(port %d) = %v, want %v", tc.port, got, tc.want)
			}
		})
	}
}

// wantProps fails the test unless each listed property of r equals the
// wanted value (compared as JSON).
func wantProps(t *testing.T, r vigil.Resource, want map[string]any) {
	t.Helper()
	if r.UID == "" {
		t.Errorf("resource missing (want %v)", want)
		return
	}
	for k, w := range want {
		got, ok := r.Properties[k]
		if !ok {
			t.Errorf("%s %s: property %s absent (read errors %v)", r.Type, r.Name, k, r.ReadErrors)
			continue
		}
		if g, w := dump(t, got), dump(t, w); g != w {
			t.Errorf("%s %s: %s = %s, want %s", r.Type, r.Name, k, g, w)
		}
	}
}

func ec2Keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
