package aws

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/vigilsec/vigil"
)

// Resource types of the IAM collector.
const (
	typeIAMUser       = "aws.iam.user"
	typeIAMGroup      = "aws.iam.group"
	typeIAMRole       = "aws.iam.role"
	typeIAMPolicy     = "aws.iam.policy"
	typeIAMServerCert = "aws.iam.server_certificate"
)

func init() {
	register(&service{name: "iam", global: true,
		types:   []string{typeIAMUser, typeIAMGroup, typeIAMRole, typeIAMPolicy, typeIAMServerCert},
		collect: collectIAM, get: getIAM})
}

// credentialReportWait bounds how long a scan waits for IAM to generate the
// credential report. AWS documents generation as taking "a few seconds" per
// hundred users; past this bound the report is recorded as unreadable.
const credentialReportWait = 2 * time.Minute

// collectIAM lists users, groups, roles, customer-managed policies and
// server certificates, and sets the account-wide IAM settings on
// aws.account. Every call is sequential: IAM throttles at about 10
// requests per second per account, which is the bound whatever the
// concurrency, so a user costs about one second (8–10 calls).
func collectIAM(ctx context.Context, t *task) error {
	c := iam.NewFromConfig(t.cfg)
	k := newIAMCache(c)
	// The credential report is generated asynchronously: ask for it first
	// and fetch it last, so that generation overlaps the listings.
	reportErr := iamStartCredentialReport(ctx, c)
	iamAccountSettings(ctx, t, c)
	for _, list := range []func(context.Context, *task, *iamCache) error{
		iamUsers, iamGroups, iamRoles, iamPolicies, iamServerCertificates,
	} {
		if err := list(ctx, t, k); err != nil {
			return err
		}
	}
	iamCredentialReport(ctx, t, c, reportErr)
	return ctx.Err()
}

// getIAM re-reads the IAM entities a Get wants, each by name (GetUser,
// GetGroup, GetRole, GetPolicy, GetServerCertificate) instead of a
// listing, and the account-wide IAM settings when asked.
func getIAM(ctx context.Context, t *task) error {
	c := iam.NewFromConfig(t.cfg)
	k := newIAMCache(c)
	var reportErr error
	if t.only.settings {
		reportErr = iamStartCredentialReport(ctx, c)
		iamAccountSettings(ctx, t, c)
	}
	// ARNs end in path/name, and IAM names contain no slash.
	for _, uid := range t.wantedUIDs(typeIAMUser) {
		name := arnTail(uid, "/")
		g, err := c.GetUser(ctx, &iam.GetUserInput{UserName: &name})
		switch {
		case iamIsGone(err):
		case err != nil:
			t.getFailed(uid, err)
		default:
			if err := t.emit(ctx, iamUserWith(ctx, t, k, *g.User, g, nil)); err != nil {
				return err
			}
		}
	}
	for _, uid := range t.wantedUIDs(typeIAMGroup) {
		members, group, err := iamGroupMembers(ctx, c, arnTail(uid, "/"))
		switch {
		case iamIsGone(err):
		case err != nil:
			t.getFailed(uid, err)
		case group != nil:
			if err := t.emit(ctx, iamGroupWith(ctx, t, k, *group, members, nil)); err != nil {
				return err
			}
		}
	}
	for _, uid := range t.wantedUIDs(typeIAMRole) {
		name := arnTail(uid, "/")
		g, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &name})
		switch {
		case iamIsGone(err):
		case err != nil:
			t.getFailed(uid, err)
		default:
			if err := t.emit(ctx, iamRoleWith(ctx, t, k, *g.Role, g, nil)); err != nil {
				return err
			}
		}
	}
	for _, uid := range t.wantedUIDs(typeIAMPolicy) {
		out, err := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &uid})
		switch {
		case iamIsGone(err):
		case err != nil:
			t.getFailed(uid, err)
		default:
			if r, ok := iamPolicy(ctx, t, k, *out.Policy); ok {
				if err := t.emit(ctx, r); err != nil {
					return err
				}
			}
		}
	}
	for _, uid := range t.wantedUIDs(typeIAMServerCert) {
		name := arnTail(uid, "/")
		out, err := c.GetServerCertificate(ctx, &iam.GetServerCertificateInput{ServerCertificateName: &name})
		switch {
		case iamIsGone(err):
		case err != nil:
			t.getFailed(uid, err)
		case out.ServerCertificate != nil && out.ServerCertificate.ServerCertificateMetadata != nil:
			if err := t.emit(ctx, iamServerCert(*out.ServerCertificate.ServerCertificateMetadata)); err != nil {
				return err
			}
		}
	}
	if t.only.settings {
		iamCredentialReport(ctx, t, c, reportErr)
	}
	return ctx.Err()
}

