package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
)

func TestKMS(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	client := kms.NewFromConfig(moto.Config(t, "us-east-1"))
	rotated, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("rotated"),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("data")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: rotated.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	plain, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("plain")})
	if err != nil {
		t.Fatal(err)
	}
	asym, err := client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}

	got := collect(t, []string{"kms"}).ofType("aws.kms.key")
	if len(got) != 3 {
		t.Fatalf("got %d keys, want 3", len(got))
	}
	for id, want := range map[string]any{
		aws.ToString(rotated.KeyMetadata.KeyId): true,
		aws.ToString(plain.KeyMetadata.KeyId):   false,
		aws.ToString(asym.KeyMetadata.KeyId):    nil,
	} {
		r := got[id]
		if v, ok := r.Properties["rotation_enabled"]; !ok || v != want {
			t.Errorf("key %s rotation_enabled = %v (present %v), want %v", id, v, ok, want)
		}
		if r.Properties["manager"] != "CUSTOMER" || r.Properties["policy"] == nil {
			t.Errorf("key %s: manager %v, policy %v", id, r.Properties["manager"], r.Properties["policy"])
		}
	}
	if tags := got[aws.ToString(rotated.KeyMetadata.KeyId)].Tags; tags["team"] != "data" {
		t.Errorf("tags = %v", tags)
	}
}

// TestKMSTagPages checks that a key's tags are read past the first page:
// ListResourceTags answers at most 50 tags with Truncated and a NextMarker
// (moto always answers one page, so the pages are AWS-shaped fakes).
func TestKMSTagPages(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	key, err := kms.NewFromConfig(moto.Config(t, "us-east-1")).CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(key.KeyMetadata.KeyId)
	pages := answer("ListResourceTags", func(in any) any {
		switch aws.ToString(in.(*kms.ListResourceTagsInput).Marker) {
		case "":
			return &kms.ListResourceTagsOutput{Truncated: true, NextMarker: aws.String("page-2"),
				Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("data")}}}
		case "page-2":
			return &kms.ListResourceTagsOutput{
				Tags: []types.Tag{{TagKey: aws.String("vigil:exempt"), TagValue: aws.String("true")}}}
		}
		return &smithy.GenericAPIError{Code: "InvalidMarkerException"}
	})
	r, ok := collectWith(t, []string{"kms"}, pages).ofType("aws.kms.key")[id]
	if !ok {
		t.Fatal("key not collected")
	}
	if len(r.Tags) != 2 || r.Tags["team"] != "data" || r.Tags["vigil:exempt"] != "true" {
		t.Errorf("tags = %v, want team=data and vigil:exempt=true from both pages", r.Tags)
	}
	if len(r.ReadErrors) != 0 {
		t.Errorf("read errors: %+v", r.ReadErrors)
	}
}
