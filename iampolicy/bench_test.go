package iampolicy

import (
	"testing"
)

// benchPolicies returns every corpus policy that parses, with its options.
func benchPolicies(b *testing.B) ([]*Policy, []Options) {
	b.Helper()
	corpus, _ := loadCorpus(b)
	var ps []*Policy
	var os []Options
	for _, cases := range corpus {
		for _, c := range cases {
			if p, err := c.parse(); err == nil {
				ps = append(ps, p)
				os = append(os, c.options())
			}
		}
	}
	if len(ps) == 0 {
		b.Fatal("no corpus policies")
	}
	return ps, os
}

// BenchmarkAnalyze runs every analysis (public, cross-account, admin and
// escalation) on each corpus policy and reports policies analyzed per second.
func BenchmarkAnalyze(b *testing.B) {
	ps, os := benchPolicies(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for j, p := range ps {
			o := os[j]
			if o.ResourceType == "identity" {
				o.ResourceType = ""
			}
			Analyze(p, o)
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "policies/s")
}

// BenchmarkIsPublic is the analysis a scan runs on every resource policy.
func BenchmarkIsPublic(b *testing.B) {
	ps, os := benchPolicies(b)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		for j, p := range ps {
			IsPublic(p, os[j])
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "policies/s")
}

// BenchmarkParse reports documents parsed per second.
func BenchmarkParse(b *testing.B) {
	doc := []byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Principal":"*","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}},{"Sid":"TLS","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	for i := 0; i < b.N; i++ {
		if _, err := Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "policies/s")
}

// BenchmarkEvaluate reports request evaluations per second.
func BenchmarkEvaluate(b *testing.B) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]},"Bool":{"aws:MultiFactorAuthPresent":"true"}}},{"Effect":"Deny","NotAction":"s3:*","Resource":"*"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	r := Request{Principal: AWS("arn:aws:iam::111122223333:user/alice"), Action: "s3:GetObject", Resource: "arn:aws:s3:::b/alice/report.csv",
		Context: map[string][]string{"aws:username": {"alice"}, "aws:SourceIp": {"192.0.2.10"}, "aws:MultiFactorAuthPresent": {"true"}}}
	for i := 0; i < b.N; i++ {
		if Evaluate(r, p) != Allowed {
			b.Fatal("not allowed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evaluations/s")
}
