package aws

import (
	"cmp"
	"context"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/vigilsec/vigil"
)

// TypeLambdaFunction is the resource type of a Lambda function.
const TypeLambdaFunction = "aws.lambda.function"

func init() {
	register(&service{name: "lambda", types: []string{TypeLambdaFunction}, collect: collectLambda, get: getLambda})
}

// collectLambda lists functions ($LATEST) with their resource policy,
// function URLs and tags. Environment variable VALUES are never stored:
// they often hold credentials, so only the names are kept.
func collectLambda(ctx context.Context, t *task) error {
	client := lambda.NewFromConfig(t.cfg)
	p := lambda.NewListFunctionsPaginator(client, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, fn := range page.Functions {
			r := lambdaFunction(ctx, t, client, fn)
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// getLambda re-reads the functions a Get wants: GetFunction answers the
// same configuration ($LATEST) that ListFunctions lists.
func getLambda(ctx context.Context, t *task) error {
	client := lambda.NewFromConfig(t.cfg)
	for _, uid := range t.wantedUIDs(TypeLambdaFunction) {
		out, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &uid})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case classify(err) == vigil.ENOTFOUND:
			continue
		case err != nil:
			t.getFailed(uid, err)
			continue
		case out.Configuration == nil:
			continue
		}
		if err := t.emit(ctx, lambdaFunction(ctx, t, client, *out.Configuration)); err != nil {
			return err
		}
	}
	return nil
}

// lambdaFunction describes one function from its listed configuration and
// the per-function calls.
func lambdaFunction(ctx context.Context, t *task, client *lambda.Client, fn lambdatypes.FunctionConfiguration) vigil.Resource {
	name := aws.ToString(fn.FunctionName)
	arn := aws.ToString(fn.FunctionArn)
	r := vigil.Resource{UID: arn, Type: TypeLambdaFunction, Name: name}
	if r.UID == "" {
		r.UID = t.arn("lambda", t.region, "function:"+name)
	}
	p := map[string]any{
		"runtime":                nil,
		"handler":                strOrNil(fn.Handler),
		"role":                   aws.ToString(fn.Role),
		"package_type":           string(fn.PackageType),
		"architectures":          []any{},
		"memory_size":            nil,
		"timeout":                nil,
		"code_size":              fn.CodeSize,
		"description":            aws.ToString(fn.Description),
		"last_modified":          lambdaTime(fn.LastModified),
		"kms_key_arn":            strOrNil(fn.KMSKeyArn),
		"tracing_mode":           nil,
		"vpc_config":             nil,
		"state":                  string(fn.State),
		"version":                aws.ToString(fn.Version),
		"layers":                 []any{},
		"dead_letter_target_arn": nil,
		// Names only: the values are never read into properties.
		"environment_variable_names": []any{},
	}
	r.Properties = p
	if fn.Runtime != "" {
		p["runtime"] = string(fn.Runtime)
	}
	if p["package_type"] == "" {
		p["package_type"] = string(lambdatypes.PackageTypeZip)
	}
	for _, a := range fn.Architectures {
		p["architectures"] = append(p["architectures"].([]any), string(a))
	}
	if fn.MemorySize != nil {
		p["memory_size"] = int(*fn.MemorySize)
	}
	if fn.Timeout != nil {
		p["timeout"] = int(*fn.Timeout)
	}
	if fn.TracingConfig != nil && fn.TracingConfig.Mode != "" {
		p["tracing_mode"] = string(fn.TracingConfig.Mode)
	}
	if v := fn.VpcConfig; v != nil && len(v.SubnetIds) > 0 {
		p["vpc_config"] = map[string]any{
			"vpc_id":             aws.ToString(v.VpcId),
			"subnet_ids":         anyStrs(v.SubnetIds),
			"security_group_ids": anyStrs(v.SecurityGroupIds),
		}
	}
	for _, l := range fn.Layers {
		p["layers"] = append(p["layers"].([]any), aws.ToString(l.Arn))
	}
	if fn.DeadLetterConfig != nil {
		p["dead_letter_target_arn"] = strOrNil(fn.DeadLetterConfig.TargetArn)
	}
	if fn.Environment != nil {
		names := make([]string, 0, len(fn.Environment.Variables))
		for k := range fn.Environment.Variables {
			names = append(names, k)
		}
		sort.Strings(names)
		p["environment_variable_names"] = anyStrs(names)
	}

	pol, err := client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &arn})
	switch {
	case hasCode(err, "ResourceNotFoundException"):
		p["policy"] = nil // no resource-based policy
	case err != nil:
		t.propErr(&r, "policy", err)
	default:
		p["policy"] = lambdaPolicy(aws.ToString(pol.Policy))
	}

	lambdaURLs(ctx, t, client, &r, arn)

	tags, err := client.ListTags(ctx, &lambda.ListTagsInput{Resource: &arn})
	if err != nil {
		t.propErr(&r, "tags", err)
	} else if len(tags.Tags) > 0 {
		r.Tags = tags.Tags
	}
	return r
}

