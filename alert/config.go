package alert

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
)

// Defaults of a rule's keys when they are left out.
const (
	DefaultQuiet           = 5 * time.Minute
	defaultChangeSeverity  = vigil.Medium
	defaultFindingSeverity = vigil.Low
)

// Outcome is what a fix rule listens to: a fix status, or "flapping" for a
// fix skipped because the finding keeps coming back.
type Outcome string

// Fix outcomes a rule can name. Each fix has exactly one: a skipped fix
// whose reason starts with "flapping" is OutcomeFlapping, not OutcomeSkipped.
const (
	OutcomeVerified Outcome = Outcome(vigil.FixVerified)
	OutcomeFailed   Outcome = Outcome(vigil.FixFailed)
	OutcomeSkipped  Outcome = Outcome(vigil.FixSkipped)
	OutcomeDryRun   Outcome = Outcome(vigil.FixDryRun)
	OutcomeUndone   Outcome = Outcome(vigil.FixUndone)
	OutcomeFlapping Outcome = "flapping"
)

var outcomes = map[Outcome]bool{OutcomeVerified: true, OutcomeFailed: true, OutcomeSkipped: true,
	OutcomeDryRun: true, OutcomeUndone: true, OutcomeFlapping: true}

// Env is what a rule is validated against: the configured channels and the
// loaded checks.
type Env struct {
	// Channels are the names of the configured notification channels.
	Channels map[string]bool
	// Checks are the loaded checks; nil means none.
	Checks *policy.Set
}

// Rule is one entry of the config file's alerts section (docs/alerts.md).
type Rule struct {
	Name string
	// On is what the rule listens to: change, finding or fix.
	On vigil.AlertKind
	// Type is the resource type glob of a change rule (aws.s3.*).
	Type string
	// When is a change rule's optional CEL condition.
	When string
	// Description becomes the alert's Why.
	Description string
	// Severity is a change alert's severity, and a finding rule's minimum.
	Severity vigil.Severity
	// Channels are the names of the channels the alerts go to.
	Channels []string
	// Quiet is the length of the fixed window in which at most one alert
	// per (rule, resource, channel) is sent.
	Quiet time.Duration
	// Checks are globs over check ids (finding and fix rules); empty means all.
	Checks []string
	// Accounts, Regions and Types restrict the rule to resources in them;
	// empty means all. Types are globs.
	Accounts, Regions, Types []string
	// Reopened includes findings that were resolved before (finding rules).
	Reopened bool
	// Outcomes are the fix outcomes a fix rule alerts on.
	Outcomes []Outcome
	// Source is where the rule was defined, "file:line".
	Source string

	when cel.Program
}

// nameRe keeps rule names usable in idempotency keys, which use "/".
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Keys each kind of rule accepts, besides the common ones.
var (
	commonKeys = []string{"name", "on", "description", "channels", "quiet", "accounts", "regions", "types"}
	kindKeys   = map[vigil.AlertKind][]string{
		vigil.AlertChange:  {"type", "when", "severity"},
		vigil.AlertFinding: {"severity", "checks", "reopened"},
		vigil.AlertFix:     {"checks", "outcomes"},
	}
)

// Parse decodes the alerts section of a config file: node is the value of
// the `alerts:` key (a list of rules; null is none), file names the file
// in problems. It reports every problem at once, each at its line and
// column; rules are returned only when there are none. Conditions are
// compiled here, so a type error in `when:` is a problem at its position.
func Parse(node *yaml.Node, file string, env Env) ([]*Rule, []policy.Problem) {
	p := &parser{file: file, env: env}
	if node == nil || (node.Kind == yaml.ScalarNode && node.Tag == "!!null") {
		return nil, nil
	}
	if node.Kind != yaml.SequenceNode {
		p.bad(node, "alerts must be a list of rules, got %s", describe(node))
		return nil, p.probs
	}
	celEnv, err := newEnv()
	if err != nil {
		p.bad(node, "alerts: cel environment: %v", err)
		return nil, p.probs
	}
	p.cel = celEnv
	var rules []*Rule
	names := map[string]bool{}
	for i, rn := range node.Content {
		r := p.rule(rn, i+1)
		if r == nil {
			continue
		}
		if r.Name != "" {
			if names[r.Name] {
				p.bad(valueNode(rn, "name"), "alerts[%d]: the name %q is used twice", i+1, r.Name)
			}
			names[r.Name] = true
		}
		rules = append(rules, r)
	}
	if len(p.probs) > 0 {
		return nil, p.probs
	}
	return rules, nil
}

