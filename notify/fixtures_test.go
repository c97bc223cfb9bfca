package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilsec/vigil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// at is when every fixture's cause happened.
var at = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

var bucket = vigil.AlertTarget{UID: "arn:aws:s3:::acme-logs", Type: "aws.s3.bucket", Name: "acme-logs",
	Provider: vigil.AWS, Account: "123456789012", Region: "us-east-1"}

// alerts are the fixed alerts every channel's golden files render: a
// change with a diff and an actor, a finding, a verified fix, and a fix
// held back because the finding keeps coming back.
var alerts = []struct {
	name  string
	alert vigil.Alert
}{
	{"change", vigil.Alert{
		Key: "change/arn:aws:s3:::acme-logs/v7/sec", Rule: "public-buckets", Channel: "sec", Kind: vigil.AlertChange,
		Severity: vigil.High, Title: "S3 bucket acme-logs made public by alice",
		What:     "The bucket policy of acme-logs now grants s3:GetObject to everyone (Principal \"*\").",
		Why:      "Anyone on the internet can read the objects: access logs hold client IPs & request paths.",
		Action:   "nothing: alert only",
		Resource: bucket,
		Actor: &vigil.Actor{ARN: "arn:aws:iam::123456789012:user/alice", Type: "IAMUser", AccessKeyID: "AKIAEXAMPLE",
			SourceIP: "203.0.113.7", UserAgent: "aws-cli/2.15.0"},
		Diff: []vigil.DiffOp{
			{Op: "replace", Path: "/public/policy", Old: false, New: true},
			{Op: "add", Path: "/policy/Statement/1", New: map[string]any{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
				"Resource": "arn:aws:s3:::acme-logs/*"}},
			{Op: "remove", Path: "/tags/owner", Old: "data-team"},
		},
		At: at,
	}},
	{"finding", vigil.Alert{
		Key: "finding/aws-ec2-sg-no-world-ssh/arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0abc/sec", Rule: "critical-findings",
		Channel: "sec", Kind: vigil.AlertFinding, Severity: vigil.Critical,
		Title:    "Security group web <prod> allows SSH from anywhere",
		What:     "Inbound rule tcp/22 from 0.0.0.0/0 on security group sg-0abc.",
		Why:      "SSH open to the internet invites brute force and exploits of sshd.",
		Action:   "nothing yet: no Always Fix rule covers this check",
		Resource: vigil.AlertTarget{UID: "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0abc", Type: "aws.ec2.security_group", Name: "web <prod>", Provider: vigil.AWS, Account: "123456789012", Region: "eu-west-1"},
		CheckID:  "aws-ec2-sg-no-world-ssh", FindingID: "f-059ce9d837",
		At: at,
	}},
	{"fix-verified", vigil.Alert{
		Key: "fix/x-0a1b2c3d4e/sec", Rule: "private-buckets", Channel: "sec", Kind: vigil.AlertFix, Severity: vigil.Critical,
		Title:    "Vigil made S3 bucket acme-logs private again",
		What:     "Always Fix rule private-buckets turned on Block Public Access for acme-logs.",
		Why:      "S3 bucket does not allow public access.",
		Action:   "applied aws.s3.block-public-access and verified it: the check passes on the bucket as read back",
		Resource: bucket, CheckID: "aws-s3-bucket-no-public-access", FindingID: "f-1f2e3d4c5b",
		FixID: "x-0a1b2c3d4e", FixStatus: vigil.FixVerified, At: at,
	}},
	{"fix-flapping", vigil.Alert{
		Key: "fix/x-99aa88bb77/sec", Rule: "private-buckets", Channel: "sec", Kind: vigil.AlertFix, Severity: vigil.Critical,
		Title:    "Vigil stopped fixing S3 bucket acme-logs: it keeps being made public",
		What:     "The finding came back 3 times in 24h after Vigil fixed it.",
		Why:      "S3 bucket does not allow public access.",
		Action:   "nothing: flapping guard; a person should find out who keeps changing it",
		Resource: bucket, CheckID: "aws-s3-bucket-no-public-access", FindingID: "f-1f2e3d4c5b",
		FixID: "x-99aa88bb77", FixStatus: vigil.FixSkipped, At: at,
	}},
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./notify -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// indent is a JSON body as the golden files hold it.
func indent(t *testing.T, body []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Indent(&b, body, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, body)
	}
	b.WriteByte('\n')
	return b.Bytes()
}
