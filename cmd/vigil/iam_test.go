package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vigilsec/vigil/iampolicy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// iamFixture is the path of a policy document in testdata/iam.
func iamFixture(name string) string { return filepath.Join("testdata", "iam", name+".json") }

// withStdin makes os.Stdin read data until the test ends: run() takes no
// reader, and cobra reads os.Stdin when none is set.
func withStdin(t *testing.T, data string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stdin")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = f
	t.Cleanup(func() {
		os.Stdin = old
		_ = f.Close()
	})
}

// TestIAMAnalyze runs `vigil iam analyze` on the fixtures and checks the
// verdicts of the printed analysis and the exit code.
func TestIAMAnalyze(t *testing.T) {
	type want struct {
		public           iampolicy.Verdict
		publicStatements []string
		publicActions    []string
		crossAccount     []string // principals
		admin, fullIAM   bool
		escalations      []string // paths
	}
	s3 := func(more ...string) []string {
		return append([]string{"--resource-type", "aws.s3.bucket", "--account", "123456789012"}, more...)
	}
	sqs := func(more ...string) []string {
		return append([]string{"--resource-type", "aws.sqs.queue", "--account", "123456789012"}, more...)
	}
	cases := []struct {
		name   string
		args   []string
		stdin  string // read when the file argument is "-"
		code   int
		stderr string
		want   want
	}{
		{name: "public bucket", args: s3(iamFixture("public-bucket")),
			want: want{public: iampolicy.Public, publicStatements: []string{`Statement[0] "PublicRead"`},
				publicActions: []string{"s3:GetObject"}, crossAccount: []string{"*", "444455556666"}}},
		{name: "trusted account is not cross-account",
			args: s3("--trusted-accounts", "444455556666", "--resource-arn", "arn:aws:s3:::acme-assets", iamFixture("public-bucket")),
			want: want{public: iampolicy.Public, publicStatements: []string{`Statement[0] "PublicRead"`},
				publicActions: []string{"s3:GetObject"}, crossAccount: []string{"*"}}},
		{name: "bucket pinned to a vpc endpoint", args: s3(iamFixture("vpce-bucket")),
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}}},
		{name: "queue for an untrusted organization", args: sqs(iamFixture("org-queue")),
			want: want{public: iampolicy.NotPublic, crossAccount: []string{"o-a1b2c3d4e5"}}},
		{name: "queue for the trusted organization", args: sqs("--org-id", "o-a1b2c3d4e5", iamFixture("org-queue")),
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}}},
		{name: "identity admin", args: []string{iamFixture("admin")},
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}, admin: true, fullIAM: true}},
		{name: "identity passrole and runinstances", args: []string{iamFixture("passrole-runinstances")},
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}, escalations: []string{"iam:PassRole+ec2:RunInstances"}}},
		{name: "identity read-only", args: []string{"--resource-type", "identity", iamFixture("readonly")},
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}}},
		{name: "stdin", args: []string{"-"},
			stdin: `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
			want:  want{public: iampolicy.NotPublic, crossAccount: []string{}, admin: true, fullIAM: true}},
		{name: "fail on public: public bucket", args: append([]string{"--fail-on-public"}, s3(iamFixture("public-bucket"))...),
			code: 3, stderr: "vigil: --fail-on-public: the policy is public\n",
			want: want{public: iampolicy.Public, publicStatements: []string{`Statement[0] "PublicRead"`},
				publicActions: []string{"s3:GetObject"}, crossAccount: []string{"*", "444455556666"}}},
		{name: "fail on public: admin", args: []string{"--fail-on-public", iamFixture("admin")},
			code: 3, stderr: "vigil: --fail-on-public: the policy grants administrator access\n",
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}, admin: true, fullIAM: true}},
		{name: "fail on public: escalation", args: []string{"--fail-on-public", iamFixture("passrole-runinstances")},
			code: 3, stderr: "vigil: --fail-on-public: privilege escalation by iam:PassRole+ec2:RunInstances\n",
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}, escalations: []string{"iam:PassRole+ec2:RunInstances"}}},
		{name: "fail on public: pinned bucket passes", args: append([]string{"--fail-on-public"}, s3(iamFixture("vpce-bucket"))...),
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}}},
		{name: "fail on public: read-only identity passes", args: []string{"--fail-on-public", iamFixture("readonly")},
			want: want{public: iampolicy.NotPublic, crossAccount: []string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.args[len(tc.args)-1] == "-" {
				withStdin(t, tc.stdin)
			}
			code, out, stderr := runCLI(t, append([]string{"iam", "analyze"}, tc.args...)...)
			if code != tc.code || stderr != tc.stderr {
				t.Fatalf("exit %d, stderr %q; want exit %d, stderr %q", code, stderr, tc.code, tc.stderr)
			}
			var an iampolicy.Analysis
			if err := json.Unmarshal([]byte(out), &an); err != nil {
				t.Fatalf("output is not an analysis: %v\n%s", err, out)
			}
			got := want{public: an.Public, publicStatements: an.PublicStatements, publicActions: an.PublicActions,
				crossAccount: []string{}, admin: an.Admin, fullIAM: an.FullIAM}
			for _, c := range an.CrossAccount {
				got.crossAccount = append(got.crossAccount, c.Principal)
			}
			for _, e := range an.PrivilegeEscalation {
				got.escalations = append(got.escalations, e.Path)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("analysis\n got %+v\nwant %+v\n%s", got, tc.want, out)
			}
			if len(an.Reasons) == 0 {
				t.Errorf("no reasons:\n%s", out)
			}
		})
	}
}

// TestIAMAnalyzeGolden compares whole outputs with testdata/iam/*.golden;
// `go test ./cmd/vigil -run IAMAnalyzeGolden -update` rewrites them.
func TestIAMAnalyzeGolden(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"public-bucket", []string{"--resource-type", "aws.s3.bucket", "--account", "123456789012", iamFixture("public-bucket")}},
		{"passrole-runinstances", []string{iamFixture("passrole-runinstances")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, append([]string{"iam", "analyze"}, tc.args...)...)
			if code != 0 || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			path := filepath.Join("testdata", "iam", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(golden, []byte(out)) {
				t.Errorf("output differs from %s:\n%s", path, out)
			}
		})
	}
}

// TestIAMAnalyzeBadInput: a malformed document or a bad flag is a usage
// error (exit 2) with one exact line on stderr, nothing on stdout, and no
// database.
func TestIAMAnalyzeBadInput(t *testing.T) {
	types := "aws.s3.bucket, aws.sqs.queue, aws.sns.topic, aws.kms.key, aws.lambda.function, " +
		"aws.secretsmanager.secret, aws.ecr.repository, aws.iam.role, identity"
	missing := filepath.Join(t.TempDir(), "missing.json")
	// analyze is the command line of `vigil iam analyze` with more.
	analyze := func(more ...string) []string { return append([]string{"iam", "analyze"}, more...) }
	cases := []struct {
		name  string
		args  []string
		stdin string // read when the last argument is "-"
		want  string
	}{
		{"not json", analyze(iamFixture("not-json")),
			"", "vigil: invalid policy: Statement: not valid JSON (near byte 40): unexpected EOF"},
		{"not json on stdin", analyze("-"),
			"Version: 2012-10-17\n", "vigil: invalid policy: not valid JSON (near byte 0): invalid character 'V' looking for beginning of value"},
		{"empty stdin", analyze("-"),
			"", "vigil: invalid policy: not valid JSON (near byte 0): unexpected EOF"},
		{"bad effect", analyze(iamFixture("bad-effect")),
			"", `vigil: invalid policy: Statement[0].Effect: must be "Allow" or "Deny", got "Permit"`},
		{"unknown operator", analyze("--resource-type", "aws.sqs.queue", iamFixture("unknown-operator")),
			"", `vigil: invalid policy: Statement[0].Condition.StringEqualz: unknown condition operator "StringEqualz"`},
		{"principals without resource type", analyze(iamFixture("public-bucket")),
			"", "vigil: the policy names principals, so it is a resource policy: pass --resource-type (one of " + types + ")"},
		{"unknown resource type", analyze("--resource-type", "aws.s3.buckets", iamFixture("public-bucket")),
			"", `vigil: unknown resource type "aws.s3.buckets" (want ` + types + ")"},
		{"short account", analyze("--account", "12345678901", iamFixture("admin")),
			"", `vigil: --account "12345678901": want a 12-digit account id`},
		{"bad trusted account", analyze("--trusted-accounts", "111122223333,4444-5555-6666", iamFixture("admin")),
			"", `vigil: --trusted-accounts "4444-5555-6666": want 12-digit account ids`},
		{"bad org id", analyze("--org-id", "o-ABC123", iamFixture("admin")),
			"", `vigil: --org-id "o-ABC123": want an organization id such as o-a1b2c3d4e5`},
		// Flags are checked before the input is read: a bad flag wins over a missing file.
		{"bad flag before missing file", analyze("--account", "me", missing),
			"", `vigil: --account "me": want a 12-digit account id`},
		{"bad flag before stdin", analyze("--org-id", "org-1", "-"),
			"not even read", `vigil: --org-id "org-1": want an organization id such as o-a1b2c3d4e5`},
		{"missing file", analyze(missing),
			"", "vigil: read policy: open " + missing + ": no such file or directory"},
		{"no file argument", analyze(), "", "vigil: accepts 1 arg(s), received 0"},
		{"two file arguments", analyze(iamFixture("admin"), iamFixture("readonly")), "", "vigil: accepts 1 arg(s), received 2"},
		{"unknown flag", analyze("--resource", "aws.s3.bucket", iamFixture("admin")), "", "vigil: unknown flag: --resource"},
		{"bad fail-on-public value", analyze("--fail-on-public=maybe", iamFixture("admin")),
			"", `vigil: invalid argument "maybe" for "--fail-on-public" flag: strconv.ParseBool: parsing "maybe": invalid syntax`},
		{"unknown subcommand", []string{"iam", "analyse"}, "", `vigil: unknown command "analyse" for "vigil iam"; see vigil --help`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.args[len(tc.args)-1] == "-" {
				withStdin(t, tc.stdin)
			}
			db := filepath.Join(t.TempDir(), "vigil.db")
			code, out, stderr := runCLI(t, append([]string{"--db", db}, tc.args...)...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if stderr != tc.want+"\n" {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, tc.want)
			}
			if out != "" {
				t.Errorf("stdout of a rejected command: %q", out)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("database created by a rejected command (stat: %v)", err)
			}
		})
	}
}
