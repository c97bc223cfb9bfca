package azure

import (
	"context"
	"errors"
	"path"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"

	"github.com/vigilsec/vigil"
)

// Authorization (Azure RBAC) resource types.
const (
	// TypeRoleDefinition is a custom role definition; built-in roles are
	// the same in every subscription and are not collected.
	TypeRoleDefinition = "azure.authorization.role_definition"
	// TypeRoleAssignment is a role assignment in the subscription or below.
	TypeRoleAssignment = "azure.authorization.role_assignment"
)

const (
	opRoleDefinitionsRead = "Microsoft.Authorization/roleDefinitions/read"
	opRoleAssignmentsRead = "Microsoft.Authorization/roleAssignments/read"
)

func init() {
	register(&service{
		name:    "authorization",
		types:   []string{TypeRoleDefinition, TypeRoleAssignment},
		collect: collectAuthorization,
		get:     getAuthorization,
	})
	namespaceService["microsoft.authorization"] = "authorization"
}

// role is what an assignment shows of its role definition.
type role struct{ name, typ string }

// collectAuthorization lists the role definitions assignable in the
// subscription once — streaming the custom ones, keeping every role's name
// — then the role assignments, each with its role's name resolved from
// that listing: two listings per subscription, however many assignments.
func collectAuthorization(ctx context.Context, t *task) error {
	f, err := armauthorization.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opRoleDefinitionsRead, err)
	}
	roles, defErr := t.listRoleDefinitions(ctx, f)
	if defErr != nil {
		var stop stopError
		if errors.As(defErr, &stop) || ctx.Err() != nil {
			return defErr
		}
		t.listFailed(TypeRoleDefinition, opRoleDefinitionsRead, defErr)
	}
	if err := t.listRoleAssignments(ctx, f, roles, defErr); err != nil {
		var stop stopError
		if errors.As(err, &stop) || ctx.Err() != nil {
			return err
		}
		t.listFailed(TypeRoleAssignment, opRoleAssignmentsRead, err)
	}
	return nil
}

// listRoleDefinitions streams the custom roles and returns every role's
// name and type by role definition GUID.
func (t *task) listRoleDefinitions(ctx context.Context, f *armauthorization.ClientFactory) (map[string]role, error) {
	roles := map[string]role{}
	pager := f.NewRoleDefinitionsClient().NewListPager("subscriptions/"+t.acct.ID, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Value {
			if d == nil || d.ID == nil {
				continue
			}
			p := deref(d.Properties)
			roles[roleKey(*d.ID)] = role{name: deref(p.RoleName), typ: deref(p.RoleType)}
			if !isCustomRole(*d) {
				continue
			}
			if err := t.emit(ctx, roleDefinitionResource(*d)); err != nil {
				return nil, err
			}
		}
	}
	return roles, nil
}

