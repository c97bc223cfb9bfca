package iampolicy

import (
	"strings"
)

// PrincipalKind is the kind of identity that makes a request.
type PrincipalKind int

// Principal kinds.
const (
	Anonymous    PrincipalKind = iota // an unsigned request
	AWSPrincipal                      // an IAM user, role session, federated user or account root
	ServicePrincipal
	FederatedPrincipal
	CanonicalUserPrincipal
)

// Principal is who makes a request. For AWS principals ID is the ARN
// (arn:aws:iam::ACCT:user/name, arn:aws:sts::ACCT:assumed-role/ROLE/SESSION,
// arn:aws:iam::ACCT:root) and Account its account; for the others ID is
// the service name, the identity provider, or the canonical user id.
type Principal struct {
	Kind    PrincipalKind
	ID      string
	Account string
}

// AWS returns the principal of an IAM ARN or a bare account id.
func AWS(arnOrAccount string) Principal {
	if isAccountID(arnOrAccount) {
		return Principal{Kind: AWSPrincipal, ID: "arn:aws:iam::" + arnOrAccount + ":root", Account: arnOrAccount}
	}
	return Principal{Kind: AWSPrincipal, ID: arnOrAccount, Account: arnAccount(arnOrAccount)}
}

// Request is what the evaluator decides on. Context keys are
// case-insensitive; a key that is not in Context is missing from the
// request. Single-valued keys have one value.
type Request struct {
	Principal Principal
	Action    string
	Resource  string
	Context   map[string][]string
}

// Decision is the outcome of evaluating a request.
type Decision int

// Decisions, as AWS's policy evaluation logic names them.
const (
	ImplicitDeny Decision = iota
	Allowed
	ExplicitDeny
)

// String returns allow, deny or implicit_deny.
func (d Decision) String() string {
	switch d {
	case Allowed:
		return "allow"
	case ExplicitDeny:
		return "deny"
	}
	return "implicit_deny"
}

// Evaluate decides a request against the statements of the policies taken
// together (an explicit Deny in any of them wins, then an Allow in any of
// them, else the request is implicitly denied).
func Evaluate(r Request, policies ...*Policy) Decision {
	ctx := contextLookup(r.Context)
	allow, deny := decide(policies, r.Principal, strings.ToLower(r.Action), r.Resource, ctx)
	switch {
	case deny == yes:
		return ExplicitDeny
	case allow == yes:
		return Allowed
	}
	return ImplicitDeny
}

// contextLookup indexes a request context by lower-case key.
func contextLookup(m map[string][]string) lookup {
	lower := make(map[string][]string, len(m))
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	return func(key string) ([]string, keyState) {
		if v, ok := lower[key]; ok {
			return v, present
		}
		return nil, absent
	}
}

// decide returns whether some statement allows and whether some statement
// denies the request (action lower-case), each possibly undecided.
func decide(policies []*Policy, pr Principal, action, resource string, ctx lookup) (allow, deny tri) {
	allow, deny = no, no
	for _, p := range policies {
		for _, s := range p.Statements {
			if s.Effect == Allow && allow == yes || s.Effect == Deny && deny == yes {
				continue
			}
			m := s.applies(pr, action, resource, ctx)
			if s.Effect == Allow {
				allow = allow.or(m)
			} else {
				deny = deny.or(m)
			}
		}
	}
	return allow, deny
}

// applies reports whether the statement matches the request.
func (s *Statement) applies(pr Principal, action, resource string, ctx lookup) tri {
	if !s.matchesPrincipal(pr) || !s.matchesAction(action) {
		return no
	}
	out := s.matchesResource(resource, ctx)
	for _, c := range s.Conditions {
		if out == no {
			return no
		}
		out = out.and(c.eval(ctx))
	}
	return out
}

