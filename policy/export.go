package policy

import (
	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// EnvOptions returns the CEL options that other expression languages of
// Vigil (alert rules) share with checks: cidr.isWorld, cidr.contains, the
// strings, sets and lists extensions, optional types and cross-type numeric
// comparisons. It declares no variables, so each environment names its own.
func EnvOptions() []cel.EnvOption {
	// Checks use these same options (newEnv): a rule and a check that
	// call cidr.isWorld on one value must agree.
	return []cel.EnvOption{
		// Properties from collectors carry ints, those read back from
		// the store carry doubles; comparisons must not care.
		cel.CrossTypeNumericComparisons(true),
		ext.Strings(),
		ext.Sets(),
		ext.Lists(),
		cel.OptionalTypes(),
		cel.Function("cidr.isWorld",
			cel.Overload("cidr_is_world_string", []*cel.Type{cel.StringType}, cel.BoolType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { return types.Bool(isWorldCIDR(string(v.(types.String)))) }))),
		cel.Function("cidr.contains",
			cel.Overload("cidr_contains_string_string", []*cel.Type{cel.StringType, cel.StringType}, cel.BoolType,
				cel.BinaryBinding(cidrContains))),
	}
}
