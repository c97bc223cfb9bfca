package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/iampolicy"
)

// The resource-policy fixes: the statements the IAM policy engine says
// make a queue, topic, secret, repository or function public are removed,
// and every other statement is kept as written.
func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &resPolicyRemovePublic{fixAction: fixAction{f: f, id: "aws.sqs.remove-public-statements", typ: TypeSQSQueue,
				title: "remove the statements that make the queue's access policy public, keeping the others (removing the policy if none remain)",
				perms: []string{"sqs:GetQueueAttributes", "sqs:SetQueueAttributes"}}, open: sqsPolicyIO}
		},
		func(f *Fixer) fix.Action {
			return &resPolicyRemovePublic{fixAction: fixAction{f: f, id: "aws.sns.remove-public-statements", typ: TypeSNSTopic,
				title: "remove the statements that make the topic's access policy public, keeping the others (writing the default topic policy, limited to the owner account, if none remain)",
				perms: []string{"sns:GetTopicAttributes", "sns:SetTopicAttributes"}}, open: snsPolicyIO}
		},
		func(f *Fixer) fix.Action {
			return &resPolicyRemovePublic{fixAction: fixAction{f: f, id: "aws.secretsmanager.remove-public-statements", typ: TypeSecretsManagerSecret,
				title: "remove the statements that make the secret's resource policy public, keeping the others (deleting the policy if none remain)",
				perms: []string{"secretsmanager:GetResourcePolicy", "secretsmanager:PutResourcePolicy", "secretsmanager:DeleteResourcePolicy"}},
				open: secretPolicyIO}
		},
		func(f *Fixer) fix.Action {
			return &resPolicyRemovePublic{fixAction: fixAction{f: f, id: "aws.ecr.remove-public-statements", typ: TypeECRRepository,
				title: "remove the statements that make the repository policy public, keeping the others (deleting the policy if none remain)",
				perms: []string{"ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy"}}, open: ecrPolicyIO}
		},
		func(f *Fixer) fix.Action {
			return &lambdaRemovePublicPermissions{fixAction{f: f, id: "aws.lambda.remove-public-permissions", typ: TypeLambdaFunction,
				title: "remove the permissions that make the function's or its aliases' resource-based policies public (undo re-adds those AddPermission can write exactly)",
				perms: []string{"lambda:GetPolicy", "lambda:ListAliases", "lambda:RemovePermission", "lambda:AddPermission"}}}
		},
	)
}

// errResPolicyPlan is returned by an Apply given a plan it did not make.
var errResPolicyPlan = errors.New("the plan does not come from this action")

// --- removing public statements from a document ---------------------------

// resPolicyStripped is a policy document without the statements that made
// it public.
type resPolicyStripped struct {
	// After is the document without them, compact, with its other elements
	// and statements as written; "" when nothing was removed or no
	// statement is left.
	After string
	// Removed names the removed statements by their place in the original
	// document: Statement[2] "Sid".
	Removed []string
	// Statements are the removed statements as written.
	Statements []json.RawMessage
	// Kept is the number of statements left.
	Kept int
	// Reasons say why the original document was public.
	Reasons []string
}

// resPolicyStrip removes from a policy document the statements that the
// policy engine names as granting the public access, round after round
// until the document is not public: a round names the statements of the
// witnesses it found, so another public statement may show only once those
// are gone. Deny statements are never removed. A document the engine
// cannot decide is an error, not a guess.
func resPolicyStrip(doc string, o iampolicy.Options) (resPolicyStripped, error) {
	var out resPolicyStripped
	d, err := parseResPolicyDoc(doc)
	if err != nil {
		return out, err
	}
	orig := make([]int, len(d.statements)) // index in doc of each statement left
	for i := range orig {
		orig[i] = i
	}
	for {
		p, err := iampolicy.Parse([]byte(d.String()))
		if err != nil {
			return out, fmt.Errorf("the policy does not parse: %w", err)
		}
		res := iampolicy.IsPublic(p, o)
		if res.Verdict == iampolicy.NotPublic {
			break
		}
		if res.Verdict != iampolicy.Public {
			return out, fmt.Errorf("cannot tell which statements make the policy public: %s", strings.Join(res.Reasons, "; "))
		}
		if out.Reasons == nil {
			out.Reasons = res.Reasons
		}
		drop := map[int]bool{}
		for _, name := range res.Statements {
			var i int
			if _, err := fmt.Sscanf(name, "Statement[%d]", &i); err != nil || i < 0 || i >= len(d.statements) {
				return out, fmt.Errorf("the policy engine names statement %q, which the policy does not have", name)
			}
			drop[i] = true
		}
		if len(drop) == 0 {
			return out, fmt.Errorf("the policy is public but the policy engine names no statement: %s", strings.Join(res.Reasons, "; "))
		}
		var keep []json.RawMessage
		var keepOrig []int
		for i, s := range d.statements {
			if !drop[i] {
				keep, keepOrig = append(keep, s), append(keepOrig, orig[i])
				continue
			}
			out.Removed = append(out.Removed, (&iampolicy.Statement{Index: orig[i], Sid: p.Statements[i].Sid}).Name())
			out.Statements = append(out.Statements, s)
		}
		d.statements, orig = keep, keepOrig
		if len(d.statements) == 0 {
			break
		}
	}
	out.Kept = len(d.statements)
	if len(out.Removed) > 0 && out.Kept > 0 {
		out.After = d.String()
	}
	return out, nil
}

