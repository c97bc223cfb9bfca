package azuretest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	netfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	subfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	storfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage/fake"
)

// subscriptionServer serves Microsoft.Resources/subscriptions.
func (e *Estate) subscriptionServer() *subfake.ServerFactory {
	return &subfake.ServerFactory{Server: subfake.Server{
		NewListPager: func(*armsubscriptions.ClientListOptions) (resp azfake.PagerResponder[armsubscriptions.ClientListResponse]) {
			for _, page := range chunks(e, list(e, e.subs, "")) {
				resp.AddPage(http.StatusOK, armsubscriptions.ClientListResponse{
					SubscriptionListResult: armsubscriptions.SubscriptionListResult{Value: page}}, nil)
			}
			return resp
		},
		Get: func(_ context.Context, id string, _ *armsubscriptions.ClientGetOptions) (resp azfake.Responder[armsubscriptions.ClientGetResponse], errResp azfake.ErrorResponder) {
			s, ok := get(e, e.subs, id)
			if !ok {
				errResp.SetResponseError(http.StatusNotFound, "SubscriptionNotFound")
				return
			}
			resp.SetResponse(http.StatusOK, armsubscriptions.ClientGetResponse{Subscription: s}, nil)
			return
		},
	}}
}

// accountID builds a storage account id in sub.
func accountID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Storage/storageAccounts/" + name
}

