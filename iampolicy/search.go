package iampolicy

import (
	"math/big"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// The analyses ask "is there a request of this shape that the policies
// allow?" and answer it by search: a request's principal, action and
// resource come from small candidate sets, and its context keys are
// assigned one at a time from values derived from the policy (each listed
// value, values just beside it, the key missing, a value no statement
// names). Statements are evaluated three-valued over the partial
// assignment, so a branch is cut as soon as a Deny certainly applies or no
// Allow can. The evaluator is the same one Evaluate uses: the analyses
// cannot drift from the documented semantics.

// Markers for invented values. No policy text contains control
// characters, so an invented value equals no literal a policy names.
const (
	freshValue = "\x01\x02"     // "some other value"
	freshStar  = "\x01\x02"     // what a * wildcard is instantiated to
	freshOne   = "\x01"         // what a ? wildcard is instantiated to
	freshAcct  = "\x01acct\x02" // an account no policy names
	// freshResource is an ARN in no service, region or account a policy
	// names: only patterns that cover every resource match it.
	freshResource = "arn:aws:\x01svc:\x01region:" + freshAcct + ":\x01\x02"
)

// defaultBudget bounds the search nodes of one analysis question (about a
// second of work at worst); a question that needs more is answered
// unknown. perFindBudget bounds one request shape. Corpus policies need a
// few hundred nodes in all; a 120-statement bucket policy with three
// conditions per statement about 3,000.
const (
	defaultBudget = 500000
	perFindBudget = 20000
)

// candidate is one choice for a context key.
type candidate struct {
	vals  []string
	state keyState
}

// space is one search problem.
type space struct {
	policies []*Policy
	boundary *Policy // when set, it must allow too (permissions boundary)
	// exclude reports that a principal of this search cannot present
	// value for key (a stranger has no fixed aws:SourceVpce).
	exclude func(key, value string) bool
	// fixed pins keys to these values (a named principal's own account).
	fixed  map[string][]string
	budget int
	// escape, when set, searches for a request no Deny applies to
	// (whether or not anything allows it) instead of an allowed one.
	escape bool
}

// witness is an allowed request found by a search.
type witness struct {
	principal Principal
	action    string
	resource  string
	context   map[string][]string
	allowing  []*Statement
}

// result of one search.
type searchResult int

const (
	notFound searchResult = iota
	found
	exhausted
)

// find searches for a context in which (pr, action, resource) is allowed.
func (sp *space) find(pr Principal, action, resource string) (*witness, searchResult) {
	action = strings.ToLower(action)
	var rel []*Statement
	var relBoundary []*Statement
	anyAllow := false
	noVars := func(string) ([]string, keyState) { return nil, unknown }
	for _, p := range sp.policies {
		for _, s := range p.Statements {
			if s.matchesPrincipal(pr) && s.matchesAction(action) && s.matchesResource(resource, noVars) != no {
				rel = append(rel, s)
				anyAllow = anyAllow || s.Effect == Allow
			}
		}
	}
	if !anyAllow && !sp.escape {
		return nil, notFound
	}
	if sp.boundary != nil && !sp.escape {
		ok := false
		for _, s := range sp.boundary.Statements {
			if s.matchesPrincipal(pr) && s.matchesAction(action) && s.matchesResource(resource, noVars) != no {
				relBoundary = append(relBoundary, s)
				ok = ok || s.Effect == Allow
			}
		}
		if !ok {
			return nil, notFound
		}
	}
	keys, nvars := relevantKeys(append(append([]*Statement(nil), rel...), relBoundary...))
	conds := conditionsByKey(rel, relBoundary)
	assigned := map[string]candidate{}
	ctx := func(key string) ([]string, keyState) {
		if c, ok := assigned[key]; ok {
			return c.vals, c.state
		}
		if v, ok := sp.fixed[key]; ok {
			return v, present
		}
		for _, k := range keys {
			if k == key {
				return nil, unknown
			}
		}
		return nil, absent
	}
	// Keys with few choices first: one that decides a statement prunes
	// early (a 120-statement policy went from 10^5 nodes per request to 3).
	rest := keys[nvars:]
	size := make(map[string]int, len(rest))
	for _, k := range rest {
		size[k] = len(sp.candidates(k, conds[k], ctx))
	}
	sort.SliceStable(rest, func(i, j int) bool { return size[rest[i]] < size[rest[j]] })
	var w *witness
	nodes := 0
	var walk func(i int) searchResult
	walk = func(i int) searchResult {
		if sp.budget < 0 {
			return exhausted
		}
		allow, deny := evalStatements(rel, pr, action, resource, ctx)
		if sp.boundary != nil {
			ballow, bdeny := evalStatements(relBoundary, pr, action, resource, ctx)
			allow, deny = allow.and(ballow), deny.or(bdeny)
		}
		if sp.escape {
			allow = yes
		}
		switch {
		case deny == yes || allow == no:
			return notFound
		case deny == no && allow == yes:
			w = &witness{principal: pr, action: action, resource: resource, context: map[string][]string{}}
			for k, c := range assigned {
				if c.state == present {
					w.context[k] = c.vals
				}
			}
			for _, s := range rel {
				if s.Effect == Allow && s.applies(pr, action, resource, ctx) == yes {
					w.allowing = append(w.allowing, s)
				}
			}
			return found
		}
		for ; i < len(keys); i++ {
			if _, ok := sp.fixed[keys[i]]; !ok {
				break
			}
		}
		if i >= len(keys) {
			return notFound // cannot happen: every key is decided
		}
		key := keys[i]
		ex := false
		for _, c := range sp.candidates(key, conds[key], ctx) {
			sp.budget--
			if nodes++; nodes > perFindBudget {
				delete(assigned, key)
				return exhausted
			}
			assigned[key] = c
			switch walk(i + 1) {
			case found:
				return found
			case exhausted:
				ex = true
			}
			if sp.budget < 0 {
				break
			}
		}
		delete(assigned, key)
		if ex {
			return exhausted
		}
		return notFound
	}
	return w, walk(0)
}

// resourcesFor lists the resources worth trying for (pr, action): the
// Resource and NotResource patterns, instantiated, of the statements that
// apply to the principal and action, within scope (an ARN, or "" for any),
// and one resource no statement names.
func (sp *space) resourcesFor(pr Principal, action, scope string) []string {
	action = strings.ToLower(action)
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] && s3Fits(action, v) {
			seen[v] = true
			out = append(out, v)
		}
	}
	if scope != "" {
		add(scope)
		add(scope + "/" + freshStar)
	}
	none := func(string) ([]string, keyState) { return nil, absent }
	for _, p := range append(append([]*Policy(nil), sp.policies...), nonNil(sp.boundary)...) {
		for _, s := range p.Statements {
			if !s.matchesPrincipal(pr) || !s.matchesAction(action) {
				continue
			}
			for i := range s.resources {
				v := instantiate(&s.resources[i], none)
				if scope == "" || v == scope || strings.HasPrefix(v, scope+"/") || strings.HasPrefix(v, scope+":") {
					add(v)
				}
			}
		}
	}
	if scope == "" {
		add(freshStar)
		add(freshResource)
	}
	return out
}

