package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/iampolicy"
)

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &iamSetPasswordPolicy{fixAction{f: f, id: "aws.iam.set-password-policy", typ: TypeAccount,
				title: "set a CIS password policy (14 characters, 24 remembered, all character classes, 90-day expiry) without weakening stricter settings",
				perms: []string{"iam:GetAccountPasswordPolicy", "iam:UpdateAccountPasswordPolicy", "iam:DeleteAccountPasswordPolicy"},
				// The password policy is a property of aws.account that the
				// iam collector sets.
				services: []string{"iam"}}}
		},
		func(f *Fixer) fix.Action {
			return &iamDeactivateUnusedKeys{fixAction{f: f, id: "aws.iam.deactivate-unused-access-keys", typ: typeIAMUser,
				title: "deactivate (not delete) the user's active access keys unused for unused_days (default 90)",
				perms: []string{"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:UpdateAccessKey"}}}
		},
		func(f *Fixer) fix.Action {
			return &iamDetachAdminPolicies{fixAction{f: f, id: "aws.iam.detach-admin-policies", typ: typeIAMUser,
				title: "detach the user's managed policies and delete (after saving) its inline policies that grant full administrator access; needs allow_admin_detach",
				perms: []string{"iam:ListAttachedUserPolicies", "iam:GetPolicy", "iam:GetPolicyVersion",
					"iam:ListUserPolicies", "iam:GetUserPolicy", "iam:DetachUserPolicy", "iam:DeleteUserPolicy",
					"iam:AttachUserPolicy", "iam:PutUserPolicy"}}}
		},
	)
}

// iamClient returns an IAM client with the remediation credentials. IAM is
// global: the client uses the configuration's home region.
func (f *Fixer) iamClient(ctx context.Context, account string) (*iam.Client, error) {
	cfg, err := f.config(ctx, account, "")
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

// The CIS AWS Foundations Benchmark 3.0 password policy (1.8, 1.9) with
// the expiry most frameworks ask for.
const (
	iamMinPasswordLength = 14
	iamPasswordReuse     = 24 // the most IAM allows
	iamMaxPasswordAge    = 90
)

// iamSetPasswordPolicy sets the account password policy. Each setting is
// the stricter of the current one and the CIS one, so a longer minimum or
// a shorter expiry stays. UpdateAccountPasswordPolicy replaces the whole
// policy, so the call names every setting, hard expiry included. Undo
// puts the previous policy back, or deletes it when there was none.
type iamSetPasswordPolicy struct{ fixAction }

func (a *iamSetPasswordPolicy) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return nil, err
	}
	out, err := c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	var cur *types.PasswordPolicy
	switch {
	case iamIsGone(err): // no policy: IAM's defaults apply
	case err != nil:
		return nil, fmt.Errorf("iam:GetAccountPasswordPolicy: %w", errorf(err))
	default:
		cur = out.PasswordPolicy
	}
	before := map[string]any{"password_policy": nil}
	now := "none"
	if cur != nil {
		prev := iamPasswordPolicy(cur)
		before["password_policy"] = prev
		b, _ := json.Marshal(prev)
		now = string(b)
	}
	want := iamStricterPasswordPolicy(cur)
	in := iamPasswordPolicyInput(want)
	if cur != nil && iamSamePasswordPolicy(cur, want) {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{"the account password policy already meets or exceeds the CIS settings"}}, nil
	}
	b, _ := json.Marshal(in)
	return &fix.Plan{
		Steps:  []string{fmt.Sprintf("set the account password policy to %s (now: %s)", b, now)},
		Calls:  fixCalls{{"iam:UpdateAccountPasswordPolicy", in}}.calls(),
		Before: before,
	}, nil
}

func (a *iamSetPasswordPolicy) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	cur, _ := p.Before["password_policy"].(map[string]any)
	var pp *types.PasswordPolicy
	if cur != nil {
		pp = iamPasswordPolicyFrom(cur)
	}
	return a.put(ctx, t, iamStricterPasswordPolicy(pp), rec)
}

