package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/vigilsec/vigil"
)

// Check is a compiled check: the domain check plus its applicability
// condition, fixtures and CEL programs.
type Check struct {
	vigil.Check
	// When is an optional CEL condition; false means the check does not
	// apply to the resource and yields no result.
	When string
	// Tests are the check's fixtures.
	Tests []Test

	when, assert, reason cel.Program
	// whenPartial and assertPartial evaluate with unknowns in place of
	// properties that could not be read.
	whenPartial, assertPartial cel.Program
	// whenReads, reads and reasonReads are the property paths
	// (dot-separated) that the when condition, the assertion and the reason
	// read; "" means the whole document. Each expression is evaluated
	// against the read errors of its own paths only: a property that only
	// the reason reads must not be blamed for the assertion's verdict.
	whenReads, reads, reasonReads []string
}

// Test is one fixture: a resource and the outcome the check must give.
type Test struct {
	Name       string            `yaml:"name"`
	Want       string            `yaml:"want"`
	Resource   map[string]any    `yaml:"resource"`
	Tags       map[string]string `yaml:"tags"`
	UID        string            `yaml:"uid"`
	Region     string            `yaml:"region"`
	ReadErrors []string          `yaml:"read_errors"`
	// Now is the evaluation time (RFC 3339); FixtureTime when empty.
	Now string `yaml:"now"`
}

// FixtureTime is when fixtures are evaluated unless they say otherwise, so
// that daysSince is deterministic in tests.
var FixtureTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// Outcome is the result of evaluating one check on one resource.
type Outcome struct {
	// Applies is false when the check's `when` condition excludes the resource.
	Applies bool
	Status  vigil.Status
	Reason  string
}

// Input is a resource prepared for evaluation by many checks.
type Input struct {
	r    *vigil.Resource
	vars map[string]any
	act  interpreter.Activation
}

// NewInput prepares r for evaluation at time now.
func NewInput(r *vigil.Resource, now time.Time) *Input {
	tags := r.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	props := r.Properties
	if props == nil {
		props = map[string]any{}
	}
	vars := map[string]any{
		varResource: props, varName: r.Name, varUID: r.UID, varRegion: r.Region,
		varAccount: r.Account, varTags: tags, varNow: types.Timestamp{Time: now},
		varTrusted: Trust{}.value(),
	}
	act, _ := interpreter.NewActivation(vars)
	return &Input{r: r, vars: vars, act: act}
}

// WithTrust sets whom the resource's account trusts (the `trusted`
// variable of cross-account checks).
func (in *Input) WithTrust(t Trust) *Input {
	in.vars[varTrusted] = t.value()
	in.act, _ = interpreter.NewActivation(in.vars)
	return in
}

// Evaluate runs the check on a prepared resource. Properties that could
// not be collected are unknowns: if the verdict depends on one of them the
// outcome is error, never pass; if it does not (a bucket with no public
// grant is not exposed whatever its unreadable Block Public Access says),
// the verdict stands. An expression that fails at run time is an error too.
func (c *Check) Evaluate(in *Input) Outcome {
	if c.when != nil {
		v, unread, err := eval(c.when, c.whenPartial, in, c.whenReads)
		switch {
		case unread != nil:
			return unreadable(*unread)
		case err != nil:
			return Outcome{Applies: true, Status: vigil.StatusError, Reason: "cannot decide: evaluating when: " + err.Error()}
		}
		if b, ok := v.Value().(bool); !ok {
			return Outcome{Applies: true, Status: vigil.StatusError, Reason: fmt.Sprintf("when gave %v, not a bool", v)}
		} else if !b {
			return Outcome{}
		}
	}
	v, unread, err := eval(c.assert, c.assertPartial, in, c.reads)
	switch {
	case unread != nil:
		return unreadable(*unread)
	case err != nil:
		return Outcome{Applies: true, Status: vigil.StatusError, Reason: "cannot decide: evaluating assert: " + err.Error()}
	}
	pass, ok := v.Value().(bool)
	switch {
	case !ok:
		return Outcome{Applies: true, Status: vigil.StatusError, Reason: fmt.Sprintf("assert gave %v, not a bool", v)}
	case pass:
		return Outcome{Applies: true, Status: vigil.StatusPass, Reason: c.Title}
	}
	reason := c.Title
	if c.reason != nil {
		if rv, _, err := c.reason.Eval(in.act); err == nil {
			if s, ok := rv.Value().(string); ok && s != "" {
				reason = s
			}
		}
	}
	return Outcome{Applies: true, Status: vigil.StatusFail, Reason: reason}
}

