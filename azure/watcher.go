package azure

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vigilsec/vigil"
)

// Network Watcher resource types.
const (
	TypeNetworkWatcher = "azure.network.watcher"
	TypeFlowLog        = "azure.network.flow_log"
)

// ARM operations of the Network Watcher collector, as named in Azure RBAC.
const (
	opWatcherRead = "Microsoft.Network/networkWatchers/read"
	opFlowLogRead = "Microsoft.Network/networkWatchers/flowLogs/read"
	opVNetRead    = "Microsoft.Network/virtualNetworks/read"
)

// Properties of azure.subscription contributed by the network service.
const (
	propWatcherRegions = "network_watcher_regions"
	propNetworkRegions = "network_regions_in_use"
)

// watcherListings are the network service's listings of Network Watcher
// resources and the regions the subscription's networks use.
func watcherListings(f *armnetwork.ClientFactory) []listing {
	return []listing{
		{typ: TypeNetworkWatcher, list: func(ctx context.Context, t *task) error { return t.listWatchers(ctx, f) }},
		{typ: TypeNetworkWatcher, list: func(ctx context.Context, t *task) error { return t.networkRegions(ctx, f) }},
	}
}

// listWatchers streams every network watcher, each followed by its flow
// logs, and records the regions that have a watcher on the subscription.
// ARM returns all watchers in one response (one per region at most).
func (t *task) listWatchers(ctx context.Context, f *armnetwork.ClientFactory) error {
	regions := map[string]bool{}
	pager := f.NewWatchersClient().NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.subscriptionFailed(propWatcherRegions, opWatcherRead, err)
				t.listFailed(TypeFlowLog, opWatcherRead, err)
			}
			return withOp(opWatcherRead, err)
		}
		for _, w := range page.Value {
			if w == nil || w.ID == nil {
				continue
			}
			if deref(deref(w.Properties).ProvisioningState) != armnetwork.ProvisioningStateFailed {
				regions[normRegion(deref(w.Location))] = true
			}
			if err := t.emit(ctx, watcherResource(*w)); err != nil {
				return err
			}
			if err := t.listFlowLogs(ctx, f, *w); err != nil {
				var stop stopError
				if errors.As(err, &stop) || ctx.Err() != nil {
					return err
				}
				t.listFailed(TypeFlowLog, opFlowLogRead, err)
			}
		}
	}
	t.syn.set(propWatcherRegions, sortedKeys(regions))
	return nil
}

// networkRegions records the regions where the subscription has a virtual
// network: the regions "in use" for Network Watcher, which Azure enables
// in a region when a virtual network is created there.
func (t *task) networkRegions(ctx context.Context, f *armnetwork.ClientFactory) error {
	regions := map[string]bool{}
	pager := f.NewVirtualNetworksClient().NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			t.subscriptionFailed(propNetworkRegions, opVNetRead, err)
			// The failure is on the subscription's property; the watcher
			// listing itself succeeded.
			return nil
		}
		for _, v := range page.Value {
			if v != nil && v.Location != nil {
				regions[normRegion(*v.Location)] = true
			}
		}
	}
	t.syn.set(propNetworkRegions, sortedKeys(regions))
	return nil
}

// subscriptionFailed records a property of azure.subscription that could
// not be read.
func (t *task) subscriptionFailed(property, operation string, err error) {
	e := vigil.ReadError{Account: t.acct.ID, Region: regionGlobal, Type: TypeSubscription, UID: t.syn.uid,
		Property: property, Operation: operation, Code: classify(err), Message: message(err)}
	t.syn.fail(e)
	t.mu.Lock()
	t.errs++
	t.mu.Unlock()
	t.sink.ReadError(e)
}

