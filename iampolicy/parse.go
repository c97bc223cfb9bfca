// Package iampolicy implements AWS's documented semantics for IAM and
// resource-based policy documents: a strict parser, a request evaluator
// (explicit Deny, then Allow, else implicit deny), and analyses built on
// the evaluator — whether a resource policy is public by Amazon S3's
// "meaning of public", which principals outside a trusted set get access,
// and whether identity policies grant administrator access or a documented
// privilege-escalation path. It imports no cloud SDK.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Error is a malformed policy document: Path names the JSON element
// (Statement[1].Condition.StringEquals.aws:SourceVpce) and Msg the problem.
type Error struct {
	Path string
	Msg  string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Path == "" {
		return "invalid policy: " + e.Msg
	}
	return "invalid policy: " + e.Path + ": " + e.Msg
}

// Effect is a statement's Effect.
type Effect string

// The two effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Policy versions. Without a Version element AWS applies 2008-10-17, in
// which policy variables are plain text.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed policy document.
type Policy struct {
	Version    string
	ID         string
	Statements []*Statement
}

// Statement is one parsed statement. Exactly one of Principal and
// NotPrincipal may be set (neither in identity policies).
type Statement struct {
	Index        int    // position in the Statement list
	Sid          string // may be empty
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Actions      Patterns // Action or NotAction (Not set)
	Resources    Patterns // Resource or NotResource; Absent when neither is given
	Conditions   []*Condition
	variables    bool // policy variables are interpreted (Version 2012-10-17)

	actions   []pattern // compiled Actions.Values, lower case
	resources []pattern // compiled Resources.Values
}

// Name identifies a statement in reasons: Statement[2] "Sid".
func (s *Statement) Name() string {
	if s.Sid != "" {
		return fmt.Sprintf("Statement[%d] %q", s.Index, s.Sid)
	}
	return fmt.Sprintf("Statement[%d]", s.Index)
}

// Patterns is an Action/NotAction or Resource/NotResource element.
type Patterns struct {
	Values []string
	Not    bool // NotAction / NotResource
	Absent bool // the element is missing (matches everything)
}

// Principals is a Principal or NotPrincipal element.
type Principals struct {
	Anyone        bool // "*" or {"AWS": "*"}
	AWS           []string
	Service       []string
	Federated     []string
	CanonicalUser []string
}

// Parse parses a policy document from JSON. Malformed documents yield an
// *Error naming the JSON path of the problem.
func Parse(data []byte) (*Policy, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	return parseDoc(v)
}

// ParseValue parses a document that was already decoded into generic Go
// values (map[string]any, []any, strings, numbers, booleans), as the
// collectors store them. A JSON string holding a document is parsed too.
func ParseValue(v any) (*Policy, error) {
	if s, ok := v.(string); ok {
		return Parse([]byte(s))
	}
	g, err := fromGeneric(v, "")
	if err != nil {
		return nil, err
	}
	return parseDoc(g)
}

func parseDoc(v any) (*Policy, error) {
	obj, ok := v.(*object)
	if !ok {
		return nil, &Error{Msg: "the document must be a JSON object, got " + kind(v)}
	}
	p := &Policy{Version: Version2008}
	var stmts any
	for _, k := range obj.keys {
		val := obj.vals[k]
		switch k {
		case "Version":
			s, ok := val.(string)
			if !ok || (s != Version2012 && s != Version2008) {
				return nil, &Error{Path: "Version", Msg: fmt.Sprintf("must be %q or %q, got %s", Version2012, Version2008, show(val))}
			}
			p.Version = s
		case "Id":
			s, ok := val.(string)
			if !ok {
				return nil, &Error{Path: "Id", Msg: "must be a string, got " + kind(val)}
			}
			p.ID = s
		case "Statement":
			stmts = val
		default:
			return nil, &Error{Path: k, Msg: "unknown policy element " + quote(k) + " (want Version, Id, Statement)"}
		}
	}
	switch s := stmts.(type) {
	case nil:
		if _, ok := obj.vals["Statement"]; ok {
			return nil, &Error{Path: "Statement", Msg: "must be an object or a list of objects, got null"}
		}
		return nil, &Error{Path: "Statement", Msg: "missing"}
	case *object:
		st, err := parseStatement(s, 0, "Statement", p.Version == Version2012)
		if err != nil {
			return nil, err
		}
		p.Statements = []*Statement{st}
	case []any:
		if len(s) == 0 {
			return nil, &Error{Path: "Statement", Msg: "the list is empty"}
		}
		for i, e := range s {
			path := fmt.Sprintf("Statement[%d]", i)
			o, ok := e.(*object)
			if !ok {
				return nil, &Error{Path: path, Msg: "must be an object, got " + kind(e)}
			}
			st, err := parseStatement(o, i, path, p.Version == Version2012)
			if err != nil {
				return nil, err
			}
			p.Statements = append(p.Statements, st)
		}
	default:
		return nil, &Error{Path: "Statement", Msg: "must be an object or a list of objects, got " + kind(stmts)}
	}
	return p, nil
}

