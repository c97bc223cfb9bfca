package policy

import (
	"testing"
)

// A problem inside a block scalar is placed at the block's own
// indentation, read from the file, not at its | or > indicator.
func TestCompileFileBlockPosition(t *testing.T) {
	t.Parallel()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	head := "id: test-block\ntitle: Block\nresource: aws.s3.bucket\nseverity: high\ncategory: security\n"
	tests := []struct {
		name, assert, want string
	}{
		{"literal indented four", "assert: |\n    resource.a &&\n      cidr.isWorld(1)\n",
			"f.yaml:8:19: assert: found no matching overload for 'cidr.isWorld' applied to '(int)'"},
		{"literal indented two", "assert: |\n  resource.a &&\n    cidr.isWorld(1)\n",
			"f.yaml:8:17: assert: found no matching overload for 'cidr.isWorld' applied to '(int)'"},
		{"folded points at its first line", "assert: >\n    resource.a &&\n    cidr.isWorld(1)\n",
			"f.yaml:7:5: assert: found no matching overload for 'cidr.isWorld' applied to '(int)'"},
		{"plain", "assert: resource.a && cidr.isWorld(1)\n",
			"f.yaml:6:35: assert: found no matching overload for 'cidr.isWorld' applied to '(int)'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, probs := compileFile(env, "f.yaml", []byte(head+tt.assert))
			if len(probs) != 1 || probs[0].String() != tt.want {
				t.Errorf("problems %v\nwant [%s]", probs, tt.want)
			}
		})
	}
}
