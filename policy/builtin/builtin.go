// Package builtin embeds the checks that ship with Vigil.
package builtin

import (
	"embed"

	"github.com/vigilsec/vigil/policy"
)

//go:embed aws azure
var files embed.FS

// Source returns the built-in checks as a policy source named "builtin".
func Source() policy.Source { return policy.Source{FS: files, Name: "builtin"} }