func (s *Statement) matchesPrincipal(pr Principal) bool {
	switch {
	case s.Principal != nil:
		return s.Principal.matches(pr)
	case s.NotPrincipal != nil && s.Effect == Deny:
		return !s.NotPrincipal.exempts(pr)
	case s.NotPrincipal != nil:
		// Allow with NotPrincipal, which AWS no longer supports: everyone
		// but the listed principals.
		return !s.NotPrincipal.matches(pr)
	}
	return true // identity policy: the principal it is attached to
}

func (s *Statement) matchesAction(action string) bool {
	m := false
	for i := range s.actions {
		if s.actions[i].match(action, nil) == yes {
			m = true
			break
		}
	}
	return m != s.Actions.Not
}

func (s *Statement) matchesResource(resource string, ctx lookup) tri {
	if s.Resources.Absent {
		return yes
	}
	m := matchAny(s.resources, resource, ctx)
	if s.Resources.Not {
		return m.not()
	}
	return m
}

// matches reports whether the principal is one of these.
func (ps *Principals) matches(pr Principal) bool {
	if ps.Anyone {
		return true
	}
	switch pr.Kind {
	case AWSPrincipal:
		for _, a := range ps.AWS {
			if awsPrincipalMatches(a, pr) {
				return true
			}
		}
	case ServicePrincipal:
		for _, s := range ps.Service {
			if strings.EqualFold(s, pr.ID) {
				return true
			}
		}
	case FederatedPrincipal:
		for _, f := range ps.Federated {
			if f == pr.ID {
				return true
			}
		}
	case CanonicalUserPrincipal:
		for _, c := range ps.CanonicalUser {
			if c == pr.ID {
				return true
			}
		}
	}
	return false
}

// exempts reports whether a NotPrincipal element leaves pr out. AWS checks
// each identity a request carries — the account, then the user or role,
// then the role session — so an AWS principal is left out only when its
// account is listed (id or root ARN) and, unless it is the account root,
// the user, role (which covers its sessions) or session is listed too
// (IAM User Guide, NotPrincipal: "you must also specify the account ARN").
func (ps *Principals) exempts(pr Principal) bool {
	if pr.Kind != AWSPrincipal {
		return ps.matches(pr)
	}
	if ps.Anyone {
		return true
	}
	account := false
	self := pr.ID == "arn:aws:iam::"+pr.Account+":root" || strings.HasSuffix(pr.ID, ":root") && arnAccount(pr.ID) == pr.Account
	for _, a := range ps.AWS {
		if acct, root := rootAccount(a); isAccountID(a) && a == pr.Account || root && acct == pr.Account {
			account = true
		} else if awsPrincipalMatches(a, pr) {
			self = true
		}
	}
	return account && self
}

// awsPrincipalMatches applies one AWS principal of a policy: an account
// (id or root ARN) covers every principal of the account, a role covers
// its sessions, anything else must be the same ARN.
func awsPrincipalMatches(p string, pr Principal) bool {
	if isAccountID(p) {
		return pr.Account == p
	}
	if acct, ok := rootAccount(p); ok {
		return pr.Account == acct
	}
	if p == pr.ID {
		return true
	}
	// arn:aws:iam::ACCT:role/path/NAME covers arn:aws:sts::ACCT:assumed-role/NAME/SESSION.
	if role, ok := strings.CutPrefix(p[strings.LastIndex(p, ":")+1:], "role/"); ok && arnAccount(p) == pr.Account {
		name := role[strings.LastIndex(role, "/")+1:]
		sess := pr.ID[strings.LastIndex(pr.ID, ":")+1:]
		if rest, ok := strings.CutPrefix(sess, "assumed-role/"); ok {
			return strings.HasPrefix(rest, name+"/")
		}
	}
	return false
}

// rootAccount returns ACCT for arn:PARTITION:iam::ACCT:root.
func rootAccount(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5] == "root" {
		return parts[4], true
	}
	return "", false
}

// arnAccount returns an ARN's account segment.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) == 6 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}
