package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/internal/testenv"
)

const publicCheck = "aws-s3-bucket-no-public-read"

// seedBuckets creates buckets in moto's us-east-1 whose policy lets anyone
// read them, tagged as given; it returns a function reading a bucket's
// Block Public Access configuration (nil when there is none).
func seedBuckets(t *testing.T, tags map[string]map[string]string, names ...string) func(string) *s3types.PublicAccessBlockConfiguration {
	t.Helper()
	ctx := context.Background()
	c := s3.NewFromConfig(emulator.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	for _, b := range names {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
		pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + b + `/*"}]}`
		if _, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(b), Policy: aws.String(pol)}); err != nil {
			t.Fatal(err)
		}
		if tg := tags[b]; len(tg) > 0 {
			var set []s3types.Tag
			for k, v := range tg {
				set = append(set, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
			}
			if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(b), Tagging: &s3types.Tagging{TagSet: set}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return func(b string) *s3types.PublicAccessBlockConfiguration {
		t.Helper()
		out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String(b)})
		if err != nil {
			if strings.Contains(err.Error(), "NoSuchPublicAccessBlockConfiguration") {
				return nil
			}
			t.Fatal(err)
		}
		return out.PublicAccessBlockConfiguration
	}
}

// allBlocked reports whether all four Block Public Access settings are on.
func allBlocked(c *s3types.PublicAccessBlockConfiguration) bool {
	return c != nil && aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.RestrictPublicBuckets)
}

// writeConfig writes a config file and returns its path.
func writeConfig(t testing.TB, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanS3 scans moto's S3 in us-east-1 for the public-read check and
// returns the finding ids by bucket name.
func scanS3(t *testing.T, db string, extra ...string) map[string]string {
	t.Helper()
	rep := scanJSON(t, db, append([]string{"--regions", "us-east-1", "--services", "s3", "--checks", publicCheck}, extra...)...)
	out := map[string]string{}
	for _, r := range rep.Results {
		if r.Status == "fail" {
			out[r.ResourceName] = r.FindingID
		}
	}
	return out
}

// fixRecords returns `vigil fixes --format json`.
func fixRecords(t testing.TB, db string, args ...string) []vigil.Fix {
	t.Helper()
	code, out, stderr := runCLI(t, append([]string{"--db", db, "fixes", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("fixes: exit %d: %s", code, stderr)
	}
	var fs []vigil.Fix
	if err := json.Unmarshal([]byte(out), &fs); err != nil {
		t.Fatalf("fixes output: %v\n%s", err, out)
	}
	return fs
}

func statuses(fs []vigil.Fix) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, string(f.Status))
	}
	return out
}

var fixIDRe = regexp.MustCompile(`Fix (x-[0-9a-f]{10})`)