// resPolicyDoc is a policy document edited statement by statement: its
// top-level elements in their order, raw, and its statements, raw.
type resPolicyDoc struct {
	keys       []string
	vals       map[string]json.RawMessage
	statements []json.RawMessage
}

// parseResPolicyDoc splits a document into its elements and statements. A
// URL-encoded document (as some emulators return attributes) is decoded
// first, as the collectors do.
func parseResPolicyDoc(doc string) (*resPolicyDoc, error) {
	if !strings.HasPrefix(strings.TrimSpace(doc), "{") {
		if u, err := url.QueryUnescape(doc); err == nil && strings.HasPrefix(strings.TrimSpace(u), "{") {
			doc = u
		}
	}
	d := &resPolicyDoc{vals: map[string]json.RawMessage{}}
	dec := json.NewDecoder(strings.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("the policy is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("the policy does not parse: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("the policy does not parse: %w", err)
		}
		if _, dup := d.vals[key]; !dup {
			d.keys = append(d.keys, key)
		}
		d.vals[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("the policy does not parse: %w", err)
	}
	raw, ok := d.vals["Statement"]
	if !ok {
		return nil, errors.New("the policy has no Statement")
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &d.statements); err != nil {
			return nil, fmt.Errorf("the policy's Statement does not parse: %w", err)
		}
	} else {
		d.statements = []json.RawMessage{raw}
	}
	return d, nil
}

// String renders the document, compact, with Statement as a list.
func (d *resPolicyDoc) String() string {
	var b bytes.Buffer
	b.WriteByte('{')
	keys := d.keys
	if !contains(keys, "Statement") {
		keys = append(keys[:len(keys):len(keys)], "Statement")
	}
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		if k != "Statement" {
			b.Write(d.vals[k])
			continue
		}
		b.WriteByte('[')
		for j, s := range d.statements {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(s)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Compact(&out, b.Bytes()); err != nil {
		return b.String()
	}
	return out.String()
}

// --- SQS, SNS, Secrets Manager, ECR ---------------------------------------

// resPolicyIO reads and writes the policy document of one resource.
type resPolicyIO struct {
	// what names the document in steps: "the access policy of queue orders".
	what string
	// read returns the document as the service returns it, "" for none.
	read func(ctx context.Context) (string, error)
	// call is the call that makes the document doc ("" removes it).
	call func(doc string) fixCall
	// write makes the document doc ("" removes it).
	write func(ctx context.Context, doc string) error
	// empty replaces a document left without statements; "" removes it.
	empty string
}

// resPolicyRemovePublic removes the public statements of a resource
// policy. Undo writes the policy back exactly as it was read.
type resPolicyRemovePublic struct {
	fixAction
	open func(ctx context.Context, f *Fixer, r vigil.Resource) (*resPolicyIO, error)
}

// resPolicyPlan is a planned policy change: the document as read, and the
// one to write.
type resPolicyPlan struct{ before, after string }

func (a *resPolicyRemovePublic) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	io, err := a.open(ctx, a.f, t.Resource)
	if err != nil {
		return nil, err
	}
	doc, err := io.read(ctx)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"policy": nil}
	if doc == "" {
		return &fix.Plan{NoOp: true, Steps: []string{"there is no " + strings.TrimPrefix(io.what, "the ")}, Before: before}, nil
	}
	before["policy"] = doc
	// The options of the check (iam.isPublic), so that fix and check agree
	// on what public means.
	res, err := resPolicyStrip(doc, iampolicy.Options{ResourceType: a.typ})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", io.what, err)
	}
	if len(res.Removed) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{io.what + " is not public"}, Before: before}, nil
	}
	names := strings.Join(res.Removed, ", ")
	after := res.After
	var step string
	switch {
	case after != "":
		step = fmt.Sprintf("remove the public statements %s from %s, keeping its %d other statement(s)", names, io.what, res.Kept)
	case io.empty != "":
		after = io.empty
		step = fmt.Sprintf("replace %s with the default policy, which only the owner account can use: every statement makes it public (%s)", io.what, names)
	default:
		step = fmt.Sprintf("remove %s: every statement makes it public (%s)", io.what, names)
	}
	steps := []string{step, "public because " + strings.Join(res.Reasons, "; ")}
	return &fix.Plan{Steps: steps, Calls: fixCalls{io.call(after)}.calls(), Before: before,
		State: &resPolicyPlan{before: doc, after: after}}, nil
}