// s3Fits reports whether an S3 action can be requested on resource: object
// actions (…Object…, multipart uploads) name objects (bucket/key), bucket
// actions (…Bucket…, …Configuration) name the bucket. Other actions and
// resources are not constrained.
func s3Fits(action, resource string) bool {
	name, ok := strings.CutPrefix(action, "s3:")
	if !ok || strings.ContainsAny(name, "\x01\x02") {
		return true
	}
	_, path, ok := strings.Cut(resource, ":s3:::")
	if !ok || strings.HasPrefix(resource, "\x01") {
		return true
	}
	object := strings.Contains(path, "/")
	switch {
	case strings.Contains(name, "object") || strings.Contains(name, "multipartuploadpart") || name == "abortmultipartupload":
		return object
	case strings.Contains(name, "bucket") || strings.HasSuffix(name, "configuration"):
		return !object
	}
	return true
}

// evalStatements is decide over a statement list.
func evalStatements(stmts []*Statement, pr Principal, action, resource string, ctx lookup) (allow, deny tri) {
	allow, deny = no, no
	for _, s := range stmts {
		m := s.applies(pr, action, resource, ctx)
		if s.Effect == Allow {
			allow = allow.or(m)
		} else {
			deny = deny.or(m)
		}
	}
	return allow, deny
}

// relevantKeys lists the context keys the statements read, the nvars keys
// used as policy variables first (their values feed other keys'
// candidates).
func relevantKeys(stmts []*Statement) (keys []string, nvars int) {
	vars := map[string]bool{}
	all := map[string]bool{}
	for _, s := range stmts {
		for _, r := range s.resources {
			for _, v := range r.vars {
				vars[v], all[v] = true, true
			}
		}
		for _, c := range s.Conditions {
			all[c.key] = true
			for _, p := range c.pats {
				for _, v := range p.vars {
					vars[v], all[v] = true, true
				}
			}
		}
	}
	out := make([]string, 0, len(all))
	for k := range all {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if vars[out[i]] != vars[out[j]] {
			return vars[out[i]]
		}
		return out[i] < out[j]
	})
	return out, len(vars)
}

