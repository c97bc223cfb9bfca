// Package jsondiff computes the differences between two JSON documents as
// RFC 6902-style operations with JSON Pointer (RFC 6901) paths.
package jsondiff

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil"
)

// Diff returns the operations that turn old into new, in a deterministic
// order: object keys sorted, array elements by index.
//
// Both values are first normalised by a round trip through encoding/json, so
// an int and a float64 of the same value, a []string and an []any of the
// same strings, or a map[string]string and a map[string]any compare equal,
// and the Old and New values of the operations are plain JSON values
// (numbers become float64). Arrays are compared index by index: a longer new
// array adds its tail in ascending order, a shorter one removes the old tail
// in descending order, so that the operations apply in sequence. Equal
// documents yield nil.
//
// A value that encoding/json cannot encode (a NaN, a channel) is compared
// as is and, unless deeply equal, replaced whole at the root.
func Diff(old, new any) []vigil.DiffOp {
	o, err1 := normalize(old)
	n, err2 := normalize(new)
	if err1 != nil || err2 != nil {
		if reflect.DeepEqual(old, new) {
			return nil
		}
		return []vigil.DiffOp{{Op: "replace", Path: "", Old: old, New: new}}
	}
	var d differ
	d.diff("", o, n)
	return d.ops
}

// normalize turns v into the values encoding/json decodes into any.
func normalize(v any) (any, error) {
	switch v.(type) {
	case nil, string, float64, bool:
		return v, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

type differ struct{ ops []vigil.DiffOp }

func (d *differ) add(op, path string, old, new any) {
	d.ops = append(d.ops, vigil.DiffOp{Op: op, Path: path, Old: old, New: new})
}

func (d *differ) diff(path string, old, new any) {
	switch o := old.(type) {
	case map[string]any:
		if n, ok := new.(map[string]any); ok {
			d.object(path, o, n)
			return
		}
	case []any:
		if n, ok := new.([]any); ok {
			d.array(path, o, n)
			return
		}
	default:
		// Scalars after normalisation: nil, string, float64, bool. A scalar
		// never equals a map or a slice, and == on those would panic.
		switch new.(type) {
		case map[string]any, []any:
		default:
			if old == new {
				return
			}
		}
	}
	d.add("replace", path, old, new)
}

func (d *differ) object(path string, old, new map[string]any) {
	keys := make([]string, 0, len(old)+len(new))
	for k := range old {
		keys = append(keys, k)
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := path + "/" + escape(k)
		ov, inOld := old[k]
		nv, inNew := new[k]
		switch {
		case !inNew:
			d.add("remove", p, ov, nil)
		case !inOld:
			d.add("add", p, nil, nv)
		default:
			d.diff(p, ov, nv)
		}
	}
}

func (d *differ) array(path string, old, new []any) {
	n := min(len(old), len(new))
	for i := range n {
		d.diff(path+"/"+strconv.Itoa(i), old[i], new[i])
	}
	for i := n; i < len(new); i++ {
		d.add("add", path+"/"+strconv.Itoa(i), nil, new[i])
	}
	for i := len(old) - 1; i >= n; i-- {
		d.add("remove", path+"/"+strconv.Itoa(i), old[i], nil)
	}
}

var escaper = strings.NewReplacer("~", "~0", "/", "~1")

// escape encodes a reference token of a JSON Pointer.
func escape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return escaper.Replace(s)
}