// Apply writes the planned policy, refusing when the policy changed since
// the plan: writing over it would undo that change.
func (a *resPolicyRemovePublic) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*resPolicyPlan)
	if !ok {
		return errResPolicyPlan
	}
	io, err := a.open(ctx, a.f, t.Resource)
	if err != nil {
		return err
	}
	now, err := io.read(ctx)
	if err != nil {
		return err
	}
	if now != st.before {
		return fmt.Errorf("%s changed since the plan: plan again", io.what)
	}
	c := io.call(st.after)
	return rec.Do(c.op, c.input, func() error { return io.write(ctx, st.after) })
}

// Undo writes back the policy recorded before the fix, as it was read.
func (a *resPolicyRemovePublic) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	v, ok := before["policy"]
	if !ok {
		return errors.New("no policy was recorded before the fix")
	}
	doc, _ := v.(string)
	io, err := a.open(ctx, a.f, t.Resource)
	if err != nil {
		return err
	}
	if doc == "" && io.empty != "" {
		doc = io.empty
	}
	c := io.call(doc)
	return rec.Do(c.op, c.input, func() error { return io.write(ctx, doc) })
}

// sqsPolicyIO reads and writes a queue's Policy attribute; setting it to
// "" removes the policy.
func sqsPolicyIO(ctx context.Context, f *Fixer, r vigil.Resource) (*resPolicyIO, error) {
	queueURL, _ := r.Properties["url"].(string)
	if queueURL == "" {
		return nil, fmt.Errorf("queue %s: no queue URL was collected", r.Name)
	}
	cfg, err := f.config(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	c := sqs.NewFromConfig(cfg)
	return &resPolicyIO{
		what: "the access policy of queue " + r.Name,
		read: func(ctx context.Context) (string, error) {
			out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy}})
			if err != nil {
				return "", fmt.Errorf("sqs:GetQueueAttributes: %w", errorf(err))
			}
			return out.Attributes["Policy"], nil
		},
		call: func(doc string) fixCall {
			return fixCall{"sqs:SetQueueAttributes", map[string]any{"QueueUrl": queueURL, "Attributes": map[string]any{"Policy": doc}}}
		},
		write: func(ctx context.Context, doc string) error {
			_, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &queueURL,
				Attributes: map[string]string{"Policy": doc}})
			return errorOf(err)
		},
	}, nil
}

// snsPolicyIO reads and writes a topic's Policy attribute. A topic always
// has a policy (SNS gives a new topic the default one), so a policy left
// without statements is replaced by that default, which lets only the
// owner account use the topic, rather than removed.
func snsPolicyIO(ctx context.Context, f *Fixer, r vigil.Resource) (*resPolicyIO, error) {
	cfg, err := f.config(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	c := sns.NewFromConfig(cfg)
	arn := r.UID
	return &resPolicyIO{
		what: "the access policy of topic " + r.Name,
		read: func(ctx context.Context) (string, error) {
			out, err := c.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &arn})
			if err != nil {
				return "", fmt.Errorf("sns:GetTopicAttributes: %w", errorf(err))
			}
			return out.Attributes["Policy"], nil
		},
		call: func(doc string) fixCall {
			return fixCall{"sns:SetTopicAttributes", map[string]any{"TopicArn": arn, "AttributeName": "Policy", "AttributeValue": doc}}
		},
		write: func(ctx context.Context, doc string) error {
			_, err := c.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &arn,
				AttributeName: aws.String("Policy"), AttributeValue: aws.String(doc)})
			return errorOf(err)
		},
		empty: snsDefaultPolicy(arn, r.Account),
	}, nil
}

