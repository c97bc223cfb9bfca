package aws

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// lambdaSecret is an environment variable value that must never be collected.
const lambdaSecret = "hunter2-do-not-collect"

// lambdaZip is a minimal deployment package; moto stores it, never runs it.
func lambdaZip(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	w, err := z.Create("index.py")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("def handler(event, context):\n    return 1\n"))
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// seedFunctions creates, in us-east-1:
//   - "modern": python3.13 with secret env values, tracing on, no policy, no URL;
//   - "public-fn": a policy letting anyone invoke it;
//   - "open-url": a function URL with auth NONE, and the public permission
//     that goes with it (AWS conditions it on lambda:FunctionUrlAuthType;
//     moto drops the condition);
//   - "iam-url": an AWS_IAM function URL, and an alias "live" (moto keeps
//     one URL per function whatever the qualifier, so an alias's own URL
//     cannot be seeded; the alias must not duplicate the function's URL);
//   - "old-runtime": python3.7, invoked by S3 from this account only.
func seedFunctions(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config(t, "us-east-1")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("fn-role"),
		AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatal(err)
	}
	c := lambda.NewFromConfig(cfg)
	code := lambdaZip(t)
	create := func(name string, runtime lambdatypes.Runtime, mod func(*lambda.CreateFunctionInput)) {
		in := &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: runtime, Role: role.Role.Arn,
			Handler: aws.String("index.handler"), Code: &lambdatypes.FunctionCode{ZipFile: code}}
		if mod != nil {
			mod(in)
		}
		if _, err := c.CreateFunction(ctx, in); err != nil {
			t.Fatalf("create function %s: %v", name, err)
		}
	}
	permit := func(name, sid, action, principal string, mod func(*lambda.AddPermissionInput)) {
		in := &lambda.AddPermissionInput{FunctionName: aws.String(name), StatementId: aws.String(sid),
			Action: aws.String(action), Principal: aws.String(principal)}
		if mod != nil {
			mod(in)
		}
		if _, err := c.AddPermission(ctx, in); err != nil {
			t.Fatalf("add permission %s to %s: %v", sid, name, err)
		}
	}
	create("modern", lambdatypes.RuntimePython313, func(in *lambda.CreateFunctionInput) {
		in.Environment = &lambdatypes.Environment{Variables: map[string]string{"DB_PASSWORD": lambdaSecret, "API_TOKEN": lambdaSecret}}
		in.TracingConfig = &lambdatypes.TracingConfig{Mode: lambdatypes.TracingModeActive}
		in.Tags = map[string]string{"team": "core"}
	})
	create("public-fn", lambdatypes.RuntimePython313, nil)
	permit("public-fn", "anyone", "lambda:InvokeFunction", "*", nil)
	create("open-url", lambdatypes.RuntimePython312, nil)
	if _, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("open-url"),
		AuthType: lambdatypes.FunctionUrlAuthTypeNone, Cors: &lambdatypes.Cors{AllowOrigins: []string{"*"}}}); err != nil {
		t.Fatal(err)
	}
	permit("open-url", "FunctionURLAllowPublicAccess", "lambda:InvokeFunctionUrl", "*", func(in *lambda.AddPermissionInput) {
		in.FunctionUrlAuthType = lambdatypes.FunctionUrlAuthTypeNone
	})
	create("iam-url", lambdatypes.RuntimePython312, nil)
	if _, err := c.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String("iam-url"),
		AuthType: lambdatypes.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	ver, err := c.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("iam-url")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &lambda.CreateAliasInput{FunctionName: aws.String("iam-url"), Name: aws.String("live"),
		FunctionVersion: ver.Version}); err != nil {
		t.Fatal(err)
	}
	create("old-runtime", lambdatypes.RuntimePython37, nil)
	permit("old-runtime", "s3", "lambda:InvokeFunction", "s3.amazonaws.com", func(in *lambda.AddPermissionInput) {
		in.SourceAccount = aws.String("123456789012")
		in.SourceArn = aws.String("arn:aws:s3:::uploads")
	})
}

