package aws

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &ec2RevokeWorldAdminIngress{fixAction{f: f, id: "aws.ec2.revoke-world-admin-ingress", typ: TypeEC2SecurityGroup,
				title: "revoke the inbound rules that open SSH (22) or RDP (3389) to 0.0.0.0/0 or ::/0, keeping the group's other rules",
				perms: []string{"ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupIngress"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2RequireIMDSv2{fixAction{f: f, id: "aws.ec2.require-imdsv2", typ: TypeEC2Instance,
				title: "require IMDSv2 session tokens (HttpTokens=required) for the instance's metadata service",
				perms: []string{"ec2:DescribeInstances", "ec2:ModifyInstanceMetadataOptions"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2EnableEBSDefaultEncryption{fixAction{f: f, id: "aws.ec2.enable-ebs-default-encryption", typ: TypeRegion,
				title:    "turn on EBS encryption by default in the region (new volumes; existing ones stay as they are)",
				perms:    []string{"ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault", "ec2:DisableEbsEncryptionByDefault"},
				services: []string{"ec2"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2MakeSnapshotPrivate{fixAction{f: f, id: "aws.ec2.make-snapshot-private", typ: TypeEC2Snapshot,
				title: "remove the public createVolumePermission (group all) from the snapshot, keeping the accounts it is shared with",
				perms: []string{"ec2:DescribeSnapshotAttribute", "ec2:ModifySnapshotAttribute"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2MakeImagePrivate{fixAction{f: f, id: "aws.ec2.make-image-private", typ: TypeEC2Image,
				title: "remove the public launch permission (group all) from the AMI, keeping the accounts and organizations it is shared with",
				perms: []string{"ec2:DescribeImageAttribute", "ec2:ModifyImageAttribute"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2RestrictDefaultSecurityGroup{fixAction{f: f, id: "aws.ec2.restrict-default-security-group", typ: TypeEC2SecurityGroup,
				title: "revoke every inbound and outbound rule of a VPC's default security group",
				perms: []string{"ec2:DescribeSecurityGroupRules", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
					"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"}}}
		},
		func(f *Fixer) fix.Action {
			return &ec2DisableSubnetAutoPublicIP{fixAction{f: f, id: "aws.ec2.disable-subnet-auto-public-ip", typ: TypeEC2Subnet,
				title: "stop the subnet giving new network interfaces a public IPv4 address (and an IPv6 address, when it assigns one)",
				perms: []string{"ec2:DescribeSubnets", "ec2:ModifySubnetAttribute"}}}
		},
	)
}

// ec2Client returns an EC2 client for a region with the remediation
// credentials.
func (f *Fixer) ec2Client(ctx context.Context, account, region string) (*ec2.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return ec2.NewFromConfig(cfg), nil
}

// ec2Client is the action's client for its resource's account and region.
func (a *fixAction) ec2Client(ctx context.Context, t fix.Target) (*ec2.Client, error) {
	return a.f.ec2Client(ctx, t.Resource.Account, t.Resource.Region)
}

// ---- security group rules, shared by the two security group actions ----

// ec2GroupRules reads a security group's rules, one per source, as
// DescribeSecurityGroupRules gives them (each with its own id, so that a
// revoke touches exactly the rules the plan showed).
func ec2GroupRules(ctx context.Context, c *ec2.Client, groupID string) ([]types.SecurityGroupRule, error) {
	var out []types.SecurityGroupRule
	p := ec2.NewDescribeSecurityGroupRulesPaginator(c, &ec2.DescribeSecurityGroupRulesInput{
		Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{groupID}}}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ec2:DescribeSecurityGroupRules %s: %w", groupID, errorf(err))
		}
		for _, r := range page.SecurityGroupRules {
			// The filter is the group's; the check keeps a stray rule of
			// another group (an emulator ignoring filters) out of the fix.
			if aws.ToString(r.GroupId) == groupID {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// ec2RuleMap records a rule as it must be re-authorized by Undo: the raw
// protocol and ports, the one source, the description.
func ec2RuleMap(r types.SecurityGroupRule) map[string]any {
	m := map[string]any{
		"rule_id":     aws.ToString(r.SecurityGroupRuleId),
		"egress":      aws.ToBool(r.IsEgress),
		"ip_protocol": aws.ToString(r.IpProtocol),
		"from_port":   int(aws.ToInt32(r.FromPort)),
		"to_port":     int(aws.ToInt32(r.ToPort)),
	}
	switch {
	case r.CidrIpv4 != nil:
		m["cidr"] = *r.CidrIpv4
	case r.CidrIpv6 != nil:
		m["ipv6_cidr"] = *r.CidrIpv6
	case r.ReferencedGroupInfo != nil:
		m["source_group"] = aws.ToString(r.ReferencedGroupInfo.GroupId)
		if u := aws.ToString(r.ReferencedGroupInfo.UserId); u != "" {
			m["source_account"] = u
		}
		if pcx := aws.ToString(r.ReferencedGroupInfo.VpcPeeringConnectionId); pcx != "" {
			m["vpc_peering_connection_id"] = pcx
		}
	case r.PrefixListId != nil:
		m["prefix_list"] = *r.PrefixListId
	}
	if d := aws.ToString(r.Description); d != "" {
		m["description"] = d
	}
	return m
}

// ec2Str reads a string of a recorded map.
func ec2Str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// ec2Int reads a number of a recorded map: an int as recorded, a float64
// once the record went through JSON.
func ec2Int(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int32:
		return int(n)
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return 0
}

// ec2RuleKey identifies a rule by what it allows, not by its id (which a
// re-authorized rule does not keep).
func ec2RuleKey(m map[string]any) string {
	egress, _ := m["egress"].(bool)
	proto := protocolName(ec2Str(m, "ip_protocol"))
	from, to := ec2Int(m["from_port"]), ec2Int(m["to_port"])
	if proto == "all" {
		from, to = 0, 0
	}
	return fmt.Sprintf("%t|%s|%d|%d|%s|%s|%s/%s|%s", egress, proto, from, to, ec2Str(m, "cidr"), ec2Str(m, "ipv6_cidr"),
		ec2Str(m, "source_account"), ec2Str(m, "source_group"), ec2Str(m, "prefix_list"))
}

// ec2Describe renders a recorded rule for people: "inbound tcp 22 from
// 0.0.0.0/0 (sgr-1)".
func ec2Describe(m map[string]any) string {
	dir, prep := "inbound", "from"
	if e, _ := m["egress"].(bool); e {
		dir, prep = "outbound", "to"
	}
	proto := protocolName(ec2Str(m, "ip_protocol"))
	what := "all traffic"
	if proto != "all" {
		from, to := portRange(proto, int32Ptr(m["from_port"]), int32Ptr(m["to_port"]))
		switch {
		case proto == "icmp" || proto == "icmpv6":
			what = fmt.Sprintf("%s type %d code %d", proto, from, to)
		case from == to:
			what = fmt.Sprintf("%s %d", proto, from)
		default:
			what = fmt.Sprintf("%s %d-%d", proto, from, to)
		}
	}
	src := ec2Str(m, "cidr") + ec2Str(m, "ipv6_cidr") + ec2Str(m, "prefix_list")
	if g := ec2Str(m, "source_group"); g != "" {
		src = "security group " + g
		if acct := ec2Str(m, "source_account"); acct != "" {
			src = "security group " + acct + "/" + g
		}
	}
	s := fmt.Sprintf("%s %s %s %s (%s)", dir, what, prep, src, ec2Str(m, "rule_id"))
	if d := ec2Str(m, "description"); d != "" {
		s += fmt.Sprintf(" %q", d)
	}
	return s
}

func int32Ptr(v any) *int32 {
	if v == nil {
		return nil
	}
	n := int32(ec2Int(v))
	return &n
}

// ec2Permission turns a recorded rule back into the permission that
// authorizes it.
func ec2Permission(m map[string]any) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(ec2Str(m, "ip_protocol"))}
	if protocolName(ec2Str(m, "ip_protocol")) != "all" {
		p.FromPort, p.ToPort = int32Ptr(m["from_port"]), int32Ptr(m["to_port"])
	}
	var desc *string
	if d := ec2Str(m, "description"); d != "" {
		desc = aws.String(d)
	}
	switch {
	case ec2Str(m, "cidr") != "":
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(ec2Str(m, "cidr")), Description: desc}}
	case ec2Str(m, "ipv6_cidr") != "":
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(ec2Str(m, "ipv6_cidr")), Description: desc}}
	case ec2Str(m, "source_group") != "":
		pair := types.UserIdGroupPair{GroupId: aws.String(ec2Str(m, "source_group")), Description: desc}
		if u := ec2Str(m, "source_account"); u != "" {
			pair.UserId = aws.String(u)
		}
		if pcx := ec2Str(m, "vpc_peering_connection_id"); pcx != "" {
			pair.VpcPeeringConnectionId = aws.String(pcx)
		}
		p.UserIdGroupPairs = []types.UserIdGroupPair{pair}
	case ec2Str(m, "prefix_list") != "":
		p.PrefixListIds = []types.PrefixListId{{PrefixListId: aws.String(ec2Str(m, "prefix_list")), Description: desc}}
	}
	return p
}

// ec2RecordedRules reads a list of recorded rules back from a before-state.
func ec2RecordedRules(v any) ([]map[string]any, error) {
	var out []map[string]any
	switch list := v.(type) {
	case nil:
	case []map[string]any:
		out = list
	case []any:
		for _, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("recorded rule is %T, not an object", e)
			}
			out = append(out, m)
		}
	default:
		return nil, fmt.Errorf("recorded rules are %T, not a list", v)
	}
	return out, nil
}

// ec2RuleIDs returns the ids of recorded rules.
func ec2RuleIDs(rules []map[string]any) []string {
	ids := make([]string, 0, len(rules))
	for _, r := range rules {
		ids = append(ids, ec2Str(r, "rule_id"))
	}
	return ids
}

// ec2Revoke revokes rules of a group by id, in one call per direction.
func ec2Revoke(ctx context.Context, c *ec2.Client, groupID string, egress bool, ids []string, rec *fix.Recorder) error {
	if len(ids) == 0 {
		return nil
	}
	in := map[string]any{"GroupId": groupID, "SecurityGroupRuleIds": ids}
	if egress {
		return rec.Do("ec2:RevokeSecurityGroupEgress", in, func() error {
			_, err := c.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: aws.String(groupID), SecurityGroupRuleIds: ids})
			return errorOf(err)
		})
	}
	return rec.Do("ec2:RevokeSecurityGroupIngress", in, func() error {
		_, err := c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(groupID), SecurityGroupRuleIds: ids})
		return errorOf(err)
	})
}

// ec2Reauthorize restores recorded rules of a group that are missing now:
// after a fix that failed half-way, the rules it did not revoke are still
// there and authorizing them again would fail as duplicates.
func ec2Reauthorize(ctx context.Context, c *ec2.Client, groupID string, rules []map[string]any, rec *fix.Recorder) error {
	current, err := ec2GroupRules(ctx, c, groupID)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, r := range current {
		present[ec2RuleKey(ec2RuleMap(r))] = true
	}
	for _, egress := range []bool{false, true} {
		var perms []types.IpPermission
		var inputs []any
		for _, r := range rules {
			if e, _ := r["egress"].(bool); e != egress || present[ec2RuleKey(r)] {
				continue
			}
			perms = append(perms, ec2Permission(r))
			in := map[string]any{}
			for k, v := range r {
				if k != "rule_id" && k != "egress" {
					in[k] = v
				}
			}
			inputs = append(inputs, in)
		}
		if len(perms) == 0 {
			continue
		}
		in := map[string]any{"GroupId": groupID, "IpPermissions": inputs}
		if egress {
			err = rec.Do("ec2:AuthorizeSecurityGroupEgress", in, func() error {
				_, err := c.AuthorizeSecurityGroupEgress(ctx, &ec2.AuthorizeSecurityGroupEgressInput{GroupId: aws.String(groupID), IpPermissions: perms})
				return errorOf(err)
			})
		} else {
			err = rec.Do("ec2:AuthorizeSecurityGroupIngress", in, func() error {
				_, err := c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(groupID), IpPermissions: perms})
				return errorOf(err)
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ec2RuleState is what Plan hands Apply for the security group actions:
// the ids of the rules to revoke, as the plan showed them.
type ec2RuleState struct{ ingress, egress []string }

func ec2PlanState(p *fix.Plan) (ec2RuleState, error) {
	s, ok := p.State.(ec2RuleState)
	if !ok {
		return ec2RuleState{}, vigil.Errorf(vigil.EINVALID, "the plan carries no rules to revoke: plan the fix again")
	}
	return s, nil
}

// ---- aws.ec2.revoke-world-admin-ingress ----

// ec2AdminPorts are the remote administration ports the world-admin
// checks guard.
var ec2AdminPorts = []int{22, 3389}

// ec2RevokeWorldAdminIngress revokes the inbound rules open to the whole
// internet that reach SSH or RDP over TCP, UDP or all protocols, and
// nothing else: a narrower source, another port, or the other address
// family's rules stay. For the IPv4 check it revokes 0.0.0.0/0 rules only,
// for the IPv6 check ::/0 rules only, for any other check both. Undo
// re-authorizes exactly the revoked rules, descriptions included.
type ec2RevokeWorldAdminIngress struct{ fixAction }

// families returns whether the fix of check revokes IPv4 and IPv6 rules.
func (a *ec2RevokeWorldAdminIngress) families(checkID string) (v4, v6 bool) {
	switch checkID {
	case "aws-ec2-sg-no-world-ipv4-admin-ports":
		return true, false
	case "aws-ec2-sg-no-world-ipv6-admin-ports":
		return false, true
	}
	return true, true
}

func (a *ec2RevokeWorldAdminIngress) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	rules, err := ec2GroupRules(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	v4, v6 := a.families(t.CheckID)
	var revoke []map[string]any
	var steps []string
	for _, rule := range rules {
		if aws.ToBool(rule.IsEgress) {
			continue
		}
		world := (v4 && isWholeSpace(aws.ToString(rule.CidrIpv4))) || (v6 && isWholeSpace(aws.ToString(rule.CidrIpv6)))
		proto := protocolName(aws.ToString(rule.IpProtocol))
		if !world || (proto != "tcp" && proto != "udp" && proto != "all") {
			continue
		}
		from, to := portRange(proto, rule.FromPort, rule.ToPort)
		var covers []string
		for _, p := range ec2AdminPorts {
			if from <= p && p <= to {
				covers = append(covers, fmt.Sprint(p))
			}
		}
		if len(covers) == 0 {
			continue
		}
		m := ec2RuleMap(rule)
		revoke = append(revoke, m)
		step := "revoke " + ec2Describe(m) + " of security group " + r.Name
		if from != to {
			// The rule cannot be narrowed in place: revoking it closes
			// every port it opened to the internet, not only 22 and 3389.
			step += fmt.Sprintf(": it opens ports %d-%d, so everything else it let in from the internet is closed too", from, to)
		}
		steps = append(steps, step)
	}
	before := map[string]any{"revoked_ingress": revoke}
	if len(revoke) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"security group " + r.Name + " has no inbound rule from the internet to port 22 or 3389"},
			Before: before}, nil
	}
	ids := ec2RuleIDs(revoke)
	return &fix.Plan{
		Steps:  steps,
		Calls:  fixCalls{{"ec2:RevokeSecurityGroupIngress", map[string]any{"GroupId": r.Name, "SecurityGroupRuleIds": ids}}}.calls(),
		Before: before,
		State:  ec2RuleState{ingress: ids},
	}, nil
}

func (a *ec2RevokeWorldAdminIngress) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	s, err := ec2PlanState(p)
	if err != nil {
		return err
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	return ec2Revoke(ctx, c, t.Resource.Name, false, s.ingress, rec)
}

func (a *ec2RevokeWorldAdminIngress) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	rules, err := ec2RecordedRules(before["revoked_ingress"])
	if err != nil {
		return err
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	return ec2Reauthorize(ctx, c, t.Resource.Name, rules, rec)
}

// ---- aws.ec2.restrict-default-security-group ----

// ec2RestrictDefaultSecurityGroup empties a default security group (CIS
// 5.4): it revokes every inbound rule, then every outbound rule. It refuses
// any other group, whose rules someone chose. Undo re-authorizes the rules
// recorded before, those of them that are missing.
type ec2RestrictDefaultSecurityGroup struct{ fixAction }

func (a *ec2RestrictDefaultSecurityGroup) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	// Group names never change, so the collected flag is as good as a
	// fresh read.
	if r.Properties["is_default"] != true {
		return nil, vigil.Errorf(vigil.EINVALID, "security group %s (%v) is not a default security group: %s empties default groups only",
			r.Name, r.Properties["group_name"], a.id)
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	rules, err := ec2GroupRules(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	in, out := []map[string]any{}, []map[string]any{}
	var steps []string
	for _, rule := range rules {
		m := ec2RuleMap(rule)
		if aws.ToBool(rule.IsEgress) {
			out = append(out, m)
		} else {
			in = append(in, m)
		}
		steps = append(steps, "revoke "+ec2Describe(m)+" of default security group "+r.Name)
	}
	before := map[string]any{"ingress": in, "egress": out}
	if len(rules) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"default security group " + r.Name + " has no rules"}, Before: before}, nil
	}
	if n := ec2Int(r.Properties["attached_eni_count"]); n > 0 {
		steps = append(steps, fmt.Sprintf("%d network interfaces use the group and lose the traffic these rules allowed", n))
	}
	var calls fixCalls
	s := ec2RuleState{ingress: ec2RuleIDs(in), egress: ec2RuleIDs(out)}
	if len(s.ingress) > 0 {
		calls = append(calls, fixCall{"ec2:RevokeSecurityGroupIngress", map[string]any{"GroupId": r.Name, "SecurityGroupRuleIds": s.ingress}})
	}
	if len(s.egress) > 0 {
		calls = append(calls, fixCall{"ec2:RevokeSecurityGroupEgress", map[string]any{"GroupId": r.Name, "SecurityGroupRuleIds": s.egress}})
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before, State: s}, nil
}

