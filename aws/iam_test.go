package aws

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

const (
	iamAdminDoc  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	iamS3ReadDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}`
	iamEC2Trust  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	iamAcctTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}`
)

// iamSeed is what seedIAM created, for assertions.
type iamSeed struct {
	aliceKey, bobKey1, bobKey2, carolKey string
	aliceMFA                             string
}

// seedIAM creates a realistic mix of good and bad IAM configuration:
//
//   - alice: console password + virtual MFA, member of "admins", one
//     active access key that has been used.
//   - bob: console password without MFA, an attached customer policy and
//     an inline policy, two active keys never used.
//   - carol: no console password, no MFA, one inactive key.
//   - dave: nothing but the user (no credentials at all).
//   - groups "admins" (AdministratorAccess + inline policy, 1 member) and
//     "empty" (no policies, no members).
//   - roles "app" (EC2 trust, attached admin-all), "support" (account
//     trust, AWSSupportAccess) and "shell" (AWSCloudShellFullAccess).
//   - customer policies "admin-all" (*:*, attached to app), "admin-unused"
//     (*:*, attached nowhere) and "s3-read" (attached to bob).
//   - a password policy of length 14 and reuse prevention 24 with every
//     character class required, and one server certificate.
func seedIAM(t *testing.T) iamSeed {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	c := iam.NewFromConfig(cfg)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var s iamSeed
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u),
			Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("sec")}}}))
	}
	for _, u := range []string{"alice", "bob"} {
		must(c.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(u), Password: aws.String("Corr3ct-horse-battery")}))
	}
	dev, err := c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	s.aliceMFA = aws.ToString(dev.VirtualMFADevice.SerialNumber)
	must(c.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("alice"), SerialNumber: &s.aliceMFA,
		AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321")}))

	key := func(user string) *types.AccessKey {
		t.Helper()
		out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		return out.AccessKey
	}
	ak := key("alice")
	s.aliceKey = aws.ToString(ak.AccessKeyId)
	s.bobKey1, s.bobKey2 = aws.ToString(key("bob").AccessKeyId), aws.ToString(key("bob").AccessKeyId)
	s.carolKey = aws.ToString(key("carol").AccessKeyId)
	must(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("carol"), AccessKeyId: &s.carolKey, Status: types.StatusTypeInactive}))
	// Use alice's key once, so that moto records its last use.
	used := cfg.Copy()
	used.Credentials = credentials.NewStaticCredentialsProvider(s.aliceKey, aws.ToString(ak.SecretAccessKey), "")
	must(sts.NewFromConfig(used).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))

	pol := func(name, doc string) string {
		t.Helper()
		out, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Policy.Arn)
	}
	adminAll, s3Read := pol("admin-all", iamAdminDoc), pol("s3-read", iamS3ReadDoc)
	pol("admin-unused", iamAdminDoc)
	must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"), PolicyArn: &s3Read}))
	must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("bob"), PolicyName: aws.String("bob-inline"), PolicyDocument: aws.String(iamS3ReadDoc)}))

	for _, g := range []string{"admins", "empty"} {
		must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)}))
	}
	must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("admins"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	must(c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("admins"), PolicyName: aws.String("admins-inline"), PolicyDocument: aws.String(iamS3ReadDoc)}))
	must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("admins"), UserName: aws.String("alice")}))

	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(iamEC2Trust),
		MaxSessionDuration: aws.Int32(7200), Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}))
	must(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("app"), PolicyArn: &adminAll}))
	must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("app"), PolicyName: aws.String("app-inline"), PolicyDocument: aws.String(iamS3ReadDoc)}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("support"), AssumeRolePolicyDocument: aws.String(iamAcctTrust)}))
	must(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("support"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AWSSupportAccess")}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("shell"), AssumeRolePolicyDocument: aws.String(iamAcctTrust)}))
	must(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("shell"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AWSCloudShellFullAccess")}))

	must(c.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24),
		RequireSymbols: true, RequireNumbers: true, RequireUppercaseCharacters: true, RequireLowercaseCharacters: true,
		AllowUsersToChangePassword: true}))
	must(c.UploadServerCertificate(ctx, &iam.UploadServerCertificateInput{ServerCertificateName: aws.String("legacy-lb"),
		CertificateBody: aws.String(iamTestCertPEM), PrivateKey: aws.String(iamTestKeyPEM)}))
	return s
}

// iamTestCertPEM and iamTestKeyPEM are a throwaway self-signed pair; moto does
// not parse them (it reports a fixed, long-past expiration).
const (
	iamTestCertPEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUXxH0vigil0000000000000000000000wCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----"
	iamTestKeyPEM  = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIvigil00000000000000000000000000000000000000000000oAoGCCqGSM49\n-----END EC PRIVATE KEY-----"
)