func TestLambda(t *testing.T) {
	moto.Reset(t)
	seedFunctions(t)
	col := collect(t, []string{"lambda"})
	if len(col.readErrors) != 0 {
		t.Fatalf("read errors: %v", col.readErrors)
	}
	fns := col.ofType(TypeLambdaFunction)
	if len(fns) != 5 {
		t.Fatalf("got %d functions, want 5", len(fns))
	}
	modern := fns["modern"]
	if modern.UID != "arn:aws:lambda:us-east-1:123456789012:function:modern" || modern.Tags["team"] != "core" {
		t.Errorf("modern: uid %s tags %v", modern.UID, modern.Tags)
	}
	for name, want := range map[string]map[string]any{
		"modern": {"runtime": "python3.13", "handler": "index.handler", "role": "arn:aws:iam::123456789012:role/fn-role",
			"package_type": "Zip", "architectures": []any{"x86_64"}, "tracing_mode": "Active", "vpc_config": nil,
			"environment_variable_names": []any{"API_TOKEN", "DB_PASSWORD"}, "policy": nil,
			"function_url": nil, "function_urls": []any{}, "memory_size": 128, "timeout": 3},
		"public-fn": {"runtime": "python3.13", "environment_variable_names": []any{}},
		"open-url": {"function_url": map[string]any{"qualifier": "", "auth_type": "NONE", "invoke_mode": "BUFFERED",
			"url": fns["open-url"].Properties["function_url"].(map[string]any)["url"],
			"cors": map[string]any{"allow_origins": []any{"*"}, "allow_methods": []any{}, "allow_headers": []any{},
				"expose_headers": []any{}, "allow_credentials": false, "max_age": nil}}},

		"old-runtime": {"runtime": "python3.7"},
	} {
		for k, v := range want {
			if got, ok := fns[name].Properties[k]; !ok || !reflect.DeepEqual(got, v) {
				t.Errorf("%s.%s = %#v (present %v), want %#v", name, k, got, ok, v)
			}
		}
	}
	iamURL := fns["iam-url"].Properties
	if urls := iamURL["function_urls"].([]any); len(urls) != 1 || !reflect.DeepEqual(urls[0], iamURL["function_url"]) ||
		urls[0].(map[string]any)["qualifier"] != "" || urls[0].(map[string]any)["auth_type"] != "AWS_IAM" {
		t.Errorf("iam-url function_url %#v, function_urls %#v", iamURL["function_url"], urls)
	}
	pub := fns["public-fn"].Properties["policy"].(map[string]any)["Statement"].([]any)[0].(map[string]any)
	if pub["Principal"] != "*" || pub["Effect"] != "Allow" {
		t.Errorf("public-fn policy statement = %v", pub)
	}
	if _, ok := modern.Properties["last_modified"].(string); !ok || !strings.HasSuffix(modern.Properties["last_modified"].(string), "Z") {
		t.Errorf("modern last_modified = %#v", modern.Properties["last_modified"])
	}

	// The environment variable values must appear nowhere in what was collected.
	b, err := json.Marshal(col.resources)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(lambdaSecret)) {
		t.Fatalf("collected resources contain an environment variable value: %s", b)
	}
}

// TestLambdaURLLatestQualifier checks that a function URL whose config names
// the function qualified with "$LATEST" (a valid FunctionUrlQualifier, the
// same function as the unqualified name) is counted as the function's URL,
// not dropped as another qualifier's.
func TestLambdaURLLatestQualifier(t *testing.T) {
	moto.Reset(t)
	seedFunctions(t)
	latest := answer("GetFunctionUrlConfig", func(in any) any {
		in2 := in.(*lambda.GetFunctionUrlConfigInput)
		if !strings.HasSuffix(aws.ToString(in2.FunctionName), ":function:modern") || in2.Qualifier != nil {
			return nil
		}
		return &lambda.GetFunctionUrlConfigOutput{AuthType: lambdatypes.FunctionUrlAuthTypeNone,
			FunctionArn: aws.String("arn:aws:lambda:us-east-1:123456789012:function:modern:$LATEST"),
			FunctionUrl: aws.String("https://abc.lambda-url.us-east-1.on.aws/"), InvokeMode: lambdatypes.InvokeModeBuffered}
	})
	p := collectWith(t, []string{"lambda"}, latest).ofType(TypeLambdaFunction)["modern"].Properties
	u, _ := p["function_url"].(map[string]any)
	if u == nil || u["qualifier"] != "" || u["auth_type"] != "NONE" {
		t.Fatalf("function_url = %#v, want the $LATEST URL with auth NONE", p["function_url"])
	}
	if urls, _ := p["function_urls"].([]any); len(urls) != 1 || !reflect.DeepEqual(urls[0], u) {
		t.Errorf("function_urls = %#v, want [function_url]", p["function_urls"])
	}
}

// TestLambdaAliasPolicy checks that an alias's own resource-based policy is
// collected: a public permission on an alias leaves the function's policy
// untouched, and the not-public check must still fail.
func TestLambdaAliasPolicy(t *testing.T) {
	moto.Reset(t)
	seedFunctions(t)
	ctx := context.Background()
	c := lambda.NewFromConfig(moto.Config(t, "us-east-1"))
	if _, err := c.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("iam-url"), Qualifier: aws.String("live"),
		StatementId: aws.String("anyone"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	col := collect(t, []string{"lambda"})
	p := col.ofType(TypeLambdaFunction)["iam-url"].Properties
	aliases, ok := p["alias_policies"].([]any)
	if !ok || len(aliases) != 1 || aliases[0].(map[string]any)["alias"] != "live" {
		t.Fatalf("alias_policies = %#v", p["alias_policies"])
	}
	if got := verdicts(t, col)["aws-lambda-function-not-public"]["iam-url"]; got != "fail" {
		t.Errorf("aws-lambda-function-not-public on iam-url = %q, want fail (public alias)", got)
	}
}