// iamPager is the shape of every SDK paginator of the IAM client.
type iamPager[O any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*iam.Options)) (O, error)
}

// iamPages runs each on every page of p, stopping at the first error.
func iamPages[O any](ctx context.Context, p iamPager[O], each func(O)) error {
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		each(out)
	}
	return nil
}

// iamTime formats an optional SDK timestamp; nil gives nil (JSON null).
func iamTime(ts *time.Time) any {
	if ts == nil || ts.IsZero() {
		return nil
	}
	return ts.UTC().Format(timeFormat)
}

// iamOptString returns nil for an absent or empty string and for AWS's
// "N/A" placeholder.
func iamOptString(s *string) any {
	if s == nil || *s == "" || *s == "N/A" {
		return nil
	}
	return *s
}

func iamTags(tags []types.Tag) map[string]string {
	return tagMap(tags, func(t types.Tag) (*string, *string) { return t.Key, t.Value })
}

func iamBoundary(b *types.AttachedPermissionsBoundary) any {
	if b == nil || b.PermissionsBoundaryArn == nil {
		return nil
	}
	return aws.ToString(b.PermissionsBoundaryArn)
}

// iamPolicySet is the identity policies of one user, group or role as
// read: the attached managed policies and the inline policies, each with
// its own read error so that the two properties fail on their own.
type iamPolicySet struct {
	attached    []types.AttachedPolicy
	attachedErr error
	inline      []iamInlinePolicy
	inlineErr   error
}

// iamInlinePolicy is one inline policy with its parsed document.
type iamInlinePolicy struct {
	name string
	doc  any
}

// iamReadPolicies reads the attached and inline policies of a user, group
// or role. Each listing is paginated by its caller.
func iamReadPolicies(attached func(add func([]types.AttachedPolicy)) error,
	inlineNames func(add func([]string)) error, inlineDoc func(name string) (*string, error)) iamPolicySet {
	var s iamPolicySet
	s.attachedErr = attached(func(ps []types.AttachedPolicy) { s.attached = append(s.attached, ps...) })
	var names []string
	s.inlineErr = inlineNames(func(ns []string) { names = append(names, ns...) })
	if s.inlineErr == nil {
		s.inline, s.inlineErr = iamInline(names, inlineDoc)
	}
	return s
}

// record sets attached_policies and inline_policies on r, or the read
// error of each that failed.
func (s iamPolicySet) record(t *task, r *vigil.Resource) {
	if s.attachedErr != nil {
		t.propErr(r, "attached_policies", s.attachedErr)
	} else {
		r.Properties["attached_policies"] = iamAttachedList(s.attached)
	}
	if s.inlineErr != nil {
		t.propErr(r, "inline_policies", s.inlineErr)
		return
	}
	inline := make([]any, 0, len(s.inline))
	for _, p := range s.inline {
		inline = append(inline, map[string]any{"name": p.name, "document": p.doc})
	}
	r.Properties["inline_policies"] = inline
}

// iamAttachedList converts attached managed policies to [{name, arn}].
func iamAttachedList(ps []types.AttachedPolicy) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, map[string]any{"name": aws.ToString(p.PolicyName), "arn": aws.ToString(p.PolicyArn)})
	}
	return out
}

// iamInline reads inline policies: the names from list, then each
// document with get. Any failure fails the whole property.
func iamInline(names []string, get func(name string) (*string, error)) ([]iamInlinePolicy, error) {
	out := make([]iamInlinePolicy, 0, len(names))
	for _, n := range names {
		doc, err := get(n)
		if err != nil {
			return nil, err
		}
		out = append(out, iamInlinePolicy{name: n, doc: parsePolicy(aws.ToString(doc))})
	}
	return out, nil
}

// iamCache holds, for one collection of one account, what several
// principals share: the default-version document of each managed policy,
// so that 100 users with AdministratorAccess cost one GetPolicy and one
// GetPolicyVersion, and the policies of each group, read once for all its
// members and the group itself. Both grow with the managed policies in
// use and the groups of the account, not with its users.
// collectIAM calls IAM sequentially; the mutex keeps the cache safe should
// listings ever run concurrently (two concurrent misses read twice, which
// is harmless).
type iamCache struct {
	c       *iam.Client
	mu      sync.Mutex
	managed map[string]iamManaged   // policy ARN → default version
	groups  map[string]iamPolicySet // group name → its policies
}

// iamManaged is the default version of a managed policy, or why it could
// not be read. Errors are kept too: every principal with the policy gets
// the same read error, for the price of one failed call.
type iamManaged struct {
	doc     any
	version string
	err     error
}

func newIAMCache(c *iam.Client) *iamCache {
	return &iamCache{c: c, managed: map[string]iamManaged{}, groups: map[string]iamPolicySet{}}
}

