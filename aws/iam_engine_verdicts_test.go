package aws

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/vigilsec/vigil"
)

// TestIAMEngineVerdicts seeds IAM principals whose verdicts need the policy
// engine — a role trust open to GitHub, a role another account may
// assume, escalation through PassRole, through a group's policy, through a
// customer managed policy, a boundary that closes the path, self-service
// key management — collects them from moto and asserts the exact status of
// every engine-backed IAM check on every principal.
func TestIAMEngineVerdicts(t *testing.T) {
	const (
		pass = vigil.StatusPass
		fail = vigil.StatusFail
	)
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	gh, err := c.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: aws.String("https://token.actions.githubusercontent.com"),
		ClientIDList: []string{"sts.amazonaws.com"}, ThumbprintList: []string{"6938fd4d98bab03faadb97b34396831e3780aea1"}})
	if err != nil {
		t.Fatal(err)
	}
	ghARN := aws.ToString(gh.OpenIDConnectProviderArn)
	role := func(name, trust string) {
		t.Helper()
		must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}))
	}
	role("ci-any-repo", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+ghARN+`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`)
	role("ci-main-branch", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"`+ghARN+`"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme/app:ref:refs/heads/main"}}}]}`)
	role("vendor", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}`)
	role("anyone", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)
	role("worker", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)
	must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("worker"), PolicyName: aws.String("deploy"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}]}`)}))

	// Escalation through an inline policy, closed by a boundary for one
	// user; through a group for another; self-service keys for a third.
	passRun := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}`
	boundary, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("no-iam"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("policy-editor"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreatePolicyVersion","iam:ListPolicyVersions"],"Resource":"arn:aws:iam::123456789012:policy/*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"builder", "bounded", "editor", "self"} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
	}
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("builder"), PolicyName: aws.String("build"), PolicyDocument: aws.String(passRun)}))
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bounded"), PolicyName: aws.String("build"), PolicyDocument: aws.String(passRun)}))
	must(c.PutRolePermissionsBoundary(ctx, &iam.PutRolePermissionsBoundaryInput{RoleName: aws.String("worker"), PermissionsBoundary: boundary.Policy.Arn}))
	must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("policy-admins")}))
	must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("policy-admins"), PolicyArn: versions.Policy.Arn}))
	must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("policy-admins"), UserName: aws.String("editor")}))
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("self"), PolicyName: aws.String("own-keys"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:DeleteAccessKey","iam:UpdateAccessKey"],"Resource":"arn:aws:iam::*:user/${aws:username}"}]}`)}))

	col := collect(t, []string{"iam"})
	got := verdicts(t, col)
	want := map[string]map[string]vigil.Status{
		"aws-iam-role-trust-federated-pinned": {"ci-any-repo": fail, "ci-main-branch": pass, "vendor": pass, "anyone": pass, "worker": pass},
		// anyone: "*" is the public check's finding, not this one's.
		"aws-iam-role-trust-no-untrusted-accounts": {"ci-any-repo": pass, "ci-main-branch": pass, "vendor": fail, "anyone": pass, "worker": pass},
		"aws-iam-role-trust-not-public":            {"ci-any-repo": pass, "ci-main-branch": pass, "vendor": pass, "anyone": fail, "worker": pass},
		// worker's boundary leaves lambda but not iam:PassRole.
		"aws-iam-role-no-privilege-escalation": {"ci-any-repo": pass, "ci-main-branch": pass, "vendor": pass, "anyone": pass, "worker": pass},
		// bounded has no boundary on users in moto (it cannot set one), so
		// it escalates like builder.
		"aws-iam-user-no-privilege-escalation":  {"builder": fail, "bounded": fail, "editor": fail, "self": pass},
		"aws-iam-group-no-privilege-escalation": {"policy-admins": fail},
		// no-iam (NotAction iam:*) opens lambda:UpdateFunctionCode and
		// others on its own; moto does not count its use as a boundary
		// (PermissionsBoundaryUsageCount 0), so it is in scope.
		"aws-iam-policy-no-privilege-escalation": {"no-iam": fail, "policy-editor": fail},
		"aws-iam-user-no-admin-access":           {"builder": pass, "bounded": pass, "editor": pass, "self": pass},
	}
	for id, w := range want {
		for name, ws := range w {
			if gs := got[id][name]; gs != ws {
				t.Errorf("%s on %s: got %q, want %s (%s)", id, name, gs, ws, reasons(t, col, id)[name])
			}
		}
		for name := range got[id] {
			if _, ok := w[name]; !ok {
				t.Errorf("%s on %s: unexpected result %s", id, name, got[id][name])
			}
		}
	}
	if r := reasons(t, col, "aws-iam-user-no-privilege-escalation")["editor"]; !strings.Contains(r, "iam:CreatePolicyVersion") {
		t.Errorf("editor's reason does not name the path: %s", r)
	}
	if r := reasons(t, col, "aws-iam-role-trust-federated-pinned")["ci-any-repo"]; !strings.Contains(r, ghARN) {
		t.Errorf("ci-any-repo's reason does not name the provider: %s", r)
	}
}
