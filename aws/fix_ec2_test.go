package aws

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
)

// ec2FixRules reads a group's rules back through the SDK, one line per
// rule ("in tcp 22-22 0.0.0.0/0 \"ssh\""), sorted, with the rule ids by
// line.
func ec2FixRules(t *testing.T, c *ec2.Client, groupID string) ([]string, map[string]string) {
	t.Helper()
	out, err := c.DescribeSecurityGroupRules(context.Background(), &ec2.DescribeSecurityGroupRulesInput{
		Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{groupID}}}})
	if err != nil {
		t.Fatal(err)
	}
	lines, ids := []string{}, map[string]string{}
	for _, r := range out.SecurityGroupRules {
		dir := "in"
		if aws.ToBool(r.IsEgress) {
			dir = "out"
		}
		src := aws.ToString(r.CidrIpv4) + aws.ToString(r.CidrIpv6) + aws.ToString(r.PrefixListId)
		if g := r.ReferencedGroupInfo; g != nil {
			src = "sg:" + aws.ToString(g.GroupId)
		}
		line := fmt.Sprintf("%s %s %d-%d %s", dir, aws.ToString(r.IpProtocol), aws.ToInt32(r.FromPort), aws.ToInt32(r.ToPort), src)
		if d := aws.ToString(r.Description); d != "" {
			line += fmt.Sprintf(" %q", d)
		}
		lines = append(lines, line)
		ids[line] = aws.ToString(r.SecurityGroupRuleId)
	}
	sort.Strings(lines)
	return lines, ids
}

// ec2FixGroup creates a security group in vpc with inbound permissions.
func ec2FixGroup(t *testing.T, c *ec2.Client, vpc, name string, perms ...types.IpPermission) string {
	t.Helper()
	ctx := context.Background()
	g, err := c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name),
		Description: aws.String(name), VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	if len(perms) > 0 {
		must[any](t)(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: perms}))
	}
	return aws.ToString(g.GroupId)
}

func ec2FixPerm(proto string, from, to int32, cidr, desc string) types.IpPermission {
	p := types.IpPermission{IpProtocol: aws.String(proto)}
	if proto != "-1" {
		p.FromPort, p.ToPort = aws.Int32(from), aws.Int32(to)
	}
	var d *string
	if desc != "" {
		d = aws.String(desc)
	}
	if strings.Contains(cidr, ":") {
		p.Ipv6Ranges = []types.Ipv6Range{{CidrIpv6: aws.String(cidr), Description: d}}
	} else {
		p.IpRanges = []types.IpRange{{CidrIp: aws.String(cidr), Description: d}}
	}
	return p
}

// ec2FixVPC creates a VPC and returns its id.
func ec2FixVPC(t *testing.T, c *ec2.Client, cidr string) string {
	t.Helper()
	v, err := c.CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String(cidr)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(v.Vpc.VpcId)
}