// cachedManaged returns the managed policy arn if it was already read.
func (k *iamCache) cachedManaged(arn string) (iamManaged, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	m, ok := k.managed[arn]
	return m, ok
}

// managedDocument returns the parsed document of the default version of
// the managed policy arn (customer or AWS managed): GetPolicy for the
// default version id, then GetPolicyVersion. A policy deleted since it
// was listed is a NoSuchEntity error, which classify reports as
// not_found. The document is a copy the caller may keep.
func (k *iamCache) managedDocument(ctx context.Context, arn string) (any, error) {
	m, ok := k.cachedManaged(arn)
	if !ok {
		p, err := k.c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &arn})
		if err == nil {
			m.doc, m.version, m.err = iamPolicyDocument(ctx, k.c, &arn, p.Policy.DefaultVersionId)
		} else {
			m.err = err
		}
		k.mu.Lock()
		k.managed[arn] = m
		k.mu.Unlock()
	}
	if m.err != nil {
		return nil, m.err
	}
	return iamCopyJSON(m.doc), nil
}

// groupPolicies returns the policies of the group name, read on first
// use with ListAttachedGroupPolicies, ListGroupPolicies and
// GetGroupPolicy.
func (k *iamCache) groupPolicies(ctx context.Context, name string) iamPolicySet {
	k.mu.Lock()
	s, ok := k.groups[name]
	k.mu.Unlock()
	if ok {
		return s
	}
	c := k.c
	s = iamReadPolicies(
		func(add func([]types.AttachedPolicy)) error {
			return iamPages(ctx, iam.NewListAttachedGroupPoliciesPaginator(c, &iam.ListAttachedGroupPoliciesInput{GroupName: &name}),
				func(o *iam.ListAttachedGroupPoliciesOutput) { add(o.AttachedPolicies) })
		},
		func(add func([]string)) error {
			return iamPages(ctx, iam.NewListGroupPoliciesPaginator(c, &iam.ListGroupPoliciesInput{GroupName: &name}),
				func(o *iam.ListGroupPoliciesOutput) { add(o.PolicyNames) })
		},
		func(n string) (*string, error) {
			out, err := c.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: &name, PolicyName: &n})
			if err != nil {
				return nil, err
			}
			return out.PolicyDocument, nil
		})
	k.mu.Lock()
	k.groups[name] = s
	k.mu.Unlock()
	return s
}

// iamSourced is a policy set with the source labels its inline and its
// managed policies carry in effective_policies.
type iamSourced struct {
	inline, managed string
	set             iamPolicySet
}

// ownPolicies labels a principal's own policies.
func ownPolicies(s iamPolicySet) iamSourced {
	return iamSourced{inline: "inline", managed: "managed", set: s}
}

// effectivePolicies returns the union of the policy sets as
// effective_policies: [{source, name, arn, document}], arn null for inline
// policies, managed documents at their default version. Any part that
// could not be read fails the whole list: the policy engine decides over
// the union, and a partial union could hide the policy that makes a
// principal an administrator.
func (k *iamCache) effectivePolicies(ctx context.Context, parts []iamSourced) ([]any, error) {
	for _, p := range parts {
		if p.set.inlineErr != nil {
			return nil, p.set.inlineErr
		}
		if p.set.attachedErr != nil {
			return nil, p.set.attachedErr
		}
	}
	out := []any{}
	for _, p := range parts {
		for _, in := range p.set.inline {
			out = append(out, map[string]any{"source": p.inline, "name": in.name, "arn": nil, "document": iamCopyJSON(in.doc)})
		}
		for _, a := range p.set.attached {
			arn := aws.ToString(a.PolicyArn)
			doc, err := k.managedDocument(ctx, arn)
			if err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"source": p.managed, "name": aws.ToString(a.PolicyName), "arn": arn, "document": doc})
		}
	}
	return out, nil
}

// recordEffective sets effective_policies on r from parts, or its read
// error.
func (k *iamCache) recordEffective(ctx context.Context, t *task, r *vigil.Resource, parts []iamSourced) {
	if eff, err := k.effectivePolicies(ctx, parts); err != nil {
		t.propErr(r, "effective_policies", err)
	} else {
		r.Properties["effective_policies"] = eff
	}
}

// recordBoundary sets permissions_boundary_policy on r: the document of
// the boundary b, null without a boundary, or the read error of GetUser /
// GetRole (getErr) or of the document.
func (k *iamCache) recordBoundary(ctx context.Context, t *task, r *vigil.Resource, b *types.AttachedPermissionsBoundary, getErr error) {
	const key = "permissions_boundary_policy"
	if getErr != nil {
		t.propErr(r, key, getErr)
		return
	}
	arn, ok := iamBoundary(b).(string)
	if !ok {
		r.Properties[key] = nil
		return
	}
	if doc, err := k.managedDocument(ctx, arn); err != nil {
		t.propErr(r, key, err)
	} else {
		r.Properties[key] = doc
	}
}

