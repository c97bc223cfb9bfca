package yamlconf

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// doc parses src and returns its top mapping.
func doc(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	if len(root.Content) == 0 {
		t.Fatalf("parse %q: empty document", src)
	}
	return root.Content[0]
}

// value returns the node of `v:` in src.
func value(t *testing.T, src string) *yaml.Node {
	t.Helper()
	n := ValueOf(doc(t, src), "v")
	if n == nil {
		t.Fatalf("%q has no key v", src)
	}
	return n
}

func problems(p *Parser) []string {
	out := []string{}
	for _, pr := range p.Problems {
		out = append(out, pr.String())
	}
	return out
}

func TestScalars(t *testing.T) {
	t.Parallel()
	read := map[string]func(p *Parser, n *yaml.Node) (any, bool){
		"Str":      func(p *Parser, n *yaml.Node) (any, bool) { return p.Str(n, "k") },
		"Bool":     func(p *Parser, n *yaml.Node) (any, bool) { return p.Bool(n, "k") },
		"Count":    func(p *Parser, n *yaml.Node) (any, bool) { return p.Count(n, "k") },
		"Float":    func(p *Parser, n *yaml.Node) (any, bool) { return p.Float(n, "k") },
		"Duration": func(p *Parser, n *yaml.Node) (any, bool) { return p.Duration(n, "k") },
		"Like":     func(p *Parser, n *yaml.Node) (any, bool) { return p.DurationLike(n, "k", "10m or 1h") },
		"StrList":  func(p *Parser, n *yaml.Node) (any, bool) { return p.StrList(n, "k") },
		"StrMap":   func(p *Parser, n *yaml.Node) (any, bool) { return p.StrMap(n, "k") },
	}
	tests := []struct {
		reader, src string
		want        any
		ok          bool
		probs       []string
	}{
		{"Str", "v: abc", "abc", true, nil},
		{"Str", "v: 'quoted'", "quoted", true, nil},
		{"Str", "v: 123456789012", "123456789012", true, nil},
		{"Str", "v: 007", "007", true, nil},
		{"Str", "v: 1.5", "", false, []string{`f:1:4: k: want a string, got a number (1.5)`}},
		{"Str", "v: true", "", false, []string{`f:1:4: k: want a string, got a boolean (true)`}},
		{"Str", "v:", "", false, []string{`f:1:3: k: want a string, got nothing`}},
		{"Str", "v: [a]", "", false, []string{`f:1:4: k: want a string, got a list`}},
		{"Str", "v: {a: 1}", "", false, []string{`f:1:4: k: want a string, got a mapping`}},
		{"Str", "a: &x s\nv: *x", "", false, []string{`f:2:4: k: want a string, got an alias`}},

		{"Bool", "v: true", true, true, nil},
		{"Bool", "v: False", false, true, nil},
		{"Bool", "v: TRUE", true, true, nil},
		{"Bool", "v: yes", false, false, []string{`f:1:4: k: want true or false, got "yes"`}},
		{"Bool", "v: 1", false, false, []string{`f:1:4: k: want true or false, got a number (1)`}},
		{"Bool", "v: [true]", false, false, []string{`f:1:4: k: want true or false, got a list`}},

		{"Count", "v: 0", 0, true, nil},
		{"Count", "v: 42", 42, true, nil},
		{"Count", "v: -1", 0, false, []string{`f:1:4: k: want a whole number, 0 or more, got -1`}},
		{"Count", "v: 0x10", 0, false, []string{`f:1:4: k: want a whole number, 0 or more, got 0x10`}},
		{"Count", "v: 99999999999999999999", 0, false, []string{`f:1:4: k: want a whole number, got a number (99999999999999999999)`}},
		{"Count", "v: 1.5", 0, false, []string{`f:1:4: k: want a whole number, got a number (1.5)`}},
		{"Count", "v: ten", 0, false, []string{`f:1:4: k: want a whole number, got "ten"`}},
		{"Count", "v: {}", 0, false, []string{`f:1:4: k: want a whole number, got a mapping`}},

		{"Float", "v: 0.5", 0.5, true, nil},
		{"Float", "v: 1", 1.0, true, nil},
		{"Float", "v: -2.25", -2.25, true, nil},
		{"Float", "v: .nan", 0.0, false, []string{`f:1:4: k: want a number, got .nan`}},
		{"Float", "v: .inf", 0.0, false, []string{`f:1:4: k: want a number, got .inf`}},
		{"Float", "v: half", 0.0, false, []string{`f:1:4: k: want a number, got "half"`}},
		{"Float", "v: false", 0.0, false, []string{`f:1:4: k: want a number, got a boolean (false)`}},

		{"Duration", "v: 90m", 90 * time.Minute, true, nil},
		{"Duration", "v: 7d", 7 * 24 * time.Hour, true, nil},
		{"Duration", "v: soon", time.Duration(0), false, []string{`f:1:4: k: "soon" is not a duration such as 30m, 24h or 7d`}},
		{"Duration", "v: 10", time.Duration(0), false, []string{`f:1:4: k: want a duration such as 24h or 7d, got a number (10)`}},
		{"Duration", "v: [1h]", time.Duration(0), false, []string{`f:1:4: k: want a duration such as 24h or 7d, got a list`}},
		{"Like", "v: 10", time.Duration(0), false, []string{`f:1:4: k: want a duration such as 10m or 1h, got a number (10)`}},
		{"Like", "v: 1h", time.Hour, true, nil},

		{"StrList", "v: [a, 'b', 12]", []string{"a", "b", "12"}, true, nil},
		{"StrList", "v: []", []string{}, true, nil},
		{"StrList", "v:", []string(nil), true, nil},
		{"StrList", "v: [a, {x: 1}, c]", []string{"a", "", "c"}, false, []string{`f:1:8: k: want a string, got a mapping`}},
		{"StrList", "v: a", []string(nil), false, []string{`f:1:4: k: want a list of strings, got "a"`}},
		{"StrList", "v: {a: b}", []string(nil), false, []string{`f:1:4: k: want a list of strings, got a mapping`}},

		{"StrMap", "v: {a: b, c: 1}", map[string]string{"a": "b", "c": "1"}, true, nil},
		{"StrMap", "v:", map[string]string(nil), true, nil},
		{"StrMap", "v: {a: [b]}", map[string]string{"a": ""}, false, []string{`f:1:8: k.a: want a string, got a list`}},
		{"StrMap", "v: {true: b}", map[string]string{"": "b"}, false, []string{`f:1:5: k: want a string, got a boolean (true)`}},
		{"StrMap", "v: [a]", map[string]string(nil), false, []string{`f:1:4: k: want a mapping of tag keys to values, got a list`}},
	}
	for _, tt := range tests {
		t.Run(tt.reader+" "+tt.src, func(t *testing.T) {
			t.Parallel()
			p := &Parser{File: "f"}
			got, ok := read[tt.reader](p, value(t, tt.src))
			if !reflect.DeepEqual(got, tt.want) || ok != tt.ok {
				t.Errorf("got %#v, %v; want %#v, %v", got, ok, tt.want, tt.ok)
			}
			want := tt.probs
			if want == nil {
				want = []string{}
			}
			if probs := problems(p); !reflect.DeepEqual(probs, want) {
				t.Errorf("problems:\n got %q\nwant %q", probs, want)
			}
		})
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		got       map[string]string
		probs     []string
	}{
		{"known keys", "s: {a: x, b: y}", map[string]string{"a": "x", "b": "y"}, []string{}},
		{"null is empty", "s:", map[string]string{}, []string{}},
		{"empty mapping", "s: {}", map[string]string{}, []string{}},
		{"unknown key", "s:\n  a: x\n  zz: y", map[string]string{"a": "x"},
			[]string{`f:3:3: unknown key "zz" in sec (known: a, b)`}},
		{"repeated key keeps the first", "s:\n  a: x\n  a: y", map[string]string{"a": "x"},
			[]string{`f:3:3: sec.a is set twice`}},
		{"unknown key twice is reported twice", "s: {q: 1, q: 2}", map[string]string{},
			[]string{`f:1:5: unknown key "q" in sec (known: a, b)`, `f:1:11: unknown key "q" in sec (known: a, b)`}},
		{"not a mapping", "s: [a]", map[string]string{}, []string{`f:1:4: sec must be a mapping of a, b`}},
		{"a scalar", "s: text", map[string]string{}, []string{`f:1:4: sec must be a mapping of a, b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &Parser{File: "f"}
			got := map[string]string{}
			handler := func(k string) func(*yaml.Node) { return func(v *yaml.Node) { got[k] = v.Value } }
			p.Fields(ValueOf(doc(t, tt.src), "s"), "sec", map[string]func(*yaml.Node){"a": handler("a"), "b": handler("b")})
			if !reflect.DeepEqual(got, tt.got) {
				t.Errorf("handled %v, want %v", got, tt.got)
			}
			if probs := problems(p); !reflect.DeepEqual(probs, tt.probs) {
				t.Errorf("problems:\n got %q\nwant %q", probs, tt.probs)
			}
		})
	}
}

func TestWalkUnknown(t *testing.T) {
	t.Parallel()
	p := &Parser{File: "f"}
	var unknown []string
	p.Walk(doc(t, "a: 1\nb: 2\nb: 3\nc: 4"), "sec", map[string]func(*yaml.Node){"b": func(*yaml.Node) {}},
		func(k *yaml.Node) { unknown = append(unknown, k.Value) })
	if want := []string{"a", "c"}; !reflect.DeepEqual(unknown, want) {
		t.Errorf("unknown keys %q, want %q", unknown, want)
	}
	if probs, want := problems(p), []string{"f:3:1: sec.b is set twice"}; !reflect.DeepEqual(probs, want) {
		t.Errorf("problems %q, want %q", probs, want)
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30m", 30 * time.Minute, false},
		{"1h30m", 90 * time.Minute, false},
		{"0", 0, false},
		{"0d", 0, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"500ms", 500 * time.Millisecond, false},
		{"-1h", 0, true},
		{"-1d", 0, true},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"", 0, true},
		{"week", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil {
			if want := `"` + tt.in + `" is not a duration such as 30m, 24h or 7d`; err.Error() != want {
				t.Errorf("ParseDuration(%q) error %q, want %q", tt.in, err, want)
			}
		}
	}
}

func TestLookups(t *testing.T) {
	t.Parallel()
	m := doc(t, "a: 1\nb:\nb: 2")
	if k, v := Entry(m, "b"); k == nil || k.Line != 2 || v.Tag != "!!null" {
		t.Errorf("Entry(b) = %v, %v; want the first b, line 2, null", k, v)
	}
	if v := ValueOf(m, "a"); v == nil || v.Value != "1" {
		t.Errorf("ValueOf(a) = %v, want 1", v)
	}
	if !HasKey(m, "b") || HasKey(m, "c") {
		t.Errorf("HasKey(b) = %v, HasKey(c) = %v; want true, false", HasKey(m, "b"), HasKey(m, "c"))
	}
	for _, n := range []*yaml.Node{nil, doc(t, "[a, b]")} {
		if k, v := Entry(n, "a"); k != nil || v != nil || HasKey(n, "a") {
			t.Errorf("Entry on %v = %v, %v; want nil, nil", n, k, v)
		}
	}
	if !IsNull(ValueOf(m, "b")) || IsNull(ValueOf(m, "a")) {
		t.Error("IsNull: want true for b, false for a")
	}
	if got := KeyList(map[string]bool{"b": true, "a": false}); got != "a, b" {
		t.Errorf("KeyList = %q, want \"a, b\"", got)
	}
	if got := KeyList(map[string]int{}); got != "none" {
		t.Errorf("KeyList(empty) = %q, want none", got)
	}
}

func TestErrorProblem(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	err := yaml.Unmarshal([]byte("a: [b\n"), &root)
	if err == nil {
		t.Fatal("want a syntax error")
	}
	if got, want := ErrorProblem("f.yaml", err).String(), "f.yaml:1: did not find expected ',' or ']'"; got != want {
		t.Errorf("syntax error: %q, want %q", got, want)
	}
	var v struct{ A int }
	err = yaml.Unmarshal([]byte("a: x\n"), &v)
	if got, want := ErrorProblem("f.yaml", err).String(), "f.yaml:1: cannot unmarshal !!str `x` into int"; got != want {
		t.Errorf("type error: %q, want %q", got, want)
	}
	if got, want := ErrorProblem("f.yaml", errors.New("boom")).String(), "f.yaml: boom"; got != want {
		t.Errorf("other error: %q, want %q", got, want)
	}
}

func TestProblemString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f", Line: 3, Column: 7, Msg: "m"}, "f:3:7: m"},
		{Problem{File: "f", Line: 3, Msg: "m"}, "f:3: m"},
		{Problem{File: "f", Msg: "m"}, "f: m"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// BadAt places a problem where it is told, in the parser's file.
func TestBadAt(t *testing.T) {
	t.Parallel()
	p := &Parser{File: "f"}
	p.BadAt(4, 9, "x %d", 1)
	if got, want := problems(p), []string{"f:4:9: x 1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if !strings.Contains(Describe(value(t, "v: 'a\"b'")), `"a\"b"`) {
		t.Error("Describe quotes strings")
	}
}

func TestItems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src   string
		items []string
		ok    bool
		probs []string
	}{
		{"v: [a, b]", []string{"1=a", "2=b"}, true, []string{}},
		{"v: []", nil, true, []string{}},
		{"v:", nil, true, []string{}},
		{"v: {a: b}", nil, false, []string{"f:1:4: v must be a list, e.g. - 100%"}},
		{"v: a", nil, false, []string{"f:1:4: v must be a list, e.g. - 100%"}},
	}
	for _, tt := range tests {
		p := &Parser{File: "f"}
		var items []string
		ok := p.Items(value(t, tt.src), "v must be a list, e.g. - 100%", func(i int, n *yaml.Node) {
			items = append(items, fmt.Sprintf("%d=%s", i, n.Value))
		})
		if ok != tt.ok || !reflect.DeepEqual(items, tt.items) {
			t.Errorf("%q: items %q, %v; want %q, %v", tt.src, items, ok, tt.items, tt.ok)
		}
		if probs := problems(p); !reflect.DeepEqual(probs, tt.probs) {
			t.Errorf("%q: problems %q, want %q", tt.src, probs, tt.probs)
		}
	}
}
