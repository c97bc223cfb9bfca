package iampolicy

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// family is a condition operator's value type.
type family int

const (
	fString family = iota
	fStringIgnoreCase
	fStringLike
	fNumeric
	fDate
	fBool
	fBinary
	fIP
	fArn
	fNull
)

// comparison of Numeric* and Date* operators.
type comparison int

const (
	cmpEq comparison = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// Set qualifiers of multivalued context keys.
const (
	setNone = iota
	setAny  // ForAnyValue:
	setAll  // ForAllValues:
)

type operatorSpec struct {
	family  family
	cmp     comparison
	negated bool
}

// operators are the documented condition operators (without IfExists and
// set qualifiers), keyed by lower-case name.
var operators = map[string]operatorSpec{
	"stringequals":              {family: fString},
	"stringnotequals":           {family: fString, negated: true},
	"stringequalsignorecase":    {family: fStringIgnoreCase},
	"stringnotequalsignorecase": {family: fStringIgnoreCase, negated: true},
	"stringlike":                {family: fStringLike},
	"stringnotlike":             {family: fStringLike, negated: true},
	"numericequals":             {family: fNumeric},
	"numericnotequals":          {family: fNumeric, negated: true},
	"numericlessthan":           {family: fNumeric, cmp: cmpLt},
	"numericlessthanequals":     {family: fNumeric, cmp: cmpLe},
	"numericgreaterthan":        {family: fNumeric, cmp: cmpGt},
	"numericgreaterthanequals":  {family: fNumeric, cmp: cmpGe},
	"dateequals":                {family: fDate},
	"datenotequals":             {family: fDate, negated: true},
	"datelessthan":              {family: fDate, cmp: cmpLt},
	"datelessthanequals":        {family: fDate, cmp: cmpLe},
	"dategreaterthan":           {family: fDate, cmp: cmpGt},
	"dategreaterthanequals":     {family: fDate, cmp: cmpGe},
	"bool":                      {family: fBool},
	"binaryequals":              {family: fBinary},
	"ipaddress":                 {family: fIP},
	"notipaddress":              {family: fIP, negated: true},
	"arnequals":                 {family: fArn},
	"arnlike":                   {family: fArn},
	"arnnotequals":              {family: fArn, negated: true},
	"arnnotlike":                {family: fArn, negated: true},
	"null":                      {family: fNull},
}

// Condition is one operator applied to one context key, with its values
// (a key's values are ORed; conditions are ANDed).
type Condition struct {
	Operator string // as written: "ForAnyValue:StringNotLikeIfExists"
	Key      string // as written: "aws:SourceVpce"
	Values   []string

	operatorSpec
	ifExists bool
	set      int
	key      string // lower case

	pats  []pattern // string, string-like and ARN families
	nums  []*big.Rat
	times []time.Time
	nets  []netip.Prefix
	bools []bool
	bins  [][]byte
}

// Negated reports whether the operator is a negated one (StringNotEquals,
// NotIpAddress, …), true when the key is missing.
func (c *Condition) Negated() bool { return c.negated }

// IfExists reports whether the operator has the IfExists suffix.
func (c *Condition) IfExists() bool { return c.ifExists }

func parseConditions(v any, path string, variables bool) ([]*Condition, error) {
	o, ok := v.(*object)
	if !ok {
		return nil, &Error{Path: path, Msg: "must be an object of operators, got " + kind(v)}
	}
	var out []*Condition
	for _, op := range o.keys {
		at := join(path, op)
		spec, ifExists, set, err := parseOperator(op)
		if err != nil {
			return nil, &Error{Path: at, Msg: err.Error()}
		}
		keys, ok := o.vals[op].(*object)
		if !ok {
			return nil, &Error{Path: at, Msg: "must be an object of condition keys, got " + kind(o.vals[op])}
		}
		if len(keys.keys) == 0 {
			return nil, &Error{Path: at, Msg: "no condition keys"}
		}
		for _, k := range keys.keys {
			kat := join(at, k)
			c := &Condition{Operator: op, Key: k, operatorSpec: spec, ifExists: ifExists, set: set, key: strings.ToLower(k)}
			if k == "" {
				return nil, &Error{Path: kat, Msg: "empty condition key"}
			}
			if c.Values, err = conditionValues(keys.vals[k], kat); err != nil {
				return nil, err
			}
			if err := c.compile(variables); err != nil {
				return nil, &Error{Path: kat, Msg: err.Error()}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func parseOperator(op string) (operatorSpec, bool, int, error) {
	name := op
	set := setNone
	if q, rest, ok := strings.Cut(name, ":"); ok {
		switch strings.ToLower(q) {
		case "foranyvalue":
			set = setAny
		case "forallvalues":
			set = setAll
		default:
			return operatorSpec{}, false, 0, fmt.Errorf("unknown set operator %q (want ForAnyValue or ForAllValues)", q)
		}
		name = rest
	}
	lower := strings.ToLower(name)
	ifExists := false
	if base, ok := strings.CutSuffix(lower, "ifexists"); ok && base != "" {
		lower, ifExists = base, true
	}
	spec, ok := operators[lower]
	if !ok {
		return operatorSpec{}, false, 0, fmt.Errorf("unknown condition operator %q", op)
	}
	if spec.family == fNull && (ifExists || set != setNone) {
		return operatorSpec{}, false, 0, fmt.Errorf("operator %q: Null takes neither IfExists nor a set qualifier", op)
	}
	return spec, ifExists, set, nil
}

// conditionValues reads a string, number or boolean, or a non-empty list
// of them; AWS compares them as text.
func conditionValues(v any, path string) ([]string, error) {
	one := func(e any, at string) (string, error) {
		switch x := e.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return "", &Error{Path: at, Msg: "must be a string, number or boolean, got " + kind(e)}
	}
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, &Error{Path: path, Msg: "the list of values is empty"}
		}
		out := make([]string, len(list))
		for i, e := range list {
			s, err := one(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	s, err := one(v, path)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// compile checks and pre-parses the values for the operator's type.
func (c *Condition) compile(variables bool) error {
	for _, v := range c.Values {
		switch c.family {
		case fString, fStringIgnoreCase:
			c.pats = append(c.pats, compilePattern(v, false, variables, c.family == fStringIgnoreCase, globFree))
		case fStringLike:
			c.pats = append(c.pats, compilePattern(v, true, variables, false, globFree))
		case fArn:
			c.pats = append(c.pats, compilePattern(v, true, variables, false, globArn))
		case fNumeric:
			r, ok := new(big.Rat).SetString(strings.TrimSpace(v))
			if !ok {
				return fmt.Errorf("%s needs numbers, got %q", c.Operator, v)
			}
			c.nums = append(c.nums, r)
		case fDate:
			t, err := parseDate(v)
			if err != nil {
				return fmt.Errorf("%s needs dates (ISO 8601 or epoch seconds), got %q", c.Operator, v)
			}
			c.times = append(c.times, t)
		case fBool, fNull:
			b, err := strconv.ParseBool(strings.ToLower(v))
			if err != nil || (strings.ToLower(v) != "true" && strings.ToLower(v) != "false") {
				return fmt.Errorf("%s needs \"true\" or \"false\", got %q", c.Operator, v)
			}
			c.bools = append(c.bools, b)
		case fBinary:
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return fmt.Errorf("%s needs base64 values, got %q", c.Operator, v)
			}
			c.bins = append(c.bins, b)
		case fIP:
			p, err := parsePrefix(v)
			if err != nil {
				return fmt.Errorf("%s needs IP addresses or CIDR blocks, got %q", c.Operator, v)
			}
			c.nets = append(c.nets, p)
		}
	}
	return nil
}

// parsePrefix reads a CIDR block or a single address (a /32 or /128).
func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate reads the date forms IAM accepts: ISO 8601 (with or without a
// time and zone) and epoch seconds.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}

// eval evaluates the condition against a request context.
func (c *Condition) eval(ctx lookup) tri {
	vals, st := ctx(c.key)
	if st == unknown {
		return maybe
	}
	if c.family == fNull {
		out := no
		for _, want := range c.bools {
			// "Null": true means the key is absent.
			out = out.or(triOf(want == (st == absent)))
		}
		return out
	}
	if st == absent {
		switch {
		case c.ifExists, c.set == setAll:
			return yes
		case c.set == setAny:
			return no
		}
		return triOf(c.negated)
	}
	switch c.set {
	case setAll:
		out := yes
		for _, v := range vals {
			out = out.and(c.matchOne(v, ctx))
		}
		return out
	case setAny:
		out := no
		for _, v := range vals {
			out = out.or(c.matchOne(v, ctx))
		}
		return out
	}
	if c.negated {
		// A negated operator holds when no request value equals any of
		// the listed values.
		out := yes
		for _, v := range vals {
			out = out.and(c.matchOne(v, ctx))
		}
		return out
	}
	out := no
	for _, v := range vals {
		out = out.or(c.matchOne(v, ctx))
	}
	return out
}

// matchOne applies the operator, negation included, to one request value:
// positive operators hold when some policy value matches, negated ones
// when none does.
func (c *Condition) matchOne(v string, ctx lookup) tri {
	m := c.positive(v, ctx)
	if c.negated {
		return m.not()
	}
	return m
}

// positive reports whether some policy value matches v under the
// operator's non-negated form.
func (c *Condition) positive(v string, ctx lookup) tri {
	switch c.family {
	case fString, fStringIgnoreCase, fStringLike, fArn:
		return matchAny(c.pats, v, ctx)
	case fNumeric:
		r, ok := new(big.Rat).SetString(strings.TrimSpace(v))
		if !ok {
			return no
		}
		for _, p := range c.nums {
			if compare(r.Cmp(p), c.cmp) {
				return yes
			}
		}
	case fDate:
		t, err := parseDate(v)
		if err != nil {
			return no
		}
		for _, p := range c.times {
			if compare(t.Compare(p), c.cmp) {
				return yes
			}
		}
	case fBool:
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return no
		}
		for _, p := range c.bools {
			if b == p {
				return yes
			}
		}
	case fBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return no
		}
		for _, p := range c.bins {
			if string(b) == string(p) {
				return yes
			}
		}
	case fIP:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return no
		}
		for _, p := range c.nets {
			if p.Contains(a.Unmap()) || p.Contains(a) {
				return yes
			}
		}
	}
	return no
}

func compare(sign int, c comparison) bool {
	switch c {
	case cmpLt:
		return sign < 0
	case cmpLe:
		return sign <= 0
	case cmpGt:
		return sign > 0
	case cmpGe:
		return sign >= 0
	}
	return sign == 0
}
