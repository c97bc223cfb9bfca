package iampolicy

import "testing"

func TestSmoke(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"star", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`, "public"},
		{"vpce fixed", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1"}}}}`, "not_public"},
		{"vpce wild", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}}`, "public"},
		{"deny vpce", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringNotEquals":{"aws:SourceVpce":"vpce-1"}}}]}`, "not_public"},
		{"tls deny", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, "public"},
		{"ip /8", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"11.0.0.0/8"}}}}`, "not_public"},
		{"ip /7", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/7"}}}}`, "public"},
		{"ifexists", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEqualsIfExists":{"aws:SourceVpce":"vpce-1"}}}}`, "public"},
		{"deny all", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}]}`, "not_public"},
		{"account", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`, "not_public"},
		{"notprincipal", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`, "public"},
		{"userid role", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringLike":{"aws:userid":"AROAEXAMPLE:*"}}}}`, "not_public"},
		{"var", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceAccount":"${aws:PrincipalAccount}"}}}}`, "public"},
	}
	for _, c := range cases {
		p, err := Parse([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		r := IsPublic(p, Options{ResourceType: "aws.s3.bucket", Account: "123456789012"})
		if string(r.Verdict) != c.want {
			t.Errorf("%s: %s, want %s: %v", c.name, r.Verdict, c.want, r.Reasons)
		} else {
			t.Logf("%s: %s %v", c.name, r.Verdict, r.Reasons)
		}
	}
	adm, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if r := AnalyzePrincipal([]*Policy{adm}, nil); !r.Admin {
		t.Errorf("admin: %+v", r)
	}
	na, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"},{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}`))
	if r := AnalyzePrincipal([]*Policy{na}, nil); !r.Admin {
		t.Errorf("notaction admin: %+v", r)
	}
	pu, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}]}`))
	if r := AnalyzePrincipal([]*Policy{pu}, nil); r.Admin || r.FullIAM {
		t.Errorf("poweruser: %+v", r)
	} else {
		t.Logf("poweruser: %+v", r)
	}
	esc, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}`))
	t.Logf("esc: %+v", AnalyzePrincipal([]*Policy{esc}, nil))
	ca, _ := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999988887777:root","Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"*"}]}`))
	acc, v := CrossAccount(ca, Options{ResourceType: "aws.sqs.queue", Account: "123456789012"})
	t.Logf("cross: %v %+v", v, acc)
}
