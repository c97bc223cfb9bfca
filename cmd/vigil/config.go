package main

import (
	"fmt"
	"net"
	"net/mail"
	"os"
	"path"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigilsec/vigil"
	awscol "github.com/vigilsec/vigil/aws"
	"github.com/vigilsec/vigil/fix"
	"github.com/vigilsec/vigil/policy"
	"github.com/vigilsec/vigil/smtp"
	"github.com/vigilsec/vigil/yamlconf"
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
	// azureRemediation is nil without remediation.azure: Azure fixes
	// then refuse to run.
	azureRemediation *azureRemediation
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
	p := &configParser{Parser: yamlconf.Parser{File: a.configPath}, src: data, checks: checks, actions: actions,
		cfg: &fileConfig{file: a.configPath}, serving: a.serving}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		p.Problems = append(p.Problems, yamlconf.ErrorProblem(a.configPath, err))
	} else if len(root.Content) > 0 {
		p.root(root.Content[0])
	}
	if len(p.Problems) > 0 {
		return nil, &vigil.Error{Code: vigil.EINVALID, Message: "invalid config", Err: &policy.LoadError{Problems: p.Problems}}
	}
	return p.cfg, nil
}

// configParser walks the YAML nodes, so that every problem has a position
// and an unknown key is an error rather than silently ignored.
type configParser struct {
	yamlconf.Parser
	// src is the file's text, which places problems inside block scalars.
	src     []byte
	checks  *policy.Set
	actions *fix.Registry
	cfg     *fileConfig
	// channelsNode is the channels section, for the alert rules.
	channelsNode *yaml.Node
	// serving: read the channels' secrets from the environment and build
	// each channel; other commands check the channels' shape only.
	serving bool
}