func ec2FixWithout(list []string, drop ...string) []string {
	out := []string{}
	for _, s := range list {
		if !contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}

func ec2FixSortedIDs(v any) []string {
	list, _ := v.([]string)
	ids := append([]string(nil), list...)
	sort.Strings(ids)
	return ids
}

func TestFixEC2RevokeWorldAdminIngress(t *testing.T) {
	moto.Reset(t)
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	vpc := ec2FixVPC(t, c, "10.0.0.0/16")
	mixed := ec2FixGroup(t, c, vpc, "mixed",
		ec2FixPerm("tcp", 22, 22, "0.0.0.0/0", "ssh from anywhere"),
		ec2FixPerm("tcp", 22, 22, "203.0.113.0/24", "office"),
		ec2FixPerm("tcp", 443, 443, "0.0.0.0/0", ""),
		ec2FixPerm("tcp", 3389, 3389, "::/0", "rdp v6"),
		ec2FixPerm("udp", 3000, 4000, "0.0.0.0/0", ""))
	wide := ec2FixGroup(t, c, vpc, "wide", ec2FixPerm("-1", 0, 0, "0.0.0.0/0", ""), ec2FixPerm("tcp", 80, 80, "0.0.0.0/0", ""))
	clean := ec2FixGroup(t, c, vpc, "clean", ec2FixPerm("tcp", 443, 443, "0.0.0.0/0", ""))
	mixedBefore, mixedIDs := ec2FixRules(t, c, mixed)
	wantMixed := []string{
		`in tcp 22-22 0.0.0.0/0 "ssh from anywhere"`, `in tcp 22-22 203.0.113.0/24 "office"`, `in tcp 3389-3389 ::/0 "rdp v6"`,
		`in tcp 443-443 0.0.0.0/0`, `in udp 3000-4000 0.0.0.0/0`, `out -1 -1--1 0.0.0.0/0`}
	if !reflect.DeepEqual(mixedBefore, wantMixed) {
		t.Fatalf("seeded rules %q", mixedBefore)
	}
	h := newFixHarness(t, []string{"ec2"})

	// The IPv4 finding: only the 0.0.0.0/0 rules reaching 22 or 3389 go,
	// the office range, HTTPS and the IPv6 rule stay.
	j, f, p := h.plan("aws-ec2-sg-no-world-ipv4-admin-ports", h.uid(TypeEC2SecurityGroup, mixed), nil)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"ec2:RevokeSecurityGroupIngress"}) {
		t.Fatalf("planned calls %v", got)
	}
	v4 := []string{`in tcp 22-22 0.0.0.0/0 "ssh from anywhere"`, `in udp 3000-4000 0.0.0.0/0`}
	wantIDs := []string{mixedIDs[v4[0]], mixedIDs[v4[1]]}
	sort.Strings(wantIDs)
	if in := p.Calls[0].Input; in["GroupId"] != mixed || !reflect.DeepEqual(ec2FixSortedIDs(in["SecurityGroupRuleIds"]), wantIDs) {
		t.Errorf("planned input %v, want rules %v", in, wantIDs)
	}
	if len(p.Steps) != 2 || !strings.Contains(strings.Join(p.Steps, "\n"), "it opens ports 3000-4000, so everything else it let in from the internet is closed too") {
		t.Errorf("steps %q", p.Steps)
	}
	if got, _ := ec2FixRules(t, c, mixed); !reflect.DeepEqual(got, mixedBefore) {
		t.Fatalf("the plan changed the group: %q", got)
	}
	v4Fix := h.apply(j, f, p)
	if got, _ := ec2FixRules(t, c, mixed); !reflect.DeepEqual(got, ec2FixWithout(mixedBefore, v4...)) {
		t.Errorf("after the IPv4 fix: %q", got)
	}

	// The IPv6 finding on the same group: the ::/0 RDP rule alone.
	j, f, p = h.plan("aws-ec2-sg-no-world-ipv6-admin-ports", h.uid(TypeEC2SecurityGroup, mixed), nil)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"ec2:RevokeSecurityGroupIngress"}) {
		t.Fatalf("planned IPv6 calls %v (steps %q)", got, p.Steps)
	}
	if in := p.Calls[0].Input; !reflect.DeepEqual(in["SecurityGroupRuleIds"], []string{mixedIDs[`in tcp 3389-3389 ::/0 "rdp v6"`]}) {
		t.Errorf("planned IPv6 input %v", in)
	}
	v6Fix := h.apply(j, f, p)
	remaining := []string{`in tcp 22-22 203.0.113.0/24 "office"`, `in tcp 443-443 0.0.0.0/0`, `out -1 -1--1 0.0.0.0/0`}
	if got, _ := ec2FixRules(t, c, mixed); !reflect.DeepEqual(got, remaining) {
		t.Errorf("after the IPv6 fix: %q", got)
	}

	// Undo re-authorizes exactly what each fix revoked, descriptions too.
	undone := h.undo(v6Fix.ID)
	if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"ec2:AuthorizeSecurityGroupIngress"}) {
		t.Errorf("undo calls %v", got)
	}
	if got, _ := ec2FixRules(t, c, mixed); !reflect.DeepEqual(got, ec2FixWithout(mixedBefore, v4...)) {
		t.Errorf("after undoing the IPv6 fix: %q", got)
	}
	h.undo(v4Fix.ID)
	if got, _ := ec2FixRules(t, c, mixed); !reflect.DeepEqual(got, mixedBefore) {
		t.Errorf("after undoing both: %q, want %q", got, mixedBefore)
	}

	// An all-traffic rule from the world is revoked whole, and the plan
	// says every port closes; HTTP on its own rule stays.
	wideBefore, _ := ec2FixRules(t, c, wide)
	j, f, p = h.plan("aws-ec2-sg-no-world-ipv4-admin-ports", h.uid(TypeEC2SecurityGroup, wide), nil)
	if len(p.Steps) != 1 || !strings.Contains(p.Steps[0], "inbound all traffic from 0.0.0.0/0") ||
		!strings.Contains(p.Steps[0], "it opens ports 0-65535") {
		t.Errorf("steps %q", p.Steps)
	}
	done := h.apply(j, f, p)
	if got, _ := ec2FixRules(t, c, wide); !reflect.DeepEqual(got, []string{`in tcp 80-80 0.0.0.0/0`, `out -1 -1--1 0.0.0.0/0`}) {
		t.Errorf("after the fix: %q", got)
	}
	h.undo(done.ID)
	if got, _ := ec2FixRules(t, c, wide); !reflect.DeepEqual(got, wideBefore) {
		t.Errorf("after undo: %q, want %q", got, wideBefore)
	}

	// A group with nothing to revoke: no call, verified as it is.
	j, f, p = h.plan("aws-ec2-sg-no-world-ipv4-admin-ports", h.uid(TypeEC2SecurityGroup, clean), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("plan for a clean group: %+v", p)
	}
	if done := h.apply(j, f, p); len(done.Calls) != 0 || !strings.HasPrefix(done.Reason, "nothing to change; verified") {
		t.Errorf("clean group: %s, calls %v", done.Reason, done.Calls)
	}
}

