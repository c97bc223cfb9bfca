package yamlconf

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// findKey returns the first key node named key anywhere under n, and its value.
func findKey(n *yaml.Node, key string) (k, v *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		if k, v := Entry(n, key); k != nil {
			return k, v
		}
	}
	for _, c := range n.Content {
		if k, v := findKey(c, key); k != nil {
			return k, v
		}
	}
	return nil, nil
}

func TestExprPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		// line and col are a position in the expression: 1-based line,
		// 0-based column, as cel-go gives them.
		line, col int
		// With the source text and without it.
		wantLine, wantCol int
		bareLine, bareCol int
		// exact: the position is that of the same character in the file.
		exact bool
	}{
		{"plain", "when: a && b(1)", 1, 5, 1, 12, 1, 12, true},
		{"single quoted", "when: 'a && b(1)'", 1, 5, 1, 13, 1, 13, true},
		{"double quoted", `when: "a && b(1)"`, 1, 5, 1, 13, 1, 13, true},
		{"plain, a later line points at the start", "when: a\n\n  b\n", 2, 0, 1, 7, 1, 7, false},
		{"quoted, a later line points at the start", "when: 'a\n\n  b'\n", 2, 0, 1, 7, 1, 7, false},
		{"literal indented two", "when: |\n  a &&\n    b(1)\n", 2, 2, 3, 5, 3, 5, true},
		{"literal indented four", "when: |\n    a &&\n      b(1)\n", 2, 2, 3, 7, 3, 5, true},
		{"literal in a list item", "- name: a\n  when: |\n      x ||\n        y\n", 2, 2, 4, 9, 4, 7, true},
		{"literal with chomping", "when: |-\n    a &&\n    b(1)\n", 2, 0, 3, 5, 3, 3, true},
		{"literal with an indentation indicator", "when: |4\n      x\n", 1, 2, 2, 7, 2, 5, true},
		{"literal with chomping and indicator", "when: |+3\n     x\n", 1, 2, 2, 6, 2, 5, true},
		{"literal after a blank line", "when: |\n\n   a\n", 2, 0, 3, 4, 3, 3, true},
		{"literal with CRLF", "when: |\r\n    a &&\r\n    b(1)\r\n", 2, 1, 3, 6, 3, 4, true},
		{"empty literal", "when: |\nnext: 1\n", 1, 0, 2, 3, 2, 3, false},
		{"folded, first line", "when: >\n    a &&\n    b(1)\n", 1, 2, 2, 7, 2, 3, true},
		{"folded, past the first line points at its start", "when: >\n    a &&\n    b(1)\n", 1, 5, 2, 5, 2, 3, false},
		{"folded after a blank line", "when: >\n\n    a\n", 2, 0, 3, 5, 2, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var root yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &root); err != nil {
				t.Fatal(err)
			}
			k, v := findKey(&root, "when")
			if k == nil {
				t.Fatal("no when key")
			}
			line, col := Source(tt.src).ExprPosition(k, v, tt.line, tt.col)
			if line != tt.wantLine || col != tt.wantCol {
				t.Errorf("with source: %d:%d, want %d:%d", line, col, tt.wantLine, tt.wantCol)
			}
			if bl, bc := ExprPosition(k, v, tt.line, tt.col); bl != tt.bareLine || bc != tt.bareCol {
				t.Errorf("without source: %d:%d, want %d:%d", bl, bc, tt.bareLine, tt.bareCol)
			}
			if !tt.exact {
				return
			}
			// The expression's character is the file's character there.
			exprLines := strings.Split(v.Value, "\n")
			fileLines := strings.Split(strings.ReplaceAll(tt.src, "\r", ""), "\n")
			want := []rune(exprLines[tt.line-1])[tt.col]
			if got := []rune(fileLines[line-1])[col-1]; got != want {
				t.Errorf("file has %q at %d:%d, the expression %q", got, line, col, want)
			}
		})
	}
}

func TestExprPositionNoNode(t *testing.T) {
	t.Parallel()
	if l, c := ExprPosition(nil, nil, 2, 4); l != 2 || c != 5 {
		t.Errorf("nil node: %d:%d, want 2:5", l, c)
	}
	// A key of nil is taken to be at column 1.
	n := &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.LiteralStyle, Line: 3, Column: 7, Value: "a\n"}
	if l, c := ExprPosition(nil, n, 1, 0); l != 4 || c != 3 {
		t.Errorf("nil key: %d:%d, want 4:3", l, c)
	}
	// A node past the end of the source falls back as if there were none.
	if l, c := Source("when: x\n").ExprPosition(nil, n, 1, 0); l != 4 || c != 3 {
		t.Errorf("node past the source: %d:%d, want 4:3", l, c)
	}
}