func (a *iamSetPasswordPolicy) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, _ := before["password_policy"].(map[string]any)
	if prev == nil {
		c, err := a.f.iamClient(ctx, t.Resource.Account)
		if err != nil {
			return err
		}
		return rec.Do("iam:DeleteAccountPasswordPolicy", map[string]any{}, func() error {
			_, err := c.DeleteAccountPasswordPolicy(ctx, &iam.DeleteAccountPasswordPolicyInput{})
			return errorOf(err)
		})
	}
	in := &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength:      iamOptInt32(prev["minimum_password_length"]),
		RequireSymbols:             iamBool(prev["require_symbols"]),
		RequireNumbers:             iamBool(prev["require_numbers"]),
		RequireUppercaseCharacters: iamBool(prev["require_uppercase_characters"]),
		RequireLowercaseCharacters: iamBool(prev["require_lowercase_characters"]),
		AllowUsersToChangePassword: iamBool(prev["allow_users_to_change_password"]),
		// Absent, these mean what they meant before: passwords never
		// expire, reuse is not prevented, no hard expiry.
		MaxPasswordAge:          iamOptInt32(prev["max_password_age"]),
		PasswordReusePrevention: iamOptInt32(prev["password_reuse_prevention"]),
	}
	if h, ok := prev["hard_expiry"].(bool); ok {
		in.HardExpiry = aws.Bool(h)
	}
	return a.put(ctx, t, in, rec)
}

func (a *iamSetPasswordPolicy) put(ctx context.Context, t fix.Target, in *iam.UpdateAccountPasswordPolicyInput, rec *fix.Recorder) error {
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return err
	}
	return rec.Do("iam:UpdateAccountPasswordPolicy", iamPasswordPolicyInput(in), func() error {
		_, err := c.UpdateAccountPasswordPolicy(ctx, in)
		return errorOf(err)
	})
}

// iamStricterPasswordPolicy is the CIS policy, keeping every setting of
// cur (nil for none) that is already stricter.
func iamStricterPasswordPolicy(cur *types.PasswordPolicy) *iam.UpdateAccountPasswordPolicyInput {
	in := &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength:      aws.Int32(iamMinPasswordLength),
		PasswordReusePrevention:    aws.Int32(iamPasswordReuse),
		MaxPasswordAge:             aws.Int32(iamMaxPasswordAge),
		RequireSymbols:             true,
		RequireNumbers:             true,
		RequireUppercaseCharacters: true,
		RequireLowercaseCharacters: true,
		AllowUsersToChangePassword: true,
	}
	if cur == nil {
		return in
	}
	if n := aws.ToInt32(cur.MinimumPasswordLength); n > iamMinPasswordLength {
		in.MinimumPasswordLength = aws.Int32(n)
	}
	if n := aws.ToInt32(cur.PasswordReusePrevention); n > iamPasswordReuse {
		in.PasswordReusePrevention = aws.Int32(n)
	}
	if n := aws.ToInt32(cur.MaxPasswordAge); n > 0 && n < iamMaxPasswordAge {
		in.MaxPasswordAge = aws.Int32(n)
	}
	// Hard expiry (an administrator must reset expired passwords) is
	// stricter when on; the call would turn it off if left out.
	if aws.ToBool(cur.HardExpiry) {
		in.HardExpiry = aws.Bool(true)
	}
	return in
}

// iamSamePasswordPolicy reports whether cur already is want.
func iamSamePasswordPolicy(cur *types.PasswordPolicy, want *iam.UpdateAccountPasswordPolicyInput) bool {
	return aws.ToInt32(cur.MinimumPasswordLength) == aws.ToInt32(want.MinimumPasswordLength) &&
		aws.ToInt32(cur.PasswordReusePrevention) == aws.ToInt32(want.PasswordReusePrevention) &&
		aws.ToInt32(cur.MaxPasswordAge) == aws.ToInt32(want.MaxPasswordAge) &&
		cur.RequireSymbols == want.RequireSymbols && cur.RequireNumbers == want.RequireNumbers &&
		cur.RequireUppercaseCharacters == want.RequireUppercaseCharacters &&
		cur.RequireLowercaseCharacters == want.RequireLowercaseCharacters &&
		cur.AllowUsersToChangePassword == want.AllowUsersToChangePassword &&
		aws.ToBool(cur.HardExpiry) == aws.ToBool(want.HardExpiry)
}