type parser struct {
	file  string
	env   Env
	cel   *cel.Env
	probs []policy.Problem
}

func (p *parser) bad(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, policy.Problem{File: p.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// rule decodes one rule; nil when it is not even a mapping.
func (p *parser) rule(n *yaml.Node, i int) *Rule {
	sec := fmt.Sprintf("alerts[%d]", i)
	if n.Kind != yaml.MappingNode {
		p.bad(n, "%s must be a mapping with name, on and channels, got %s", sec, describe(n))
		return nil
	}
	r := &Rule{Quiet: DefaultQuiet, Reopened: true, Source: fmt.Sprintf("%s:%d", p.file, n.Line)}
	// `on` decides which keys are known, so it is read first.
	onNode := valueNode(n, "on")
	if onNode == nil {
		p.bad(n, "%s needs on (change, finding or fix)", sec)
	} else if s, ok := p.str(onNode, sec+".on"); ok {
		r.On = vigil.AlertKind(s)
		if _, known := kindKeys[r.On]; !known {
			p.bad(onNode, "%s.on %q: want change, finding or fix", sec, s)
			r.On = ""
		}
	}
	if nn := valueNode(n, "name"); nn != nil {
		if s, ok := p.str(nn, sec+".name"); ok {
			if !nameRe.MatchString(s) {
				p.bad(nn, "%s.name %q: use letters, digits, '.', '_' and '-' (it is part of the alerts' keys)", sec, s)
			}
			r.Name = s
			sec = fmt.Sprintf("alerts[%d] (%s)", i, s)
		}
	} else {
		p.bad(n, "%s needs a name", sec)
	}

	var severityNode, whenKey, whenNode, typeNode, channelsNode *yaml.Node
	handlers := map[string]func(*yaml.Node){
		"name": func(*yaml.Node) {},
		"on":   func(*yaml.Node) {},
		"description": func(v *yaml.Node) {
			s, _ := p.str(v, sec+".description")
			r.Description = strings.TrimSpace(s)
		},
		"channels": func(v *yaml.Node) { channelsNode = v; r.Channels = p.channels(v, sec) },
		"quiet":    func(v *yaml.Node) { r.Quiet = p.quiet(v, sec) },
		"accounts": func(v *yaml.Node) { r.Accounts = p.nonEmptyList(v, sec+".accounts") },
		"regions":  func(v *yaml.Node) { r.Regions = p.nonEmptyList(v, sec+".regions") },
		"types":    func(v *yaml.Node) { r.Types = p.globs(v, sec+".types") },
		"type": func(v *yaml.Node) {
			typeNode = v
			if s, ok := p.str(v, sec+".type"); ok {
				if _, err := path.Match(s, ""); err != nil || s == "" {
					p.bad(v, "%s.type %q is not a resource type or a glob such as aws.s3.*", sec, s)
				}
				r.Type = s
			}
		},
		"when":     func(v *yaml.Node) { whenNode = v; r.When, _ = p.str(v, sec+".when") },
		"severity": func(v *yaml.Node) { severityNode = v },
		"checks":   func(v *yaml.Node) { r.Checks = p.checks(v, sec) },
		"reopened": func(v *yaml.Node) { r.Reopened, _ = p.boolean(v, sec+".reopened") },
		"outcomes": func(v *yaml.Node) { r.Outcomes = p.outcomes(v, sec) },
	}
	known := map[string]bool{}
	for _, k := range commonKeys {
		known[k] = true
	}
	for _, k := range kindKeys[r.On] {
		known[k] = true
	}
	seen := map[string]bool{}
	for j := 0; j+1 < len(n.Content); j += 2 {
		k, v := n.Content[j], n.Content[j+1]
		switch {
		case !known[k.Value] && r.On == "" && handlers[k.Value] != nil:
			// With no valid `on`, whether a kind's key belongs is
			// unknown; the missing or bad `on` is the problem to report.
		case !known[k.Value]:
			p.bad(k, "unknown key %q in %s (%s %s)", k.Value, sec, takes(r.On), keyList(known))
		case seen[k.Value]:
			p.bad(k, "%s.%s is set twice", sec, k.Value)
		default:
			seen[k.Value] = true
			if k.Value == "when" {
				whenKey = k
			}
			handlers[k.Value](v)
		}
	}

	if channelsNode == nil {
		p.bad(n, "%s needs channels (names of configured channels)", sec)
	}
	switch r.On {
	case vigil.AlertChange:
		r.Severity = defaultChangeSeverity
		if typeNode == nil {
			p.bad(n, "%s needs type (a resource type such as aws.s3.bucket, or a glob such as aws.s3.*)", sec)
		}
		if whenNode != nil && r.When != "" {
			r.when = p.compile(whenKey, whenNode, sec, r.When)
		}
	case vigil.AlertFinding:
		r.Severity = defaultFindingSeverity
	case vigil.AlertFix:
		if !seen["outcomes"] {
			r.Outcomes = []Outcome{OutcomeFailed, OutcomeFlapping}
		}
	}
	if severityNode != nil {
		if s, ok := p.str(severityNode, sec+".severity"); ok {
			sev, err := vigil.ParseSeverity(s)
			if err != nil {
				p.bad(severityNode, "%s.severity %q: want critical, high, medium, low or info", sec, s)
			}
			r.Severity = sev
		}
	}
	return r
}

// compile type-checks a condition; a problem is reported at the position
// of the error inside the expression.
func (p *parser) compile(key, n *yaml.Node, sec, expr string) cel.Program {
	ast, iss := p.cel.Compile(expr)
	if iss != nil && iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := exprPosition(key, n, e.Location.Line(), e.Location.Column())
			p.probs = append(p.probs, policy.Problem{File: p.file, Line: line, Column: col, Msg: sec + ".when: " + e.Message})
		}
		return nil
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		p.bad(n, "%s.when must be a bool expression, this one gives %s", sec, out)
		return nil
	}
	prg, err := p.cel.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		p.bad(n, "%s.when: %v", sec, err)
		return nil
	}
	return prg
}

