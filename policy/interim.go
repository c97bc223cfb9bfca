package policy

import (
	"strings"

	"github.com/vigilsec/vigil/iampolicy"
)

// INTERIM: the two functions below back iam.isPublic and iam.grantsAdmin
// until the iampolicy package implements AWS's documented evaluation logic.
// Both err towards flagging: a grant to everyone is public unless a
// condition pins it to fixed sources (see iampolicy.GrantsAnyone).

// interimIsPublic is iampolicy.IsPublic (itself interim).
func interimIsPublic(doc any) bool { return iampolicy.IsPublic(doc) }

// interimGrantsAdmin reports whether some Allow statement grants every
// action on every resource.
func interimGrantsAdmin(doc any) bool {
	for _, st := range iampolicy.Statements(doc) {
		if !strings.EqualFold(str(st["Effect"]), "Allow") {
			continue
		}
		if hasAny(st["Action"], "*", "*:*") && hasAny(st["Resource"], "*") {
			return true
		}
	}
	return false
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
