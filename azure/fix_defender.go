package azure

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// opPricingsWrite is the RBAC operation of the Defender plan PUT.
const opPricingsWrite = "Microsoft.Security/pricings/write"

// defenderCheckPlans maps each azure-defender-*-on check to the Defender
// for Cloud plan (pricing name) its expression reads.
var defenderCheckPlans = map[string]string{
	"azure-defender-servers-on":          "VirtualMachines",
	"azure-defender-azure-sql-on":        "SqlServers",
	"azure-defender-app-services-on":     "AppServices",
	"azure-defender-storage-on":          "StorageAccounts",
	"azure-defender-containers-on":       "Containers",
	"azure-defender-key-vault-on":        "KeyVaults",
	"azure-defender-resource-manager-on": "Arm",
	"azure-defender-open-source-db-on":   "OpenSourceRelationalDatabases",
	"azure-defender-cosmos-db-on":        "CosmosDbs",
	"azure-defender-sql-on-machines-on":  "SqlServerVirtualMachines",
}

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &defenderPlan{fixAction{f: f, id: "azure.defender.plan-standard", typ: TypeSubscription,
			title: "set a Microsoft Defender for Cloud plan of the subscription to the Standard (billed) tier (param plan, default: the finding's plan)",
			perms: []string{opSubscriptionRead, opPricingsRead, opPricingsWrite}}}
	})
}

// defenderPlan sets one Defender plan's pricingTier to Standard with a PUT
// of the pricing. Undo puts the previous tier (and sub-plan) back.
type defenderPlan struct{ fixAction }

// subscriptionOf returns the subscription id of an azure.subscription
// resource, whose uid is /subscriptions/{id}.
func subscriptionOf(r vigil.Resource) (string, error) {
	id, err := parseTarget(r)
	if err != nil {
		return "", err
	}
	if !strings.EqualFold(id.ResourceType.String(), "Microsoft.Resources/subscriptions") || id.SubscriptionID == "" {
		return "", vigil.Errorf(vigil.EINVALID, "azure resource id %s is not a subscription (/subscriptions/{id})", r.UID)
	}
	return id.SubscriptionID, nil
}

// defenderPlanName returns the plan to change: param plan (any case), or
// the plan the finding's check reads.
func defenderPlanName(t fix.Target) (string, error) {
	accepted := make([]string, 0, len(defenderCheckPlans))
	for _, p := range defenderCheckPlans {
		accepted = append(accepted, p)
	}
	sort.Strings(accepted)
	if v, ok := t.Params["plan"]; ok && v != nil {
		s, _ := v.(string)
		for _, p := range accepted {
			if strings.EqualFold(strings.TrimSpace(s), p) {
				return p, nil
			}
		}
		return "", vigil.Errorf(vigil.EINVALID, "param plan of azure.defender.plan-standard: %q is not a Defender plan this action turns on (accepted: %s)",
			fmt.Sprint(v), strings.Join(accepted, ", "))
	}
	if p, ok := defenderCheckPlans[t.CheckID]; ok {
		return p, nil
	}
	return "", vigil.Errorf(vigil.EINVALID, "azure.defender.plan-standard: check %q names no Defender plan; set param plan to one of %s",
		t.CheckID, strings.Join(accepted, ", "))
}

func (f *Fixer) pricingsClient(ctx context.Context, sub string) (*armsecurity.PricingsClient, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armsecurity.NewPricingsClient(cred, opts)
}

func pricingPath(sub, plan string) string {
	return "/subscriptions/" + sub + "/providers/Microsoft.Security/pricings/" + plan
}

func (a *defenderPlan) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	plan, err := defenderPlanName(t)
	if err != nil {
		return nil, err
	}
	sub, err := subscriptionOf(t.Resource)
	if err != nil {
		return nil, err
	}
	c, err := a.f.pricingsClient(ctx, sub)
	if err != nil {
		return nil, err
	}
	resp, err := c.Get(ctx, "subscriptions/"+sub, plan, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", opPricingsRead, plan, errorf(err))
	}
	props := deref(resp.Properties)
	tier, subPlan := string(deref(props.PricingTier)), deref(props.SubPlan)
	prev := map[string]any{"pricingTier": tier}
	if subPlan != "" {
		prev["subPlan"] = subPlan
	}
	before := map[string]any{"plan": plan, "pricing": prev}
	if strings.EqualFold(tier, string(armsecurity.PricingTierStandard)) {
		return &fix.Plan{NoOp: true, Before: before,
			Steps: []string{"the Defender plan " + plan + " of subscription " + sub + " is already on the Standard tier"}}, nil
	}
	want := map[string]any{"pricingTier": string(armsecurity.PricingTierStandard)}
	step := fmt.Sprintf("set the Microsoft Defender for Cloud plan %s of subscription %s from the %s tier to Standard", plan, sub, tier)
	if subPlan != "" {
		// Kept, so that the plan comes back with the features it had.
		want["subPlan"] = subPlan
		step += " (sub-plan " + subPlan + ")"
	}
	step += ": the Standard tier is billed, per protected resource, from now on"
	body := map[string]any{"properties": want}
	return &fix.Plan{Before: before, Steps: []string{step},
		Calls: []vigil.FixCall{{Operation: opPricingsWrite, Input: call("PUT", pricingPath(sub, plan), body)}}}, nil
}

func (a *defenderPlan) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	plan, _ := p.Before["plan"].(string)
	return a.put(ctx, t.Resource, plan, body, rec)
}

func (a *defenderPlan) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	plan, _ := before["plan"].(string)
	prev, ok := before["pricing"].(map[string]any)
	if plan == "" || !ok {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous Defender plan to restore")
	}
	return a.put(ctx, t.Resource, plan, map[string]any{"properties": prev}, rec)
}

func (a *defenderPlan) put(ctx context.Context, r vigil.Resource, plan string, body map[string]any, rec *fix.Recorder) error {
	if plan == "" {
		return vigil.Errorf(vigil.EINVALID, "the fix plan names no Defender plan")
	}
	sub, err := subscriptionOf(r)
	if err != nil {
		return err
	}
	c, err := a.f.pricingsClient(ctx, sub)
	if err != nil {
		return err
	}
	var pricing armsecurity.Pricing
	if err := fromJSON(body, &pricing); err != nil {
		return vigil.Errorf(vigil.EINVALID, "defender pricing body: %v", err)
	}
	return rec.Do(opPricingsWrite, call("PUT", pricingPath(sub, plan), body), func() error {
		_, err := c.Update(ctx, "subscriptions/"+sub, plan, pricing, nil)
		return errorOf(err)
	})
}
