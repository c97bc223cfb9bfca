package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/yamlconf"
)

// Problem is one thing wrong with a check file, located by file, line and
// column; it is yamlconf's, so that every config reader reports one type.
type Problem = yamlconf.Problem

// LoadError lists every problem found while loading checks.
type LoadError struct{ Problems []Problem }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is match vigil's invalid-input code.
func (e *LoadError) Unwrap() error { return vigil.Errorf(vigil.EINVALID, "invalid checks") }

// Set is a collection of compiled checks, indexed by id and resource type.
type Set struct {
	checks []*Check
	byID   map[string]*Check
	byType map[string][]*Check
}

// Checks returns the checks ordered by id.
func (s *Set) Checks() []*Check { return s.checks }

// Len returns the number of checks.
func (s *Set) Len() int { return len(s.checks) }

// Get returns the check with the given id.
func (s *Set) Get(id string) (*Check, bool) { c, ok := s.byID[id]; return c, ok }

// ForType returns the checks of a resource type.
func (s *Set) ForType(typ string) []*Check { return s.byType[typ] }

// IDs returns the ids of the checks.
func (s *Set) IDs() []string {
	out := make([]string, len(s.checks))
	for i, c := range s.checks {
		out[i] = c.ID
	}
	return out
}

func newSet(checks []*Check) *Set {
	sort.Slice(checks, func(i, j int) bool { return checks[i].ID < checks[j].ID })
	s := &Set{checks: checks, byID: map[string]*Check{}, byType: map[string][]*Check{}}
	for _, c := range checks {
		s.byID[c.ID] = c
		s.byType[c.ResourceType] = append(s.byType[c.ResourceType], c)
	}
	return s
}

// Select returns the checks with the given ids (all when ids is empty) at
// or above a minimum severity (any when empty). An unknown id is an error.
func (s *Set) Select(ids []string, min vigil.Severity) (*Set, error) {
	var out []*Check
	if len(ids) == 0 {
		out = append(out, s.checks...)
	} else {
		var unknown []string
		picked := map[string]bool{}
		for _, id := range ids {
			if c, ok := s.byID[id]; ok {
				// An id given twice is one check: twice in the set, it
				// would give every resource two results for one pair.
				if !picked[id] {
					picked[id] = true
					out = append(out, c)
				}
			} else {
				unknown = append(unknown, id)
			}
		}
		if len(unknown) > 0 {
			return nil, vigil.Errorf(vigil.EINVALID, "unknown check id %s (see `vigil checks list`)", strings.Join(unknown, ", "))
		}
	}
	if min != "" {
		kept := out[:0:0]
		for _, c := range out {
			if c.Severity.Rank() >= min.Rank() {
				kept = append(kept, c)
			}
		}
		out = kept
	}
	return newSet(out), nil
}

// Source is a tree of check files: a file system and the name it is shown
// under in errors (e.g. "builtin" or a directory path).
type Source struct {
	FS   fs.FS
	Name string
}

// Dir returns the source for a directory of check files on disk.
func Dir(dir string) Source { return Source{FS: os.DirFS(dir), Name: dir} }

// Load reads and compiles every *.yaml and *.yml file of the sources. It
// reports every problem at once, each with file, line and column; a set is
// returned only when there are none. Check ids must be unique across sources.
func Load(sources ...Source) (*Set, error) {
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	var (
		checks   []*Check
		problems []Problem
		seen     = map[string]string{}
	)
	for _, src := range sources {
		err := fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				// Report the unreadable entry and go on with the others.
				problems = append(problems, Problem{File: path.Join(src.Name, p), Msg: err.Error()})
				return nil //nolint:nilerr // collected above
			}
			if d.IsDir() || (!strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml")) {
				return nil
			}
			file := path.Join(src.Name, p)
			if src.Name == "builtin" {
				file = "builtin:" + p
			}
			data, err := fs.ReadFile(src.FS, p)
			if err != nil {
				problems = append(problems, Problem{File: file, Msg: err.Error()})
				return nil //nolint:nilerr // collected above
			}
			c, probs := compileFile(env, file, data)
			problems = append(problems, probs...)
			if c == nil {
				return nil
			}
			if prev, dup := seen[c.ID]; dup {
				problems = append(problems, Problem{File: file, Msg: fmt.Sprintf("duplicate check id %q (also in %s)", c.ID, prev)})
				return nil
			}
			seen[c.ID] = file
			checks = append(checks, c)
			return nil
		})
		if err != nil {
			problems = append(problems, Problem{File: src.Name, Msg: err.Error()})
		}
	}
	if len(problems) > 0 {
		return nil, &LoadError{Problems: problems}
	}
	return newSet(checks), nil
}

// checkFile is the YAML shape of a check file.
type checkFile struct {
	ID          string              `yaml:"id"`
	Title       string              `yaml:"title"`
	Description string              `yaml:"description"`
	Resource    string              `yaml:"resource"`
	Severity    string              `yaml:"severity"`
	Category    string              `yaml:"category"`
	When        string              `yaml:"when"`
	Assert      string              `yaml:"assert"`
	Reason      string              `yaml:"reason"`
	Remediation string              `yaml:"remediation"`
	Fix         yaml.Node           `yaml:"fix"`
	Frameworks  map[string][]string `yaml:"frameworks"`
	Tests       []Test              `yaml:"tests"`
}

var knownKeys = map[string]bool{"id": true, "title": true, "description": true, "resource": true,
	"severity": true, "category": true, "when": true, "assert": true, "reason": true,
	"remediation": true, "fix": true, "frameworks": true, "tests": true}