// iamPasswordPolicyFrom reads back a policy recorded by iamPasswordPolicy
// (possibly through the store's JSON).
func iamPasswordPolicyFrom(m map[string]any) *types.PasswordPolicy {
	pp := &types.PasswordPolicy{
		MinimumPasswordLength:      iamOptInt32(m["minimum_password_length"]),
		PasswordReusePrevention:    iamOptInt32(m["password_reuse_prevention"]),
		MaxPasswordAge:             iamOptInt32(m["max_password_age"]),
		RequireSymbols:             iamBool(m["require_symbols"]),
		RequireNumbers:             iamBool(m["require_numbers"]),
		RequireUppercaseCharacters: iamBool(m["require_uppercase_characters"]),
		RequireLowercaseCharacters: iamBool(m["require_lowercase_characters"]),
		AllowUsersToChangePassword: iamBool(m["allow_users_to_change_password"]),
	}
	if h, ok := m["hard_expiry"].(bool); ok {
		pp.HardExpiry = aws.Bool(h)
	}
	return pp
}

// iamPasswordPolicyInput is the recorded input of UpdateAccountPasswordPolicy.
func iamPasswordPolicyInput(in *iam.UpdateAccountPasswordPolicyInput) map[string]any {
	m := map[string]any{
		"RequireSymbols":             in.RequireSymbols,
		"RequireNumbers":             in.RequireNumbers,
		"RequireUppercaseCharacters": in.RequireUppercaseCharacters,
		"RequireLowercaseCharacters": in.RequireLowercaseCharacters,
		"AllowUsersToChangePassword": in.AllowUsersToChangePassword,
	}
	for k, v := range map[string]*int32{"MinimumPasswordLength": in.MinimumPasswordLength,
		"PasswordReusePrevention": in.PasswordReusePrevention, "MaxPasswordAge": in.MaxPasswordAge} {
		if v != nil {
			m[k] = int(*v)
		}
	}
	if in.HardExpiry != nil {
		m["HardExpiry"] = *in.HardExpiry
	}
	return m
}

// iamDefaultUnusedDays is the threshold of aws-iam-user-unused-credentials-90-days.
const iamDefaultUnusedDays = 90

// iamDeactivateUnusedKeys sets the user's active access keys that were
// last used (or, never used, created) unused_days or more ago to Inactive.
// It never deletes a key: an application that still needs it breaks, and
// re-activating it (undo does, for exactly the keys it deactivated) mends
// it. It leaves the console password alone.
type iamDeactivateUnusedKeys struct{ fixAction }

func (a *iamDeactivateUnusedKeys) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	days, err := iamUnusedDays(t.Params)
	if err != nil {
		return nil, err
	}
	user := t.Resource.Name
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return nil, err
	}
	var meta []types.AccessKeyMetadata
	err = iamPages(ctx, iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: &user}),
		func(o *iam.ListAccessKeysOutput) { meta = append(meta, o.AccessKeyMetadata...) })
	if err != nil {
		return nil, fmt.Errorf("iam:ListAccessKeys: %w", errorf(err))
	}
	now := a.f.scan.opts.Now().UTC()
	var steps []string
	var calls fixCalls
	ids := []string{}
	for _, k := range meta {
		if k.Status != types.StatusTypeActive {
			continue
		}
		id := aws.ToString(k.AccessKeyId)
		lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return nil, fmt.Errorf("iam:GetAccessKeyLastUsed %s: %w", id, errorf(err))
		}
		since, what := aws.ToTime(k.CreateDate), "never used, created"
		if u := lu.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil && !u.LastUsedDate.IsZero() {
			since, what = *u.LastUsedDate, "last used"
		}
		// Whole days, as the checks' daysSince counts them.
		age := int(now.Sub(since).Hours()) / 24
		if age < days {
			continue
		}
		ids = append(ids, id)
		steps = append(steps, fmt.Sprintf("deactivate access key %s of user %s (%s %s, %d days ago)",
			id, user, what, since.UTC().Format(time.DateOnly), age))
		calls = append(calls, fixCall{"iam:UpdateAccessKey", map[string]any{"UserName": user, "AccessKeyId": id, "Status": "Inactive"}})
	}
	before := map[string]any{"user": user, "unused_days": days, "deactivated_keys": ids}
	if len(ids) == 0 {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{fmt.Sprintf(
			"no active access key of user %s has been unused for %d days or more (this action does not touch the console password)", user, days)}}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before}, nil
}

func (a *iamDeactivateUnusedKeys) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.set(ctx, t, iamStrings(p.Before["deactivated_keys"]), types.StatusTypeInactive, rec)
}

// Undo re-activates the keys the fix deactivated, and no other.
func (a *iamDeactivateUnusedKeys) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.set(ctx, t, iamStrings(before["deactivated_keys"]), types.StatusTypeActive, rec)
}