// normRegion folds a location's display form ("West Europe") into its
// name ("westeurope").
func normRegion(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

// sortedKeys returns a set's members, sorted.
func sortedKeys(m map[string]bool) []any {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return out
}

// watcherResource builds the azure.network.watcher resource.
func watcherResource(w armnetwork.Watcher) vigil.Resource {
	return vigil.Resource{
		UID: deref(w.ID), Type: TypeNetworkWatcher, Name: deref(w.Name), Region: normRegion(deref(w.Location)), Tags: tags(w.Tags),
		Properties: map[string]any{
			"resource_group":     resourceGroupOf(deref(w.ID)),
			"provisioning_state": string(deref(deref(w.Properties).ProvisioningState)),
		},
	}
}

// listFlowLogs streams the flow logs of one network watcher.
func (t *task) listFlowLogs(ctx context.Context, f *armnetwork.ClientFactory, w armnetwork.Watcher) error {
	pager := f.NewFlowLogsClient().NewListPager(resourceGroupOf(deref(w.ID)), deref(w.Name), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, fl := range page.Value {
			if fl == nil || fl.ID == nil {
				continue
			}
			if err := t.emit(ctx, flowLogResource(*fl)); err != nil {
				return err
			}
		}
	}
	return nil
}

// flowLogResource builds the azure.network.flow_log resource.
func flowLogResource(fl armnetwork.FlowLog) vigil.Resource {
	p := deref(fl.Properties)
	target := deref(p.TargetResourceID)
	props := map[string]any{
		"resource_group":     resourceGroupOf(deref(fl.ID)),
		"watcher_id":         parentID(deref(fl.ID), 2),
		"target_resource_id": target,
		"target_type":        flowLogTarget(target),
		"enabled":            boolOr(p.Enabled, false),
		"storage_account_id": deref(p.StorageID),
		"retention":          map[string]any{"enabled": false, "days": 0},
		"format":             map[string]any{"type": "JSON", "version": 1},
		"traffic_analytics": map[string]any{
			"enabled": false, "workspace_id": "", "workspace_resource_id": "", "workspace_region": "", "interval_minutes": 0,
		},
		"provisioning_state": string(deref(p.ProvisioningState)),
	}
	if rp := p.RetentionPolicy; rp != nil {
		// Days 0 with retention enabled keeps the logs forever.
		props["retention"] = map[string]any{"enabled": boolOr(rp.Enabled, false), "days": int(deref(rp.Days))}
	}
	if ft := p.Format; ft != nil {
		if ft.Type != nil {
			props["format"].(map[string]any)["type"] = string(*ft.Type)
		}
		if ft.Version != nil {
			props["format"].(map[string]any)["version"] = int(*ft.Version)
		}
	}
	if fa := p.FlowAnalyticsConfiguration; fa != nil && fa.NetworkWatcherFlowAnalyticsConfiguration != nil {
		c := fa.NetworkWatcherFlowAnalyticsConfiguration
		props["traffic_analytics"] = map[string]any{
			"enabled":               boolOr(c.Enabled, false),
			"workspace_id":          deref(c.WorkspaceID),
			"workspace_resource_id": deref(c.WorkspaceResourceID),
			"workspace_region":      deref(c.WorkspaceRegion),
			"interval_minutes":      int(deref(c.TrafficAnalyticsInterval)),
		}
	}
	return vigil.Resource{
		UID: deref(fl.ID), Type: TypeFlowLog, Name: deref(fl.Name), Region: normRegion(deref(fl.Location)), Tags: tags(fl.Tags),
		Properties: props,
	}
}

// flowLogTarget names the kind of resource a flow log watches: "nsg"
// (NSG flow logs, retired by Azure in 2027), "vnet", "subnet" or "nic"
// (virtual network flow logs), "" when unknown.
func flowLogTarget(id string) string {
	rid, err := arm.ParseResourceID(id)
	if err != nil {
		return ""
	}
	switch strings.ToLower(strings.Join(rid.ResourceType.Types, "/")) {
	case "networksecuritygroups":
		return "nsg"
	case "virtualnetworks":
		return "vnet"
	case "virtualnetworks/subnets":
		return "subnet"
	case "networkinterfaces":
		return "nic"
	}
	return ""
}

// parentID drops the last n segments of an ARM id.
func parentID(id string, n int) string {
	parts := strings.Split(strings.TrimRight(id, "/"), "/")
	return strings.Join(parts[:max(0, len(parts)-n)], "/")
}

// getWatcher re-reads one network watcher or flow log by id.
func getWatcher(ctx context.Context, f *armnetwork.ClientFactory, id *arm.ResourceID) (vigil.Resource, error) {
	switch strings.ToLower(strings.Join(id.ResourceType.Types, "/")) {
	case "networkwatchers":
		resp, err := f.NewWatchersClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
		if err != nil {
			return vigil.Resource{}, withOp(opWatcherRead, err)
		}
		return watcherResource(resp.Watcher), nil
	case "networkwatchers/flowlogs":
		resp, err := f.NewFlowLogsClient().Get(ctx, id.ResourceGroupName, id.Parent.Name, id.Name, nil)
		if err != nil {
			return vigil.Resource{}, withOp(opFlowLogRead, err)
		}
		return flowLogResource(resp.FlowLog), nil
	}
	return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
}
