package azure

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// ARM operations of the network fix actions, as named in Azure RBAC.
const (
	opSecurityRulesWrite  = "Microsoft.Network/networkSecurityGroups/securityRules/write"
	opSecurityRulesDelete = "Microsoft.Network/networkSecurityGroups/securityRules/delete"
)

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &nsgRestrictRule{fixAction{f: f, id: "azure.network.nsg-restrict-internet-rule", typ: TypeNSG,
			title: "delete the inbound rules that let the Internet in on the finding's ports (param mode=restrict with cidrs: replace their source instead)",
			perms: []string{opSubscriptionRead, opNSGRead, opSecurityRulesWrite, opSecurityRulesDelete}}}
	})
}

// exposure is what a check counts as an Internet-facing rule: protocols and
// destination ports (nil ports: any).
type exposure struct {
	protocols map[string]bool
	ports     []int
}

// exposures are the NSG checks this action fixes, by check id; they mirror
// the checks' expressions (policy/builtin/azure/network).
var exposures = map[string]exposure{
	"azure-network-nsg-no-internet-rdp":  {protocols: map[string]bool{"tcp": true, "udp": true, "*": true}, ports: []int{3389}},
	"azure-network-nsg-no-internet-ssh":  {protocols: map[string]bool{"tcp": true, "*": true}, ports: []int{22}},
	"azure-network-nsg-no-internet-http": {protocols: map[string]bool{"tcp": true, "*": true}, ports: []int{80, 443}},
	"azure-network-nsg-no-internet-udp":  {protocols: map[string]bool{"udp": true, "*": true}},
}

// exposes reports whether a rule, as collected (internet_ports), lets the
// Internet in on one of the exposure's protocols and ports.
func (x exposure) exposes(doc map[string]any) bool {
	open := doc["internet_ports"].(map[string][]any)
	for _, proto := range netProtocols {
		if !x.protocols[proto] {
			continue
		}
		if x.ports == nil && len(open[proto]) > 0 {
			return true
		}
		for _, port := range x.ports {
			for _, pr := range open[proto] {
				m := pr.(map[string]any)
				if m["from"].(int) <= port && port <= m["to"].(int) {
					return true
				}
			}
		}
	}
	return false
}

// offending returns the rules that must go for the NSG to stop exposing
// the ports: the rules that let the Internet in now and, once those are
// gone, the ones they shadowed, until none is left. A rule that a Deny
// shadows stays: it lets nothing in.
func (x exposure) offending(rules []*armnetwork.SecurityRule) []*armnetwork.SecurityRule {
	var out []*armnetwork.SecurityRule
	remaining := rules
	for {
		sorted, docs := ruleDocs(remaining)
		var hit []*armnetwork.SecurityRule
		var kept []*armnetwork.SecurityRule
		for i, r := range sorted {
			if x.exposes(docs[i].(map[string]any)) {
				hit = append(hit, r)
			} else {
				kept = append(kept, r)
			}
		}
		if len(hit) == 0 {
			return out
		}
		out, remaining = append(out, hit...), kept
	}
}

// nsgRestrictRule deletes (mode delete, the default) or narrows (mode
// restrict: the source becomes param cidrs) each inbound rule of the NSG
// that lets the Internet in on the ports of the finding's check, and only
// those: param rule names one of them to change just that one. Undo puts
// the rules back as they were.
type nsgRestrictRule struct{ fixAction }

// nsgParams are the action's validated parameters.
type nsgParams struct {
	mode  string
	rule  string
	cidrs []string
}