// iamCopyJSON deep-copies a parsed JSON value, so that resources sharing
// a cached document never share its maps.
func iamCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = iamCopyJSON(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = iamCopyJSON(e)
		}
		return l
	}
	return v
}

func iamIsGone(err error) bool { return hasCode(err, "NoSuchEntity") }

// iamUsers lists and describes every IAM user.
func iamUsers(ctx context.Context, t *task, k *iamCache) error {
	p := iam.NewListUsersPaginator(k.c, &iam.ListUsersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.listFailed(typeIAMUser, err)
			return nil
		}
		for _, u := range page.Users {
			r, ok := iamUser(ctx, t, k, u)
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

// iamUser describes one user. It returns false for a user deleted between
// listing and describing.
func iamUser(ctx context.Context, t *task, k *iamCache, u types.User) (vigil.Resource, bool) {
	// GetUser adds what ListUsers leaves out: tags and the boundary.
	g, getErr := k.c.GetUser(ctx, &iam.GetUserInput{UserName: u.UserName})
	if iamIsGone(getErr) {
		return vigil.Resource{}, false
	}
	return iamUserWith(ctx, t, k, u, g, getErr), true
}

// iamUserWith describes one user from its listing entry and its GetUser
// answer (g, or the error getErr).
func iamUserWith(ctx context.Context, t *task, k *iamCache, u types.User, g *iam.GetUserOutput, getErr error) vigil.Resource {
	c := k.c
	name := aws.ToString(u.UserName)
	r := vigil.Resource{UID: aws.ToString(u.Arn), Type: typeIAMUser, Name: name, Properties: map[string]any{
		"arn":                aws.ToString(u.Arn),
		"user_id":            aws.ToString(u.UserId),
		"path":               aws.ToString(u.Path),
		"created":            iamTime(u.CreateDate),
		"password_last_used": iamTime(u.PasswordLastUsed),
	}}
	p := r.Properties

	var boundary *types.AttachedPermissionsBoundary
	switch {
	case getErr != nil:
		t.propErr(&r, "permissions_boundary", getErr)
		t.propErr(&r, "tags", getErr)
	default:
		boundary = g.User.PermissionsBoundary
		p["permissions_boundary"] = iamBoundary(boundary)
		r.Tags = iamTags(g.User.Tags)
		if g.User.PasswordLastUsed != nil {
			p["password_last_used"] = iamTime(g.User.PasswordLastUsed)
		}
	}

	// NoSuchEntity from GetLoginProfile is AWS's way of saying the user
	// has no console password.
	lp, err := c.GetLoginProfile(ctx, &iam.GetLoginProfileInput{UserName: &name})
	switch {
	case iamIsGone(err):
		p["login_profile"] = nil
	case err != nil:
		t.propErr(&r, "login_profile", err)
	default:
		p["login_profile"] = map[string]any{
			"created":                 iamTime(lp.LoginProfile.CreateDate),
			"password_reset_required": lp.LoginProfile.PasswordResetRequired,
		}
	}

	mfa := []any{}
	err = iamPages(ctx, iam.NewListMFADevicesPaginator(c, &iam.ListMFADevicesInput{UserName: &name}),
		func(o *iam.ListMFADevicesOutput) {
			for _, d := range o.MFADevices {
				serial := aws.ToString(d.SerialNumber)
				mfa = append(mfa, map[string]any{"serial": serial, "enabled": iamTime(d.EnableDate), "kind": iamMFAKind(serial)})
			}
		})
	if err != nil {
		t.propErr(&r, "mfa_devices", err)
	} else {
		p["mfa_devices"] = mfa
	}

	if keys, err := iamAccessKeys(ctx, c, name); err != nil {
		t.propErr(&r, "access_keys", err)
	} else {
		p["access_keys"] = keys
	}

	own := iamReadPolicies(
		func(add func([]types.AttachedPolicy)) error {
			return iamPages(ctx, iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: &name}),
				func(o *iam.ListAttachedUserPoliciesOutput) { add(o.AttachedPolicies) })
		},
		func(add func([]string)) error {
			return iamPages(ctx, iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: &name}),
				func(o *iam.ListUserPoliciesOutput) { add(o.PolicyNames) })
		},
		func(n string) (*string, error) {
			out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &name, PolicyName: &n})
			if err != nil {
				return nil, err
			}
			return out.PolicyDocument, nil
		})
	own.record(t, &r)

	var groups []string
	err = iamPages(ctx, iam.NewListGroupsForUserPaginator(c, &iam.ListGroupsForUserInput{UserName: &name}),
		func(o *iam.ListGroupsForUserOutput) {
			for _, g := range o.Groups {
				groups = append(groups, aws.ToString(g.GroupName))
			}
		})
	if err != nil {
		t.propErr(&r, "groups", err)
		t.propErr(&r, "effective_policies", err)
	} else {
		names := make([]any, 0, len(groups))
		parts := []iamSourced{ownPolicies(own)}
		for _, g := range groups {
			names = append(names, g)
			src := "group:" + g
			parts = append(parts, iamSourced{inline: src, managed: src, set: k.groupPolicies(ctx, g)})
		}
		p["groups"] = names
		k.recordEffective(ctx, t, &r, parts)
	}
	k.recordBoundary(ctx, t, &r, boundary, getErr)
	return r
}

