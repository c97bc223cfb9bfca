package azuretest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	authfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2/fake"
)

// Tables of Microsoft.Authorization, keyed by ARM id.
const (
	tableRoleDefinitions = "authorization.roleDefinitions"
	tableRoleAssignments = "authorization.roleAssignments"
)

func init() {
	RegisterNamespace("Microsoft.Authorization", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"roleDefinitions": loadKeyedModel[armauthorization.RoleDefinition](tableRoleDefinitions,
				func(d *armauthorization.RoleDefinition) *string { return d.ID }),
			"roleAssignments": loadKeyedModel[armauthorization.RoleAssignment](tableRoleAssignments,
				func(a *armauthorization.RoleAssignment) *string { return a.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return authfake.NewServerFactoryTransport(e.authorizationServer(sub))
		},
	})
}

// authorizationServer serves Microsoft.Authorization for one subscription:
// role definitions (built-in ones are seeded with subscription-scoped ids,
// as ARM lists them) and role assignments, read-only.
func (e *Estate) authorizationServer(sub string) *authfake.ServerFactory {
	defs := Table[armauthorization.RoleDefinition](e, tableRoleDefinitions)
	assigns := Table[armauthorization.RoleAssignment](e, tableRoleAssignments)
	prefix := "/subscriptions/" + sub + "/"
	return &authfake.ServerFactory{
		RoleDefinitionsServer: authfake.RoleDefinitionsServer{
			NewListPager: func(scope string, opts *armauthorization.RoleDefinitionsClientListOptions) (resp azfake.PagerResponder[armauthorization.RoleDefinitionsClientListResponse]) {
				items := List(e, defs, "/"+strings.Trim(scope, "/")+"/providers/Microsoft.Authorization/roleDefinitions/")
				if opts != nil && opts.Filter != nil && strings.EqualFold(*opts.Filter, "type eq 'CustomRole'") {
					kept := items[:0]
					for _, d := range items {
						if d.Properties != nil && d.Properties.RoleType != nil && *d.Properties.RoleType == "CustomRole" {
							kept = append(kept, d)
						}
					}
					items = kept
				}
				for _, page := range Pages(e, items) {
					resp.AddPage(http.StatusOK, armauthorization.RoleDefinitionsClientListResponse{
						RoleDefinitionListResult: armauthorization.RoleDefinitionListResult{Value: page}}, nil)
				}
				return
			},
			GetByID: func(_ context.Context, id string, _ *armauthorization.RoleDefinitionsClientGetByIDOptions) (resp azfake.Responder[armauthorization.RoleDefinitionsClientGetByIDResponse], errResp azfake.ErrorResponder) {
				d, ok := Get(e, defs, "/"+strings.TrimLeft(id, "/"))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "RoleDefinitionDoesNotExist")
					return
				}
				resp.SetResponse(http.StatusOK, armauthorization.RoleDefinitionsClientGetByIDResponse{RoleDefinition: d}, nil)
				return
			},
		},
		RoleAssignmentsServer: authfake.RoleAssignmentsServer{
			NewListForSubscriptionPager: func(*armauthorization.RoleAssignmentsClientListForSubscriptionOptions) (resp azfake.PagerResponder[armauthorization.RoleAssignmentsClientListForSubscriptionResponse]) {
				for _, page := range Pages(e, List(e, assigns, prefix)) {
					resp.AddPage(http.StatusOK, armauthorization.RoleAssignmentsClientListForSubscriptionResponse{
						RoleAssignmentListResult: armauthorization.RoleAssignmentListResult{Value: page}}, nil)
				}
				return
			},
			GetByID: func(_ context.Context, id string, _ *armauthorization.RoleAssignmentsClientGetByIDOptions) (resp azfake.Responder[armauthorization.RoleAssignmentsClientGetByIDResponse], errResp azfake.ErrorResponder) {
				a, ok := Get(e, assigns, "/"+strings.TrimLeft(id, "/"))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "RoleAssignmentNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armauthorization.RoleAssignmentsClientGetByIDResponse{RoleAssignment: a}, nil)
				return
			},
		},
	}
}