// snsDefaultPolicy is the policy SNS gives a new topic: the owner
// account's principals may manage, publish to and subscribe to it.
func snsDefaultPolicy(topicARN, account string) string {
	doc := map[string]any{"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": []any{map[string]any{
		"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": map[string]any{"AWS": "*"},
		"Action": []string{"SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
			"SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"},
		"Resource":  topicARN,
		"Condition": map[string]any{"StringEquals": map[string]any{"AWS:SourceOwner": account}}}}}
	b, _ := json.Marshal(doc)
	return string(b)
}

// secretPolicyIO reads and writes a secret's resource policy. The secret
// value is never read.
func secretPolicyIO(ctx context.Context, f *Fixer, r vigil.Resource) (*resPolicyIO, error) {
	cfg, err := f.config(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	c := secretsmanager.NewFromConfig(cfg)
	id := r.UID
	return &resPolicyIO{
		what: "the resource policy of secret " + r.Name,
		read: func(ctx context.Context) (string, error) {
			out, err := c.GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: &id})
			if err != nil {
				return "", fmt.Errorf("secretsmanager:GetResourcePolicy: %w", errorf(err))
			}
			return aws.ToString(out.ResourcePolicy), nil
		},
		call: func(doc string) fixCall {
			if doc == "" {
				return fixCall{"secretsmanager:DeleteResourcePolicy", map[string]any{"SecretId": id}}
			}
			return fixCall{"secretsmanager:PutResourcePolicy", map[string]any{"SecretId": id, "ResourcePolicy": doc}}
		},
		write: func(ctx context.Context, doc string) error {
			var err error
			if doc == "" {
				_, err = c.DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: &id})
			} else {
				_, err = c.PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: &id, ResourcePolicy: &doc})
			}
			return errorOf(err)
		},
	}, nil
}

// ecrPolicyIO reads and writes a repository policy.
func ecrPolicyIO(ctx context.Context, f *Fixer, r vigil.Resource) (*resPolicyIO, error) {
	cfg, err := f.config(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	c := ecr.NewFromConfig(cfg)
	name := r.Name
	registry, _ := r.Properties["registry_id"].(string)
	input := func(extra map[string]any) map[string]any {
		in := map[string]any{"RepositoryName": name}
		if registry != "" {
			in["RegistryId"] = registry
		}
		for k, v := range extra {
			in[k] = v
		}
		return in
	}
	return &resPolicyIO{
		what: "the policy of repository " + name,
		read: func(ctx context.Context) (string, error) {
			out, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: &name, RegistryId: resPolicyOpt(registry)})
			switch {
			case hasCode(err, "RepositoryPolicyNotFoundException"):
				return "", nil
			case err != nil:
				return "", fmt.Errorf("ecr:GetRepositoryPolicy: %w", errorf(err))
			}
			return aws.ToString(out.PolicyText), nil
		},
		call: func(doc string) fixCall {
			if doc == "" {
				return fixCall{"ecr:DeleteRepositoryPolicy", input(nil)}
			}
			return fixCall{"ecr:SetRepositoryPolicy", input(map[string]any{"PolicyText": doc})}
		},
		write: func(ctx context.Context, doc string) error {
			var err error
			if doc == "" {
				_, err = c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: &name, RegistryId: resPolicyOpt(registry)})
			} else {
				_, err = c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: &name, RegistryId: resPolicyOpt(registry),
					PolicyText: &doc})
			}
			return errorOf(err)
		},
	}, nil
}

// resPolicyOpt is aws.String for optional inputs: nil for "".
func resPolicyOpt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// --- Lambda ----------------------------------------------------------------

