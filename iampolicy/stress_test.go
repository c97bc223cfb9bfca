package iampolicy

import (
	"fmt"
	"strings"
	"testing"
)

// largeBucketPolicy builds a 120-statement bucket policy: each statement
// lets everyone read one prefix, but only through one VPC endpoint, from
// one /16 and for one s3:prefix; a Deny refuses plain HTTP from outside
// the organization. vpce, when set, replaces statement 77's endpoint and
// opens its network to 0.0.0.0/0.
func largeBucketPolicy(t *testing.T, vpce string) *Policy {
	t.Helper()
	var st []string
	for i := 0; i < 120; i++ {
		e, ip := fmt.Sprintf("vpce-%d", i), fmt.Sprintf("10.%d.0.0/16", i)
		if i == 77 && vpce != "" {
			e, ip = vpce, "0.0.0.0/0"
		}
		st = append(st, fmt.Sprintf(`{"Sid":"S%d","Effect":"Allow","Principal":"*","Action":["s3:GetObject%d","s3:PutObject%d","s3:List%d*"],`+
			`"Resource":"arn:aws:s3:::b/p%d/*","Condition":{"StringLike":{"aws:SourceVpce":%q,"s3:prefix":"p%d/*"},"IpAddress":{"aws:SourceIp":%q}}}`,
			i, i, i, i, i, e, i, ip))
	}
	st = append(st, `{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringNotEquals":{"aws:PrincipalOrgID":"o-abcdefghij"}}}`)
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[` + strings.Join(st, ",") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLargePolicy: a policy at the size limit is decided, not given up on.
func TestLargePolicy(t *testing.T) {
	t.Parallel()
	o := Options{ResourceType: "aws.s3.bucket", ResourceARN: "arn:aws:s3:::b", Account: "123456789012"}
	if r := IsPublic(largeBucketPolicy(t, ""), o); r.Verdict != NotPublic {
		t.Errorf("every statement pinned: %s %v", r.Verdict, r.Reasons)
	}
	r := IsPublic(largeBucketPolicy(t, "vpce-*"), o)
	if r.Verdict != Public || len(r.Statements) != 1 || r.Statements[0] != `Statement[77] "S77"` {
		t.Errorf("one wildcard endpoint: %s %v %v", r.Verdict, r.Statements, r.Reasons)
	}
	if acc, complete := CrossAccount(largeBucketPolicy(t, ""), o); len(acc) != 0 || !complete {
		t.Errorf("cross-account: %v complete=%v", acc, complete)
	}
}

// TestBudget: a question the search cannot finish within its budget is
// unknown, never not_public.
func TestBudget(t *testing.T) {
	t.Parallel()
	o := Options{ResourceType: "aws.s3.bucket", ResourceARN: "arn:aws:s3:::b", Budget: 2}
	if r := IsPublic(largeBucketPolicy(t, ""), o); r.Verdict != Unknown {
		t.Errorf("budget 2: %s %v", r.Verdict, r.Reasons)
	}
	if _, complete := CrossAccount(largeBucketPolicy(t, ""), o); complete {
		t.Error("cross-account claims completeness within a budget of 2")
	}
}
