package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
	"github.com/vigilsec/vigil/scan"
	"github.com/vigilsec/vigil/sqlite"
)

// BenchmarkHealPublicBucket is the canonical story against moto: a bucket
// is made public, a scan of S3 finds it, the fix (Block Public Access) is
// planned, applied, and verified by re-reading the bucket and re-evaluating
// the check. It reports the scan, the fix, and the time from "the scan
// finds the public bucket" to "fix verified".
func BenchmarkHealPublicBucket(b *testing.B) {
	srv, cfg := startMoto(b)
	ctx := context.Background()
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		b.Fatal(err)
	}
	checks, err = checks.Select([]string{"aws-s3-bucket-no-public-read"}, "")
	if err != nil {
		b.Fatal(err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	b.ResetTimer()
	for i := range b.N {
		bucket := fmt.Sprintf("heal-bench-%d", i)
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			b.Fatal(err)
		}
		pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + bucket + `/*"}]}`
		if _, err := s3c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(pol)}); err != nil {
			b.Fatal(err)
		}
		store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), fmt.Sprintf("heal-%d.db", i)))
		if err != nil {
			b.Fatal(err)
		}
		col, err := awscol.New(awscol.Options{Endpoint: srv.URL, Regions: []string{"us-east-1"}, Services: []string{"s3"}})
		if err != nil {
			b.Fatal(err)
		}
		acct, err := col.Resolve(ctx, awscol.Target{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		sc, err := scan.New(scan.Options{Store: store, Collectors: map[vigil.Provider]vigil.Collector{vigil.AWS: col}, Checks: checks}).
			Run(ctx, []vigil.Account{acct})
		if err != nil {
			b.Fatal(err)
		}
		scanned := time.Now()
		uid := "arn:aws:s3:::" + bucket
		found, err := store.Results(ctx, vigil.ResultFilter{ScanID: sc.ID, UID: uid, Statuses: []vigil.Status{vigil.StatusFail}})
		if err != nil || len(found) != 1 {
			b.Fatalf("the scan did not find the public bucket: %v %v", found, err)
		}
		fixer := awscol.NewFixer(col, awscol.Target{}, []vigil.Account{acct})
		reg, err := fix.NewRegistry(fixer.Actions()...)
		if err != nil {
			b.Fatal(err)
		}
		runner := &fix.Runner{Store: store, Actions: reg, Checks: checks, Refresh: fixer}
		j, err := runner.Prepare(ctx, "aws-s3-bucket-no-public-read", uid, nil)
		if err != nil {
			b.Fatal(err)
		}
		f, p, err := runner.Plan(ctx, j, "user:bench", "fix-now")
		if err != nil {
			b.Fatal(err)
		}
		f, err = runner.Apply(ctx, j, f, p)
		if err != nil || f.Status != vigil.FixVerified {
			b.Fatalf("fix: %s %s %v", f.Status, f.Reason, err)
		}
		done := time.Now()
		_ = store.Close()
		b.ReportMetric(scanned.Sub(start).Seconds(), "scan-s")
		b.ReportMetric(done.Sub(scanned).Seconds(), "found-to-verified-s")
		b.ReportMetric(done.Sub(start).Seconds(), "total-s")
	}
}
