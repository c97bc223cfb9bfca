package azure

import (
	"context"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
)

const (
	vmWeb     = "/subscriptions/" + subProd + "/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-web"
	vmLegacy  = "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.Compute/virtualMachines/vm-legacy"
	diskOS    = "/subscriptions/" + subProd + "/resourceGroups/rg-app/providers/Microsoft.Compute/disks/vm-web-os"
	diskOld   = "/subscriptions/" + subProd + "/resourceGroups/rg-legacy/providers/Microsoft.Compute/disks/old-backup"
	watcherWE = "/subscriptions/" + subProd + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westeurope"
	flowNSG   = watcherWE + "/flowLogs/fl-nsg-web"
	flowVNet  = watcherWE + "/flowLogs/fl-vnet-app"
)

// computeTypes are the types this file's tests own.
var computeTypes = map[string]bool{TypeVM: true, TypeDisk: true, TypeNetworkWatcher: true, TypeFlowLog: true}

// newComputeEstate returns the estate seeded from testdata/compute.json.
func newComputeEstate(t *testing.T) *azuretest.Estate {
	t.Helper()
	e := azuretest.New()
	if err := e.LoadFile(filepath.Join("testdata", "compute.json")); err != nil {
		t.Fatal(err)
	}
	return e
}

// ownErrors returns the read errors of the compute and Network Watcher
// collectors (on their types and on the subscription properties they
// contribute), so that other services' work does not blur the assertions.
func ownErrors(s *sink) []vigil.ReadError {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []vigil.ReadError
	for _, e := range s.errs {
		if computeTypes[e.Type] || e.Property == propWatcherRegions || e.Property == propNetworkRegions {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID+out[i].Property < out[j].UID+out[j].Property })
	return out
}

// TestComputeGolden asserts the exact documents of VMs, disks, network
// watchers and flow logs, and the subscription's watcher regions.
func TestComputeGolden(t *testing.T) {
	e := newComputeEstate(t)
	s := collect(t, newCollector(t, e, Options{}), subProd)
	if errs := ownErrors(s); len(errs) != 0 {
		t.Fatalf("read errors: %+v", errs)
	}
	type doc struct {
		UID        string            `json:"uid"`
		Type       string            `json:"type"`
		Name       string            `json:"name"`
		Region     string            `json:"region"`
		Tags       map[string]string `json:"tags,omitempty"`
		Properties map[string]any    `json:"properties"`
	}
	var docs []doc
	count := map[string]int{}
	for _, r := range s.byUID() {
		if !computeTypes[r.Type] {
			continue
		}
		count[r.Type]++
		docs = append(docs, doc{r.UID, r.Type, r.Name, r.Region, r.Tags, r.Properties})
	}
	golden(t, "compute.json", docs)
	want := map[string]int{TypeVM: 2, TypeDisk: 4, TypeNetworkWatcher: 1, TypeFlowLog: 2}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("collected %v, want %v", count, want)
	}
	sub := s.find(t, "/subscriptions/"+subProd)
	if got := sub.Properties[propWatcherRegions]; !reflect.DeepEqual(got, []any{"westeurope"}) {
		t.Errorf("%s = %v, want [westeurope]", propWatcherRegions, got)
	}
	if got := sub.Properties[propNetworkRegions]; !reflect.DeepEqual(got, []any{"eastus", "westeurope"}) {
		t.Errorf("%s = %v, want [eastus westeurope]", propNetworkRegions, got)
	}
	listed := map[string]bool{}
	for _, typ := range s.listedTypes() {
		listed[typ] = true
	}
	for typ := range computeTypes {
		if !listed[typ] {
			t.Errorf("%s not reported as listed", typ)
		}
	}
	// One NIC and one public IP listing for the whole subscription, not
	// one per VM.
	if n, p := e.Calls("InterfacesClient.NewListAllPager"), e.Calls("PublicIPAddressesClient.NewListAllPager"); n != 1 || p != 1 {
		t.Errorf("NIC listings = %d, public IP listings = %d, want 1 each", n, p)
	}
	legacy := s.find(t, vmLegacy)
	if uri := legacy.Properties["os_disk"].(map[string]any)["vhd_uri"]; strings.Contains(uri.(string), "sig=") {
		t.Errorf("vhd_uri keeps the SAS token: %v", uri)
	}
}

