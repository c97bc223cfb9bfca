package azure

import (
	"context"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"

	"github.com/vigilsec/vigil"
)

// Compute resource types.
const (
	TypeVM   = "azure.compute.vm"
	TypeDisk = "azure.compute.disk"
)

// ARM operations of the compute collector, as named in Azure RBAC.
const (
	opVMRead           = "Microsoft.Compute/virtualMachines/read"
	opVMExtensionsRead = "Microsoft.Compute/virtualMachines/extensions/read"
	opDiskRead         = "Microsoft.Compute/disks/read"
	opNICRead          = "Microsoft.Network/networkInterfaces/read"
	opPublicIPRead     = "Microsoft.Network/publicIPAddresses/read"
)

func init() {
	register(&service{
		name:    "compute",
		types:   []string{TypeVM, TypeDisk},
		collect: collectCompute,
		get:     getCompute,
	})
	// Registered here rather than in limits.go so that each service file
	// owns its namespace; namespaceService is initialized before any init.
	namespaceService["microsoft.compute"] = "compute"
}

// collectCompute streams the subscription's virtual machines, then its
// managed disks.
func collectCompute(ctx context.Context, t *task) error {
	f, err := armcompute.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opVMRead, err)
	}
	nf, err := armnetwork.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return withOp(opNICRead, err)
	}
	return runListings(ctx, t, []listing{
		{typ: TypeVM, list: func(ctx context.Context, t *task) error { return t.listVMs(ctx, f, nf) }},
		{typ: TypeDisk, list: func(ctx context.Context, t *task) error { return t.listDisks(ctx, f) }},
	})
}

// publicIPs maps lowercased NIC ids to the public IPs of their IP
// configurations, and failure records why that map could not be built.
type publicIPs struct {
	byNIC   map[string][]any
	failure error
	op      string
}

// nicPublicIPs lists the subscription's network interfaces and public IP
// addresses once, so that each VM's public IPs are resolved without a
// request per VM. The map holds only NIC ids and addresses: a few hundred
// bytes per NIC, far less than the VMs' documents, which stay streamed.
func (t *task) nicPublicIPs(ctx context.Context, nf *armnetwork.ClientFactory) publicIPs {
	addrs := map[string]*armnetwork.PublicIPAddress{}
	pp := nf.NewPublicIPAddressesClient().NewListAllPager(nil)
	for pp.More() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return publicIPs{failure: err, op: opPublicIPRead}
		}
		for _, p := range page.Value {
			if p != nil && p.ID != nil {
				addrs[strings.ToLower(*p.ID)] = p
			}
		}
	}
	out := publicIPs{byNIC: map[string][]any{}}
	np := nf.NewInterfacesClient().NewListAllPager(nil)
	for np.More() {
		page, err := np.NextPage(ctx)
		if err != nil {
			return publicIPs{failure: err, op: opNICRead}
		}
		for _, n := range page.Value {
			if n == nil || n.ID == nil {
				continue
			}
			out.byNIC[strings.ToLower(*n.ID)] = nicPublicIPList(*n, func(id string) *armnetwork.PublicIPAddress {
				return addrs[strings.ToLower(id)]
			})
		}
	}
	return out
}

// nicPublicIPList returns the public IPs of a NIC's IP configurations;
// lookup resolves a public IP id (nil when it cannot be read, in which case
// only the id is known).
func nicPublicIPList(n armnetwork.Interface, lookup func(id string) *armnetwork.PublicIPAddress) []any {
	var out []any
	for _, c := range deref(n.Properties).IPConfigurations {
		if c == nil || c.Properties == nil || c.Properties.PublicIPAddress == nil || c.Properties.PublicIPAddress.ID == nil {
			continue
		}
		id := *c.Properties.PublicIPAddress.ID
		ip := map[string]any{"id": id, "nic_id": deref(n.ID), "ip_address": "", "allocation": "", "sku": ""}
		if p := lookup(id); p != nil {
			pp := deref(p.Properties)
			ip["ip_address"] = deref(pp.IPAddress)
			ip["allocation"] = string(deref(pp.PublicIPAllocationMethod))
			if p.SKU != nil {
				ip["sku"] = string(deref(p.SKU.Name))
			}
		}
		out = append(out, ip)
	}
	return out
}