func (a *ec2RestrictDefaultSecurityGroup) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	s, err := ec2PlanState(p)
	if err != nil {
		return err
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	if err := ec2Revoke(ctx, c, t.Resource.Name, false, s.ingress, rec); err != nil {
		return err
	}
	return ec2Revoke(ctx, c, t.Resource.Name, true, s.egress, rec)
}

func (a *ec2RestrictDefaultSecurityGroup) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	in, err := ec2RecordedRules(before["ingress"])
	if err != nil {
		return err
	}
	out, err := ec2RecordedRules(before["egress"])
	if err != nil {
		return err
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	return ec2Reauthorize(ctx, c, t.Resource.Name, append(in, out...), rec)
}

// ---- aws.ec2.require-imdsv2 ----

// ec2RequireIMDSv2 sets HttpTokens=required and nothing else: the
// endpoint, hop limit and tags stay as they are. Undo sets HttpTokens back
// to what it was (optional).
type ec2RequireIMDSv2 struct{ fixAction }

func (a *ec2RequireIMDSv2) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{r.Name}})
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeInstances %s: %w", r.Name, errorf(err))
	}
	var m *types.InstanceMetadataOptionsResponse
	for _, res := range out.Reservations {
		for _, in := range res.Instances {
			if aws.ToString(in.InstanceId) == r.Name {
				if in.MetadataOptions == nil {
					return nil, fmt.Errorf("instance %s reports no metadata options", r.Name)
				}
				m = in.MetadataOptions
			}
		}
	}
	if m == nil {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "instance %s not found", r.Name)
	}
	before := map[string]any{"http_tokens": string(m.HttpTokens), "http_endpoint": string(m.HttpEndpoint),
		"http_put_response_hop_limit": int32OrNil(m.HttpPutResponseHopLimit)}
	if m.HttpTokens == types.HttpTokensStateRequired {
		return &fix.Plan{NoOp: true, Steps: []string{"instance " + r.Name + " already requires IMDSv2"}, Before: before}, nil
	}
	return &fix.Plan{
		Steps: []string{fmt.Sprintf("require IMDSv2 on instance %s (HttpTokens now %s; the metadata endpoint stays %s): software on it that still makes IMDSv1 requests loses instance metadata and role credentials",
			r.Name, m.HttpTokens, m.HttpEndpoint)},
		Calls:  fixCalls{{"ec2:ModifyInstanceMetadataOptions", map[string]any{"InstanceId": r.Name, "HttpTokens": "required"}}}.calls(),
		Before: before,
	}, nil
}

