package policy

import "strings"

// INTERIM: the two functions below are deliberately simple stand-ins for
// iam.isPublic and iam.grantsAdmin until the iampolicy package implements
// AWS's documented evaluation logic. They err towards "public": any
// unconditioned Allow to everyone is public, and conditions are not
// interpreted at all (a conditioned grant is treated as not public, which
// the policy engine will refine).

// interimIsPublic reports whether some Allow statement grants access to
// every principal without a condition.
func interimIsPublic(doc any) bool {
	for _, st := range statements(doc) {
		if !strings.EqualFold(str(st["Effect"]), "Allow") {
			continue
		}
		if c, ok := st["Condition"].(map[string]any); ok && len(c) > 0 {
			continue
		}
		if principalIsEveryone(st["Principal"]) {
			return true
		}
	}
	return false
}

// interimGrantsAdmin reports whether some Allow statement grants every
// action on every resource.
func interimGrantsAdmin(doc any) bool {
	for _, st := range statements(doc) {
		if !strings.EqualFold(str(st["Effect"]), "Allow") {
			continue
		}
		if hasAny(st["Action"], "*", "*:*") && hasAny(st["Resource"], "*") {
			return true
		}
	}
	return false
}

func principalIsEveryone(p any) bool {
	switch x := p.(type) {
	case string:
		return x == "*"
	case map[string]any:
		return hasAny(x["AWS"], "*")
	}
	return false
}

// statements returns a policy document's statements; Statement may be an
// object or a list.
func statements(doc any) []map[string]any {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	switch s := m["Statement"].(type) {
	case map[string]any:
		return []map[string]any{s}
	case []any:
		out := make([]map[string]any, 0, len(s))
		for _, e := range s {
			if st, ok := e.(map[string]any); ok {
				out = append(out, st)
			}
		}
		return out
	}
	return nil
}

// hasAny reports whether v (a string or a list of strings) contains one of want.
func hasAny(v any, want ...string) bool {
	switch x := v.(type) {
	case string:
		for _, w := range want {
			if x == w {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasAny(e, want...) {
				return true
			}
		}
	}
	return false
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