// iamMFAKind tells an MFA device's kind from its serial: virtual devices
// and FIDO security keys are IAM resources with an ARN, hardware TOTP
// tokens carry the token's serial number.
func iamMFAKind(serial string) string {
	switch {
	case strings.Contains(serial, ":mfa/"):
		return "virtual"
	case strings.Contains(serial, ":u2f/"):
		return "fido"
	}
	return "hardware"
}

// iamAccessKeys lists a user's access keys with when each was last used.
func iamAccessKeys(ctx context.Context, c *iam.Client, user string) ([]any, error) {
	var meta []types.AccessKeyMetadata
	err := iamPages(ctx, iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: &user}),
		func(o *iam.ListAccessKeysOutput) { meta = append(meta, o.AccessKeyMetadata...) })
	if err != nil {
		return nil, err
	}
	keys := make([]any, 0, len(meta))
	for _, k := range meta {
		key := map[string]any{
			"id":      aws.ToString(k.AccessKeyId),
			"status":  string(k.Status),
			"created": iamTime(k.CreateDate),
		}
		lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return nil, err
		}
		key["last_used"], key["last_used_service"], key["last_used_region"] = nil, nil, nil
		if u := lu.AccessKeyLastUsed; u != nil {
			key["last_used"] = iamTime(u.LastUsedDate)
			key["last_used_service"] = iamOptString(u.ServiceName)
			key["last_used_region"] = iamOptString(u.Region)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// iamGroups lists and describes every IAM group.
func iamGroups(ctx context.Context, t *task, k *iamCache) error {
	p := iam.NewListGroupsPaginator(k.c, &iam.ListGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.listFailed(typeIAMGroup, err)
			return nil
		}
		for _, g := range page.Groups {
			r, ok := iamGroup(ctx, t, k, g)
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

// iamGroup describes one group. Its policies come from the cache when a
// member's effective_policies already read them.
func iamGroup(ctx context.Context, t *task, k *iamCache, g types.Group) (vigil.Resource, bool) {
	members, _, err := iamGroupMembers(ctx, k.c, aws.ToString(g.GroupName))
	if iamIsGone(err) {
		return vigil.Resource{}, false
	}
	return iamGroupWith(ctx, t, k, g, members, err), true
}

// iamGroupMembers counts a group's members over every page of GetGroup,
// and returns the group as the first page describes it.
func iamGroupMembers(ctx context.Context, c *iam.Client, name string) (int, *types.Group, error) {
	members := 0
	var group *types.Group
	err := iamPages(ctx, iam.NewGetGroupPaginator(c, &iam.GetGroupInput{GroupName: &name}),
		func(o *iam.GetGroupOutput) {
			members += len(o.Users)
			if group == nil {
				group = o.Group
			}
		})
	return members, group, err
}

// iamGroupWith describes one group from its listing entry and its member
// count (or the error reading it).
func iamGroupWith(ctx context.Context, t *task, k *iamCache, g types.Group, members int, err error) vigil.Resource {
	name := aws.ToString(g.GroupName)
	r := vigil.Resource{UID: aws.ToString(g.Arn), Type: typeIAMGroup, Name: name, Properties: map[string]any{
		"arn":      aws.ToString(g.Arn),
		"group_id": aws.ToString(g.GroupId),
		"path":     aws.ToString(g.Path),
		"created":  iamTime(g.CreateDate),
	}}
	p := r.Properties
	if err != nil {
		t.propErr(&r, "member_count", err)
	} else {
		p["member_count"] = int64(members)
	}

	set := k.groupPolicies(ctx, name)
	set.record(t, &r)
	k.recordEffective(ctx, t, &r, []iamSourced{ownPolicies(set)})
	return r
}

// iamRoles lists and describes every IAM role.
func iamRoles(ctx context.Context, t *task, k *iamCache) error {
	p := iam.NewListRolesPaginator(k.c, &iam.ListRolesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.listFailed(typeIAMRole, err)
			return nil
		}
		for _, role := range page.Roles {
			r, ok := iamRole(ctx, t, k, role)
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

func iamRole(ctx context.Context, t *task, k *iamCache, role types.Role) (vigil.Resource, bool) {
	// ListRoles leaves out the last use, the tags and the boundary.
	g, getErr := k.c.GetRole(ctx, &iam.GetRoleInput{RoleName: role.RoleName})
	if iamIsGone(getErr) {
		return vigil.Resource{}, false
	}
	return iamRoleWith(ctx, t, k, role, g, getErr), true
}

// iamRoleWith describes one role from its listing entry and its GetRole
// answer (g, or the error getErr).
func iamRoleWith(ctx context.Context, t *task, k *iamCache, role types.Role, g *iam.GetRoleOutput, getErr error) vigil.Resource {
	c := k.c
	name := aws.ToString(role.RoleName)
	path := aws.ToString(role.Path)
	r := vigil.Resource{UID: aws.ToString(role.Arn), Type: typeIAMRole, Name: name, Properties: map[string]any{
		"arn":                  aws.ToString(role.Arn),
		"role_id":              aws.ToString(role.RoleId),
		"path":                 path,
		"created":              iamTime(role.CreateDate),
		"description":          iamOptString(role.Description),
		"max_session_duration": int64(aws.ToInt32(role.MaxSessionDuration)),
		"trust_policy":         parsePolicy(aws.ToString(role.AssumeRolePolicyDocument)),
		"service_linked":       strings.HasPrefix(path, "/aws-service-role/"),
	}}
	p := r.Properties

	var boundary *types.AttachedPermissionsBoundary
	switch {
	case getErr != nil:
		t.propErr(&r, "last_used", getErr)
		t.propErr(&r, "last_used_region", getErr)
		t.propErr(&r, "permissions_boundary", getErr)
		t.propErr(&r, "tags", getErr)
	default:
		p["last_used"], p["last_used_region"] = nil, nil
		if lu := g.Role.RoleLastUsed; lu != nil {
			p["last_used"] = iamTime(lu.LastUsedDate)
			p["last_used_region"] = iamOptString(lu.Region)
		}
		boundary = g.Role.PermissionsBoundary
		p["permissions_boundary"] = iamBoundary(boundary)
		r.Tags = iamTags(g.Role.Tags)
	}

	own := iamReadPolicies(
		func(add func([]types.AttachedPolicy)) error {
			return iamPages(ctx, iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &name}),
				func(o *iam.ListAttachedRolePoliciesOutput) { add(o.AttachedPolicies) })
		},
		func(add func([]string)) error {
			return iamPages(ctx, iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: &name}),
				func(o *iam.ListRolePoliciesOutput) { add(o.PolicyNames) })
		},
		func(n string) (*string, error) {
			out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: &n})
			if err != nil {
				return nil, err
			}
			return out.PolicyDocument, nil
		})
	own.record(t, &r)
	k.recordEffective(ctx, t, &r, []iamSourced{ownPolicies(own)})
	k.recordBoundary(ctx, t, &r, boundary, getErr)
	return r
}

