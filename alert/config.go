package alert

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/yamlconf"
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
	// Source is the text of the file, which places a problem inside a
	// block scalar's condition exactly; nil takes its lines to be
	// indented two columns past the key.
	Source []byte
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
	p := &parser{Parser: yamlconf.Parser{File: file}, env: env}
	if node == nil || yamlconf.IsNull(node) {
		return nil, nil
	}
	if node.Kind != yaml.SequenceNode {
		p.Bad(node, "alerts must be a list of rules, got %s", yamlconf.Describe(node))
		return nil, p.Problems
	}
	celEnv, err := newEnv()
	if err != nil {
		p.Bad(node, "alerts: cel environment: %v", err)
		return nil, p.Problems
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
				p.Bad(yamlconf.ValueOf(rn, "name"), "alerts[%d]: the name %q is used twice", i+1, r.Name)
			}
			names[r.Name] = true
		}
		rules = append(rules, r)
	}
	if len(p.Problems) > 0 {
		return nil, p.Problems
	}
	return rules, nil
}

type parser struct {
	yamlconf.Parser
	env Env
	cel *cel.Env
}

// rule decodes one rule; nil when it is not even a mapping.
func (p *parser) rule(n *yaml.Node, i int) *Rule {
	sec := fmt.Sprintf("alerts[%d]", i)
	if n.Kind != yaml.MappingNode {
		p.Bad(n, "%s must be a mapping with name, on and channels, got %s", sec, yamlconf.Describe(n))
		return nil
	}
	r := &Rule{Quiet: DefaultQuiet, Reopened: true, Source: fmt.Sprintf("%s:%d", p.File, n.Line)}
	// `on` decides which keys are known, so it is read first.
	onNode := yamlconf.ValueOf(n, "on")
	if onNode == nil {
		p.Bad(n, "%s needs on (change, finding or fix)", sec)
	} else if s, ok := p.Str(onNode, sec+".on"); ok {
		r.On = vigil.AlertKind(s)
		if _, known := kindKeys[r.On]; !known {
			p.Bad(onNode, "%s.on %q: want change, finding or fix", sec, s)
			r.On = ""
		}
	}
	if nn := yamlconf.ValueOf(n, "name"); nn != nil {
		if s, ok := p.Str(nn, sec+".name"); ok {
			if !nameRe.MatchString(s) {
				p.Bad(nn, "%s.name %q: use letters, digits, '.', '_' and '-' (it is part of the alerts' keys)", sec, s)
			}
			r.Name = s
			sec = fmt.Sprintf("alerts[%d] (%s)", i, s)
		}
	} else {
		p.Bad(n, "%s needs a name", sec)
	}

	var severityNode, whenKey, whenNode, typeNode, channelsNode *yaml.Node
	handlers := map[string]func(*yaml.Node){
		"name": func(*yaml.Node) {},
		"on":   func(*yaml.Node) {},
		"description": func(v *yaml.Node) {
			s, _ := p.Str(v, sec+".description")
			r.Description = strings.TrimSpace(s)
		},
		"channels": func(v *yaml.Node) { channelsNode = v; r.Channels = p.channels(v, sec) },
		"quiet":    func(v *yaml.Node) { r.Quiet = p.quiet(v, sec) },
		"accounts": func(v *yaml.Node) { r.Accounts = p.nonEmptyList(v, sec+".accounts") },
		"regions":  func(v *yaml.Node) { r.Regions = p.nonEmptyList(v, sec+".regions") },
		"types":    func(v *yaml.Node) { r.Types = p.globs(v, sec+".types") },
		"type": func(v *yaml.Node) {
			typeNode = v
			if s, ok := p.Str(v, sec+".type"); ok {
				if _, err := path.Match(s, ""); err != nil || s == "" {
					p.Bad(v, "%s.type %q is not a resource type or a glob such as aws.s3.*", sec, s)
				}
				r.Type = s
			}
		},
		"when":     func(v *yaml.Node) { whenNode = v; r.When, _ = p.Str(v, sec+".when") },
		"severity": func(v *yaml.Node) { severityNode = v },
		"checks":   func(v *yaml.Node) { r.Checks = p.checks(v, sec) },
		"reopened": func(v *yaml.Node) { r.Reopened, _ = p.Bool(v, sec+".reopened") },
		"outcomes": func(v *yaml.Node) { r.Outcomes = p.outcomes(v, sec) },
	}
	known := map[string]func(*yaml.Node){}
	for _, k := range commonKeys {
		known[k] = handlers[k]
	}
	for _, k := range kindKeys[r.On] {
		known[k] = handlers[k]
	}
	p.Walk(n, sec, known, func(k *yaml.Node) {
		// With no valid `on`, whether a kind's key belongs is unknown;
		// the missing or bad `on` is the problem to report.
		if r.On == "" && handlers[k.Value] != nil {
			return
		}
		p.Bad(k, "unknown key %q in %s (%s %s)", k.Value, sec, takes(r.On), yamlconf.KeyList(known))
	})
	whenKey, _ = yamlconf.Entry(n, "when")

	if channelsNode == nil {
		p.Bad(n, "%s needs channels (names of configured channels)", sec)
	}
	switch r.On {
	case vigil.AlertChange:
		r.Severity = defaultChangeSeverity
		if typeNode == nil {
			p.Bad(n, "%s needs type (a resource type such as aws.s3.bucket, or a glob such as aws.s3.*)", sec)
		}
		if whenNode != nil && r.When != "" {
			r.when = p.compile(whenKey, whenNode, sec, r.When)
		}
	case vigil.AlertFinding:
		r.Severity = defaultFindingSeverity
	case vigil.AlertFix:
		if !yamlconf.HasKey(n, "outcomes") {
			r.Outcomes = []Outcome{OutcomeFailed, OutcomeFlapping}
		}
	}
	if severityNode != nil {
		if s, ok := p.Str(severityNode, sec+".severity"); ok {
			sev, err := vigil.ParseSeverity(s)
			if err != nil {
				p.Bad(severityNode, "%s.severity %q: want critical, high, medium, low or info", sec, s)
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
			line, col := yamlconf.Source(p.env.Source).ExprPosition(key, n, e.Location.Line(), e.Location.Column())
			p.BadAt(line, col, "%s.when: %s", sec, e.Message)
		}
		return nil
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		p.Bad(n, "%s.when must be a bool expression, this one gives %s", sec, out)
		return nil
	}
	prg, err := p.cel.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		p.Bad(n, "%s.when: %v", sec, err)
		return nil
	}
	return prg
}