func conditionsByKey(lists ...[]*Statement) map[string][]*Condition {
	out := map[string][]*Condition{}
	for _, l := range lists {
		for _, s := range l {
			for _, c := range s.Conditions {
				out[c.key] = append(out[c.key], c)
			}
		}
	}
	return out
}

// candidates derives the values worth trying for key from the conditions
// that read it.
func (sp *space) candidates(key string, conds []*Condition, ctx lookup) []candidate {
	var vals []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] && (sp.exclude == nil || !sp.exclude(key, v)) {
			seen[v] = true
			vals = append(vals, v)
		}
	}
	multi, ip := false, false
	for _, c := range conds {
		multi = multi || c.set != setNone
		switch c.family {
		case fString, fStringIgnoreCase, fStringLike, fArn:
			for i := range c.pats {
				add(instantiate(&c.pats[i], ctx))
			}
		case fNumeric:
			one := big.NewRat(1, 1)
			for _, n := range c.nums {
				add(n.RatString())
				add(new(big.Rat).Sub(n, one).RatString())
				add(new(big.Rat).Add(n, one).RatString())
			}
		case fDate:
			for _, t := range c.times {
				for _, d := range []time.Duration{0, -time.Second, time.Second} {
					add(t.Add(d).Format(time.RFC3339))
				}
			}
		case fBool:
			add("true")
			add("false")
		case fBinary:
			for _, v := range c.Values {
				add(v)
			}
		case fIP:
			ip = true
			for _, p := range c.nets {
				for _, a := range edgeAddrs(p) {
					add(a.String())
				}
			}
		}
	}
	if ip {
		for _, a := range []string{"198.51.100.7", "2001:db8::7", "8.8.8.8", "2600::1"} {
			add(a)
		}
	} else {
		add(freshValue)
	}
	add("\x01" + key) // what a ${key} variable is instantiated to
	out := []candidate{{state: absent}}
	for _, v := range vals {
		out = append(out, candidate{vals: []string{v}, state: present})
	}
	if multi {
		out = append(out, candidate{vals: []string{}, state: present})
		if len(vals) > 1 {
			out = append(out, candidate{vals: vals, state: present})
		}
	}
	return out
}

// instantiate turns a pattern into a value it matches, with wildcards and
// unresolvable variables replaced by invented text.
func instantiate(p *pattern, ctx lookup) string {
	if p.toks == nil {
		return p.raw
	}
	var b strings.Builder
	for _, t := range p.toks {
		switch t.kind {
		case tLit:
			b.WriteString(t.text)
		case tStar:
			b.WriteString(freshStar)
		case tOne:
			b.WriteString(freshOne)
		case tVar:
			vals, st := ctx(t.text)
			switch {
			case st == present && len(vals) > 0:
				b.WriteString(vals[0])
			case t.hasD:
				b.WriteString(t.def)
			default:
				b.WriteString("\x01" + t.text)
			}
		}
	}
	return b.String()
}

// edgeAddrs returns addresses at and just beyond a prefix's bounds.
func edgeAddrs(p netip.Prefix) []netip.Addr {
	first := p.Masked().Addr()
	last := first
	for i := 0; i < p.Addr().BitLen()-p.Bits(); i++ {
		last = setBit(last, i) // the host bits, least significant first
	}
	out := []netip.Addr{first, last}
	if prev := first.Prev(); prev.IsValid() {
		out = append(out, prev)
	}
	if next := last.Next(); next.IsValid() {
		out = append(out, next)
	}
	return out
}

func setBit(a netip.Addr, bit int) netip.Addr {
	b := a.AsSlice()
	pos := len(b)*8 - 1 - bit
	b[pos/8] |= 0x80 >> (pos % 8)
	out, _ := netip.AddrFromSlice(b)
	return out
}

// display renders a witness value: invented text shows as "…"
// (vpce-… for an instance of vpce-*), a value no statement names as "(any
// value)".
func display(v string) string {
	if v == freshValue || strings.HasPrefix(v, "\x01") && !strings.Contains(v, "\x02") {
		return "(any value)"
	}
	v = strings.ReplaceAll(v, freshStar, "…")
	return strings.ReplaceAll(v, freshOne, "…")
}