func (a *iamDeactivateUnusedKeys) set(ctx context.Context, t fix.Target, ids []string, status types.StatusType, rec *fix.Recorder) error {
	user := t.Resource.Name
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := rec.Do("iam:UpdateAccessKey", map[string]any{"UserName": user, "AccessKeyId": id, "Status": string(status)}, func() error {
			_, err := c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(user), AccessKeyId: aws.String(id), Status: status})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// iamUnusedDays reads the unused_days param: a whole number of days from
// 1 to 3650 (ten years), 90 when absent.
func iamUnusedDays(params map[string]any) (int, error) {
	v, ok := params["unused_days"]
	if !ok || v == nil {
		return iamDefaultUnusedDays, nil
	}
	var n float64
	switch x := v.(type) {
	case int:
		n = float64(x)
	case int64:
		n = float64(x)
	case float64:
		n = x
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			n = math.NaN()
		} else {
			n = f
		}
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			n = math.NaN()
		} else {
			n = f
		}
	default:
		n = math.NaN()
	}
	if n != math.Trunc(n) || n < 1 || n > 3650 {
		return 0, vigil.Errorf(vigil.EINVALID, "param unused_days must be a whole number of days from 1 to 3650, got %v", v)
	}
	return int(n), nil
}

// iamDetachAdminPolicies removes from a user its own policies that, each
// on its own, grant full administrator access (iampolicy.GrantsAdmin):
// managed policies are detached, inline ones deleted after their document
// is saved in the before-state. Undo re-attaches and re-puts them. Groups
// are left alone (changing a group changes every member), and so are
// policies that grant administrator access only taken together: the plan
// says so, and the fix then fails verification rather than guess.
//
// Taking administrator access away can lock people out, so the plan
// refuses unless the param allow_admin_detach is true.
type iamDetachAdminPolicies struct{ fixAction }

// iamSavedInline is an inline policy deleted by a fix, kept for undo.
type iamSavedInline struct{ name, document string }

func (a *iamDetachAdminPolicies) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	user := t.Resource.Name
	if ok, _ := t.Params["allow_admin_detach"].(bool); !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "%s takes administrator access away from user %s, which can lock people out: "+
			"set the param allow_admin_detach to true to allow it (vigil fix --param allow_admin_detach=true)", a.id, user)
	}
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return nil, err
	}
	var attached []types.AttachedPolicy
	err = iamPages(ctx, iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: &user}),
		func(o *iam.ListAttachedUserPoliciesOutput) { attached = append(attached, o.AttachedPolicies...) })
	if err != nil {
		return nil, fmt.Errorf("iam:ListAttachedUserPolicies: %w", errorf(err))
	}
	var steps []string
	var calls fixCalls
	detach := []string{}
	for _, ap := range attached {
		arn := aws.ToString(ap.PolicyArn)
		pol, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: ap.PolicyArn})
		if err != nil {
			return nil, fmt.Errorf("iam:GetPolicy %s: %w", arn, errorf(err))
		}
		doc, _, err := iamPolicyDocument(ctx, c, ap.PolicyArn, pol.Policy.DefaultVersionId)
		if err != nil {
			return nil, fmt.Errorf("iam:GetPolicyVersion %s: %w", arn, errorf(err))
		}
		admin, err := iamGrantsAdmin(doc)
		if err != nil {
			return nil, fmt.Errorf("managed policy %s: %w", arn, err)
		}
		if admin {
			detach = append(detach, arn)
			steps = append(steps, fmt.Sprintf("detach managed policy %s (%s) from user %s", aws.ToString(ap.PolicyName), arn, user))
			calls = append(calls, fixCall{"iam:DetachUserPolicy", map[string]any{"UserName": user, "PolicyArn": arn}})
		}
	}
	var names []string
	err = iamPages(ctx, iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: &user}),
		func(o *iam.ListUserPoliciesOutput) { names = append(names, o.PolicyNames...) })
	if err != nil {
		return nil, fmt.Errorf("iam:ListUserPolicies: %w", errorf(err))
	}
	deleted := []any{}
	for _, n := range names {
		out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &user, PolicyName: aws.String(n)})
		if err != nil {
			return nil, fmt.Errorf("iam:GetUserPolicy %s: %w", n, errorf(err))
		}
		raw := iamDecodeDocument(aws.ToString(out.PolicyDocument))
		admin, err := iamGrantsAdmin(parsePolicy(raw))
		if err != nil {
			return nil, fmt.Errorf("inline policy %s: %w", n, err)
		}
		if admin {
			deleted = append(deleted, map[string]any{"name": n, "document": raw})
			steps = append(steps, fmt.Sprintf("delete inline policy %s of user %s (its document is kept for undo)", n, user))
			calls = append(calls, fixCall{"iam:DeleteUserPolicy", map[string]any{"UserName": user, "PolicyName": n}})
		}
	}
	// What this action leaves alone, from the policies as last collected.
	eff, _ := t.Resource.Properties["effective_policies"].([]any)
	for _, e := range eff {
		m, _ := e.(map[string]any)
		src, _ := m["source"].(string)
		if !strings.HasPrefix(src, "group:") {
			continue
		}
		if admin, err := iamGrantsAdmin(m["document"]); err == nil && admin {
			steps = append(steps, fmt.Sprintf("leave policy %v of group %s alone: it gives user %s administrator access too (remove the user from the group)",
				m["name"], strings.TrimPrefix(src, "group:"), user))
		}
	}
	before := map[string]any{"user": user, "detached_policies": detach, "deleted_inline_policies": deleted}
	if len(calls) == 0 {
		steps = append([]string{fmt.Sprintf("no policy of user %s grants administrator access on its own", user)}, steps...)
		return &fix.Plan{NoOp: true, Steps: steps, Before: before}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before}, nil
}