// iamPolicies lists customer-managed policies (Scope=Local) with the
// document of their default version. A policy attached to a principal or
// used as a boundary was read for effective_policies: its document is
// reused when the listing names the same default version (versions are
// immutable), which saves one GetPolicyVersion per such policy.
func iamPolicies(ctx context.Context, t *task, k *iamCache) error {
	p := iam.NewListPoliciesPaginator(k.c, &iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.listFailed(typeIAMPolicy, err)
			return nil
		}
		for _, pol := range page.Policies {
			r, ok := iamPolicy(ctx, t, k, pol)
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

// iamPolicy describes one customer-managed policy with the document of
// its default version; it returns false for a policy deleted since it was
// listed.
func iamPolicy(ctx context.Context, t *task, k *iamCache, pol types.Policy) (vigil.Resource, bool) {
	r := vigil.Resource{UID: aws.ToString(pol.Arn), Type: typeIAMPolicy, Name: aws.ToString(pol.PolicyName),
		Properties: map[string]any{
			"arn":                              aws.ToString(pol.Arn),
			"policy_id":                        aws.ToString(pol.PolicyId),
			"path":                             aws.ToString(pol.Path),
			"created":                          iamTime(pol.CreateDate),
			"updated":                          iamTime(pol.UpdateDate),
			"default_version_id":               aws.ToString(pol.DefaultVersionId),
			"attachment_count":                 int64(aws.ToInt32(pol.AttachmentCount)),
			"permissions_boundary_usage_count": int64(aws.ToInt32(pol.PermissionsBoundaryUsageCount)),
			"is_attachable":                    pol.IsAttachable,
		}}
	var doc any
	var version string
	var err error
	if m, ok := k.cachedManaged(aws.ToString(pol.Arn)); ok && m.err == nil && m.version == aws.ToString(pol.DefaultVersionId) {
		doc, version = iamCopyJSON(m.doc), m.version
	} else {
		doc, version, err = iamPolicyDocument(ctx, k.c, pol.Arn, pol.DefaultVersionId)
	}
	switch {
	case iamIsGone(err):
		return r, false
	case err != nil:
		t.propErr(&r, "document", err)
	default:
		r.Properties["document"], r.Properties["default_version_id"] = doc, version
	}
	return r, true
}

// iamPolicyDocument returns the document of a managed policy's default
// version. When that version is gone, the default moved on since the
// listing (or the policy was deleted): it asks for the policy again and
// reads its new default version, so a policy being edited is not dropped
// from the inventory.
func iamPolicyDocument(ctx context.Context, c *iam.Client, arn, versionID *string) (any, string, error) {
	v, err := c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: versionID})
	if iamIsGone(err) {
		cur, gerr := c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: arn})
		if gerr != nil {
			return nil, "", gerr
		}
		versionID = cur.Policy.DefaultVersionId
		v, err = c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: arn, VersionId: versionID})
	}
	if err != nil {
		return nil, "", err
	}
	return parsePolicy(aws.ToString(v.PolicyVersion.Document)), aws.ToString(versionID), nil
}

