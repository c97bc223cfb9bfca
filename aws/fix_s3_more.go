package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/s3control"
	s3ctypes "github.com/aws/aws-sdk-go-v2/service/s3control/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/iampolicy"
)

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &s3RemovePublicACL{fixAction{f: f, id: "aws.s3.remove-public-acl", typ: TypeS3Bucket,
				title: "remove the grants to AllUsers and AuthenticatedUsers from the bucket ACL, keeping the others",
				perms: []string{"s3:GetBucketAcl", "s3:PutBucketAcl"}}}
		},
		func(f *Fixer) fix.Action {
			return &s3EnableDefaultEncryption{fixAction{f: f, id: "aws.s3.enable-default-encryption", typ: TypeS3Bucket,
				title: "turn on default encryption for the bucket: SSE-S3 (AES256), or SSE-KMS with param kms_key_id",
				perms: []string{"s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration"}}}
		},
		func(f *Fixer) fix.Action {
			return &s3EnableVersioning{fixAction{f: f, id: "aws.s3.enable-versioning", typ: TypeS3Bucket,
				title: "enable versioning on the bucket (undo suspends it: AWS cannot turn versioning off once enabled)",
				perms: []string{"s3:GetBucketVersioning", "s3:PutBucketVersioning"}}}
		},
		func(f *Fixer) fix.Action {
			return &s3DenyInsecureTransport{fixAction{f: f, id: "aws.s3.deny-insecure-transport", typ: TypeS3Bucket,
				title: "add a statement denying requests over plain HTTP to the bucket policy, keeping its other statements",
				perms: []string{"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}}}
		},
		func(f *Fixer) fix.Action {
			return &s3AccountBlockPublicAccess{fixAction{f: f, id: "aws.s3.account-block-public-access", typ: TypeAccount,
				title:    "turn on all four S3 Block Public Access settings for the whole account",
				perms:    []string{"s3:GetAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"},
				services: []string{"s3"}}}
		},
		func(f *Fixer) fix.Action {
			return &s3RemovePublicPolicyStatements{fixAction{f: f, id: "aws.s3.remove-public-policy-statements", typ: TypeS3Bucket,
				title: "remove the statements that make the bucket policy public, keeping the others (deleting the policy if none remain)",
				perms: []string{"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"}}}
		},
	)
}

// errPlanState is returned by an Apply given a plan it did not make.
var errPlanState = errors.New("the plan does not come from this action")

// --- aws.s3.remove-public-acl ---------------------------------------------

// s3RemovePublicACL drops the ACL grants to the AllUsers and
// AuthenticatedUsers groups and keeps every other grant and the owner.
// Undo puts the whole previous ACL back.
type s3RemovePublicACL struct{ fixAction }

// s3ACL is a bucket ACL as recorded in a plan's before-state.
type s3ACL struct {
	owner  *s3types.Owner
	grants []s3types.Grant
}

func (a *s3RemovePublicACL) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	acl, err := s3ReadACL(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"acl": acl.value()}
	keep := s3ACL{owner: acl.owner}
	var removed []string
	for _, g := range acl.grants {
		if who := s3PublicGroup(g); who != "" {
			removed = append(removed, string(g.Permission)+" to "+who)
			continue
		}
		keep.grants = append(keep.grants, g)
	}
	if len(removed) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"the ACL of bucket " + r.Name + " grants nothing to AllUsers or AuthenticatedUsers"},
			Before: before}, nil
	}
	return &fix.Plan{
		Steps: []string{fmt.Sprintf("remove the grants %s from the ACL of bucket %s, keeping its %d other grants",
			strings.Join(removed, ", "), r.Name, len(keep.grants))},
		Calls:  fixCalls{{"s3:PutBucketAcl", keep.input(r.Name)}}.calls(),
		Before: before,
		State:  &s3ACLPlan{before: acl, after: keep},
	}, nil
}

type s3ACLPlan struct{ before, after s3ACL }

func (a *s3RemovePublicACL) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*s3ACLPlan)
	if !ok {
		return errPlanState
	}
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	// Writing the planned ACL over one changed since the plan would undo
	// that change.
	now, err := s3ReadACL(ctx, c, r.Name)
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(now.value(), st.before.value()) {
		return fmt.Errorf("the ACL of bucket %s changed since the plan: plan again", r.Name)
	}
	return st.after.put(ctx, c, r.Name, rec)
}

