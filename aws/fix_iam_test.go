package aws

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
)

// iamDenied answers a call the way AWS refuses it; with answer, it makes
// every call of an operation fail.
func iamDenied(any) any { return &smithy.GenericAPIError{Code: "AccessDenied", Message: "denied"} }

// iamCallResults renders calls as "operation" or "operation: error".
func iamCallResults(calls []vigil.FixCall) []string {
	out := []string{}
	for _, c := range calls {
		s := c.Operation
		if c.Error != "" {
			s += ": " + c.Error
		}
		out = append(out, s)
	}
	return out
}

// iamApplyDenied applies a plan that is expected to fail and asserts the
// outcome, the calls made (with their errors) and that the stored record
// says exactly that.
func iamApplyDenied(t *testing.T, h *fixHarness, j *fix.Job, f vigil.Fix, p *fix.Plan, wantReason string, wantCalls []string) vigil.Fix {
	t.Helper()
	ctx := context.Background()
	out, err := h.runner.Apply(ctx, j, f, p)
	h.checkPermissions(j.Action)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if out.Status != vigil.FixFailed || out.Reason != wantReason {
		t.Errorf("outcome %s: %q, want failed: %q", out.Status, out.Reason, wantReason)
	}
	if got := iamCallResults(out.Calls); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("calls %q, want %q", got, wantCalls)
	}
	stored, err := h.store.Fix(ctx, out.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != vigil.FixFailed || stored.Reason != wantReason || !reflect.DeepEqual(iamCallResults(stored.Calls), wantCalls) {
		t.Errorf("stored record %s: %q, calls %q", stored.Status, stored.Reason, iamCallResults(stored.Calls))
	}
	return out
}

// iamPlanError prepares and plans a fix that must be refused, and returns
// the error, asserting the refusal is recorded as a failed plan.
func iamPlanError(t *testing.T, h *fixHarness, checkID, uid string, params map[string]any) error {
	t.Helper()
	ctx := context.Background()
	j, err := h.runner.Prepare(ctx, checkID, uid, params)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	f, p, err := h.runner.Plan(ctx, j, "user:test", "fix-now")
	h.checkPermissions(j.Action)
	if err == nil {
		t.Fatalf("plan %s with %v: %+v, want a refusal", checkID, params, p)
	}
	if f.Status != vigil.FixFailed || !strings.HasPrefix(f.Reason, "plan: ") {
		t.Errorf("refused plan recorded as %s: %q", f.Status, f.Reason)
	}
	return err
}

