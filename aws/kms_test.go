package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
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