func (a *s3RemovePublicACL) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, err := s3ACLOf(before["acl"])
	if err != nil {
		return fmt.Errorf("recorded ACL: %w", err)
	}
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return prev.put(ctx, c, r.Name, rec)
}

func s3ReadACL(ctx context.Context, c *s3.Client, bucket string) (s3ACL, error) {
	out, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(bucket)})
	if err != nil {
		return s3ACL{}, fmt.Errorf("s3:GetBucketAcl: %w", errorf(err))
	}
	return s3ACL{owner: out.Owner, grants: out.Grants}, nil
}

// s3PublicGroup names the public group a grant is to, or "".
func s3PublicGroup(g s3types.Grant) string {
	if g.Grantee == nil || g.Grantee.Type != s3types.TypeGroup {
		return ""
	}
	switch aws.ToString(g.Grantee.URI) {
	case iampolicy.AllUsersGroup:
		return "AllUsers"
	case iampolicy.AuthenticatedUsersGroup:
		return "AuthenticatedUsers"
	}
	return ""
}

// value is the ACL as generic values, the shape it takes in the store.
func (acl s3ACL) value() map[string]any {
	var owner any
	if o := acl.owner; o != nil {
		owner = map[string]any{"id": optString(o.ID), "display_name": optString(o.DisplayName)}
	}
	grants := make([]any, 0, len(acl.grants))
	for _, g := range acl.grants {
		m := map[string]any{"type": nil, "id": nil, "uri": nil, "email": nil, "display_name": nil, "permission": string(g.Permission)}
		if ge := g.Grantee; ge != nil {
			m["type"], m["id"], m["uri"] = string(ge.Type), optString(ge.ID), optString(ge.URI)
			m["email"], m["display_name"] = optString(ge.EmailAddress), optString(ge.DisplayName)
		}
		grants = append(grants, m)
	}
	return map[string]any{"owner": owner, "grants": grants}
}

// s3ACLOf reads an ACL back from its value.
func s3ACLOf(v any) (s3ACL, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return s3ACL{}, errors.New("missing")
	}
	str := func(m map[string]any, k string) *string {
		if s, ok := m[k].(string); ok && s != "" {
			return aws.String(s)
		}
		return nil
	}
	var acl s3ACL
	if o, ok := m["owner"].(map[string]any); ok {
		acl.owner = &s3types.Owner{ID: str(o, "id"), DisplayName: str(o, "display_name")}
	}
	gs, ok := m["grants"].([]any)
	if !ok {
		return s3ACL{}, errors.New("no grants")
	}
	for _, g := range gs {
		gm, ok := g.(map[string]any)
		if !ok {
			return s3ACL{}, fmt.Errorf("grant %v", g)
		}
		perm, _ := gm["permission"].(string)
		grant := s3types.Grant{Permission: s3types.Permission(perm)}
		if typ, _ := gm["type"].(string); typ != "" {
			grant.Grantee = &s3types.Grantee{Type: s3types.Type(typ), ID: str(gm, "id"), URI: str(gm, "uri"),
				EmailAddress: str(gm, "email"), DisplayName: str(gm, "display_name")}
		}
		acl.grants = append(acl.grants, grant)
	}
	return acl, nil
}

// input is what a PutBucketAcl of the ACL records.
func (acl s3ACL) input(bucket string) map[string]any {
	v := acl.value()
	return map[string]any{"Bucket": bucket, "Owner": v["owner"], "Grants": v["grants"]}
}

func (acl s3ACL) put(ctx context.Context, c *s3.Client, bucket string, rec *fix.Recorder) error {
	return rec.Do("s3:PutBucketAcl", acl.input(bucket), func() error {
		_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(bucket),
			AccessControlPolicy: &s3types.AccessControlPolicy{Owner: acl.owner, Grants: acl.grants}})
		return errorOf(err)
	})
}

// --- aws.s3.enable-default-encryption -------------------------------------

// s3EnableDefaultEncryption sets the bucket's default encryption to SSE-S3,
// or to SSE-KMS with the key of param kms_key_id (and an S3 Bucket Key,
// which cuts the KMS requests). Undo restores the previous configuration,
// or deletes the configuration when there was none.
type s3EnableDefaultEncryption struct{ fixAction }