// iamEvaluate evaluates checks on a resource read back with the scanning
// credentials, at the runner's clock.
func iamEvaluate(t *testing.T, h *fixHarness, r vigil.Resource, checkIDs ...string) map[string]vigil.Status {
	t.Helper()
	fresh, err := h.fixer.Refresh(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if h.runner.Now != nil {
		now = h.runner.Now()
	}
	out := map[string]vigil.Status{}
	for _, id := range checkIDs {
		c, ok := h.runner.Checks.Get(id)
		if !ok {
			t.Fatalf("no check %s", id)
		}
		out[id] = c.Evaluate(policy.NewInput(&fresh, now)).Status
	}
	return out
}

func TestFixIAMSetPasswordPolicy(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	checks := []string{"aws-iam-password-policy-min-length-14", "aws-iam-password-policy-reuse-24", "aws-iam-password-policy-strong"}
	policy := func() *iamtypes.PasswordPolicy {
		t.Helper()
		out, err := c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
		if iamIsGone(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return out.PasswordPolicy
	}
	// settings renders a policy for comparison ("none" for no policy).
	settings := func(pp *iamtypes.PasswordPolicy) map[string]any {
		if pp == nil {
			return map[string]any{"none": true}
		}
		return iamPasswordPolicy(pp)
	}
	pass := map[string]vigil.Status{checks[0]: vigil.StatusPass, checks[1]: vigil.StatusPass, checks[2]: vigil.StatusPass}

	t.Run("no policy", func(t *testing.T) {
		h := newFixHarness(t, []string{"iam"})
		acct := h.col.account(t)
		j, f, p := h.plan("aws-iam-password-policy-min-length-14", acct.UID, nil)
		if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"iam:UpdateAccountPasswordPolicy"}) {
			t.Errorf("planned calls %v", got)
		}
		wantIn := map[string]any{"MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "MaxPasswordAge": 90,
			"RequireSymbols": true, "RequireNumbers": true, "RequireUppercaseCharacters": true,
			"RequireLowercaseCharacters": true, "AllowUsersToChangePassword": true}
		if !reflect.DeepEqual(p.Calls[0].Input, wantIn) {
			t.Errorf("planned input %v", p.Calls[0].Input)
		}
		if policy() != nil {
			t.Fatal("the plan set a password policy")
		}
		done := h.apply(j, f, p)
		want := map[string]any{"minimum_password_length": int64(14), "password_reuse_prevention": int64(24),
			"max_password_age": int64(90), "expire_passwords": true, "hard_expiry": false, // moto says false, not absent
			"require_symbols": true, "require_numbers": true, "require_uppercase_characters": true,
			"require_lowercase_characters": true, "allow_users_to_change_password": true}
		if got := settings(policy()); !reflect.DeepEqual(got, want) {
			t.Errorf("after the fix: %v\nwant %v", got, want)
		}
		if got := iamEvaluate(t, h, acct, checks...); !reflect.DeepEqual(got, pass) {
			t.Errorf("checks after the fix: %v", got)
		}
		// Applied, the policy needs nothing more.
		_, _, again := h.plan("aws-iam-password-policy-strong", acct.UID, nil)
		if !again.NoOp || len(again.Calls) != 0 {
			t.Errorf("second plan: %+v", again)
		}
		undo := h.undo(done.ID)
		if got := operations(undo.Calls); !reflect.DeepEqual(got, []string{"iam:DeleteAccountPasswordPolicy"}) {
			t.Errorf("undo calls %v", got)
		}
		if pp := policy(); pp != nil {
			t.Errorf("after undo: %v, want no policy", settings(pp))
		}
	})

	t.Run("stricter settings are kept", func(t *testing.T) {
		// Longer minimum, shorter expiry and hard expiry are stricter than
		// CIS and stay; reuse 5 and no symbols are weaker and change.
		seed := &iam.UpdateAccountPasswordPolicyInput{MinimumPasswordLength: aws.Int32(20), PasswordReusePrevention: aws.Int32(5),
			MaxPasswordAge: aws.Int32(30), HardExpiry: aws.Bool(true), RequireNumbers: true, RequireUppercaseCharacters: true,
			RequireLowercaseCharacters: true, AllowUsersToChangePassword: false, RequireSymbols: false}
		must[any](t)(c.UpdateAccountPasswordPolicy(ctx, seed))
		before := settings(policy())
		h := newFixHarness(t, []string{"iam"})
		acct := h.col.account(t)
		j, f, p := h.plan("aws-iam-password-policy-reuse-24", acct.UID, nil)
		wantIn := map[string]any{"MinimumPasswordLength": 20, "PasswordReusePrevention": 24, "MaxPasswordAge": 30, "HardExpiry": true,
			"RequireSymbols": true, "RequireNumbers": true, "RequireUppercaseCharacters": true,
			"RequireLowercaseCharacters": true, "AllowUsersToChangePassword": true}
		if len(p.Calls) != 1 || !reflect.DeepEqual(p.Calls[0].Input, wantIn) {
			t.Errorf("planned calls %+v", p.Calls)
		}
		if got := settings(policy()); !reflect.DeepEqual(got, before) {
			t.Fatalf("the plan changed the policy: %v", got)
		}
		done := h.apply(j, f, p)
		want := map[string]any{"minimum_password_length": int64(20), "password_reuse_prevention": int64(24),
			"max_password_age": int64(30), "expire_passwords": true, "hard_expiry": true,
			"require_symbols": true, "require_numbers": true, "require_uppercase_characters": true,
			"require_lowercase_characters": true, "allow_users_to_change_password": true}
		if got := settings(policy()); !reflect.DeepEqual(got, want) {
			t.Errorf("after the fix: %v\nwant %v", got, want)
		}
		if got := iamEvaluate(t, h, acct, checks...); !reflect.DeepEqual(got, pass) {
			t.Errorf("checks after the fix: %v", got)
		}
		h.undo(done.ID)
		if got := settings(policy()); !reflect.DeepEqual(got, before) {
			t.Errorf("after undo: %v\nwant %v", got, before)
		}
	})

	t.Run("denied", func(t *testing.T) {
		// The one call fails: the fix is failed and the policy unchanged.
		before := settings(policy())
		h := newFixHarness(t, []string{"iam"})
		j, f, p := h.plan("aws-iam-password-policy-strong", h.col.account(t).UID, nil)
		h.fixer.APIOptions = append(h.fixer.APIOptions, answer("UpdateAccountPasswordPolicy", iamDenied))
		iamApplyDenied(t, h, j, f, p, "apply: iam:UpdateAccountPasswordPolicy: AccessDenied: denied",
			[]string{"iam:UpdateAccountPasswordPolicy: AccessDenied: denied"})
		if got := settings(policy()); !reflect.DeepEqual(got, before) {
			t.Errorf("after the failed fix: %v\nwant %v", got, before)
		}
	})
}

