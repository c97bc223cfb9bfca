package iampolicy

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Verdict is the answer of the public analysis.
type Verdict string

// Verdicts. Unknown means the analysis could not decide (it gave up on a
// policy too large to search); callers must not treat it as not public.
const (
	Public    Verdict = "public"
	NotPublic Verdict = "not_public"
	Unknown   Verdict = "unknown"
)

// Options describe the resource a policy is attached to and whom its owner
// trusts.
type Options struct {
	// ResourceType is the Vigil type of the resource (aws.s3.bucket,
	// aws.sqs.queue, aws.iam.role for a trust policy, …). It selects the
	// service whose actions count and the type's own condition keys.
	// Empty considers every action.
	ResourceType string
	// ResourceARN, when known, limits the analysis to statements about
	// this resource (and, for buckets, its objects).
	ResourceARN string
	// Account owns the resource; TrustedAccounts and OrgIDs are trusted too.
	Account         string
	TrustedAccounts []string
	OrgIDs          []string
	// Actions, when set, asks about these actions only (for example the
	// actions that read a bucket's objects).
	Actions []string
	// Budget bounds the search; 0 means the default.
	Budget int
}

// services maps resource types to the service prefix of their actions.
var services = map[string]string{
	"aws.s3.bucket":             "s3",
	"aws.sqs.queue":             "sqs",
	"aws.sns.topic":             "sns",
	"aws.kms.key":               "kms",
	"aws.lambda.function":       "lambda",
	"aws.secretsmanager.secret": "secretsmanager",
	"aws.ecr.repository":        "ecr",
	"aws.iam.role":              "sts",
	"aws.glacier.vault":         "glacier",
	"aws.efs.file_system":       "elasticfilesystem",
	"aws.opensearch.domain":     "es",
	"aws.backup.vault":          "backup",
	"aws.events.bus":            "events",
	"aws.logs.destination":      "logs",
}

// pinKeys are the condition keys that, set to fixed values by a positive
// condition, make a grant to everyone non-public: Amazon S3's documented
// list ("The meaning of public") with the principal-side keys IAM Access
// Analyzer also treats as trust boundaries.
var pinKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceowner": true, "aws:sourceaccount": true, "aws:sourceorgid": true, "aws:sourceorgpaths": true,
	"aws:principalorgid": true, "aws:principalaccount": true, "aws:principalarn": true,
	"aws:principalorgpaths": true, "aws:userid": true,
}

// typePinKeys are pin keys of one resource type.
var typePinKeys = map[string][]string{
	"aws.s3.bucket": {"s3:x-amz-server-side-encryption-aws-kms-key-id", "s3:dataaccesspointarn", "s3:dataaccesspointaccount"},
	"aws.kms.key":   {"kms:calleraccount"},
}

func (o *Options) isPinKey(key string) bool {
	if pinKeys[key] {
		return true
	}
	for _, k := range typePinKeys[o.ResourceType] {
		if k == key {
			return true
		}
	}
	return o.ResourceType == "" && (strings.HasPrefix(key, "s3:dataaccesspoint") || key == "kms:calleraccount" ||
		key == "s3:x-amz-server-side-encryption-aws-kms-key-id")
}

func (o *Options) budget() int {
	if o.Budget > 0 {
		return o.Budget
	}
	return defaultBudget
}

// PublicResult is the answer to "does this policy grant anyone access?".
type PublicResult struct {
	Verdict Verdict `json:"public"`
	// Reasons explain the verdict in sentences.
	Reasons []string `json:"reasons"`
	// Statements are the statements that grant the public access.
	Statements []string `json:"statements,omitempty"`
	// Actions are the actions anyone may call (patterns as written).
	Actions []string `json:"actions,omitempty"`
}

// IsPublic decides whether a resource policy grants access to anyone, by
// Amazon S3's documented meaning of public: a grant to every principal
// (Principal "*", {"AWS": "*"}, or NotPrincipal) is public unless a
// condition that must hold pins one of the trust keys (aws:SourceIp to
// CIDRs of /8 or narrower for IPv4, /32 for IPv6; aws:SourceArn,
// aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
// aws:PrincipalOrgID, aws:userid, …) to fixed values — no wildcard, no
// policy variable. Deny statements count: a grant they take away for
// everyone who is not pinned is not public.
func IsPublic(p *Policy, o Options) PublicResult {
	sp := &space{policies: []*Policy{p}, exclude: strangerExclude(p, &o), budget: o.budget()}
	strangers := []Principal{
		{Kind: Anonymous},
		{Kind: AWSPrincipal, ID: "arn:aws:iam::" + freshAcct + ":root", Account: freshAcct},
	}
	// Identities of the public web identity providers are anyone's.
	for _, s := range p.Statements {
		if s.Effect == Allow && s.Principal != nil {
			for _, f := range s.Principal.Federated {
				if !strings.HasPrefix(f, "arn:") {
					strangers = append(strangers, Principal{Kind: FederatedPrincipal, ID: f})
				}
			}
		}
	}
	actions := actionCandidates([]*Policy{p}, services[o.ResourceType], o.Actions)
	var ws []*witness
	gaveUp := false
	for _, a := range actions {
		done := false
		for _, pr := range strangers {
			for _, r := range sp.resourcesFor(pr, a.value, o.ResourceARN) {
				w, res := sp.find(pr, a.value, r)
				if res == exhausted {
					gaveUp = true
				}
				if res == found {
					ws = append(ws, w)
					done = true
					break
				}
			}
			if done {
				break
			}
		}
		if sp.budget < 0 {
			gaveUp = true
			break
		}
	}
	if len(ws) > 0 {
		return publicResult(ws, actions)
	}
	if gaveUp {
		return PublicResult{Verdict: Unknown, Reasons: []string{"the policy is too complex to analyze within the search budget"}}
	}
	return PublicResult{Verdict: NotPublic, Reasons: notPublicReasons(p, &o)}
}

