package policy

import (
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/vigilsec/vigil/iampolicy"
)

// varTrusted is {"accounts": [...], "org_ids": [...]}: whom the scanned
// accounts trust besides themselves (vigil scan --trusted-accounts, --org-id).
const varTrusted = "trusted"

// Trust is the trusted set that cross-account checks compare against.
type Trust struct {
	Accounts []string
	OrgIDs   []string
}

func (t Trust) value() map[string]any {
	accts := make([]any, len(t.Accounts))
	for i, a := range t.Accounts {
		accts[i] = a
	}
	orgs := make([]any, len(t.OrgIDs))
	for i, o := range t.OrgIDs {
		orgs[i] = o
	}
	return map[string]any{"accounts": accts, "org_ids": orgs}
}

// iamFunctions are the CEL functions over policy documents, all backed by
// the iampolicy engine. A document the engine cannot parse or decide is an
// evaluation error, so the check yields error, never pass.
func iamFunctions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.Variable(varTrusted, cel.DynType),
		cel.Function("iam.isPublic",
			cel.Overload("iam_is_public_dyn", []*cel.Type{cel.DynType}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return isPublic(v, "") })),
			cel.Overload("iam_is_public_dyn_string", []*cel.Type{cel.DynType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(func(v, typ ref.Val) ref.Val { return isPublic(v, string(typ.(types.String))) }))),
		cel.Function("iam.public",
			cel.Overload("iam_public_dyn_string", []*cel.Type{cel.DynType, cel.StringType}, cel.MapType(cel.StringType, cel.DynType),
				cel.BinaryBinding(publicAccess))),
		cel.Function("iam.crossAccount",
			cel.Overload("iam_cross_account_dyn_string_string_dyn", []*cel.Type{cel.DynType, cel.StringType, cel.StringType, cel.DynType},
				cel.ListType(cel.MapType(cel.StringType, cel.DynType)),
				cel.FunctionBinding(crossAccount)),
			cel.Overload("iam_cross_account_dyn_string_string_dyn_list", []*cel.Type{cel.DynType, cel.StringType, cel.StringType, cel.DynType, cel.ListType(cel.StringType)},
				cel.ListType(cel.MapType(cel.StringType, cel.DynType)),
				cel.FunctionBinding(crossAccount))),
		cel.Function("iam.grantsAdmin",
			cel.Overload("iam_grants_admin_dyn", []*cel.Type{cel.DynType}, cel.BoolType,
				cel.UnaryBinding(grantsAdmin))),
		cel.Function("iam.principal",
			cel.Overload("iam_principal_dyn_dyn", []*cel.Type{cel.DynType, cel.DynType}, cel.MapType(cel.StringType, cel.DynType),
				cel.BinaryBinding(principalAccess))),
	}
}

// errNoPolicy marks a null document: no policy at all.
var errNoPolicy = errors.New("no policy")

// parseDoc parses a collected document (null is errNoPolicy).
func parseDoc(v ref.Val) (*iampolicy.Policy, error) {
	if v == types.NullValue {
		return nil, errNoPolicy
	}
	doc := plain(native(v))
	if doc == nil {
		return nil, errNoPolicy
	}
	if m, ok := doc.(map[string]any); ok && m["_error"] != nil {
		return nil, fmt.Errorf("the policy document does not parse: %v", m["_error"])
	}
	return iampolicy.ParseValue(doc)
}

func isPublic(v ref.Val, typ string) ref.Val {
	p, err := parseDoc(v)
	if errors.Is(err, errNoPolicy) {
		return types.False
	}
	if err != nil {
		return types.NewErr("iam.isPublic: %v", err)
	}
	r := iampolicy.IsPublic(p, iampolicy.Options{ResourceType: typ})
	if r.Verdict == iampolicy.Unknown {
		return types.NewErr("iam.isPublic: %s", strings.Join(r.Reasons, "; "))
	}
	return types.Bool(r.Verdict == iampolicy.Public)
}