type s3EncryptionPlan struct {
	algorithm s3types.ServerSideEncryption
	keyID     string
}

func (a *s3EnableDefaultEncryption) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	want := s3EncryptionPlan{algorithm: s3types.ServerSideEncryptionAes256}
	if v, ok := t.Params["kms_key_id"]; ok {
		key, _ := v.(string)
		if key == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "param kms_key_id must be a KMS key id, ARN or alias, got %v", v)
		}
		want = s3EncryptionPlan{algorithm: s3types.ServerSideEncryptionAwsKms, keyID: key}
	}
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String(r.Name)})
	var before any
	switch {
	case hasCode(err, "ServerSideEncryptionConfigurationNotFoundError"):
	case err != nil:
		return nil, fmt.Errorf("s3:GetEncryptionConfiguration: %w", errorf(err))
	default:
		before = encryptionMap(out.ServerSideEncryptionConfiguration)
		for _, rule := range out.ServerSideEncryptionConfiguration.Rules {
			d := rule.ApplyServerSideEncryptionByDefault
			switch {
			case d == nil || d.SSEAlgorithm == "":
			case want.keyID == "" || d.SSEAlgorithm == s3types.ServerSideEncryptionAwsKms && aws.ToString(d.KMSMasterKeyID) == want.keyID:
				return &fix.Plan{NoOp: true, Steps: []string{fmt.Sprintf("bucket %s already encrypts by default with %s", r.Name, d.SSEAlgorithm)},
					Before: map[string]any{"encryption": before}}, nil
			}
		}
	}
	now := "none"
	if before != nil {
		now = fmt.Sprint(before)
	}
	what := "SSE-S3 (AES256)"
	if want.keyID != "" {
		what = "SSE-KMS with key " + want.keyID + " and an S3 Bucket Key"
	}
	return &fix.Plan{
		Steps:  []string{fmt.Sprintf("set the default encryption of bucket %s to %s (now: %s)", r.Name, what, now)},
		Calls:  fixCalls{{"s3:PutBucketEncryption", want.input(r.Name)}}.calls(),
		Before: map[string]any{"encryption": before},
		State:  &want,
	}, nil
}

func (e s3EncryptionPlan) rule() s3types.ServerSideEncryptionRule {
	d := &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: e.algorithm}
	if e.keyID != "" {
		d.KMSMasterKeyID = aws.String(e.keyID)
	}
	return s3types.ServerSideEncryptionRule{ApplyServerSideEncryptionByDefault: d,
		BucketKeyEnabled: aws.Bool(e.algorithm != s3types.ServerSideEncryptionAes256)}
}

func (e s3EncryptionPlan) input(bucket string) map[string]any {
	return map[string]any{"Bucket": bucket, "Rules": s3EncryptionRules([]s3types.ServerSideEncryptionRule{e.rule()})}
}

func (a *s3EnableDefaultEncryption) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*s3EncryptionPlan)
	if !ok {
		return errPlanState
	}
	return a.put(ctx, t, []s3types.ServerSideEncryptionRule{st.rule()}, rec)
}

func (a *s3EnableDefaultEncryption) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, _ := before["encryption"].(map[string]any)
	if prev == nil {
		r := t.Resource
		c, err := a.f.s3Client(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return rec.Do("s3:DeleteBucketEncryption", map[string]any{"Bucket": r.Name}, func() error {
			_, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String(r.Name)})
			return errorOf(err)
		})
	}
	list, _ := prev["rules"].([]any)
	var rules []s3types.ServerSideEncryptionRule
	for _, v := range list {
		m, _ := v.(map[string]any)
		alg, _ := m["sse_algorithm"].(string)
		key, _ := m["kms_master_key_id"].(string)
		bk, _ := m["bucket_key_enabled"].(bool)
		rule := s3types.ServerSideEncryptionRule{BucketKeyEnabled: aws.Bool(bk)}
		if alg != "" {
			rule.ApplyServerSideEncryptionByDefault = &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryption(alg)}
			if key != "" {
				rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID = aws.String(key)
			}
		}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		return errors.New("the recorded encryption configuration has no rules")
	}
	return a.put(ctx, t, rules, rec)
}

