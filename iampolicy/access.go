package iampolicy

import (
	"sort"
	"strings"
)

// Access is a grant to a principal outside the trusted set.
type Access struct {
	// Principal is an account id, an ARN as the policy writes it, "*" for
	// anyone, "service:NAME" for a service principal that any account can
	// direct at the resource (no fixed aws:SourceAccount / aws:SourceArn:
	// the confused deputy), or "federated:PROVIDER" for a role trust that
	// lets every identity of a provider in (no fixed subject or audience).
	Principal  string   `json:"principal"`
	Actions    []string `json:"actions"`
	Statements []string `json:"statements"`
	Reason     string   `json:"reason"`
}

// sourceKeys pin the account on whose behalf a service acts.
var sourceKeys = map[string]bool{
	"aws:sourceaccount": true, "aws:sourcearn": true, "aws:sourceowner": true,
	"aws:sourceorgid": true, "aws:sourceorgpaths": true,
}

// accountKeys identify the calling principal's account or organization.
var accountKeys = map[string]bool{
	"aws:principalaccount": true, "aws:principalarn": true, "aws:principalorgid": true,
	"aws:principalorgpaths": true, "kms:calleraccount": true, "aws:userid": true,
}

// networkKeys pin the network a request comes from.
var networkKeys = map[string]bool{"aws:sourceip": true, "aws:sourcevpc": true, "aws:sourcevpce": true}

// CrossAccount lists the principals outside the trusted set (the owner
// account, Options.TrustedAccounts, Options.OrgIDs) that the policy lets
// in, and with which actions. complete is false when the search budget ran
// out and the list may miss some.
func CrossAccount(p *Policy, o Options) (out []Access, complete bool) {
	t := newTrust(&o)
	fixedNet := fixedValues([]*Policy{p}, func(k string) bool { return networkKeys[k] })
	fixedAny := fixedValues([]*Policy{p}, func(string) bool { return true })
	actions := actionCandidates([]*Policy{p}, services[o.ResourceType], o.Actions)
	budget := o.budget()
	complete = true
	seen := map[string]bool{}
	try := func(label string, pr Principal, exclude func(k, v string) bool, fixed map[string][]string, reason string) {
		if seen[label] {
			return
		}
		seen[label] = true
		sp := &space{policies: []*Policy{p}, exclude: exclude, fixed: fixed, budget: budget}
		acc := Access{Principal: label, Reason: reason}
		stmts := map[string]bool{}
		srcs := map[string]bool{}
		for _, a := range actions {
			for _, r := range sp.resourcesFor(pr, a.value, o.ResourceARN) {
				w, res := sp.find(pr, a.value, r)
				if res == exhausted {
					complete = false
				}
				if res != found {
					continue
				}
				if !srcs[a.source] {
					srcs[a.source] = true
					acc.Actions = append(acc.Actions, a.source)
				}
				if pr.Kind == ServicePrincipal {
					for k, vals := range w.context {
						if sourceKeys[k] && len(vals) > 0 && !strings.ContainsAny(vals[0], "\x01\x02") {
							acc.Reason = "the service acts for " + vals[0] + " (" + spelling(p.Statements, k) + "), which is not trusted"
						}
					}
				}
				for _, s := range w.allowing {
					if !stmts[s.Name()] {
						stmts[s.Name()] = true
						acc.Statements = append(acc.Statements, s.Name())
					}
				}
				break
			}
		}
		if len(acc.Actions) > 0 {
			out = append(out, acc)
		}
	}
	network := func(k, v string) bool { return fixedNet[k].covers(v) }
	for _, s := range p.Statements {
		if s.Effect != Allow {
			continue
		}
		if s.NotPrincipal != nil || s.Principal != nil && s.Principal.Anyone {
			// Anyone at all, or only the accounts and principals that
			// conditions pin it to.
			outsider := Principal{Kind: AWSPrincipal, ID: "arn:aws:iam::" + freshAcct + ":root", Account: freshAcct}
			try("*", outsider, func(k, v string) bool {
				return network(k, v) || (accountKeys[k] || sourceKeys[k]) && fixedAny[k].covers(v)
			}, nil, "every principal outside the trusted accounts")
			for _, pn := range pinnedPrincipals(p, t) {
				try(pn.label, pn.who, func(k, v string) bool {
					return network(k, v) || (accountKeys[k] || sourceKeys[k]) && t.trustedValue(k, v)
				}, pn.fixed, "a grant to everyone that conditions narrow to "+pn.label+", which is not trusted")
			}
			continue
		}
		if s.Principal == nil {
			continue
		}
		for _, a := range s.Principal.AWS {
			acct := a
			if !isAccountID(a) {
				acct = arnAccount(a)
			}
			if acct == "" || t.accounts[acct] {
				continue
			}
			label := a
			if _, root := rootAccount(a); root || isAccountID(a) {
				label = acct
			}
			pr := AWS(a)
			fixed := map[string][]string{"aws:principalaccount": {acct}, "aws:principalarn": {pr.ID}, "kms:calleraccount": {acct}}
			try(label, pr, func(k, v string) bool {
				return network(k, v) || (k == "aws:principalorgid" || k == "aws:principalorgpaths") && t.trustedValue(k, v)
			}, fixed, "account "+acct+" is not trusted")
		}
		for _, svc := range s.Principal.Service {
			try("service:"+svc, Principal{Kind: ServicePrincipal, ID: svc}, func(k, v string) bool {
				return network(k, v) || sourceKeys[k] && t.trustedValue(k, v)
			}, nil, "the service can be directed at this resource from any account: no fixed aws:SourceAccount or aws:SourceArn (confused deputy)")
		}
		for _, f := range s.Principal.Federated {
			keys := federatedKeys(f)
			try("federated:"+f, Principal{Kind: FederatedPrincipal, ID: f}, func(k, v string) bool {
				if !keys[k] {
					return false
				}
				return fixedAny[k].covers(v) && !openAudience(k, v) || ownerPatterns(p, k).covers(v)
			}, nil, "every identity of the provider can assume the role: no fixed subject or audience condition")
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Principal < out[j].Principal })
	return out, complete
}