// TestFixNow plans the fix of a public bucket (with the scanning
// credentials, then the remediation ones), refuses --yes without
// remediation credentials, applies it, lists the audit trail and undoes it.
func TestFixNow(t *testing.T) {
	emulator.Reset(t)
	t.Setenv("USER", "alice")
	bpa := seedBuckets(t, nil, "acme-exports")
	db := filepath.Join(t.TempDir(), "vigil.db")
	finding := scanS3(t, db)["acme-exports"]
	if finding != vigil.FindingID(publicCheck, "arn:aws:s3:::acme-exports") {
		t.Fatalf("finding id %q", finding)
	}
	remediation := writeConfig(t, "remediation: {}\n")
	planned := "\n  API calls:\n    s3:PutPublicAccessBlock " +
		`{"BlockPublicAcls":true,"BlockPublicPolicy":true,"Bucket":"acme-exports","IgnorePublicAcls":true,"RestrictPublicBuckets":true}` + "\n" +
		"  Undo:        yes (vigil fix undo FIX-ID restores the state recorded before the fix)\n" +
		"  Permissions: s3:GetBucketPublicAccessBlock, s3:PutBucketPublicAccessBlock\n"
	const scanCreds = "Planned with the scanning credentials (reads only): no remediation credentials are configured, so --yes is refused (see docs/fixes.md).\n"

	// Without remediation credentials: a plan, read with the scanning
	// credentials, and said so.
	code, out, stderr := runCLI(t, "--db", db, "fix", finding, "--endpoint-url", emulator.URL)
	if code != 0 || !strings.Contains(out, planned) || !strings.Contains(out, scanCreds) ||
		!strings.HasPrefix(out, "Finding "+finding+": "+publicCheck+" on arn:aws:s3:::acme-exports\n  fail since ") ||
		!strings.Contains(out, "Plan x-") || !strings.Contains(out, " (fix-now by user:alice)\n") {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	if !strings.Contains(out, "Nothing was changed (plan recorded as x-") || !strings.HasSuffix(out, "To apply it: vigil fix "+finding+" --yes\n") {
		t.Errorf("plan footer:\n%s", out)
	}
	if bpa("acme-exports") != nil {
		t.Fatal("the plan changed the bucket")
	}

	// --yes without remediation credentials is refused, and changes nothing.
	code, out, stderr = runCLI(t, "--db", db, "fix", finding, "--yes", "--endpoint-url", emulator.URL)
	want := "vigil: no remediation credentials: Vigil scans with read-only credentials and never changes anything with them; " +
		"set remediation in the config file (--config; remediation.azure for Azure) or pass --fix-profile or --fix-role-arn (see docs/fixes.md)\n"
	if code != 2 || stderr != want || out != "" {
		t.Errorf("--yes without remediation: exit %d, out %q, stderr:\n%s", code, out, stderr)
	}
	if bpa("acme-exports") != nil {
		t.Fatal("a refused fix changed the bucket")
	}

	// With remediation credentials (an empty section: the default chain,
	// here moto's), the plan no longer mentions the scanning credentials.
	code, out, _ = runCLI(t, "--db", db, "--config", remediation, "fix", "--check", publicCheck, "--resource", "arn:aws:s3:::acme-exports", "--endpoint-url", emulator.URL)
	if code != 0 || !strings.Contains(out, planned) || strings.Contains(out, "scanning credentials") ||
		!strings.HasPrefix(out, "Finding "+finding+": ") || !strings.HasSuffix(out, "To apply it: vigil fix "+finding+" --yes\n") {
		t.Errorf("plan with remediation: exit %d\n%s", code, out)
	}
	if bpa("acme-exports") != nil {
		t.Fatal("the plan changed the bucket")
	}

	// --yes applies, verifies and prints the outcome and the fix id.
	code, out, stderr = runCLI(t, "--db", db, "--config", remediation, "fix", finding, "--yes", "--endpoint-url", emulator.URL)
	m := fixIDRe.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, planned) ||
		!strings.Contains(out, "\nOutcome: verified\nReason:  verified: S3 buckets do not allow public read access\nFix "+m[1]+" (undo with: vigil fix undo "+m[1]+")\n") {
		t.Fatalf("--yes: exit %d\n%s\n%s", code, out, stderr)
	}
	fixID := m[1]
	if !allBlocked(bpa("acme-exports")) {
		t.Fatalf("after the fix: %+v", bpa("acme-exports"))
	}

	// The audit trail, newest first: the fix, then the two plans.
	fs := fixRecords(t, db)
	if got := statuses(fs); !reflect.DeepEqual(got, []string{"verified", "planned", "planned"}) {
		t.Fatalf("audit trail %v", got)
	}
	f := fs[0]
	if f.ID != fixID || f.Actor != "user:alice" || f.Mode != "fix-now" || f.Action != "aws.s3.block-public-access" ||
		f.CheckID != publicCheck || f.ResourceUID != "arn:aws:s3:::acme-exports" || len(f.Calls) != 1 || f.Calls[0].Operation != "s3:PutPublicAccessBlock" {
		t.Errorf("fix record %+v", f)
	}
	for _, p := range fs[1:] {
		if len(p.Calls) != 1 || p.Calls[0].Operation != "s3:PutPublicAccessBlock" || !strings.HasPrefix(p.Reason, "planned: turn on BlockPublicAcls") {
			t.Errorf("plan record %+v", p)
		}
	}
	if got := fixRecords(t, db, "--since", "1h", "--check", publicCheck, "--resource", "arn:aws:s3:::acme-exports"); len(got) != 3 {
		t.Errorf("filtered: %d records", len(got))
	}
	if got := fixRecords(t, db, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Errorf("--since in the future: %d records", len(got))
	}
	code, out, _ = runCLI(t, "--db", db, "fixes")
	if code != 0 || !strings.HasPrefix(out, "AT ") || !strings.Contains(out, fixID+"  verified  fix-now  user:alice  aws.s3.block-public-access  arn:aws:s3:::acme-exports  verified: ") ||
		!strings.HasSuffix(out, "\n3 records\n") {
		t.Errorf("fixes table:\n%s", out)
	}

	// Undo needs the remediation credentials too, then restores.
	code, _, stderr = runCLI(t, "--db", db, "fix", "undo", fixID, "--endpoint-url", emulator.URL)
	if code != 2 || stderr != want {
		t.Errorf("undo without remediation: exit %d: %s", code, stderr)
	}
	code, out, stderr = runCLI(t, "--db", db, "--config", remediation, "fix", "undo", fixID, "--endpoint-url", emulator.URL)
	if code != 0 || !regexp.MustCompile(`^Undo x-[0-9a-f]{10} of `+fixID+` \(aws.s3.block-public-access on arn:aws:s3:::acme-exports\): undone: restored the state recorded before `+fixID+"\n"+
		`  s3:DeletePublicAccessBlock \{"Bucket":"acme-exports"\}`+"\n$").MatchString(out) {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, stderr)
	}
	if bpa("acme-exports") != nil {
		t.Errorf("after undo: %+v, want no configuration", bpa("acme-exports"))
	}
	fs = fixRecords(t, db)
	if got := statuses(fs); !reflect.DeepEqual(got, []string{"undone", "verified", "planned", "planned"}) || fs[0].UndoOf != fixID || fs[0].Mode != "undo" {
		t.Errorf("audit trail after undo %v (%+v)", got, fs[0])
	}
	// An undo is not undone, and a plan has nothing to undo.
	code, _, stderr = runCLI(t, "--db", db, "--config", remediation, "fix", "undo", fs[0].ID, "--endpoint-url", emulator.URL)
	if code != 2 || stderr != "vigil: fix "+fs[0].ID+" is an undo; apply the fix again instead\n" {
		t.Errorf("undo of an undo: exit %d: %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "--db", db, "--config", remediation, "fix", "undo", fs[3].ID, "--endpoint-url", emulator.URL)
	if code != 2 || stderr != "vigil: fix "+fs[3].ID+" changed nothing (planned): nothing to undo\n" {
		t.Errorf("undo of a plan: exit %d: %s", code, stderr)
	}
}

// TestFixFailed: a fix that leaves the finding open, and a plan that
// cannot read the resource, exit 1 with the reason and are recorded as
// failed.
func TestFixFailed(t *testing.T) {
	emulator.Reset(t)
	seedBuckets(t, nil, "acme-exports", "acme-gone")
	db := filepath.Join(t.TempDir(), "vigil.db")
	findings := scanS3(t, db)
	cfg := writeConfig(t, "remediation: {}\n")
	ctx := context.Background()
	c := s3.NewFromConfig(emulator.Config(t, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })

	// Another action than the check's (--action): versioning goes on, the
	// bucket stays public, so the fix failed.
	code, out, stderr := runCLI(t, "--db", db, "--config", cfg, "fix", findings["acme-exports"], "--action", "aws.s3.enable-versioning", "--yes", "--endpoint-url", emulator.URL)
	fs := fixRecords(t, db)
	if len(fs) != 1 || fs[0].Status != vigil.FixFailed || fs[0].Action != "aws.s3.enable-versioning" ||
		!strings.HasPrefix(fs[0].Reason, "the finding is still open after the change (fail): bucket acme-exports is publicly readable") {
		t.Fatalf("records %+v", fs)
	}
	if code != 1 || stderr != "vigil: fix "+fs[0].ID+" failed: "+fs[0].Reason+"\n" || !strings.Contains(out, "\nOutcome: failed\nReason:  "+fs[0].Reason+"\n") {
		t.Errorf("exit %d\n%s\n%s", code, out, stderr)
	}
	v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("acme-exports")})
	if err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Errorf("versioning %+v, %v: the failed fix made its change", v, err)
	}

	// The bucket was deleted after the scan: the plan fails.
	if _, err := c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("acme-gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("acme-gone")}); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, "--db", db, "--config", cfg, "fix", findings["acme-gone"], "--yes", "--endpoint-url", emulator.URL)
	fs = fixRecords(t, db, "--resource", "arn:aws:s3:::acme-gone")
	want := "plan: s3:GetBucketPublicAccessBlock: NoSuchBucket: The specified bucket does not exist"
	if len(fs) != 1 || fs[0].Status != vigil.FixFailed || fs[0].Reason != want || len(fs[0].Calls) != 0 {
		t.Fatalf("records %+v", fs)
	}
	if code != 1 || stderr != "vigil: plan "+fs[0].ID+": "+strings.TrimPrefix(want, "plan: ")+"\n" {
		t.Errorf("exit %d\n%s", code, stderr)
	}
}