func parseNSGParams(params map[string]any) (nsgParams, error) {
	out := nsgParams{mode: "delete"}
	if m, ok := params["mode"]; ok && m != nil {
		s, _ := m.(string)
		if s != "delete" && s != "restrict" {
			return out, vigil.Errorf(vigil.EINVALID, "param mode of azure.network.nsg-restrict-internet-rule: %v is neither delete nor restrict", m)
		}
		out.mode = s
	}
	if r, ok := params["rule"]; ok && r != nil {
		s, ok := r.(string)
		if !ok || s == "" {
			return out, vigil.Errorf(vigil.EINVALID, "param rule of azure.network.nsg-restrict-internet-rule: want a rule name, got %v", r)
		}
		out.rule = s
	}
	var raw []string
	switch c := params["cidrs"].(type) {
	case nil:
	case string:
		raw = strings.Split(c, ",")
	case []string:
		raw = c
	case []any:
		for _, v := range c {
			s, ok := v.(string)
			if !ok {
				return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule: %v is not a CIDR string", v)
			}
			raw = append(raw, s)
		}
	default:
		return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule: want a list of CIDRs, got %T", c)
	}
	for _, s := range raw {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule: %q is not an IP address or CIDR", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 || worldSources[strings.ToLower(s)] {
			return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule: %q is the whole Internet", s)
		}
		out.cidrs = append(out.cidrs, s)
	}
	switch {
	case out.mode == "restrict" && len(out.cidrs) == 0:
		return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule: mode restrict needs the trusted source ranges, e.g. cidrs=203.0.113.0/24")
	case out.mode == "delete" && len(out.cidrs) > 0:
		return out, vigil.Errorf(vigil.EINVALID, "param cidrs of azure.network.nsg-restrict-internet-rule is only for mode restrict")
	}
	return out, nil
}

// networkFactory returns network clients with the remediation credential.
func (f *Fixer) networkFactory(ctx context.Context, sub string) (*armnetwork.ClientFactory, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armnetwork.NewClientFactory(sub, cred, opts)
}

func (a *nsgRestrictRule) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	params, err := parseNSGParams(t.Params)
	if err != nil {
		return nil, err
	}
	x, ok := exposures[t.CheckID]
	if !ok {
		known := make([]string, 0, len(exposures))
		for k := range exposures {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, vigil.Errorf(vigil.EINVALID, "azure.network.nsg-restrict-internet-rule fixes the findings of %s, not of %s", strings.Join(known, ", "), t.CheckID)
	}
	id, err := parseTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	fac, err := a.f.networkFactory(ctx, id.SubscriptionID)
	if err != nil {
		return nil, err
	}
	resp, err := fac.NewSecurityGroupsClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opNSGRead, errorf(err))
	}
	var offending []*armnetwork.SecurityRule
	named := false
	for _, r := range deref(resp.Properties).SecurityRules {
		if params.rule != "" && r != nil && strings.EqualFold(deref(r.Name), params.rule) {
			named = true
		}
	}
	for _, r := range x.offending(deref(resp.Properties).SecurityRules) {
		if params.rule == "" || strings.EqualFold(deref(r.Name), params.rule) {
			offending = append(offending, r)
		}
	}
	if params.rule != "" && !named {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "network security group %s has no rule %q", t.Resource.Name, params.rule)
	}
	var rules []any
	plan := &fix.Plan{}
	for _, r := range offending {
		doc, err := jsonMap(r)
		if err != nil {
			return nil, err
		}
		rules = append(rules, doc)
		path := ruleID(t.Resource.UID, deref(r.Name))
		if params.mode == "delete" {
			plan.Steps = append(plan.Steps, fmt.Sprintf("delete inbound rule %s (priority %d) of network security group %s, which allows the Internet in", deref(r.Name), deref(deref(r.Properties).Priority), t.Resource.Name))
			plan.Calls = append(plan.Calls, vigil.FixCall{Operation: opSecurityRulesDelete, Input: call("DELETE", path, nil)})
			continue
		}
		body := restricted(doc, params.cidrs)
		plan.Steps = append(plan.Steps, fmt.Sprintf("replace the Internet source of inbound rule %s (priority %d) of network security group %s with %s", deref(r.Name), deref(deref(r.Properties).Priority), t.Resource.Name, strings.Join(params.cidrs, ", ")))
		plan.Calls = append(plan.Calls, vigil.FixCall{Operation: opSecurityRulesWrite, Input: call("PUT", path, body)})
	}
	plan.Before = map[string]any{"rules": orEmpty(rules)}
	if len(offending) == 0 {
		plan.NoOp = true
		plan.Steps = []string{"no inbound rule of network security group " + t.Resource.Name + " lets the Internet in for " + t.CheckID}
	}
	return plan, nil
}

