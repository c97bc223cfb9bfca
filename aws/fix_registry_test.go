package aws

import (
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/policy/builtin"
)

// fixRegistry returns the registry of every AWS action.
func fixRegistry(t *testing.T) *fix.Registry {
	t.Helper()
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := fix.NewRegistry(NewFixer(c, Target{}, nil).Actions()...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestFixActions: at least 25 actions, each with an id under aws., a type
// the collector produces, a title and permissions; every built-in AWS check
// that names a fix names a registered action for its own resource type
// (Azure's checks are azure's to test).
func TestFixActions(t *testing.T) {
	reg := fixRegistry(t)
	types := map[string]bool{}
	for _, typ := range Types() {
		types[typ] = true
	}
	for _, a := range reg.All() {
		switch {
		case !strings.HasPrefix(a.ID(), "aws."):
			t.Errorf("%s: id not under aws.", a.ID())
		case !types[a.ResourceType()]:
			t.Errorf("%s: resource type %q is not one the collector produces", a.ID(), a.ResourceType())
		case a.Title() == "" || len(a.Permissions()) == 0:
			t.Errorf("%s: no title or no permissions", a.ID())
		}
	}
	if n := len(reg.All()); n < 25 {
		t.Errorf("%d fix actions, want at least 25", n)
	}
	checks, err := policy.Load(builtin.Source())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks.Checks() {
		if c.Fix == "" || !strings.HasPrefix(c.ResourceType, "aws.") {
			continue
		}
		a, ok := reg.Get(c.Fix)
		if !ok {
			t.Errorf("check %s names fix %s, which is not registered", c.ID, c.Fix)
			continue
		}
		if a.ResourceType() != c.ResourceType {
			t.Errorf("check %s (%s) names fix %s, which changes %s", c.ID, c.ResourceType, c.Fix, a.ResourceType())
		}
	}
}

var updatePolicy = flag.Bool("update-remediator-policy", false, "rewrite deploy/iam/vigil-remediator.json from the actions' permissions")

// TestRemediatorPolicy: the shipped remediation policy grants exactly the
// permissions the actions declare: each of them, and nothing else. With
// -update-remediator-policy it is rewritten from the actions.
func TestRemediatorPolicy(t *testing.T) {
	reg := fixRegistry(t)
	const path = "../deploy/iam/vigil-remediator.json"
	if *updatePolicy {
		doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
			"Sid": "VigilRemediate", "Effect": "Allow", "Action": reg.Permissions(), "Resource": "*"}}}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := loadPolicy(t, path)
	var missing []string
	for _, perm := range reg.Permissions() {
		if !allows(p, perm) {
			missing = append(missing, perm)
		}
	}
	if len(missing) > 0 {
		t.Errorf("deploy/iam/vigil-remediator.json lacks permissions actions need: %v", missing)
	}
	declared := map[string]bool{}
	for _, perm := range reg.Permissions() {
		declared[perm] = true
	}
	var extra []string
	for _, s := range p.Statements {
		for _, a := range s.Actions.Values {
			if strings.ContainsAny(a, "*?") || !declared[a] {
				extra = append(extra, a)
			}
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("deploy/iam/vigil-remediator.json grants what no action declares: %v", extra)
	}
}