// iamServerCertificates lists the server certificates stored in IAM.
func iamServerCertificates(ctx context.Context, t *task, k *iamCache) error {
	p := iam.NewListServerCertificatesPaginator(k.c, &iam.ListServerCertificatesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.listFailed(typeIAMServerCert, err)
			return nil
		}
		for _, m := range page.ServerCertificateMetadataList {
			if err := t.emit(ctx, iamServerCert(m)); err != nil {
				return err
			}
		}
	}
	return nil
}

// iamServerCert describes one server certificate from its metadata.
func iamServerCert(m types.ServerCertificateMetadata) vigil.Resource {
	return vigil.Resource{UID: aws.ToString(m.Arn), Type: typeIAMServerCert, Name: aws.ToString(m.ServerCertificateName),
		Properties: map[string]any{
			"arn":            aws.ToString(m.Arn),
			"certificate_id": aws.ToString(m.ServerCertificateId),
			"path":           aws.ToString(m.Path),
			"expiration":     iamTime(m.Expiration),
			"uploaded":       iamTime(m.UploadDate),
		}}
}

// iamAccountSettings sets the account-wide IAM properties of aws.account:
// password policy, account summary, virtual MFA devices and who has the
// AWSSupportAccess and AWSCloudShellFullAccess managed policies.
func iamAccountSettings(ctx context.Context, t *task, c *iam.Client) {
	pp, err := c.GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	switch {
	case iamIsGone(err):
		t.setAccount("password_policy", nil)
	case err != nil:
		t.accountErr("password_policy", err)
	default:
		t.setAccount("password_policy", iamPasswordPolicy(pp.PasswordPolicy))
	}

	sum, err := c.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		t.accountErr("account_summary", err)
	} else {
		m := make(map[string]any, len(sum.SummaryMap))
		for k, v := range sum.SummaryMap {
			m[k] = int64(v)
		}
		t.setAccount("account_summary", m)
	}

	devices := []any{}
	err = iamPages(ctx, iam.NewListVirtualMFADevicesPaginator(c, &iam.ListVirtualMFADevicesInput{}),
		func(o *iam.ListVirtualMFADevicesOutput) {
			for _, d := range o.VirtualMFADevices {
				dev := map[string]any{"serial": aws.ToString(d.SerialNumber), "enabled": iamTime(d.EnableDate),
					"user_arn": nil, "user_name": nil}
				if d.User != nil {
					dev["user_arn"] = iamOptString(d.User.Arn)
					dev["user_name"] = iamOptString(d.User.UserName)
				}
				devices = append(devices, dev)
			}
		})
	if err != nil {
		t.accountErr("virtual_mfa_devices", err)
	} else {
		t.setAccount("virtual_mfa_devices", devices)
	}

	if ents, err := iamPolicyEntities(ctx, c, "arn:"+t.partition()+":iam::aws:policy/AWSSupportAccess"); err != nil {
		t.accountErr("support_access_entities", err)
		t.accountErr("support_role_attached", err)
	} else {
		t.setAccount("support_access_entities", ents)
		roles := false
		for _, e := range ents {
			roles = roles || strings.HasPrefix(e.(string), "role/")
		}
		t.setAccount("support_role_attached", roles)
	}

	if ents, err := iamPolicyEntities(ctx, c, "arn:"+t.partition()+":iam::aws:policy/AWSCloudShellFullAccess"); err != nil {
		t.accountErr("cloudshell_full_access_entities", err)
		t.accountErr("cloudshell_full_access_attached", err)
	} else {
		t.setAccount("cloudshell_full_access_entities", ents)
		t.setAccount("cloudshell_full_access_attached", len(ents) > 0)
	}
}