// iamJSON renders v for comparisons that ignore Go types.
func iamJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIAMUsers(t *testing.T) {
	moto.Reset(t)
	s := seedIAM(t)
	col := collect(t, []string{"iam"})
	users := col.ofType("aws.iam.user")
	if len(users) != 4 {
		t.Fatalf("got %d users, want 4: %v", len(users), iamNames(users))
	}
	alice, bob, carol, dave := users["alice"], users["bob"], users["carol"], users["dave"]
	if want := "arn:aws:iam::" + testenv.MotoAccount + ":user/alice"; alice.UID != want || alice.Region != "global" {
		t.Errorf("alice uid %q region %q, want %q global", alice.UID, alice.Region, want)
	}
	if alice.Tags["team"] != "sec" {
		t.Errorf("alice tags = %v", alice.Tags)
	}
	for _, r := range users {
		if len(r.ReadErrors) > 0 {
			t.Errorf("%s read errors: %v", r.Name, r.ReadErrors)
		}
		for _, p := range []string{"arn", "user_id", "path", "created", "password_last_used", "permissions_boundary",
			"login_profile", "mfa_devices", "access_keys", "attached_policies", "inline_policies", "groups",
			"effective_policies", "permissions_boundary_policy"} {
			if _, ok := r.Properties[p]; !ok {
				t.Errorf("%s: property %s missing", r.Name, p)
			}
		}
	}

	// Console password: present for alice and bob, null (not an error)
	// for the others.
	for name, want := range map[string]bool{"alice": true, "bob": true, "carol": false, "dave": false} {
		lp := users[name].Properties["login_profile"]
		if got := lp != nil; got != want {
			t.Errorf("%s login_profile = %v, want present %v", name, lp, want)
		}
	}
	if lp, _ := alice.Properties["login_profile"].(map[string]any); lp["created"] == nil || lp["password_reset_required"] != false {
		t.Errorf("alice login_profile = %v", lp)
	}

	mfa := alice.Properties["mfa_devices"].([]any)
	if len(mfa) != 1 {
		t.Fatalf("alice mfa_devices = %v", mfa)
	}
	if d := mfa[0].(map[string]any); d["serial"] != s.aliceMFA || d["kind"] != "virtual" || d["enabled"] == nil {
		t.Errorf("alice mfa device = %v", d)
	}
	if got := iamJSON(t, bob.Properties["mfa_devices"]); got != "[]" {
		t.Errorf("bob mfa_devices = %s, want []", got)
	}

	// Access keys: alice's was used (moto records the use of its key by
	// the STS call), bob's two were never used, carol's is inactive.
	ak := alice.Properties["access_keys"].([]any)
	if len(ak) != 1 {
		t.Fatalf("alice access_keys = %v", ak)
	}
	k := ak[0].(map[string]any)
	if k["id"] != s.aliceKey || k["status"] != "Active" || k["created"] == nil || k["last_used"] == nil || k["last_used_service"] != "sts" {
		t.Errorf("alice key = %v", k)
	}
	bk := bob.Properties["access_keys"].([]any)
	if len(bk) != 2 {
		t.Fatalf("bob access_keys = %v", bk)
	}
	for _, x := range bk {
		k := x.(map[string]any)
		if k["status"] != "Active" || k["last_used"] != nil || k["last_used_service"] != nil {
			t.Errorf("bob key = %v, want active and never used", k)
		}
	}
	if ck := carol.Properties["access_keys"].([]any); len(ck) != 1 || ck[0].(map[string]any)["status"] != "Inactive" {
		t.Errorf("carol access_keys = %v", ck)
	}
	if got := iamJSON(t, dave.Properties["access_keys"]); got != "[]" {
		t.Errorf("dave access_keys = %s", got)
	}

	// Policies and groups.
	if got := iamJSON(t, bob.Properties["attached_policies"]); got != `[{"arn":"arn:aws:iam::123456789012:policy/s3-read","name":"s3-read"}]` {
		t.Errorf("bob attached_policies = %s", got)
	}
	inline := bob.Properties["inline_policies"].([]any)
	if len(inline) != 1 || inline[0].(map[string]any)["name"] != "bob-inline" ||
		iamJSON(t, inline[0].(map[string]any)["document"]) != iamJSON(t, parsePolicy(iamS3ReadDoc)) {
		t.Errorf("bob inline_policies = %v", inline)
	}
	if got := iamJSON(t, alice.Properties["groups"]); got != `["admins"]` {
		t.Errorf("alice groups = %s", got)
	}
	for _, p := range []string{"attached_policies", "inline_policies", "groups"} {
		if got := iamJSON(t, dave.Properties[p]); got != "[]" {
			t.Errorf("dave %s = %s, want []", p, got)
		}
	}
}