func (a *s3EnableDefaultEncryption) put(ctx context.Context, t fix.Target, rules []s3types.ServerSideEncryptionRule, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return rec.Do("s3:PutBucketEncryption", map[string]any{"Bucket": r.Name, "Rules": s3EncryptionRules(rules)}, func() error {
		_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(r.Name),
			ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: rules}})
		return errorOf(err)
	})
}

// s3EncryptionRules renders rules for the record, as the collector does.
func s3EncryptionRules(rules []s3types.ServerSideEncryptionRule) any {
	m, _ := encryptionMap(&s3types.ServerSideEncryptionConfiguration{Rules: rules}).(map[string]any)
	return m["rules"]
}

// --- aws.s3.enable-versioning ---------------------------------------------

// s3EnableVersioning enables versioning. Undo suspends it: once enabled,
// AWS can only suspend versioning, never return a bucket to unversioned,
// so a bucket that was never versioned comes back suspended (new objects
// get no version ids; the versions kept meanwhile stay).
type s3EnableVersioning struct{ fixAction }

func (a *s3EnableVersioning) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(r.Name)})
	if err != nil {
		return nil, fmt.Errorf("s3:GetBucketVersioning: %w", errorf(err))
	}
	before := map[string]any{"versioning": map[string]any{"status": string(out.Status), "mfa_delete": string(out.MFADelete)}}
	if out.Status == s3types.BucketVersioningStatusEnabled {
		return &fix.Plan{NoOp: true, Steps: []string{"versioning is already enabled on bucket " + r.Name}, Before: before}, nil
	}
	if out.MFADelete == s3types.MFADeleteStatusEnabled {
		return nil, vigil.Errorf(vigil.EINVALID, "bucket %s has MFA delete enabled: changing its versioning needs the root user's MFA code, which a fix cannot give", r.Name)
	}
	now := "never enabled"
	if out.Status != "" {
		now = string(out.Status)
	}
	return &fix.Plan{
		Steps:  []string{fmt.Sprintf("enable versioning on bucket %s (now: %s)", r.Name, now)},
		Calls:  fixCalls{{"s3:PutBucketVersioning", map[string]any{"Bucket": r.Name, "Status": "Enabled"}}}.calls(),
		Before: before,
	}, nil
}

func (a *s3EnableVersioning) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.put(ctx, t, s3types.BucketVersioningStatusEnabled, rec)
}

func (a *s3EnableVersioning) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, _ := before["versioning"].(map[string]any)
	if prev == nil {
		return errors.New("no recorded versioning state")
	}
	if prev["status"] == string(s3types.BucketVersioningStatusEnabled) {
		return nil // the fix changed nothing
	}
	return a.put(ctx, t, s3types.BucketVersioningStatusSuspended, rec)
}

func (a *s3EnableVersioning) put(ctx context.Context, t fix.Target, status s3types.BucketVersioningStatus, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	// MFADelete is left out, so S3 keeps it as it is.
	return rec.Do("s3:PutBucketVersioning", map[string]any{"Bucket": r.Name, "Status": string(status)}, func() error {
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(r.Name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: status}})
		return errorOf(err)
	})
}

// --- bucket policies ------------------------------------------------------

// s3ReadPolicy returns the bucket policy, "" when there is none.
func s3ReadPolicy(ctx context.Context, c *s3.Client, bucket string) (string, error) {
	out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	switch {
	case hasCode(err, "NoSuchBucketPolicy"):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("s3:GetBucketPolicy: %w", errorf(err))
	}
	return aws.ToString(out.Policy), nil
}

// s3PolicyPlan is a planned bucket policy change: after "" deletes it.
type s3PolicyPlan struct{ before, after string }

// s3PolicyBefore records a policy for undo: nil when there was none.
func s3PolicyBefore(doc string) map[string]any {
	if doc == "" {
		return map[string]any{"policy": nil}
	}
	return map[string]any{"policy": doc}
}

// s3PolicyCall is the call that makes a bucket's policy doc ("" deletes it).
func s3PolicyCall(bucket, doc string) fixCall {
	if doc == "" {
		return fixCall{"s3:DeleteBucketPolicy", map[string]any{"Bucket": bucket}}
	}
	return fixCall{"s3:PutBucketPolicy", map[string]any{"Bucket": bucket, "Policy": doc}}
}