func TestFixEC2RestrictDefaultSecurityGroup(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	vpc := ec2FixVPC(t, c, "10.0.0.0/16")
	groups, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil || len(groups.SecurityGroups) != 1 {
		t.Fatalf("default group of %s: %v, %v", vpc, groups, err)
	}
	def := aws.ToString(groups.SecurityGroups[0].GroupId)
	// AWS's default group lets the group itself in; moto's has no inbound
	// rule, so the test adds it, and SSH from a private range.
	must[any](t)(c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(def),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String(def)}}},
			ec2FixPerm("tcp", 22, 22, "10.0.0.0/8", "admin")}}))
	app := ec2FixGroup(t, c, vpc, "app", ec2FixPerm("tcp", 443, 443, "0.0.0.0/0", ""))
	before, _ := ec2FixRules(t, c, def)
	if want := []string{`in -1 -1--1 sg:` + def, `in tcp 22-22 10.0.0.0/8 "admin"`, `out -1 -1--1 0.0.0.0/0`}; !reflect.DeepEqual(before, want) {
		t.Fatalf("seeded rules %q, want %q", before, want)
	}
	h := newFixHarness(t, []string{"ec2"})
	const check = "aws-ec2-default-sg-restricts-all-traffic"

	t.Run("not a default group", func(t *testing.T) {
		appBefore, _ := ec2FixRules(t, c, app)
		j, err := h.runner.Prepare(ctx, check, h.uid(TypeEC2SecurityGroup, app), nil)
		if err != nil {
			t.Fatal(err)
		}
		f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
		want := "security group " + app + " (app) is not a default security group: aws.ec2.restrict-default-security-group empties default groups only"
		if err == nil || err.Error() != want || p != nil {
			t.Fatalf("plan: %v, %+v; want error %q", err, p, want)
		}
		stored, err := h.store.Fix(ctx, f.ID)
		if err != nil || stored.Status != vigil.FixFailed || stored.Reason != "plan: "+want || len(stored.Calls) != 0 {
			t.Errorf("stored %+v, %v", stored, err)
		}
		if got, _ := ec2FixRules(t, c, app); !reflect.DeepEqual(got, appBefore) {
			t.Errorf("rules of app changed: %q", got)
		}
	})

	t.Run("fails half-way", func(t *testing.T) {
		saved := h.fixer.APIOptions
		h.fixer.APIOptions = append(append([]func(*middleware.Stack) error(nil), saved...), answer("RevokeSecurityGroupEgress",
			func(any) any { return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"} }))
		j, f, p := h.plan(check, h.uid(TypeEC2SecurityGroup, def), nil)
		out, err := h.runner.Apply(ctx, j, f, p)
		h.fixer.APIOptions = saved
		if err != nil {
			t.Fatal(err)
		}
		const reason = "apply: ec2:RevokeSecurityGroupEgress: AccessDenied: denied"
		if out.Status != vigil.FixFailed || out.Reason != reason {
			t.Errorf("fix: %s: %s", out.Status, out.Reason)
		}
		stored, err := h.store.Fix(ctx, out.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []vigil.Fix{out, stored} {
			if got.Status != vigil.FixFailed || got.Reason != reason {
				t.Errorf("record: %s: %s", got.Status, got.Reason)
			}
			if ops := operations(got.Calls); !reflect.DeepEqual(ops, []string{"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"}) {
				t.Fatalf("recorded calls %v", ops)
			}
			if got.Calls[0].Error != "" || got.Calls[1].Error != "AccessDenied: denied" {
				t.Errorf("recorded errors %q, %q", got.Calls[0].Error, got.Calls[1].Error)
			}
		}
		if got, _ := ec2FixRules(t, c, def); !reflect.DeepEqual(got, []string{`out -1 -1--1 0.0.0.0/0`}) {
			t.Errorf("after the failed fix: %q, want the outbound rule only", got)
		}
		// Undo of the half-done fix restores the inbound rules it revoked
		// and leaves the outbound rule it never reached.
		undone := h.undo(out.ID)
		if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"ec2:AuthorizeSecurityGroupIngress"}) {
			t.Errorf("undo calls %v", got)
		}
		if got, _ := ec2FixRules(t, c, def); !reflect.DeepEqual(got, before) {
			t.Errorf("after undo: %q, want %q", got, before)
		}
	})

	t.Run("empties and restores", func(t *testing.T) {
		j, f, p := h.plan(check, h.uid(TypeEC2SecurityGroup, def), nil)
		if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress"}) {
			t.Fatalf("planned calls %v", got)
		}
		_, ids := ec2FixRules(t, c, def)
		if got := p.Calls[1].Input["SecurityGroupRuleIds"]; !reflect.DeepEqual(got, []string{ids[`out -1 -1--1 0.0.0.0/0`]}) {
			t.Errorf("planned egress revoke %v", got)
		}
		if len(p.Steps) != 3 {
			t.Errorf("steps %q", p.Steps)
		}
		if got, _ := ec2FixRules(t, c, def); !reflect.DeepEqual(got, before) {
			t.Fatalf("the plan changed the group: %q", got)
		}
		done := h.apply(j, f, p)
		if got, _ := ec2FixRules(t, c, def); len(got) != 0 {
			t.Errorf("after the fix: %q", got)
		}
		if in, _ := done.After["ingress"].([]any); len(in) != 0 {
			t.Errorf("after: ingress %v", done.After["ingress"])
		}
		undone := h.undo(done.ID)
		if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"ec2:AuthorizeSecurityGroupIngress", "ec2:AuthorizeSecurityGroupEgress"}) {
			t.Errorf("undo calls %v", got)
		}
		if got, _ := ec2FixRules(t, c, def); !reflect.DeepEqual(got, before) {
			t.Errorf("after undo: %q, want %q", got, before)
		}
	})
}