func TestIAMGroupsRolesPolicies(t *testing.T) {
	moto.Reset(t)
	seedIAM(t)
	col := collect(t, []string{"iam"})

	groups := col.ofType("aws.iam.group")
	if len(groups) != 2 {
		t.Fatalf("groups = %v", iamNames(groups))
	}
	admins := groups["admins"]
	if admins.Properties["member_count"] != int64(1) || groups["empty"].Properties["member_count"] != int64(0) {
		t.Errorf("member_count admins %v empty %v", admins.Properties["member_count"], groups["empty"].Properties["member_count"])
	}
	if got := iamJSON(t, admins.Properties["attached_policies"]); got != `[{"arn":"arn:aws:iam::aws:policy/AdministratorAccess","name":"AdministratorAccess"}]` {
		t.Errorf("admins attached_policies = %s", got)
	}
	if in := admins.Properties["inline_policies"].([]any); len(in) != 1 || in[0].(map[string]any)["name"] != "admins-inline" {
		t.Errorf("admins inline_policies = %v", in)
	}

	roles := col.ofType("aws.iam.role")
	app, ok := roles["app"]
	if !ok {
		t.Fatalf("roles = %v", iamNames(roles))
	}
	if iamJSON(t, app.Properties["trust_policy"]) != iamJSON(t, parsePolicy(iamEC2Trust)) {
		t.Errorf("app trust_policy = %v", app.Properties["trust_policy"])
	}
	if app.Properties["max_session_duration"] != int64(7200) || app.Properties["service_linked"] != false ||
		app.Properties["path"] != "/" || app.Tags["env"] != "prod" {
		t.Errorf("app = %v tags %v", app.Properties, app.Tags)
	}
	if v, ok := app.Properties["last_used"]; !ok || v != nil {
		t.Errorf("app last_used = %v (present %v), want null", v, ok)
	}
	if got := iamJSON(t, app.Properties["attached_policies"]); got != `[{"arn":"arn:aws:iam::123456789012:policy/admin-all","name":"admin-all"}]` {
		t.Errorf("app attached_policies = %s", got)
	}
	if in := app.Properties["inline_policies"].([]any); len(in) != 1 {
		t.Errorf("app inline_policies = %v", in)
	}
	for _, r := range roles {
		if len(r.ReadErrors) > 0 {
			t.Errorf("role %s read errors %v", r.Name, r.ReadErrors)
		}
	}

	pols := col.ofType("aws.iam.policy")
	if len(pols) != 3 {
		t.Fatalf("customer policies = %v, want admin-all, admin-unused, s3-read only", iamNames(pols))
	}
	for name, want := range map[string]int64{"admin-all": 1, "admin-unused": 0, "s3-read": 1} {
		p := pols[name].Properties
		if p["attachment_count"] != want || p["default_version_id"] != "v1" || p["is_attachable"] != true {
			t.Errorf("policy %s = %v, want attachment_count %d", name, p, want)
		}
	}
	if iamJSON(t, pols["admin-all"].Properties["document"]) != iamJSON(t, parsePolicy(iamAdminDoc)) {
		t.Errorf("admin-all document = %v", pols["admin-all"].Properties["document"])
	}

	certs := col.ofType("aws.iam.server_certificate")
	cert, ok := certs["legacy-lb"]
	if !ok || len(certs) != 1 {
		t.Fatalf("server certificates = %v", iamNames(certs))
	}
	// moto reports a fixed expiration and upload date.
	if cert.Properties["expiration"] != "2012-05-08T01:02:03Z" || cert.Properties["uploaded"] != "2010-05-08T01:02:03Z" {
		t.Errorf("certificate = %v", cert.Properties)
	}
}