// TestFixCheck plans and fixes every open failing finding of a check,
// within the Always Fix guards: the exempt tag and a mute hold findings
// back, a run over max_fixes_per_run fixes nothing and exits 1.
func TestFixCheck(t *testing.T) {
	emulator.Reset(t)
	t.Setenv("USER", "bob")
	bpa := seedBuckets(t, map[string]map[string]string{"acme-keep": {"vigil:exempt": "true"}},
		"acme-a", "acme-b", "acme-keep", "acme-muted", "other-c")
	db := filepath.Join(t.TempDir(), "vigil.db")
	if got := len(scanS3(t, db)); got != 5 {
		t.Fatalf("%d findings, want 5", got)
	}
	mutes := writeConfig(t, "- check: "+publicCheck+"\n  resource: acme-muted\n  reason: public by design until the CDN lands\n")
	args := []string{"--db", db, "fix", "--check", publicCheck, "--resource", "acme-*", "--mutes", mutes, "--endpoint-url", emulator.URL}
	withConfig := func(cfg string) []string { return append([]string{"--config", cfg}, append(args, "--yes")...) }

	// Without --yes: four plans (other-c does not match), held-back ones marked.
	code, out, stderr := runCLI(t, args...)
	if code != 0 || !strings.HasPrefix(out, "4 open failing findings of "+publicCheck+".\n") || strings.Count(out, "\nPlan x-") != 4 || strings.Contains(out, "other-c") ||
		!strings.Contains(out, "  With --yes:  not fixed (exempt: tagged vigil:exempt=true)\n") ||
		!strings.Contains(out, "  With --yes:  not fixed (muted: public by design until the CDN lands)\n") ||
		!strings.HasSuffix(out, "Nothing was changed. With --yes the Always Fix guards apply: exempt tag vigil:exempt=true, mutes, "+
			"at most 10 fixes per run, at most 30 fixes per hour, no fix of a finding fixed 3 times within 24h.\n") {
		t.Fatalf("plans: exit %d\n%s\n%s", code, out, stderr)
	}
	for _, b := range []string{"acme-a", "acme-b", "acme-keep", "acme-muted", "other-c"} {
		if bpa(b) != nil {
			t.Fatalf("a plan changed %s", b)
		}
	}

	// A limit: two fixes to apply, one allowed: none applied, exit 1.
	tight := writeConfig(t, "remediation: {}\nautofix: {max_fixes_per_run: 1}\n")
	code, out, stderr = runCLI(t, withConfig(tight)...)
	if code != 1 || !strings.Contains(out, "  alert: Always Fix held back 2 fixes: max_fixes_per_run: 2 fixes in this run, more than 1\n") ||
		!strings.Contains(out, "  0 verified, 0 failed, 0 dry-run, 4 skipped, 1 alerts\n") ||
		!strings.HasSuffix(stderr, "vigil: guards held fixes back (1 alerts)\n") {
		t.Fatalf("limit: exit %d\n%s\n%s", code, out, stderr)
	}
	if bpa("acme-a") != nil || bpa("acme-b") != nil {
		t.Fatal("a held-back run changed a bucket")
	}

	// Within the limits: two verified, the exempt and the muted skipped.
	cfg := writeConfig(t, "remediation: {}\n")
	code, out, stderr = runCLI(t, withConfig(cfg)...)
	if code != 0 || !strings.HasPrefix(out, "4 findings of "+publicCheck+", within the Always Fix guards (fix-now by user:bob):\n") ||
		!strings.Contains(out, "  2 verified, 0 failed, 0 dry-run, 2 skipped, 0 alerts\n") {
		t.Fatalf("--yes: exit %d\n%s\n%s", code, out, stderr)
	}
	for b, fixed := range map[string]bool{"acme-a": true, "acme-b": true, "acme-keep": false, "acme-muted": false, "other-c": false} {
		if got := allBlocked(bpa(b)); got != fixed {
			t.Errorf("%s blocked %v, want %v", b, got, fixed)
		}
	}
	got := map[string]string{}
	for _, f := range fixRecords(t, db, "--since", "1m") {
		if f.Status == vigil.FixPlanned || (f.Status == vigil.FixSkipped && strings.HasPrefix(f.Reason, "limit:")) {
			continue
		}
		if f.Actor != "user:bob" || f.Mode != "fix-now" {
			t.Errorf("record %s: actor %s mode %s", f.ID, f.Actor, f.Mode)
		}
		got[strings.TrimPrefix(f.ResourceUID, "arn:aws:s3:::")] = string(f.Status) + ": " + f.Reason
	}
	want := map[string]string{"acme-a": "verified: verified: S3 buckets do not allow public read access",
		"acme-b":     "verified: verified: S3 buckets do not allow public read access",
		"acme-keep":  "skipped: exempt: the resource is tagged vigil:exempt=true",
		"acme-muted": "skipped: muted: public by design until the CDN lands"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records\n%v\nwant\n%v", got, want)
	}

	// Nothing left to fix among acme-a and acme-b after a new scan.
	scanS3(t, db)
	code, out, _ = runCLI(t, "--db", db, "fix", "--check", publicCheck, "--resource", "acme-?", "--endpoint-url", emulator.URL)
	if code != 0 || out != "No open failing finding of "+publicCheck+" matches.\n" {
		t.Errorf("after the fixes: exit %d\n%s", code, out)
	}
}