func TestFixEC2RequireIMDSv2(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	img, err := c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("base"), RootDeviceName: aws.String("/dev/xvda")})
	if err != nil {
		t.Fatal(err)
	}
	run := func(tokens types.HttpTokensState) string {
		out, err := c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: img.ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
			InstanceType: types.InstanceTypeT3Micro, MetadataOptions: &types.InstanceMetadataOptionsRequest{HttpTokens: tokens}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Instances[0].InstanceId)
	}
	v1, v2 := run(types.HttpTokensStateOptional), run(types.HttpTokensStateRequired)
	tokens := func(id string) types.HttpTokensState {
		t.Helper()
		out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Reservations[0].Instances[0].MetadataOptions.HttpTokens
	}
	h := newFixHarness(t, []string{"ec2"})
	const check = "aws-ec2-instance-imdsv2-required"

	j, f, p := h.plan(check, h.uid(TypeEC2Instance, v1), nil)
	want := []vigil.FixCall{{Operation: "ec2:ModifyInstanceMetadataOptions", Input: map[string]any{"InstanceId": v1, "HttpTokens": "required"}}}
	if !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if p.Before["http_tokens"] != "optional" {
		t.Errorf("before %v", p.Before)
	}
	if tokens(v1) != types.HttpTokensStateOptional {
		t.Fatal("the plan changed the instance")
	}
	done := h.apply(j, f, p)
	// Only HttpTokens is asserted: moto replaces every metadata option the
	// request leaves out (the endpoint comes back empty, the hop limit 1),
	// where AWS keeps them as they are.
	if got := tokens(v1); got != types.HttpTokensStateRequired {
		t.Errorf("after the fix: HttpTokens %s", got)
	}
	if done.After["imdsv2_required"] != true {
		t.Errorf("after: %v", done.After["metadata_options"])
	}
	h.undo(done.ID)
	if got := tokens(v1); got != types.HttpTokensStateOptional {
		t.Errorf("after undo: HttpTokens %s", got)
	}

	// An instance that already requires IMDSv2: nothing to do.
	j, f, p = h.plan(check, h.uid(TypeEC2Instance, v2), nil)
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("plan for %s: %+v", v2, p)
	}
	h.apply(j, f, p)
}