func publicResult(ws []*witness, actions []actionCandidate) PublicResult {
	out := PublicResult{Verdict: Public}
	names := map[string]bool{}
	acts := map[string]bool{}
	for _, w := range ws {
		for _, s := range w.allowing {
			if !names[s.Name()] {
				names[s.Name()] = true
				out.Statements = append(out.Statements, s.Name())
			}
		}
		for _, a := range actions {
			if a.value == w.action && !acts[a.source] {
				acts[a.source] = true
				out.Actions = append(out.Actions, a.source)
			}
		}
	}
	who := "anyone"
	if ws[0].principal.Kind == AWSPrincipal {
		who = "any AWS account"
	}
	reason := fmt.Sprintf("%s grants %s %s", strings.Join(out.Statements, ", "), who, strings.Join(out.Actions, ", "))
	if c := describeContext(ws[0].context, ws[0].allowing); c != "" {
		reason += " (for example when " + c + ")"
	}
	out.Reasons = []string{reason}
	return out
}

// describeContext renders a witness's context keys, spelled as the
// statements spell them.
func describeContext(ctx map[string][]string, stmts []*Statement) string {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		vals := make([]string, len(ctx[k]))
		for i, v := range ctx[k] {
			vals[i] = display(v)
		}
		parts = append(parts, spelling(stmts, k)+"="+strings.Join(vals, ","))
	}
	return strings.Join(parts, ", ")
}

// grantsEveryone reports whether the statement names every principal.
func grantsEveryone(s *Statement) bool {
	return s.NotPrincipal != nil || s.Principal != nil && s.Principal.Anyone
}

// coversService reports whether a statement's actions reach service.
func coversService(s *Statement, svc string) bool {
	if s.Actions.Not {
		return true
	}
	for i := range s.actions {
		if _, ok := actionFor(&s.actions[i], svc); ok {
			return true
		}
	}
	return false
}

// spelling returns a context key as the statements write it.
func spelling(stmts []*Statement, key string) string {
	for _, s := range stmts {
		for _, c := range s.Conditions {
			if c.key == key {
				return c.Key
			}
		}
	}
	return key
}

// notPublicReasons explains a not-public verdict.
func notPublicReasons(p *Policy, o *Options) []string {
	var out []string
	for _, s := range p.Statements {
		if s.Effect != Allow || !grantsEveryone(s) {
			continue
		}
		if svc := services[o.ResourceType]; svc != "" && !coversService(s, svc) {
			out = append(out, fmt.Sprintf("%s grants everyone only actions of other services than %s", s.Name(), svc))
			continue
		}
		var keys []string
		seen := map[string]bool{}
		for _, st := range p.Statements {
			if st != s && st.Effect != Deny {
				continue
			}
			for _, c := range st.Conditions {
				if o.isPinKey(c.key) && !seen[c.Key] {
					seen[c.Key] = true
					keys = append(keys, c.Key)
				}
			}
		}
		hasDeny := false
		for _, st := range p.Statements {
			hasDeny = hasDeny || st.Effect == Deny
		}
		switch {
		case len(keys) > 0:
			out = append(out, fmt.Sprintf("%s grants everyone, but only with fixed values of %s", s.Name(), strings.Join(keys, ", ")))
		case hasDeny:
			out = append(out, fmt.Sprintf("%s grants everyone, but Deny statements take the access away", s.Name()))
		default:
			out = append(out, fmt.Sprintf("%s grants everyone, but no request of a stranger meets its conditions", s.Name()))
		}
	}
	if len(out) == 0 {
		out = append(out, "no statement grants access to everyone")
	}
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("and %d more statements like these", len(out)-3))
	}
	return out
}

// strangerExclude returns which values of the pin keys a stranger cannot
// present: the fixed values the policy names.
func strangerExclude(p *Policy, o *Options) func(key, value string) bool {
	fixed := fixedValues([]*Policy{p}, func(k string) bool { return o.isPinKey(k) || federatedKey(k) })
	return func(key, value string) bool {
		if federatedKey(key) {
			return fixed[key].covers(value) && !openAudience(key, value) || ownerPatterns(p, key).covers(value)
		}
		return fixed[key].covers(value)
	}
}

// valueSet is what a policy pins a key to.
type valueSet struct {
	literals []string
	patterns []pattern // fixed patterns (aws:userid "AROLEID:*")
	nets     []netip.Prefix
}