func (a *ec2RequireIMDSv2) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.set(ctx, t, types.HttpTokensStateRequired, rec)
}

func (a *ec2RequireIMDSv2) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	tokens := types.HttpTokensState(ec2Str(before, "http_tokens"))
	if tokens == "" {
		tokens = types.HttpTokensStateOptional
	}
	return a.set(ctx, t, tokens, rec)
}

func (a *ec2RequireIMDSv2) set(ctx context.Context, t fix.Target, tokens types.HttpTokensState, rec *fix.Recorder) error {
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	id := t.Resource.Name
	return rec.Do("ec2:ModifyInstanceMetadataOptions", map[string]any{"InstanceId": id, "HttpTokens": string(tokens)}, func() error {
		_, err := c.ModifyInstanceMetadataOptions(ctx, &ec2.ModifyInstanceMetadataOptionsInput{InstanceId: aws.String(id), HttpTokens: tokens})
		return errorOf(err)
	})
}

// ---- aws.ec2.enable-ebs-default-encryption ----

// ec2EnableEBSDefaultEncryption turns on EBS encryption by default in a
// region; new volumes then use the region's default KMS key. Undo turns it
// off again.
type ec2EnableEBSDefaultEncryption struct{ fixAction }

func (a *ec2EnableEBSDefaultEncryption) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	region := t.Resource.Region
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	out, err := c.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil {
		return nil, fmt.Errorf("ec2:GetEbsEncryptionByDefault %s: %w", region, errorf(err))
	}
	on := aws.ToBool(out.EbsEncryptionByDefault)
	before := map[string]any{"ebs_encryption_by_default": on}
	if on {
		return &fix.Plan{NoOp: true, Steps: []string{"EBS encryption by default is already on in " + region}, Before: before}, nil
	}
	return &fix.Plan{
		Steps:  []string{"turn on EBS encryption by default in " + region + ": volumes created from now on are encrypted with the region's default EBS key; existing volumes and snapshots stay as they are"},
		Calls:  fixCalls{{"ec2:EnableEbsEncryptionByDefault", map[string]any{}}}.calls(),
		Before: before,
	}, nil
}