// pin is a grant to everyone narrowed by conditions to one untrusted
// account, principal or organization.
type pin struct {
	label string
	who   Principal
	fixed map[string][]string
}

// pinnedPrincipals lists the untrusted accounts, principal ARNs and
// organizations that fixed positive conditions of a grant to everyone
// name: aws:PrincipalAccount, kms:CallerAccount, aws:SourceAccount,
// aws:SourceOwner, aws:PrincipalArn, aws:PrincipalOrgID.
func pinnedPrincipals(p *Policy, t *trust) []pin {
	var out []pin
	seen := map[string]bool{}
	outsider := Principal{Kind: AWSPrincipal, ID: "arn:aws:iam::" + freshAcct + ":root", Account: freshAcct}
	for _, s := range p.Statements {
		if s.Effect != Allow {
			continue
		}
		for _, c := range s.Conditions {
			if c.negated {
				continue
			}
			for i, pt := range c.pats {
				v := c.Values[i]
				if pt.wild || len(pt.vars) > 0 || seen[c.key+"="+v] {
					continue
				}
				var pn *pin
				switch {
				case (c.key == "aws:principalaccount" || c.key == "kms:calleraccount") && isAccountID(v) && !t.accounts[v]:
					pn = &pin{v, AWS(v), map[string][]string{"aws:principalaccount": {v}, "kms:calleraccount": {v}, "aws:principalarn": {"arn:aws:iam::" + v + ":root"}}}
				case c.key == "aws:principalarn" && strings.HasPrefix(v, "arn:") && !t.accounts[arnAccount(v)]:
					a := arnAccount(v)
					pn = &pin{v, AWS(v), map[string][]string{"aws:principalarn": {v}, "aws:principalaccount": {a}, "kms:calleraccount": {a}}}
				case (c.key == "aws:sourceaccount" || c.key == "aws:sourceowner") && isAccountID(v) && !t.accounts[v]:
					pn = &pin{v, outsider, map[string][]string{"aws:sourceaccount": {v}, "aws:sourceowner": {v}}}
				case c.key == "aws:principalorgid" && !t.orgs[strings.ToLower(v)]:
					pn = &pin{v, outsider, map[string][]string{"aws:principalorgid": {v}}}
				}
				if pn != nil {
					seen[c.key+"="+v] = true
					out = append(out, *pn)
				}
			}
		}
	}
	return out
}