func TestFixIAMDeactivateUnusedAccessKeys(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	// moto stamps a key's creation (and its last use) with the time of the
	// call, so the keys are "unused" only on a clock moved forward: the
	// fixer's and the runner's clocks are 100 days ahead.
	ahead := func() time.Time { return time.Now().Add(100 * 24 * time.Hour) }
	keys := map[string][]string{}
	for _, u := range []string{"stale", "partial"} {
		must[any](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u)}))
		for range 2 {
			k, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u)})
			if err != nil {
				t.Fatal(err)
			}
			keys[u] = append(keys[u], aws.ToString(k.AccessKey.AccessKeyId))
		}
	}
	// stale's second key is already inactive: the fix leaves it, and undo
	// does not turn it on.
	must[any](t)(c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("stale"),
		AccessKeyId: aws.String(keys["stale"][1]), Status: iamtypes.StatusTypeInactive}))
	status := func(user string) map[string]string {
		t.Helper()
		out, err := c.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, k := range out.AccessKeyMetadata {
			m[aws.ToString(k.AccessKeyId)] = string(k.Status)
		}
		return m
	}
	h := newFixHarness(t, []string{"iam"})
	h.fixer.scan.opts.Now, h.runner.Now = ahead, ahead
	const check = "aws-iam-user-unused-credentials-90-days"
	stale := h.uid(typeIAMUser, "stale")

	// Within the threshold given, nothing is eligible.
	_, _, p := h.plan(check, stale, map[string]any{"unused_days": 120})
	if !p.NoOp || len(p.Calls) != 0 {
		t.Errorf("unused_days 120: %+v", p)
	}

	j, f, p := h.plan(check, stale, nil) // default 90
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"iam:UpdateAccessKey"}) {
		t.Fatalf("planned calls %v", got)
	}
	if want := map[string]any{"UserName": "stale", "AccessKeyId": keys["stale"][0], "Status": "Inactive"}; !reflect.DeepEqual(p.Calls[0].Input, want) {
		t.Errorf("planned input %v", p.Calls[0].Input)
	}
	if want := map[string]string{keys["stale"][0]: "Active", keys["stale"][1]: "Inactive"}; !reflect.DeepEqual(status("stale"), want) {
		t.Fatalf("the plan changed the keys: %v", status("stale"))
	}
	done := h.apply(j, f, p)
	if want := map[string]string{keys["stale"][0]: "Inactive", keys["stale"][1]: "Inactive"}; !reflect.DeepEqual(status("stale"), want) {
		t.Errorf("after the fix: %v", status("stale"))
	}
	h.undo(done.ID)
	if want := map[string]string{keys["stale"][0]: "Active", keys["stale"][1]: "Inactive"}; !reflect.DeepEqual(status("stale"), want) {
		t.Errorf("after undo: %v, want only the deactivated key active again", status("stale"))
	}

	// Two keys to deactivate, the second call denied: the first key is
	// off, the second still on, and the record says so.
	partial := h.uid(typeIAMUser, "partial")
	j, f, p = h.plan(check, partial, map[string]any{"unused_days": 90})
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"iam:UpdateAccessKey", "iam:UpdateAccessKey"}) {
		t.Fatalf("planned calls %v", got)
	}
	n, recording := 0, h.fixer.APIOptions
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("UpdateAccessKey", func(any) any {
		if n++; n == 2 {
			return iamDenied(nil)
		}
		return nil
	}))
	failed := iamApplyDenied(t, h, j, f, p, "apply: iam:UpdateAccessKey: AccessDenied: denied",
		[]string{"iam:UpdateAccessKey", "iam:UpdateAccessKey: AccessDenied: denied"})
	first, second := p.Calls[0].Input["AccessKeyId"].(string), p.Calls[1].Input["AccessKeyId"].(string)
	if want := map[string]string{first: "Inactive", second: "Active"}; !reflect.DeepEqual(status("partial"), want) {
		t.Errorf("after the half-way fix: %v, want %v", status("partial"), want)
	}
	// Undo of the half-way fix re-activates what it had planned to turn off.
	h.fixer.APIOptions = recording
	h.undo(failed.ID)
	if want := map[string]string{first: "Active", second: "Active"}; !reflect.DeepEqual(status("partial"), want) {
		t.Errorf("after undo: %v", status("partial"))
	}

	for _, v := range []any{0, 3651, -5, 1.5, "often", true} {
		err := iamPlanError(t, h, check, stale, map[string]any{"unused_days": v})
		if !strings.Contains(err.Error(), "param unused_days must be a whole number of days from 1 to 3650") || vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("unused_days %v: %v", v, err)
		}
	}
}

