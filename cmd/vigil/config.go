package main

import (
	"fmt"
	"math"
	"net"
	"net/mail"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/smtp"
)

// Defaults of the autofix section's guards when a key is left out (an
// explicit 0 means no bound). They keep a first Always Fix rule from
// changing a whole estate at once.
const (
	defaultMaxPerRun     = 10
	defaultMaxPerHour    = 30
	defaultFlapCount     = 3
	defaultFlapWindow    = 24 * time.Hour
	autofixKillSwitchEnv = "VIGIL_AUTOFIX"
)

// fileConfig is the --config file (docs/config.md). The zero value — no file —
// configures no remediation credentials, no email and no Always Fix.
type fileConfig struct {
	file string
	// remediation is nil when the file has no remediation section; an
	// empty section means the default AWS credential chain.
	remediation *awscol.Target
	// email is nil without notify.email; its Password comes from the
	// environment variable named by password_env.
	email *smtp.Config
	// autofix is the Always Fix policy; autofixSet says the section exists.
	autofix    fix.AutoPolicy
	autofixSet bool
	// serve is what only `vigil serve` uses.
	serve serveConfig
}

// guards returns the autofix section's guards (or their defaults) with no
// rules, for `vigil fix --check --yes`.
func (c *fileConfig) guards() fix.AutoPolicy {
	p := c.autofix
	if !c.autofixSet {
		p = defaultGuards()
	}
	p.Rules = nil
	return p
}

func defaultGuards() fix.AutoPolicy {
	return fix.AutoPolicy{MaxPerRun: defaultMaxPerRun, MaxPerHour: defaultMaxPerHour,
		Flapping: fix.Flapping{Count: defaultFlapCount, Window: defaultFlapWindow}}
}

// autofixKilled reports whether VIGIL_AUTOFIX turns Always Fix off: any
// value but empty, on, true or 1 does (off, 0 and false are the documented
// ones), so that a kill switch set in a hurry never fails open.
func autofixKilled() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(autofixKillSwitchEnv))) {
	case "", "on", "true", "1":
		return false
	}
	return true
}

// loadConfig reads the --config file (none: the zero config). Every
// problem is reported with file:line:column in one EINVALID error. Rules
// are checked against the loaded checks and the registered actions.
func (a *app) loadConfig(checks *policy.Set, actions *fix.Registry) (*fileConfig, error) {
	if a.configPath == "" {
		return &fileConfig{}, nil
	}
	data, err := os.ReadFile(a.configPath)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "config: %v", err)
	}
	p := &configParser{file: a.configPath, checks: checks, actions: actions, cfg: &fileConfig{file: a.configPath}, serving: a.serving}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		prob := policy.Problem{File: a.configPath, Msg: msg}
		var line int
		if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
			prob.Line, prob.Msg = line, strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		}
		p.probs = append(p.probs, prob)
	} else if len(root.Content) > 0 {
		p.root(root.Content[0])
	}
	if len(p.probs) > 0 {
		return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid config", Err: &policy.LoadError{Problems: p.probs}}
	}
	return p.cfg, nil
}

// configParser walks the YAML nodes, so that every problem has a position
// and an unknown key is an error rather than silently ignored.
type configParser struct {
	file    string
	checks  *policy.Set
	actions *fix.Registry
	cfg     *fileConfig
	probs   []policy.Problem
	// channelsNode is the channels section, for the alert rules.
	channelsNode *yaml.Node
	// serving: read the channels' secrets from the environment and build
	// each channel; other commands check the channels' shape only.
	serving bool
}

func (p *configParser) bad(n *yaml.Node, format string, args ...any) {
	p.probs = append(p.probs, policy.Problem{File: p.file, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// fields walks a mapping: each known key's value goes to its handler; an
// unknown or repeated key is a problem. A null node is an empty mapping.
func (p *configParser) fields(n *yaml.Node, section string, handlers map[string]func(*yaml.Node)) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.bad(n, "%s must be a mapping of %s", section, knownKeys(handlers))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			p.bad(k, "unknown key %q in %s (known: %s)", k.Value, section, knownKeys(handlers))
		case seen[k.Value]:
			p.bad(k, "%s.%s is set twice", section, k.Value)
		default:
			seen[k.Value] = true
			h(v)
		}
	}
}

