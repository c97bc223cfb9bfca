package iampolicy

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// corpusCase is one entry of testdata/corpus (see its README.md).
type corpusCase struct {
	Name            string         `yaml:"name"`
	Source          string         `yaml:"source"`
	Type            string         `yaml:"type"`
	Account         string         `yaml:"account"`
	TrustedAccounts []string       `yaml:"trusted_accounts"`
	OrgIDs          []string       `yaml:"org_ids"`
	Policy          any            `yaml:"policy"`
	PolicyJSON      string         `yaml:"policy_json"`
	Want            corpusWant     `yaml:"want"`
	Requests        []corpusRequst `yaml:"requests"`
}

type corpusWant struct {
	Error        *string   `yaml:"error"`
	Public       *string   `yaml:"public"`
	CrossAccount *[]string `yaml:"cross_account"`
	Admin        *bool     `yaml:"admin"`
	FullIAM      *bool     `yaml:"full_iam"`
	Escalation   *[]string `yaml:"escalation"`
}

type corpusRequst struct {
	Principal string         `yaml:"principal"`
	Action    string         `yaml:"action"`
	Resource  string         `yaml:"resource"`
	Context   map[string]any `yaml:"context"`
	Want      string         `yaml:"want"`
}

// loadCorpus reads every case of testdata/corpus.
func loadCorpus(t testing.TB) (map[string][]corpusCase, int) {
	t.Helper()
	files, err := filepath.Glob("testdata/corpus/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	out := map[string][]corpusCase{}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []corpusCase
		if err := yaml.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = cases
		n += len(cases)
	}
	return out, n
}

// parseCase parses a case's document.
func (c *corpusCase) parse() (*Policy, error) {
	if c.PolicyJSON != "" {
		return Parse([]byte(c.PolicyJSON))
	}
	return ParseValue(c.Policy)
}

func (c *corpusCase) options() Options {
	o := Options{ResourceType: c.Type, Account: c.Account, TrustedAccounts: c.TrustedAccounts, OrgIDs: c.OrgIDs}
	if o.ResourceType == "" {
		o.ResourceType = "aws.s3.bucket"
	}
	if o.Account == "" {
		o.Account = "123456789012"
	}
	return o
}

// TestCorpus runs every corpus case: parse errors, public, cross-account,
// admin and escalation verdicts, and concrete request decisions.
func TestCorpus(t *testing.T) {
	corpus, n := loadCorpus(t)
	if n < 250 {
		t.Errorf("the corpus has %d cases, want at least 250", n)
	}
	for file, cases := range corpus {
		names := map[string]bool{}
		for _, c := range cases {
			if names[c.Name] {
				t.Errorf("%s: duplicate case name %q", file, c.Name)
			}
			names[c.Name] = true
			t.Run(strings.TrimSuffix(file, ".yaml")+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				runCase(t, c)
			})
		}
	}
}

func runCase(t *testing.T, c corpusCase) {
	p, err := c.parse()
	if c.Want.Error != nil {
		if err == nil {
			t.Fatalf("parsed, want an error naming %q", *c.Want.Error)
		}
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(*c.Want.Error)) {
			t.Fatalf("error %q does not name %q", err, *c.Want.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	o := c.options()
	if w := c.Want.Public; w != nil {
		r := IsPublic(p, o)
		if string(r.Verdict) != *w {
			t.Errorf("public = %s, want %s (reasons: %v)", r.Verdict, *w, r.Reasons)
		}
	}
	if w := c.Want.CrossAccount; w != nil {
		acc, _ := CrossAccount(p, o)
		got := []string{}
		for _, a := range acc {
			got = append(got, a.Principal)
		}
		want := append([]string{}, *w...)
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("cross_account = %q, want %q", got, want)
		}
	}
	if c.Want.Admin != nil || c.Want.FullIAM != nil || c.Want.Escalation != nil {
		r := AnalyzePrincipal([]*Policy{p}, nil)
		if w := c.Want.Admin; w != nil && r.Admin != *w {
			t.Errorf("admin = %v, want %v (%v)", r.Admin, *w, r.Reasons)
		}
		if w := c.Want.FullIAM; w != nil && r.FullIAM != *w {
			t.Errorf("full_iam = %v, want %v (%v)", r.FullIAM, *w, r.Reasons)
		}
		if w := c.Want.Escalation; w != nil {
			got := []string{}
			for _, e := range r.Escalations {
				got = append(got, e.Path)
			}
			want := append([]string{}, *w...)
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("escalation = %q, want %q", got, want)
			}
		}
	}
	for i, rq := range c.Requests {
		r := Request{Principal: corpusPrincipal(rq.Principal), Action: rq.Action, Resource: rq.Resource, Context: map[string][]string{}}
		for k, v := range rq.Context {
			switch x := v.(type) {
			case []any:
				vals := []string{}
				for _, e := range x {
					vals = append(vals, scalar(e))
				}
				r.Context[k] = vals
			default:
				r.Context[k] = []string{scalar(x)}
			}
		}
		if got := Evaluate(r, p).String(); got != rq.Want {
			t.Errorf("request %d (%s %s %s %v) = %s, want %s", i, rq.Principal, rq.Action, rq.Resource, rq.Context, got, rq.Want)
		}
	}
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return ""
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

// corpusPrincipal reads a request principal: anonymous, service:NAME,
// federated:PROVIDER, canonical:ID, or an ARN / account id.
func corpusPrincipal(s string) Principal {
	switch {
	case s == "anonymous" || s == "":
		return Principal{Kind: Anonymous}
	case strings.HasPrefix(s, "service:"):
		return Principal{Kind: ServicePrincipal, ID: strings.TrimPrefix(s, "service:")}
	case strings.HasPrefix(s, "federated:"):
		return Principal{Kind: FederatedPrincipal, ID: strings.TrimPrefix(s, "federated:")}
	case strings.HasPrefix(s, "canonical:"):
		return Principal{Kind: CanonicalUserPrincipal, ID: strings.TrimPrefix(s, "canonical:")}
	}
	return AWS(s)
}