// TestFixBadInput: each mistake is one error line and exit 2 (or 1 for a
// missing database), before any API call.
func TestFixBadInput(t *testing.T) {
	endpoint, calls := countingServer(t)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"nothing named", []string{"fix"}, 2, "vigil: name a finding (f-… from `vigil scan`) or a check (--check ID); see vigil fix --help"},
		{"not a finding id", []string{"fix", "undi"}, 2, `vigil: "undi" is not a finding id (f- and 10 hex digits, as ` + "`vigil scan`" + ` prints them); name a finding by id, or by --check and --resource (subcommands: undo, actions)`},
		{"two findings", []string{"fix", "f-0123456789", "f-9876543210"}, 2, "vigil: accepts at most 1 arg(s), received 2"},
		{"id and check", []string{"fix", "f-0123456789", "--check", publicCheck}, 2, "vigil: name a finding by its id or by --check and --resource, not both"},
		{"resource without check", []string{"fix", "--resource", "arn:aws:s3:::x"}, 2, "vigil: --resource needs --check"},
		{"account with one finding", []string{"fix", "--check", publicCheck, "--resource", "arn:aws:s3:::x", "--account", "123456789012"}, 2,
			"vigil: --account and --region select findings of --check; they do not go with one finding"},
		{"action with several", []string{"fix", "--check", publicCheck, "--action", "aws.s3.block-public-access"}, 2,
			"vigil: --action applies to one finding; several are fixed with their check's own action"},
		{"bad account", []string{"fix", "--check", publicCheck, "--account", "12345"}, 2, `vigil: --account: "12345" is not a 12-digit AWS account id nor an Azure subscription id`},
		{"bad region", []string{"fix", "--check", publicCheck, "--region", "mars"}, 2, `vigil: --region: "mars" is not a region name such as us-east-1 or westeurope`},
		{"bad param", []string{"fix", "--check", publicCheck, "--param", "days"}, 2, `vigil: --param "days": want key=value, e.g. unused_days=90`},
		{"unknown check", []string{"fix", "--check", "aws-s3-nope"}, 2, "vigil: unknown check id aws-s3-nope (see `vigil checks list`)"},
		{"check without fix", []string{"fix", "--check", "aws-s3-bucket-mfa-delete-enabled"}, 2,
			"vigil: check aws-s3-bucket-mfa-delete-enabled has no fix action (pick one with --action; see `vigil fix actions`)"},
		{"unknown action", []string{"fix", "f-0123456789", "--action", "aws.s3.nope"}, 2, "vigil: --action: no fix action aws.s3.nope (see `vigil fix actions`)"},
		{"yes without remediation", []string{"fix", "f-0123456789", "--yes"}, 2, "vigil: no remediation credentials: Vigil scans with read-only credentials and never changes anything with them; " +
			"set remediation in the config file (--config; remediation.azure for Azure) or pass --fix-profile or --fix-role-arn (see docs/fixes.md)"},
		{"bad role arn", []string{"fix", "f-0123456789", "--fix-role-arn", "VigilFixer"}, 2,
			`vigil: --fix-role-arn "VigilFixer": want arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account}, the finding's account)`},
		{"external id without role", []string{"fix", "f-0123456789", "--fix-external-id", "x"}, 2, "vigil: --fix-external-id needs --fix-role-arn"},
		{"bad trusted account", []string{"fix", "f-0123456789", "--trusted-accounts", "1"}, 2, `vigil: --trusted-accounts: "1" is not a 12-digit AWS account id`},
		{"fix without a database", []string{"fix", "f-0123456789"}, 1, "vigil: no database at "},
		{"undo bad id", []string{"fix", "undo", "f-0123456789"}, 2, `vigil: "f-0123456789" is not a fix id (x- and 10 hex digits; see ` + "`vigil fixes`)"},
		{"undo without remediation", []string{"fix", "undo", "x-0123456789"}, 2, "vigil: no remediation credentials: "},
		{"undo without a database", []string{"fix", "undo", "x-0123456789", "--fix-profile", "fixer"}, 1, "vigil: no database at "},
		{"actions bad format", []string{"fix", "actions", "--format", "xml"}, 2, `vigil: unknown format "xml" (want table or json)`},
		{"fixes bad since", []string{"fixes", "--since", "yesterday"}, 2, `vigil: --since "yesterday": want a duration such as 24h or 7d, or a time such as 2026-01-02T15:04:05Z`},
		{"fixes bad format", []string{"fixes", "--format", "csv"}, 2, `vigil: unknown format "csv" (want table or json)`},
		{"fixes without a database", []string{"fixes"}, 1, "vigil: no database at "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "vigil.db")
			args := append([]string{"--db", db}, tc.args...)
			if tc.args[0] == "fix" {
				args = append(args, "--endpoint-url", endpoint)
			}
			code, _, stderr := runCLI(t, args...)
			if code != tc.code || !strings.HasPrefix(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, prefix:\n%s", code, stderr, tc.code, tc.want)
			}
			if n := calls.Swap(0); n > 0 {
				t.Errorf("a rejected command made %d API calls", n)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("database created (stat: %v)", err)
			}
		})
	}
}

