package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vigilsec/vigil/internal/demo"
)

type jsonReport struct {
	Schema string `json:"schema"`
	Scan   struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"scan"`
	Results []struct {
		FindingID    string `json:"finding_id"`
		CheckID      string `json:"check_id"`
		Status       string `json:"status"`
		Reason       string `json:"reason"`
		ResourceUID  string `json:"resource_uid"`
		ResourceType string `json:"resource_type"`
		ResourceName string `json:"resource_name"`
		Region       string `json:"region"`
		Account      string `json:"account"`
		Severity     string `json:"severity"`
	} `json:"results"`
}

// verdicts maps check id → resource name → status.
func (r jsonReport) verdicts() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, x := range r.Results {
		if out[x.CheckID] == nil {
			out[x.CheckID] = map[string]string{}
		}
		out[x.CheckID][x.ResourceName] = x.Status
	}
	return out
}

func scanJSON(t *testing.T, db string, extra ...string) jsonReport {
	t.Helper()
	args := append([]string{"--db", db, "scan", "--endpoint-url", emulator.URL, "--regions", strings.Join(demo.Regions, ","), "--format", "json"}, extra...)
	code, out, stderr := runCLI(t, args...)
	if code != 0 && code != 3 {
		t.Fatalf("scan exit %d: %s", code, stderr)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("scan output is not JSON: %v\n%s", err, out)
	}
	return rep
}

// TestScanDemoAccount scans the seeded demo account through the CLI and
// asserts exact verdicts on seeded resources, the JSON contract, --fail-on,
// inventory and history after a change.
func TestScanDemoAccount(t *testing.T) {
	emulator.Reset(t)
	ctx := context.Background()
	cfg := emulator.Config(t, "us-east-1")
	if err := demo.Seed(ctx, cfg, 1); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "vigil.db")
	rep := scanJSON(t, db)
	if rep.Schema != "1" || rep.Scan.ID == "" {
		t.Fatalf("schema %q scan %q", rep.Schema, rep.Scan.ID)
	}
	for _, x := range rep.Results {
		if x.CheckID == "" || x.ResourceUID == "" || x.ResourceType == "" || x.Region == "" || x.Account != "123456789012" || x.Reason == "" || x.FindingID == "" {
			t.Fatalf("result lacks a contract field: %+v", x)
		}
	}
	v := rep.verdicts()
	ids := ec2IDs(t, cfg)
	want := map[string]map[string]string{
		"aws-ec2-instance-imdsv2-required":       {ids["legacy-app"]: "fail", ids["api-server"]: "pass"},
		"aws-ec2-sg-no-world-ipv4-admin-ports":   {ids["bastion-0"]: "fail", ids["web-0"]: "pass"},
		"aws-rds-instance-not-public":            {"orders-db": "fail", "billing-db": "pass"},
		"aws-rds-instance-storage-encrypted":     {"orders-db": "fail", "billing-db": "pass"},
		"aws-ec2-ebs-default-encryption-enabled": {"us-east-1": "pass", "eu-west-1": "fail"},
		// The IAM policy engine: a wildcard endpoint is anyone's, a Deny
		// outside one endpoint closes an open grant.
		"aws-s3-bucket-no-public-read":                    {"acme-partner-drop": "fail", "acme-internal-reports": "pass", "acme-customer-exports": "fail", "acme-secure-data": "pass"},
		"aws-sqs-queue-no-untrusted-cross-account-access": {"order-intake": "fail", "payments": "pass"},
		"aws-iam-role-trust-federated-pinned":             {"ci-deploy": "fail", "app-lambda": "pass"},
		"aws-iam-role-trust-no-untrusted-accounts":        {"vendor-access": "fail", "app-lambda": "pass"},
		"aws-iam-user-no-privilege-escalation":            {"build-bot": "fail", "dev-00": "pass"},
		"aws-iam-user-no-admin-access":                    {"alice": "fail", "build-bot": "pass", "dev-00": "pass"},
	}
	for check, byName := range want {
		for name, status := range byName {
			if got := v[check][name]; got != status {
				t.Errorf("%s on %s = %q, want %s", check, name, got, status)
			}
		}
	}

	// --fail-on: critical/high findings exist, so exit 3.
	code, _, stderr := runCLI(t, "--db", db, "scan", "--endpoint-url", emulator.URL, "--regions", "us-east-1",
		"--services", "ec2", "--checks", "aws-ec2-sg-no-world-ipv4-admin-ports", "--fail-on", "high", "--format", "csv")
	if code != 3 || !strings.Contains(stderr, "findings at or above high") {
		t.Errorf("--fail-on high: exit %d, stderr %q", code, stderr)
	}

	// A mute turns the finding into muted, with its reason.
	mutes := filepath.Join(t.TempDir(), "mutes.yaml")
	if err := os.WriteFile(mutes, []byte("- check: aws-rds-instance-*\n  resource: orders-db\n  reason: migrating to Aurora\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = scanJSON(t, db, "--services", "rds", "--mutes", mutes)
	if got := rep.verdicts()["aws-rds-instance-not-public"]; got["orders-db"] != "muted" || got["billing-db"] != "pass" {
		t.Errorf("muted scan: %v", got)
	}

	// A change shows up in history with its diff, and the finding resolves.
	ec2c := ec2.NewFromConfig(cfg)
	sgs, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"bastion-0"}})
	if err != nil {
		t.Fatal(err)
	}
	sg := sgs.SecurityGroups[0]
	if _, err := ec2c.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: sg.GroupId,
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22),
			IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	rep = scanJSON(t, db, "--services", "ec2")
	if got := rep.verdicts()["aws-ec2-sg-no-world-ipv4-admin-ports"][ids["bastion-0"]]; got != "pass" {
		t.Errorf("after revoking, bastion-0 = %q, want pass", got)
	}
	uid := "arn:aws:ec2:us-east-1:123456789012:security-group/" + aws.ToString(sg.GroupId)
	code, out, stderr := runCLI(t, "--db", db, "history", uid)
	if code != 0 {
		t.Fatalf("history: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "version 1 ") || !strings.Contains(out, "version 2 ") || !strings.Contains(out, "  - /properties/ingress/0: ") {
		t.Errorf("history lacks two versions and the removed rule:\n%s", out)
	}
	code, out, _ = runCLI(t, "--db", db, "inventory", "--type", "aws.rds.instance")
	if code != 0 || !strings.Contains(out, "orders-db") || !strings.Contains(out, "billing-db") || !strings.HasSuffix(out, "\n2 resources\n") {
		t.Errorf("inventory: exit %d\n%s", code, out)
	}
}

// ec2IDs maps the demo's instance Name tags and security group names in
// us-east-1 to their ids, which Vigil uses as resource names.
func ec2IDs(t *testing.T, cfg aws.Config) map[string]string {
	t.Helper()
	ctx := context.Background()
	c := ec2.NewFromConfig(cfg)
	out := map[string]string{}
	inst, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range inst.Reservations {
		for _, i := range r.Instances {
			for _, tag := range i.Tags {
				if aws.ToString(tag.Key) == "Name" {
					out[aws.ToString(tag.Value)] = aws.ToString(i.InstanceId)
				}
			}
		}
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sgs.SecurityGroups {
		out[aws.ToString(g.GroupName)] = aws.ToString(g.GroupId)
	}
	return out
}

// TestScanSeveralAccounts assumes a role in each of two accounts (moto
// keeps a separate estate per account) and scans both in one run.
func TestScanSeveralAccounts(t *testing.T) {
	emulator.Reset(t)
	db := filepath.Join(t.TempDir(), "vigil.db")
	code, out, stderr := runCLI(t, "--db", db, "scan", "--endpoint-url", emulator.URL, "--regions", "us-east-1",
		"--services", "kms", "--format", "json",
		"--role-arn", "arn:aws:iam::111111111111:role/VigilRead,arn:aws:iam::222222222222:role/VigilRead")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Scan struct {
			Accounts []string `json:"accounts"`
		} `json:"scan"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.Scan.Accounts, ",") != "111111111111,222222222222" {
		t.Errorf("accounts = %v", rep.Scan.Accounts)
	}
	code, out, _ = runCLI(t, "--db", db, "inventory", "--type", "aws.account")
	if code != 0 || !strings.Contains(out, "111111111111") || !strings.Contains(out, "222222222222") {
		t.Errorf("inventory of accounts: exit %d\n%s", code, out)
	}
}

// TestScanOutputFile writes the machine report to a file and keeps the
// human summary on stderr.
func TestScanOutputFile(t *testing.T) {
	emulator.Reset(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "findings.ocsf.json")
	code, stdout, stderr := runCLI(t, "--db", filepath.Join(dir, "vigil.db"), "scan", "--endpoint-url", emulator.URL,
		"--regions", "us-east-1", "--services", "ec2", "--format", "ocsf", "-o", out)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	if !strings.HasPrefix(stderr, "Scan s-") || !strings.Contains(stderr, "Findings by severity:") {
		t.Errorf("stderr lacks the summary:\n%s", stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var findings []map[string]any
	if err := json.Unmarshal(data, &findings); err != nil || len(findings) == 0 {
		t.Fatalf("OCSF output: %v, %d findings", err, len(findings))
	}
	if findings[0]["class_uid"] != float64(2003) {
		t.Errorf("class_uid = %v", findings[0]["class_uid"])
	}
}
