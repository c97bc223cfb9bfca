// Package yamlconf reads strict YAML configuration from yaml.v3 nodes:
// every problem is collected with its file, line and column, an unknown or
// repeated key is a problem rather than silently ignored, and scalars are
// checked for their kind before they are used.
package yamlconf

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a file, located by file, line and column
// (0 when unknown).
type Problem struct {
	File   string
	Line   int
	Column int
	Msg    string
}

// String renders the problem as file:line:column: message, leaving out
// the parts of the position that are unknown.
func (p Problem) String() string {
	switch {
	case p.Line > 0 && p.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// ErrorProblem turns an error of yaml.Unmarshal or Node.Decode into a
// problem, lifting yaml.v3's "line N:" into the position.
func ErrorProblem(file string, err error) Problem {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	p := Problem{File: file, Msg: msg}
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		p.Line = line
		p.Msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return p
}

// Parser collects the problems found while reading one file's nodes. Its
// readers report a value of the wrong kind and return false, so that a
// caller goes on and every problem of the file is reported at once.
type Parser struct {
	// File names the file in problems.
	File string
	// Problems are the problems found so far, in the order found.
	Problems []Problem
}

// Bad records a problem at the position of n.
func (p *Parser) Bad(n *yaml.Node, format string, args ...any) {
	p.Problems = append(p.Problems, Problem{File: p.File, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// BadAt records a problem at a line and column of the file.
func (p *Parser) BadAt(line, col int, format string, args ...any) {
	p.Problems = append(p.Problems, Problem{File: p.File, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// Fields walks the mapping n of a section: each known key's value goes to
// its handler; an unknown or repeated key is a problem. A null node is an
// empty mapping.
func (p *Parser) Fields(n *yaml.Node, section string, handlers map[string]func(*yaml.Node)) {
	p.Walk(n, section, handlers, func(k *yaml.Node) {
		p.Bad(k, "unknown key %q in %s (known: %s)", k.Value, section, KeyList(handlers))
	})
}

// Walk is Fields with the caller's own report of a key that has no
// handler: unknown is called for each such key, each time it appears.
func (p *Parser) Walk(n *yaml.Node, section string, handlers map[string]func(*yaml.Node), unknown func(key *yaml.Node)) {
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.Bad(n, "%s must be a mapping of %s", section, KeyList(handlers))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		h, ok := handlers[k.Value]
		switch {
		case !ok:
			unknown(k)
		case seen[k.Value]:
			p.Bad(k, "%s.%s is set twice", section, k.Value)
		default:
			seen[k.Value] = true
			h(v)
		}
	}
}

// Items calls each with every element of the list n and its number,
// counted from 1 as problems name them; null is an empty list. A node that
// is not a list is the problem notList (taken as written), and Items
// returns false.
func (p *Parser) Items(n *yaml.Node, notList string, each func(i int, item *yaml.Node)) bool {
	if IsNull(n) {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		p.Bad(n, "%s", notList)
		return false
	}
	for i, item := range n.Content {
		each(i+1, item)
	}
	return true
}

// Scalars. Strings accept plain, quoted and numeric scalars (an account id
// written without quotes), taken as written.

// Str reads a string; key names the value in problems.
func (p *Parser) Str(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		p.Bad(n, "%s: want a string, got %s", key, Describe(n))
		return "", false
	}
	return n.Value, true
}

// Bool reads true or false.
func (p *Parser) Bool(n *yaml.Node, key string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.Bad(n, "%s: want true or false, got %s", key, Describe(n))
		return false, false
	}
	return strings.EqualFold(n.Value, "true"), true
}

// Count reads a whole number, 0 or more.
func (p *Parser) Count(n *yaml.Node, key string) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		p.Bad(n, "%s: want a whole number, got %s", key, Describe(n))
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < 0 {
		p.Bad(n, "%s: want a whole number, 0 or more, got %s", key, n.Value)
		return 0, false
	}
	return v, true
}

// Float reads a finite number, whole or not.
func (p *Parser) Float(n *yaml.Node, key string) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!float" && n.Tag != "!!int") {
		p.Bad(n, "%s: want a number, got %s", key, Describe(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.Bad(n, "%s: want a number, got %s", key, n.Value)
		return 0, false
	}
	return v, true
}

// Duration reads a duration as ParseDuration does.
func (p *Parser) Duration(n *yaml.Node, key string) (time.Duration, bool) {
	return p.DurationLike(n, key, "24h or 7d")
}

// DurationLike is Duration whose problem for a value that is not a string
// gives examples fit for the key, such as "10m or 1h".
func (p *Parser) DurationLike(n *yaml.Node, key, examples string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.Bad(n, "%s: want a duration such as %s, got %s", key, examples, Describe(n))
		return 0, false
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		p.Bad(n, "%s: %v", key, err)
		return 0, false
	}
	return d, true
}

// StrList reads a list of strings; null is none. The list has one entry
// per element, "" for an element that is not a string, so that indexes
// match n.Content.
func (p *Parser) StrList(n *yaml.Node, key string) ([]string, bool) {
	if IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.SequenceNode {
		p.Bad(n, "%s: want a list of strings, got %s", key, Describe(n))
		return nil, false
	}
	out := []string{}
	ok := true
	for _, e := range n.Content {
		s, good := p.Str(e, key)
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// StrMap reads a mapping of strings to strings (tags, headers); null is
// none.
func (p *Parser) StrMap(n *yaml.Node, key string) (map[string]string, bool) {
	if IsNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		p.Bad(n, "%s: want a mapping of tag keys to values, got %s", key, Describe(n))
		return nil, false
	}
	out := map[string]string{}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, kok := p.Str(n.Content[i], key)
		v, vok := p.Str(n.Content[i+1], key+"."+n.Content[i].Value)
		ok = ok && kok && vok
		out[k] = v
	}
	return out, ok
}

// Describe names a node's kind for a problem: "a mapping", "a list",
// "nothing", "a boolean (yes)", "a number (10)" or the quoted string.
func Describe(n *yaml.Node) string {
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

// ParseDuration parses a Go duration (90m, 24h) or a number of days (7d);
// a negative one is an error.
func ParseDuration(s string) (time.Duration, error) {
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

// IsNull reports whether n is null: written as null, ~ or nothing at all.
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// Entry returns the first key node named key in the mapping m and its
// value; nil, nil when m is not a mapping or has no such key.
func Entry(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// ValueOf returns the value of key in the mapping m, nil when it has none.
func ValueOf(m *yaml.Node, key string) *yaml.Node {
	_, v := Entry(m, key)
	return v
}

// HasKey reports whether the mapping m has key, whatever its value.
func HasKey(m *yaml.Node, key string) bool { return ValueOf(m, key) != nil }

// KeyList is the sorted keys of m joined by ", " for a problem; "none"
// when m is empty.
func KeyList[V any](m map[string]V) string {
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
