package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/iampolicy"
)

// iamResourceTypes are the --resource-type values: the resource types
// whose policies iampolicy knows the actions and condition keys of, and
// "identity" for a policy attached to a user, group or role.
var iamResourceTypes = []string{
	"aws.s3.bucket", "aws.sqs.queue", "aws.sns.topic", "aws.kms.key", "aws.lambda.function",
	"aws.secretsmanager.secret", "aws.ecr.repository", "aws.iam.role", "identity",
}

// orgIDPattern is the documented format of an AWS Organizations id.
var orgIDPattern = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)

type iamAnalyzeFlags struct {
	resourceType, resourceARN, account string
	trusted, orgIDs                    []string
	failOnPublic                       bool
}

func (a *app) iamCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam",
		Short: "Analyze IAM and resource-based policy documents",
		// A mistyped subcommand is a usage error, not a silent help page.
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.iamAnalyzeCmd())
	return cmd
}

func (a *app) iamAnalyzeCmd() *cobra.Command {
	var f iamAnalyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze FILE|-",
		Short: "Decide whether a policy is public, cross-account, admin or allows privilege escalation",
		Long: `Analyze reads one policy document from FILE (or standard input with -) and prints
its analysis as JSON: whether it is public by Amazon S3's meaning of public, which
principals outside the owner account, --trusted-accounts and --org-id it lets in,
and, for identity policies, whether it grants administrator or full IAM access or
a known privilege-escalation path.

A document without Principal or NotPrincipal is an identity policy. A resource
policy needs --resource-type: it selects the service whose actions count.

Exit codes: 0 analyzed (whatever the verdict), 1 error, 2 bad usage or a
malformed document, 3 --fail-on-public and the policy is public (or the public
analysis could not decide), grants administrator access or a privilege-escalation path.`,
		Example: `  vigil iam analyze --resource-type aws.s3.bucket --account 123456789012 bucket-policy.json
  aws iam get-role-policy --role-name app --policy-name inline --query PolicyDocument | vigil iam analyze -
  vigil iam analyze --fail-on-public --resource-type aws.sqs.queue --org-id o-a1b2c3d4e5 queue-policy.json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error { return a.iamAnalyze(cmd.InOrStdin(), args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.resourceType, "resource-type", "", "type of the resource the policy is attached to: "+strings.Join(iamResourceTypes, ", ")+
		" (default identity when no statement names a principal)")
	fl.StringVar(&f.resourceARN, "resource-arn", "", "ARN of the resource: only statements about it count")
	fl.StringVar(&f.account, "account", "", "12-digit id of the account that owns the resource")
	fl.StringSliceVar(&f.trusted, "trusted-accounts", nil, "other account ids to trust, comma-separated")
	fl.StringSliceVar(&f.orgIDs, "org-id", nil, "AWS Organizations id(s) to trust, e.g. o-a1b2c3d4e5")
	fl.BoolVar(&f.failOnPublic, "fail-on-public", false, "exit 3 if the policy is public or undecided, grants admin or a privilege-escalation path")
	return cmd
}

func (a *app) iamAnalyze(stdin io.Reader, file string, f iamAnalyzeFlags) error {
	// Validate every flag before reading the input, which may be a pipe.
	if f.resourceType != "" && !contains(iamResourceTypes, f.resourceType) {
		return vigil.Errorf(vigil.EINVALID, "unknown resource type %q (want %s)", f.resourceType, strings.Join(iamResourceTypes, ", "))
	}
	if f.account != "" && !isAccountID(f.account) {
		return vigil.Errorf(vigil.EINVALID, "--account %q: want a 12-digit account id", f.account)
	}
	trusted := splitList(f.trusted)
	for _, t := range trusted {
		if !isAccountID(t) {
			return vigil.Errorf(vigil.EINVALID, "--trusted-accounts %q: want 12-digit account ids", t)
		}
	}
	orgIDs := splitList(f.orgIDs)
	for _, o := range orgIDs {
		if !orgIDPattern.MatchString(o) {
			return vigil.Errorf(vigil.EINVALID, "--org-id %q: want an organization id such as o-a1b2c3d4e5", o)
		}
	}

	data, err := readPolicy(stdin, file)
	if err != nil {
		return err
	}
	pol, err := iampolicy.Parse(data)
	if err != nil {
		return &vigil.Error{Code: vigil.EINVALID, Err: err}
	}
	rt := f.resourceType
	if rt == "" {
		if namesPrincipals(pol) {
			return vigil.Errorf(vigil.EINVALID, "the policy names principals, so it is a resource policy: pass --resource-type (one of %s)",
				strings.Join(iamResourceTypes, ", "))
		}
		rt = "identity"
	}
	an := iampolicy.Analyze(pol, iampolicy.Options{ResourceType: rt, ResourceARN: f.resourceARN,
		Account: f.account, TrustedAccounts: trusted, OrgIDs: orgIDs})
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(an); err != nil {
		return fmt.Errorf("write analysis: %w", err)
	}
	if f.failOnPublic {
		if found := iamFailures(an); len(found) > 0 {
			return &exitError{code: 3, err: fmt.Errorf("--fail-on-public: %s", strings.Join(found, "; "))}
		}
	}
	return nil
}

// readPolicy reads the document from file, or from stdin when file is "-".
func readPolicy(stdin io.Reader, file string) ([]byte, error) {
	if file == "-" {
		data, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("read policy from stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		// A missing or unreadable file is the caller's mistake.
		return nil, vigil.Errorf(vigil.EINVALID, "read policy: %v", err)
	}
	return data, nil
}

// namesPrincipals reports whether some statement has Principal or
// NotPrincipal, which only resource policies have.
func namesPrincipals(p *iampolicy.Policy) bool {
	for _, s := range p.Statements {
		if s.Principal != nil || s.NotPrincipal != nil {
			return true
		}
	}
	return false
}

// iamFailures lists what makes --fail-on-public exit 3. An undecided public
// analysis counts: it must never pass as not public.
func iamFailures(an iampolicy.Analysis) []string {
	var found []string
	switch an.Public {
	case iampolicy.Public:
		found = append(found, "the policy is public")
	case iampolicy.Unknown:
		found = append(found, "the public analysis could not decide")
	}
	if an.Admin {
		found = append(found, "the policy grants administrator access")
	}
	for _, e := range an.PrivilegeEscalation {
		found = append(found, "privilege escalation by "+e.Path)
	}
	return found
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