func (a *ec2EnableEBSDefaultEncryption) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	return rec.Do("ec2:EnableEbsEncryptionByDefault", map[string]any{}, func() error {
		_, err := c.EnableEbsEncryptionByDefault(ctx, &ec2.EnableEbsEncryptionByDefaultInput{})
		return errorOf(err)
	})
}

func (a *ec2EnableEBSDefaultEncryption) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	if on, _ := before["ebs_encryption_by_default"].(bool); on {
		return nil // it was on already: the fix changed nothing
	}
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	return rec.Do("ec2:DisableEbsEncryptionByDefault", map[string]any{}, func() error {
		_, err := c.DisableEbsEncryptionByDefault(ctx, &ec2.DisableEbsEncryptionByDefaultInput{})
		return errorOf(err)
	})
}

// ---- aws.ec2.make-snapshot-private ----

// ec2MakeSnapshotPrivate removes createVolumePermission for group all; the
// accounts the snapshot is shared with keep their permission. Undo adds
// group all back.
type ec2MakeSnapshotPrivate struct{ fixAction }

func (a *ec2MakeSnapshotPrivate) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	id := t.Resource.Name
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(id),
		Attribute: types.SnapshotAttributeNameCreateVolumePermission})
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeSnapshotAttribute %s: %w", id, errorf(err))
	}
	perms, public := []any{}, false
	var kept []string
	for _, cp := range out.CreateVolumePermissions {
		switch {
		case cp.Group == types.PermissionGroupAll:
			public = true
			perms = append(perms, map[string]any{"group": "all"})
		case cp.UserId != nil:
			perms = append(perms, map[string]any{"user_id": *cp.UserId})
			kept = append(kept, *cp.UserId)
		}
	}
	before := map[string]any{"create_volume_permissions": perms}
	if !public {
		return &fix.Plan{NoOp: true, Steps: []string{"snapshot " + id + " is not public"}, Before: before}, nil
	}
	return &fix.Plan{
		Steps:  []string{"remove createVolumePermission for group all from snapshot " + id + "; " + ec2Kept("accounts", kept)},
		Calls:  fixCalls{{"ec2:ModifySnapshotAttribute", ec2SnapshotInput(id, types.OperationTypeRemove)}}.calls(),
		Before: before,
	}, nil
}

