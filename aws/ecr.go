package aws

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/vigilsec/vigil"
)

// TypeECRRepository is the resource type of an ECR repository.
const TypeECRRepository = "aws.ecr.repository"

func init() {
	register(&service{name: "ecr", types: []string{TypeECRRepository}, collect: collectECR, get: getECR})
}

// collectECR lists the repositories of the account's private registry and
// describes each with its policies and tags. Images are not read.
func collectECR(ctx context.Context, t *task) error {
	client := ecr.NewFromConfig(t.cfg)
	p := ecr.NewDescribeRepositoriesPaginator(client, &ecr.DescribeRepositoriesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, repo := range page.Repositories {
			r, ok := ecrRepository(ctx, t, client, repo)
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

// getECR re-reads the repositories a Get wants, each by name.
func getECR(ctx context.Context, t *task) error {
	client := ecr.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs(TypeECRRepository) {
		// Repository names may hold slashes: the name is all that follows
		// "repository/".
		_, name, _ := strings.Cut(uid, ":repository/")
		out, err := client.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{name}})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case ecrGone(err):
			continue
		case err != nil:
			t.getFailed(uid, err)
			continue
		}
		for _, repo := range out.Repositories {
			r, ok := ecrRepository(ctx, t, client, repo)
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

// ecrRepository describes one listed repository; ok is false for a
// repository deleted since it was listed. All three reads are made before
// any read error is recorded, so that a repository found gone on the last
// one leaves no read errors behind for a resource never emitted.
func ecrRepository(ctx context.Context, t *task, client *ecr.Client, repo ecrtypes.Repository) (r vigil.Resource, ok bool) {
	name := aws.ToString(repo.RepositoryName)
	arn := aws.ToString(repo.RepositoryArn)
	if arn == "" {
		arn = t.arn("ecr", t.region, "repository/"+name)
	}
	pol, polErr := client.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RegistryId: repo.RegistryId, RepositoryName: &name})
	if ecrGone(polErr) {
		return r, false
	}
	lc, lcErr := client.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RegistryId: repo.RegistryId, RepositoryName: &name})
	if ecrGone(lcErr) {
		return r, false
	}
	tags, tagsErr := client.ListTagsForResource(ctx, &ecr.ListTagsForResourceInput{ResourceArn: &arn})
	if ecrGone(tagsErr) {
		return r, false
	}

	var mutability any
	if m := repo.ImageTagMutability; m != "" {
		mutability = string(m)
	}
	var encryption any
	if e := repo.EncryptionConfiguration; e != nil {
		encryption = map[string]any{"type": string(e.EncryptionType), "kms_key": strOrNil(e.KmsKey)}
	}
	r = vigil.Resource{UID: arn, Type: TypeECRRepository, Name: name, Properties: map[string]any{
		"arn":                  arn,
		"uri":                  strOrNil(repo.RepositoryUri),
		"registry_id":          strOrNil(repo.RegistryId),
		"created":              tsOrNil(repo.CreatedAt),
		"image_tag_mutability": mutability,
		// AWS always sends the configuration; were it missing, false (the
		// failing value) is the reading that cannot hide an unscanned push.
		"scan_on_push": repo.ImageScanningConfiguration != nil && repo.ImageScanningConfiguration.ScanOnPush,
		"encryption":   encryption,
	}}
	p := r.Properties
	switch {
	case hasCode(polErr, "RepositoryPolicyNotFoundException"):
		p["policy"] = nil
	case polErr != nil:
		t.propErr(&r, "policy", polErr)
	default:
		p["policy"] = parsePolicy(aws.ToString(pol.PolicyText))
	}
	switch {
	case hasCode(lcErr, "LifecyclePolicyNotFoundException"):
		p["lifecycle_policy"] = nil
	case lcErr != nil:
		t.propErr(&r, "lifecycle_policy", lcErr)
	default:
		p["lifecycle_policy"] = parsePolicy(aws.ToString(lc.LifecyclePolicyText))
	}
	if tagsErr != nil {
		t.propErr(&r, "tags", tagsErr)
	} else {
		r.Tags = tagMap(tags.Tags, func(tg ecrtypes.Tag) (*string, *string) { return tg.Key, tg.Value })
	}
	return r, true
}

// ecrGone reports whether err says the repository no longer exists.
func ecrGone(err error) bool { return hasCode(err, "RepositoryNotFoundException") }