// listVMs streams every virtual machine with its extensions and public IPs.
func (t *task) listVMs(ctx context.Context, f *armcompute.ClientFactory, nf *armnetwork.ClientFactory) error {
	var ips *publicIPs
	pager := f.NewVirtualMachinesClient().NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return withOp(opVMRead, err)
		}
		if ips == nil && len(page.Value) > 0 {
			// Only a subscription with VMs pays for the NIC listings.
			got := t.nicPublicIPs(ctx, nf)
			if got.failure != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			ips = &got
		}
		for _, v := range page.Value {
			if v == nil || v.ID == nil {
				continue
			}
			r := t.vmResource(ctx, f, *v)
			if ips.failure != nil {
				t.propErr(&r, "public_ips", ips.op, ips.failure)
			} else {
				r.Properties["public_ips"] = vmPublicIPs(*v, func(nic string) []any { return ips.byNIC[strings.ToLower(nic)] })
			}
			if err := t.emit(ctx, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// vmPublicIPs gathers the public IPs of a VM's NICs, in NIC order.
func vmPublicIPs(v armcompute.VirtualMachine, ofNIC func(nicID string) []any) []any {
	var out []any
	for _, id := range vmNICs(v) {
		out = append(out, ofNIC(id)...)
	}
	return orEmpty(out)
}

// vmNICs returns the ids of a VM's network interfaces.
func vmNICs(v armcompute.VirtualMachine) []string {
	var out []string
	if np := deref(v.Properties).NetworkProfile; np != nil {
		for _, n := range np.NetworkInterfaces {
			if n != nil && n.ID != nil {
				out = append(out, *n.ID)
			}
		}
	}
	return out
}

// vmResource builds the azure.compute.vm resource (without public_ips,
// which the caller resolves) and reads the VM's extensions.
func (t *task) vmResource(ctx context.Context, f *armcompute.ClientFactory, v armcompute.VirtualMachine) vigil.Resource {
	id := deref(v.ID)
	r := vigil.Resource{
		UID: id, Type: TypeVM, Name: deref(v.Name), Region: deref(v.Location), Tags: tags(v.Tags),
		Properties: vmProps(v),
	}
	resp, err := f.NewVirtualMachineExtensionsClient().List(ctx, resourceGroupOf(id), deref(v.Name), nil)
	if err != nil {
		t.propErr(&r, "extensions", opVMExtensionsRead, err)
		return r
	}
	r.Properties["extensions"] = extensionProps(resp.Value)
	return r
}

// vmProps is the documented properties document of a virtual machine
// (docs/resources/azure.md).
func vmProps(v armcompute.VirtualMachine) map[string]any {
	p := deref(v.Properties)
	nics := []any{}
	for _, n := range vmNICs(v) {
		nics = append(nics, n)
	}
	props := map[string]any{
		"resource_group":     resourceGroupOf(deref(v.ID)),
		"vm_id":              deref(p.VMID),
		"vm_size":            "",
		"os_type":            "",
		"image":              nil,
		"os_disk":            nil,
		"data_disks":         []any{},
		"managed_disks":      true,
		"encryption_at_host": false,
		"security_profile":   securityProps(p.SecurityProfile),
		"network_interfaces": nics,
		"boot_diagnostics":   map[string]any{"enabled": false, "managed_storage": false},
		"identity":           vmIdentityProps(v.Identity),
		"zones":              stringList(v.Zones),
		"provisioning_state": deref(p.ProvisioningState),
		"created_at":         timeString(p.TimeCreated),
	}
	if p.HardwareProfile != nil {
		props["vm_size"] = string(deref(p.HardwareProfile.VMSize))
	}
	if sp := p.SecurityProfile; sp != nil {
		props["encryption_at_host"] = boolOr(sp.EncryptionAtHost, false)
	}
	if bd := deref(p.DiagnosticsProfile).BootDiagnostics; bd != nil {
		enabled := boolOr(bd.Enabled, false)
		// Without a storage URI, boot diagnostics use a managed storage
		// account.
		props["boot_diagnostics"] = map[string]any{"enabled": enabled, "managed_storage": enabled && deref(bd.StorageURI) == ""}
	}
	if sp := p.StorageProfile; sp != nil {
		if img := sp.ImageReference; img != nil {
			props["image"] = map[string]any{
				"publisher": deref(img.Publisher), "offer": deref(img.Offer), "sku": deref(img.SKU),
				"version": deref(img.Version), "id": deref(img.ID),
			}
		}
		managed := true
		if od := sp.OSDisk; od != nil {
			props["os_type"] = string(deref(od.OSType))
			d := vmDiskProps(deref(od.Name), od.ManagedDisk, od.Vhd)
			d["ade_enabled"] = od.EncryptionSettings != nil && boolOr(od.EncryptionSettings.Enabled, false)
			props["os_disk"] = d
			managed = od.ManagedDisk != nil
		}
		var data []any
		for _, dd := range sp.DataDisks {
			if dd == nil {
				continue
			}
			d := vmDiskProps(deref(dd.Name), dd.ManagedDisk, dd.Vhd)
			d["lun"] = int(deref(dd.Lun))
			data = append(data, d)
			managed = managed && dd.ManagedDisk != nil
		}
		props["data_disks"] = orEmpty(data)
		props["managed_disks"] = managed
	}
	if props["os_type"] == "" && p.OSProfile != nil {
		switch {
		case p.OSProfile.WindowsConfiguration != nil:
			props["os_type"] = string(armcompute.OperatingSystemTypesWindows)
		case p.OSProfile.LinuxConfiguration != nil:
			props["os_type"] = string(armcompute.OperatingSystemTypesLinux)
		}
	}
	return props
}

// vmDiskProps describes one disk as the VM references it: a managed disk
// by id, or an unmanaged VHD in a storage account.
func vmDiskProps(name string, md *armcompute.ManagedDiskParameters, vhd *armcompute.VirtualHardDisk) map[string]any {
	d := map[string]any{
		"name": name, "managed": md != nil, "disk_id": "", "storage_type": "",
		"disk_encryption_set_id": "", "security_encryption_type": "", "vhd_uri": "",
	}
	if vhd != nil {
		// The URI of an unmanaged disk may carry a SAS token: keep only
		// the blob's address.
		u, _, _ := strings.Cut(deref(vhd.URI), "?")
		d["vhd_uri"] = u
	}
	if md == nil {
		return d
	}
	d["disk_id"] = deref(md.ID)
	d["storage_type"] = string(deref(md.StorageAccountType))
	if md.DiskEncryptionSet != nil {
		d["disk_encryption_set_id"] = deref(md.DiskEncryptionSet.ID)
	}
	if sp := md.SecurityProfile; sp != nil {
		d["security_encryption_type"] = string(deref(sp.SecurityEncryptionType))
		if d["disk_encryption_set_id"] == "" && sp.DiskEncryptionSet != nil {
			d["disk_encryption_set_id"] = deref(sp.DiskEncryptionSet.ID)
		}
	}
	return d
}

// securityProps normalizes the VM's security profile. Without one the VM
// is a Standard (not Trusted Launch) VM.
func securityProps(sp *armcompute.SecurityProfile) map[string]any {
	out := map[string]any{"security_type": "Standard", "secure_boot": false, "vtpm": false}
	if sp == nil {
		return out
	}
	if sp.SecurityType != nil {
		out["security_type"] = string(*sp.SecurityType)
	}
	if u := sp.UefiSettings; u != nil {
		out["secure_boot"] = boolOr(u.SecureBootEnabled, false)
		out["vtpm"] = boolOr(u.VTpmEnabled, false)
	}
	return out
}

// vmIdentityProps normalizes the VM's managed identity.
func vmIdentityProps(id *armcompute.VirtualMachineIdentity) map[string]any {
	out := map[string]any{"type": "None", "principal_id": "", "user_assigned": []any{}}
	if id == nil {
		return out
	}
	if id.Type != nil {
		out["type"] = string(*id.Type)
	}
	out["principal_id"] = deref(id.PrincipalID)
	keys := make([]string, 0, len(id.UserAssignedIdentities))
	for k := range id.UserAssignedIdentities {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ua := []any{}
	for _, k := range keys {
		ua = append(ua, k)
	}
	out["user_assigned"] = ua
	return out
}

// extensionProps lists the VM's extensions, sorted by name.
func extensionProps(xs []*armcompute.VirtualMachineExtension) []any {
	var out []any
	sorted := append([]*armcompute.VirtualMachineExtension(nil), xs...)
	sort.SliceStable(sorted, func(i, j int) bool { return deref(deref(sorted[i]).Name) < deref(deref(sorted[j]).Name) })
	for _, x := range sorted {
		if x == nil {
			continue
		}
		p := deref(x.Properties)
		out = append(out, map[string]any{
			"name":               deref(x.Name),
			"publisher":          deref(p.Publisher),
			"type":               deref(p.Type),
			"version":            deref(p.TypeHandlerVersion),
			"auto_upgrade":       boolOr(p.EnableAutomaticUpgrade, false),
			"provisioning_state": deref(p.ProvisioningState),
		})
	}
	return orEmpty(out)
}

// listDisks streams every managed disk of the subscription.
func (t *task) listDisks(ctx context.Context, f *armcompute.ClientFactory) error {
	pager := f.NewDisksClient().NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return withOp(opDiskRead, err)
		}
		for _, d := range page.Value {
			if d == nil || d.ID == nil {
				continue
			}
			if err := t.emit(ctx, diskResource(*d)); err != nil {
				return err
			}
		}
	}
	return nil
}

// diskResource builds the azure.compute.disk resource. ARM documents the
// defaults applied here: platform-managed keys when no encryption is set,
// AllowAll network access, public network access enabled.
func diskResource(d armcompute.Disk) vigil.Resource {
	p := deref(d.Properties)
	enc := map[string]any{"type": string(armcompute.EncryptionTypeEncryptionAtRestWithPlatformKey), "disk_encryption_set_id": ""}
	if e := p.Encryption; e != nil {
		if e.Type != nil {
			enc["type"] = string(*e.Type)
		}
		enc["disk_encryption_set_id"] = deref(e.DiskEncryptionSetID)
	}
	enc["customer_managed_key"] = enc["type"] != string(armcompute.EncryptionTypeEncryptionAtRestWithPlatformKey)
	props := map[string]any{
		"resource_group":        resourceGroupOf(deref(d.ID)),
		"sku":                   "",
		"size_gb":               int(deref(p.DiskSizeGB)),
		"os_type":               string(deref(p.OSType)),
		"disk_state":            string(deref(p.DiskState)),
		"managed_by":            deref(d.ManagedBy),
		"attached":              deref(d.ManagedBy) != "",
		"encryption":            enc,
		"ade_enabled":           p.EncryptionSettingsCollection != nil && boolOr(p.EncryptionSettingsCollection.Enabled, false),
		"network_access_policy": string(deref(p.NetworkAccessPolicy)),
		"public_network_access": string(deref(p.PublicNetworkAccess)),
		"data_access_auth_mode": string(deref(p.DataAccessAuthMode)),
		"disk_access_id":        deref(p.DiskAccessID),
		"zones":                 stringList(d.Zones),
		"created_at":            timeString(p.TimeCreated),
	}
	if props["network_access_policy"] == "" {
		props["network_access_policy"] = string(armcompute.NetworkAccessPolicyAllowAll)
	}
	if props["public_network_access"] == "" {
		props["public_network_access"] = string(armcompute.PublicNetworkAccessEnabled)
	}
	if props["data_access_auth_mode"] == "" {
		props["data_access_auth_mode"] = string(armcompute.DataAccessAuthModeNone)
	}
	if d.SKU != nil {
		props["sku"] = string(deref(d.SKU.Name))
	}
	return vigil.Resource{UID: deref(d.ID), Type: TypeDisk, Name: deref(d.Name), Region: deref(d.Location), Tags: tags(d.Tags), Properties: props}
}

// stringList converts ARM's list of string pointers to a list, [] when empty.
func stringList(in []*string) []any {
	var out []any
	for _, s := range in {
		if s != nil {
			out = append(out, *s)
		}
	}
	return orEmpty(out)
}

// getCompute re-reads one virtual machine or managed disk by id.
func getCompute(ctx context.Context, t *task, id *arm.ResourceID) (vigil.Resource, error) {
	f, err := armcompute.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
	if err != nil {
		return vigil.Resource{}, err
	}
	switch strings.ToLower(strings.Join(id.ResourceType.Types, "/")) {
	case "virtualmachines":
		resp, err := f.NewVirtualMachinesClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
		if err != nil {
			return vigil.Resource{}, withOp(opVMRead, err)
		}
		nf, err := armnetwork.NewClientFactory(t.acct.ID, t.c.cred, t.c.clientOpts)
		if err != nil {
			return vigil.Resource{}, err
		}
		r := t.vmResource(ctx, f, resp.VirtualMachine)
		ips, op, err := t.getPublicIPs(ctx, nf, resp.VirtualMachine)
		if err != nil {
			if ctx.Err() != nil {
				return vigil.Resource{}, ctx.Err()
			}
			t.propErr(&r, "public_ips", op, err)
		} else {
			r.Properties["public_ips"] = ips
		}
		return r, nil
	case "disks":
		resp, err := f.NewDisksClient().Get(ctx, id.ResourceGroupName, id.Name, nil)
		if err != nil {
			return vigil.Resource{}, withOp(opDiskRead, err)
		}
		return diskResource(resp.Disk), nil
	default:
		return vigil.Resource{}, vigil.Errorf(vigil.EINVALID, "azure resource id %s: type %s is not collected", id.String(), id.ResourceType.String())
	}
}

// getPublicIPs resolves one VM's public IPs with a GET per NIC and per
// public IP, as a scan's listings would. A NIC or public IP that no longer
// exists contributes nothing (or only its id), as in a listing.
func (t *task) getPublicIPs(ctx context.Context, nf *armnetwork.ClientFactory, v armcompute.VirtualMachine) ([]any, string, error) {
	byNIC := map[string][]any{}
	for _, nicID := range vmNICs(v) {
		rid, err := arm.ParseResourceID(nicID)
		if err != nil {
			continue
		}
		n, err := nf.NewInterfacesClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if classify(err) == vigil.ENOTFOUND {
			continue
		}
		if err != nil {
			return nil, opNICRead, err
		}
		var failed error
		list := nicPublicIPList(n.Interface, func(id string) *armnetwork.PublicIPAddress {
			pid, err := arm.ParseResourceID(id)
			if err != nil || failed != nil {
				return nil
			}
			p, err := nf.NewPublicIPAddressesClient().Get(ctx, pid.ResourceGroupName, pid.Name, nil)
			if err != nil {
				if classify(err) != vigil.ENOTFOUND {
					failed = err
				}
				return nil
			}
			return &p.PublicIPAddress
		})
		if failed != nil {
			return nil, opPublicIPRead, failed
		}
		byNIC[strings.ToLower(nicID)] = list
	}
	return vmPublicIPs(v, func(nic string) []any { return byNIC[strings.ToLower(nic)] }), "", nil
}
