package iampolicy

import (
	"errors"
	"testing"
)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, doc, want string }{
		{"not json", `{"Statement": [`, `invalid policy: Statement: not valid JSON (near byte 15): unexpected EOF`},
		{"trailing data", `{"Statement":{"Effect":"Allow","Action":"*"}} x`, `invalid policy: unexpected data after the policy document`},
		{"not an object", `[1]`, `invalid policy: the document must be a JSON object, got a list`},
		{"duplicate key", `{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*"}}`, `invalid policy: Statement.Effect: duplicate key "Effect"`},
		{"no statement", `{"Version":"2012-10-17"}`, `invalid policy: Statement: missing`},
		{"empty statement list", `{"Statement":[]}`, `invalid policy: Statement: the list is empty`},
		{"bad version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*"}}`, `invalid policy: Version: must be "2012-10-17" or "2008-10-17", got "2012-10-18"`},
		{"unknown element", `{"Statement":{"Effect":"Allow","Action":"*"},"Extra":1}`, `invalid policy: Extra: unknown policy element "Extra" (want Version, Id, Statement)`},
		{"bad effect", `{"Statement":[{"Effect":"Permit","Action":"*"}]}`, `invalid policy: Statement[0].Effect: must be "Allow" or "Deny", got "Permit"`},
		{"no effect", `{"Statement":[{"Action":"*"}]}`, `invalid policy: Statement[0].Effect: missing`},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, `invalid policy: Statement[0].Action: missing (a statement needs Action or NotAction)`},
		{"action and notaction", `{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*"}]}`, `invalid policy: Statement[0].NotAction: a statement has either Action or NotAction, not both`},
		{"principal and notprincipal", `{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":{"AWS":"111122223333"},"Action":"*"}]}`, `invalid policy: Statement[0].NotPrincipal: a statement has either Principal or NotPrincipal, not both`},
		{"bad action", `{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","GetObject"]}]}`, `invalid policy: Statement[0].Action[1]: action "GetObject" is not "*" or "service:action"`},
		{"empty action list", `{"Statement":[{"Effect":"Allow","Action":[]}]}`, `invalid policy: Statement[0].Action: the list is empty`},
		{"number as action", `{"Statement":[{"Effect":"Allow","Action":[1]}]}`, `invalid policy: Statement[0].Action[0]: must be a string, got a number`},
		{"wildcard in principal arn", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"*"}]}`, `invalid policy: Statement[0].Principal.AWS: principal "arn:aws:iam::*:root": wildcards are not allowed in a principal, only "*" alone`},
		{"string principal", `{"Statement":[{"Effect":"Allow","Principal":"111122223333","Action":"*"}]}`, `invalid policy: Statement[0].Principal: a string principal must be "*", got "111122223333" (use {"AWS": ...})`},
		{"unknown principal type", `{"Statement":[{"Effect":"Allow","Principal":{"User":"x"},"Action":"*"}]}`, `invalid policy: Statement[0].Principal.User: unknown principal type "User" (want AWS, Service, Federated, CanonicalUser)`},
		{"bad aws principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"*"}]}`, `invalid policy: Statement[0].Principal.AWS: "alice" is not an account id or an IAM/STS ARN`},
		{"unknown operator", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEqual":{"aws:username":"a"}}}]}`, `invalid policy: Statement[0].Condition.StringEqual: unknown condition operator "StringEqual"`},
		{"unknown set operator", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}]}`, `invalid policy: Statement[0].Condition.ForSomeValues:StringEquals: unknown set operator "ForSomeValues" (want ForAnyValue or ForAllValues)`},
		{"null ifexists", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}]}`, `invalid policy: Statement[0].Condition.NullIfExists: operator "NullIfExists": Null takes neither IfExists nor a set qualifier`},
		{"bad cidr", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}]}`, `invalid policy: Statement[0].Condition.IpAddress.aws:SourceIp: IpAddress needs IP addresses or CIDR blocks, got "10.0.0.0/33"`},
		{"bad number", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}]}`, `invalid policy: Statement[0].Condition.NumericLessThan.s3:max-keys: NumericLessThan needs numbers, got "ten"`},
		{"bad date", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}]}`, `invalid policy: Statement[0].Condition.DateLessThan.aws:CurrentTime: DateLessThan needs dates (ISO 8601 or epoch seconds), got "tomorrow"`},
		{"bad bool", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}]}`, `invalid policy: Statement[0].Condition.Bool.aws:SecureTransport: Bool needs "true" or "false", got "yes"`},
		{"empty values", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"aws:username":[]}}}]}`, `invalid policy: Statement[0].Condition.StringEquals.aws:username: the list of values is empty`},
		{"object value", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"StringEquals":{"aws:username":{"a":1}}}}]}`, `invalid policy: Statement[0].Condition.StringEquals.aws:username: must be a string, number or boolean, got an object`},
		{"condition not object", `{"Statement":[{"Effect":"Allow","Action":"*","Condition":"x"}]}`, `invalid policy: Statement[0].Condition: must be an object of operators, got a string`},
		{"unknown statement element", `{"Statement":[{"Effect":"Allow","Action":"*","Principals":"*"}]}`, `invalid policy: Statement[0].Principals: unknown statement element "Principals" (want Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			var pe *Error
			if !errors.As(err, &pe) || p != nil {
				t.Fatalf("Parse = %v, %v; want an *Error", p, err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseShapes(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`{"Version":"2012-10-17","Id":"x","Statement":{"Sid":"One","Effect":"Deny",
		"NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/r"],"Service":"s3.amazonaws.com",
		"Federated":"cognito-identity.amazonaws.com","CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},
		"NotAction":"s3:Get*","NotResource":["arn:aws:s3:::b/*"],
		"Condition":{"ForAnyValue:StringNotLikeIfExists":{"aws:TagKeys":["a*",1,true]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Statements[0]
	c := s.Conditions[0]
	switch {
	case p.Version != Version2012 || p.ID != "x" || len(p.Statements) != 1:
		t.Errorf("policy %+v", p)
	case s.Sid != "One" || s.Effect != Deny || s.Principal != nil || s.NotPrincipal == nil:
		t.Errorf("statement %+v", s)
	case len(s.NotPrincipal.AWS) != 2 || s.NotPrincipal.Service[0] != "s3.amazonaws.com" || s.NotPrincipal.Federated[0] != "cognito-identity.amazonaws.com" || len(s.NotPrincipal.CanonicalUser) != 1:
		t.Errorf("principals %+v", s.NotPrincipal)
	case !s.Actions.Not || s.Actions.Values[0] != "s3:Get*" || !s.Resources.Not || s.Resources.Absent:
		t.Errorf("actions %+v resources %+v", s.Actions, s.Resources)
	case c.Key != "aws:TagKeys" || !c.Negated() || !c.IfExists() || c.set != setAny || len(c.Values) != 3 || c.Values[1] != "1" || c.Values[2] != "true":
		t.Errorf("condition %+v", c)
	}
	// Without a Version, policy variables are text.
	old, err := Parse([]byte(`{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/*"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if old.Version != Version2008 {
		t.Errorf("version %q", old.Version)
	}
	r := Request{Principal: AWS("111122223333"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b/${aws:username}/k",
		Context: map[string][]string{"aws:username": {"alice"}}}
	if d := Evaluate(r, old); d != Allowed {
		t.Errorf("2008 literal ${...}: %v", d)
	}
	r.Resource = "arn:aws:s3:::b/alice/k"
	if d := Evaluate(r, old); d != ImplicitDeny {
		t.Errorf("2008 does not substitute: %v", d)
	}
}
