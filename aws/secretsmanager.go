package aws

import (
	"cmp"
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/vigilsec/vigil"
)

// TypeSecretsManagerSecret is the resource type of a Secrets Manager secret.
const TypeSecretsManagerSecret = "aws.secretsmanager.secret"

func init() {
	register(&service{name: "secretsmanager", types: []string{TypeSecretsManagerSecret}, collect: collectSecretsManager,
		get: getSecretsManager})
}

// collectSecretsManager lists secrets and reads only their metadata and
// resource policy; the secret VALUES are never fetched (no GetSecretValue /
// BatchGetSecretValue call exists in Vigil).
func collectSecretsManager(ctx context.Context, t *task) error {
	client := secretsmanager.NewFromConfig(t.cfg)
	p := secretsmanager.NewListSecretsPaginator(client, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.SecretList {
			r, ok := secret(ctx, t, client, s)
			if !ok {
				continue
			}
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// getSecretsManager re-reads the secrets a Get wants with DescribeSecret,
// which answers the metadata ListSecrets lists. A secret scheduled for
// deletion is left out, as ListSecrets leaves it out.
func getSecretsManager(ctx context.Context, t *task) error {
	client := secretsmanager.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs(TypeSecretsManagerSecret) {
		d, err := client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &uid})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case classify(err) == vigil.ENOTFOUND:
			continue
		case err != nil:
			t.getFailed(uid, err)
			continue
		case d.DeletedDate != nil:
			continue
		}
		r, ok := secret(ctx, t, client, smtypes.SecretListEntry{
			ARN: d.ARN, Name: d.Name, Description: d.Description, KmsKeyId: d.KmsKeyId, Tags: d.Tags,
			RotationEnabled: d.RotationEnabled, RotationLambdaARN: d.RotationLambdaARN, RotationRules: d.RotationRules,
			LastRotatedDate: d.LastRotatedDate, LastAccessedDate: d.LastAccessedDate, LastChangedDate: d.LastChangedDate,
			NextRotationDate: d.NextRotationDate, CreatedDate: d.CreatedDate, PrimaryRegion: d.PrimaryRegion,
			OwningService: d.OwningService, DeletedDate: d.DeletedDate,
		})
		if !ok {
			continue
		}
		if err := t.emit(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// secret renders one listed secret's metadata and resource policy; ok is
// false for a secret deleted since it was listed.
func secret(ctx context.Context, t *task, client *secretsmanager.Client, s smtypes.SecretListEntry) (r vigil.Resource, ok bool) {
	name := aws.ToString(s.Name)
	r = vigil.Resource{UID: aws.ToString(s.ARN), Type: TypeSecretsManagerSecret, Name: name,
		Tags: tagMap(s.Tags, func(tg smtypes.Tag) (*string, *string) { return tg.Key, tg.Value })}
	if r.UID == "" {
		r.UID = t.arn("secretsmanager", t.region, "secret:"+name)
	}
	var rules any
	if rr := s.RotationRules; rr != nil {
		days := any(nil)
		if rr.AutomaticallyAfterDays != nil {
			days = *rr.AutomaticallyAfterDays
		}
		rules = map[string]any{
			"automatically_after_days": days,
			"schedule_expression":      strOrNil(rr.ScheduleExpression),
			"duration":                 strOrNil(rr.Duration),
		}
	}
	r.Properties = map[string]any{
		"description":         aws.ToString(s.Description),
		"kms_key_id":          strOrNil(s.KmsKeyId),
		"rotation_enabled":    aws.ToBool(s.RotationEnabled),
		"rotation_lambda_arn": strOrNil(s.RotationLambdaARN),
		"rotation_rules":      rules,
		"last_rotated_date":   tsOrNil(s.LastRotatedDate),
		"last_accessed_date":  tsOrNil(s.LastAccessedDate),
		"last_changed_date":   tsOrNil(s.LastChangedDate),
		"next_rotation_date":  tsOrNil(s.NextRotationDate),
		"created":             tsOrNil(s.CreatedDate),
		"primary_region":      strOrNil(s.PrimaryRegion),
		"owning_service":      strOrNil(s.OwningService),
	}
	// Without a PolicyName this is the "default" policy, the only one an
	// account can attach; a secret without one answers with no
	// ResourcePolicy rather than an error.
	id := cmp.Or(aws.ToString(s.ARN), name)
	pol, err := client.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: &id})
	switch {
	case hasCode(err, "ResourceNotFoundException"):
		return r, false
	case err != nil:
		t.propErr(&r, "policy", err)
	default:
		r.Properties["policy"] = parsePolicy(aws.ToString(pol.ResourcePolicy))
	}
	return r, true
}
