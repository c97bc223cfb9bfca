package aws

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/vigilsec/vigil"
)

func TestFixKMSEnableKeyRotation(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := kms.NewFromConfig(moto.Config(t, "us-east-1"))
	create := func(in *kms.CreateKeyInput) string {
		t.Helper()
		out, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.KeyMetadata.KeyId)
	}
	key := create(&kms.CreateKeyInput{Description: aws.String("app data")})
	denied := create(&kms.CreateKeyInput{Description: aws.String("denied")})
	asym := create(&kms.CreateKeyInput{KeySpec: kmstypes.KeySpecRsa2048, KeyUsage: kmstypes.KeyUsageTypeSignVerify})
	rotation := func(id string) bool {
		t.Helper()
		out, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return out.KeyRotationEnabled
	}
	h := newFixHarness(t, []string{"kms"})
	const check = "aws-kms-key-rotation-enabled"

	j, f, p := h.plan(check, h.uid("aws.kms.key", key), nil)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"kms:EnableKeyRotation"}) || p.Calls[0].Input["KeyId"] != key {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if rotation(key) {
		t.Fatal("the plan turned rotation on")
	}
	done := h.apply(j, f, p)
	if !rotation(key) {
		t.Error("after the fix: rotation is off")
	}
	if _, _, again := h.plan(check, h.uid("aws.kms.key", key), nil); !again.NoOp {
		t.Errorf("second plan: %+v", again)
	}
	undo := h.undo(done.ID)
	if got := operations(undo.Calls); !reflect.DeepEqual(got, []string{"kms:DisableKeyRotation"}) {
		t.Errorf("undo calls %v", got)
	}
	if rotation(key) {
		t.Error("after undo: rotation is on")
	}

	// Keys that cannot rotate automatically are refused.
	err := iamPlanError(t, h, check, h.uid("aws.kms.key", asym), nil)
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "is a RSA_2048 key: only symmetric encryption keys rotate automatically") {
		t.Errorf("asymmetric key: %v", err)
	}

	// The one call denied: failed, and rotation still off.
	j, f, p = h.plan(check, h.uid("aws.kms.key", denied), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("EnableKeyRotation", iamDenied))
	iamApplyDenied(t, h, j, f, p, "apply: kms:EnableKeyRotation: AccessDenied: denied",
		[]string{"kms:EnableKeyRotation: AccessDenied: denied"})
	if rotation(denied) {
		t.Error("after the failed fix: rotation is on")
	}
}
