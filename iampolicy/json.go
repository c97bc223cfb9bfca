package iampolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// object is a JSON object that keeps its keys in document order, so that
// errors and statement indexes follow the text the user wrote.
type object struct {
	keys []string
	vals map[string]any
}

// decodeJSON reads one JSON value into strings, json.Number, bool, nil,
// []any and *object. It rejects duplicate keys (which encoding/json would
// silently resolve to the last one, while AWS rejects the document) and
// trailing data.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, "")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Msg: "unexpected data after the policy document"}
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, path string) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(dec, path, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, syntaxError(dec, path, err)
				}
				k, _ := kt.(string)
				if _, dup := obj.vals[k]; dup {
					return nil, &Error{Path: join(path, k), Msg: "duplicate key " + quote(k)}
				}
				v, err := decodeValue(dec, join(path, k))
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, k)
				obj.vals[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(dec, path, err)
			}
			return obj, nil
		case '[':
			list := []any{}
			for i := 0; dec.More(); i++ {
				v, err := decodeValue(dec, fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(dec, path, err)
			}
			return list, nil
		}
		return nil, &Error{Path: path, Msg: fmt.Sprintf("unexpected %q", t)}
	default:
		return t, nil
	}
}

func syntaxError(dec *json.Decoder, path string, err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &Error{Path: path, Msg: fmt.Sprintf("not valid JSON (near byte %d): %v", dec.InputOffset(), err)}
}

// fromGeneric converts an already-decoded document (maps from
// encoding/json, YAML or CEL) to the decoder's representation. Map keys are
// sorted: their order was lost before we saw them.
func fromGeneric(v any, path string) (any, error) {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case float64:
		return json.Number(fmt.Sprint(x)), nil
	case float32:
		return json.Number(fmt.Sprint(x)), nil
	case int:
		return json.Number(fmt.Sprint(x)), nil
	case int64:
		return json.Number(fmt.Sprint(x)), nil
	case uint64:
		return json.Number(fmt.Sprint(x)), nil
	case *object:
		return x, nil
	case map[string]any:
		obj := &object{vals: make(map[string]any, len(x))}
		for k := range x {
			obj.keys = append(obj.keys, k)
		}
		sort.Strings(obj.keys)
		for _, k := range obj.keys {
			c, err := fromGeneric(x[k], join(path, k))
			if err != nil {
				return nil, err
			}
			obj.vals[k] = c
		}
		return obj, nil
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			s, ok := k.(string)
			if !ok {
				return nil, &Error{Path: path, Msg: fmt.Sprintf("object key %v is not a string", k)}
			}
			m[s] = e
		}
		return fromGeneric(m, path)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromGeneric(e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	}
	return nil, &Error{Path: path, Msg: fmt.Sprintf("unsupported value of type %T", v)}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// kind names a decoded JSON value's type for error messages.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case *object:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