// lambdaRemovePublicPermissions removes, with RemovePermission, each
// statement that makes the function's policy or one of its aliases'
// policies public (Lambda policies are edited a permission at a time, by
// Sid). Undo re-adds each removed permission with AddPermission from the
// recorded statement; a statement AddPermission cannot write exactly (more
// than one action, NotPrincipal, a condition other than those
// AddPermission writes) is not re-added, and the undo says so. Lambda
// appends a re-added statement at the end of the policy: the statements
// are restored, their order may not be.
type lambdaRemovePublicPermissions struct{ fixAction }

// lambdaPolicyText is one resource-based policy of a function: the
// function's own (qualifier "") or an alias's.
type lambdaPolicyText struct{ qualifier, text string }

// lambdaRemoval is one planned RemovePermission.
type lambdaRemoval struct{ qualifier, sid string }

// lambdaPermissionsPlan is what Apply needs: the policies as read, and the
// permissions to remove.
type lambdaPermissionsPlan struct {
	policies []lambdaPolicyText
	removals []lambdaRemoval
}

// lambdaReadPolicy returns a function's or alias's policy, "" for none.
func lambdaReadPolicy(ctx context.Context, c *lambda.Client, fn, qualifier string) (string, error) {
	out, err := c.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &fn, Qualifier: resPolicyOpt(qualifier)})
	switch {
	case hasCode(err, "ResourceNotFoundException"):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("lambda:GetPolicy: %w", errorf(err))
	}
	return aws.ToString(out.Policy), nil
}

func (a *lambdaRemovePublicPermissions) client(ctx context.Context, r vigil.Resource) (*lambda.Client, error) {
	cfg, err := a.f.config(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}

func (a *lambdaRemovePublicPermissions) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.client(ctx, r)
	if err != nil {
		return nil, err
	}
	fn := r.UID
	text, err := lambdaReadPolicy(ctx, c, fn, "")
	if err != nil {
		return nil, err
	}
	policies := []lambdaPolicyText{{"", text}}
	p := lambda.NewListAliasesPaginator(c, &lambda.ListAliasesInput{FunctionName: &fn})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("lambda:ListAliases: %w", errorf(err))
		}
		for _, al := range page.Aliases {
			q := aws.ToString(al.Name)
			text, err := lambdaReadPolicy(ctx, c, fn, q)
			if err != nil {
				return nil, err
			}
			policies = append(policies, lambdaPolicyText{q, text})
		}
	}
	st := &lambdaPermissionsPlan{}
	var steps []string
	var calls fixCalls
	var recorded, texts []any
	for _, pol := range policies {
		if pol.text == "" {
			continue
		}
		what := "function " + r.Name
		if pol.qualifier != "" {
			what = "alias " + pol.qualifier + " of function " + r.Name
		}
		texts = append(texts, map[string]any{"qualifier": pol.qualifier, "policy": pol.text})
		// lambdaPolicy puts an emulator's FunctionUrlAuthType element where
		// AWS writes it, as the collector does, so the fix reads the policy
		// as the check does.
		norm, err := json.Marshal(lambdaPolicy(pol.text))
		if err != nil {
			return nil, err
		}
		res, err := resPolicyStrip(string(norm), iampolicy.Options{ResourceType: TypeLambdaFunction})
		if err != nil {
			return nil, fmt.Errorf("the resource-based policy of %s: %w", what, err)
		}
		if len(res.Removed) == 0 {
			continue
		}
		st.policies = append(st.policies, pol)
		var sids, notes []string
		for i, raw := range res.Statements {
			var stmt map[string]any
			if err := json.Unmarshal(raw, &stmt); err != nil {
				return nil, err
			}
			sid, _ := stmt["Sid"].(string)
			if sid == "" {
				return nil, fmt.Errorf("the resource-based policy of %s: %s has no Sid, which RemovePermission needs", what, res.Removed[i])
			}
			sids = append(sids, fmt.Sprintf("%q", sid))
			st.removals = append(st.removals, lambdaRemoval{pol.qualifier, sid})
			in := map[string]any{"FunctionName": fn, "StatementId": sid}
			if pol.qualifier != "" {
				in["Qualifier"] = pol.qualifier
			}
			calls = append(calls, fixCall{"lambda:RemovePermission", in})
			perm, why := lambdaPermissionOf(stmt)
			entry := map[string]any{"qualifier": pol.qualifier, "sid": sid, "statement": stmt, "add_permission": nil}
			if perm != nil {
				entry["add_permission"] = perm
			} else {
				entry["not_restorable"] = why
				notes = append(notes, fmt.Sprintf("undo will not be able to re-add permission %q of %s: %s", sid, what, why))
			}
			recorded = append(recorded, entry)
		}
		steps = append(steps, fmt.Sprintf("remove the public permissions %s from the resource-based policy of %s, keeping its %d other statement(s); public because %s",
			strings.Join(sids, ", "), what, res.Kept, strings.Join(res.Reasons, "; ")))
		steps = append(steps, notes...)
	}
	before := map[string]any{"policies": texts, "permissions": recorded}
	if len(st.removals) == 0 {
		return &fix.Plan{NoOp: true, Steps: []string{"the resource-based policies of function " + r.Name + " are not public"}, Before: before}, nil
	}
	return &fix.Plan{Steps: steps, Calls: calls.calls(), Before: before, State: st}, nil
}