// s3ApplyPolicy writes a planned policy, refusing when the policy changed
// since the plan: writing over it would undo that change.
func (f *Fixer) s3ApplyPolicy(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*s3PolicyPlan)
	if !ok {
		return errPlanState
	}
	r := t.Resource
	c, err := f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	now, err := s3ReadPolicy(ctx, c, r.Name)
	if err != nil {
		return err
	}
	if now != st.before {
		return fmt.Errorf("the policy of bucket %s changed since the plan: plan again", r.Name)
	}
	return s3PutPolicy(ctx, c, r.Name, st.after, rec)
}

// s3UndoPolicy restores the policy recorded before a fix, exactly as it
// was read, or deletes the policy when there was none.
func (f *Fixer) s3UndoPolicy(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	v, ok := before["policy"]
	if !ok {
		return errors.New("no recorded bucket policy")
	}
	doc, _ := v.(string)
	r := t.Resource
	c, err := f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return s3PutPolicy(ctx, c, r.Name, doc, rec)
}

func s3PutPolicy(ctx context.Context, c *s3.Client, bucket, doc string, rec *fix.Recorder) error {
	call := s3PolicyCall(bucket, doc)
	return rec.Do(call.op, call.input, func() error {
		var err error
		if doc == "" {
			_, err = c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(bucket)})
		} else {
			_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)})
		}
		return errorOf(err)
	})
}

// --- aws.s3.deny-insecure-transport ---------------------------------------

// s3DenyInsecureTransport appends AWS's deny-HTTP statement to the bucket
// policy (creating one when there is none). Undo writes back the policy as
// it was read, or deletes the policy when there was none.
type s3DenyInsecureTransport struct{ fixAction }

// s3TLSStatement is the statement the check's remediation names, its
// fields in the documented order.
type s3TLSStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Principal string         `json:"Principal"`
	Action    string         `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition"`
}

func (a *s3DenyInsecureTransport) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	doc, err := s3ReadPolicy(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	before := s3PolicyBefore(doc)
	d := &resPolicyDoc{keys: []string{"Version"}, vals: map[string]json.RawMessage{"Version": json.RawMessage(`"2012-10-17"`)}}
	sids := map[string]bool{}
	if doc != "" {
		p, err := iampolicy.Parse([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("the policy of bucket %s does not parse: %w", r.Name, err)
		}
		if iampolicy.RequiresTLS(p, r.UID, r.Account) {
			return &fix.Plan{NoOp: true, Steps: []string{"the policy of bucket " + r.Name + " already denies every request over HTTP"},
				Before: before}, nil
		}
		for _, s := range p.Statements {
			sids[s.Sid] = true
		}
		if d, err = parseResPolicyDoc(doc); err != nil {
			return nil, err
		}
	}
	// Sids must be unique within a policy.
	sid := "DenyInsecureTransport"
	for i := 2; sids[sid]; i++ {
		sid = "DenyInsecureTransport" + strconv.Itoa(i)
	}
	stmt, err := json.Marshal(s3TLSStatement{Sid: sid, Effect: "Deny", Principal: "*", Action: "s3:*",
		Resource:  []string{r.UID, r.UID + "/*"},
		Condition: map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}})
	if err != nil {
		return nil, err
	}
	d.statements = append(d.statements, stmt)
	after := d.String()
	step := fmt.Sprintf("add statement %q denying every request over HTTP to the policy of bucket %s, keeping its %d statements", sid, r.Name, len(d.statements)-1)
	if doc == "" {
		step = fmt.Sprintf("create a policy for bucket %s with statement %q denying every request over HTTP", r.Name, sid)
	}
	return &fix.Plan{Steps: []string{step}, Calls: fixCalls{s3PolicyCall(r.Name, after)}.calls(), Before: before,
		State: &s3PolicyPlan{before: doc, after: after}}, nil
}

func (a *s3DenyInsecureTransport) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.f.s3ApplyPolicy(ctx, t, p, rec)
}

func (a *s3DenyInsecureTransport) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.f.s3UndoPolicy(ctx, t, before, rec)
}

// --- aws.s3.remove-public-policy-statements -------------------------------

