package iampolicy

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzAnalyze feeds arbitrary documents to the parser and every analysis:
// malformed input must yield an *Error, anything that parses must be
// analyzed without a panic and with a verdict from the documented set.
func FuzzAnalyze(f *testing.F) {
	for _, seed := range []string{
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"},"IpAddress":{"aws:SourceIp":["10.0.0.0/7","::/0"]}}},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"NotAction":"s3:Get*","NotResource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"ForAllValues:StringNotEqualsIfExists":{"aws:TagKeys":["a","${aws:PrincipalTag/x, 'd'}"]},"Null":{"aws:MultiFactorAuthPresent":"true"},"NumericLessThan":{"s3:max-keys":"10"},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"BinaryEquals":{"k":"QQ=="},"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:t?"}}}]}`,
		`{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}`,
		`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}`,
		`{"Statement":[{"Effect":"Permit"}]}`, `[1,2`, `{"Version":"2012-10-17","Version":"2012-10-17"}`,
	} {
		f.Add([]byte(seed))
	}
	corpus := map[string][]corpusCase{}
	if files, _ := filepath.Glob("testdata/corpus/*.yaml"); len(files) > 0 {
		corpus, _ = loadCorpus(f)
	}
	for _, cases := range corpus {
		for _, c := range cases {
			if c.PolicyJSON != "" {
				f.Add([]byte(c.PolicyJSON))
				continue
			}
			g, err := fromGeneric(c.Policy, "")
			if err != nil {
				continue
			}
			if b, err := json.Marshal(toPlain(g)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if p != nil {
				t.Fatal("a policy and an error")
			}
			return
		}
		o := Options{ResourceType: "aws.s3.bucket", Account: "123456789012", Budget: 2000}
		switch r := IsPublic(p, o); r.Verdict {
		case Public, NotPublic, Unknown:
		default:
			t.Fatalf("verdict %q", r.Verdict)
		}
		CrossAccount(p, o)
		AnalyzePrincipal([]*Policy{p}, nil)
		RequiresTLS(p, "arn:aws:s3:::b", "123456789012")
		Evaluate(Request{Principal: AWS("111122223333"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
			Context: map[string][]string{"aws:SourceIp": {"203.0.113.9"}, "aws:username": {"alice"}}}, p)
	})
}

// toPlain converts decoded values back to encoding/json's shapes.
func toPlain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.keys))
		for _, k := range x.keys {
			m[k] = toPlain(x.vals[k])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toPlain(e)
		}
		return out
	}
	return v
}
