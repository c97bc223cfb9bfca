// Package iampolicy reads AWS policy documents. For now it holds the
// INTERIM public-access rule that the checks and the S3 collector share; the
// IAM policy engine (parser, evaluator, S3's documented "meaning of public",
// cross-account and admin analysis) replaces it.
package iampolicy

import (
	"net/netip"
	"strings"
)

// Statements returns a policy document's statements, whether Statement is
// one object or a list. Documents are generic JSON values.
func Statements(doc any) []map[string]any {
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

// StringList returns a policy element that is a string or a list of strings
// as a list.
func StringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}

// PrincipalIsAnyone reports whether a Principal element is "*" or
// {"AWS": "*"} (alone or in a list).
func PrincipalIsAnyone(p any) bool {
	if s, ok := p.(string); ok {
		return s == "*"
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	for _, v := range StringList(m["AWS"]) {
		if v == "*" {
			return true
		}
	}
	return false
}

// GrantsAnyone reports whether an Allow statement grants access to every
// principal: Principal "*" or {"AWS": "*"}, or a NotPrincipal (which grants
// everyone not listed, anonymous users included), with no condition that
// pins the request to a fixed account, network, organization or source.
//
// INTERIM: conditions are judged by S3's documented list of keys that make
// a grant non-public when set to fixed values with a positive operator;
// anything else (IfExists, negated operators, wildcards, policy variables,
// unknown keys) leaves the grant public. Deny statements are not yet
// subtracted, so the rule errs towards "public".
func GrantsAnyone(st map[string]any) bool {
	if !strings.EqualFold(str(st["Effect"]), "Allow") {
		return false
	}
	_, notPrincipal := st["NotPrincipal"]
	if !notPrincipal && !PrincipalIsAnyone(st["Principal"]) {
		return false
	}
	return !restrictingCondition(st["Condition"])
}

// IsPublic reports whether some statement of the policy grants anyone
// access (see GrantsAnyone).
func IsPublic(doc any) bool {
	for _, st := range Statements(doc) {
		if GrantsAnyone(st) {
			return true
		}
	}
	return false
}

// fixedKeys are the condition keys that, set to fixed values, make a grant
// to everyone non-public (Amazon S3 "The meaning of public").
var fixedKeys = map[string]bool{
	"aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceaccount": true, "aws:sourceowner": true, "aws:principalorgid": true,
	"aws:principalaccount": true, "aws:principalarn": true, "aws:userid": true,
	"aws:sourceip": true, "aws:principalorgpaths": true,
	"s3:x-amz-server-side-encryption-aws-kms-key-id": true,
	"s3:dataaccesspointarn":                          true, "s3:dataaccesspointaccount": true,
}

// positiveOperators are the operators under which a fixed value restricts.
var positiveOperators = map[string]bool{
	"stringequals": true, "stringequalsignorecase": true, "stringlike": true,
	"arnequals": true, "arnlike": true, "ipaddress": true,
}

// restrictingCondition reports whether a Condition block restricts a grant
// to fixed sources. Conditions are ANDed, so one restricting pair suffices.
func restrictingCondition(c any) bool {
	block, ok := c.(map[string]any)
	if !ok {
		return false
	}
	for op, kv := range block {
		lower := strings.ToLower(op)
		// ForAllValues is vacuously true on a missing key; IfExists too.
		if strings.HasPrefix(lower, "forallvalues:") || strings.HasSuffix(lower, "ifexists") {
			continue
		}
		lower = strings.TrimPrefix(lower, "foranyvalue:")
		if !positiveOperators[lower] {
			continue
		}
		pairs, ok := kv.(map[string]any)
		if !ok {
			continue
		}
		for key, v := range pairs {
			k := strings.ToLower(key)
			if !fixedKeys[k] {
				continue
			}
			values := StringList(v)
			if len(values) > 0 && allFixed(k, values) {
				return true
			}
		}
	}
	return false
}

// allFixed reports whether every value is a fixed value for key: no
// wildcard or policy variable, aws:userid not a whole role's sessions, and
// aws:SourceIp no broader than /8 (IPv4) or /32 (IPv6).
func allFixed(key string, values []string) bool {
	for _, v := range values {
		if v == "" || strings.ContainsAny(v, "*?") || strings.Contains(v, "${") {
			return false
		}
		if key == "aws:sourceip" {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					return false
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if (p.Addr().Is4() && p.Bits() < 8) || (!p.Addr().Is4() && p.Bits() < 32) {
				return false
			}
		}
	}
	return true
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
