package iampolicy

import (
	"encoding/json"
	"testing"
)

func TestIsPublic(t *testing.T) {
	cases := []struct {
		name, doc string
		want      bool
	}{
		{"star principal", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}`, true},
		{"aws star in list", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"sqs:*"}]}`, true},
		{"account principal", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"*"}]}`, false},
		{"deny only", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"*"}]}`, false},
		{"not principal", `{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:root"},"Action":"*"}]}`, true},
		{"empty condition", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{}}]}`, true},
		{"source vpce fixed", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b"}}}]}`, false},
		{"source vpce wildcard", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringLike":{"aws:SourceVpce":"vpce-*"}}}]}`, true},
		{"if exists", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualsIfExists":{"aws:SourceAccount":"111122223333"}}}]}`, true},
		{"negated operator", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringNotEquals":{"aws:SourceAccount":"111122223333"}}}]}`, true},
		{"source ip world", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`, true},
		{"source ip /7", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2.0.0.0/7"]}}}]}`, true},
		{"source ip /24", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`, false},
		{"unrelated key", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, true},
		{"policy variable", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"${aws:username}"}}}]}`, true},
		{"for all values", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"ForAllValues:StringEquals":{"aws:SourceVpc":"vpc-1"}}}]}`, true},
		{"org id", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}`, false},
		{"not a document", `"nope"`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var doc any
			if err := json.Unmarshal([]byte(tc.doc), &doc); err != nil {
				t.Fatal(err)
			}
			if got := IsPublic(doc); got != tc.want {
				t.Errorf("IsPublic = %v, want %v", got, tc.want)
			}
		})
	}
}
