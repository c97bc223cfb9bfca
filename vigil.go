// Package vigil holds Vigil's domain: accounts, resources and their versions,
// checks and their results, scans, and the interfaces that the cloud
// collectors and the stores implement. It imports no cloud SDK and no database.
package vigil

// Provider names a cloud.
type Provider string

// Supported providers.
const (
	AWS   Provider = "aws"
	Azure Provider = "azure"
)

// Account is one cloud account Vigil scans: an AWS account or an Azure subscription.
type Account struct {
	Provider Provider `json:"provider"`
	ID       string   `json:"id"`
	Name     string   `json:"name,omitempty"`
	Profile  string   `json:"profile,omitempty"`
	RoleARN  string   `json:"role_arn,omitempty"`
	// ExternalID goes with RoleARN when the role's trust policy requires one.
	ExternalID string            `json:"external_id,omitempty"`
	Regions    []string          `json:"regions,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}