func TestFixActions(t *testing.T) {
	code, out, stderr := runCLI(t, "fix", "actions")
	if code != 0 || !strings.HasPrefix(out, "ID ") || !regexp.MustCompile(`\naws\.s3\.block-public-access +aws\.s3\.bucket +yes +turn on all four S3 Block Public Access settings for the bucket\n`).MatchString(out) {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	code, out, _ = runCLI(t, "fix", "actions", "--format", "json")
	var infos []actionInfo
	if err := json.Unmarshal([]byte(out), &infos); code != 0 || err != nil {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	reg, err := actionRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != len(reg.All()) || !strings.HasSuffix(strings.TrimSpace(runOut(t, "fix", "actions")), "\n"+strconv.Itoa(len(infos))+" actions") {
		t.Errorf("%d actions listed, %d registered", len(infos), len(reg.All()))
	}
	for _, in := range infos {
		if in.ID == "aws.s3.block-public-access" {
			want := actionInfo{ID: in.ID, ResourceType: "aws.s3.bucket", Undo: true, Title: "turn on all four S3 Block Public Access settings for the bucket",
				Permissions: []string{"s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"}}
			if !reflect.DeepEqual(in, want) {
				t.Errorf("%+v, want %+v", in, want)
			}
			return
		}
	}
	t.Error("aws.s3.block-public-access not listed")
}

func runOut(t *testing.T, args ...string) string {
	t.Helper()
	_, out, _ := runCLI(t, args...)
	return out
}

func TestParseParams(t *testing.T) {
	got, err := parseParams([]string{"unused_days=90", "allow_admin_detach=true", "kms_key_id=alias/aws/sns", "ratio=0.5", `tags={"a":"b"}`, "name=", `quoted="90"`})
	want := map[string]any{"unused_days": 90, "allow_admin_detach": true, "kms_key_id": "alias/aws/sns", "ratio": 0.5,
		"tags": map[string]any{"a": "b"}, "name": "", "quoted": "90"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%#v, %v", got, err)
	}
}

// TestScanAlwaysFix: a scan with Always Fix enabled fixes the public
// bucket after storing its findings, prints the summary on stderr and
// emails the fix; a failed guard or fix leaves the exit code to the
// findings; VIGIL_AUTOFIX=off fixes nothing and says so.
func TestScanAlwaysFix(t *testing.T) {
	mp := testenv.StartMailpit(t)
	cfg := writeConfig(t, `remediation: {}
notify:
  email: {server: "`+mp.SMTP+`", tls: none, from: "Vigil <vigil@example.com>", to: [secops@example.com, oncall@example.com]}
autofix:
  enabled: true
  rules:
    - {name: private-buckets, checks: [`+publicCheck+`]}
`)
	run := func(t *testing.T, db string) (int, string) {
		t.Helper()
		code, out, stderr := runCLI(t, "--db", db, "--config", cfg, "scan", "--endpoint-url", emulator.URL, "--regions", "us-east-1",
			"--services", "s3", "--checks", publicCheck, "--format", "json", "--fail-on", "critical")
		var rep jsonReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, out)
		}
		// The report holds the findings as scanned, before the fix.
		if len(rep.Results) != 1 || rep.Results[0].Status != "fail" || rep.Results[0].ResourceName != "acme-exports" {
			t.Errorf("report %+v", rep.Results)
		}
		return code, stderr
	}

	t.Run("fixes and emails", func(t *testing.T) {
		emulator.Reset(t)
		bpa := seedBuckets(t, nil, "acme-exports")
		db := filepath.Join(t.TempDir(), "vigil.db")
		code, stderr := run(t, db)
		fs := fixRecords(t, db)
		if len(fs) != 1 {
			t.Fatalf("records %+v", fs)
		}
		f := fs[0]
		want := "\nAlways Fix (" + cfg + "):\n  verified  " + vigil.FindingID(publicCheck, "arn:aws:s3:::acme-exports") + " " + publicCheck +
			" on arn:aws:s3:::acme-exports (" + f.ID + "): verified: S3 buckets do not allow public read access\n" +
			"  1 verified, 0 failed, 0 dry-run, 0 skipped, 0 alerts\n"
		// --fail-on critical: the finding existed, so exit 3 as without Always Fix.
		if code != 3 || !strings.Contains(stderr, want) || !strings.HasSuffix(stderr, "vigil: findings at or above critical\n") {
			t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr, want)
		}
		if f.Status != vigil.FixVerified || f.Actor != "rule:private-buckets" || f.Mode != "always-fix" {
			t.Errorf("record %+v", f)
		}
		if !allBlocked(bpa("acme-exports")) {
			t.Errorf("the bucket is not private: %+v", bpa("acme-exports"))
		}
		msgs := mp.Messages(t)
		if len(msgs) != 1 {
			t.Fatalf("%d emails, want 1", len(msgs))
		}
		m := msgs[0]
		if m.Subject != "[vigil] verified: aws.s3.block-public-access on arn:aws:s3:::acme-exports" || len(m.To) != 2 ||
			m.To[0].Address != "secops@example.com" || m.To[1].Address != "oncall@example.com" {
			t.Errorf("email %q to %+v", m.Subject, m.To)
		}
		text := strings.ReplaceAll(m.Text, "\r\n", "\n")
		for _, line := range []string{
			"Resource: arn:aws:s3:::acme-exports (aws.s3.bucket, account 123456789012, region us-east-1)\n",
			"Check:    " + publicCheck + "\n", "Action:   aws.s3.block-public-access\n", "Outcome:  verified\n",
			"Reason:   verified: S3 buckets do not allow public read access\n", "Actor:    rule:private-buckets (always-fix)\n",
			"Time:     " + f.At.UTC().Format(time.RFC3339) + "\n", "Fix id:   " + f.ID + "\n",
			`  s3:PutPublicAccessBlock {"BlockPublicAcls":true,"BlockPublicPolicy":true,"Bucket":"acme-exports","IgnorePublicAcls":true,"RestrictPublicBuckets":true}` + "\n",
			"To undo it:\n  vigil fix undo " + f.ID + "\n",
		} {
			if !strings.Contains(text, line) {
				t.Errorf("email lacks %q:\n%s", line, text)
			}
		}
	})

	t.Run("VIGIL_AUTOFIX=off", func(t *testing.T) {
		emulator.Reset(t)
		t.Setenv("VIGIL_AUTOFIX", "off")
		bpa := seedBuckets(t, nil, "acme-exports")
		before := len(mp.Messages(t))
		db := filepath.Join(t.TempDir(), "vigil.db")
		code, stderr := run(t, db)
		if code != 3 || !strings.Contains(stderr, "\nAlways Fix disabled by VIGIL_AUTOFIX=off\n") || strings.Contains(stderr, "verified") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
		if bpa("acme-exports") != nil {
			t.Errorf("the kill switch let a fix through: %+v", bpa("acme-exports"))
		}
		if fs := fixRecords(t, db); len(fs) != 0 {
			t.Errorf("records %+v", fs)
		}
		if n := len(mp.Messages(t)); n != before {
			t.Errorf("%d emails sent with the kill switch on", n-before)
		}
	})
}
