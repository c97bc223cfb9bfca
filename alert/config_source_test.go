package alert

import (
	"testing"
)

// With the file's text in Env.Source, a problem inside a block condition
// is placed at the block's own indentation; without it, two columns past
// the key is assumed.
func TestParseBlockConditionSource(t *testing.T) {
	t.Parallel()
	doc := "alerts:\n  - name: a\n    on: change\n    type: aws.s3.bucket\n    channels: [hook]\n    when: |\n          new != null &&\n            cidr.isWorld(1)"
	msg := "alerts[1] (a).when: found no matching overload for 'cidr.isWorld' applied to '(int)'"
	tests := []struct {
		name   string
		source []byte
		want   string
	}{
		{"with the source", []byte(doc), "c.yaml:8:25: " + msg},
		{"without", nil, "c.yaml:8:21: " + msg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			env.Source = tt.source
			_, probs := Parse(alertsNode(t, doc), "c.yaml", env)
			if len(probs) != 1 || probs[0].String() != tt.want {
				t.Errorf("problems %v\nwant [%s]", probs, tt.want)
			}
		})
	}
}
