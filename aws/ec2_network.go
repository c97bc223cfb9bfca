package aws

import (
	"context"
	"net/netip"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil"
)

// listEC2SecurityGroups emits the region's security groups with their
// rules normalised one per source, and how many network interfaces use
// each group.
func listEC2SecurityGroups(ctx context.Context, t *task, client *ec2.Client) error {
	// One pass over the region's network interfaces gives every group's
	// use count; the map holds only counts, never the interfaces.
	enis, eniErr := eniCounts(ctx, client, ec2Only(t, TypeEC2SecurityGroup, "group-id"))
	if eniErr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	p := ec2.NewDescribeSecurityGroupsPaginator(client, &ec2.DescribeSecurityGroupsInput{
		Filters: ec2Only(t, TypeEC2SecurityGroup, "group-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, g := range page.SecurityGroups {
			id := aws.ToString(g.GroupId)
			r := vigil.Resource{UID: aws.ToString(g.SecurityGroupArn), Type: TypeEC2SecurityGroup, Name: id,
				Tags: ec2Tags(g.Tags)}
			if r.UID == "" {
				r.UID = t.arn("ec2", t.region, "security-group/"+id)
			}
			r.Properties = map[string]any{
				"group_id":           id,
				"group_name":         aws.ToString(g.GroupName),
				"description":        aws.ToString(g.Description),
				"vpc_id":             nonEmpty(g.VpcId),
				"owner_id":           aws.ToString(g.OwnerId),
				"is_default":         aws.ToString(g.GroupName) == "default",
				"ingress":            sgRules(t, g.IpPermissions),
				"egress":             sgRules(t, g.IpPermissionsEgress),
				"attached_eni_count": enis[id],
			}
			if eniErr != nil {
				t.propErr(&r, "attached_eni_count", eniErr)
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// eniCounts counts the network interfaces of the region per security group;
// a Get narrows them to the interfaces using its groups (filters), which
// leaves the counts of those groups exact.
func eniCounts(ctx context.Context, client *ec2.Client, filters []types.Filter) (map[string]int, error) {
	counts := map[string]int{}
	p := ec2.NewDescribeNetworkInterfacesPaginator(client, &ec2.DescribeNetworkInterfacesInput{Filters: filters})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, ni := range page.NetworkInterfaces {
			for _, g := range ni.Groups {
				counts[aws.ToString(g.GroupId)]++
			}
		}
	}
	return counts, nil
}

// sgRules flattens IP permissions into one rule per source, each with
// every source key present and all but one null:
// {protocol, from_port, to_port, cidr, ipv6_cidr, source_group,
// prefix_list, description}.
func sgRules(t *task, perms []types.IpPermission) []any {
	out := []any{}
	for _, p := range perms {
		proto := protocolName(aws.ToString(p.IpProtocol))
		from, to := portRange(proto, p.FromPort, p.ToPort)
		rule := func(key, value string, desc *string) {
			m := map[string]any{
				"protocol": proto, "from_port": from, "to_port": to,
				"cidr": nil, "ipv6_cidr": nil, "source_group": nil, "prefix_list": nil,
				"description": nonEmpty(desc),
			}
			m[key] = value
			out = append(out, m)
		}
		for _, x := range p.IpRanges {
			rule("cidr", aws.ToString(x.CidrIp), x.Description)
		}
		for _, x := range p.Ipv6Ranges {
			rule("ipv6_cidr", aws.ToString(x.CidrIpv6), x.Description)
		}
		for _, x := range p.UserIdGroupPairs {
			// A group of another account is written as the console
			// shows it: "account/sg-id".
			src := aws.ToString(x.GroupId)
			if src == "" {
				src = aws.ToString(x.GroupName)
			}
			if u := aws.ToString(x.UserId); u != "" && u != t.acct.ID {
				src = u + "/" + src
			}
			rule("source_group", src, x.Description)
		}
		for _, x := range p.PrefixListIds {
			rule("prefix_list", aws.ToString(x.PrefixListId), x.Description)
		}
	}
	return out
}

// listEC2NetworkACLs emits the region's network ACLs with their entries in
// rule order and the verdict of ordered evaluation for the remote
// administration ports.
func listEC2NetworkACLs(ctx context.Context, t *task, client *ec2.Client) error {
	if t.only == nil {
		return listEC2NetworkACLsIn(ctx, t, client, nil)
	}
	// A Get names its ACLs with NetworkAclIds: moto (5.x) rejects the
	// network-acl-id filter that AWS supports. One id that no longer
	// exists fails the whole call, so the ids are then asked one by one.
	var ids []string
	for _, uid := range t.wantedUIDs(TypeEC2NetworkACL) {
		ids = append(ids, arnTail(uid, "/"))
	}
	err := listEC2NetworkACLsIn(ctx, t, client, ids)
	if classify(err) != vigil.ENOTFOUND {
		return err
	}
	for _, id := range ids {
		if err := listEC2NetworkACLsIn(ctx, t, client, []string{id}); err != nil && classify(err) != vigil.ENOTFOUND {
			return err
		}
	}
	return nil
}

// listEC2NetworkACLsIn emits the network ACLs with the ids given (nil: all
// of the region's).
func listEC2NetworkACLsIn(ctx context.Context, t *task, client *ec2.Client, ids []string) error {
	p := ec2.NewDescribeNetworkAclsPaginator(client, &ec2.DescribeNetworkAclsInput{NetworkAclIds: ids})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, acl := range page.NetworkAcls {
			id := aws.ToString(acl.NetworkAclId)
			r := vigil.Resource{UID: t.arn("ec2", t.region, "network-acl/"+id), Type: TypeEC2NetworkACL, Name: id,
				Tags: ec2Tags(acl.Tags)}
			entries := append([]types.NetworkAclEntry(nil), acl.Entries...)
			sort.SliceStable(entries, func(i, j int) bool {
				return aws.ToInt32(entries[i].RuleNumber) < aws.ToInt32(entries[j].RuleNumber)
			})
			list := make([]any, 0, len(entries))
			for _, e := range entries {
				list = append(list, naclEntry(e))
			}
			subnets := make([]any, 0, len(acl.Associations))
			for _, a := range acl.Associations {
				if s := aws.ToString(a.SubnetId); s != "" {
					subnets = append(subnets, s)
				}
			}
			admin := map[string]any{}
			for _, port := range []int{22, 3389} {
				admin[strconv.Itoa(port)] = naclAllowsWorldIngress(entries, port)
			}
			r.Properties = map[string]any{
				"network_acl_id":                id,
				"vpc_id":                        nonEmpty(acl.VpcId),
				"is_default":                    aws.ToBool(acl.IsDefault),
				"entries":                       list,
				"subnet_ids":                    subnets,
				"admin_port_ingress_from_world": admin,
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// naclEntry normalises one network ACL entry like a security group rule.
func naclEntry(e types.NetworkAclEntry) map[string]any {
	proto := protocolName(aws.ToString(e.Protocol))
	var from, to *int32
	switch {
	case proto == "icmp" || proto == "icmpv6":
		if e.IcmpTypeCode != nil {
			from, to = e.IcmpTypeCode.Type, e.IcmpTypeCode.Code
		}
	case e.PortRange != nil:
		from, to = e.PortRange.From, e.PortRange.To
	}
	f, t := portRange(proto, from, to)
	return map[string]any{
		"rule_number": int(aws.ToInt32(e.RuleNumber)),
		"egress":      aws.ToBool(e.Egress),
		"protocol":    proto,
		"rule_action": string(e.RuleAction),
		"cidr":        nonEmpty(e.CidrBlock),
		"ipv6_cidr":   nonEmpty(e.Ipv6CidrBlock),
		"from_port":   f,
		"to_port":     t,
	}
}

// naclAllowsWorldIngress evaluates the ingress entries in rule-number order,
// as AWS does (the first matching entry decides), for TCP and UDP traffic to
// port from anywhere on the IPv4 or the IPv6 internet. Only entries whose
// CIDR is the whole address space (0.0.0.0/0, ::/0) match every source, so
// a narrower entry neither opens nor shadows the port for the world: rule
// 100 denying 10.0.0.0/8 does not stop rule 200 allowing 0.0.0.0/0, while
// rule 100 denying 0.0.0.0/0 does. entries must be sorted by rule number.
func naclAllowsWorldIngress(entries []types.NetworkAclEntry, port int) bool {
	for _, v6 := range []bool{false, true} {
		for _, proto := range []string{"tcp", "udp"} {
			for _, e := range entries {
				if aws.ToBool(e.Egress) {
					continue
				}
				cidr := e.CidrBlock
				if v6 {
					cidr = e.Ipv6CidrBlock
				}
				if !isWholeSpace(aws.ToString(cidr)) {
					continue
				}
				p := naclEntry(e)
				if ep := p["protocol"].(string); ep != "all" && ep != proto {
					continue
				}
				if port < p["from_port"].(int) || port > p["to_port"].(int) {
					continue
				}
				if e.RuleAction == types.RuleActionAllow {
					return true
				}
				break
			}
		}
	}
	return false
}

// isWholeSpace reports whether cidr is 0.0.0.0/0 or ::/0.
func isWholeSpace(cidr string) bool {
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Bits() == 0
}

// listEC2VPCs emits the region's VPCs with their flow logs.
func listEC2VPCs(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeVpcsPaginator(client, &ec2.DescribeVpcsInput{Filters: ec2Only(t, TypeEC2VPC, "vpc-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Vpcs {
			id := aws.ToString(v.VpcId)
			r := vigil.Resource{UID: t.arn("ec2", t.region, "vpc/"+id), Type: TypeEC2VPC, Name: id,
				Tags: ec2Tags(v.Tags)}
			cidrs := []any{}
			for _, a := range v.CidrBlockAssociationSet {
				if a.CidrBlockState == nil || a.CidrBlockState.State == types.VpcCidrBlockStateCodeAssociated {
					cidrs = append(cidrs, aws.ToString(a.CidrBlock))
				}
			}
			v6 := []any{}
			for _, a := range v.Ipv6CidrBlockAssociationSet {
				if a.Ipv6CidrBlockState == nil || a.Ipv6CidrBlockState.State == types.VpcCidrBlockStateCodeAssociated {
					v6 = append(v6, aws.ToString(a.Ipv6CidrBlock))
				}
			}
			r.Properties = map[string]any{
				"vpc_id":           id,
				"is_default":       aws.ToBool(v.IsDefault),
				"cidr":             nonEmpty(v.CidrBlock),
				"cidr_blocks":      cidrs,
				"ipv6_cidr_blocks": v6,
				"state":            string(v.State),
				"instance_tenancy": string(v.InstanceTenancy),
				"owner_id":         aws.ToString(v.OwnerId),
			}
			logs, enabled, err := vpcFlowLogs(ctx, client, id)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				t.propErr(&r, "flow_logs", err)
				t.propErr(&r, "flow_logs_enabled", err)
			} else {
				r.Properties["flow_logs"] = logs
				r.Properties["flow_logs_enabled"] = enabled
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// vpcFlowLogs returns the flow logs of one VPC and whether any is ACTIVE.
func vpcFlowLogs(ctx context.Context, client *ec2.Client, vpcID string) ([]any, bool, error) {
	out := []any{}
	enabled := false
	p := ec2.NewDescribeFlowLogsPaginator(client, &ec2.DescribeFlowLogsInput{
		Filter: []types.Filter{{Name: aws.String("resource-id"), Values: []string{vpcID}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, f := range page.FlowLogs {
			status := aws.ToString(f.FlowLogStatus)
			if status == "ACTIVE" {
				enabled = true
			}
			out = append(out, map[string]any{
				"id":                  aws.ToString(f.FlowLogId),
				"status":              status,
				"traffic_type":        string(f.TrafficType),
				"destination_type":    string(f.LogDestinationType),
				"destination":         nonEmpty(f.LogDestination),
				"log_group_name":      nonEmpty(f.LogGroupName),
				"deliver_logs_status": nonEmpty(f.DeliverLogsStatus),
			})
		}
	}
	return out, enabled, nil
}

// listEC2Subnets emits the region's subnets.
func listEC2Subnets(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeSubnetsPaginator(client, &ec2.DescribeSubnetsInput{Filters: ec2Only(t, TypeEC2Subnet, "subnet-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.Subnets {
			id := aws.ToString(s.SubnetId)
			r := vigil.Resource{UID: aws.ToString(s.SubnetArn), Type: TypeEC2Subnet, Name: id, Tags: ec2Tags(s.Tags)}
			if r.UID == "" {
				r.UID = t.arn("ec2", t.region, "subnet/"+id)
			}
			v6 := []any{}
			for _, a := range s.Ipv6CidrBlockAssociationSet {
				if a.Ipv6CidrBlockState == nil || a.Ipv6CidrBlockState.State == types.SubnetCidrBlockStateCodeAssociated {
					v6 = append(v6, aws.ToString(a.Ipv6CidrBlock))
				}
			}
			r.Properties = map[string]any{
				"subnet_id":                       id,
				"vpc_id":                          nonEmpty(s.VpcId),
				"availability_zone":               nonEmpty(s.AvailabilityZone),
				"availability_zone_id":            nonEmpty(s.AvailabilityZoneId),
				"cidr":                            nonEmpty(s.CidrBlock),
				"ipv6_cidr_blocks":                v6,
				"state":                           string(s.State),
				"default_for_az":                  aws.ToBool(s.DefaultForAz),
				"map_public_ip_on_launch":         aws.ToBool(s.MapPublicIpOnLaunch),
				"assign_ipv6_address_on_creation": aws.ToBool(s.AssignIpv6AddressOnCreation),
				"available_ip_address_count":      int(aws.ToInt32(s.AvailableIpAddressCount)),
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}