func (p *parser) channels(n *yaml.Node, sec string) []string {
	list, ok := p.strList(n, sec+".channels")
	if !ok {
		return nil
	}
	if len(list) == 0 {
		p.bad(n, "%s.channels: at least one channel", sec)
	}
	seen := map[string]bool{}
	for i, c := range list {
		switch {
		case seen[c]:
			p.bad(n.Content[i], "%s.channels: %q is listed twice", sec, c)
		case !p.env.Channels[c]:
			p.bad(n.Content[i], "%s.channels: unknown channel %q (configured: %s)", sec, c, setList(p.env.Channels))
		}
		seen[c] = true
	}
	return list
}

func (p *parser) quiet(n *yaml.Node, sec string) time.Duration {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.bad(n, "%s.quiet: want a duration such as 10m or 1h, got %s", sec, describe(n))
		return DefaultQuiet
	}
	d, err := parseDuration(n.Value)
	switch {
	case err != nil:
		p.bad(n, "%s.quiet: %v", sec, err)
		return DefaultQuiet
	case d < time.Second || d%time.Second != 0:
		// Windows are counted in whole unix seconds.
		p.bad(n, "%s.quiet %s: want a whole number of seconds, at least 1s", sec, n.Value)
		return DefaultQuiet
	}
	return d
}

// checks validates check ids and globs: each must name at least one
// loaded check.
func (p *parser) checks(n *yaml.Node, sec string) []string {
	list, ok := p.strList(n, sec+".checks")
	if !ok {
		return nil
	}
	for i, id := range list {
		if !strings.ContainsAny(id, "*?[") {
			if p.env.Checks == nil {
				p.bad(n.Content[i], "%s.checks: unknown check %q (no checks are loaded)", sec, id)
			} else if _, ok := p.env.Checks.Get(id); !ok {
				p.bad(n.Content[i], "%s.checks: unknown check %q (see `vigil checks list`)", sec, id)
			}
			continue
		}
		if _, err := path.Match(id, ""); err != nil {
			p.bad(n.Content[i], "%s.checks: %q is not a valid glob", sec, id)
			continue
		}
		if !matchesAnyCheck(p.env.Checks, id) {
			p.bad(n.Content[i], "%s.checks: %q matches no check (see `vigil checks list`)", sec, id)
		}
	}
	return list
}