func TestFixIAMDetachAdminPolicies(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := iam.NewFromConfig(moto.Config(t, "us-east-1"))
	const (
		adminARN    = "arn:aws:iam::aws:policy/AdministratorAccess"
		readOnlyARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
		adminDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
		ownDoc      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:ChangePassword","iam:GetUser"],"Resource":"arn:aws:iam::123456789012:user/boss"}]}`
	)
	must[any](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("boss")}))
	for _, arn := range []string{adminARN, readOnlyARN} {
		must[any](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("boss"), PolicyArn: aws.String(arn)}))
	}
	must[any](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("boss"), PolicyName: aws.String("everything"), PolicyDocument: aws.String(adminDoc)}))
	must[any](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("boss"), PolicyName: aws.String("own"), PolicyDocument: aws.String(ownDoc)}))
	// policies renders the user's managed policy arns and inline documents.
	policies := func() map[string]string {
		t.Helper()
		m := map[string]string{}
		att, err := c.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("boss")})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range att.AttachedPolicies {
			m[aws.ToString(p.PolicyArn)] = "attached"
		}
		names, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("boss")})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names.PolicyNames {
			out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("boss"), PolicyName: aws.String(n)})
			if err != nil {
				t.Fatal(err)
			}
			m["inline "+n] = iamDecodeDocument(aws.ToString(out.PolicyDocument))
		}
		return m
	}
	all := map[string]string{adminARN: "attached", readOnlyARN: "attached", "inline everything": adminDoc, "inline own": ownDoc}
	if got := policies(); !reflect.DeepEqual(got, all) {
		t.Fatalf("seeded %v", got)
	}
	h := newFixHarness(t, []string{"iam"})
	const check = "aws-iam-user-no-admin-access"
	boss := h.uid(typeIAMUser, "boss")

	// Without the explicit opt-in the plan refuses and reads nothing.
	for _, params := range []map[string]any{nil, {"allow_admin_detach": false}, {"allow_admin_detach": "yes"}} {
		err := iamPlanError(t, h, check, boss, params)
		if !strings.Contains(err.Error(), "set the param allow_admin_detach to true") || vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("params %v: %v", params, err)
		}
	}

	opt := map[string]any{"allow_admin_detach": true}
	j, f, p := h.plan(check, boss, opt)
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"iam:DetachUserPolicy", "iam:DeleteUserPolicy"}) {
		t.Fatalf("planned calls %v", got)
	}
	if p.Calls[0].Input["PolicyArn"] != adminARN || p.Calls[1].Input["PolicyName"] != "everything" {
		t.Errorf("planned inputs %v, %v", p.Calls[0].Input, p.Calls[1].Input)
	}
	if got := policies(); !reflect.DeepEqual(got, all) {
		t.Fatalf("the plan changed the policies: %v", got)
	}
	done := h.apply(j, f, p)
	if got, want := policies(), map[string]string{readOnlyARN: "attached", "inline own": ownDoc}; !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: %v, want %v", got, want)
	}
	h.undo(done.ID)
	if got := policies(); !reflect.DeepEqual(got, all) {
		t.Errorf("after undo: %v, want %v", got, all)
	}
}