// TestComputePaging asserts that listings of one item per page stream
// every VM and disk, and that the NIC map is still built once.
func TestComputePaging(t *testing.T) {
	e := newComputeEstate(t)
	e.PageSize = 1
	s := collect(t, newCollector(t, e, Options{}), subProd)
	if errs := ownErrors(s); len(errs) != 0 {
		t.Fatalf("read errors: %+v", errs)
	}
	n := map[string]int{}
	for _, r := range s.resources {
		n[r.Type]++
	}
	if n[TypeVM] != 2 || n[TypeDisk] != 4 || n[TypeFlowLog] != 2 {
		t.Errorf("collected %v over pages of one", n)
	}
	if got := e.Calls("VirtualMachinesClient.NewListAllPager"); got != 2 {
		t.Errorf("VM list requests = %d, want 2 (one per page)", got)
	}
	if got := e.Calls("InterfacesClient.NewListAllPager"); got != 2 {
		t.Errorf("NIC list requests = %d, want 2 (two pages, listed once)", got)
	}
	if ips := s.find(t, vmWeb).Properties["public_ips"].([]any); len(ips) != 1 {
		t.Errorf("public_ips = %v", ips)
	}
}

// TestComputeReadErrors asserts that each denied per-resource read is a
// read error on exactly its property, and a denied listing fails only its
// own type.
func TestComputeReadErrors(t *testing.T) {
	denied := "AuthorizationFailed: The client does not have authorization to perform action."
	tests := []struct {
		name  string
		fault azuretest.Fault
		// want are the collectors' read errors.
		want []vigil.ReadError
		// absent are uid|property pairs that must be missing.
		absent []string
		// unlisted are types that must not be reported as listed.
		unlisted []string
	}{
		{
			name:  "extensions of one VM",
			fault: azuretest.Fault{API: "VirtualMachineExtensionsClient.List", Path: "/virtualMachines/vm-web/"},
			want: []vigil.ReadError{{Account: subProd, Region: "westeurope", Type: TypeVM, UID: vmWeb, Property: "extensions",
				Operation: opVMExtensionsRead, Code: vigil.EFORBIDDEN, Message: denied}},
			absent: []string{vmWeb + "|extensions"},
		},
		{
			name:  "NIC listing",
			fault: azuretest.Fault{API: "InterfacesClient.NewListAllPager"},
			want: []vigil.ReadError{
				{Account: subProd, Region: "eastus", Type: TypeVM, UID: vmLegacy, Property: "public_ips", Operation: opNICRead, Code: vigil.EFORBIDDEN, Message: denied},
				{Account: subProd, Region: "westeurope", Type: TypeVM, UID: vmWeb, Property: "public_ips", Operation: opNICRead, Code: vigil.EFORBIDDEN, Message: denied},
			},
			absent: []string{vmWeb + "|public_ips", vmLegacy + "|public_ips"},
		},
		{
			name:  "flow log listing",
			fault: azuretest.Fault{API: "FlowLogsClient.NewListPager"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeFlowLog, UID: "/subscriptions/" + subProd,
				Operation: opFlowLogRead, Code: vigil.EFORBIDDEN, Message: denied}},
			unlisted: []string{TypeFlowLog},
		},
		{
			name:  "watcher listing",
			fault: azuretest.Fault{API: "WatchersClient.NewListAllPager"},
			want: []vigil.ReadError{
				{Account: subProd, Region: "global", Type: TypeFlowLog, UID: "/subscriptions/" + subProd, Operation: opWatcherRead, Code: vigil.EFORBIDDEN, Message: denied},
				{Account: subProd, Region: "global", Type: TypeNetworkWatcher, UID: "/subscriptions/" + subProd, Operation: opWatcherRead, Code: vigil.EFORBIDDEN, Message: denied},
				{Account: subProd, Region: "global", Type: TypeSubscription, UID: "/subscriptions/" + subProd, Property: propWatcherRegions, Operation: opWatcherRead, Code: vigil.EFORBIDDEN, Message: denied},
			},
			absent:   []string{"/subscriptions/" + subProd + "|" + propWatcherRegions},
			unlisted: []string{TypeNetworkWatcher, TypeFlowLog},
		},
		{
			name:  "virtual network listing",
			fault: azuretest.Fault{API: "VirtualNetworksClient.NewListAllPager"},
			want: []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeSubscription, UID: "/subscriptions/" + subProd,
				Property: propNetworkRegions, Operation: opVNetRead, Code: vigil.EFORBIDDEN, Message: denied}},
			absent: []string{"/subscriptions/" + subProd + "|" + propNetworkRegions},
		},
		{
			name:     "disk listing",
			fault:    azuretest.Fault{API: "DisksClient.NewListPager"},
			want:     []vigil.ReadError{{Account: subProd, Region: "global", Type: TypeDisk, UID: "/subscriptions/" + subProd, Operation: opDiskRead, Code: vigil.EFORBIDDEN, Message: denied}},
			unlisted: []string{TypeDisk},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newComputeEstate(t)
			f := tt.fault
			f.Status, f.Code, f.Message = 403, "AuthorizationFailed", "The client does not have authorization to perform action."
			e.Inject(f)
			s := collect(t, newCollector(t, e, Options{}), subProd)
			got := ownErrors(s)
			sort.Slice(tt.want, func(i, j int) bool { return tt.want[i].UID+tt.want[i].Property < tt.want[j].UID+tt.want[j].Property })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("read errors:\n got %+v\nwant %+v", got, tt.want)
			}
			for _, a := range tt.absent {
				uid, prop, _ := strings.Cut(a, "|")
				r := s.find(t, uid)
				if _, ok := r.Properties[prop]; ok {
					t.Errorf("%s: %s present although it could not be read", uid, prop)
				}
				if _, ok := r.ReadErrorFor(prop); !ok {
					t.Errorf("%s: no read error on the resource for %s", uid, prop)
				}
			}
			listed := map[string]bool{}
			for _, typ := range s.listedTypes() {
				listed[typ] = true
			}
			for _, typ := range tt.unlisted {
				if listed[typ] {
					t.Errorf("%s reported as listed after its listing failed", typ)
				}
			}
		})
	}
}