func matchesAnyCheck(s *policy.Set, glob string) bool {
	if s == nil {
		return false
	}
	for _, c := range s.Checks() {
		if ok, _ := path.Match(glob, c.ID); ok {
			return true
		}
	}
	return false
}

func (p *parser) outcomes(n *yaml.Node, sec string) []Outcome {
	list, ok := p.strList(n, sec+".outcomes")
	if !ok {
		return nil
	}
	if len(list) == 0 {
		p.bad(n, "%s.outcomes: at least one of verified, failed, flapping, skipped, dry_run, undone", sec)
	}
	out := make([]Outcome, 0, len(list))
	for i, s := range list {
		if !outcomes[Outcome(s)] {
			p.bad(n.Content[i], "%s.outcomes: %q: want verified, failed, flapping, skipped, dry_run or undone", sec, s)
			continue
		}
		out = append(out, Outcome(s))
	}
	return out
}

func (p *parser) globs(n *yaml.Node, key string) []string {
	list := p.nonEmptyList(n, key)
	for i, g := range list {
		if _, err := path.Match(g, ""); err != nil {
			p.bad(n.Content[i], "%s: %q is not a valid glob", key, g)
		}
	}
	return list
}

// nonEmptyList is a list of strings none of which is empty.
func (p *parser) nonEmptyList(n *yaml.Node, key string) []string {
	list, _ := p.strList(n, key)
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			p.bad(n.Content[i], "%s: an empty string matches nothing", key)
		}
	}
	return list
}

// Scalars. Strings accept plain, quoted and numeric scalars (an account id
// written without quotes), taken as written, like the rest of the config.

func (p *parser) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		p.bad(n, "%s: want a string, got %s", key, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, key string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.bad(n, "%s: want true or false, got %s", key, describe(n))
		return false, false
	}
	return strings.EqualFold(n.Value, "true"), true
}

func (p *parser) strList(n *yaml.Node, key string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.bad(n, "%s: want a list of strings, got %s", key, describe(n))
		return nil, false
	}
	out := []string{}
	ok := true
	for _, e := range n.Content {
		s, good := p.str(e, key)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// exprPosition maps a position inside a CEL expression (1-based line,
// 0-based column, as cel-go reports them) held by the scalar n of key to a
// position in the file. yaml.v3 does not tell a block scalar's
// indentation, so its lines are taken to be indented two columns past the
// key, as the documentation writes them; a folded or plain multi-line
// scalar has its lines joined, so its problems point at its start.
func exprPosition(key, n *yaml.Node, line, col int) (int, int) {
	switch n.Style {
	case yaml.LiteralStyle:
		return n.Line + line, key.Column + 2 + col
	case yaml.FoldedStyle:
		return n.Line + 1, key.Column + 2
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line <= 1 {
			return n.Line, n.Column + col + 1
		}
		// A quoted scalar's later lines are folded too.
		return n.Line, n.Column
	}
	if line <= 1 {
		return n.Line, n.Column + col
	}
	return n.Line, n.Column
}

// valueNode returns the value node of key in a mapping node.
func valueNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func keyList(m map[string]bool) string { return setList(m) }

// takes introduces the keys a kind of rule accepts, in a problem.
func takes(k vigil.AlertKind) string {
	if k == "" {
		return "every rule takes"
	}
	return "a " + string(k) + " rule takes"
}

func setList(m map[string]bool) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// describe names a node's kind for a type error.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!bool":
		return "a boolean (" + n.Value + ")"
	case "!!int", "!!float":
		return "a number (" + n.Value + ")"
	}
	return strconv.Quote(n.Value)
}

// parseDuration parses a Go duration (90m, 24h) or a number of days (7d),
// as the rest of the config does.
func parseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30m, 24h or 7d", s)
	}
	return d, nil
}