func (p *configParser) root(n *yaml.Node) {
	p.Fields(n, "the config", map[string]func(*yaml.Node){
		"remediation": p.remediation,
		"notify": func(n *yaml.Node) {
			p.Fields(n, "notify", map[string]func(*yaml.Node){"email": p.email})
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
	p.Fields(n, "remediation", map[string]func(*yaml.Node){
		"profile": func(v *yaml.Node) { t.Profile, _ = p.Str(v, "remediation.profile") },
		"role_arn": func(v *yaml.Node) {
			if s, ok := p.Str(v, "remediation.role_arn"); ok {
				if !roleARNPattern.MatchString(s) {
					p.Bad(v, "remediation.role_arn %q: want arn:aws:iam::ACCOUNT:role/NAME (ACCOUNT may be {account}, the finding's account)", s)
				}
				t.RoleARN = s
			}
		},
		"external_id": func(v *yaml.Node) { t.ExternalID, _ = p.Str(v, "remediation.external_id"); extNode = v },
		"azure":       p.azureRemediation,
	})
	if extNode != nil && t.ExternalID != "" && t.RoleARN == "" {
		p.Bad(extNode, "remediation.external_id needs remediation.role_arn")
	}
	// A section that only configures Azure configures no AWS credentials;
	// an empty one means the default AWS chain.
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "azure" {
		return
	}
	p.cfg.remediation = t
}

// azureRemediation is the remediation.azure section: the Microsoft Entra
// identity Azure fixes sign in as. It is always named explicitly, never
// the default chain the scan uses.
type azureRemediation struct {
	tenantID, clientID string
	// secretEnv names the environment variable holding the client secret.
	secretEnv                         string
	managedIdentity, workloadIdentity bool
}

func (p *configParser) azureRemediation(n *yaml.Node) {
	const sec = "remediation.azure"
	r := &azureRemediation{}
	guid := func(key string, dst *string) func(*yaml.Node) {
		return func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+"."+key); ok {
				if !guidPattern.MatchString(s) {
					p.Bad(v, "%s.%s %q is not a GUID (00000000-0000-0000-0000-000000000000)", sec, key, s)
				}
				*dst = s
			}
		}
	}
	p.Fields(n, sec, map[string]func(*yaml.Node){
		"tenant_id": guid("tenant_id", &r.tenantID),
		"client_id": guid("client_id", &r.clientID),
		"client_secret_env": func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+".client_secret_env"); ok {
				if !envNamePattern.MatchString(s) {
					p.Bad(v, "%s.client_secret_env %q is not an environment variable name", sec, s)
				}
				r.secretEnv = s
			}
		},
		"client_secret": func(v *yaml.Node) {
			p.Bad(v, "%s.client_secret: secrets are not read from the config file; set client_secret_env to the name of an environment variable holding it", sec)
		},
		"managed_identity":  func(v *yaml.Node) { r.managedIdentity, _ = p.Bool(v, sec+".managed_identity") },
		"workload_identity": func(v *yaml.Node) { r.workloadIdentity, _ = p.Bool(v, sec+".workload_identity") },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	ways := 0
	for _, set := range []bool{r.secretEnv != "", r.managedIdentity, r.workloadIdentity} {
		if set {
			ways++
		}
	}
	switch {
	case ways != 1:
		p.Bad(n, "%s: set exactly one of client_secret_env, managed_identity: true or workload_identity: true", sec)
	case !r.managedIdentity && (r.tenantID == "" || r.clientID == ""):
		p.Bad(n, "%s needs tenant_id and client_id", sec)
	}
	p.cfg.azureRemediation = r
}

// guidPattern is a GUID: Azure tenant, client and subscription ids.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

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
	p.Fields(n, sec, map[string]func(*yaml.Node){
		"server": func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+".server"); ok {
				if host, port, err := net.SplitHostPort(s); err != nil || host == "" || port == "" {
					p.Bad(v, "%s.server %q: want host:port, e.g. smtp.example.com:587", sec, s)
				}
				c.Server = s
			}
		},
		"tls": func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+".tls"); ok {
				if s != smtp.StartTLS && s != smtp.TLS && s != smtp.NoTLS {
					p.Bad(v, "%s.tls %q: want starttls, tls or none", sec, s)
				}
				c.TLS = s
			}
		},
		"username": func(v *yaml.Node) { c.Username, _ = p.Str(v, sec+".username"); userNode = v },
		"password_env": func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+".password_env"); ok {
				passwordEnv, envNode = s, v
			}
		},
		"password": func(v *yaml.Node) {
			inFile = true
			p.Bad(v, "%s.password: passwords are not read from the config file; set password_env to the name of an environment variable holding it", sec)
		},
		"from": func(v *yaml.Node) {
			if s, ok := p.Str(v, sec+".from"); ok {
				if _, err := mail.ParseAddress(s); err != nil {
					p.Bad(v, "%s.from %q: %v", sec, s, err)
				}
				c.From = s
			}
		},
		"to": func(v *yaml.Node) {
			list, ok := p.StrList(v, sec+".to")
			if !ok {
				return
			}
			if len(list) == 0 {
				p.Bad(v, "%s.to: at least one recipient", sec)
			}
			for i, s := range list {
				if _, err := mail.ParseAddress(s); err != nil {
					p.Bad(v.Content[i], "%s.to %q: %v", sec, s, err)
				}
			}
			c.To = list
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, req := range []struct{ key, val string }{{"server", c.Server}, {"from", c.From}} {
		if req.val == "" && !yamlconf.HasKey(n, req.key) {
			p.Bad(n, "%s needs %s", sec, req.key)
		}
	}
	if c.To == nil && !yamlconf.HasKey(n, "to") {
		p.Bad(n, "%s needs to (a list of recipients)", sec)
	}
	switch {
	case inFile:
	case c.Username != "" && passwordEnv == "":
		p.Bad(userNode, "%s.username needs password_env, the environment variable holding the password", sec)
	case passwordEnv != "" && c.Username == "":
		p.Bad(envNode, "%s.password_env needs username", sec)
	case passwordEnv != "":
		c.Password = os.Getenv(passwordEnv)
		if c.Password == "" {
			p.Bad(envNode, "%s.password_env: the environment variable %s is not set", sec, passwordEnv)
		}
	}
	return c
}