// listRoleAssignments streams the role assignments of the subscription.
// When the role definitions could not be listed (defErr), role_name and
// role_type are read errors of each assignment.
func (t *task) listRoleAssignments(ctx context.Context, f *armauthorization.ClientFactory, roles map[string]role, defErr error) error {
	pager := f.NewRoleAssignmentsClient().NewListForSubscriptionPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range page.Value {
			if a == nil || a.ID == nil {
				continue
			}
			r := roleAssignmentResource(*a)
			if defErr != nil {
				t.propErr(&r, "role_name", opRoleDefinitionsRead, defErr)
				t.propErr(&r, "role_type", opRoleDefinitionsRead, defErr)
			} else {
				// A role deleted since the assignment was made (ARM keeps
				// such orphans) resolves to "".
				ro := roles[roleKey(deref(deref(a.Properties).RoleDefinitionID))]
				r.Properties["role_name"], r.Properties["role_type"] = ro.name, ro.typ
			}
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// roleKey is a role definition's GUID, lowercased: ARM spells the id of
// one role with different scopes ("/providers/…" or
// "/subscriptions/{id}/providers/…") in different responses.
func roleKey(id string) string { return strings.ToLower(path.Base(strings.TrimRight(id, "/"))) }

func isCustomRole(d armauthorization.RoleDefinition) bool {
	return strings.EqualFold(deref(deref(d.Properties).RoleType), "CustomRole")
}

// subscriptionOrAbove matches the assignable scopes that cover a whole
// subscription: the root, a management group, a subscription.
var subscriptionOrAbove = regexp.MustCompile(`(?i)^(/|/providers/Microsoft\.Management/managementGroups/[^/]+|/subscriptions/[^/]+)/?$`)

// roleDefinitionResource builds the azure.authorization.role_definition
// resource. The permissions' actions are merged into one list each.
func roleDefinitionResource(d armauthorization.RoleDefinition) vigil.Resource {
	p := deref(d.Properties)
	var actions, notActions, dataActions, notDataActions []any
	all := false
	for _, perm := range p.Permissions {
		if perm == nil {
			continue
		}
		for _, a := range perm.Actions {
			if a != nil {
				actions = append(actions, *a)
				all = all || *a == "*"
			}
		}
		notActions = appendStrings(notActions, perm.NotActions)
		dataActions = appendStrings(dataActions, perm.DataActions)
		notDataActions = appendStrings(notDataActions, perm.NotDataActions)
	}
	var scopes []any
	wide := false
	for _, s := range p.AssignableScopes {
		if s != nil {
			scopes = append(scopes, *s)
			wide = wide || subscriptionOrAbove.MatchString(*s)
		}
	}
	return vigil.Resource{
		UID: deref(d.ID), Type: TypeRoleDefinition, Name: deref(p.RoleName), Region: regionGlobal,
		Properties: map[string]any{
			"role_name":         deref(p.RoleName),
			"role_type":         deref(p.RoleType),
			"description":       deref(p.Description),
			"assignable_scopes": orEmpty(scopes),
			"actions":           orEmpty(actions),
			"not_actions":       orEmpty(notActions),
			"data_actions":      orEmpty(dataActions),
			"not_data_actions":  orEmpty(notDataActions),
			// What CIS calls a custom subscription owner role: every action
			// (not_actions aside) assignable on a whole subscription.
			"allows_everything": all && wide,
		},
	}
}

func appendStrings(out []any, in []*string) []any {
	for _, s := range in {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// roleAssignmentResource builds the azure.authorization.role_assignment
// resource without its role's name and type, which the caller resolves.
func roleAssignmentResource(a armauthorization.RoleAssignment) vigil.Resource {
	p := deref(a.Properties)
	return vigil.Resource{
		UID: deref(a.ID), Type: TypeRoleAssignment, Name: deref(a.Name), Region: regionGlobal,
		Properties: map[string]any{
			"principal_id":       deref(p.PrincipalID),
			"principal_type":     string(deref(p.PrincipalType)),
			"role_definition_id": deref(p.RoleDefinitionID),
			"scope":              deref(p.Scope),
			"condition":          deref(p.Condition),
			"description":        deref(p.Description),
		},
	}
}

// getAuthorization re-reads a custom role definition or a role assignment
// by id; an assignment's role is read by its id.
func getAuthorization(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	f, err := armauthorization.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	switch strings.ToLower(strings.Join(id.ResourceType.Types, "/")) {
	case "roledefinitions":
		resp, err := f.NewRoleDefinitionsClient().GetByID(ctx, id.String(), nil)
		if err != nil {
			return vigil.Resource{}, withOp(opRoleDefinitionsRead, err)
		}
		if !isCustomRole(resp.RoleDefinition) {
			return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: built-in role %q is not collected", id.String(), deref(deref(resp.Properties).RoleName))
		}
		return roleDefinitionResource(resp.RoleDefinition), nil
	case "roleassignments":
		resp, err := f.NewRoleAssignmentsClient().GetByID(ctx, id.String(), nil)
		if err != nil {
			return vigil.Resource{}, withOp(opRoleAssignmentsRead, err)
		}
		r := roleAssignmentResource(resp.RoleAssignment)
		finish(&r, t.acct.ID, t.now())
		def, err := f.NewRoleDefinitionsClient().GetByID(ctx, deref(deref(resp.Properties).RoleDefinitionID), nil)
		switch {
		case err == nil:
			p := deref(def.Properties)
			r.Properties["role_name"], r.Properties["role_type"] = deref(p.RoleName), deref(p.RoleType)
		case classify(err) == vigil.ENOTFOUND:
			r.Properties["role_name"], r.Properties["role_type"] = "", ""
		default:
			t.propErr(&r, "role_name", opRoleDefinitionsRead, err)
			t.propErr(&r, "role_type", opRoleDefinitionsRead, err)
		}
		return r, nil
	}
	return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
}
