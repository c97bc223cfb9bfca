package aws

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
)

// publicRepoPolicy lets anyone pull images from the repository.
const publicRepoPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow",` +
	`"Principal":"*","Action":"ecr:BatchGetImage"}]}`

// expireUntagged expires untagged images after 14 days.
const expireUntagged = `{"rules":[{"rulePriority":1,"description":"expire untagged",` +
	`"selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},` +
	`"action":{"type":"expire"}}]}`

// seedRepositories creates two repositories in us-east-1: "app" (immutable
// tags, scan on push, a public repository policy, a lifecycle policy, tags)
// and "bare" (nothing but the defaults).
func seedRepositories(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := ecr.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app"),
		ImageTagMutability:         ecrtypes.ImageTagMutabilityImmutable,
		ImageScanningConfiguration: &ecrtypes.ImageScanningConfiguration{ScanOnPush: true},
		Tags:                       []ecrtypes.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String("app"),
		PolicyText: aws.String(publicRepoPolicy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: aws.String("app"),
		LifecyclePolicyText: aws.String(expireUntagged)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("bare")}); err != nil {
		t.Fatal(err)
	}
}

func TestECR(t *testing.T) {
	moto.Reset(t)
	seedRepositories(t)
	col := collect(t, []string{"ecr"})
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	repos := col.ofType(TypeECRRepository)
	if len(repos) != 2 {
		t.Fatalf("got %d repositories (%v), want 2", len(repos), ec2Keys(repos))
	}
	for name, want := range map[string]struct {
		tags  map[string]string
		props map[string]any
	}{
		"app": {map[string]string{"team": "payments"}, map[string]any{
			"arn":                  "arn:aws:ecr:us-east-1:123456789012:repository/app",
			"uri":                  "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
			"registry_id":          "123456789012",
			"image_tag_mutability": "IMMUTABLE",
			"scan_on_push":         true,
			"encryption":           map[string]any{"type": "AES256", "kms_key": nil},
			"policy":               parsePolicyJSON(t, publicRepoPolicy),
			"lifecycle_policy":     parsePolicyJSON(t, expireUntagged),
		}},
		"bare": {nil, map[string]any{
			"arn":                  "arn:aws:ecr:us-east-1:123456789012:repository/bare",
			"uri":                  "123456789012.dkr.ecr.us-east-1.amazonaws.com/bare",
			"registry_id":          "123456789012",
			"image_tag_mutability": "MUTABLE",
			"scan_on_push":         false,
			"encryption":           map[string]any{"type": "AES256", "kms_key": nil},
			"policy":               nil,
			"lifecycle_policy":     nil,
		}},
	} {
		r, ok := repos[name]
		if !ok {
			t.Errorf("no repository %s", name)
			continue
		}
		if r.UID != want.props["arn"] || r.Region != "us-east-1" {
			t.Errorf("%s: uid %s region %s", name, r.UID, r.Region)
		}
		if !reflect.DeepEqual(r.Tags, want.tags) {
			t.Errorf("%s tags = %v, want %v", name, r.Tags, want.tags)
		}
		// created is moto's clock: check that it is a timestamp, then
		// compare everything else exactly.
		props := map[string]any{}
		for k, v := range r.Properties {
			props[k] = v
		}
		created, _ := props["created"].(string)
		if _, err := time.Parse(timeFormat, created); err != nil {
			t.Errorf("%s.created = %#v, want a timestamp", name, props["created"])
		}
		delete(props, "created")
		if !reflect.DeepEqual(props, want.props) {
			t.Errorf("%s properties\n got %#v\nwant %#v", name, props, want.props)
		}
	}
}

// TestECRReadErrors checks that each per-repository read that fails takes
// only its own property away, with a read error naming the operation and
// the classified code, and that a repository deleted since it was listed is
// skipped without read errors whichever read finds it gone.
func TestECRReadErrors(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}
	gone := &ecrtypes.RepositoryNotFoundException{Message: aws.String("The repository with name 'app' does not exist")}
	for _, tc := range []struct {
		operation string
		property  string
	}{
		{"GetRepositoryPolicy", "policy"},
		{"GetLifecyclePolicy", "lifecycle_policy"},
		{"ListTagsForResource", "tags"},
	} {
		t.Run(tc.operation, func(t *testing.T) {
			moto.Reset(t)
			seedRepositories(t)
			fail := func(err error) func(any) any {
				return func(in any) any {
					var name string
					switch in := in.(type) {
					case *ecr.GetRepositoryPolicyInput:
						name = aws.ToString(in.RepositoryName)
					case *ecr.GetLifecyclePolicyInput:
						name = aws.ToString(in.RepositoryName)
					case *ecr.ListTagsForResourceInput:
						name = aws.ToString(in.ResourceArn)[len("arn:aws:ecr:us-east-1:123456789012:repository/"):]
					}
					if name == "app" {
						return err
					}
					return nil
				}
			}

			col := collectWith(t, []string{"ecr"}, answer(tc.operation, fail(denied)))
			repos := col.ofType(TypeECRRepository)
			app := repos["app"]
			if len(repos) != 2 || len(col.readErrors) != 1 || len(app.ReadErrors) != 1 {
				t.Fatalf("got repositories %v, read errors %v, want both repositories and one read error on app",
					ec2Keys(repos), col.readErrors)
			}
			e, ok := app.ReadErrorFor(tc.property)
			if want := "ecr:" + tc.operation; !ok || e.Code != vigil.EFORBIDDEN || e.Operation != want ||
				e.UID != "arn:aws:ecr:us-east-1:123456789012:repository/app" {
				t.Errorf("read error for %s = %+v (found %v), want %s on %s", tc.property, e, ok, vigil.EFORBIDDEN, want)
			}
			if tc.property == "tags" {
				if app.Tags != nil {
					t.Errorf("tags = %v after a failed ListTagsForResource, want none", app.Tags)
				}
			} else if v, present := app.Properties[tc.property]; present {
				t.Errorf("%s = %#v, want it absent", tc.property, v)
			}
			for _, k := range []string{"policy", "lifecycle_policy"} {
				if _, present := app.Properties[k]; !present && k != tc.property {
					t.Errorf("%s is missing although its read succeeded", k)
				}
			}

			col = collectWith(t, []string{"ecr"}, answer(tc.operation, fail(gone)))
			repos = col.ofType(TypeECRRepository)
			if _, ok := repos["app"]; ok || len(repos) != 1 || len(col.readErrors) != 0 {
				t.Errorf("app gone at %s: got repositories %v, read errors %v, want only bare and none",
					tc.operation, ec2Keys(repos), col.readErrors)
			}
		})
	}
}