// eval runs an expression. When read errors cover properties it reads, it
// runs the partial program with those properties unknown and reports the
// first such read error if the result depends on them.
func eval(full, partial cel.Program, in *Input, reads []string) (ref.Val, *vigil.ReadError, error) {
	covering := coveringErrors(in.r, reads)
	if len(covering) == 0 {
		v, _, err := full.Eval(in.act)
		return v, nil, err
	}
	patterns := make([]*cel.AttributePatternType, 0, len(covering))
	for _, u := range covering {
		pat := cel.AttributePattern(varResource)
		if u.path != "" {
			for _, q := range strings.Split(u.path, ".") {
				pat = pat.QualString(q)
			}
		}
		patterns = append(patterns, pat)
	}
	pv, err := cel.PartialVars(in.vars, patterns...)
	if err != nil {
		return nil, nil, fmt.Errorf("unknown properties: %w", err)
	}
	v, _, err := partial.Eval(pv)
	if err != nil || types.IsUnknown(v) {
		// The verdict depends on what could not be read; a failure next to
		// an unreadable property is reported as that property too.
		return nil, &covering[0].err, nil //nolint:nilerr // the read error is the outcome
	}
	return v, nil, nil
}

// unknownPath is a property path to treat as unknown and the read error
// that makes it so.
type unknownPath struct {
	path string
	err  vigil.ReadError
}

// coveringErrors returns, for each read error that covers a property path
// the expression reads, the path to treat as unknown: the shorter of the
// two, so that reading a whole object with an unreadable member is unknown.
func coveringErrors(r *vigil.Resource, reads []string) []unknownPath {
	if len(r.ReadErrors) == 0 {
		return nil
	}
	var out []unknownPath
	for _, p := range reads {
		for _, e := range r.ReadErrors {
			switch {
			case p == "" || e.Property == "":
				out = append(out, unknownPath{"", e})
			case e.Property == p || strings.HasPrefix(p, e.Property+"."):
				out = append(out, unknownPath{e.Property, e})
			case strings.HasPrefix(e.Property, p+"."):
				out = append(out, unknownPath{p, e})
			}
		}
	}
	return out
}

func unreadable(e vigil.ReadError) Outcome {
	what := e.Property
	if what == "" {
		what = "the resource"
	}
	return Outcome{Applies: true, Status: vigil.StatusError, Reason: "could not read " + what + ": " + e.String()}
}

// Reads returns the property paths the check's expressions read.
func (c *Check) Reads() []string {
	out := append([]string(nil), c.whenReads...)
	for _, p := range slices.Concat(c.reads, c.reasonReads) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// propertyReads walks a checked expression and returns the property paths
// it reads from `resource`: resource.a.b and resource["a"]["b"] give "a.b",
// has(resource.a) gives "a", and a dynamic index resource[x] gives "".
func propertyReads(e ast.Expr) []string {
	var out []string
	var walk func(ast.Expr)
	walk = func(x ast.Expr) {
		if p, ok := selectPath(x); ok {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			walkIndexArgs(x, walk)
			return
		}
		switch x.Kind() {
		case ast.CallKind:
			call := x.AsCall()
			if call.IsMemberFunction() {
				walk(call.Target())
			}
			for _, a := range call.Args() {
				walk(a)
			}
		case ast.SelectKind:
			walk(x.AsSelect().Operand())
		case ast.ListKind:
			for _, el := range x.AsList().Elements() {
				walk(el)
			}
		case ast.MapKind:
			for _, en := range x.AsMap().Entries() {
				walk(en.AsMapEntry().Key())
				walk(en.AsMapEntry().Value())
			}
		case ast.StructKind:
			for _, f := range x.AsStruct().Fields() {
				walk(f.AsStructField().Value())
			}
		case ast.ComprehensionKind:
			c := x.AsComprehension()
			for _, part := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				walk(part)
			}
		}
	}
	walk(e)
	return out
}

