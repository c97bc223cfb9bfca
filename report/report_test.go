package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *Report {
	start := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	end := start.Add(2500 * time.Millisecond)
	res := func(check, uid string, sev vigil.Severity, st vigil.Status, reason string) vigil.Result {
		return vigil.Result{CheckID: check, ResourceUID: uid, ResourceType: "aws.s3.bucket", Provider: vigil.AWS,
			Account: "123456789012", Region: "us-east-1", Severity: sev, Status: st, Reason: reason,
			FirstSeen: start, StatusSince: start, LastSeen: start}
	}
	return &Report{
		Scan: vigil.Scan{ID: "s-20261201T080000-abcdef", StartedAt: start, FinishedAt: &end, Status: "partial",
			Accounts: []string{"123456789012"},
			Stats:    vigil.ScanStats{Resources: 3, Changed: 1, APICalls: 42},
			ReadErrors: []vigil.ReadError{{Account: "123456789012", Region: "us-east-1", Type: "aws.s3.bucket",
				UID: "arn:aws:s3:::logs", Property: "policy", Operation: "s3:GetBucketPolicy", Code: vigil.EFORBIDDEN, Message: "AccessDenied: Access Denied"}}},
		Results: []vigil.Result{
			res("aws-s3-bucket-versioning-enabled", "arn:aws:s3:::data", vigil.Medium, vigil.StatusPass, "S3 buckets are versioned"),
			res("aws-s3-bucket-no-public-read", "arn:aws:s3:::www", vigil.Critical, vigil.StatusFail, "ACL grants READ to AllUsers"),
			res("aws-s3-bucket-tls-only", "arn:aws:s3:::logs", vigil.Medium, vigil.StatusError, "could not read policy: s3:GetBucketPolicy: forbidden"),
			res("aws-s3-bucket-access-logging", "arn:aws:s3:::www", vigil.Low, vigil.StatusMuted, "muted: reviewed (fail: no logging)"),
		},
		Checks: map[string]CheckInfo{
			"aws-s3-bucket-no-public-read": {Title: "S3 buckets do not allow public read access", Remediation: "Block public access.",
				Frameworks: map[string][]string{"aws-fsbp": {"S3.2"}}},
		},
		Names: map[string]string{"arn:aws:s3:::www": "www", "arn:aws:s3:::logs": "logs", "arn:aws:s3:::data": "data"},
	}
}

func TestFormats(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := sample().Write(&b, format); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, b.Bytes()) {
				t.Errorf("%s output differs from %s:\n%s", format, path, b.String())
			}
		})
	}
	if err := sample().Write(&bytes.Buffer{}, "xml"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("unknown format: %v", err)
	}
}

func TestOCSFUnknownSeverity(t *testing.T) {
	r := sample()
	r.Results[1].Severity = ""
	var buf bytes.Buffer
	if err := r.Write(&buf, "ocsf"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"severity": "Unknown"`)) || !bytes.Contains(buf.Bytes(), []byte(`"severity_id": 0`)) {
		t.Errorf("a result without severity is not reported as Unknown (0):\n%s", buf.String())
	}
}