// TestComputeGet asserts that each type read again by id equals the
// scan's resource, and that a missing one is not found.
func TestComputeGet(t *testing.T) {
	e := newComputeEstate(t)
	c := newCollector(t, e, Options{})
	scan := collect(t, c, subProd)
	missing := "/subscriptions/" + subProd + "/resourceGroups/rg-app/providers/Microsoft.Compute/disks/gone"
	ids := []string{vmWeb, vmLegacy, diskOS, diskOld, watcherWE, flowNSG, strings.ToLower(flowVNet), missing}
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids[:7] {
		want := scan.find(t, id)
		if !got[i].Found || got[i].Err != nil {
			t.Errorf("%s: found %v err %v", id, got[i].Found, got[i].Err)
			continue
		}
		if !reflect.DeepEqual(got[i].Resource, want) {
			t.Errorf("%s: get differs from scan:\n got %+v\nwant %+v", id, got[i].Resource, want)
		}
		if got[i].Resource.ComputeHash() != want.ComputeHash() {
			t.Errorf("%s: hash differs from scan", id)
		}
	}
	if g := got[7]; g.Found || g.Err != nil {
		t.Errorf("missing disk: found %v err %v, want not found without error", g.Found, g.Err)
	}
}

// TestComputeGetPublicIPDenied asserts that a Get whose public IP read is
// denied still returns the VM, with a read error on public_ips.
func TestComputeGetPublicIPDenied(t *testing.T) {
	e := newComputeEstate(t)
	e.Inject(azuretest.Fault{API: "PublicIPAddressesClient.Get", Status: 403, Code: "AuthorizationFailed"})
	c := newCollector(t, e, Options{})
	got, err := c.Get(context.Background(), vigil.Account{Provider: vigil.Azure, ID: subProd}, []string{vmWeb})
	if err != nil {
		t.Fatal(err)
	}
	r := got[0].Resource
	re, ok := r.ReadErrorFor("public_ips")
	if !got[0].Found || !ok || re.Operation != opPublicIPRead || re.Code != vigil.EFORBIDDEN {
		t.Fatalf("got %+v", got[0])
	}
	if _, ok := r.Properties["public_ips"]; ok || r.Properties["extensions"] == nil {
		t.Errorf("properties = %v", r.Properties)
	}
}
