package azuretest

import (
	"context"
	"encoding/json"
	"net/http"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	compfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6/fake"
)

// Tables of the Microsoft.Compute namespace.
const (
	tableVMs        = "compute.virtualMachines"
	tableExtensions = "compute.virtualMachineExtensions"
	tableDisks      = "compute.disks"
)

func init() {
	RegisterNamespace("Microsoft.Compute", &Namespace{
		Loaders: map[string]func(*Estate, json.RawMessage) error{
			"virtualMachines": func(e *Estate, raw json.RawMessage) error {
				var v armcompute.VirtualMachine
				if err := json.Unmarshal(raw, &v); err != nil || v.ID == nil {
					return badEntry("", "a virtual machine with id", err)
				}
				e.PutVirtualMachine(v)
				return nil
			},
			"virtualMachineExtensions": func(e *Estate, raw json.RawMessage) error {
				var x armcompute.VirtualMachineExtension
				if err := json.Unmarshal(raw, &x); err != nil || x.ID == nil {
					return badEntry("", "a virtual machine extension with id", err)
				}
				e.PutVMExtension(x)
				return nil
			},
			"disks": func(e *Estate, raw json.RawMessage) error {
				var d armcompute.Disk
				if err := json.Unmarshal(raw, &d); err != nil || d.ID == nil {
					return badEntry("", "a disk with id", err)
				}
				e.PutDisk(d)
				return nil
			},
		},
		Transport: func(e *Estate, sub string) policy.Transporter {
			return compfake.NewServerFactoryTransport(e.computeServer(sub))
		},
	})
}

// PutVirtualMachine adds or replaces a virtual machine.
func (e *Estate) PutVirtualMachine(v armcompute.VirtualMachine) {
	Put(e, Table[armcompute.VirtualMachine](e, tableVMs), *v.ID, v)
}

// PutVMExtension adds or replaces a virtual machine extension; its id is
// {vm id}/extensions/{name}.
func (e *Estate) PutVMExtension(x armcompute.VirtualMachineExtension) {
	Put(e, Table[armcompute.VirtualMachineExtension](e, tableExtensions), *x.ID, x)
}

// PutDisk adds or replaces a managed disk.
func (e *Estate) PutDisk(d armcompute.Disk) {
	Put(e, Table[armcompute.Disk](e, tableDisks), *d.ID, d)
}

// Disk returns a copy of the managed disk with id.
func (e *Estate) Disk(id string) (armcompute.Disk, bool) {
	return Get(e, Table[armcompute.Disk](e, tableDisks), id)
}

func vmID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/virtualMachines/" + name
}

func diskID(sub, rg, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/Microsoft.Compute/disks/" + name
}

// computeServer serves Microsoft.Compute for one subscription.
func (e *Estate) computeServer(sub string) *compfake.ServerFactory {
	prefix := "/subscriptions/" + sub + "/"
	vms := Table[armcompute.VirtualMachine](e, tableVMs)
	exts := Table[armcompute.VirtualMachineExtension](e, tableExtensions)
	disks := Table[armcompute.Disk](e, tableDisks)
	return &compfake.ServerFactory{
		VirtualMachinesServer: compfake.VirtualMachinesServer{
			NewListAllPager: func(*armcompute.VirtualMachinesClientListAllOptions) (resp azfake.PagerResponder[armcompute.VirtualMachinesClientListAllResponse]) {
				for _, page := range Pages(e, List(e, vms, prefix)) {
					resp.AddPage(http.StatusOK, armcompute.VirtualMachinesClientListAllResponse{
						VirtualMachineListResult: armcompute.VirtualMachineListResult{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armcompute.VirtualMachinesClientGetOptions) (resp azfake.Responder[armcompute.VirtualMachinesClientGetResponse], errResp azfake.ErrorResponder) {
				v, ok := Get(e, vms, vmID(sub, rg, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armcompute.VirtualMachinesClientGetResponse{VirtualMachine: v}, nil)
				return
			},
		},
		VirtualMachineExtensionsServer: compfake.VirtualMachineExtensionsServer{
			List: func(_ context.Context, rg, vm string, _ *armcompute.VirtualMachineExtensionsClientListOptions) (resp azfake.Responder[armcompute.VirtualMachineExtensionsClientListResponse], errResp azfake.ErrorResponder) {
				id := vmID(sub, rg, vm)
				if _, ok := Get(e, vms, id); !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armcompute.VirtualMachineExtensionsClientListResponse{
					VirtualMachineExtensionsListResult: armcompute.VirtualMachineExtensionsListResult{
						Value: List(e, exts, id+"/extensions/")}}, nil)
				return
			},
		},
		DisksServer: compfake.DisksServer{
			NewListPager: func(*armcompute.DisksClientListOptions) (resp azfake.PagerResponder[armcompute.DisksClientListResponse]) {
				for _, page := range Pages(e, List(e, disks, prefix)) {
					resp.AddPage(http.StatusOK, armcompute.DisksClientListResponse{DiskList: armcompute.DiskList{Value: page}}, nil)
				}
				return resp
			},
			Get: func(_ context.Context, rg, name string, _ *armcompute.DisksClientGetOptions) (resp azfake.Responder[armcompute.DisksClientGetResponse], errResp azfake.ErrorResponder) {
				d, ok := Get(e, disks, diskID(sub, rg, name))
				if !ok {
					errResp.SetResponseError(http.StatusNotFound, "ResourceNotFound")
					return
				}
				resp.SetResponse(http.StatusOK, armcompute.DisksClientGetResponse{Disk: d}, nil)
				return
			},
		},
	}
}