// iamPasswordPolicy converts the account password policy, keeping AWS's
// field names in snake_case; unset optional limits are null.
func iamPasswordPolicy(pp *types.PasswordPolicy) map[string]any {
	opt := func(v *int32) any {
		if v == nil {
			return nil
		}
		return int64(*v)
	}
	m := map[string]any{
		"minimum_password_length":        opt(pp.MinimumPasswordLength),
		"require_symbols":                pp.RequireSymbols,
		"require_numbers":                pp.RequireNumbers,
		"require_uppercase_characters":   pp.RequireUppercaseCharacters,
		"require_lowercase_characters":   pp.RequireLowercaseCharacters,
		"allow_users_to_change_password": pp.AllowUsersToChangePassword,
		"expire_passwords":               pp.ExpirePasswords,
		"max_password_age":               opt(pp.MaxPasswordAge),
		"password_reuse_prevention":      opt(pp.PasswordReusePrevention),
		"hard_expiry":                    nil,
	}
	if pp.HardExpiry != nil {
		m["hard_expiry"] = *pp.HardExpiry
	}
	return m
}

// iamPolicyEntities returns the users, groups and roles a managed policy
// is attached to, as "user/NAME", "group/NAME" and "role/NAME". A policy
// that does not exist (AWS-managed policies missing from a partition) is
// attached to nothing.
func iamPolicyEntities(ctx context.Context, c *iam.Client, arn string) ([]any, error) {
	ents := []any{}
	err := iamPages(ctx, iam.NewListEntitiesForPolicyPaginator(c, &iam.ListEntitiesForPolicyInput{PolicyArn: &arn}),
		func(o *iam.ListEntitiesForPolicyOutput) {
			for _, u := range o.PolicyUsers {
				ents = append(ents, "user/"+aws.ToString(u.UserName))
			}
			for _, g := range o.PolicyGroups {
				ents = append(ents, "group/"+aws.ToString(g.GroupName))
			}
			for _, r := range o.PolicyRoles {
				ents = append(ents, "role/"+aws.ToString(r.RoleName))
			}
		})
	if iamIsGone(err) {
		return []any{}, nil
	}
	return ents, err
}

// iamStartCredentialReport asks IAM to generate a credential report.
func iamStartCredentialReport(ctx context.Context, c *iam.Client) error {
	_, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
	return err
}

// errReportTimeout records a credential report that was not ready in time.
var errReportTimeout = errors.New("credential report not generated within " + credentialReportWait.String())

// iamCredentialReport waits (bounded) until the credential report is
// generated, then sets it on aws.account.
func iamCredentialReport(ctx context.Context, t *task, c *iam.Client, startErr error) {
	const key = "credential_report"
	if startErr != nil {
		t.accountErr(key, startErr)
		return
	}
	// The wait is bounded in wall-clock time, not by the collector's
	// clock, which tests pin to a fixed instant.
	deadline := time.Now().Add(credentialReportWait)
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		out, err := c.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.accountErr(key, err)
			return
		}
		if out.State == types.ReportStateTypeComplete {
			break
		}
		if time.Now().Add(delay).After(deadline) {
			t.accountErr(key, errReportTimeout)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	out, err := c.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.accountErr(key, err)
		return
	}
	report, err := iamParseCredentialReport(out.Content)
	if err != nil {
		t.accountErr(key, err)
		return
	}
	report["generated"] = iamTime(out.GeneratedTime)
	t.setAccount(key, report)
}

// rootAccountRow is the user column of the credential report's row for
// the account's root user.
const rootAccountRow = "<root_account>"

// iamParseCredentialReport parses the CSV credential report into
// {rows: [row…], root: row or null}. Each row maps AWS's column names to
// the cell text, kept as strings ("true", "N/A", "no_information", …).
func iamParseCredentialReport(content []byte) (map[string]any, error) {
	rd := csv.NewReader(bytes.NewReader(content))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return nil, fmt.Errorf("parse credential report header: %w", err)
	}
	rows := []any{}
	var root any
	for {
		rec, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse credential report: %w", err)
		}
		row := make(map[string]any, len(header))
		for i, col := range header {
			if i < len(rec) {
				row[strings.TrimSpace(col)] = rec[i]
			}
		}
		if row["user"] == rootAccountRow {
			root = row
		}
		rows = append(rows, row)
	}
	return map[string]any{"rows": rows, "root": root}, nil
}