// ec2Kept says who keeps access after a public permission is removed.
func ec2Kept(what string, ids []string) string {
	if len(ids) == 0 {
		return "no other " + what + " had access"
	}
	sort.Strings(ids)
	return what + " that keep access: " + strings.Join(ids, ", ")
}

func ec2SnapshotInput(id string, op types.OperationType) map[string]any {
	return map[string]any{"SnapshotId": id, "Attribute": "createVolumePermission", "OperationType": string(op), "GroupNames": []string{"all"}}
}

func (a *ec2MakeSnapshotPrivate) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.modify(ctx, t, types.OperationTypeRemove, rec)
}

func (a *ec2MakeSnapshotPrivate) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.modify(ctx, t, types.OperationTypeAdd, rec)
}

func (a *ec2MakeSnapshotPrivate) modify(ctx context.Context, t fix.Target, op types.OperationType, rec *fix.Recorder) error {
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	id := t.Resource.Name
	return rec.Do("ec2:ModifySnapshotAttribute", ec2SnapshotInput(id, op), func() error {
		_, err := c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(id),
			Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: op, GroupNames: []string{"all"}})
		return errorOf(err)
	})
}

// ---- aws.ec2.make-image-private ----

// ec2MakeImagePrivate removes the launch permission of group all; the
// accounts, organizations and organizational units the AMI is shared with
// keep theirs. Undo adds group all back.
type ec2MakeImagePrivate struct{ fixAction }