func TestFixEC2EnableEBSDefaultEncryption(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	enabled := func() bool {
		t.Helper()
		out, err := c.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.EbsEncryptionByDefault)
	}
	h := newFixHarness(t, []string{"ec2"})
	region := h.col.region(t, "us-east-1")
	// moto lacks GetEbsDefaultKmsKeyId: the region carries a read error
	// for the key, which the check does not read, so verification stands
	// on ebs_encryption_by_default alone.
	if _, ok := region.ReadErrorFor("ebs_default_kms_key_id"); !ok {
		t.Errorf("no read error for ebs_default_kms_key_id: moto may implement GetEbsDefaultKmsKeyId now")
	}
	const check = "aws-ec2-ebs-default-encryption-enabled"

	j, f, p := h.plan(check, region.UID, nil)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"ec2:EnableEbsEncryptionByDefault"}) {
		t.Errorf("planned calls %v", got)
	}
	if enabled() {
		t.Fatal("the plan changed the setting")
	}
	done := h.apply(j, f, p)
	if !enabled() || done.After["ebs_encryption_by_default"] != true {
		t.Errorf("after the fix: %v, after %v", enabled(), done.After)
	}
	if _, _, p := h.plan(check, region.UID, nil); !p.NoOp {
		t.Errorf("a second plan would change something: %+v", p)
	}
	undone := h.undo(done.ID)
	if got := operations(undone.Calls); !reflect.DeepEqual(got, []string{"ec2:DisableEbsEncryptionByDefault"}) {
		t.Errorf("undo calls %v", got)
	}
	if enabled() {
		t.Error("after undo: still enabled")
	}
}

