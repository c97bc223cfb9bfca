package iampolicy

import (
	"reflect"
	"testing"
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBucketExposure(t *testing.T) {
	t.Parallel()
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	private := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	allUsersRead := []Grant{{Grantee: AllUsersGroup, Permission: "READ"}}
	authWriteACP := []Grant{{Grantee: AuthenticatedUsersGroup, Permission: "WRITE_ACP"}}
	owner := []Grant{{Grantee: "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be", Permission: "FULL_CONTROL"}}
	o := Options{ResourceType: "aws.s3.bucket", ResourceARN: "arn:aws:s3:::b", Account: "123456789012"}
	for _, tc := range []struct {
		name     string
		policy   string
		acl      []Grant
		bpa      BlockPublicAccess
		public   Verdict
		byPolicy Verdict
		byACL    bool
	}{
		{"nothing public", private, owner, BlockPublicAccess{}, NotPublic, NotPublic, false},
		{"no policy, public ACL", "", allUsersRead, BlockPublicAccess{}, Public, NotPublic, true},
		{"public ACL ignored", "", allUsersRead, BlockPublicAccess{IgnorePublicAcls: true}, NotPublic, NotPublic, false},
		{"BlockPublicAcls does not change an existing ACL", "", allUsersRead, BlockPublicAccess{BlockPublicAcls: true}, Public, NotPublic, true},
		{"public policy", public, owner, BlockPublicAccess{}, Public, Public, false},
		{"public policy restricted", public, owner, BlockPublicAccess{RestrictPublicBuckets: true}, NotPublic, NotPublic, false},
		{"BlockPublicPolicy does not change an existing policy", public, owner, BlockPublicAccess{BlockPublicPolicy: true}, Public, Public, false},
		{"authenticated users may rewrite the ACL", private, authWriteACP, BlockPublicAccess{}, Public, NotPublic, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *Policy
			if tc.policy != "" {
				p = mustParse(t, tc.policy)
			}
			e := BucketExposure(p, o, tc.acl, tc.bpa)
			if e.Public != tc.public || e.ByPolicy != tc.byPolicy || e.ByACL != tc.byACL {
				t.Errorf("got public=%s by_policy=%s by_acl=%v, want %s %s %v (%v)", e.Public, e.ByPolicy, e.ByACL, tc.public, tc.byPolicy, tc.byACL, e.Reasons)
			}
		})
	}
	bucket := BlockPublicAccess{IgnorePublicAcls: true}
	account := BlockPublicAccess{RestrictPublicBuckets: true}
	if got, want := bucket.Effective(account), (BlockPublicAccess{IgnorePublicAcls: true, RestrictPublicBuckets: true}); got != want {
		t.Errorf("effective = %+v, want %+v", got, want)
	}
	if a := PublicACL([]Grant{{AllUsersGroup, "FULL_CONTROL"}}); !a.Public || !a.Read || !a.Write ||
		!reflect.DeepEqual(a.Reasons, []string{"the ACL grants FULL_CONTROL to AllUsers (anyone)"}) {
		t.Errorf("full control: %+v", a)
	}
}

func TestRequiresTLS(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:s3:::b"
	for _, tc := range []struct {
		name, doc string
		want      bool
	}{
		{"documented deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"NotPrincipal excepts the owner", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
		{"deny unless TLS and the endpoint", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"},"StringEquals":{"aws:SourceVpce":"vpce-1"}}}]}`, false},
		{"two denies together cover everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, true},
		{"NotAction leaves reads out", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","NotAction":"s3:Get*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RequiresTLS(mustParse(t, tc.doc), arn, "123456789012"); got != tc.want {
				t.Errorf("RequiresTLS = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPermissionsBoundary(t *testing.T) {
	t.Parallel()
	admin := mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	for _, tc := range []struct {
		name     string
		boundary string
		admin    bool
		paths    []string
	}{
		{"no boundary", "", true, []string{}},
		{"boundary allows everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, true, []string{}},
		{"boundary without iam", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, false,
			[]string{"lambda:UpdateFunctionCode", "glue:UpdateDevEndpoint", "ssm:SendCommand", "ssm:StartSession", "ec2-instance-connect:SendSSHPublicKey", "sts:AssumeRole"}},
		{"boundary of reads only", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}`, false, []string{}},
		{"boundary that denies passing roles", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}]}`, false,
			[]string{"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile", "iam:AttachUserPolicy",
				"iam:AttachGroupPolicy", "iam:AttachRolePolicy+sts:AssumeRole", "iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy+sts:AssumeRole", "iam:AddUserToGroup",
				"iam:UpdateAssumeRolePolicy+sts:AssumeRole", "lambda:UpdateFunctionCode", "glue:UpdateDevEndpoint", "ssm:SendCommand", "ssm:StartSession",
				"ec2-instance-connect:SendSSHPublicKey", "sts:AssumeRole"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b *Policy
			if tc.boundary != "" {
				b = mustParse(t, tc.boundary)
			}
			r := AnalyzePrincipal([]*Policy{admin}, b)
			got := []string{}
			for _, e := range r.Escalations {
				got = append(got, e.Path)
			}
			if r.Admin != tc.admin || !reflect.DeepEqual(got, tc.paths) {
				t.Errorf("admin=%v paths=%q, want admin=%v paths=%q", r.Admin, got, tc.admin, tc.paths)
			}
		})
	}
}