func (a *iamDetachAdminPolicies) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	user := t.Resource.Name
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return err
	}
	for _, arn := range iamStrings(p.Before["detached_policies"]) {
		err := rec.Do("iam:DetachUserPolicy", map[string]any{"UserName": user, "PolicyArn": arn}, func() error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	for _, in := range iamSavedInlines(p.Before["deleted_inline_policies"]) {
		err := rec.Do("iam:DeleteUserPolicy", map[string]any{"UserName": user, "PolicyName": in.name}, func() error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(in.name)})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Undo re-attaches the detached policies and puts the deleted inline
// policies back with their saved documents.
func (a *iamDetachAdminPolicies) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	user := t.Resource.Name
	c, err := a.f.iamClient(ctx, t.Resource.Account)
	if err != nil {
		return err
	}
	for _, arn := range iamStrings(before["detached_policies"]) {
		err := rec.Do("iam:AttachUserPolicy", map[string]any{"UserName": user, "PolicyArn": arn}, func() error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: aws.String(arn)})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	for _, in := range iamSavedInlines(before["deleted_inline_policies"]) {
		err := rec.Do("iam:PutUserPolicy", map[string]any{"UserName": user, "PolicyName": in.name, "PolicyDocument": in.document}, func() error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(in.name),
				PolicyDocument: aws.String(in.document)})
			return errorOf(err)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// iamGrantsAdmin reports whether a parsed policy document, on its own,
// allows every action on every resource. A document that does not parse
// is an error: the action will not guess.
func iamGrantsAdmin(doc any) (bool, error) {
	p, err := iampolicy.ParseValue(doc)
	if err != nil {
		return false, fmt.Errorf("parse policy document: %w", err)
	}
	return iampolicy.GrantsAdmin(p), nil
}

// iamDecodeDocument returns a policy document as JSON text: IAM returns
// inline documents URL-encoded.
func iamDecodeDocument(doc string) string {
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		if d, err := url.QueryUnescape(doc); err == nil {
			return d
		}
	}
	return doc
}

// iamSavedInlines reads deleted_inline_policies from a before-state.
func iamSavedInlines(v any) []iamSavedInline {
	var out []iamSavedInline
	list, _ := v.([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["name"].(string)
		doc, _ := m["document"].(string)
		if name != "" {
			out = append(out, iamSavedInline{name: name, document: doc})
		}
	}
	return out
}

// iamStrings reads a list of strings from a before-state, as planned
// ([]string) or read back from the store ([]any).
func iamStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// iamOptInt32 reads a number from a before-state (int64 as collected,
// float64 through the store's JSON); nil for null.
func iamOptInt32(v any) *int32 {
	switch x := v.(type) {
	case int:
		return aws.Int32(int32(x))
	case int64:
		return aws.Int32(int32(x))
	case float64:
		return aws.Int32(int32(x))
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return aws.Int32(int32(n))
		}
	}
	return nil
}

func iamBool(v any) bool { b, _ := v.(bool); return b }