func TestFixEC2MakeSnapshotPrivate(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	vol, err := c.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(8)})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: vol.VolumeId})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(snap.SnapshotId)
	must[any](t)(c.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: snap.SnapshotId,
		Attribute: types.SnapshotAttributeNameCreateVolumePermission, OperationType: types.OperationTypeAdd,
		GroupNames: []string{"all"}, UserIds: []string{"111122223333"}}))
	perms := func() []string {
		t.Helper()
		out, err := c.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: snap.SnapshotId,
			Attribute: types.SnapshotAttributeNameCreateVolumePermission})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, p := range out.CreateVolumePermissions {
			got = append(got, string(p.Group)+aws.ToString(p.UserId))
		}
		sort.Strings(got)
		return got
	}
	public := []string{"111122223333", "all"}
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Fatalf("seeded permissions %v", got)
	}
	h := newFixHarness(t, []string{"ec2"})

	j, f, p := h.plan("aws-ec2-snapshot-not-public", h.uid(TypeEC2Snapshot, id), nil)
	want := []vigil.FixCall{{Operation: "ec2:ModifySnapshotAttribute", Input: map[string]any{"SnapshotId": id,
		"Attribute": "createVolumePermission", "OperationType": "remove", "GroupNames": []string{"all"}}}}
	if !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if wantStep := "remove createVolumePermission for group all from snapshot " + id + "; accounts that keep access: 111122223333"; !reflect.DeepEqual(p.Steps, []string{wantStep}) {
		t.Errorf("steps %q", p.Steps)
	}
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Fatalf("the plan changed the snapshot: %v", got)
	}
	done := h.apply(j, f, p)
	if got := perms(); !reflect.DeepEqual(got, []string{"111122223333"}) {
		t.Errorf("after the fix: %v", got)
	}
	h.undo(done.ID)
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Errorf("after undo: %v", got)
	}
}

func TestFixEC2MakeImagePrivate(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	img, err := c.RegisterImage(ctx, &ec2.RegisterImageInput{Name: aws.String("golden"), RootDeviceName: aws.String("/dev/xvda")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(img.ImageId)
	must[any](t)(c.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: img.ImageId,
		LaunchPermission: &types.LaunchPermissionModifications{Add: []types.LaunchPermission{
			{Group: types.PermissionGroupAll}, {UserId: aws.String("111122223333")}}}}))
	perms := func() []string {
		t.Helper()
		out, err := c.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: img.ImageId,
			Attribute: types.ImageAttributeNameLaunchPermission})
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, p := range out.LaunchPermissions {
			got = append(got, string(p.Group)+aws.ToString(p.UserId))
		}
		sort.Strings(got)
		return got
	}
	public := []string{"111122223333", "all"}
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Fatalf("seeded permissions %v", got)
	}
	h := newFixHarness(t, []string{"ec2"})

	j, f, p := h.plan("aws-ec2-image-not-public", h.uid(TypeEC2Image, id), nil)
	want := []vigil.FixCall{{Operation: "ec2:ModifyImageAttribute", Input: map[string]any{"ImageId": id,
		"LaunchPermission": map[string]any{"Remove": []any{map[string]any{"Group": "all"}}}}}}
	if !reflect.DeepEqual(p.Calls, want) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if wantStep := "remove the launch permission of group all from AMI " + id + "; accounts or organizations that keep access: 111122223333"; !reflect.DeepEqual(p.Steps, []string{wantStep}) {
		t.Errorf("steps %q", p.Steps)
	}
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Fatalf("the plan changed the image: %v", got)
	}
	done := h.apply(j, f, p)
	if got := perms(); !reflect.DeepEqual(got, []string{"111122223333"}) {
		t.Errorf("after the fix: %v", got)
	}
	if done.After["public"] != false {
		t.Errorf("after: public %v", done.After["public"])
	}
	h.undo(done.ID)
	if got := perms(); !reflect.DeepEqual(got, public) {
		t.Errorf("after undo: %v", got)
	}
}