func (p *parser) channels(n *yaml.Node, sec string) []string {
	list, ok := p.StrList(n, sec+".channels")
	if !ok {
		return nil
	}
	if len(list) == 0 {
		p.Bad(n, "%s.channels: at least one channel", sec)
	}
	seen := map[string]bool{}
	for i, c := range list {
		switch {
		case seen[c]:
			p.Bad(n.Content[i], "%s.channels: %q is listed twice", sec, c)
		case !p.env.Channels[c]:
			p.Bad(n.Content[i], "%s.channels: unknown channel %q (configured: %s)", sec, c, yamlconf.KeyList(p.env.Channels))
		}
		seen[c] = true
	}
	return list
}

func (p *parser) quiet(n *yaml.Node, sec string) time.Duration {
	d, ok := p.DurationLike(n, sec+".quiet", "10m or 1h")
	switch {
	case !ok:
		return DefaultQuiet
	case d < time.Second || d%time.Second != 0:
		// Windows are counted in whole unix seconds.
		p.Bad(n, "%s.quiet %s: want a whole number of seconds, at least 1s", sec, n.Value)
		return DefaultQuiet
	}
	return d
}

// checks validates check ids and globs: each must name at least one
// loaded check.
func (p *parser) checks(n *yaml.Node, sec string) []string {
	list, ok := p.StrList(n, sec+".checks")
	if !ok {
		return nil
	}
	for i, id := range list {
		if !strings.ContainsAny(id, "*?[") {
			if p.env.Checks == nil {
				p.Bad(n.Content[i], "%s.checks: unknown check %q (no checks are loaded)", sec, id)
			} else if _, ok := p.env.Checks.Get(id); !ok {
				p.Bad(n.Content[i], "%s.checks: unknown check %q (see `vigil checks list`)", sec, id)
			}
			continue
		}
		if _, err := path.Match(id, ""); err != nil {
			p.Bad(n.Content[i], "%s.checks: %q is not a valid glob", sec, id)
			continue
		}
		if !matchesAnyCheck(p.env.Checks, id) {
			p.Bad(n.Content[i], "%s.checks: %q matches no check (see `vigil checks list`)", sec, id)
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
	list, ok := p.StrList(n, sec+".outcomes")
	if !ok {
		return nil
	}
	if len(list) == 0 {
		p.Bad(n, "%s.outcomes: at least one of verified, failed, flapping, skipped, dry_run, undone", sec)
	}
	out := make([]Outcome, 0, len(list))
	for i, s := range list {
		if !outcomes[Outcome(s)] {
			p.Bad(n.Content[i], "%s.outcomes: %q: want verified, failed, flapping, skipped, dry_run or undone", sec, s)
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
			p.Bad(n.Content[i], "%s: %q is not a valid glob", key, g)
		}
	}
	return list
}

// nonEmptyList is a list of strings none of which is empty.
func (p *parser) nonEmptyList(n *yaml.Node, key string) []string {
	list, _ := p.StrList(n, key)
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			p.Bad(n.Content[i], "%s: an empty string matches nothing", key)
		}
	}
	return list
}

// takes introduces the keys a kind of rule accepts, in a problem.
func takes(k vigil.AlertKind) string {
	if k == "" {
		return "every rule takes"
	}
	return "a " + string(k) + " rule takes"
}
