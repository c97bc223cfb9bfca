package azure

import (
	"context"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigilsec/vigil"
)

// Properties of azure.subscription that the security service sets.
const (
	propDefenderPlans    = "defender_plans"
	propSecurityContacts = "security_contacts"
	propAutoProvisioning = "auto_provisioning"
)

// ARM operations of the security (Defender for Cloud) collector.
const (
	opPricingsRead         = "Microsoft.Security/pricings/read"
	opSecurityContactsRead = "Microsoft.Security/securityContacts/read"
	opAutoProvisioningRead = "Microsoft.Security/autoProvisioningSettings/read"
)

func init() {
	register(&service{
		name: "security",
		// Defender for Cloud settings are subscription-wide: they go on the
		// azure.subscription resource, each with its own read error.
		types:   nil,
		collect: collectSecurity,
		get:     getSecurity,
	})
	namespaceService["microsoft.security"] = "security"
}

// collectSecurity reads the subscription's Defender plans, security
// contacts and auto-provisioning settings into azure.subscription. Each
// setting fails on its own: a denied contacts read leaves the plans.
func collectSecurity(ctx context.Context, t *task) error {
	scope := "subscriptions/" + t.acct.ID
	pc, err := armsecurity.NewPricingsClient(t.c.cred, t.c.clientOpts)
	if err == nil {
		var resp armsecurity.PricingsClientListResponse
		resp, err = pc.List(ctx, scope, nil)
		if err == nil {
			t.syn.set(propDefenderPlans, defenderPlans(resp.Value))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.subscriptionFailed(propDefenderPlans, opPricingsRead, err)
	}

	contacts, err := t.securityContacts(ctx)
	if err == nil {
		t.syn.set(propSecurityContacts, contacts)
	} else {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.subscriptionFailed(propSecurityContacts, opSecurityContactsRead, err)
	}

	auto, err := t.autoProvisioning(ctx)
	if err == nil {
		t.syn.set(propAutoProvisioning, auto)
	} else {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.subscriptionFailed(propAutoProvisioning, opAutoProvisioningRead, err)
	}
	return nil
}

// defenderPlans is the defender_plans property: plan name ("VirtualMachines",
// "StorageAccounts", …) → its tier, sub-plan and extensions.
func defenderPlans(ps []*armsecurity.Pricing) map[string]any {
	out := make(map[string]any, len(ps))
	for _, p := range ps {
		if p == nil || p.Name == nil {
			continue
		}
		props := deref(p.Properties)
		exts := map[string]any{}
		for _, x := range props.Extensions {
			if x != nil && x.Name != nil {
				exts[*x.Name] = deref(x.IsEnabled) == armsecurity.IsEnabledTrue
			}
		}
		out[*p.Name] = map[string]any{
			"tier":       string(deref(props.PricingTier)),
			"sub_plan":   deref(props.SubPlan),
			"extensions": exts,
			"deprecated": deref(props.Deprecated),
		}
	}
	return out
}

// securityContacts lists the subscription's security contacts, sorted by
// name.
func (t *task) securityContacts(ctx context.Context) ([]any, error) {
	cc, err := armsecurity.NewContactsClient(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return nil, err
	}
	var out []any
	pager := cc.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range page.Value {
			if c != nil {
				out = append(out, contactProps(*c))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return out[i].(map[string]any)["name"].(string) < out[j].(map[string]any)["name"].(string)
	})
	return orEmpty(out), nil
}

// contactProps is one security contact. Since API version
// 2023-12-01-preview the alert notification is a notification source of
// type Alert; its presence means Defender mails alerts of at least its
// minimal severity.
func contactProps(c armsecurity.Contact) map[string]any {
	p := deref(c.Properties)
	var emails []any
	for _, e := range strings.Split(deref(p.Emails), ";") {
		if e = strings.TrimSpace(e); e != "" {
			emails = append(emails, e)
		}
	}
	alerts := map[string]any{"state": "Off", "minimal_severity": ""}
	attackPaths := map[string]any{"state": "Off", "minimal_risk_level": ""}
	for _, s := range p.NotificationsSources {
		switch s := s.(type) {
		case *armsecurity.NotificationsSourceAlert:
			alerts = map[string]any{"state": "On", "minimal_severity": string(deref(s.MinimalSeverity))}
		case *armsecurity.NotificationsSourceAttackPath:
			attackPaths = map[string]any{"state": "On", "minimal_risk_level": string(deref(s.MinimalRiskLevel))}
		}
	}
	byRole := deref(p.NotificationsByRole)
	var roles []any
	for _, r := range byRole.Roles {
		if r != nil {
			roles = append(roles, string(*r))
		}
	}
	return map[string]any{
		"name":                      deref(c.Name),
		"enabled":                   deref(p.IsEnabled),
		"emails":                    orEmpty(emails),
		"phone":                     deref(p.Phone),
		"alert_notifications":       alerts,
		"attack_path_notifications": attackPaths,
		"notifications_by_role":     map[string]any{"state": string(deref(byRole.State)), "roles": orEmpty(roles)},
	}
}

// autoProvisioning is the auto_provisioning property: setting name
// ("default") → "On" or "Off".
func (t *task) autoProvisioning(ctx context.Context) (map[string]any, error) {
	ac, err := armsecurity.NewAutoProvisioningSettingsClient(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	pager := ac.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Value {
			if s != nil && s.Name != nil {
				out[*s.Name] = string(deref(deref(s.Properties).AutoProvision))
			}
		}
	}
	return out, nil
}

// getSecurity refuses ids of Microsoft.Security: Defender settings are
// properties of azure.subscription, re-read with the subscription's id.
func getSecurity(_ context.Context, _ *task, id *arm.ResourceID) (vigil.Resource, error) {
	return vigil.Resource{}, vigil.Errorf(vigil.EINVALID,
		"azure resource id %s: Defender for Cloud settings are properties of azure.subscription; get /subscriptions/%s instead",
		id.String(), id.SubscriptionID)
}