// walkIndexArgs visits the non-constant index expressions of a selection
// chain, which may read other properties.
func walkIndexArgs(x ast.Expr, walk func(ast.Expr)) {
	for x.Kind() == ast.SelectKind || x.Kind() == ast.CallKind {
		if x.Kind() == ast.SelectKind {
			x = x.AsSelect().Operand()
			continue
		}
		args := x.AsCall().Args()
		if len(args) != 2 {
			return
		}
		if args[1].Kind() != ast.LiteralKind {
			walk(args[1])
		}
		x = args[0]
	}
}

// selectPath returns the dotted path of a chain of field selections and
// constant-string indexes rooted at the resource variable.
func selectPath(e ast.Expr) (string, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		if e.AsIdent() == varResource {
			return "", true
		}
	case ast.SelectKind:
		s := e.AsSelect()
		if p, ok := selectPath(s.Operand()); ok {
			return join(p, s.FieldName()), true
		}
	case ast.CallKind:
		call := e.AsCall()
		if (call.FunctionName() == operators.Index || call.FunctionName() == operators.OptIndex) && len(call.Args()) == 2 {
			p, ok := selectPath(call.Args()[0])
			if !ok {
				return "", false
			}
			if k := call.Args()[1]; k.Kind() == ast.LiteralKind {
				if s, isStr := k.AsLiteral().Value().(string); isStr {
					return join(p, s), true
				}
			}
			return p, true
		}
		if call.FunctionName() == operators.OptSelect && len(call.Args()) == 2 {
			p, ok := selectPath(call.Args()[0])
			if ok && call.Args()[1].Kind() == ast.LiteralKind {
				if s, isStr := call.Args()[1].AsLiteral().Value().(string); isStr {
					return join(p, s), true
				}
			}
			return p, ok
		}
	}
	return "", false
}

func join(p, field string) string {
	if p == "" {
		return field
	}
	return p + "." + field
}

var (
	idRe       = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)+$`)
	typeRe     = regexp.MustCompile(`^[a-z0-9]+(\.[a-z0-9_]+)+$`)
	categories = map[string]bool{"security": true, "cost": true, "availability": true, "usage": true}
	wants      = map[string]bool{"pass": true, "fail": true, "error": true, "skip": true}
)

// TestResult is the outcome of one fixture.
type TestResult struct {
	Test Test
	Got  Outcome
	// OK reports whether the outcome is the one the fixture wants.
	OK bool
}

// GotWord returns the fixture's outcome as a word: pass, fail, error or skip.
func (r TestResult) GotWord() string {
	if !r.Got.Applies {
		return "skip"
	}
	return string(r.Got.Status)
}

// RunTests evaluates the check's fixtures.
func (c *Check) RunTests() []TestResult {
	out := make([]TestResult, 0, len(c.Tests))
	for _, t := range c.Tests {
		r := &vigil.Resource{UID: t.UID, Name: t.Name, Region: t.Region, Type: c.ResourceType,
			Tags: t.Tags, Properties: t.Resource, Account: "123456789012", Provider: vigil.AWS}
		if r.UID == "" {
			r.UID = "fixture:" + strings.ReplaceAll(t.Name, " ", "-")
		}
		for _, p := range t.ReadErrors {
			r.ReadErrors = append(r.ReadErrors, vigil.ReadError{Property: p, Operation: "fixture", Code: vigil.EFORBIDDEN, Message: "AccessDenied"})
		}
		now := FixtureTime
		if t.Now != "" {
			now, _ = parseTime(t.Now)
		}
		got := c.Evaluate(NewInput(r, now))
		res := TestResult{Test: t, Got: got}
		res.OK = res.GotWord() == t.Want
		out = append(out, res)
	}
	return out
}