// s3RemovePublicPolicyStatements removes from the bucket policy the
// statements that the IAM policy engine says make it public (to any
// action), round after round until it is not public, and deletes the
// policy when no statement remains. Undo writes the policy back as read.
type s3RemovePublicPolicyStatements struct{ fixAction }

func (a *s3RemovePublicPolicyStatements) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3Client(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	doc, err := s3ReadPolicy(ctx, c, r.Name)
	if err != nil {
		return nil, err
	}
	before := s3PolicyBefore(doc)
	if doc == "" {
		return &fix.Plan{NoOp: true, Steps: []string{"bucket " + r.Name + " has no policy"}, Before: before}, nil
	}
	d, err := parseResPolicyDoc(doc)
	if err != nil {
		return nil, err
	}
	// The collector's options, so that the fix and the check agree on
	// what public means.
	o := iampolicy.Options{ResourceType: TypeS3Bucket, ResourceARN: r.UID, Account: r.Account}
	// orig[i] is the index that d.statements[i] has in the policy as read.
	orig := make([]int, len(d.statements))
	for i := range orig {
		orig[i] = i
	}
	var removed []string
	for len(d.statements) > 0 {
		p, err := iampolicy.Parse([]byte(d.String()))
		if err != nil {
			return nil, fmt.Errorf("the policy of bucket %s does not parse: %w", r.Name, err)
		}
		res := iampolicy.IsPublic(p, o)
		if res.Verdict == iampolicy.NotPublic {
			break
		}
		if res.Verdict != iampolicy.Public {
			return nil, fmt.Errorf("cannot tell which statements make the policy of bucket %s public: %s", r.Name, strings.Join(res.Reasons, "; "))
		}
		drop := map[int]bool{}
		for _, name := range res.Statements {
			i, ok := s3StatementIndex(name)
			if !ok || i >= len(d.statements) {
				return nil, fmt.Errorf("the policy engine names statement %q, which the policy of bucket %s does not have", name, r.Name)
			}
			drop[i] = true
		}
		if len(drop) == 0 {
			return nil, fmt.Errorf("the policy of bucket %s is public but the policy engine names no statement: %s", r.Name, strings.Join(res.Reasons, "; "))
		}
		var keep []json.RawMessage
		var keepOrig []int
		for i, s := range d.statements {
			if drop[i] {
				removed = append(removed, s3StatementName(s, orig[i]))
				continue
			}
			keep, keepOrig = append(keep, s), append(keepOrig, orig[i])
		}
		d.statements, orig = keep, keepOrig
	}
	if len(removed) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"the policy of bucket " + r.Name + " is not public"}, Before: before}, nil
	}
	after := ""
	step := fmt.Sprintf("delete the policy of bucket %s: every statement makes it public (%s)", r.Name, strings.Join(removed, ", "))
	if len(d.statements) > 0 {
		after = d.String()
		step = fmt.Sprintf("remove the public statements %s from the policy of bucket %s, keeping its %d other statements",
			strings.Join(removed, ", "), r.Name, len(d.statements))
	}
	return &fix.Plan{Steps: []string{step}, Calls: fixCalls{s3PolicyCall(r.Name, after)}.calls(), Before: before,
		State: &s3PolicyPlan{before: doc, after: after}}, nil
}

func (a *s3RemovePublicPolicyStatements) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.f.s3ApplyPolicy(ctx, t, p, rec)
}

func (a *s3RemovePublicPolicyStatements) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	return a.f.s3UndoPolicy(ctx, t, before, rec)
}

// s3StatementIndex reads the index of an iampolicy statement name,
// `Statement[2] "Sid"`.
func s3StatementIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "Statement[")
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	return i, err == nil && i >= 0
}

// s3StatementName names a statement as the policy engine does,
// `Statement[2] "Sid"`, by its index in the policy as read.
func s3StatementName(raw json.RawMessage, index int) string {
	var s struct{ Sid string }
	if json.Unmarshal(raw, &s) == nil && s.Sid != "" {
		return fmt.Sprintf("Statement[%d] %q", index, s.Sid)
	}
	return fmt.Sprintf("Statement[%d]", index)
}

// --- aws.s3.account-block-public-access -----------------------------------

// s3AccountBlockPublicAccess turns on the four account-level Block Public
// Access settings through S3 Control. Undo restores the previous settings,
// or deletes the configuration when there was none.
type s3AccountBlockPublicAccess struct{ fixAction }