// ruleID is the ARM id of a security rule of an NSG.
func ruleID(nsg, name string) string { return strings.TrimRight(nsg, "/") + "/securityRules/" + name }

// restricted returns the PUT body of a rule with its source replaced by
// cidrs: every other property (ports, protocol, priority, destination,
// description) as it was. Read-only fields stay out of the body.
func restricted(rule map[string]any, cidrs []string) map[string]any {
	props, _ := rule["properties"].(map[string]any)
	next := map[string]any{}
	for k, v := range props {
		switch k {
		case "provisioningState", "sourceAddressPrefix", "sourceAddressPrefixes", "sourceApplicationSecurityGroups":
			continue
		}
		next[k] = v
	}
	list := make([]any, len(cidrs))
	for i, c := range cidrs {
		list[i] = c
	}
	next["sourceAddressPrefixes"] = list
	return map[string]any{"properties": next}
}

// putBody is the PUT body that re-creates a rule from its recorded JSON.
func putBody(rule map[string]any) map[string]any {
	props, _ := rule["properties"].(map[string]any)
	next := map[string]any{}
	for k, v := range props {
		if k != "provisioningState" {
			next[k] = v
		}
	}
	return map[string]any{"properties": next}
}

func (a *nsgRestrictRule) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	id, err := parseTarget(t.Resource)
	if err != nil {
		return err
	}
	fac, err := a.f.networkFactory(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	for _, c := range p.Calls {
		path, _ := c.Input["path"].(string)
		name := path[strings.LastIndex(path, "/")+1:]
		switch c.Operation {
		case opSecurityRulesDelete:
			if err := a.delete(ctx, fac, id.ResourceGroupName, id.Name, path, name, rec); err != nil {
				return err
			}
		case opSecurityRulesWrite:
			body, _ := c.Input["body"].(map[string]any)
			if err := a.put(ctx, fac, id.ResourceGroupName, id.Name, path, name, body, rec); err != nil {
				return err
			}
		default:
			return vigil.Errorf(vigil.EINVALID, "the fix plan has an unknown call %s", c.Operation)
		}
	}
	return nil
}

func (a *nsgRestrictRule) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	rules, ok := before["rules"].([]any)
	if !ok || len(rules) == 0 {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no rules to restore")
	}
	id, err := parseTarget(t.Resource)
	if err != nil {
		return err
	}
	fac, err := a.f.networkFactory(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	for _, r := range rules {
		doc, _ := r.(map[string]any)
		name, _ := doc["name"].(string)
		if name == "" {
			return vigil.Errorf(vigil.EINVALID, "a recorded rule has no name")
		}
		if err := a.put(ctx, fac, id.ResourceGroupName, id.Name, ruleID(t.Resource.UID, name), name, putBody(doc), rec); err != nil {
			return err
		}
	}
	return nil
}

// pollEvery is how often a long-running rule change is polled; ARM asks
// for its own interval with Retry-After, which the poller prefers.
const pollEvery = 2 * time.Second

func (a *nsgRestrictRule) delete(ctx context.Context, fac *armnetwork.ClientFactory, rg, nsg, path, name string, rec *fix.Recorder) error {
	return rec.Do(opSecurityRulesDelete, call("DELETE", path, nil), func() error {
		poller, err := fac.NewSecurityRulesClient().BeginDelete(ctx, rg, nsg, name, nil)
		if err != nil {
			return errorOf(err)
		}
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: pollEvery})
		return errorOf(err)
	})
}

func (a *nsgRestrictRule) put(ctx context.Context, fac *armnetwork.ClientFactory, rg, nsg, path, name string, body map[string]any, rec *fix.Recorder) error {
	var rule armnetwork.SecurityRule
	if err := fromJSON(body, &rule); err != nil {
		return vigil.Errorf(vigil.EINVALID, "security rule body: %v", err)
	}
	return rec.Do(opSecurityRulesWrite, call("PUT", path, body), func() error {
		poller, err := fac.NewSecurityRulesClient().BeginCreateOrUpdate(ctx, rg, nsg, name, rule, nil)
		if err != nil {
			return errorOf(err)
		}
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: pollEvery})
		return errorOf(err)
	})
}
