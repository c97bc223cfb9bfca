package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil"
)

// listEC2Volumes emits the region's EBS volumes.
func listEC2Volumes(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeVolumesPaginator(client, &ec2.DescribeVolumesInput{Filters: ec2Only(t, TypeEC2Volume, "volume-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Volumes {
			id := aws.ToString(v.VolumeId)
			r := vigil.Resource{UID: t.arn("ec2", t.region, "volume/"+id), Type: TypeEC2Volume, Name: id,
				Tags: ec2Tags(v.Tags)}
			atts := make([]any, 0, len(v.Attachments))
			for _, a := range v.Attachments {
				atts = append(atts, map[string]any{
					"instance_id":           nonEmpty(a.InstanceId),
					"device":                nonEmpty(a.Device),
					"state":                 string(a.State),
					"delete_on_termination": aws.ToBool(a.DeleteOnTermination),
				})
			}
			r.Properties = map[string]any{
				"volume_id":            id,
				"encrypted":            aws.ToBool(v.Encrypted),
				"kms_key_id":           nonEmpty(v.KmsKeyId),
				"size":                 int(aws.ToInt32(v.Size)),
				"volume_type":          string(v.VolumeType),
				"state":                string(v.State),
				"availability_zone":    nonEmpty(v.AvailabilityZone),
				"snapshot_id":          nonEmpty(v.SnapshotId),
				"multi_attach_enabled": aws.ToBool(v.MultiAttachEnabled),
				"create_time":          timeOrNil(v.CreateTime),
				"attachments":          atts,
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// listEC2Snapshots emits the EBS snapshots the account owns, with who may
// create volumes from them. The owner-id filter is used rather than
// OwnerIds=self because moto ignores OwnerIds; AWS honours both.
func listEC2Snapshots(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeSnapshotsPaginator(client, &ec2.DescribeSnapshotsInput{
		Filters: append([]types.Filter{{Name: aws.String("owner-id"), Values: []string{t.acct.ID}}},
			ec2Only(t, TypeEC2Snapshot, "snapshot-id")...),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.Snapshots {
			id := aws.ToString(s.SnapshotId)
			// Snapshot ARNs carry no account id.
			r := vigil.Resource{UID: "arn:" + t.partition() + ":ec2:" + t.region + "::snapshot/" + id,
				Type: TypeEC2Snapshot, Name: id, Tags: ec2Tags(s.Tags)}
			r.Properties = map[string]any{
				"snapshot_id": id,
				"volume_id":   nonEmpty(s.VolumeId),
				"volume_size": int(aws.ToInt32(s.VolumeSize)),
				"encrypted":   aws.ToBool(s.Encrypted),
				"kms_key_id":  nonEmpty(s.KmsKeyId),
				"state":       string(s.State),
				"start_time":  timeOrNil(s.StartTime),
				"description": aws.ToString(s.Description),
				"owner_id":    aws.ToString(s.OwnerId),
			}
			attr, err := client.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{
				SnapshotId: s.SnapshotId, Attribute: types.SnapshotAttributeNameCreateVolumePermission,
			})
			switch {
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				t.propErr(&r, "create_volume_permissions", err)
				t.propErr(&r, "public", err)
			default:
				perms := make([]any, 0, len(attr.CreateVolumePermissions))
				public := false
				for _, cp := range attr.CreateVolumePermissions {
					switch {
					case cp.Group == types.PermissionGroupAll:
						public = true
						perms = append(perms, map[string]any{"group": "all"})
					case cp.UserId != nil:
						perms = append(perms, map[string]any{"user_id": *cp.UserId})
					}
				}
				r.Properties["create_volume_permissions"] = perms
				r.Properties["public"] = public
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// listEC2Images emits the AMIs the account owns, with their launch
// permissions.
func listEC2Images(ctx context.Context, t *task, client *ec2.Client) error {
	p := ec2.NewDescribeImagesPaginator(client, &ec2.DescribeImagesInput{Owners: []string{"self"},
		Filters: ec2Only(t, TypeEC2Image, "image-id")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, img := range page.Images {
			id := aws.ToString(img.ImageId)
			// Image ARNs carry no account id.
			r := vigil.Resource{UID: "arn:" + t.partition() + ":ec2:" + t.region + "::image/" + id,
				Type: TypeEC2Image, Name: id, Tags: ec2Tags(img.Tags)}
			encrypted := true
			for _, bd := range img.BlockDeviceMappings {
				if bd.Ebs != nil && !aws.ToBool(bd.Ebs.Encrypted) {
					encrypted = false
				}
			}
			r.Properties = map[string]any{
				"image_id":         id,
				"image_name":       aws.ToString(img.Name),
				"description":      aws.ToString(img.Description),
				"state":            string(img.State),
				"creation_date":    nonEmpty(img.CreationDate),
				"architecture":     enumOrNil(img.Architecture),
				"platform_details": nonEmpty(img.PlatformDetails),
				"root_device_type": string(img.RootDeviceType),
				"owner_id":         aws.ToString(img.OwnerId),
				"ebs_encrypted":    encrypted,
			}
			attr, err := client.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{
				ImageId: img.ImageId, Attribute: types.ImageAttributeNameLaunchPermission,
			})
			flag := aws.ToBool(img.Public)
			switch {
			case err != nil && ctx.Err() != nil:
				return ctx.Err()
			case err != nil:
				t.propErr(&r, "launch_permissions", err)
				if flag {
					// DescribeImages already says the image is public.
					r.Properties["public"] = true
				} else {
					t.propErr(&r, "public", err)
				}
			default:
				perms := make([]any, 0, len(attr.LaunchPermissions))
				public := flag
				for _, lp := range attr.LaunchPermissions {
					switch {
					case lp.Group == types.PermissionGroupAll:
						public = true
						perms = append(perms, map[string]any{"group": "all"})
					case lp.UserId != nil:
						perms = append(perms, map[string]any{"user_id": *lp.UserId})
					case lp.OrganizationArn != nil:
						perms = append(perms, map[string]any{"organization_arn": *lp.OrganizationArn})
					case lp.OrganizationalUnitArn != nil:
						perms = append(perms, map[string]any{"organizational_unit_arn": *lp.OrganizationalUnitArn})
					}
				}
				r.Properties["launch_permissions"] = perms
				r.Properties["public"] = public
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}