// storageServer serves Microsoft.Storage for one subscription.
func (e *Estate) storageServer(sub string) *storfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	notFound := func(errResp *azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	}
	return &storfake.ServerFactory{
		AccountsServer: storfake.AccountsServer{
			NewListPager: func(*armstorage.AccountsClientListOptions) (resp azfake.PagerResponder[armstorage.AccountsClientListResponse]) {
				for _, page := range chunks(e, list(e, e.accounts, prefix)) {
					resp.AddPage(http.StatusOK, armstorage.AccountsClientListResponse{
						AccountListResult: armstorage.AccountListResult{Value: page}}, nil)
				}
				return resp
			},
			GetProperties: func(_ context.Context, rg, name string, _ *armstorage.AccountsClientGetPropertiesOptions) (resp azfake.Responder[armstorage.AccountsClientGetPropertiesResponse], errResp azfake.ErrorResponder) {
				a, ok := get(e, e.accounts, accountID(sub, rg, name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armstorage.AccountsClientGetPropertiesResponse{Account: a}, nil)
				return
			},
			Update: func(_ context.Context, rg, name string, p armstorage.AccountUpdateParameters, _ *armstorage.AccountsClientUpdateOptions) (resp azfake.Responder[armstorage.AccountsClientUpdateResponse], errResp azfake.ErrorResponder) {
				e.mu.Lock()
				a, ok := e.accounts[key(accountID(sub, rg, name))]
				if ok {
					if p.Tags != nil {
						a.Tags = nil // ARM replaces the whole tag set
					}
					if err := patch(a, p); err != nil {
						e.mu.Unlock()
						errResp.SetResponseError(http.StatusBadRequest, "InvalidRequestContent")
						return
					}
				}
				e.mu.Unlock()
				if !ok {
					notFound(&errResp)
					return
				}
				got, _ := get(e, e.accounts, accountID(sub, rg, name))
				resp.SetResponse(http.StatusOK, armstorage.AccountsClientUpdateResponse{Account: got}, nil)
				return
			},
			Delete: func(_ context.Context, rg, name string, _ *armstorage.AccountsClientDeleteOptions) (resp azfake.Responder[armstorage.AccountsClientDeleteResponse], errResp azfake.ErrorResponder) {
				id := key(accountID(sub, rg, name))
				e.mu.Lock()
				delete(e.accounts, id)
				delete(e.blobSvc, id)
				for k := range e.containers {
					if strings.HasPrefix(k, id+"/") {
						delete(e.containers, k)
					}
				}
				e.mu.Unlock()
				resp.SetResponse(http.StatusOK, armstorage.AccountsClientDeleteResponse{}, nil)
				return
			},
		},
		BlobServicesServer: storfake.BlobServicesServer{
			GetServiceProperties: func(_ context.Context, rg, name string, _ *armstorage.BlobServicesClientGetServicePropertiesOptions) (resp azfake.Responder[armstorage.BlobServicesClientGetServicePropertiesResponse], errResp azfake.ErrorResponder) {
				id := accountID(sub, rg, name)
				if _, ok := get(e, e.accounts, id); !ok {
					notFound(&errResp)
					return
				}
				b, ok := get(e, e.blobSvc, id)
				if !ok {
					b = defaultBlobService(id)
				}
				resp.SetResponse(http.StatusOK, armstorage.BlobServicesClientGetServicePropertiesResponse{BlobServiceProperties: b}, nil)
				return
			},
			SetServiceProperties: func(_ context.Context, rg, name string, p armstorage.BlobServiceProperties, _ *armstorage.BlobServicesClientSetServicePropertiesOptions) (resp azfake.Responder[armstorage.BlobServicesClientSetServicePropertiesResponse], errResp azfake.ErrorResponder) {
				id := accountID(sub, rg, name)
				if _, ok := get(e, e.accounts, id); !ok {
					notFound(&errResp)
					return
				}
				e.mu.Lock()
				b, ok := e.blobSvc[key(id)]
				if !ok {
					d := defaultBlobService(id)
					b = &d
					e.blobSvc[key(id)] = b
				}
				err := patch(b, p)
				e.mu.Unlock()
				if err != nil {
					errResp.SetResponseError(http.StatusBadRequest, "InvalidRequestContent")
					return
				}
				got, _ := get(e, e.blobSvc, id)
				resp.SetResponse(http.StatusOK, armstorage.BlobServicesClientSetServicePropertiesResponse{BlobServiceProperties: got}, nil)
				return
			},
		},
		BlobContainersServer: storfake.BlobContainersServer{
			NewListPager: func(rg, name string, _ *armstorage.BlobContainersClientListOptions) (resp azfake.PagerResponder[armstorage.BlobContainersClientListResponse]) {
				var items []*armstorage.ListContainerItem
				for _, c := range list(e, e.containers, key(accountID(sub, rg, name))+"/") {
					items = append(items, &armstorage.ListContainerItem{ID: c.ID, Name: c.Name, Type: c.Type, Etag: c.Etag, Properties: c.ContainerProperties})
				}
				for _, page := range chunks(e, items) {
					resp.AddPage(http.StatusOK, armstorage.BlobContainersClientListResponse{
						ListContainerItems: armstorage.ListContainerItems{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, acct, name string, _ *armstorage.BlobContainersClientGetOptions) (resp azfake.Responder[armstorage.BlobContainersClientGetResponse], errResp azfake.ErrorResponder) {
				c, ok := get(e, e.containers, containerID(sub, rg, acct, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ContainerNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armstorage.BlobContainersClientGetResponse{BlobContainer: c}, nil)
				return
			},
			Create: func(_ context.Context, rg, acct, name string, c armstorage.BlobContainer, _ *armstorage.BlobContainersClientCreateOptions) (resp azfake.Responder[armstorage.BlobContainersClientCreateResponse], errResp azfake.ErrorResponder) {
				id := containerID(sub, rg, acct, name)
				if _, ok := get(e, e.accounts, accountID(sub, rg, acct)); !ok {
					notFound(&errResp)
					return
				}
				c.ID, c.Name, c.Type = ptr(id), ptr(name), ptr("Microsoft.Storage/storageAccounts/blobServices/containers")
				e.PutContainer(c)
				got, _ := get(e, e.containers, id)
				resp.SetResponse(http.StatusCreated, armstorage.BlobContainersClientCreateResponse{BlobContainer: got}, nil)
				return
			},
			Update: func(_ context.Context, rg, acct, name string, c armstorage.BlobContainer, _ *armstorage.BlobContainersClientUpdateOptions) (resp azfake.Responder[armstorage.BlobContainersClientUpdateResponse], errResp azfake.ErrorResponder) {
				id := containerID(sub, rg, acct, name)
				e.mu.Lock()
				cur, ok := e.containers[key(id)]
				var err error
				if ok {
					err = patch(cur, c)
				}
				e.mu.Unlock()
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ContainerNotFound")
					return
				}
				if err != nil {
					errResp.SetResponseError(http.StatusBadRequest, "InvalidRequestContent")
					return
				}
				got, _ := get(e, e.containers, id)
				resp.SetResponse(http.StatusOK, armstorage.BlobContainersClientUpdateResponse{BlobContainer: got}, nil)
				return
			},
			Delete: func(_ context.Context, rg, acct, name string, _ *armstorage.BlobContainersClientDeleteOptions) (resp azfake.Responder[armstorage.BlobContainersClientDeleteResponse], errResp azfake.ErrorResponder) {
				e.mu.Lock()
				delete(e.containers, key(containerID(sub, rg, acct, name)))
				e.mu.Unlock()
				resp.SetResponse(http.StatusOK, armstorage.BlobContainersClientDeleteResponse{}, nil)
				return
			},
		},
	}
}

func containerID(sub, rg, acct, name string) string {
	return accountID(sub, rg, acct) + "/blobServices/default/containers/" + name
}

// defaultBlobService is what ARM returns for an account whose blob service
// properties were never set: soft delete and versioning off.
func defaultBlobService(accountID string) armstorage.BlobServiceProperties {
	return armstorage.BlobServiceProperties{
		ID: ptr(accountID + "/blobServices/default"), Name: ptr("default"),
		Type: ptr("Microsoft.Storage/storageAccounts/blobServices"),
		BlobServiceProperties: &armstorage.BlobServicePropertiesProperties{
			DeleteRetentionPolicy: &armstorage.DeleteRetentionPolicy{Enabled: ptr(false), AllowPermanentDelete: ptr(false)},
		},
	}
}

func nsgID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/networkSecurityGroups/" + name
}

// Tables of the Microsoft.Network models beyond security groups, which
// the core estate keeps in fields of its own.
const (
	tableWatchers   = "network.networkWatchers"
	tableFlowLogs   = "network.flowLogs"
	tableInterfaces = "network.networkInterfaces"
	tablePublicIPs  = "network.publicIPAddresses"
	tableVNets      = "network.virtualNetworks"
)

// networkLoader returns the fixture loader of one Microsoft.Network table.
func networkLoader[T any](table, what string, id func(*T) *string) func(*Estate, json.RawMessage) error {
	return func(e *Estate, raw json.RawMessage) error {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil || id(&v) == nil {
			return badEntry("", "a "+what+" with id", err)
		}
		Put(e, Table[T](e, table), *id(&v), v)
		return nil
	}
}

func init() {
	// The core transport routes Microsoft.Network itself (networkServer);
	// the registration adds the fixture keys of the tables it serves.
	RegisterNamespace("Microsoft.Network", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"networkWatchers":   networkLoader(tableWatchers, "network watcher", func(v *armnetwork.Watcher) *string { return v.ID }),
			"flowLogs":          networkLoader(tableFlowLogs, "flow log", func(v *armnetwork.FlowLog) *string { return v.ID }),
			"networkInterfaces": networkLoader(tableInterfaces, "network interface", func(v *armnetwork.Interface) *string { return v.ID }),
			"publicIPAddresses": networkLoader(tablePublicIPs, "public IP address", func(v *armnetwork.PublicIPAddress) *string { return v.ID }),
			"virtualNetworks":   networkLoader(tableVNets, "virtual network", func(v *armnetwork.VirtualNetwork) *string { return v.ID }),
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			if s := e.serversFor(sub); s != nil {
				return s.network
			}
			return nil
		},
	})
}

// PutWatcher adds or replaces a network watcher.
func (e *Estate) PutWatcher(w armnetwork.Watcher) {
	Put(e, Table[armnetwork.Watcher](e, tableWatchers), *w.ID, w)
}

// PutFlowLog adds or replaces a flow log; its id is
// {network watcher id}/flowLogs/{name}.
func (e *Estate) PutFlowLog(f armnetwork.FlowLog) {
	Put(e, Table[armnetwork.FlowLog](e, tableFlowLogs), *f.ID, f)
}

// PutInterface adds or replaces a network interface.
func (e *Estate) PutInterface(n armnetwork.Interface) {
	Put(e, Table[armnetwork.Interface](e, tableInterfaces), *n.ID, n)
}

// PutPublicIP adds or replaces a public IP address.
func (e *Estate) PutPublicIP(p armnetwork.PublicIPAddress) {
	Put(e, Table[armnetwork.PublicIPAddress](e, tablePublicIPs), *p.ID, p)
}

// PutVirtualNetwork adds or replaces a virtual network.
func (e *Estate) PutVirtualNetwork(v armnetwork.VirtualNetwork) {
	Put(e, Table[armnetwork.VirtualNetwork](e, tableVNets), *v.ID, v)
}

// FlowLog returns a copy of the flow log with id.
func (e *Estate) FlowLog(id string) (armnetwork.FlowLog, bool) {
	return Get(e, Table[armnetwork.FlowLog](e, tableFlowLogs), id)
}

// networkID builds the id of a Microsoft.Network resource in sub.
func networkID(sub, rg, typ, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Network/" + typ + "/" + name
}

// networkServer serves Microsoft.Network for one subscription.
func (e *Estate) networkServer(sub string) *netfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	// The tables are looked up per request: serversFor builds this server
	// with e.mu held, and Table takes it.
	watchers := func() map[string]*armnetwork.Watcher { return Table[armnetwork.Watcher](e, tableWatchers) }
	flowLogs := func() map[string]*armnetwork.FlowLog { return Table[armnetwork.FlowLog](e, tableFlowLogs) }
	nics := func() map[string]*armnetwork.Interface { return Table[armnetwork.Interface](e, tableInterfaces) }
	pips := func() map[string]*armnetwork.PublicIPAddress {
		return Table[armnetwork.PublicIPAddress](e, tablePublicIPs)
	}
	vnets := func() map[string]*armnetwork.VirtualNetwork { return Table[armnetwork.VirtualNetwork](e, tableVNets) }
	notFound := func(errResp *azfake.ErrorResponder) {
		errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
	}
	return &netfake.ServerFactory{
		WatchersServer: netfake.WatchersServer{
			NewListAllPager: func(*armnetwork.WatchersClientListAllOptions) (resp azfake.PagerResponder[armnetwork.WatchersClientListAllResponse]) {
				// ARM returns every watcher in one response (no nextLink).
				resp.AddPage(http.StatusOK, armnetwork.WatchersClientListAllResponse{
					WatcherListResult: armnetwork.WatcherListResult{Value: List(e, watchers(), prefix)}}, nil)
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armnetwork.WatchersClientGetOptions) (resp azfake.Responder[armnetwork.WatchersClientGetResponse], errResp azfake.ErrorResponder) {
				w, ok := Get(e, watchers(), networkID(sub, rg, "networkWatchers", name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armnetwork.WatchersClientGetResponse{Watcher: w}, nil)
				return
			},
		},
		FlowLogsServer: netfake.FlowLogsServer{
			NewListPager: func(rg, watcher string, _ *armnetwork.FlowLogsClientListOptions) (resp azfake.PagerResponder[armnetwork.FlowLogsClientListResponse]) {
				items := List(e, flowLogs(), networkID(sub, rg, "networkWatchers", watcher)+"/flowLogs/")
				for _, page := range Pages(e, items) {
					resp.AddPage(http.StatusOK, armnetwork.FlowLogsClientListResponse{
						FlowLogListResult: armnetwork.FlowLogListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, watcher, name string, _ *armnetwork.FlowLogsClientGetOptions) (resp azfake.Responder[armnetwork.FlowLogsClientGetResponse], errResp azfake.ErrorResponder) {
				f, ok := Get(e, flowLogs(), networkID(sub, rg, "networkWatchers", watcher)+"/flowLogs/"+name)
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armnetwork.FlowLogsClientGetResponse{FlowLog: f}, nil)
				return
			},
		},
		InterfacesServer: netfake.InterfacesServer{
			NewListAllPager: func(*armnetwork.InterfacesClientListAllOptions) (resp azfake.PagerResponder[armnetwork.InterfacesClientListAllResponse]) {
				for _, page := range Pages(e, List(e, nics(), prefix)) {
					resp.AddPage(http.StatusOK, armnetwork.InterfacesClientListAllResponse{
						InterfaceListResult: armnetwork.InterfaceListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armnetwork.InterfacesClientGetOptions) (resp azfake.Responder[armnetwork.InterfacesClientGetResponse], errResp azfake.ErrorResponder) {
				n, ok := Get(e, nics(), networkID(sub, rg, "networkInterfaces", name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armnetwork.InterfacesClientGetResponse{Interface: n}, nil)
				return
			},
		},
		PublicIPAddressesServer: netfake.PublicIPAddressesServer{
			NewListAllPager: func(*armnetwork.PublicIPAddressesClientListAllOptions) (resp azfake.PagerResponder[armnetwork.PublicIPAddressesClientListAllResponse]) {
				for _, page := range Pages(e, List(e, pips(), prefix)) {
					resp.AddPage(http.StatusOK, armnetwork.PublicIPAddressesClientListAllResponse{
						PublicIPAddressListResult: armnetwork.PublicIPAddressListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armnetwork.PublicIPAddressesClientGetOptions) (resp azfake.Responder[armnetwork.PublicIPAddressesClientGetResponse], errResp azfake.ErrorResponder) {
				p, ok := Get(e, pips(), networkID(sub, rg, "publicIPAddresses", name))
				if !ok {
					notFound(&errResp)
					return
				}
				resp.SetResponse(http.StatusOK, armnetwork.PublicIPAddressesClientGetResponse{PublicIPAddress: p}, nil)
				return
			},
		},
		VirtualNetworksServer: netfake.VirtualNetworksServer{
			NewListAllPager: func(*armnetwork.VirtualNetworksClientListAllOptions) (resp azfake.PagerResponder[armnetwork.VirtualNetworksClientListAllResponse]) {
				for _, page := range Pages(e, List(e, vnets(), prefix)) {
					resp.AddPage(http.StatusOK, armnetwork.VirtualNetworksClientListAllResponse{
						VirtualNetworkListResult: armnetwork.VirtualNetworkListResult{Value: page}}, nil)
				}
				return resp
			},
		},
		SecurityGroupsServer: netfake.SecurityGroupsServer{
			NewListAllPager: func(*armnetwork.SecurityGroupsClientListAllOptions) (resp azfake.PagerResponder[armnetwork.SecurityGroupsClientListAllResponse]) {
				for _, page := range chunks(e, list(e, e.nsgs, prefix)) {
					resp.AddPage(http.StatusOK, armnetwork.SecurityGroupsClientListAllResponse{
						SecurityGroupListResult: armnetwork.SecurityGroupListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armnetwork.SecurityGroupsClientGetOptions) (resp azfake.Responder[armnetwork.SecurityGroupsClientGetResponse], errResp azfake.ErrorResponder) {
				g, ok := get(e, e.nsgs, nsgID(sub, rg, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armnetwork.SecurityGroupsClientGetResponse{SecurityGroup: g}, nil)
				return
			},
			BeginCreateOrUpdate: func(_ context.Context, rg, name string, g armnetwork.SecurityGroup, _ *armnetwork.SecurityGroupsClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityGroupsClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				id := nsgID(sub, rg, name)
				if cur, ok := get(e, e.nsgs, id); ok && g.ID == nil {
					g.ID = cur.ID // keep ARM's spelling of the id
				}
				if g.ID == nil {
					g.ID = ptr(id)
				}
				g.Name, g.Type = ptr(name), ptr("Microsoft.Network/networkSecurityGroups")
				e.PutSecurityGroup(g)
				got, _ := get(e, e.nsgs, id)
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityGroupsClientCreateOrUpdateResponse{SecurityGroup: got}, nil)
				return
			},
			BeginDelete: func(_ context.Context, rg, name string, _ *armnetwork.SecurityGroupsClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityGroupsClientDeleteResponse], errResp azfake.ErrorResponder) {
				e.mu.Lock()
				delete(e.nsgs, key(nsgID(sub, rg, name)))
				e.mu.Unlock()
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityGroupsClientDeleteResponse{}, nil)
				return
			},
		},
		SecurityRulesServer: netfake.SecurityRulesServer{
			Get: func(_ context.Context, rg, nsg, name string, _ *armnetwork.SecurityRulesClientGetOptions) (resp azfake.Responder[armnetwork.SecurityRulesClientGetResponse], errResp azfake.ErrorResponder) {
				g, ok := get(e, e.nsgs, nsgID(sub, rg, nsg))
				if ok && g.Properties != nil {
					for _, r := range g.Properties.SecurityRules {
						if r != nil && r.Name != nil && strings.EqualFold(*r.Name, name) {
							resp.SetResponse(http.StatusOK, armnetwork.SecurityRulesClientGetResponse{SecurityRule: *r}, nil)
							return
						}
					}
				}
				errResp.SetResponseError(http.StatusNotFound, "NotFound")
				return
			},
			BeginCreateOrUpdate: func(_ context.Context, rg, nsg, name string, r armnetwork.SecurityRule, _ *armnetwork.SecurityRulesClientBeginCreateOrUpdateOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientCreateOrUpdateResponse], errResp azfake.ErrorResponder) {
				id := nsgID(sub, rg, nsg)
				e.mu.Lock()
				g, ok := e.nsgs[key(id)]
				if ok {
					if g.Properties == nil {
						g.Properties = &armnetwork.SecurityGroupPropertiesFormat{}
					}
					r.ID, r.Name = ptr(*g.ID+"/securityRules/"+name), ptr(name)
					r.Type = ptr("Microsoft.Network/networkSecurityGroups/securityRules")
					replaced := false
					for i, cur := range g.Properties.SecurityRules {
						if cur != nil && cur.Name != nil && strings.EqualFold(*cur.Name, name) {
							g.Properties.SecurityRules[i] = clone(&r)
							replaced = true
						}
					}
					if !replaced {
						g.Properties.SecurityRules = append(g.Properties.SecurityRules, clone(&r))
					}
				}
				e.mu.Unlock()
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientCreateOrUpdateResponse{SecurityRule: r}, nil)
				return
			},
			BeginDelete: func(_ context.Context, rg, nsg, name string, _ *armnetwork.SecurityRulesClientBeginDeleteOptions) (resp azfake.PollerResponder[armnetwork.SecurityRulesClientDeleteResponse], errResp azfake.ErrorResponder) {
				e.mu.Lock()
				if g, ok := e.nsgs[key(nsgID(sub, rg, nsg))]; ok && g.Properties != nil {
					kept := g.Properties.SecurityRules[:0]
					for _, cur := range g.Properties.SecurityRules {
						if cur == nil || cur.Name == nil || !strings.EqualFold(*cur.Name, name) {
							kept = append(kept, cur)
						}
					}
					g.Properties.SecurityRules = kept
				}
				e.mu.Unlock()
				resp.SetTerminalResponse(http.StatusOK, armnetwork.SecurityRulesClientDeleteResponse{}, nil)
				return
			},
		},
	}
}
