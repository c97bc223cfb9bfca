package azure

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vigilsec/vigil"
)

// TypeNSG is the resource type of network security groups.
const TypeNSG = "azure.network.nsg"

const opNSGRead = "Microsoft.Network/networkSecurityGroups/read"

func init() {
	register(&service{
		name:    "network",
		types:   []string{TypeNSG, TypeNetworkWatcher, TypeFlowLog},
		collect: collectNetwork,
		get:     getNetwork,
	})
}

// collectNetwork streams every network security group of the
// subscription, page by page, then the network watchers and their flow
// logs (watcher.go).
func collectNetwork(ctx context.Context, t *task) error {
	f, err := armnetwork.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opNSGRead, err)
	}
	return runListings(ctx, t, append([]listing{{typ: TypeNSG, list: func(ctx context.Context, t *task) error {
		pager := f.NewSecurityGroupsClient().NewListAllPager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return withOp(opNSGRead, err)
			}
			for _, g := range page.Value {
				if g == nil || g.ID == nil {
					continue
				}
				if err := t.emit(ctx, nsgResource(*g)); err != nil {
					return err
				}
			}
		}
		return nil
	}}}, watcherListings(f)...))
}

// nsgResource builds the azure.network.nsg resource.
func nsgResource(g armnetwork.SecurityGroup) vigil.Resource {
	p := deref(g.Properties)
	_, rules := ruleDocs(p.SecurityRules)
	ids := func(n int, get func(i int) *string) []any {
		var out []any
		for i := range n {
			if id := get(i); id != nil {
				out = append(out, *id)
			}
		}
		return orEmpty(out)
	}
	return vigil.Resource{
		UID: deref(g.ID), Type: TypeNSG, Name: deref(g.Name), Region: deref(g.Location), Tags: tags(g.Tags),
		Properties: map[string]any{
			"resource_group": resourceGroupOf(deref(g.ID)),
			"rules":          rules,
			"subnets": ids(len(p.Subnets), func(i int) *string {
				if p.Subnets[i] == nil {
					return nil
				}
				return p.Subnets[i].ID
			}),
			"network_interfaces": ids(len(p.NetworkInterfaces), func(i int) *string {
				if p.NetworkInterfaces[i] == nil {
					return nil
				}
				return p.NetworkInterfaces[i].ID
			}),
			"flow_logs": ids(len(p.FlowLogs), func(i int) *string {
				if p.FlowLogs[i] == nil {
					return nil
				}
				return p.FlowLogs[i].ID
			}),
		},
	}
}

// ruleDocs normalizes an NSG's rules in the order Azure applies them
// (direction, then priority) with their internet_ports; the rules are
// returned in the same order.
func ruleDocs(in []*armnetwork.SecurityRule) ([]*armnetwork.SecurityRule, []any) {
	sorted := make([]*armnetwork.SecurityRule, 0, len(in))
	norm := make([]rule, 0, len(in))
	for _, r := range in {
		if r != nil {
			sorted, norm = append(sorted, r), append(norm, ruleProps(r))
		}
	}
	idx := make([]int, len(sorted))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := norm[idx[i]], norm[idx[j]]
		if a.direction != b.direction {
			return a.direction < b.direction
		}
		return a.priority < b.priority
	})
	rules := make([]*armnetwork.SecurityRule, len(idx))
	docs := make([]any, len(idx))
	for i, k := range idx {
		rules[i], docs[i] = sorted[k], norm[k].doc
	}
	setInternetPorts(docs)
	return rules, docs
}

// rule is one normalized security rule with its sort keys.
type rule struct {
	direction string
	priority  int
	doc       map[string]any
}

// worldSources are the source prefixes that match any Internet address.
var worldSources = map[string]bool{"*": true, "internet": true, "any": true, "0.0.0.0/0": true, "0.0.0.0": true, "::/0": true}

// ruleProps normalizes a security rule: the singular and plural forms of
// prefixes and ports merged into lists, port ranges parsed.
func ruleProps(r *armnetwork.SecurityRule) rule {
	if r == nil {
		return rule{}
	}
	p := deref(r.Properties)
	src := merge(p.SourceAddressPrefix, p.SourceAddressPrefixes)
	dst := merge(p.DestinationAddressPrefix, p.DestinationAddressPrefixes)
	dports := merge(p.DestinationPortRange, p.DestinationPortRanges)
	internet := false
	for _, s := range src {
		if worldSources[strings.ToLower(s.(string))] {
			internet = true
		}
	}
	asgs := func(gs []*armnetwork.ApplicationSecurityGroup) []any {
		var out []any
		for _, g := range gs {
			if g != nil && g.ID != nil {
				out = append(out, *g.ID)
			}
		}
		return orEmpty(out)
	}
	out := rule{direction: string(deref(p.Direction)), priority: int(deref(p.Priority))}
	out.doc = map[string]any{
		"name":                    deref(r.Name),
		"priority":                out.priority,
		"direction":               out.direction,
		"access":                  string(deref(p.Access)),
		"protocol":                string(deref(p.Protocol)),
		"source_prefixes":         src,
		"source_asgs":             asgs(p.SourceApplicationSecurityGroups),
		"source_ports":            merge(p.SourcePortRange, p.SourcePortRanges),
		"destination_prefixes":    dst,
		"destination_asgs":        asgs(p.DestinationApplicationSecurityGroups),
		"destination_ports":       dports,
		"destination_port_ranges": portRanges(dports),
		"source_is_internet":      internet,
		"description":             deref(p.Description),
	}
	return out
}

// merge joins ARM's singular and plural forms of a rule field (only one of
// which is set) into one list.
func merge(one *string, many []*string) []any {
	var out []any
	if one != nil && *one != "" {
		out = append(out, *one)
	}
	for _, s := range many {
		if s != nil && *s != "" {
			out = append(out, *s)
		}
	}
	return orEmpty(out)
}

// portRanges parses port specs ("22", "1000-2000", "*") into {from, to}
// ranges; a spec that does not parse is left out (the string stays in
// destination_ports).
func portRanges(specs []any) []any {
	var out []any
	for _, s := range specs {
		spec := strings.TrimSpace(s.(string))
		if spec == "*" {
			out = append(out, map[string]any{"from": 0, "to": 65535})
			continue
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		from, err1 := strconv.Atoi(strings.TrimSpace(lo))
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || from < 0 || to > 65535 || from > to {
			continue
		}
		out = append(out, map[string]any{"from": from, "to": to})
	}
	return orEmpty(out)
}

// getNetwork re-reads one network security group by id.
func getNetwork(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	f, err := armnetwork.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	if strings.HasPrefix(strings.ToLower(strings.Join(id.ResourceType.Types, "/")), "networkwatchers") {
		return getWatcher(ctx, f, id)
	}
	if !strings.EqualFold(strings.Join(id.ResourceType.Types, "/"), "networkSecurityGroups") {
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
	}
	resp, err := f.NewSecurityGroupsClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return vigil.Resource{}, withOp(opNSGRead, err)
	}
	return nsgResource(resp.SecurityGroup), nil
}