func (p *configParser) autofix(n *yaml.Node) {
	pol := defaultGuards()
	p.Fields(n, "autofix", map[string]func(*yaml.Node){
		"enabled": func(v *yaml.Node) { pol.Enabled, _ = p.Bool(v, "autofix.enabled") },
		"exempt_tag": func(v *yaml.Node) {
			if s, ok := p.Str(v, "autofix.exempt_tag"); ok {
				if k, _, found := strings.Cut(s, "="); !found || strings.TrimSpace(k) == "" {
					p.Bad(v, "autofix.exempt_tag %q: want key=value, e.g. %s", s, fix.DefaultExemptTag)
				}
				pol.ExemptTag = s
			}
		},
		"max_fixes_per_run":  func(v *yaml.Node) { pol.MaxPerRun, _ = p.Count(v, "autofix.max_fixes_per_run") },
		"max_fixes_per_hour": func(v *yaml.Node) { pol.MaxPerHour, _ = p.Count(v, "autofix.max_fixes_per_hour") },
		"max_share_per_run": func(v *yaml.Node) {
			if f, ok := p.Float(v, "autofix.max_share_per_run"); ok {
				if f < 0 || f > 1 {
					p.Bad(v, "autofix.max_share_per_run %s: want a share between 0 and 1, e.g. 0.5 (0: no bound)", v.Value)
				}
				pol.MaxShare = f
			}
		},
		"flapping": func(v *yaml.Node) {
			// A key left out keeps its default; a 0 turns detection off.
			p.Fields(v, "autofix.flapping", map[string]func(*yaml.Node){
				"count":  func(v *yaml.Node) { pol.Flapping.Count, _ = p.Count(v, "autofix.flapping.count") },
				"window": func(v *yaml.Node) { pol.Flapping.Window, _ = p.Duration(v, "autofix.flapping.window") },
			})
			if pol.Flapping.Count == 0 || pol.Flapping.Window == 0 {
				pol.Flapping = fix.Flapping{}
			}
		},
		"rules": func(v *yaml.Node) {
			names := map[string]bool{}
			p.Items(v, "autofix.rules must be a list of rules", func(i int, rn *yaml.Node) {
				r, ok := p.rule(rn, i)
				if !ok {
					return
				}
				if names[r.Name] {
					p.Bad(rn, "autofix.rules: the name %q is used twice", r.Name)
				}
				names[r.Name] = true
				pol.Rules = append(pol.Rules, r)
			})
		},
	})
	if len(p.Problems) == 0 {
		if err := pol.Validate(); err != nil {
			p.Bad(n, "%v", err)
		}
	}
	p.cfg.autofix, p.cfg.autofixSet = pol, true
}

// regionPattern is the shape of an AWS region name.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)

// azureRegionPattern is the shape of an Azure region name: westeurope,
// eastus2, uksouth, centralindia; every one names a direction.
var azureRegionPattern = regexp.MustCompile(`^[a-z]*(east|west|north|south|central)[a-z]*[0-9]?$`)

// isRegion reports whether s names an AWS or Azure region, or "global".
func isRegion(s string) bool {
	return s == "global" || regionPattern.MatchString(s) || azureRegionPattern.MatchString(s)
}

// isCloudAccount reports whether s is an AWS account id or an Azure
// subscription id.
func isCloudAccount(s string) bool { return isAccountID(s) || guidPattern.MatchString(s) }

// notAccount is the message for an id that is neither.
const notAccount = "is not a 12-digit AWS account id nor an Azure subscription id"