func (a *ec2MakeImagePrivate) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	id := t.Resource.Name
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(id),
		Attribute: types.ImageAttributeNameLaunchPermission})
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeImageAttribute %s: %w", id, errorf(err))
	}
	perms, public := []any{}, false
	var kept []string
	for _, lp := range out.LaunchPermissions {
		switch {
		case lp.Group == types.PermissionGroupAll:
			public = true
			perms = append(perms, map[string]any{"group": "all"})
		case lp.UserId != nil:
			perms = append(perms, map[string]any{"user_id": *lp.UserId})
			kept = append(kept, *lp.UserId)
		case lp.OrganizationArn != nil:
			perms = append(perms, map[string]any{"organization_arn": *lp.OrganizationArn})
			kept = append(kept, *lp.OrganizationArn)
		case lp.OrganizationalUnitArn != nil:
			perms = append(perms, map[string]any{"organizational_unit_arn": *lp.OrganizationalUnitArn})
			kept = append(kept, *lp.OrganizationalUnitArn)
		}
	}
	before := map[string]any{"launch_permissions": perms}
	if !public {
		return &fix.Plan{NoOp: true, Steps: []string{"AMI " + id + " is not public"}, Before: before}, nil
	}
	return &fix.Plan{
		Steps:  []string{"remove the launch permission of group all from AMI " + id + "; " + ec2Kept("accounts or organizations", kept)},
		Calls:  fixCalls{{"ec2:ModifyImageAttribute", ec2ImageInput(id, "Remove")}}.calls(),
		Before: before,
	}, nil
}

