package policy

import (
	"testing"
	"testing/fstest"

	"github.com/vigilsec/vigil"
)

func probeLoad(t *testing.T, y string) *Check {
	t.Helper()
	set, err := Load(Source{FS: fstest.MapFS{"c.yaml": {Data: []byte(y)}}, Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return set.Checks()[0]
}

func TestProbe(t *testing.T) {
	c := probeLoad(t, `id: t-a
title: T
resource: aws.s3.bucket
severity: low
category: usage
when: 'resource.kind == "x"'
assert: 'resource.n + 1 > 3'
reason: '"n is " + string(resource.m)'
`)
	for _, tc := range []struct {
		props map[string]any
		errs  []string
	}{
		{map[string]any{"kind": "x", "n": 1}, nil},
		{map[string]any{"kind": "x", "n": 1.0}, nil},
		{map[string]any{"n": 5}, []string{"kind"}},
		{map[string]any{"n": 1}, []string{"kind"}},
		{map[string]any{"kind": "y", "n": 1}, []string{"n"}},
	} {
		r := &vigil.Resource{Properties: tc.props}
		for _, p := range tc.errs {
			r.ReadErrors = append(r.ReadErrors, vigil.ReadError{Property: p, Operation: "op", Code: "forbidden"})
		}
		t.Logf("%v %v => %+v", tc.props, tc.errs, c.Evaluate(NewInput(r, FixtureTime)))
	}
}