func publicAccess(v, typ ref.Val) ref.Val {
	p, err := parseDoc(v)
	if errors.Is(err, errNoPolicy) {
		return types.DefaultTypeAdapter.NativeToValue(map[string]any{
			"public": string(iampolicy.NotPublic), "reasons": []string{"there is no policy"},
			"statements": []string{}, "actions": []string{}})
	}
	if err != nil {
		return types.NewErr("iam.public: %v", err)
	}
	r := iampolicy.IsPublic(p, iampolicy.Options{ResourceType: string(typ.(types.String))})
	if r.Verdict == iampolicy.Unknown {
		return types.NewErr("iam.public: %s", strings.Join(r.Reasons, "; "))
	}
	return types.DefaultTypeAdapter.NativeToValue(map[string]any{
		"public": string(r.Verdict), "reasons": nonNilStrings(r.Reasons),
		"statements": nonNilStrings(r.Statements), "actions": nonNilStrings(r.Actions)})
}

func crossAccount(args ...ref.Val) ref.Val {
	p, err := parseDoc(args[0])
	if errors.Is(err, errNoPolicy) {
		return types.DefaultTypeAdapter.NativeToValue([]map[string]any{})
	}
	if err != nil {
		return types.NewErr("iam.crossAccount: %v", err)
	}
	o := iampolicy.Options{ResourceType: string(args[1].(types.String)), Account: string(args[2].(types.String))}
	if t, ok := plain(native(args[3])).(map[string]any); ok {
		o.TrustedAccounts = stringsOf(t["accounts"])
		o.OrgIDs = stringsOf(t["org_ids"])
	}
	if len(args) > 4 {
		// Only these actions: "may another account change the bucket's policy?"
		o.Actions = stringsOf(plain(native(args[4])))
	}
	acc, complete := iampolicy.CrossAccount(p, o)
	if !complete {
		return types.NewErr("iam.crossAccount: the policy is too complex to analyze within the search budget")
	}
	out := make([]map[string]any, len(acc))
	for i, a := range acc {
		out[i] = map[string]any{"principal": a.Principal, "actions": nonNilStrings(a.Actions),
			"statements": nonNilStrings(a.Statements), "reason": a.Reason}
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

func grantsAdmin(v ref.Val) ref.Val {
	p, err := parseDoc(v)
	if errors.Is(err, errNoPolicy) {
		return types.False
	}
	if err != nil {
		return types.NewErr("iam.grantsAdmin: %v", err)
	}
	r := iampolicy.AnalyzePrincipal([]*iampolicy.Policy{p}, nil)
	if r.Undecided && !r.Admin {
		return types.NewErr("iam.grantsAdmin: the policy is too complex to analyze within the search budget")
	}
	return types.Bool(r.Admin)
}

// principalAccess analyzes a principal's policies: a list of documents or
// of {document: …} objects (effective_policies), and a boundary document
// or null.
func principalAccess(list, boundary ref.Val) ref.Val {
	items, ok := plain(native(list)).([]any)
	if !ok {
		return types.NewErr("iam.principal: want a list of policy documents, got %s", list.Type().TypeName())
	}
	var ps []*iampolicy.Policy
	for i, it := range items {
		doc := it
		if m, ok := it.(map[string]any); ok {
			if d, has := m["document"]; has {
				doc = d
			}
		}
		p, err := parseDoc(types.DefaultTypeAdapter.NativeToValue(doc))
		if errors.Is(err, errNoPolicy) {
			continue
		}
		if err != nil {
			return types.NewErr("iam.principal: policy %d: %v", i, err)
		}
		ps = append(ps, p)
	}
	var b *iampolicy.Policy
	if bp, err := parseDoc(boundary); err == nil {
		b = bp
	} else if !errors.Is(err, errNoPolicy) {
		return types.NewErr("iam.principal: permissions boundary: %v", err)
	}
	r := iampolicy.AnalyzePrincipal(ps, b)
	if r.Undecided && !r.Admin {
		return types.NewErr("iam.principal: the policies are too complex to analyze within the search budget")
	}
	esc := make([]map[string]any, len(r.Escalations))
	for i, e := range r.Escalations {
		esc[i] = map[string]any{"path": e.Path, "permissions": nonNilStrings(e.Permissions),
			"statements": nonNilStrings(e.Statements), "description": e.Description}
	}
	return types.DefaultTypeAdapter.NativeToValue(map[string]any{
		"admin": r.Admin, "full_iam": r.FullIAM, "privilege_escalation": esc, "reasons": nonNilStrings(r.Reasons)})
}

// plain replaces CEL's protobuf nulls inside converted values with nil.
func plain(v any) any {
	switch x := v.(type) {
	case structpb.NullValue:
		return nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func stringsOf(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