// lambdaURLs sets function_url (the unqualified function's URL, or null)
// and function_urls (that one and every alias's), and alias_policies: an
// alias has a resource-based policy of its own, which can make the alias
// public while the function's policy is not. A URL can only be attached to
// $LATEST or an alias, so the aliases and one GetFunctionUrlConfig each
// cover them all.
func lambdaURLs(ctx context.Context, t *task, client *lambda.Client, r *vigil.Resource, arn string) {
	p := r.Properties
	urls, aliasPolicies := []any{}, []any{}
	urlErr := error(nil)
	latest, err := lambdaURL(ctx, client, arn, "")
	if err != nil {
		t.propErr(r, "function_url", err)
		urlErr = err
	} else {
		p["function_url"] = latest
		if latest != nil {
			urls = append(urls, latest)
		}
	}
	ap := lambda.NewListAliasesPaginator(client, &lambda.ListAliasesInput{FunctionName: &arn})
	for ap.HasMorePages() {
		page, err := ap.NextPage(ctx)
		if err != nil {
			t.propErr(r, "alias_policies", err)
			t.propErr(r, "function_urls", cmp.Or(urlErr, err))
			return
		}
		for _, a := range page.Aliases {
			name := aws.ToString(a.Name)
			if urlErr == nil {
				u, err := lambdaURL(ctx, client, arn, name)
				switch {
				case err != nil:
					urlErr = err
				case u != nil:
					urls = append(urls, u)
				}
			}
			if aliasPolicies == nil {
				continue
			}
			pol, err := client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: &arn, Qualifier: &name})
			switch {
			case hasCode(err, "ResourceNotFoundException"):
			case err != nil:
				t.propErr(r, "alias_policies", err)
				aliasPolicies = nil
			default:
				aliasPolicies = append(aliasPolicies, map[string]any{"alias": name, "policy": lambdaPolicy(aws.ToString(pol.Policy))})
			}
		}
	}
	if urlErr != nil {
		t.propErr(r, "function_urls", urlErr)
	} else {
		p["function_urls"] = urls
	}
	if aliasPolicies != nil {
		p["alias_policies"] = aliasPolicies
	}
}

// lambdaURL returns the URL config of the function or one of its aliases,
// or nil (not an error) when it has none.
func lambdaURL(ctx context.Context, client *lambda.Client, arn, qualifier string) (any, error) {
	in := &lambda.GetFunctionUrlConfigInput{FunctionName: &arn}
	if qualifier != "" {
		in.Qualifier = &qualifier
	}
	out, err := client.GetFunctionUrlConfig(ctx, in)
	if hasCode(err, "ResourceNotFoundException") {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The config names the function or alias it belongs to; an answer for
	// another qualifier (moto ignores Qualifier) is not this one's URL, and
	// is reported under its own qualifier only. "$LATEST" is a valid URL
	// qualifier (FunctionUrlQualifier) and is the unqualified function: a
	// URL created with it must not be dropped as belonging to no one.
	got := arnQualifier(aws.ToString(out.FunctionArn))
	sameFunction := got == qualifier || (qualifier == "" && got == "$LATEST")
	if out.FunctionArn != nil && !sameFunction {
		return nil, nil
	}
	var cors any
	if c := out.Cors; c != nil {
		cors = map[string]any{
			"allow_origins":     anyStrs(c.AllowOrigins),
			"allow_methods":     anyStrs(c.AllowMethods),
			"allow_headers":     anyStrs(c.AllowHeaders),
			"expose_headers":    anyStrs(c.ExposeHeaders),
			"allow_credentials": aws.ToBool(c.AllowCredentials),
			"max_age":           nil,
		}
		if c.MaxAge != nil {
			cors.(map[string]any)["max_age"] = int(*c.MaxAge)
		}
	}
	return map[string]any{
		"qualifier":   qualifier,
		"url":         aws.ToString(out.FunctionUrl),
		"auth_type":   string(out.AuthType),
		"invoke_mode": strings.ToUpper(string(out.InvokeMode)), // moto says "Buffered"
		"cors":        cors,
	}, nil
}

// arnQualifier returns the version or alias of a qualified function ARN
// (arn:aws:lambda:region:account:function:name:qualifier), or "".
func arnQualifier(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) == 8 {
		return parts[7]
	}
	return ""
}

// lambdaTime normalises Lambda's timestamps ("2024-01-02T03:04:05.000+0000")
// to timeFormat; text in an unknown layout is kept as it is.
func lambdaTime(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999-0700", time.RFC3339Nano} {
		if ts, err := time.Parse(layout, *s); err == nil {
			return ts.UTC().Format(timeFormat)
		}
	}
	return *s
}

// lambdaPolicy parses a function policy. AWS writes the FunctionUrlAuthType
// of an AddPermission call as the condition lambda:FunctionUrlAuthType;
// some emulators (moto 5) leave it as a statement element, which is not
// policy grammar. It is moved where AWS puts it, so the document means
// what the permission means.
func lambdaPolicy(text string) any {
	doc := parsePolicy(text)
	m, ok := doc.(map[string]any)
	if !ok {
		return doc
	}
	stmts, _ := m["Statement"].([]any)
	for _, e := range stmts {
		st, ok := e.(map[string]any)
		auth, has := st["FunctionUrlAuthType"]
		if !ok || !has {
			continue
		}
		delete(st, "FunctionUrlAuthType")
		cond, _ := st["Condition"].(map[string]any)
		if cond == nil {
			cond = map[string]any{}
			st["Condition"] = cond
		}
		eq, _ := cond["StringEquals"].(map[string]any)
		if eq == nil {
			eq = map[string]any{}
			cond["StringEquals"] = eq
		}
		eq["lambda:FunctionUrlAuthType"] = auth
	}
	return doc
}
