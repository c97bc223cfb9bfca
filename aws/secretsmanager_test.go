package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// secretValue is a secret's value that must never be collected.
const secretValue = "s3cr3t-value-never-collected"

// seedSecrets creates, in us-east-1, "rotated" (rotation every 30 days by a
// Lambda function, customer KMS key) and "static" (no rotation).
func seedSecrets(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("rotator-role"),
		AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	fn, err := lambda.NewFromConfig(cfg).CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("rotator"),
		Runtime: lambdatypes.RuntimePython312, Role: role.Role.Arn, Handler: aws.String("index.handler"),
		Code: &lambdatypes.FunctionCode{ZipFile: lambdaZip(t)}})
	if err != nil {
		t.Fatal(err)
	}
	c := secretsmanager.NewFromConfig(cfg)
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("rotated"),
		SecretString: aws.String(secretValue), KmsKeyId: aws.String("alias/app-secrets"),
		Tags: []smtypes.Tag{{Key: aws.String("app"), Value: aws.String("billing")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateSecret(ctx, &secretsmanager.RotateSecretInput{SecretId: aws.String("rotated"),
		RotationLambdaARN: fn.FunctionArn, RotationRules: &smtypes.RotationRulesType{AutomaticallyAfterDays: aws.Int64(30)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("static"),
		SecretString: aws.String(secretValue)}); err != nil {
		t.Fatal(err)
	}
}

// partnerReadPolicy lets another account read the secret.
const partnerReadPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
	`"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`

func TestSecretsManager(t *testing.T) {
	moto.Reset(t)
	seedSecrets(t)
	if _, err := secretsmanager.NewFromConfig(moto.Config(t, "us-east-1")).PutResourcePolicy(context.Background(),
		&secretsmanager.PutResourcePolicyInput{SecretId: aws.String("rotated"), ResourcePolicy: aws.String(partnerReadPolicy)}); err != nil {
		t.Fatal(err)
	}
	col := collect(t, []string{"secretsmanager"})
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	secrets := col.ofType(TypeSecretsManagerSecret)
	if len(secrets) != 2 {
		t.Fatalf("got %d secrets, want 2", len(secrets))
	}
	rot, static := secrets["rotated"], secrets["static"]
	if rot.Tags["app"] != "billing" {
		t.Errorf("rotated tags = %v", rot.Tags)
	}
	for name, want := range map[string]map[string]any{
		"rotated": {"rotation_enabled": true, "kms_key_id": "alias/app-secrets",
			"rotation_lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:rotator",
			"rotation_rules":      map[string]any{"automatically_after_days": int64(30), "schedule_expression": nil, "duration": nil},
			"policy":              parsePolicyJSON(t, partnerReadPolicy)},
		"static": {"rotation_enabled": false, "kms_key_id": nil, "rotation_rules": nil, "rotation_lambda_arn": nil,
			"last_rotated_date": nil, "last_accessed_date": nil, "policy": nil},
	} {
		for k, v := range want {
			if got, ok := secrets[name].Properties[k]; !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s = %#v (present %v), want %#v", name, k, got, ok, v)
			}
		}
	}
	// Moto never records LastAccessedDate: it is null for both.
	if v, ok := rot.Properties["last_accessed_date"]; !ok || v != nil {
		t.Errorf("rotated.last_accessed_date = %#v (present %v), want null", v, ok)
	}
	for _, k := range []string{"created", "last_changed_date", "last_rotated_date"} {
		if _, ok := rot.Properties[k].(string); !ok {
			t.Errorf("rotated.%s = %#v, want a timestamp", k, rot.Properties[k])
		}
	}
	if _, ok := static.Properties["created"].(string); !ok {
		t.Errorf("static.created = %#v", static.Properties["created"])
	}

	// The secret's value must appear nowhere in what was collected.
	b, err := json.Marshal(col.resources)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secretValue)) {
		t.Fatalf("collected resources contain the secret value: %s", b)
	}
}

// TestSecretsManagerPolicyErrors checks that a failed GetResourcePolicy
// takes only the policy away, with a read error naming the operation and the
// classified code, and that a secret deleted since it was listed is skipped.
func TestSecretsManagerPolicyErrors(t *testing.T) {
	moto.Reset(t)
	seedSecrets(t)
	for _, tc := range []struct {
		name      string
		err       error
		wantNames []string
		wantCode  string // of the read error on "static"; "" for none
	}{
		{"denied", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"},
			[]string{"rotated", "static"}, vigil.EFORBIDDEN},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException", Message: "rate exceeded"},
			[]string{"rotated", "static"}, vigil.ETHROTTLED},
		{"gone", &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")},
			[]string{"rotated"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := collectWith(t, []string{"secretsmanager"}, answer("GetResourcePolicy", func(in any) any {
				if strings.Contains(aws.ToString(in.(*secretsmanager.GetResourcePolicyInput).SecretId), ":secret:static-") {
					return tc.err
				}
				return nil
			}))
			secrets := col.ofType(TypeSecretsManagerSecret)
			if got := slices.Sorted(maps.Keys(secrets)); !reflect.DeepEqual(got, tc.wantNames) {
				t.Fatalf("secrets = %v, want %v", got, tc.wantNames)
			}
			if v, ok := secrets["rotated"].Properties["policy"]; !ok || v != nil {
				t.Errorf("rotated.policy = %#v (present %v), want null", v, ok)
			}
			if tc.wantCode == "" {
				if len(col.readErrors) != 0 {
					t.Errorf("read errors: %v", col.readErrors)
				}
				return
			}
			static := secrets["static"]
			if v, ok := static.Properties["policy"]; ok {
				t.Errorf("static.policy = %#v, want it absent", v)
			}
			e, ok := static.ReadErrorFor("policy")
			if !ok || len(col.readErrors) != 1 || e.Code != tc.wantCode || e.Operation != "secretsmanager:GetResourcePolicy" {
				t.Errorf("read error = %+v (found %v, %d in all), want %s from secretsmanager:GetResourcePolicy",
					e, ok, len(col.readErrors), tc.wantCode)
			}
			if static.Properties["rotation_enabled"] != false {
				t.Errorf("static.rotation_enabled = %#v, want false (the ListSecrets properties stay)", static.Properties["rotation_enabled"])
			}
		})
	}
}