func (vs *valueSet) covers(v string) bool {
	if vs == nil {
		return false
	}
	for _, l := range vs.literals {
		if strings.EqualFold(l, v) {
			return true
		}
	}
	for i := range vs.patterns {
		if vs.patterns[i].match(v, nil) == yes {
			return true
		}
	}
	if a, err := netip.ParseAddr(v); err == nil {
		for _, n := range vs.nets {
			if n.Contains(a) {
				return true
			}
		}
	}
	return false
}

// fixedValues collects, for each key that isPin accepts, the values the
// policies fix it to: values without wildcards or policy variables,
// aws:userid patterns of the form ID:*, and aws:SourceIp blocks no broader
// than /8 (IPv4) or /32 (IPv6).
func fixedValues(policies []*Policy, isPin func(string) bool) map[string]*valueSet {
	out := map[string]*valueSet{}
	for _, p := range policies {
		for _, s := range p.Statements {
			for _, c := range s.Conditions {
				if !isPin(c.key) {
					continue
				}
				vs := out[c.key]
				if vs == nil {
					vs = &valueSet{}
					out[c.key] = vs
				}
				for i, pt := range c.pats {
					switch {
					case len(pt.vars) > 0:
					case !pt.wild:
						vs.literals = append(vs.literals, c.Values[i])
					case c.key == "aws:userid" && isRoleSessions(c.Values[i]),
						c.key == "s3:dataaccesspointarn" && isAccountAccessPoints(c.Values[i]),
						strings.HasSuffix(c.key, "orgpaths") && isOrgPathPattern(c.Values[i]):
						vs.patterns = append(vs.patterns, pt)
					}
				}
				for _, n := range c.nets {
					if n.Addr().Is4() && n.Bits() >= 8 || !n.Addr().Is4() && n.Bits() >= 32 {
						vs.nets = append(vs.nets, n)
					}
				}
			}
		}
	}
	return out
}

// isRoleSessions reports whether v is "UNIQUEID:*", every session of one
// role, which S3 counts as fixed.
func isRoleSessions(v string) bool {
	id, ok := strings.CutSuffix(v, ":*")
	return ok && id != "" && !strings.ContainsAny(id, "*?$:")
}

// isOrgPathPattern reports whether v is an organization path pattern
// that names its organization (o-a1b2c3d4e5/r-ab12/*): AWS documents
// aws:PrincipalOrgPaths values as such patterns, and the organization is
// the owner's to control.
func isOrgPathPattern(v string) bool {
	org, _, ok := strings.Cut(v, "/")
	return ok && strings.HasPrefix(org, "o-") && !strings.ContainsAny(org, "*?$")
}

// isAccountAccessPoints reports whether v names the access points of one
// account (arn:aws:s3:REGION:ACCOUNT:accesspoint/*), which S3 documents as
// not public in a bucket policy's s3:DataAccessPointArn condition.
func isAccountAccessPoints(v string) bool {
	parts := strings.SplitN(v, ":", 6)
	return len(parts) == 6 && parts[2] == "s3" && isAccountID(parts[4]) && strings.HasPrefix(parts[5], "accesspoint/") &&
		!strings.ContainsAny(strings.Join(parts[:5], ":"), "*?$")
}

// actionCandidate is an action to try and the policy text it came from.
type actionCandidate struct {
	value  string // lower case
	source string
}

// actionCandidates lists the actions worth trying for a service: each
// action a statement names, each pattern instantiated, and one action no
// statement names. With restrict, exactly those actions.
func actionCandidates(policies []*Policy, service string, restrict []string) []actionCandidate {
	var out []actionCandidate
	seen := map[string]bool{}
	add := func(v, src string) {
		v = strings.ToLower(v)
		if !seen[v] {
			seen[v] = true
			out = append(out, actionCandidate{value: v, source: src})
		}
	}
	if len(restrict) > 0 {
		for _, a := range restrict {
			add(a, a)
		}
		return out
	}
	for _, p := range policies {
		for _, s := range p.Statements {
			for i := range s.actions {
				a := &s.actions[i]
				src := s.Actions.Values[i]
				if s.Actions.Not {
					src = "every action but " + strings.Join(s.Actions.Values, ", ")
				}
				if v, ok := actionFor(a, service); ok {
					add(v, src)
				}
			}
		}
	}
	if service != "" {
		add(service+":"+freshStar, service+":*")
	} else {
		add(freshStar+":"+freshStar, "*")
	}
	return out
}

// actionFor instantiates an action pattern within service ("" for any):
// the pattern's own instance when it lies in the service, else an action
// of the service nobody names when the pattern covers the whole service
// ("*", "s3*", "*:*").
func actionFor(a *pattern, service string) (string, bool) {
	v := instantiate(a, nil)
	if service == "" {
		if !strings.Contains(v, ":") {
			v += ":" + freshStar
		}
		return v, true
	}
	if strings.HasPrefix(v, service+":") {
		return v, true
	}
	if any := service + ":" + freshStar; a.match(any, nil) == yes {
		return any, true
	}
	return "", false
}
