package jsondiff_test

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/jsondiff"
)

type op = vigil.DiffOp

func TestDiff(t *testing.T) {
	t.Parallel()
	ch := make(chan int)
	tests := []struct {
		name     string
		old, new any
		want     []op
	}{
		{"both nil", nil, nil, nil},
		{"equal objects", map[string]any{"a": 1.0, "b": []any{"x"}}, map[string]any{"b": []any{"x"}, "a": 1.0}, nil},
		{"scalar replace", "a", "b", []op{{Op: "replace", Path: "", Old: "a", New: "b"}}},
		{"nil to object", nil, map[string]any{"a": true}, []op{{Op: "replace", Path: "", Old: nil, New: map[string]any{"a": true}}}},
		{"number to string", map[string]any{"a": 1.0}, map[string]any{"a": "1"}, []op{{Op: "replace", Path: "/a", Old: 1.0, New: "1"}}},
		{"object to array", map[string]any{"a": map[string]any{}}, map[string]any{"a": []any{}}, []op{{Op: "replace", Path: "/a", Old: map[string]any{}, New: []any{}}}},
		{"null value to absent", map[string]any{"a": nil}, map[string]any{}, []op{{Op: "remove", Path: "/a"}}},
		{
			"add remove replace in sorted key order",
			map[string]any{"z": 1.0, "b": "old", "a": true, "m": map[string]any{"deep": "x", "keep": 2.0}},
			map[string]any{"c": "new", "b": "new", "a": true, "m": map[string]any{"deep": "y", "keep": 2.0}},
			[]op{
				{Op: "replace", Path: "/b", Old: "old", New: "new"},
				{Op: "add", Path: "/c", New: "new"},
				{Op: "replace", Path: "/m/deep", Old: "x", New: "y"},
				{Op: "remove", Path: "/z", Old: 1.0},
			},
		},
		{
			"pointer escaping",
			map[string]any{"a/b": 1.0, "m~n": 1.0, "~1": 1.0},
			map[string]any{"a/b": 2.0, "m~n": 2.0, "~1": 2.0},
			[]op{
				{Op: "replace", Path: "/a~1b", Old: 1.0, New: 2.0},
				{Op: "replace", Path: "/m~0n", Old: 1.0, New: 2.0},
				{Op: "replace", Path: "/~01", Old: 1.0, New: 2.0},
			},
		},
		{"empty key", map[string]any{"": 1.0}, map[string]any{"": 2.0}, []op{{Op: "replace", Path: "/", Old: 1.0, New: 2.0}}},
		{
			"array element by index",
			[]any{"a", map[string]any{"x": 1.0}, "c"},
			[]any{"a", map[string]any{"x": 2.0}, "d"},
			[]op{
				{Op: "replace", Path: "/1/x", Old: 1.0, New: 2.0},
				{Op: "replace", Path: "/2", Old: "c", New: "d"},
			},
		},
		{
			"array grows: tail added in ascending order",
			map[string]any{"l": []any{"a"}},
			map[string]any{"l": []any{"b", "c", "d"}},
			[]op{
				{Op: "replace", Path: "/l/0", Old: "a", New: "b"},
				{Op: "add", Path: "/l/1", New: "c"},
				{Op: "add", Path: "/l/2", New: "d"},
			},
		},
		{
			"array shrinks: tail removed in descending order",
			[]any{"a", "b", "c"},
			[]any{"a"},
			[]op{
				{Op: "remove", Path: "/2", Old: "c"},
				{Op: "remove", Path: "/1", Old: "b"},
			},
		},
		{
			"collector types are normalised",
			map[string]any{"n": 1, "m": int64(2), "j": json.Number("3"), "l": []string{"a"}, "t": map[string]string{"k": "v"}},
			map[string]any{"n": 1.0, "m": 2.0, "j": 3.0, "l": []any{"a"}, "t": map[string]any{"k": "v"}},
			nil,
		},
		{
			"normalised values in ops",
			map[string]any{"l": []string{"a"}, "n": 1},
			map[string]any{"l": []string{"a", "b"}, "n": int64(2), "t": map[string]string{"k": "v"}},
			[]op{
				{Op: "add", Path: "/l/1", New: "b"},
				{Op: "replace", Path: "/n", Old: 1.0, New: 2.0},
				{Op: "add", Path: "/t", New: map[string]any{"k": "v"}},
			},
		},
		{"structs encode like their JSON", struct {
			A int `json:"a"`
		}{1}, map[string]any{"a": 2}, []op{{Op: "replace", Path: "/a", Old: 1.0, New: 2.0}}},
		{"unencodable values are replaced whole", math.Inf(1), 1.0, []op{{Op: "replace", Path: "", Old: math.Inf(1), New: 1.0}}},
		{"unencodable equal values", map[string]any{"c": ch}, map[string]any{"c": ch}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := jsondiff.Diff(tt.old, tt.new)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Diff =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

// TestDiffDeterministic guards against map iteration order leaking into the output.
func TestDiffDeterministic(t *testing.T) {
	t.Parallel()
	old := map[string]any{}
	new := map[string]any{}
	for _, k := range []string{"q", "w", "e", "r", "t", "y", "u", "i", "o", "p"} {
		old[k] = k
		new[k] = k + "!"
	}
	first := jsondiff.Diff(old, new)
	for range 20 {
		if got := jsondiff.Diff(old, new); !reflect.DeepEqual(got, first) {
			t.Fatalf("Diff changed between runs:\n%v\n%v", first, got)
		}
	}
	for i := 1; i < len(first); i++ {
		if first[i-1].Path >= first[i].Path {
			t.Fatalf("paths not sorted: %q before %q", first[i-1].Path, first[i].Path)
		}
	}
}

// TestDiffDoesNotMutate checks that the inputs are left as they were.
func TestDiffDoesNotMutate(t *testing.T) {
	t.Parallel()
	old := map[string]any{"a": []string{"x"}, "n": 1}
	new := map[string]any{"a": []string{"y"}, "n": 2}
	jsondiff.Diff(old, new)
	if !reflect.DeepEqual(old, map[string]any{"a": []string{"x"}, "n": 1}) || !reflect.DeepEqual(new, map[string]any{"a": []string{"y"}, "n": 2}) {
		t.Fatalf("inputs changed: %v %v", old, new)
	}
}
