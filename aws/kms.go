package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vigilsec/vigil"
)

func init() {
	register(&service{name: "kms", types: []string{"aws.kms.key"}, collect: collectKMS, get: getKMS})
}

// collectKMS lists customer-managed and AWS-managed keys with their rotation
// status and key policy.
func collectKMS(ctx context.Context, t *task) error {
	client := kms.NewFromConfig(t.cfg)
	p := kms.NewListKeysPaginator(client, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, k := range page.Keys {
			r, err := kmsKey(ctx, t, client, aws.ToString(k.KeyId))
			if err != nil {
				return err
			}
			if r.UID == "" {
				continue
			}
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// getKMS re-reads the keys a Get wants with DescribeKey by key id.
func getKMS(ctx context.Context, t *task) error {
	client := kms.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs("aws.kms.key") {
		id := arnTail(uid, ":key/")
		if id == "" || id == uid {
			continue // not a key ARN: no key has it
		}
		r, err := kmsKey(ctx, t, client, id)
		if err != nil {
			return err
		}
		if r.UID == "" {
			continue
		}
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// kmsKeyProps are the properties of a key that DescribeKey (or the calls
// it makes possible) provide.
var kmsKeyProps = []string{"manager", "state", "enabled", "key_spec", "key_usage", "origin", "description",
	"multi_region", "deletion_date", "created", "rotation_enabled", "policy", "tags"}

// kmsKey describes one key. It returns an empty resource for a key deleted
// between listing and describing.
func kmsKey(ctx context.Context, t *task, client *kms.Client, id string) (vigil.Resource, error) {
	d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &id})
	if classify(err) == vigil.ENOTFOUND {
		return vigil.Resource{}, nil
	}
	r := vigil.Resource{UID: t.arn("kms", t.region, "key/"+id), Type: "aws.kms.key", Name: id,
		Properties: map[string]any{"key_id": id}}
	if err != nil {
		// Nothing else is read without the metadata: every property is
		// unreadable, so each check of the key yields error.
		for _, k := range kmsKeyProps {
			t.propErr(&r, k, err)
		}
		return r, nil
	}
	m := d.KeyMetadata
	r.UID = aws.ToString(m.Arn)
	p := r.Properties
	p["manager"] = string(m.KeyManager)
	p["state"] = string(m.KeyState)
	p["enabled"] = m.Enabled
	p["key_spec"] = string(m.KeySpec)
	p["key_usage"] = string(m.KeyUsage)
	p["origin"] = string(m.Origin)
	p["description"] = aws.ToString(m.Description)
	p["multi_region"] = aws.ToBool(m.MultiRegion)
	p["deletion_date"] = tsOrNil(m.DeletionDate) // null unless PendingDeletion
	p["created"] = tsOrNil(m.CreationDate)
	// Rotation applies to symmetric encryption keys whose material KMS
	// generated; AWS rejects the call for others (asymmetric, HMAC, imported
	// material, custom key stores), which is not a read failure.
	if m.KeySpec == types.KeySpecSymmetricDefault && m.KeyState != types.KeyStatePendingDeletion &&
		(m.Origin == types.OriginTypeAwsKms || m.Origin == "") {
		rot, err := client.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: &id})
		if err != nil {
			t.propErr(&r, "rotation_enabled", err)
		} else {
			p["rotation_enabled"] = rot.KeyRotationEnabled
		}
	} else {
		p["rotation_enabled"] = nil
	}
	pol, err := client.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default")})
	if err != nil {
		t.propErr(&r, "policy", err)
	} else {
		p["policy"] = parsePolicy(aws.ToString(pol.Policy))
	}
	if m.KeyManager == types.KeyManagerTypeCustomer {
		if tags, err := kmsTags(ctx, client, id); err != nil {
			t.propErr(&r, "tags", err)
		} else {
			r.Tags = tags
		}
	}
	return r, nil
}

// kmsTags reads every page of a key's tags: ListResourceTags returns at most
// 50 a page and says Truncated, with a NextMarker, when there are more.
func kmsTags(ctx context.Context, client *kms.Client, id string) (map[string]string, error) {
	tags := map[string]string{}
	p := kms.NewListResourceTagsPaginator(client, &kms.ListResourceTagsInput{KeyId: &id})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, tg := range page.Tags {
			tags[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
		}
	}
	return tags, nil
}