func ec2ImageInput(id, op string) map[string]any {
	return map[string]any{"ImageId": id, "LaunchPermission": map[string]any{op: []any{map[string]any{"Group": "all"}}}}
}

func (a *ec2MakeImagePrivate) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.modify(ctx, t, "Remove", rec)
}

func (a *ec2MakeImagePrivate) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.modify(ctx, t, "Add", rec)
}

func (a *ec2MakeImagePrivate) modify(ctx context.Context, t fix.Target, op string, rec *fix.Recorder) error {
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	id := t.Resource.Name
	all := []types.LaunchPermission{{Group: types.PermissionGroupAll}}
	mods := &types.LaunchPermissionModifications{Remove: all}
	if op == "Add" {
		mods = &types.LaunchPermissionModifications{Add: all}
	}
	return rec.Do("ec2:ModifyImageAttribute", ec2ImageInput(id, op), func() error {
		_, err := c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(id), LaunchPermission: mods})
		return errorOf(err)
	})
}

// ---- aws.ec2.disable-subnet-auto-public-ip ----

// ec2DisableSubnetAutoPublicIP turns off MapPublicIpOnLaunch and, where it
// is on, AssignIpv6AddressOnCreation (IPv6 addresses are globally
// routable, and the check fails a subnet for either), one
// ModifySubnetAttribute call each, since the API takes one attribute per
// call. Instances running now keep their addresses. Undo turns back on what
// was on.
type ec2DisableSubnetAutoPublicIP struct{ fixAction }

