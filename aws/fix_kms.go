package aws

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &kmsEnableKeyRotation{fixAction{f: f, id: "aws.kms.enable-key-rotation", typ: "aws.kms.key",
			title: "turn on automatic yearly rotation of a customer managed symmetric KMS key",
			perms: []string{"kms:DescribeKey", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation", "kms:DisableKeyRotation"}}}
	})
}

// kmsClient returns a KMS client for a key's region with the remediation
// credentials.
func (f *Fixer) kmsClient(ctx context.Context, account, region string) (*kms.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return kms.NewFromConfig(cfg), nil
}

// kmsEnableKeyRotation turns on automatic rotation (the default period of
// 365 days). It refuses the keys that cannot rotate automatically — AWS
// managed keys (AWS rotates them), asymmetric and HMAC keys, imported key
// material, custom key stores — and keys pending deletion. Undo turns
// rotation off again; key versions rotated in between stay, as they must
// to decrypt what they encrypted.
type kmsEnableKeyRotation struct{ fixAction }

func (a *kmsEnableKeyRotation) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.kmsClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.Name)})
	if err != nil {
		return nil, fmt.Errorf("kms:DescribeKey: %w", errorf(err))
	}
	m := d.KeyMetadata
	switch {
	case m.KeyManager != kmstypes.KeyManagerTypeCustomer:
		return nil, vigil.Errorf(vigil.EINVALID, "key %s is managed by %s, not by the customer: AWS rotates it", r.Name, m.KeyManager)
	case m.KeySpec != kmstypes.KeySpecSymmetricDefault:
		return nil, vigil.Errorf(vigil.EINVALID, "key %s is a %s key: only symmetric encryption keys rotate automatically", r.Name, m.KeySpec)
	case m.Origin != kmstypes.OriginTypeAwsKms:
		return nil, vigil.Errorf(vigil.EINVALID, "key %s has key material of origin %s: only material KMS generated rotates automatically", r.Name, m.Origin)
	case m.KeyState == kmstypes.KeyStatePendingDeletion || m.KeyState == kmstypes.KeyStatePendingReplicaDeletion:
		return nil, vigil.Errorf(vigil.EINVALID, "key %s is %s", r.Name, m.KeyState)
	}
	rot, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(r.Name)})
	if err != nil {
		return nil, fmt.Errorf("kms:GetKeyRotationStatus: %w", errorf(err))
	}
	before := map[string]any{"rotation_enabled": rot.KeyRotationEnabled}
	if rot.KeyRotationEnabled {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"automatic rotation is already on for key " + r.Name}}, nil
	}
	return &fix.Plan{
		Steps:  []string{"turn on automatic rotation (every 365 days) for key " + r.Name},
		Calls:  fixCalls{{"kms:EnableKeyRotation", map[string]any{"KeyId": r.Name}}}.calls(),
		Before: before,
	}, nil
}

func (a *kmsEnableKeyRotation) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.kmsClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return rec.Do("kms:EnableKeyRotation", map[string]any{"KeyId": r.Name}, func() error {
		_, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(r.Name)})
		return errorOf(err)
	})
}

func (a *kmsEnableKeyRotation) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	if on, _ := before["rotation_enabled"].(bool); on {
		return nil // it was on: the fix changed nothing
	}
	r := t.Resource
	c, err := a.f.kmsClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return rec.Do("kms:DisableKeyRotation", map[string]any{"KeyId": r.Name}, func() error {
		_, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(r.Name)})
		return errorOf(err)
	})
}