// trust is the owner's trusted set.
type trust struct {
	accounts map[string]bool
	orgs     map[string]bool
}

func newTrust(o *Options) *trust {
	t := &trust{accounts: map[string]bool{}, orgs: map[string]bool{}}
	if o.Account != "" {
		t.accounts[o.Account] = true
	}
	for _, a := range o.TrustedAccounts {
		t.accounts[a] = true
	}
	for _, g := range o.OrgIDs {
		t.orgs[strings.ToLower(g)] = true
	}
	return t
}

// trustedValue reports whether v, a value of key k, names something
// trusted: a trusted account, an ARN in one, a trusted organization (or
// an organization path inside one). Fixed ARNs without an account (S3
// buckets) belong to whoever created them; they are taken as trusted.
func (t *trust) trustedValue(k, v string) bool {
	switch k {
	case "aws:sourceaccount", "aws:sourceowner", "aws:principalaccount", "kms:calleraccount":
		return t.accounts[v]
	case "aws:sourcearn", "aws:principalarn":
		if strings.ContainsAny(v, "\x01\x02") {
			return t.accounts[arnAccount(v)]
		}
		a := arnAccount(v)
		return t.accounts[a] || a == "" && strings.HasPrefix(v, "arn:")
	case "aws:principalorgid", "aws:sourceorgid":
		return t.orgs[strings.ToLower(v)]
	case "aws:principalorgpaths", "aws:sourceorgpaths":
		org, _, _ := strings.Cut(v, "/")
		return t.orgs[strings.ToLower(org)]
	case "aws:userid":
		return false
	}
	return false
}

// federatedKey reports whether k identifies a web identity or SAML user:
// PROVIDER:sub, :aud, :oaud, :amr, or SAML:…
func federatedKey(k string) bool {
	if strings.HasPrefix(k, "saml:") {
		return true
	}
	for _, s := range []string{":sub", ":aud", ":oaud", ":amr"} {
		if strings.HasSuffix(k, s) && !strings.HasPrefix(k, "aws:") {
			return true
		}
	}
	return false
}

// federatedKeys are the condition keys that pin who a federated identity
// is: the OIDC provider's sub and aud (Cognito: aud and amr), or SAML's.
func federatedKeys(provider string) map[string]bool {
	host := provider
	if i := strings.Index(provider, ":oidc-provider/"); i >= 0 {
		host = provider[i+len(":oidc-provider/"):]
	}
	if strings.Contains(provider, ":saml-provider/") {
		return map[string]bool{"saml:aud": true, "saml:sub": true, "saml:iss": true, "saml:namequalifier": true}
	}
	host = strings.ToLower(host)
	return map[string]bool{host + ":sub": true, host + ":aud": true, host + ":oaud": true, host + ":amr": true}
}

// openAudience reports audiences every caller of a provider presents:
// GitHub's and most OIDC issuers' default sts.amazonaws.com does not pin
// anyone.
func openAudience(k, v string) bool {
	return strings.HasSuffix(k, ":aud") && strings.EqualFold(v, "sts.amazonaws.com") ||
		strings.HasSuffix(k, ":amr") && v == "authenticated"
}

// ownerPatterns collects subject patterns that name an owner before the
// wildcard (repo:ORG/*: every workflow of one GitHub organization), which
// pin the identity as a fixed subject does.
func ownerPatterns(p *Policy, key string) *valueSet {
	vs := &valueSet{}
	if !strings.HasSuffix(key, ":sub") {
		return vs
	}
	for _, s := range p.Statements {
		for _, c := range s.Conditions {
			if c.key != key {
				continue
			}
			for i, pt := range c.pats {
				head, _, _ := strings.Cut(c.Values[i], "*")
				head, _, _ = strings.Cut(head, "?")
				if pt.wild && len(pt.vars) == 0 && strings.Contains(head, "/") && !strings.HasSuffix(head, ":") {
					vs.patterns = append(vs.patterns, pt)
				}
			}
		}
	}
	return vs
}