func TestIAMAccount(t *testing.T) {
	moto.Reset(t)
	seedIAM(t)
	col := collect(t, []string{"iam"})
	acct := col.account(t)
	if len(acct.ReadErrors) > 0 {
		t.Errorf("account read errors: %v", acct.ReadErrors)
	}
	p := acct.Properties
	// moto answers MaxPasswordAge 0 and HardExpiry false where AWS leaves
	// them out (null); 0 is the API's documented "never expires" as well.
	want := `{"allow_users_to_change_password":true,"expire_passwords":false,"hard_expiry":false,` +
		`"max_password_age":0,"minimum_password_length":14,"password_reuse_prevention":24,` +
		`"require_lowercase_characters":true,"require_numbers":true,"require_symbols":true,"require_uppercase_characters":true}`
	if got := iamJSON(t, p["password_policy"]); got != want {
		t.Errorf("password_policy =\n%s\nwant\n%s", got, want)
	}
	sum, _ := p["account_summary"].(map[string]any)
	if sum["AccountMFAEnabled"] != int64(0) || sum["AccountAccessKeysPresent"] != int64(0) || sum["Users"] != int64(4) {
		t.Errorf("account_summary = %v", sum)
	}
	if p["support_role_attached"] != true || iamJSON(t, p["support_access_entities"]) != `["role/support"]` {
		t.Errorf("support: %v %v", p["support_role_attached"], p["support_access_entities"])
	}
	if p["cloudshell_full_access_attached"] != true || iamJSON(t, p["cloudshell_full_access_entities"]) != `["role/shell"]` {
		t.Errorf("cloudshell: %v %v", p["cloudshell_full_access_attached"], p["cloudshell_full_access_entities"])
	}
	devs := p["virtual_mfa_devices"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["user_name"] != "alice" {
		t.Errorf("virtual_mfa_devices = %v", devs)
	}

	report, _ := p["credential_report"].(map[string]any)
	rows, _ := report["rows"].([]any)
	if len(rows) != 4 {
		t.Fatalf("credential report rows = %v", report)
	}
	// moto has no <root_account> row: root is null, not a made-up row.
	if v, ok := report["root"]; !ok || v != nil {
		t.Errorf("credential_report.root = %v (present %v), want null", v, ok)
	}
	byUser := map[string]map[string]any{}
	for _, r := range rows {
		m := r.(map[string]any)
		byUser[m["user"].(string)] = m
	}
	for user, want := range map[string]map[string]any{
		"alice": {"password_enabled": "true", "mfa_active": "true", "access_key_1_active": "true", "access_key_2_active": "false", "access_key_2_last_rotated": "N/A"},
		"bob":   {"password_enabled": "true", "mfa_active": "false", "access_key_1_active": "true", "access_key_2_active": "true", "password_last_used": "no_information"},
		"carol": {"password_enabled": "false", "password_last_used": "not_supported", "access_key_1_active": "false"},
	} {
		for col, v := range want {
			if byUser[user][col] != v {
				t.Errorf("credential report %s %s = %v, want %v", user, col, byUser[user][col], v)
			}
		}
	}
	if arn, _ := byUser["dave"]["arn"].(string); !strings.HasSuffix(arn, ":user/dave") {
		t.Errorf("dave row = %v", byUser["dave"])
	}
}

// TestIAMNoPasswordPolicy: without a password policy the property is
// null, which is what AWS's NoSuchEntity means, not a read error.
func TestIAMNoPasswordPolicy(t *testing.T) {
	moto.Reset(t)
	col := collect(t, []string{"iam"})
	acct := col.account(t)
	if v, ok := acct.Properties["password_policy"]; !ok || v != nil {
		t.Errorf("password_policy = %v (present %v), want null", v, ok)
	}
	if p := acct.Properties; p["support_role_attached"] != false || p["cloudshell_full_access_attached"] != false {
		t.Errorf("support %v cloudshell %v, want false false", p["support_role_attached"], p["cloudshell_full_access_attached"])
	}
	if _, ok := acct.ReadErrorFor("password_policy"); ok {
		t.Errorf("read errors %v", acct.ReadErrors)
	}
}

// TestAccessAnalyzerUnsupported: moto does not implement Access Analyzer,
// so access_analyzers must be a read error on aws.region, never an empty
// list (which a check would read as "no analyzer").
func TestAccessAnalyzerUnsupported(t *testing.T) {
	moto.Reset(t)
	col := collect(t, []string{"accessanalyzer"}, "us-east-1", "eu-west-1")
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		r := col.region(t, region)
		if v, ok := r.Properties["access_analyzers"]; ok {
			t.Errorf("%s access_analyzers = %v, want absent", region, v)
		}
		e, ok := r.ReadErrorFor("access_analyzers")
		if !ok {
			t.Fatalf("%s: no read error for access_analyzers: %v", region, r.ReadErrors)
		}
		if !strings.HasPrefix(e.Operation, "accessanalyzer:") || e.Code == "" {
			t.Errorf("%s read error = %+v", region, e)
		}
	}
}