func knownKeys(handlers map[string]func(*yaml.Node)) string {
	keys := make([]string, 0, len(handlers))
	for k := range handlers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

func (p *configParser) root(n *yaml.Node) {
	p.fields(n, "the config", map[string]func(*yaml.Node){
		"remediation": p.remediation,
		"notify": func(n *yaml.Node) {
			p.fields(n, "notify", map[string]func(*yaml.Node){"email": p.email})
		},
		"autofix":   p.autofix,
		"serve":     p.serve,
		"schedules": p.schedules,
		"watch":     p.watch,
		"channels": func(n *yaml.Node) {
			p.channelsNode = n
			p.channels(n)
		},
		"alerts": func(n *yaml.Node) { p.cfg.serve.alertsNode = n },
	})
	p.alerts()
}

// roleARNPattern accepts a role ARN whose account may be "{account}".
var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::(\d{12}|\{account\}):role/[\w+=,.@/-]+$`)

func (p *configParser) remediation(n *yaml.Node) {
	t := &awscol.Target{}
	var extNode *yaml.Node
	p.fields(n, "remediation", map[string]func(*yaml.Node){
		"profile": func(v *yaml.Node) { t.Profile, _ = p.str(v, "remediation.profile") },
		"role_arn": func(v *yaml.Node) {
			if s, ok := p.str(v, "remediation.role_arn"); ok {
				if !roleARNPattern.MatchString(s) {
					p.bad(v, "remediation.role_arn %q: want arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account}, the finding's account)", s)
				}
				t.RoleARN = s
			}
		},
		"external_id": func(v *yaml.Node) { t.ExternalID, _ = p.str(v, "remediation.external_id"); extNode = v },
	})
	if extNode != nil && t.ExternalID != "" && t.RoleARN == "" {
		p.bad(extNode, "remediation.external_id needs remediation.role_arn")
	}
	p.cfg.remediation = t
}

func (p *configParser) email(n *yaml.Node) {
	if c := p.emailConfig(n, "notify.email"); c != nil {
		p.cfg.email = c
	}
}

// emailConfig reads an SMTP server section (notify.email, or an email
// channel); nil when n is not a mapping.
func (p *configParser) emailConfig(n *yaml.Node, sec string) *smtp.Config {
	c := &smtp.Config{}
	var passwordEnv string
	var userNode, envNode *yaml.Node
	inFile := false // a password in the file is the one problem to report
	p.fields(n, sec, map[string]func(*yaml.Node){
		"server": func(v *yaml.Node) {
			if s, ok := p.str(v, sec+".server"); ok {
				if host, port, err := net.SplitHostPort(s); err != nil || host == "" || port == "" {
					p.bad(v, "%s.server %q: want host:port, e.g. smtp.example.com:587", sec, s)
				}
				c.Server = s
			}
		},
		"tls": func(v *yaml.Node) {
			if s, ok := p.str(v, sec+".tls"); ok {
				if s != smtp.StartTLS && s != smtp.TLS && s != smtp.NoTLS {
					p.bad(v, "%s.tls %q: want starttls, tls or none", sec, s)
				}
				c.TLS = s
			}
		},
		"username": func(v *yaml.Node) { c.Username, _ = p.str(v, sec+".username"); userNode = v },
		"password_env": func(v *yaml.Node) {
			if s, ok := p.str(v, sec+".password_env"); ok {
				passwordEnv, envNode = s, v
			}
		},
		"password": func(v *yaml.Node) {
			inFile = true
			p.bad(v, "%s.password: passwords are not read from the config file; set password_env to the name of an environment variable holding it", sec)
		},
		"from": func(v *yaml.Node) {
			if s, ok := p.str(v, sec+".from"); ok {
				if _, err := mail.ParseAddress(s); err != nil {
					p.bad(v, "%s.from %q: %v", sec, s, err)
				}
				c.From = s
			}
		},
		"to": func(v *yaml.Node) {
			list, ok := p.strList(v, sec+".to")
			if !ok {
				return
			}
			if len(list) == 0 {
				p.bad(v, "%s.to: at least one recipient", sec)
			}
			for i, s := range list {
				if _, err := mail.ParseAddress(s); err != nil {
					p.bad(v.Content[i], "%s.to %q: %v", sec, s, err)
				}
			}
			c.To = list
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, req := range []struct{ key, val string }{{"server", c.Server}, {"from", c.From}} {
		if req.val == "" && !hasKey(n, req.key) {
			p.bad(n, "%s needs %s", sec, req.key)
		}
	}
	if c.To == nil && !hasKey(n, "to") {
		p.bad(n, "%s needs to (a list of recipients)", sec)
	}
	switch {
	case inFile:
	case c.Username != "" && passwordEnv == "":
		p.bad(userNode, "%s.username needs password_env, the environment variable holding the password", sec)
	case passwordEnv != "" && c.Username == "":
		p.bad(envNode, "%s.password_env needs username", sec)
	case passwordEnv != "":
		c.Password = os.Getenv(passwordEnv)
		if c.Password == "" {
			p.bad(envNode, "%s.password_env: the environment variable %s is not set", sec, passwordEnv)
		}
	}
	return c
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (p *configParser) autofix(n *yaml.Node) {
	pol := defaultGuards()
	p.fields(n, "autofix", map[string]func(*yaml.Node){
		"enabled": func(v *yaml.Node) { pol.Enabled, _ = p.boolean(v, "autofix.enabled") },
		"exempt_tag": func(v *yaml.Node) {
			if s, ok := p.str(v, "autofix.exempt_tag"); ok {
				if k, _, found := strings.Cut(s, "="); !found || strings.TrimSpace(k) == "" {
					p.bad(v, "autofix.exempt_tag %q: want key=value, e.g. %s", s, fix.DefaultExemptTag)
				}
				pol.ExemptTag = s
			}
		},
		"max_fixes_per_run":  func(v *yaml.Node) { pol.MaxPerRun, _ = p.count(v, "autofix.max_fixes_per_run") },
		"max_fixes_per_hour": func(v *yaml.Node) { pol.MaxPerHour, _ = p.count(v, "autofix.max_fixes_per_hour") },
		"max_share_per_run": func(v *yaml.Node) {
			if f, ok := p.float(v, "autofix.max_share_per_run"); ok {
				if f < 0 || f > 1 {
					p.bad(v, "autofix.max_share_per_run %s: want a share between 0 and 1, e.g. 0.5 (0: no bound)", v.Value)
				}
				pol.MaxShare = f
			}
		},
		"flapping": func(v *yaml.Node) {
			// A key left out keeps its default; a 0 turns detection off.
			p.fields(v, "autofix.flapping", map[string]func(*yaml.Node){
				"count":  func(v *yaml.Node) { pol.Flapping.Count, _ = p.count(v, "autofix.flapping.count") },
				"window": func(v *yaml.Node) { pol.Flapping.Window, _ = p.duration(v, "autofix.flapping.window") },
			})
			if pol.Flapping.Count == 0 || pol.Flapping.Window == 0 {
				pol.Flapping = fix.Flapping{}
			}
		},
		"rules": func(v *yaml.Node) {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return
			}
			if v.Kind != yaml.SequenceNode {
				p.bad(v, "autofix.rules must be a list of rules")
				return
			}
			names := map[string]bool{}
			for i, rn := range v.Content {
				r, ok := p.rule(rn, i+1)
				if !ok {
					continue
				}
				if names[r.Name] {
					p.bad(rn, "autofix.rules: the name %q is used twice", r.Name)
				}
				names[r.Name] = true
				pol.Rules = append(pol.Rules, r)
			}
		},
	})
	if len(p.probs) == 0 {
		if err := pol.Validate(); err != nil {
			p.bad(n, "%v", err)
		}
	}
	p.cfg.autofix, p.cfg.autofixSet = pol, true
}

// regionPattern is the shape of an AWS region name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

func (p *configParser) rule(n *yaml.Node, i int) (fix.Rule, bool) {
	var r fix.Rule
	sec := fmt.Sprintf("autofix.rules[%d]", i)
	before := len(p.probs)
	var checksNode *yaml.Node
	p.fields(n, sec, map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { r.Name, _ = p.str(v, sec+".name") },
		"checks": func(v *yaml.Node) {
			checksNode = v
			list, ok := p.strList(v, sec+".checks")
			if !ok {
				return
			}
			for j, id := range list {
				p.ruleCheck(v.Content[j], sec, id)
			}
			r.Checks = list
		},
		"accounts": func(v *yaml.Node) {
			list, _ := p.strList(v, sec+".accounts")
			for j, a := range list {
				if !isAccountID(a) {
					p.bad(v.Content[j], "%s.accounts: %q is not a 12-digit AWS account id", sec, a)
				}
			}
			r.Accounts = list
		},
		"regions": func(v *yaml.Node) {
			list, _ := p.strList(v, sec+".regions")
			for j, reg := range list {
				if !regionPattern.MatchString(reg) && reg != "global" {
					p.bad(v.Content[j], "%s.regions: %q is not a region name such as us-east-1", sec, reg)
				}
			}
			r.Regions = list
		},
		"tags":    func(v *yaml.Node) { r.Tags, _ = p.strMap(v, sec+".tags") },
		"dry_run": func(v *yaml.Node) { r.DryRun, _ = p.boolean(v, sec+".dry_run") },
		"params": func(v *yaml.Node) {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				return
			}
			if v.Kind != yaml.MappingNode {
				p.bad(v, "%s.params must be a mapping of action options", sec)
				return
			}
			if err := v.Decode(&r.Params); err != nil {
				p.bad(v, "%s.params: %v", sec, strings.TrimPrefix(err.Error(), "yaml: "))
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return r, false
	}
	switch {
	case !hasKey(n, "name"):
		p.bad(n, "%s needs a name", sec)
	case strings.TrimSpace(r.Name) == "" && len(p.probs) == before:
		p.bad(n, "%s.name must not be empty", sec)
	}
	if checksNode == nil {
		p.bad(n, "%s needs checks (check ids or globs such as aws-s3-bucket-*)", sec)
	} else if len(r.Checks) == 0 && checksNode.Kind == yaml.SequenceNode {
		p.bad(checksNode, "%s.checks: at least one check id or glob", sec)
	}
	return r, len(p.probs) == before
}

// ruleCheck validates one of a rule's check ids or globs: it must name at
// least one loaded check whose fix action this build has.
func (p *configParser) ruleCheck(n *yaml.Node, sec, id string) {
	if !strings.ContainsAny(id, "*?[") {
		c, ok := p.checks.Get(id)
		switch {
		case !ok:
			p.bad(n, "%s.checks: unknown check %q (see `vigil checks list`)", sec, id)
		case c.Fix == "":
			p.bad(n, "%s.checks: check %s has no fix action", sec, id)
		default:
			if _, ok := p.actions.Get(c.Fix); !ok {
				p.bad(n, "%s.checks: check %s names fix action %s, which this build does not have", sec, id, c.Fix)
			}
		}
		return
	}
	if _, err := path.Match(id, ""); err != nil {
		p.bad(n, "%s.checks: %q is not a valid glob", sec, id)
		return
	}
	for _, c := range p.checks.Checks() {
		if ok, _ := path.Match(id, c.ID); ok && c.Fix != "" {
			if _, ok := p.actions.Get(c.Fix); ok {
				return
			}
		}
	}
	p.bad(n, "%s.checks: %q matches no check with a fix action", sec, id)
}

// Scalars. Strings accept plain, quoted and numeric scalars (an account id
// written without quotes), taken as written.

func (p *configParser) str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		p.bad(n, "%s: want a string, got %s", key, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *configParser) boolean(n *yaml.Node, key string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.bad(n, "%s: want true or false, got %s", key, describe(n))
		return false, false
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
}

// count parses a non-negative integer.
func (p *configParser) count(n *yaml.Node, key string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.bad(n, "%s: want a whole number, got %s", key, describe(n))
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 0 {
		p.bad(n, "%s: want a whole number, 0 or more, got %s", key, n.Value)
		return 0, false
	}
	return v, true
}

func (p *configParser) float(n *yaml.Node, key string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
		p.bad(n, "%s: want a number, got %s", key, describe(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.bad(n, "%s: want a number, got %s", key, n.Value)
		return 0, false
	}
	return v, true
}

func (p *configParser) duration(n *yaml.Node, key string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.bad(n, "%s: want a duration such as 24h or 7d, got %s", key, describe(n))
		return 0, false
	}
	d, err := parseDuration(n.Value)
	if err != nil {
		p.bad(n, "%s: %v", key, err)
		return 0, false
	}
	return d, true
}

func (p *configParser) strList(n *yaml.Node, key string) ([]string, bool) {
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

func (p *configParser) strMap(n *yaml.Node, key string) (map[string]string, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.bad(n, "%s: want a mapping of tag keys to values, got %s", key, describe(n))
		return nil, false
	}
	out := map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, kok := p.str(n.Content[i], key)
		v, vok := p.str(n.Content[i+1], key+"."+n.Content[i].Value)
		ok = ok && kok && vok
		out[k] = v
	}
	return out, ok
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

// parseDuration parses a Go duration (90m, 24h) or a number of days (7d).
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