// Apply removes the planned permissions one by one, refusing when a policy
// changed since the plan; it stops at the first call that fails.
func (a *lambdaRemovePublicPermissions) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	st, ok := p.State.(*lambdaPermissionsPlan)
	if !ok {
		return errResPolicyPlan
	}
	r := t.Resource
	c, err := a.client(ctx, r)
	if err != nil {
		return err
	}
	fn := r.UID
	for _, pol := range st.policies {
		now, err := lambdaReadPolicy(ctx, c, fn, pol.qualifier)
		if err != nil {
			return err
		}
		if now != pol.text {
			return fmt.Errorf("the resource-based policy of function %s%s changed since the plan: plan again", r.Name, lambdaAliasNote(pol.qualifier))
		}
	}
	for _, rm := range st.removals {
		in := map[string]any{"FunctionName": fn, "StatementId": rm.sid}
		if rm.qualifier != "" {
			in["Qualifier"] = rm.qualifier
		}
		if err := rec.Do("lambda:RemovePermission", in, func() error {
			_, err := c.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: &fn, StatementId: aws.String(rm.sid),
				Qualifier: resPolicyOpt(rm.qualifier)})
			return errorOf(err)
		}); err != nil {
			return err
		}
	}
	return nil
}

// Undo re-adds each recorded permission that is no longer in its policy
// (after a fix that failed half-way, some were never removed), and fails
// naming those it cannot write exactly.
func (a *lambdaRemovePublicPermissions) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	perms, ok := before["permissions"].([]any)
	if !ok {
		return errors.New("no permissions were recorded before the fix")
	}
	r := t.Resource
	c, err := a.client(ctx, r)
	if err != nil {
		return err
	}
	fn := r.UID
	present := map[string]map[string]bool{} // qualifier → Sids in its policy now
	var unrestorable []error
	for _, e := range perms {
		m, _ := e.(map[string]any)
		q, _ := m["qualifier"].(string)
		sid, _ := m["sid"].(string)
		if present[q] == nil {
			text, err := lambdaReadPolicy(ctx, c, fn, q)
			if err != nil {
				return err
			}
			present[q] = lambdaSids(text)
		}
		if present[q][sid] {
			continue
		}
		perm, _ := m["add_permission"].(map[string]any)
		if perm == nil {
			why, _ := m["not_restorable"].(string)
			unrestorable = append(unrestorable, fmt.Errorf("permission %q%s cannot be re-added exactly: %s", sid, lambdaAliasNote(q), why))
			continue
		}
		in := lambdaAddPermissionInput(fn, q, sid, perm)
		recIn := map[string]any{"FunctionName": fn, "StatementId": sid}
		if q != "" {
			recIn["Qualifier"] = q
		}
		for k, v := range perm {
			recIn[k] = v
		}
		if err := rec.Do("lambda:AddPermission", recIn, func() error {
			_, err := c.AddPermission(ctx, in)
			return errorOf(err)
		}); err != nil {
			return err
		}
	}
	return errors.Join(unrestorable...)
}

func lambdaAliasNote(qualifier string) string {
	if qualifier == "" {
		return ""
	}
	return " (alias " + qualifier + ")"
}

// lambdaSids returns the Sids of a policy's statements.
func lambdaSids(text string) map[string]bool {
	out := map[string]bool{}
	doc, _ := parsePolicy(text).(map[string]any)
	var stmts []any
	switch s := doc["Statement"].(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	}
	for _, e := range stmts {
		if m, ok := e.(map[string]any); ok {
			if sid, ok := m["Sid"].(string); ok {
				out[sid] = true
			}
		}
	}
	return out
}