// TestIAMForbidden turns on moto's IAM authorization and scans with a user
// denied some calls: a denied listing fails its type (every check of it
// yields error), a denied property or account setting is a read error,
// never a default value.
func TestIAMForbidden(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	for _, u := range []string{"scanner", "alice"} {
		if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("app"), AssumeRolePolicyDocument: aws.String(iamEC2Trust)}); err != nil {
		t.Fatal(err)
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` +
		`{"Effect":"Deny","Action":["iam:GetLoginProfile","iam:GetAccountPasswordPolicy","iam:ListRoles","iam:GenerateCredentialReport"],"Resource":"*"}]}`
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("scanner"), PolicyName: aws.String("scan"), PolicyDocument: &deny}); err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("scanner")})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", aws.ToString(key.AccessKey.AccessKeyId))
	t.Setenv("AWS_SECRET_ACCESS_KEY", aws.ToString(key.AccessKey.SecretAccessKey))
	iamMotoAuth(t, "0")
	t.Cleanup(func() { iamMotoAuth(t, "inf") })

	col := collect(t, []string{"iam"})

	users := col.ofType("aws.iam.user")
	if len(users) != 2 {
		t.Fatalf("users = %v", iamNames(users))
	}
	for _, u := range users {
		if _, ok := u.Properties["login_profile"]; ok {
			t.Errorf("%s login_profile = %v, want absent", u.Name, u.Properties["login_profile"])
		}
		e, ok := u.ReadErrorFor("login_profile")
		if !ok || e.Code != vigil.EFORBIDDEN || e.Operation != "iam:GetLoginProfile" {
			t.Errorf("%s login_profile read error = %+v (found %v)", u.Name, e, ok)
		}
		if u.Properties["access_keys"] == nil || u.Properties["mfa_devices"] == nil {
			t.Errorf("%s: allowed properties missing: %v", u.Name, u.Properties)
		}
	}
	if roles := col.ofType("aws.iam.role"); len(roles) != 0 {
		t.Errorf("roles = %v, want none (listing denied)", iamNames(roles))
	}
	var roleListing bool
	for _, e := range col.readErrors {
		if e.Type == "aws.iam.role" && e.Property == "" {
			roleListing = e.Code == vigil.EFORBIDDEN && e.UID == "arn:aws:vigil::"+testenv.MotoAccount+":account"
		}
	}
	if !roleListing {
		t.Errorf("no forbidden role listing error in %v", col.readErrors)
	}
	for _, s := range col.listed {
		if s.Type == "aws.iam.role" {
			t.Errorf("role listing reported complete: %+v", s)
		}
	}

	acct := col.account(t)
	for _, p := range []string{"password_policy", "credential_report"} {
		if v, ok := acct.Properties[p]; ok {
			t.Errorf("account %s = %v, want absent", p, v)
		}
		if e, ok := acct.ReadErrorFor(p); !ok || e.Code != vigil.EFORBIDDEN {
			t.Errorf("account %s read error = %+v (found %v)", p, e, ok)
		}
	}
	if _, ok := acct.Properties["account_summary"]; !ok {
		t.Errorf("account_summary missing though allowed: %v", acct.ReadErrors)
	}
}

// iamMotoAuth sets how many more requests moto serves before it enforces
// IAM authorization ("0": from now on, "inf": never).
func iamMotoAuth(t *testing.T, count string) {
	t.Helper()
	resp, err := http.Post(moto.URL+"/moto-api/reset-auth", "text/plain", strings.NewReader(count))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto reset-auth %s: %s", count, resp.Status)
	}
}

func TestIAMParseCredentialReport(t *testing.T) {
	csv := "user,arn,user_creation_time,password_enabled,password_last_used,mfa_active,access_key_1_active,access_key_1_last_used_date\n" +
		"<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,2026-11-20T10:00:00+00:00,true,false,N/A\n" +
		"ann,arn:aws:iam::123456789012:user/ann,2021-01-01T00:00:00+00:00,true,no_information,false,true,2026-01-01T00:00:00+00:00\n"
	got, err := iamParseCredentialReport([]byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := got["root"].(map[string]any)
	if root["user"] != "<root_account>" || root["password_last_used"] != "2026-11-20T10:00:00+00:00" ||
		root["mfa_active"] != "true" || root["access_key_1_last_used_date"] != "N/A" {
		t.Errorf("root = %v", root)
	}
	rows := got["rows"].([]any)
	if len(rows) != 2 || rows[1].(map[string]any)["password_last_used"] != "no_information" {
		t.Errorf("rows = %v", rows)
	}
	if _, err := iamParseCredentialReport([]byte("user,arn\n\"broken")); err == nil {
		t.Error("malformed CSV parsed without error")
	}
}

func iamNames(m map[string]vigil.Resource) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestIAMPolicyVersionMoved: when the default version read from the listing
// is gone by the time it is fetched (someone published a new default), the
// policy is still collected, with the new default's document.
func TestIAMPolicyVersionMoved(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	if _, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("moving"), PolicyDocument: &doc}); err != nil {
		t.Fatal(err)
	}
	first := true
	col := collectWith(t, []string{"iam"}, answer("GetPolicyVersion", func(in any) any {
		if first && aws.ToString(in.(*iam.GetPolicyVersionInput).PolicyArn) == "arn:aws:iam::123456789012:policy/moving" {
			first = false
			return &smithy.GenericAPIError{Code: "NoSuchEntity", Message: "version v1 does not exist"}
		}
		return nil
	}))
	pol, ok := col.ofType(typeIAMPolicy)["moving"]
	if !ok {
		t.Fatal("policy dropped although it still exists")
	}
	if pol.Properties["document"] == nil || pol.Properties["default_version_id"] != "v1" || first {
		t.Errorf("document %v, default_version_id %v, refetched %v", pol.Properties["document"], pol.Properties["default_version_id"], !first)
	}
}

// Documents of the effective-policies scenario: each grants one action, so
// that a document in the wrong place cannot pass for another.
const (
	iamDeployV1    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	iamDeployV2    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::artifacts/*"}]}`
	iamDeployV3    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*"}]}`
	iamBoundaryDoc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","sqs:*"],"Resource":"*"}]}`
	iamReadersDoc  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeInstances","Resource":"*"}]}`
	iamErinDoc     = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}`
	iamFrankDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:Publish","Resource":"*"}]}`
	iamWorkerDoc   = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}`

	iamAdministratorAccess = "arn:aws:iam::aws:policy/AdministratorAccess"
	iamDeployARN           = "arn:aws:iam::" + testenv.MotoAccount + ":policy/deploy"
	iamBoundaryARN         = "arn:aws:iam::" + testenv.MotoAccount + ":policy/boundary"
)

// seedIAMEffective creates:
//
//   - customer policy "deploy" with versions v1, v2 (the default) and v3,
//     and customer policy "boundary";
//   - groups "deployers" (deploy attached) and "readers" (inline
//     readers-inline);
//   - user erin: in both groups, inline erin-inline, AdministratorAccess
//     attached, and (through iamUserBoundary, as moto cannot) boundary as
//     permissions boundary;
//   - user frank: no group, no boundary, inline frank-inline and
//     AdministratorAccess attached;
//   - role worker: inline worker-inline, deploy attached, boundary as
//     permissions boundary; role plain: nothing.
func seedIAMEffective(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("deploy"), PolicyDocument: aws.String(iamDeployV1)}))
	must(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(iamDeployARN), PolicyDocument: aws.String(iamDeployV2), SetAsDefault: true}))
	must(c.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(iamDeployARN), PolicyDocument: aws.String(iamDeployV3)}))
	must(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("boundary"), PolicyDocument: aws.String(iamBoundaryDoc)}))

	for _, g := range []string{"deployers", "readers"} {
		must(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)}))
	}
	must(c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("deployers"), PolicyArn: aws.String(iamDeployARN)}))
	must(c.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: aws.String("readers"), PolicyName: aws.String("readers-inline"), PolicyDocument: aws.String(iamReadersDoc)}))

	for u, doc := range map[string]string{"erin": iamErinDoc, "frank": iamFrankDoc} {
		must(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
		must(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(u), PolicyName: aws.String(u + "-inline"), PolicyDocument: aws.String(doc)}))
		must(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(u), PolicyArn: aws.String(iamAdministratorAccess)}))
	}
	for _, g := range []string{"deployers", "readers"} {
		must(c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(g), UserName: aws.String("erin")}))
	}

	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("worker"), AssumeRolePolicyDocument: aws.String(iamEC2Trust),
		PermissionsBoundary: aws.String(iamBoundaryARN)}))
	must(c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("worker"), PolicyName: aws.String("worker-inline"), PolicyDocument: aws.String(iamWorkerDoc)}))
	must(c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String("worker"), PolicyArn: aws.String(iamDeployARN)}))
	must(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("plain"), AssumeRolePolicyDocument: aws.String(iamEC2Trust)}))
}

// iamUserBoundary answers GetUser for user with moto's answer plus the
// permissions boundary arn, which AWS returns and moto cannot store
// (moto has no PutUserPermissionsBoundary).
func iamUserBoundary(t *testing.T, user, arn string) func(*middleware.Stack) error {
	t.Helper()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	return answer("GetUser", func(in any) any {
		input := in.(*iam.GetUserInput)
		if aws.ToString(input.UserName) != user {
			return nil
		}
		out, err := c.GetUser(context.Background(), input)
		if err != nil {
			return err
		}
		out.User.PermissionsBoundary = &types.AttachedPermissionsBoundary{PermissionsBoundaryArn: aws.String(arn),
			PermissionsBoundaryType: types.PermissionsBoundaryAttachmentTypePolicy}
		return out
	})
}

// iamEffective is one expected entry of effective_policies.
func iamEffective(source, name string, arn any, doc string) map[string]any {
	return map[string]any{"source": source, "name": name, "arn": arn, "document": parsePolicy(doc)}
}

// iamCallCounter counts calls to IAM operations by a key of their input.
type iamCallCounter struct {
	mu sync.Mutex
	n  map[string]int
}

// count lets op through to moto, counting it under "op key(input)".
func (c *iamCallCounter) count(op string, key func(in any) string) func(*middleware.Stack) error {
	return answer(op, func(in any) any {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.n[op+" "+key(in)]++
		return nil
	})
}

// TestIAMEffectivePolicies: every identity policy that applies to a
// principal is on the principal, with managed documents at their default
// version, and each managed document and group is read once per scan
// however many principals share it.
func TestIAMEffectivePolicies(t *testing.T) {
	moto.Reset(t)
	seedIAMEffective(t)
	calls := &iamCallCounter{n: map[string]int{}}
	col := collectWith(t, []string{"iam"},
		iamUserBoundary(t, "erin", iamBoundaryARN),
		calls.count("GetPolicy", func(in any) string { return aws.ToString(in.(*iam.GetPolicyInput).PolicyArn) }),
		calls.count("GetPolicyVersion", func(in any) string {
			v := in.(*iam.GetPolicyVersionInput)
			return aws.ToString(v.PolicyArn) + " " + aws.ToString(v.VersionId)
		}),
		calls.count("ListGroupPolicies", func(in any) string { return aws.ToString(in.(*iam.ListGroupPoliciesInput).GroupName) }),
		calls.count("ListAttachedGroupPolicies", func(in any) string {
			return aws.ToString(in.(*iam.ListAttachedGroupPoliciesInput).GroupName)
		}))

	users, groups, roles := col.ofType(typeIAMUser), col.ofType(typeIAMGroup), col.ofType(typeIAMRole)
	for _, m := range []map[string]vigil.Resource{users, groups, roles, col.ofType(typeIAMPolicy)} {
		for _, r := range m {
			if len(r.ReadErrors) > 0 {
				t.Errorf("%s %s read errors: %v", r.Type, r.Name, r.ReadErrors)
			}
		}
	}
	admin := iamEffective("managed", "AdministratorAccess", iamAdministratorAccess, iamAdminDoc)
	for _, tc := range []struct {
		r        vigil.Resource
		want     []any
		boundary any // document, or nil: null; absent for groups
	}{
		{users["erin"], []any{
			iamEffective("inline", "erin-inline", nil, iamErinDoc),
			admin,
			iamEffective("group:deployers", "deploy", iamDeployARN, iamDeployV2),
			iamEffective("group:readers", "readers-inline", nil, iamReadersDoc),
		}, parsePolicy(iamBoundaryDoc)},
		{users["frank"], []any{iamEffective("inline", "frank-inline", nil, iamFrankDoc), admin}, nil},
		{groups["deployers"], []any{iamEffective("managed", "deploy", iamDeployARN, iamDeployV2)}, nil},
		{groups["readers"], []any{iamEffective("inline", "readers-inline", nil, iamReadersDoc)}, nil},
		{roles["worker"], []any{
			iamEffective("inline", "worker-inline", nil, iamWorkerDoc),
			iamEffective("managed", "deploy", iamDeployARN, iamDeployV2),
		}, parsePolicy(iamBoundaryDoc)},
		{roles["plain"], []any{}, nil},
	} {
		if tc.r.Name == "" {
			t.Fatalf("principal missing: users %v groups %v roles %v", iamNames(users), iamNames(groups), iamNames(roles))
		}
		eff, ok := tc.r.Properties["effective_policies"]
		if got, want := iamJSON(t, eff), iamJSON(t, tc.want); !ok || got != want {
			t.Errorf("%s effective_policies =\n%s\nwant\n%s", tc.r.Name, got, want)
		}
		b, ok := tc.r.Properties["permissions_boundary_policy"]
		if tc.r.Type == typeIAMGroup {
			if ok {
				t.Errorf("group %s permissions_boundary_policy = %v, want absent (groups have no boundary)", tc.r.Name, b)
			}
			continue
		}
		if got, want := iamJSON(t, b), iamJSON(t, tc.boundary); !ok || got != want {
			t.Errorf("%s permissions_boundary_policy = %s (present %v), want %s", tc.r.Name, got, ok, want)
		}
	}
	if got := users["erin"].Properties["permissions_boundary"]; got != iamBoundaryARN {
		t.Errorf("erin permissions_boundary = %v, want %s", got, iamBoundaryARN)
	}

	// The policy resources keep their own default-version documents,
	// reused from the effective-policies reads.
	pols := col.ofType(typeIAMPolicy)
	if p := pols["deploy"].Properties; p["default_version_id"] != "v2" || iamJSON(t, p["document"]) != iamJSON(t, parsePolicy(iamDeployV2)) {
		t.Errorf("deploy policy = %v", p)
	}
	if p := pols["boundary"].Properties; p["default_version_id"] != "v1" || iamJSON(t, p["document"]) != iamJSON(t, parsePolicy(iamBoundaryDoc)) {
		t.Errorf("boundary policy = %v", p)
	}

	// AdministratorAccess (erin, frank), deploy (deployers, worker, the
	// policy listing) and boundary (erin, worker, the listing) are each
	// read once; each group's policies are read once for erin and the
	// group resource.
	want := map[string]int{
		"GetPolicy " + iamAdministratorAccess:                1,
		"GetPolicy " + iamDeployARN:                          1,
		"GetPolicy " + iamBoundaryARN:                        1,
		"GetPolicyVersion " + iamAdministratorAccess + " v1": 1,
		"GetPolicyVersion " + iamDeployARN + " v2":           1,
		"GetPolicyVersion " + iamBoundaryARN + " v1":         1,
		"ListGroupPolicies deployers":                        1,
		"ListGroupPolicies readers":                          1,
		"ListAttachedGroupPolicies deployers":                1,
		"ListAttachedGroupPolicies readers":                  1,
	}
	if got, want := iamJSON(t, calls.n), iamJSON(t, want); got != want {
		t.Errorf("calls =\n%s\nwant\n%s", got, want)
	}
}

// TestIAMEffectivePoliciesReadErrors: when any part of a principal's
// policies cannot be read, effective_policies (or the boundary document)
// is absent with a read error, never a partial list; principals that do
// not depend on the failed read are unaffected.
func TestIAMEffectivePoliciesReadErrors(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}
	fail := func(op string, match func(in any) bool, err error) func(*middleware.Stack) error {
		return answer(op, func(in any) any {
			if match(in) {
				return err
			}
			return nil
		})
	}
	for _, tc := range []struct {
		name string
		fail func(*middleware.Stack) error
		// want is every read error of the users, groups, roles and
		// policies, as "type name property code operation".
		want []string
	}{
		{
			name: "managed policy deleted mid-scan",
			fail: fail("GetPolicy", func(in any) bool { return aws.ToString(in.(*iam.GetPolicyInput).PolicyArn) == iamDeployARN },
				&smithy.GenericAPIError{Code: "NoSuchEntity", Message: "Policy " + iamDeployARN + " does not exist or is not attachable."}),
			want: []string{
				"aws.iam.group deployers effective_policies not_found iam:GetPolicy",
				"aws.iam.role worker effective_policies not_found iam:GetPolicy",
				"aws.iam.user erin effective_policies not_found iam:GetPolicy",
			},
		},
		{
			name: "group inline policies denied",
			fail: fail("ListGroupPolicies", func(in any) bool { return aws.ToString(in.(*iam.ListGroupPoliciesInput).GroupName) == "readers" }, denied),
			want: []string{
				"aws.iam.group readers effective_policies forbidden iam:ListGroupPolicies",
				"aws.iam.group readers inline_policies forbidden iam:ListGroupPolicies",
				"aws.iam.user erin effective_policies forbidden iam:ListGroupPolicies",
			},
		},
		{
			name: "boundary document denied",
			fail: fail("GetPolicyVersion", func(in any) bool {
				return aws.ToString(in.(*iam.GetPolicyVersionInput).PolicyArn) == iamBoundaryARN
			}, denied),
			want: []string{
				"aws.iam.policy boundary document forbidden iam:GetPolicyVersion",
				"aws.iam.role worker permissions_boundary_policy forbidden iam:GetPolicyVersion",
				"aws.iam.user erin permissions_boundary_policy forbidden iam:GetPolicyVersion",
			},
		},
		{
			name: "user's groups denied",
			fail: fail("ListGroupsForUser", func(in any) bool { return aws.ToString(in.(*iam.ListGroupsForUserInput).UserName) == "erin" }, denied),
			want: []string{
				"aws.iam.user erin effective_policies forbidden iam:ListGroupsForUser",
				"aws.iam.user erin groups forbidden iam:ListGroupsForUser",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			moto.Reset(t)
			seedIAMEffective(t)
			col := collectWith(t, []string{"iam"}, iamUserBoundary(t, "erin", iamBoundaryARN), tc.fail)
			got := []string{}
			for _, typ := range []string{typeIAMUser, typeIAMGroup, typeIAMRole, typeIAMPolicy} {
				for _, r := range col.ofType(typ) {
					failed := map[string]bool{}
					for _, e := range r.ReadErrors {
						got = append(got, strings.Join([]string{typ, r.Name, e.Property, e.Code, e.Operation}, " "))
						failed[e.Property] = true
						if v, ok := r.Properties[e.Property]; ok {
							t.Errorf("%s %s: %s = %v despite its read error", typ, r.Name, e.Property, v)
						}
					}
					want := []string{"effective_policies", "permissions_boundary_policy"}
					switch typ {
					case typeIAMGroup:
						want = want[:1]
					case typeIAMPolicy:
						want = nil
					}
					for _, p := range want {
						if _, ok := r.Properties[p]; !ok && !failed[p] {
							t.Errorf("%s %s: %s absent without a read error", typ, r.Name, p)
						}
					}
				}
			}
			sort.Strings(got)
			if g, w := strings.Join(got, "\n"), strings.Join(tc.want, "\n"); g != w {
				t.Errorf("read errors:\n%s\nwant\n%s", g, w)
			}
		})
	}
}