func (p *configParser) rule(n *yaml.Node, i int) (fix.Rule, bool) {
	var r fix.Rule
	sec := fmt.Sprintf("autofix.rules[%d]", i)
	before := len(p.Problems)
	var checksNode *yaml.Node
	p.Fields(n, sec, map[string]func(*yaml.Node){
		"name": func(v *yaml.Node) { r.Name, _ = p.Str(v, sec+".name") },
		"checks": func(v *yaml.Node) {
			checksNode = v
			list, ok := p.StrList(v, sec+".checks")
			if !ok {
				return
			}
			for j, id := range list {
				p.ruleCheck(v.Content[j], sec, id)
			}
			r.Checks = list
		},
		"accounts": func(v *yaml.Node) {
			list, _ := p.StrList(v, sec+".accounts")
			for j, a := range list {
				if !isCloudAccount(a) {
					p.Bad(v.Content[j], "%s.accounts: %q "+notAccount, sec, a)
				}
				// Subscription ids compare as ARM reports them: lower case.
				list[j] = strings.ToLower(a)
			}
			r.Accounts = list
		},
		"regions": func(v *yaml.Node) {
			list, _ := p.StrList(v, sec+".regions")
			for j, reg := range list {
				if !isRegion(reg) {
					p.Bad(v.Content[j], "%s.regions: %q is not a region name such as us-east-1 or westeurope", sec, reg)
				}
			}
			r.Regions = list
		},
		"tags":    func(v *yaml.Node) { r.Tags, _ = p.StrMap(v, sec+".tags") },
		"dry_run": func(v *yaml.Node) { r.DryRun, _ = p.Bool(v, sec+".dry_run") },
		"params": func(v *yaml.Node) {
			if yamlconf.IsNull(v) {
				return
			}
			if v.Kind != yaml.MappingNode {
				p.Bad(v, "%s.params must be a mapping of action options", sec)
				return
			}
			if err := v.Decode(&r.Params); err != nil {
				p.Bad(v, "%s.params: %v", sec, strings.TrimPrefix(err.Error(), "yaml: "))
			}
		},
	})
	if n.Kind != yaml.MappingNode {
		return r, false
	}
	switch {
	case !yamlconf.HasKey(n, "name"):
		p.Bad(n, "%s needs a name", sec)
	case strings.TrimSpace(r.Name) == "" && len(p.Problems) == before:
		p.Bad(n, "%s.name must not be empty", sec)
	}
	if checksNode == nil {
		p.Bad(n, "%s needs checks (check ids or globs such as aws-s3-bucket-*)", sec)
	} else if len(r.Checks) == 0 && checksNode.Kind == yaml.SequenceNode {
		p.Bad(checksNode, "%s.checks: at least one check id or glob", sec)
	}
	return r, len(p.Problems) == before
}

// ruleCheck validates one of a rule's check ids or globs: it must name at
// least one loaded check whose fix action this build has.
func (p *configParser) ruleCheck(n *yaml.Node, sec, id string) {
	if !strings.ContainsAny(id, "*?[") {
		c, ok := p.checks.Get(id)
		switch {
		case !ok:
			p.Bad(n, "%s.checks: unknown check %q (see `vigil checks list`)", sec, id)
		case c.Fix == "":
			p.Bad(n, "%s.checks: check %s has no fix action", sec, id)
		default:
			if _, ok := p.actions.Get(c.Fix); !ok {
				p.Bad(n, "%s.checks: check %s names fix action %s, which this build does not have", sec, id, c.Fix)
			}
		}
		return
	}
	if _, err := path.Match(id, ""); err != nil {
		p.Bad(n, "%s.checks: %q is not a valid glob", sec, id)
		return
	}
	for _, c := range p.checks.Checks() {
		if ok, _ := path.Match(id, c.ID); ok && c.Fix != "" {
			if _, ok := p.actions.Get(c.Fix); ok {
				return
			}
		}
	}
	p.Bad(n, "%s.checks: %q matches no check with a fix action", sec, id)
}