// ec2SubnetAttrs are the subnet attributes the action turns off, with the
// names of the before-state.
var ec2SubnetAttrs = []struct{ api, key string }{
	{"MapPublicIpOnLaunch", "map_public_ip_on_launch"},
	{"AssignIpv6AddressOnCreation", "assign_ipv6_address_on_creation"},
}

func (a *ec2DisableSubnetAutoPublicIP) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	id := t.Resource.Name
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}})
	if err != nil {
		return nil, fmt.Errorf("ec2:DescribeSubnets %s: %w", id, errorf(err))
	}
	if len(out.Subnets) != 1 {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "subnet %s not found", id)
	}
	s := out.Subnets[0]
	before := map[string]any{"map_public_ip_on_launch": aws.ToBool(s.MapPublicIpOnLaunch),
		"assign_ipv6_address_on_creation": aws.ToBool(s.AssignIpv6AddressOnCreation)}
	var steps []string
	var calls fixCalls
	for _, attr := range ec2SubnetAttrs {
		if before[attr.key] == true {
			steps = append(steps, "turn off "+attr.api+" on subnet "+id+" (instances running in it keep the addresses they have)")
			calls = append(calls, fixCall{"ec2:ModifySubnetAttribute", map[string]any{"SubnetId": id, attr.api: false}})
		}
	}
	if len(calls) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"subnet " + id + " assigns no public addresses on launch"}, Before: before}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before}, nil
}

func (a *ec2DisableSubnetAutoPublicIP) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.set(ctx, t, p.Before, false, rec)
}

func (a *ec2DisableSubnetAutoPublicIP) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.set(ctx, t, before, true, rec)
}

// set gives every attribute that was on before the value v.
func (a *ec2DisableSubnetAutoPublicIP) set(ctx context.Context, t fix.Target, before map[string]any, v bool, rec *fix.Recorder) error {
	c, err := a.ec2Client(ctx, t)
	if err != nil {
		return err
	}
	id := t.Resource.Name
	for _, attr := range ec2SubnetAttrs {
		if before[attr.key] != true {
			continue
		}
		in := &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(id)}
		val := &types.AttributeBooleanValue{Value: aws.Bool(v)}
		if attr.api == "MapPublicIpOnLaunch" {
			in.MapPublicIpOnLaunch = val
		} else {
			in.AssignIpv6AddressOnCreation = val
		}
		if err := rec.Do("ec2:ModifySubnetAttribute", map[string]any{"SubnetId": id, attr.api: v}, func() error {
			_, err := c.ModifySubnetAttribute(ctx, in)
			return errorOf(err)
		}); err != nil {
			return err
		}
	}
	return nil
}
