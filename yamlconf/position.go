package yamlconf

import (
	"bytes"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Source is the text of a YAML file. It tells what yaml.v3's nodes do not:
// how far a block scalar's lines are indented.
type Source []byte

// ExprPosition maps a position inside an expression (1-based line, 0-based
// column, as cel-go reports them) held by the scalar n, the value of key,
// to a position in the file, without the file's text: a block scalar's
// lines are taken to be indented two columns past the key, as the
// documentation writes them. See Source.ExprPosition.
func ExprPosition(key, n *yaml.Node, line, col int) (int, int) {
	return Source(nil).ExprPosition(key, n, line, col)
}

// ExprPosition maps a position inside an expression (1-based line, 0-based
// column) held by the scalar n, the value of key, to a position in the
// file. A literal block (|) keeps its lines, so a position maps exactly,
// at the indentation of its first content line. YAML joins the lines of a
// folded block (>) and of a multi-line plain or quoted scalar, so only a
// position on the first line maps exactly; any other points at the
// scalar's start rather than at a wrong place. Without the text (nil), a
// block's lines are taken to be indented two columns past the key.
func (s Source) ExprPosition(key, n *yaml.Node, line, col int) (int, int) {
	if n == nil {
		return line, col + 1
	}
	switch n.Style {
	case yaml.LiteralStyle:
		_, indent := s.blockIndent(key, n)
		return n.Line + line, indent + 1 + col
	case yaml.FoldedStyle:
		first, indent := s.blockIndent(key, n)
		if line <= 1 && first == n.Line+1 && s != nil && col < utf8.RuneCount(s.line(first))-indent {
			return first, indent + 1 + col
		}
		return first, indent + 1
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line <= 1 {
			// Past the opening quote.
			return n.Line, n.Column + col + 1
		}
		return n.Line, n.Column
	}
	if line <= 1 {
		return n.Line, n.Column + col
	}
	return n.Line, n.Column
}

// blockIndent returns the line of a block scalar's first content line and
// the number of spaces its lines are indented by.
func (s Source) blockIndent(key, n *yaml.Node) (first, indent int) {
	keyIndent := 0
	if key != nil {
		keyIndent = key.Column - 1
	}
	first, indent = n.Line+1, keyIndent+2
	if s == nil {
		return first, indent
	}
	// An explicit indentation indicator (|2, >-4) counts from the key's.
	header := []rune(string(s.line(n.Line)))
	if at := n.Column - 1; at >= 0 && at < len(header) && (header[at] == '|' || header[at] == '>') {
		for i := at + 1; i < len(header) && i <= at+2; i++ {
			if c := header[i]; c >= '1' && c <= '9' {
				return first, keyIndent + int(c-'0')
			}
		}
	}
	for l := n.Line + 1; ; l++ {
		text, ok := s.lineOK(l)
		if !ok {
			return first, indent
		}
		trimmed := bytes.TrimLeft(text, " ")
		if len(trimmed) == 0 {
			continue // leading blank lines do not set the indentation
		}
		spaces := len(text) - len(trimmed)
		if spaces <= keyIndent {
			// Not indented past the key: the block is empty.
			return first, indent
		}
		return l, spaces
	}
}

// line returns the text of a 1-based line, without its line break.
func (s Source) line(l int) []byte {
	text, _ := s.lineOK(l)
	return text
}

func (s Source) lineOK(l int) ([]byte, bool) {
	if l < 1 {
		return nil, false
	}
	rest := []byte(s)
	for i := 1; i < l; i++ {
		j := bytes.IndexByte(rest, '\n')
		if j < 0 {
			return nil, false
		}
		rest = rest[j+1:]
	}
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	} else if len(rest) == 0 {
		return nil, false
	}
	return bytes.TrimSuffix(rest, []byte("\r")), true
}