// s3controlClient returns an S3 Control client with the remediation
// credentials (without the account host prefix against an emulator; see
// noAccountHost).
func (f *Fixer) s3controlClient(ctx context.Context, account, region string) (*s3control.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return s3control.NewFromConfig(cfg, func(o *s3control.Options) {
		if f.scan.opts.Endpoint != "" {
			o.EndpointResolverV2 = noAccountHost{s3control.NewDefaultEndpointResolverV2()}
		}
	}), nil
}

func (a *s3AccountBlockPublicAccess) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.s3controlClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.GetPublicAccessBlock(ctx, &s3control.GetPublicAccessBlockInput{AccountId: aws.String(r.Account)})
	var before any
	switch {
	case hasCode(err, "NoSuchPublicAccessBlockConfiguration"):
	case err != nil:
		return nil, fmt.Errorf("s3:GetAccountPublicAccessBlock: %w", errorf(err))
	default:
		if pc := out.PublicAccessBlockConfiguration; pc != nil {
			before = bpaMap(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets)
			if allTrue(pc.BlockPublicAcls, pc.IgnorePublicAcls, pc.BlockPublicPolicy, pc.RestrictPublicBuckets) {
				return &fix.Plan{NoOp: true, Steps: []string{"S3 Block Public Access is already on for account " + r.Account},
					Before: map[string]any{"public_access_block": before}}, nil
			}
		}
	}
	now := "none"
	if before != nil {
		now = fmt.Sprint(before)
	}
	return &fix.Plan{
		Steps: []string{fmt.Sprintf("turn on BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets for every bucket of account %s (now: %s)", r.Account, now)},
		Calls: fixCalls{{"s3control:PutPublicAccessBlock", map[string]any{"AccountId": r.Account, "BlockPublicAcls": true,
			"IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}}}.calls(),
		Before: map[string]any{"public_access_block": before},
	}, nil
}

func (a *s3AccountBlockPublicAccess) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.put(ctx, t, true, true, true, true, rec)
}

func (a *s3AccountBlockPublicAccess) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, _ := before["public_access_block"].(map[string]any)
	if prev == nil {
		r := t.Resource
		c, err := a.f.s3controlClient(ctx, r.Account, r.Region)
		if err != nil {
			return err
		}
		return rec.Do("s3control:DeletePublicAccessBlock", map[string]any{"AccountId": r.Account}, func() error {
			_, err := c.DeletePublicAccessBlock(ctx, &s3control.DeletePublicAccessBlockInput{AccountId: aws.String(r.Account)})
			return errorOf(err)
		})
	}
	b := func(k string) bool { v, _ := prev[k].(bool); return v }
	return a.put(ctx, t, b("block_public_acls"), b("ignore_public_acls"), b("block_public_policy"), b("restrict_public_buckets"), rec)
}

func (a *s3AccountBlockPublicAccess) put(ctx context.Context, t fix.Target, acls, ignore, policy, restrict bool, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.s3controlClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	in := map[string]any{"AccountId": r.Account, "BlockPublicAcls": acls, "IgnorePublicAcls": ignore,
		"BlockPublicPolicy": policy, "RestrictPublicBuckets": restrict}
	return rec.Do("s3control:PutPublicAccessBlock", in, func() error {
		_, err := c.PutPublicAccessBlock(ctx, &s3control.PutPublicAccessBlockInput{AccountId: aws.String(r.Account),
			PublicAccessBlockConfiguration: &s3ctypes.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(acls),
				IgnorePublicAcls: aws.Bool(ignore), BlockPublicPolicy: aws.Bool(policy), RestrictPublicBuckets: aws.Bool(restrict)}})
		return errorOf(err)
	})
}

var (
	_ fix.Undoer = (*s3RemovePublicACL)(nil)
	_ fix.Undoer = (*s3EnableDefaultEncryption)(nil)
	_ fix.Undoer = (*s3EnableVersioning)(nil)
	_ fix.Undoer = (*s3DenyInsecureTransport)(nil)
	_ fix.Undoer = (*s3RemovePublicPolicyStatements)(nil)
	_ fix.Undoer = (*s3AccountBlockPublicAccess)(nil)
)