// lambdaConditions maps the conditions AddPermission writes, operator and
// key in lower case, to its input fields.
var lambdaConditions = map[string]string{
	"stringequals|aws:sourceaccount":          "SourceAccount",
	"arnlike|aws:sourcearn":                   "SourceArn",
	"stringequals|aws:principalorgid":         "PrincipalOrgID",
	"stringequals|lambda:functionurlauthtype": "FunctionUrlAuthType",
	"stringequals|lambda:eventsourcetoken":    "EventSourceToken",
	"bool|lambda:invokedviafunctionurl":       "InvokedViaFunctionUrl",
}

// lambdaPermissionOf returns the AddPermission fields (Action, Principal
// and those of lambdaConditions, all strings) that write stmt again, or
// why no AddPermission call can. The Resource is not an input: Lambda
// writes the function's or alias's ARN.
func lambdaPermissionOf(stmt map[string]any) (map[string]any, string) {
	if stmt["Effect"] != "Allow" {
		return nil, "it is not an Allow statement"
	}
	for _, k := range []string{"NotPrincipal", "NotAction", "NotResource"} {
		if _, ok := stmt[k]; ok {
			return nil, "AddPermission cannot write " + k
		}
	}
	action, ok := stmt["Action"].(string)
	if !ok {
		return nil, fmt.Sprintf("AddPermission writes one action, not %v", stmt["Action"])
	}
	out := map[string]any{"Action": action}
	switch p := stmt["Principal"].(type) {
	case string:
		if p != "*" {
			return nil, fmt.Sprintf("principal %q", p)
		}
		out["Principal"] = "*"
	case map[string]any:
		if len(p) != 1 {
			return nil, fmt.Sprintf("principal %v names several kinds", p)
		}
		for kind, v := range p {
			s, ok := v.(string)
			switch {
			case !ok:
				return nil, fmt.Sprintf("principal %v names several principals", p)
			case kind == "Service" || kind == "AWS" && s != "*":
				out["Principal"] = s
			default:
				// {"AWS": "*"} is not what AddPermission writes for "*".
				return nil, fmt.Sprintf("AddPermission cannot write principal %v", p)
			}
		}
	default:
		return nil, fmt.Sprintf("principal %v", stmt["Principal"])
	}
	cond, _ := stmt["Condition"].(map[string]any)
	if _, ok := stmt["Condition"]; ok && cond == nil {
		return nil, fmt.Sprintf("condition %v", stmt["Condition"])
	}
	for op, kv := range cond {
		keys, ok := kv.(map[string]any)
		if !ok {
			return nil, fmt.Sprintf("condition %s is not a map", op)
		}
		for key, v := range keys {
			field, known := lambdaConditions[strings.ToLower(op)+"|"+strings.ToLower(key)]
			if !known {
				return nil, fmt.Sprintf("AddPermission cannot write the condition %s %s", op, key)
			}
			s, ok := v.(string)
			if b, isBool := v.(bool); isBool {
				s, ok = fmt.Sprint(b), true
			}
			if !ok {
				return nil, fmt.Sprintf("the condition %s %s has several values", op, key)
			}
			out[field] = s
		}
	}
	return out, ""
}

// lambdaAddPermissionInput is the AddPermission call of recorded fields.
func lambdaAddPermissionInput(fn, qualifier, sid string, perm map[string]any) *lambda.AddPermissionInput {
	s := func(k string) *string { v, _ := perm[k].(string); return resPolicyOpt(v) }
	in := &lambda.AddPermissionInput{FunctionName: &fn, Qualifier: resPolicyOpt(qualifier), StatementId: &sid,
		Action: s("Action"), Principal: s("Principal"), SourceAccount: s("SourceAccount"), SourceArn: s("SourceArn"),
		PrincipalOrgID: s("PrincipalOrgID"), EventSourceToken: s("EventSourceToken")}
	if v, _ := perm["FunctionUrlAuthType"].(string); v != "" {
		in.FunctionUrlAuthType = lambdatypes.FunctionUrlAuthType(v)
	}
	if v, _ := perm["InvokedViaFunctionUrl"].(string); v != "" {
		in.InvokedViaFunctionUrl = aws.Bool(v == "true")
	}
	return in
}