// compileFile parses and compiles one check file.
func compileFile(env *cel.Env, file string, data []byte) (*Check, []Problem) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, []Problem{yamlconf.ErrorProblem(file, err)}
	}
	if len(root.Content) == 0 {
		return nil, []Problem{{File: file, Msg: "empty check file"}}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, []Problem{{File: file, Line: doc.Line, Column: doc.Column, Msg: "a check file must be a mapping of id, title, resource, assert, …"}}
	}
	var probs []Problem
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if k := doc.Content[i]; !knownKeys[k.Value] {
			probs = append(probs, Problem{File: file, Line: k.Line, Column: k.Column, Msg: fmt.Sprintf("unknown key %q", k.Value)})
		}
	}
	var cf checkFile
	if err := doc.Decode(&cf); err != nil {
		return nil, append(probs, yamlconf.ErrorProblem(file, err))
	}
	at := func(key string) *yaml.Node { return yamlconf.ValueOf(doc, key) }
	bad := func(key, format string, args ...any) {
		p := Problem{File: file, Msg: fmt.Sprintf(format, args...)}
		if n := at(key); n != nil {
			p.Line, p.Column = n.Line, n.Column
		} else {
			p.Line = 1
		}
		probs = append(probs, p)
	}
	switch {
	case cf.ID == "":
		bad("id", "missing id")
	case !idRe.MatchString(cf.ID):
		bad("id", "id %q must be kebab-case, e.g. aws-s3-bucket-versioning", cf.ID)
	}
	if cf.Title == "" {
		bad("title", "missing title")
	}
	switch {
	case cf.Resource == "":
		bad("resource", "missing resource (the resource type, e.g. aws.s3.bucket)")
	case !typeRe.MatchString(cf.Resource):
		bad("resource", "resource %q is not a resource type such as aws.s3.bucket", cf.Resource)
	}
	sev, err := vigil.ParseSeverity(cf.Severity)
	if err != nil {
		bad("severity", "%v", err)
	}
	if !categories[cf.Category] {
		bad("category", "category %q must be security, cost, availability or usage", cf.Category)
	}
	if cf.Assert == "" {
		bad("assert", "missing assert (a CEL expression, true when the resource passes)")
	}
	fix, err := fixAction(cf.Fix)
	if err != nil {
		bad("fix", "%v", err)
	}
	c := &Check{
		Check: vigil.Check{ID: cf.ID, Title: cf.Title, Description: strings.TrimSpace(cf.Description),
			Severity: sev, Category: cf.Category, ResourceType: cf.Resource, Assert: cf.Assert,
			Reason: cf.Reason, Remediation: strings.TrimSpace(cf.Remediation), Fix: fix,
			Frameworks: cf.Frameworks, Source: file},
		When: cf.When, Tests: cf.Tests,
	}
	compile := func(key, expr string, want *cel.Type) (cel.Program, cel.Program) {
		if expr == "" {
			return nil, nil
		}
		checked, iss := env.Compile(expr)
		if iss != nil && iss.Err() != nil {
			for _, e := range iss.Errors() {
				k, v := yamlconf.Entry(doc, key)
				line, col := yamlconf.Source(data).ExprPosition(k, v, e.Location.Line(), e.Location.Column())
				probs = append(probs, Problem{File: file, Line: line, Column: col, Msg: key + ": " + e.Message})
			}
			return nil, nil
		}
		if out := checked.OutputType(); !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
			bad(key, "%s must be a %s expression, this one gives %s", key, want, out)
			return nil, nil
		}
		prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			bad(key, "%s: %v", key, err)
			return nil, nil
		}
		partial, err := env.Program(checked, cel.EvalOptions(cel.OptPartialEval))
		if err != nil {
			bad(key, "%s: %v", key, err)
			return nil, nil
		}
		reads := propertyReads(checked.NativeRep().Expr())
		switch key {
		case "when":
			c.whenReads = append(c.whenReads, reads...)
		case "reason":
			c.reasonReads = append(c.reasonReads, reads...)
		default:
			c.reads = append(c.reads, reads...)
		}
		return prg, partial
	}
	c.when, c.whenPartial = compile("when", cf.When, cel.BoolType)
	c.assert, c.assertPartial = compile("assert", cf.Assert, cel.BoolType)
	c.reason, _ = compile("reason", cf.Reason, cel.StringType)
	probs = append(probs, checkTests(file, doc, cf.Tests)...)
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

// checkTests validates the fixtures' shape.
func checkTests(file string, doc *yaml.Node, tests []Test) []Problem {
	var probs []Problem
	list := yamlconf.ValueOf(doc, "tests")
	names := map[string]bool{}
	for i, t := range tests {
		line := 0
		if list != nil && i < len(list.Content) {
			line = list.Content[i].Line
		}
		switch {
		case t.Name == "":
			probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf("test %d has no name", i+1)})
		case names[t.Name]:
			probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf("duplicate test name %q", t.Name)})
		}
		names[t.Name] = true
		if !wants[t.Want] {
			probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf("test %q: want %q must be pass, fail, error or skip", t.Name, t.Want)})
		}
		if t.Now != "" {
			if _, err := parseTime(t.Now); err != nil {
				probs = append(probs, Problem{File: file, Line: line, Msg: fmt.Sprintf("test %q: now: %v", t.Name, err)})
			}
		}
	}
	return probs
}

// fixAction accepts `fix: action-id` and `fix: {action: action-id}`.
func fixAction(n yaml.Node) (string, error) {
	switch n.Kind {
	case 0:
		return "", nil
	case yaml.ScalarNode:
		return n.Value, nil
	case yaml.MappingNode:
		var m struct {
			Action string `yaml:"action"`
		}
		if err := n.Decode(&m); err != nil || m.Action == "" {
			return "", errors.New("fix must be an action id or {action: id}")
		}
		return m.Action, nil
	}
	return "", errors.New("fix must be an action id or {action: id}")
}