func TestFixEC2DisableSubnetAutoPublicIP(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := ec2.NewFromConfig(moto.Config(t, "us-east-1"))
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16"), AmazonProvidedIpv6CidrBlock: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpc.Vpc.Ipv6CidrBlockAssociationSet) != 1 {
		t.Fatalf("vpc IPv6 blocks %+v", vpc.Vpc.Ipv6CidrBlockAssociationSet)
	}
	v6 := aws.ToString(vpc.Vpc.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock) // a /56
	subnet := func(cidr, cidr6 string, attrs ...func(*ec2.ModifySubnetAttributeInput)) string {
		t.Helper()
		in := &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(cidr)}
		if cidr6 != "" {
			in.Ipv6CidrBlock = aws.String(cidr6)
		}
		s, err := c.CreateSubnet(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range attrs {
			m := &ec2.ModifySubnetAttributeInput{SubnetId: s.Subnet.SubnetId}
			set(m)
			must[any](t)(c.ModifySubnetAttribute(ctx, m))
		}
		return aws.ToString(s.Subnet.SubnetId)
	}
	on := &types.AttributeBooleanValue{Value: aws.Bool(true)}
	mapV4 := func(m *ec2.ModifySubnetAttributeInput) { m.MapPublicIpOnLaunch = on }
	assignV6 := func(m *ec2.ModifySubnetAttributeInput) { m.AssignIpv6AddressOnCreation = on }
	public := subnet("10.0.1.0/24", "", mapV4)
	dual := subnet("10.0.2.0/24", strings.Replace(v6, "/56", "/64", 1), mapV4, assignV6)
	attrs := func(id string) [2]bool {
		t.Helper()
		out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{id}})
		if err != nil {
			t.Fatal(err)
		}
		s := out.Subnets[0]
		return [2]bool{aws.ToBool(s.MapPublicIpOnLaunch), aws.ToBool(s.AssignIpv6AddressOnCreation)}
	}
	h := newFixHarness(t, []string{"ec2"})
	const check = "aws-ec2-subnet-no-auto-public-ip"

	for _, tc := range []struct {
		name   string
		id     string
		before [2]bool
		calls  []vigil.FixCall
	}{
		{"public IPv4 on launch", public, [2]bool{true, false}, []vigil.FixCall{
			{Operation: "ec2:ModifySubnetAttribute", Input: map[string]any{"SubnetId": public, "MapPublicIpOnLaunch": false}}}},
		{"IPv4 and IPv6 on launch", dual, [2]bool{true, true}, []vigil.FixCall{
			{Operation: "ec2:ModifySubnetAttribute", Input: map[string]any{"SubnetId": dual, "MapPublicIpOnLaunch": false}},
			{Operation: "ec2:ModifySubnetAttribute", Input: map[string]any{"SubnetId": dual, "AssignIpv6AddressOnCreation": false}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := attrs(tc.id); got != tc.before {
				t.Fatalf("seeded %v", got)
			}
			j, f, p := h.plan(check, h.uid(TypeEC2Subnet, tc.id), nil)
			if !reflect.DeepEqual(p.Calls, tc.calls) {
				t.Errorf("planned calls %+v", p.Calls)
			}
			if got := attrs(tc.id); got != tc.before {
				t.Fatalf("the plan changed the subnet: %v", got)
			}
			done := h.apply(j, f, p)
			if got := attrs(tc.id); got != [2]bool{false, false} {
				t.Errorf("after the fix: %v", got)
			}
			undone := h.undo(done.ID)
			if len(undone.Calls) != len(tc.calls) {
				t.Errorf("undo calls %+v", undone.Calls)
			}
			if got := attrs(tc.id); got != tc.before {
				t.Errorf("after undo: %v, want %v", got, tc.before)
			}
		})
	}
}
