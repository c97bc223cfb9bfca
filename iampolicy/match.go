package iampolicy

import (
	"strings"
)

// tri is a three-valued truth: the analyses evaluate statements while
// some context keys are still undecided.
type tri int8

const (
	no tri = iota
	yes
	maybe
)

func triOf(b bool) tri {
	if b {
		return yes
	}
	return no
}

func (a tri) and(b tri) tri {
	switch {
	case a == no || b == no:
		return no
	case a == yes && b == yes:
		return yes
	}
	return maybe
}

func (a tri) or(b tri) tri {
	switch {
	case a == yes || b == yes:
		return yes
	case a == no && b == no:
		return no
	}
	return maybe
}

func (a tri) not() tri {
	switch a {
	case yes:
		return no
	case no:
		return yes
	}
	return maybe
}

// keyState is what a request says about a context key.
type keyState int8

const (
	absent keyState = iota
	present
	unknown // the analysis has not chosen a value yet
)

// lookup returns a context key's values; keys are lower-case.
type lookup func(key string) ([]string, keyState)

// Token kinds of a compiled pattern.
const (
	tLit  = iota // literal text
	tStar        // * : any run of characters
	tOne         // ? : one character
	tVar         // ${key} or ${key, 'default'}
)

type token struct {
	kind int
	text string // literal text, or the lower-case variable key
	def  string // default value of a variable
	hasD bool
}

// pattern is a policy string that may hold wildcards and policy variables.
type pattern struct {
	raw  string
	toks []token // nil when raw is a plain literal
	wild bool    // has * or ?
	vars []string
	fold bool // compare case-insensitively (actions)
	mode int  // how * treats ':' (globFree, globResource, globArn)
}

// Wildcard modes. In a Resource element a * stays within its ARN segment
// unless it ends the segment, when it "can expand to match beyond colon
// boundaries"; ArnLike checks "each of the six colon-delimited components
// separately" (IAM User Guide), so there a * crosses no colon before the
// sixth component.
const (
	globFree = iota
	globResource
	globArn
)

// compilePattern compiles s. wildcards says whether * and ? are
// wildcards (StringLike, ArnLike, Action, Resource) or plain text
// (StringEquals); variables whether ${...} is interpreted.
func compilePattern(s string, wildcards, variables, fold bool, mode int) pattern {
	p := pattern{raw: s, fold: fold, mode: mode}
	if fold {
		s = strings.ToLower(s)
		p.raw = s
	}
	hasWild := wildcards && strings.ContainsAny(s, "*?")
	hasVars := variables && strings.Contains(s, "${")
	if !hasWild && !hasVars {
		return p
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, token{kind: tLit, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case wildcards && c == '*':
			flush()
			p.toks = append(p.toks, token{kind: tStar})
			p.wild = true
		case wildcards && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tOne})
			p.wild = true
		case variables && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				lit.WriteByte(c)
				continue
			}
			body := s[i+2 : i+end]
			i += end
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				continue
			}
			flush()
			t := token{kind: tVar}
			name, def, hasDef := strings.Cut(body, ",")
			t.text = strings.ToLower(strings.TrimSpace(name))
			if hasDef {
				d := strings.TrimSpace(def)
				if len(d) >= 2 && d[0] == '\'' && d[len(d)-1] == '\'' {
					d = d[1 : len(d)-1]
				}
				t.def, t.hasD = d, true
			}
			p.toks = append(p.toks, t)
			p.vars = append(p.vars, t.text)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// match reports whether value matches the pattern, substituting variables
// from ctx: a missing variable without a default matches nothing, an
// undecided one makes the answer maybe.
func (p *pattern) match(value string, ctx lookup) tri {
	if p.fold {
		value = strings.ToLower(value)
	}
	if p.toks == nil {
		return triOf(value == p.raw)
	}
	toks := p.toks
	if len(p.vars) > 0 {
		resolved := make([]token, 0, len(toks))
		for _, t := range toks {
			if t.kind != tVar {
				resolved = append(resolved, t)
				continue
			}
			vals, st := ctx(t.text)
			switch {
			case st == unknown:
				return maybe
			case st == present && len(vals) > 0:
				v := vals[0]
				if p.fold {
					v = strings.ToLower(v)
				}
				resolved = append(resolved, token{kind: tLit, text: v})
			case t.hasD:
				resolved = append(resolved, token{kind: tLit, text: t.def})
			default:
				return no
			}
		}
		toks = resolved
	}
	return triOf(globTokens(toks, value, p.mode))
}

// globTokens matches value against literal/wildcard tokens in one of the
// wildcard modes.
func globTokens(toks []token, value string, mode int) bool {
	// Fast paths for the common shapes: "*" and "prefix*".
	if len(toks) == 1 && toks[0].kind == tStar {
		return true
	}
	if len(toks) == 2 && toks[0].kind == tLit && toks[1].kind == tStar {
		prefix := toks[0].text
		if !strings.HasPrefix(value, prefix) {
			return false
		}
		return mode != globArn || strings.Count(prefix, ":") >= 5 || !strings.Contains(value[len(prefix):], ":")
	}
	// Flatten to one rune-level program: kinds 0 literal byte, 1 star,
	// 2 spanning star, 3 one character.
	type op struct {
		kind int
		c    byte
	}
	prog := make([]op, 0, len(value)+len(toks))
	colons := 0 // literal colons so far: the ARN component
	for i, t := range toks {
		switch t.kind {
		case tLit:
			for j := 0; j < len(t.text); j++ {
				prog = append(prog, op{0, t.text[j]})
			}
			colons += strings.Count(t.text, ":")
		case tStar:
			k := 1
			switch {
			case mode == globFree, colons >= 5:
				k = 2
			case mode == globResource && (i == len(toks)-1 || toks[i+1].kind == tLit && strings.HasPrefix(toks[i+1].text, ":")):
				k = 2
			}
			prog = append(prog, op{kind: k})
		case tOne:
			prog = append(prog, op{kind: 3})
		}
	}
	// dp[j]: prog[:i] matches value[:j].
	n := len(value)
	dp := make([]bool, n+1)
	next := make([]bool, n+1)
	dp[0] = true
	for _, o := range prog {
		for j := range next {
			next[j] = false
		}
		switch o.kind {
		case 0:
			for j := 0; j < n; j++ {
				if dp[j] && value[j] == o.c {
					next[j+1] = true
				}
			}
		case 3:
			for j := 0; j < n; j++ {
				if dp[j] {
					next[j+1] = true
				}
			}
		case 1, 2:
			for j := 0; j <= n; j++ {
				if dp[j] || (j > 0 && next[j-1] && (o.kind == 2 || value[j-1] != ':')) {
					next[j] = true
				}
			}
		}
		dp, next = next, dp
	}
	return dp[n]
}

// matchAny reports whether value matches one of the patterns.
func matchAny(ps []pattern, value string, ctx lookup) tri {
	out := no
	for i := range ps {
		out = out.or(ps[i].match(value, ctx))
		if out == yes {
			return yes
		}
	}
	return out
}