func parseStatement(o *object, index int, path string, variables bool) (*Statement, error) {
	st := &Statement{Index: index, variables: variables, Resources: Patterns{Absent: true}}
	var haveEffect, haveAction bool
	for _, k := range o.keys {
		v := o.vals[k]
		at := join(path, k)
		var err error
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				return nil, &Error{Path: at, Msg: "must be a string, got " + kind(v)}
			}
			st.Sid = s
		case "Effect":
			s, _ := v.(string)
			if s != string(Allow) && s != string(Deny) {
				return nil, &Error{Path: at, Msg: fmt.Sprintf("must be \"Allow\" or \"Deny\", got %s", show(v))}
			}
			st.Effect, haveEffect = Effect(s), true
		case "Principal", "NotPrincipal":
			if st.Principal != nil || st.NotPrincipal != nil {
				return nil, &Error{Path: at, Msg: "a statement has either Principal or NotPrincipal, not both"}
			}
			var p *Principals
			if p, err = parsePrincipals(v, at); err != nil {
				return nil, err
			}
			if k == "Principal" {
				st.Principal = p
			} else {
				st.NotPrincipal = p
			}
		case "Action", "NotAction":
			if haveAction {
				return nil, &Error{Path: at, Msg: "a statement has either Action or NotAction, not both"}
			}
			haveAction = true
			var vals []string
			if vals, err = stringList(v, at); err != nil {
				return nil, err
			}
			for i, a := range vals {
				if err := checkAction(a); err != nil {
					return nil, &Error{Path: elemPath(at, v, i), Msg: err.Error()}
				}
			}
			st.Actions = Patterns{Values: vals, Not: k == "NotAction"}
		case "Resource", "NotResource":
			if !st.Resources.Absent {
				return nil, &Error{Path: at, Msg: "a statement has either Resource or NotResource, not both"}
			}
			var vals []string
			if vals, err = stringList(v, at); err != nil {
				return nil, err
			}
			st.Resources = Patterns{Values: vals, Not: k == "NotResource"}
		case "Condition":
			if st.Conditions, err = parseConditions(v, at, variables); err != nil {
				return nil, err
			}
		default:
			return nil, &Error{Path: at, Msg: "unknown statement element " + quote(k) +
				" (want Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"}
		}
	}
	if !haveEffect {
		return nil, &Error{Path: join(path, "Effect"), Msg: "missing"}
	}
	if !haveAction {
		return nil, &Error{Path: join(path, "Action"), Msg: "missing (a statement needs Action or NotAction)"}
	}
	for _, a := range st.Actions.Values {
		st.actions = append(st.actions, compilePattern(a, true, false, true, globFree))
	}
	for _, r := range st.Resources.Values {
		st.resources = append(st.resources, compilePattern(r, true, variables, false, globResource))
	}
	return st, nil
}

// checkAction accepts "*", "service:action" and wildcard patterns that
// match across the colon ("iam*").
func checkAction(a string) error {
	if a == "*" || !strings.Contains(a, ":") && strings.ContainsAny(a, "*?") {
		return nil
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.Contains(name, ":") {
		return fmt.Errorf("action %q is not \"*\" or \"service:action\"", a)
	}
	return nil
}

func parsePrincipals(v any, path string) (*Principals, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("a string principal must be \"*\", got %q (use {\"AWS\": ...})", s)}
		}
		return &Principals{Anyone: true}, nil
	}
	o, ok := v.(*object)
	if !ok {
		return nil, &Error{Path: path, Msg: "must be \"*\" or an object, got " + kind(v)}
	}
	if len(o.keys) == 0 {
		return nil, &Error{Path: path, Msg: "the object is empty"}
	}
	p := &Principals{}
	for _, k := range o.keys {
		at := join(path, k)
		vals, err := stringList(o.vals[k], at)
		if err != nil {
			return nil, err
		}
		for i, s := range vals {
			if s != "*" && strings.ContainsAny(s, "*?") {
				return nil, &Error{Path: elemPath(at, o.vals[k], i), Msg: fmt.Sprintf("principal %q: wildcards are not allowed in a principal, only \"*\" alone", s)}
			}
			if s == "*" && k != "AWS" {
				return nil, &Error{Path: elemPath(at, o.vals[k], i), Msg: "\"*\" is only valid as \"Principal\": \"*\" or {\"AWS\": \"*\"}"}
			}
		}
		switch k {
		case "AWS":
			for i, s := range vals {
				if s == "*" {
					p.Anyone = true
					continue
				}
				if !validAWSPrincipal(s) {
					return nil, &Error{Path: elemPath(at, o.vals[k], i), Msg: fmt.Sprintf("%q is not an account id or an IAM/STS ARN", s)}
				}
				p.AWS = append(p.AWS, s)
			}
		case "Service":
			p.Service = append(p.Service, vals...)
		case "Federated":
			p.Federated = append(p.Federated, vals...)
		case "CanonicalUser":
			p.CanonicalUser = append(p.CanonicalUser, vals...)
		default:
			return nil, &Error{Path: at, Msg: "unknown principal type " + quote(k) + " (want AWS, Service, Federated, CanonicalUser)"}
		}
	}
	return p, nil
}

// validAWSPrincipal accepts a 12-digit account id or an ARN. Deleted
// principals show as unique ids (AIDA…, AROA…), which AWS keeps in
// policies; they are accepted and match nothing.
func validAWSPrincipal(s string) bool {
	if isAccountID(s) || strings.HasPrefix(s, "arn:") {
		return true
	}
	return len(s) >= 16 && strings.ToUpper(s) == s && strings.HasPrefix(s, "A")
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// stringList reads a string or a non-empty list of strings.
func stringList(v any, path string) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		if len(x) == 0 {
			return nil, &Error{Path: path, Msg: "the list is empty"}
		}
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, &Error{Path: fmt.Sprintf("%s[%d]", path, i), Msg: "must be a string, got " + kind(e)}
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, &Error{Path: path, Msg: "must be a string or a list of strings, got " + kind(v)}
}

// elemPath is path[i] when v is a list, else path.
func elemPath(path string, v any, i int) string {
	if _, ok := v.([]any); ok {
		return fmt.Sprintf("%s[%d]", path, i)
	}
	return path
}

// show renders a decoded value for an error message.
func show(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	}
	return kind(v)
}
