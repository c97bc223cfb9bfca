package policy

import (
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/yamlconf"
)

// Mute silences failing and erroring results that match it: the result is
// recorded as muted, with the mute's reason, until the mute expires (a date
// without a time mutes through the end of that day, UTC). Empty fields match
// everything; Check and Resource are glob patterns in which * matches any
// run of characters, "/" and ":" included, and ? any one character;
// Resource matches a resource's uid or name.
type Mute struct {
	Check    string            `yaml:"check"`
	Account  string            `yaml:"account"`
	Region   string            `yaml:"region"`
	Resource string            `yaml:"resource"`
	Tags     map[string]string `yaml:"tags"`
	Reason   string            `yaml:"reason"`
	Expires  string            `yaml:"expires"`

	expires time.Time
}

// Mutes is a list of mutes.
type Mutes struct{ list []Mute }

// Len returns the number of mutes.
func (m *Mutes) Len() int {
	if m == nil {
		return 0
	}
	return len(m.list)
}

// LoadMutes reads a YAML file holding a list of mutes (or a document with
// a `mutes:` list). Every mute needs a reason and at least one selector;
// problems are reported with file and line.
func LoadMutes(file string) (*Mutes, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "mutes: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		p := yamlconf.ErrorProblem(file, err)
		return nil, &LoadError{Problems: []Problem{p}}
	}
	if len(root.Content) == 0 {
		return &Mutes{}, nil
	}
	list := root.Content[0]
	if n := yamlconf.ValueOf(list, "mutes"); n != nil {
		list = n
	}
	if list.Kind != yaml.SequenceNode {
		return nil, &LoadError{Problems: []Problem{{File: file, Line: list.Line, Column: list.Column, Msg: "mutes must be a list"}}}
	}
	known := map[string]bool{"check": true, "account": true, "region": true, "resource": true, "tags": true, "reason": true, "expires": true}
	var probs []Problem
	out := &Mutes{}
	for _, n := range list.Content {
		bad := func(format string, args ...any) {
			probs = append(probs, Problem{File: file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
		}
		if n.Kind != yaml.MappingNode {
			bad("a mute must be a mapping of check, account, region, resource, tags, reason, expires")
			continue
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !known[k.Value] {
				probs = append(probs, Problem{File: file, Line: k.Line, Column: k.Column, Msg: fmt.Sprintf("unknown key %q", k.Value)})
			}
		}
		var m Mute
		if err := n.Decode(&m); err != nil {
			bad("%v", strings.TrimPrefix(err.Error(), "yaml: "))
			continue
		}
		if strings.TrimSpace(m.Reason) == "" {
			bad("a mute needs a reason")
		}
		if m.Check == "" && m.Account == "" && m.Region == "" && m.Resource == "" && len(m.Tags) == 0 {
			bad("a mute needs at least one of check, account, region, resource, tags")
		}
		if m.Expires != "" {
			t, err := parseTime(m.Expires)
			if err != nil {
				bad("expires: %v (want a date such as 2027-01-31)", err)
			}
			if len(strings.TrimSpace(m.Expires)) == len("2006-01-02") {
				t = t.Add(24 * time.Hour) // through the end of that day
			}
			m.expires = t
		}
		out.list = append(out.list, m)
	}
	if len(probs) > 0 {
		return nil, &LoadError{Problems: probs}
	}
	return out, nil
}

// Match returns the mute that silences check checkID on r at time now.
func (m *Mutes) Match(checkID string, r *vigil.Resource, now time.Time) (Mute, bool) {
	if m == nil {
		return Mute{}, false
	}
	for _, x := range m.list {
		if !x.expires.IsZero() && !now.Before(x.expires) {
			continue
		}
		if !glob(x.Check, checkID) || (x.Account != "" && x.Account != r.Account) || (x.Region != "" && x.Region != r.Region) {
			continue
		}
		if x.Resource != "" && !glob(x.Resource, r.UID) && !glob(x.Resource, r.Name) {
			continue
		}
		tagsOK := true
		for k, v := range x.Tags {
			if got, ok := r.Tags[k]; !ok || (v != "*" && got != v) {
				tagsOK = false
				break
			}
		}
		if tagsOK {
			return x, true
		}
	}
	return Mute{}, false
}

// Apply turns a failing or erroring outcome into a muted one when a mute matches.
func (m *Mutes) Apply(checkID string, r *vigil.Resource, now time.Time, o Outcome) Outcome {
	if o.Status != vigil.StatusFail && o.Status != vigil.StatusError {
		return o
	}
	x, ok := m.Match(checkID, r, now)
	if !ok {
		return o
	}
	until := ""
	if !x.expires.IsZero() {
		until = " until " + x.Expires
	}
	o.Reason = fmt.Sprintf("muted%s: %s (%s: %s)", until, x.Reason, o.Status, o.Reason)
	o.Status = vigil.StatusMuted
	return o
}

// glob matches s against a pattern where * is any run of characters and ?
// any one character.
func glob(pattern, s string) bool {
	if pattern == "" {
		return true
	}
	p, r := []rune(pattern), []rune(s)
	// Iterative matching with backtracking to the last star.
	pi, ri, star, mark := 0, 0, -1, 0
	for ri < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[ri]):
			pi++
			ri++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ri
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ri = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
