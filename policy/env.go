// Package policy loads checks (YAML files with CEL expressions), compiles
// them once, and evaluates them against resources. A check that reads a
// property which could not be collected yields error, never pass.
package policy

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/parser"
)

// Variables every check expression can use.
const (
	varResource = "resource" // the properties document
	varName     = "name"
	varUID      = "uid"
	varRegion   = "region"
	varAccount  = "account"
	varTags     = "tags"
	varNow      = "now" // evaluation time, used by daysSince
)

// newEnv returns the CEL environment of check expressions.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(append(append(iamFunctions(), EnvOptions()...),
		cel.Variable(varResource, cel.DynType),
		cel.Variable(varName, cel.StringType),
		cel.Variable(varUID, cel.StringType),
		cel.Variable(varRegion, cel.StringType),
		cel.Variable(varAccount, cel.StringType),
		cel.Variable(varTags, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(varNow, cel.TimestampType),
		// daysSince(ts) expands to daysSinceAt(ts, now) so that the clock
		// is an input of each evaluation rather than global state.
		cel.Macros(cel.GlobalMacro("daysSince", 1,
			func(eh parser.ExprHelper, _ ast.Expr, args []ast.Expr) (ast.Expr, *common.Error) {
				return eh.NewCall("daysSinceAt", args[0], eh.NewIdent(varNow)), nil
			})),
		cel.Function("daysSinceAt",
			cel.Overload("days_since_at_dyn_timestamp", []*cel.Type{cel.DynType, cel.TimestampType}, cel.IntType,
				cel.BinaryBinding(daysSinceAt))),
	)...)
}

func daysSinceAt(ts, now ref.Val) ref.Val {
	str, ok := ts.(types.String)
	switch {
	case ts == types.NullValue:
		return types.NewErr("daysSince: the timestamp is null")
	case !ok:
		return types.NewErr("daysSince: want an RFC 3339 timestamp string, got %s", ts.Type().TypeName())
	}
	t, err := parseTime(string(str))
	if err != nil {
		return types.NewErr("daysSince: %v", err)
	}
	return types.Int(int64(now.(types.Timestamp).Time.Sub(t).Hours()) / 24)
}

// isWorldCIDR reports whether s is the whole IPv4 or IPv6 address space.
func isWorldCIDR(s string) bool {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	return err == nil && p.Bits() == 0
}

func cidrContains(a, b ref.Val) ref.Val {
	outer, err := netip.ParsePrefix(string(a.(types.String)))
	if err != nil {
		return types.NewErr("cidr.contains: %v", err)
	}
	s := string(b.(types.String))
	if p, err := netip.ParsePrefix(s); err == nil {
		return types.Bool(outer.Bits() <= p.Bits() && outer.Contains(p.Addr()))
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return types.NewErr("cidr.contains: %q is neither an address nor a prefix", s)
	}
	return types.Bool(outer.Contains(ip))
}

// parseTime accepts the timestamp forms collectors write.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a timestamp: %q", s)
}

// native converts a CEL value to plain Go values (maps, slices, scalars).
func native(v ref.Val) any {
	switch x := v.Value().(type) {
	case map[string]any, []any, string, bool, float64, int64, int, nil:
		return x
	}
	if out, err := v.ConvertToNative(reflect.TypeOf(map[string]any{})); err == nil {
		return out
	}
	if out, err := v.ConvertToNative(reflect.TypeOf([]any{})); err == nil {
		return out
	}
	return v.Value()
}
