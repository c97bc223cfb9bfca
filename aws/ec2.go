package aws

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Resource types of the ec2 service.
const (
	TypeEC2Instance      = "aws.ec2.instance"
	TypeEC2SecurityGroup = "aws.ec2.security_group"
	TypeEC2NetworkACL    = "aws.ec2.network_acl"
	TypeEC2Volume        = "aws.ec2.volume"
	TypeEC2Snapshot      = "aws.ec2.snapshot"
	TypeEC2Image         = "aws.ec2.image"
	TypeEC2VPC           = "aws.ec2.vpc"
	TypeEC2Subnet        = "aws.ec2.subnet"
)

func init() {
	register(&service{name: "ec2", types: []string{
		TypeEC2Instance, TypeEC2SecurityGroup, TypeEC2NetworkACL, TypeEC2Volume,
		TypeEC2Snapshot, TypeEC2Image, TypeEC2VPC, TypeEC2Subnet,
	}, collect: collectEC2, get: collectEC2})
}

// ec2Listings run one after the other in each region; each fails on its
// own, so that a missing permission for snapshots does not hide instances.
var ec2Listings = []listing[*ec2.Client]{
	{TypeEC2Instance, listEC2Instances},
	{TypeEC2SecurityGroup, listEC2SecurityGroups},
	{TypeEC2NetworkACL, listEC2NetworkACLs},
	{TypeEC2VPC, listEC2VPCs},
	{TypeEC2Subnet, listEC2Subnets},
	{TypeEC2Volume, listEC2Volumes},
	{TypeEC2Snapshot, listEC2Snapshots},
	{TypeEC2Image, listEC2Images},
}

// collectEC2 reads the region's EBS defaults onto aws.region, then runs
// every EC2 listing, reporting a failed listing for its type alone.
func collectEC2(ctx context.Context, t *task) error {
	client := ec2.NewFromConfig(t.cfg)
	if t.wantsSettings() {
		ebsDefaults(ctx, t, client)
	}
	return runListings(ctx, t, client, ec2Listings)
}

// ec2Only returns the filter that narrows a Describe call to the ids of
// typ a Get wants (the last element of each ARN), or nil in a full
// collection. A filter, unlike the *Ids parameters, answers an id that no
// longer exists with an empty list rather than failing the whole call.
func ec2Only(t *task, typ, name string) []types.Filter {
	uids := t.wantedUIDs(typ)
	if t.only == nil || len(uids) == 0 {
		return nil
	}
	ids := make([]string, 0, len(uids))
	for _, uid := range uids {
		ids = append(ids, arnTail(uid, "/"))
	}
	return []types.Filter{{Name: aws.String(name), Values: ids}}
}

// ebsDefaults records the region's EBS encryption-by-default setting and
// default KMS key on aws.region.
func ebsDefaults(ctx context.Context, t *task, client *ec2.Client) {
	enc, err := client.GetEbsEncryptionByDefault(ctx, &ec2.GetEbsEncryptionByDefaultInput{})
	if err != nil {
		t.regionErr("ebs_encryption_by_default", err)
	} else {
		t.setRegion("ebs_encryption_by_default", aws.ToBool(enc.EbsEncryptionByDefault))
	}
	key, err := client.GetEbsDefaultKmsKeyId(ctx, &ec2.GetEbsDefaultKmsKeyIdInput{})
	if err != nil {
		t.regionErr("ebs_default_kms_key_id", err)
	} else {
		t.setRegion("ebs_default_kms_key_id", nonEmpty(key.KmsKeyId))
	}
}

// ec2Tags converts EC2 tags to a map.
func ec2Tags(tags []types.Tag) map[string]string {
	return tagMap(tags, func(t types.Tag) (*string, *string) { return t.Key, t.Value })
}

// nonEmpty returns the string, or nil when the API gave none or "".
func nonEmpty(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	return *s
}

// enumOrNil returns an SDK enum value as a string, or nil when it is empty.
func enumOrNil[T ~string](v T) any {
	if v == "" {
		return nil
	}
	return string(v)
}

// int32OrNil returns the number, or nil when the API gave none.
func int32OrNil(n *int32) any {
	if n == nil {
		return nil
	}
	return int(*n)
}

// protocolName normalises an IP protocol as EC2 reports it (a name or an
// IANA number, "-1" for every protocol) to "all", "tcp", "udp", "icmp",
// "icmpv6" or the number.
func protocolName(p string) string {
	switch strings.ToLower(p) {
	case "-1", "all":
		return "all"
	case "6", "tcp":
		return "tcp"
	case "17", "udp":
		return "udp"
	case "1", "icmp":
		return "icmp"
	case "58", "icmpv6":
		return "icmpv6"
	}
	return p
}

// portRange returns the ports a rule covers for a normalised protocol:
// tcp and udp keep the rule's range, icmp keeps type and code (-1 for any),
// every other protocol (including "all") covers 0..65535 because EC2
// ignores ports for them.
func portRange(proto string, from, to *int32) (int, int) {
	switch proto {
	case "tcp", "udp":
		if from == nil || to == nil {
			return 0, 65535
		}
		return int(*from), int(*to)
	case "icmp", "icmpv6":
		f, t := -1, -1
		if from != nil {
			f = int(*from)
		}
		if to != nil {
			t = int(*to)
		}
		return f, t
	}
	return 0, 65535
}
