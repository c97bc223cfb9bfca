package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/vigilsec/vigil/azure"
	"github.com/vigilsec/vigil/azure/azuretest"
)

// azureShape is how many of each thing one generated subscription holds.
type azureShape struct {
	storageAccounts   int // 10% FileStorage (no blob service, no containers)
	containersPerAcct int
	nsgs              int
	vms               int // each with an OS and a data disk, a NIC
	spareDisks        int // unattached
	sqlServers        int
	databasesPerSrv   int // besides master, which the collector skips
	keyVaults         int
	keysPerVault      int
	secretsPerVault   int
	customRoles       int
	roleAssignments   int
	flowLogs          int // on NSGs, spread over the watchers
}

// shape10k makes 2 × 5,133 = 10,266 resources.
var shape10k = azureShape{
	storageAccounts: 300, containersPerAcct: 4, nsgs: 600, vms: 500, spareDisks: 120,
	sqlServers: 100, databasesPerSrv: 4, keyVaults: 200, keysPerVault: 3, secretsPerVault: 2,
	customRoles: 10, roleAssignments: 700, flowLogs: 120,
}

// azureEstate is a generated estate: the fixture document azuretest.Load
// reads, and what a scan of it must find.
type azureEstate struct {
	subs []string
	doc  map[string][]any
	// want counts the resources a full scan must store, by type.
	want map[string]int
	// publicContainers and sshOpenNSGs are the resources generated to fail
	// azure-storage-container-private and azure-network-nsg-no-internet-ssh.
	publicContainers, sshOpenNSGs int
	// entries counts the fixture entries (ARM objects) of the estate.
	entries int
}

// regions the generated resources live in; network watchers exist in the
// first two only, so azure-network-watcher-enabled fails on every
// subscription for the third.
var benchRegions = []string{"westeurope", "northeurope", "eastus"}

const benchTenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

// generateAzureEstate builds, from seed alone, an estate of len(subs)
// subscriptions shaped like sh, with payloads shaped like ARM's responses
// (those of azure/testdata) and about a quarter of everything
// misconfigured.
func generateAzureEstate(seed uint64, subs []string, sh azureShape) *azureEstate {
	g := &azureGen{r: rand.New(rand.NewPCG(seed, seed^0x5eed)),
		e: &azureEstate{subs: subs, doc: map[string][]any{}, want: map[string]int{}}}
	for i, sub := range subs {
		g.subscription(i, sub, sh)
	}
	return g.e
}

// load seeds a new in-memory estate with the generated fixture.
func (e *azureEstate) load() (*azuretest.Estate, error) {
	raw, err := json.Marshal(e.doc)
	if err != nil {
		return nil, fmt.Errorf("marshal generated azure estate: %w", err)
	}
	est := azuretest.New()
	if err := est.Load(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("load generated azure estate: %w", err)
	}
	return est, nil
}

// resources is how many resources a full scan must store.
func (e *azureEstate) resources() int {
	n := 0
	for _, c := range e.want {
		n += c
	}
	return n
}

type azureGen struct {
	r *rand.Rand
	e *azureEstate
}

type obj = map[string]any

func (g *azureGen) add(key string, v obj) {
	g.e.doc[key] = append(g.e.doc[key], v)
	g.e.entries++
}

// bad reports, with probability p, that the next thing is misconfigured.
func (g *azureGen) bad(p float64) bool { return g.r.Float64() < p }

func (g *azureGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// guid returns a random GUID (version 4 layout) from the generator's seed.
func (g *azureGen) guid() string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", g.r.Uint32(), g.r.Uint32()&0xffff,
		g.r.Uint32()&0xfff, g.r.Uint32()&0xfff, g.r.Uint64()&0xffffffffffff)
}

// day returns an RFC 3339 time between 2018 and 2025.
func (g *azureGen) day() string {
	return fmt.Sprintf("20%02d-%02d-%02dT%02d:%02d:00Z", 18+g.r.IntN(7), 1+g.r.IntN(12), 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60))
}

func (g *azureGen) subscription(i int, sub string, sh azureShape) {
	base := "/subscriptions/" + sub
	g.add("subscriptions", obj{
		"id": base, "subscriptionId": sub, "tenantId": benchTenant,
		"displayName": fmt.Sprintf("Bench Subscription %d", i+1), "state": "Enabled", "authorizationSource": "RoleBased",
		"subscriptionPolicies": obj{"locationPlacementId": "Public_2014-09-01", "quotaId": "EnterpriseAgreement_2014-09-01", "spendingLimit": "Off"},
	})
	g.e.want[azure.TypeSubscription]++
	g.settings(base)
	g.storage(i, base, sh)
	g.network(i, base, sh)
	g.compute(i, base, sh)
	g.sql(i, base, sh)
	g.keyVaults(i, base, sh)
	g.authorization(base, sh)
}

// settings are the subscription-wide Defender plans, security contact,
// auto-provisioning, activity log diagnostic setting and alerts.
func (g *azureGen) settings(base string) {
	for _, plan := range []string{"VirtualMachines", "StorageAccounts", "SqlServers", "SqlServerVirtualMachines", "KeyVaults",
		"Arm", "AppServices", "Containers", "CosmosDbs", "OpenSourceRelationalDatabases"} {
		tier := "Standard"
		if g.bad(0.3) {
			tier = "Free"
		}
		g.add("pricings", obj{"id": base + "/providers/Microsoft.Security/pricings/" + plan, "name": plan, "type": "Microsoft.Security/pricings",
			"properties": obj{"pricingTier": tier}})
	}
	contact := obj{"emails": "secops@contoso.com", "isEnabled": true,
		"notificationsSources": []any{obj{"sourceType": "Alert", "minimalSeverity": g.pick("High", "Medium", "Low")}},
		"notificationsByRole":  obj{"state": g.pick("On", "Off"), "roles": []any{"Owner"}}}
	g.add("securityContacts", obj{"id": base + "/providers/Microsoft.Security/securityContacts/default", "name": "default",
		"type": "Microsoft.Security/securityContacts", "properties": contact})
	g.add("autoProvisioningSettings", obj{"id": base + "/providers/Microsoft.Security/autoProvisioningSettings/default", "name": "default",
		"type": "Microsoft.Security/autoProvisioningSettings", "properties": obj{"autoProvision": g.pick("On", "Off")}})
	var logs []any
	for _, c := range []string{"Administrative", "Security", "ServiceHealth", "Alert", "Recommendation", "Policy", "Autoscale", "ResourceHealth"} {
		logs = append(logs, obj{"category": c, "enabled": !g.bad(0.25)})
	}
	g.add("diagnosticSettings", obj{"id": base + "/providers/Microsoft.Insights/diagnosticSettings/activity-to-law", "name": "activity-to-law",
		"type":       "Microsoft.Insights/diagnosticSettings",
		"properties": obj{"workspaceId": base + "/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law", "logs": logs}})
	for _, op := range []string{"Microsoft.Authorization/policyAssignments/write", "Microsoft.Authorization/policyAssignments/delete",
		"Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/networkSecurityGroups/delete",
		"Microsoft.Sql/servers/firewallRules/write", "Microsoft.Network/publicIPAddresses/write"} {
		if g.bad(0.3) {
			continue
		}
		name := fmt.Sprintf("alert-%d", g.r.IntN(1e6))
		g.add("activityLogAlerts", obj{"id": base + "/resourceGroups/rg-monitor/providers/Microsoft.Insights/activityLogAlerts/" + name, "name": name,
			"type": "Microsoft.Insights/ActivityLogAlerts", "location": "Global",
			"properties": obj{"enabled": true, "scopes": []any{base},
				"condition": obj{"allOf": []any{obj{"field": "category", "equals": "Administrative"}, obj{"field": "operationName", "equals": op}}}}})
	}
}

func (g *azureGen) storage(si int, base string, sh azureShape) {
	for a := range sh.storageAccounts {
		name := fmt.Sprintf("st%d%05d", si, a)
		rg := fmt.Sprintf("rg-data-%02d", a%20)
		id := base + "/resourceGroups/" + rg + "/providers/Microsoft.Storage/storageAccounts/" + name
		kind := "StorageV2"
		if a%10 == 9 {
			kind = "FileStorage"
		}
		loc := benchRegions[a%len(benchRegions)]
		p := obj{
			"accessTier": "Hot", "allowBlobPublicAccess": g.bad(0.2), "allowCrossTenantReplication": g.bad(0.2),
			"allowSharedKeyAccess": g.bad(0.4), "supportsHttpsTrafficOnly": !g.bad(0.1),
			"minimumTlsVersion": g.pick("TLS1_2", "TLS1_2", "TLS1_2", "TLS1_0"), "publicNetworkAccess": g.pick("Enabled", "Disabled"),
			"creationTime":    g.day(),
			"keyCreationTime": obj{"key1": g.day(), "key2": g.day()},
			"networkAcls": obj{"bypass": g.pick("AzureServices", "None"), "defaultAction": g.pick("Deny", "Allow"),
				"ipRules": []any{obj{"action": "Allow", "value": "203.0.113.0/24"}}, "virtualNetworkRules": []any{}},
			"encryption": obj{"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": !g.bad(0.5),
				"services": obj{"blob": obj{"enabled": true, "keyType": "Account"}, "file": obj{"enabled": true, "keyType": "Account"}}},
			"primaryLocation": loc, "provisioningState": "Succeeded", "statusOfPrimary": "available",
		}
		if !g.bad(0.3) {
			p["keyPolicy"] = obj{"keyExpirationPeriodInDays": 90}
		}
		g.add("storageAccounts", obj{"id": id, "name": name, "type": "Microsoft.Storage/storageAccounts", "location": loc, "kind": kind,
			"sku":  obj{"name": g.pick("Standard_LRS", "Standard_GRS", "Standard_ZRS"), "tier": "Standard"},
			"tags": obj{"env": g.pick("prod", "dev", "test"), "owner": fmt.Sprintf("team-%d", a%7)}, "properties": p})
		g.e.want[azure.TypeStorageAccount]++
		if kind == "FileStorage" {
			continue
		}
		if !g.bad(0.3) {
			g.add("blobServices", obj{"id": id + "/blobServices/default", "name": "default", "type": "Microsoft.Storage/storageAccounts/blobServices",
				"properties": obj{
					"deleteRetentionPolicy":          obj{"enabled": !g.bad(0.2), "days": 7 + g.r.IntN(30)},
					"containerDeleteRetentionPolicy": obj{"enabled": !g.bad(0.2), "days": 7},
					"isVersioningEnabled":            g.r.IntN(2) == 0,
				}})
		}
		for c := range sh.containersPerAcct {
			access := "None"
			if g.bad(0.15) {
				access = g.pick("Blob", "Container")
				g.e.publicContainers++
			}
			cname := fmt.Sprintf("container-%d", c)
			g.add("blobContainers", obj{"id": id + "/blobServices/default/containers/" + cname, "name": cname,
				"type": "Microsoft.Storage/storageAccounts/blobServices/containers", "etag": fmt.Sprintf("\"0x8D5%011X\"", g.r.Uint64()&0xfffffffffff),
				"properties": obj{"publicAccess": access, "hasImmutabilityPolicy": g.bad(0.1), "hasLegalHold": false,
					"lastModifiedTime": g.day(), "leaseState": "Available", "leaseStatus": "Unlocked"}})
			g.e.want[azure.TypeStorageContainer]++
		}
	}
}

// nsgRule is one security rule in ARM's shape.
func nsgRule(nsgID, name string, prio int, dir, access, proto, src, port string) obj {
	return obj{"name": name, "id": nsgID + "/securityRules/" + name, "type": "Microsoft.Network/networkSecurityGroups/securityRules",
		"properties": obj{"protocol": proto, "sourceAddressPrefix": src, "destinationAddressPrefix": "*", "access": access,
			"destinationPortRange": port, "sourcePortRange": "*", "priority": prio, "direction": dir, "provisioningState": "Succeeded"}}
}

func (g *azureGen) network(si int, base string, sh azureShape) {
	var nsgIDs []string
	for n := range sh.nsgs {
		name := fmt.Sprintf("nsg-%d-%04d", si, n)
		id := base + "/resourceGroups/rg-net-" + fmt.Sprint(n%10) + "/providers/Microsoft.Network/networkSecurityGroups/" + name
		nsgIDs = append(nsgIDs, id)
		rules := []any{
			nsgRule(id, "allow-https", 100, "Inbound", "Allow", "Tcp", "Internet", "443"),
			nsgRule(id, "allow-rdp-office", 200, "Inbound", "Allow", "*", "198.51.100.0/24", "3389"),
			nsgRule(id, "deny-outbound-smtp", 4000, "Outbound", "Deny", "Tcp", "VirtualNetwork", "25"),
		}
		if g.bad(0.15) {
			rules = append(rules, nsgRule(id, "allow-ssh-anywhere", 130, "Inbound", "Allow", "Tcp", "*", "22"))
			g.e.sshOpenNSGs++
		}
		if g.bad(0.1) {
			rules = append(rules, nsgRule(id, "allow-http", 140, "Inbound", "Allow", "Tcp", "0.0.0.0/0", "80"))
		}
		if g.bad(0.1) {
			rules = append(rules, nsgRule(id, "allow-dns-udp", 150, "Inbound", "Allow", "Udp", "Internet", "53"))
		}
		g.add("networkSecurityGroups", obj{"id": id, "name": name, "type": "Microsoft.Network/networkSecurityGroups",
			"location": benchRegions[n%len(benchRegions)], "etag": "W/\"" + g.guid() + "\"", "tags": obj{"tier": g.pick("web", "app", "db")},
			"properties": obj{"provisioningState": "Succeeded", "resourceGuid": g.guid(), "securityRules": rules}})
		g.e.want[azure.TypeNSG]++
	}
	for _, loc := range benchRegions {
		vnet := base + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-" + loc
		g.add("virtualNetworks", obj{"id": vnet, "name": "vnet-" + loc, "type": "Microsoft.Network/virtualNetworks", "location": loc,
			"properties": obj{"addressSpace": obj{"addressPrefixes": []any{"10.0.0.0/16"}}, "provisioningState": "Succeeded"}})
	}
	watchers := benchRegions[:2]
	for _, loc := range watchers {
		g.add("networkWatchers", obj{"id": base + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_" + loc,
			"name": "NetworkWatcher_" + loc, "type": "Microsoft.Network/networkWatchers", "location": loc, "properties": obj{"provisioningState": "Succeeded"}})
		g.e.want[azure.TypeNetworkWatcher]++
	}
	for f := range sh.flowLogs {
		loc := watchers[f%len(watchers)]
		w := base + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/NetworkWatcher_" + loc
		name := fmt.Sprintf("fl-%04d", f)
		p := obj{"targetResourceId": nsgIDs[f%len(nsgIDs)], "targetResourceGuid": g.guid(),
			"storageId": base + "/resourceGroups/rg-data-00/providers/Microsoft.Storage/storageAccounts/st000000",
			"enabled":   true, "retentionPolicy": obj{"days": []int{0, 30, 90, 120}[g.r.IntN(4)], "enabled": !g.bad(0.2)},
			"format": obj{"type": "JSON", "version": 2}, "provisioningState": "Succeeded"}
		if !g.bad(0.4) {
			p["flowAnalyticsConfiguration"] = obj{"networkWatcherFlowAnalyticsConfiguration": obj{"enabled": true, "workspaceId": g.guid(),
				"workspaceRegion": loc, "workspaceResourceId": base + "/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law",
				"trafficAnalyticsInterval": 10}}
		}
		g.add("flowLogs", obj{"id": w + "/flowLogs/" + name, "name": name, "type": "Microsoft.Network/networkWatchers/flowLogs", "location": loc, "properties": p})
		g.e.want[azure.TypeFlowLog]++
	}
}

func (g *azureGen) disk(id, name, loc, managedBy string, sizeGB int) {
	p := obj{"diskSizeGB": sizeGB, "diskState": "Unattached", "timeCreated": g.day(), "provisioningState": "Succeeded",
		"networkAccessPolicy": g.pick("DenyAll", "AllowAll", "AllowPrivate"), "publicNetworkAccess": g.pick("Disabled", "Enabled")}
	if g.bad(0.4) {
		p["encryption"] = obj{"type": "EncryptionAtRestWithPlatformKey"}
	} else {
		p["encryption"] = obj{"type": "EncryptionAtRestWithCustomerKey",
			"diskEncryptionSetId": id[:len(id)-len(name)-len("/providers/Microsoft.Compute/disks/")] + "/providers/Microsoft.Compute/diskEncryptionSets/des"}
	}
	if !g.bad(0.5) {
		p["dataAccessAuthMode"] = "AzureActiveDirectory"
	}
	d := obj{"id": id, "name": name, "type": "Microsoft.Compute/disks", "location": loc,
		"sku": obj{"name": "Premium_LRS", "tier": "Premium"}, "properties": p}
	if managedBy != "" {
		d["managedBy"] = managedBy
		p["diskState"] = "Attached"
	}
	g.add("disks", d)
	g.e.want[azure.TypeDisk]++
}

func (g *azureGen) compute(si int, base string, sh azureShape) {
	for v := range sh.vms {
		name := fmt.Sprintf("vm-%d-%04d", si, v)
		rg := base + "/resourceGroups/rg-app-" + fmt.Sprint(v%15)
		id := rg + "/providers/Microsoft.Compute/virtualMachines/" + name
		loc := benchRegions[v%len(benchRegions)]
		osDisk, dataDisk := rg+"/providers/Microsoft.Compute/disks/"+name+"-os", rg+"/providers/Microsoft.Compute/disks/"+name+"-data"
		nic := rg + "/providers/Microsoft.Network/networkInterfaces/" + name + "-nic"
		linux := v%3 != 0
		osProfile := obj{"computerName": name, "adminUsername": "azureuser"}
		image := obj{"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts-gen2", "version": "latest"}
		osType := "Linux"
		if linux {
			osProfile["linuxConfiguration"] = obj{"disablePasswordAuthentication": !g.bad(0.2)}
		} else {
			osType = "Windows"
			osProfile["windowsConfiguration"] = obj{"provisionVMAgent": true}
			image = obj{"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition", "version": "latest"}
		}
		p := obj{
			"vmId":            g.guid(),
			"hardwareProfile": obj{"vmSize": g.pick("Standard_D2s_v5", "Standard_B2ms", "Standard_E4s_v5")},
			"storageProfile": obj{"imageReference": image,
				"osDisk": obj{"osType": osType, "name": name + "-os", "createOption": "FromImage", "caching": "ReadWrite", "diskSizeGB": 30,
					"managedDisk": obj{"id": osDisk, "storageAccountType": "Premium_LRS"}},
				"dataDisks": []any{obj{"lun": 0, "name": name + "-data", "createOption": "Attach", "caching": "None", "diskSizeGB": 128,
					"managedDisk": obj{"id": dataDisk, "storageAccountType": "Premium_LRS"}}}},
			"osProfile":          osProfile,
			"networkProfile":     obj{"networkInterfaces": []any{obj{"id": nic, "properties": obj{"primary": true}}}},
			"diagnosticsProfile": obj{"bootDiagnostics": obj{"enabled": true}},
			"provisioningState":  "Succeeded", "timeCreated": g.day(),
		}
		if !g.bad(0.3) {
			p["securityProfile"] = obj{"securityType": "TrustedLaunch", "encryptionAtHost": true, "uefiSettings": obj{"secureBootEnabled": true, "vTpmEnabled": true}}
		}
		g.add("virtualMachines", obj{"id": id, "name": name, "type": "Microsoft.Compute/virtualMachines", "location": loc, "zones": []any{fmt.Sprint(1 + v%3)},
			"tags": obj{"app": g.pick("web", "api", "batch")}, "properties": p})
		g.e.want[azure.TypeVM]++
		if !g.bad(0.4) {
			ext := "MDE.Linux"
			if !linux {
				ext = "MDE.Windows"
			}
			g.add("virtualMachineExtensions", obj{"id": id + "/extensions/" + ext, "name": ext, "type": "Microsoft.Compute/virtualMachines/extensions",
				"location": loc, "properties": obj{"publisher": "Microsoft.Azure.AzureDefenderForServers", "type": ext, "typeHandlerVersion": "1.0",
					"autoUpgradeMinorVersion": true, "provisioningState": "Succeeded"}})
		}
		ipc := obj{"privateIPAddress": fmt.Sprintf("10.%d.%d.%d", si, v/250, 4+v%250), "privateIPAllocationMethod": "Dynamic", "primary": true,
			"subnet": obj{"id": base + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-" + loc + "/subnets/app"}}
		if g.bad(0.2) {
			pip := rg + "/providers/Microsoft.Network/publicIPAddresses/" + name + "-pip"
			ipc["publicIPAddress"] = obj{"id": pip}
			g.add("publicIPAddresses", obj{"id": pip, "name": name + "-pip", "type": "Microsoft.Network/publicIPAddresses", "location": loc,
				"sku": obj{"name": "Standard", "tier": "Regional"},
				"properties": obj{"ipAddress": fmt.Sprintf("20.%d.%d.%d", 60+si, v/250, v%250), "publicIPAllocationMethod": "Static",
					"publicIPAddressVersion": "IPv4", "provisioningState": "Succeeded"}})
		}
		g.add("networkInterfaces", obj{"id": nic, "name": name + "-nic", "type": "Microsoft.Network/networkInterfaces", "location": loc,
			"properties": obj{"ipConfigurations": []any{obj{"id": nic + "/ipConfigurations/ipconfig1", "name": "ipconfig1", "properties": ipc}},
				"virtualMachine": obj{"id": id}, "provisioningState": "Succeeded"}})
		g.disk(osDisk, name+"-os", loc, id, 30)
		g.disk(dataDisk, name+"-data", loc, id, 128)
	}
	for d := range sh.spareDisks {
		name := fmt.Sprintf("spare-%d-%04d", si, d)
		g.disk(base+"/resourceGroups/rg-backup/providers/Microsoft.Compute/disks/"+name, name, benchRegions[d%len(benchRegions)], "", 64<<g.r.IntN(4))
	}
}

func (g *azureGen) sql(si int, base string, sh azureShape) {
	for s := range sh.sqlServers {
		name := fmt.Sprintf("sql-%d-%04d", si, s)
		id := base + "/resourceGroups/rg-db-" + fmt.Sprint(s%8) + "/providers/Microsoft.Sql/servers/" + name
		loc := benchRegions[s%len(benchRegions)]
		g.add("sqlServers", obj{"id": id, "name": name, "type": "Microsoft.Sql/servers", "location": loc, "kind": "v12.0",
			"tags": obj{"env": g.pick("prod", "dev")},
			"properties": obj{"administratorLogin": "sqladmin", "version": "12.0", "state": "Ready", "fullyQualifiedDomainName": name + ".database.windows.net",
				"publicNetworkAccess": g.pick("Enabled", "Disabled"), "minimalTlsVersion": g.pick("1.2", "1.2", "1.0")}})
		g.e.want[azure.TypeSQLServer]++
		g.add("sqlFirewallRules", obj{"id": id + "/firewallRules/office", "name": "office", "type": "Microsoft.Sql/servers/firewallRules",
			"properties": obj{"startIpAddress": "203.0.113.0", "endIpAddress": "203.0.113.255"}})
		if g.bad(0.15) {
			g.add("sqlFirewallRules", obj{"id": id + "/firewallRules/anyone", "name": "anyone", "type": "Microsoft.Sql/servers/firewallRules",
				"properties": obj{"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"}})
		}
		if !g.bad(0.4) {
			g.add("sqlAuditingSettings", obj{"id": id + "/auditingSettings/default", "name": "default", "type": "Microsoft.Sql/servers/auditingSettings",
				"properties": obj{"state": "Enabled", "retentionDays": []int{0, 30, 90, 120}[g.r.IntN(4)], "isAzureMonitorTargetEnabled": true,
					"auditActionsAndGroups": []any{"SUCCESSFUL_DATABASE_AUTHENTICATION_GROUP", "FAILED_DATABASE_AUTHENTICATION_GROUP", "BATCH_COMPLETED_GROUP"}}})
		}
		if !g.bad(0.3) {
			g.add("sqlAdministrators", obj{"id": id + "/administrators/ActiveDirectory", "name": "ActiveDirectory", "type": "Microsoft.Sql/servers/administrators",
				"properties": obj{"administratorType": "ActiveDirectory", "login": "sql-admins", "sid": g.guid(), "tenantId": benchTenant, "azureADOnlyAuthentication": true}})
		}
		if !g.bad(0.6) {
			g.add("sqlEncryptionProtectors", obj{"id": id + "/encryptionProtector/current", "name": "current", "kind": "azurekeyvault",
				"type": "Microsoft.Sql/servers/encryptionProtector",
				"properties": obj{"serverKeyType": "AzureKeyVault", "serverKeyName": "kv_cmk-sql_0123456789abcdef",
					"uri": "https://kv.vault.azure.net/keys/cmk-sql/0123456789abcdef", "autoRotationEnabled": true}})
		}
		if !g.bad(0.4) {
			g.add("sqlSecurityAlertPolicies", obj{"id": id + "/securityAlertPolicies/Default", "name": "Default", "type": "Microsoft.Sql/servers/securityAlertPolicies",
				"properties": obj{"state": "Enabled", "disabledAlerts": []any{""}, "emailAddresses": []any{"secops@contoso.com"}, "emailAccountAdmins": true, "retentionDays": 0}})
		}
		g.add("sqlDatabases", obj{"id": id + "/databases/master", "name": "master", "type": "Microsoft.Sql/servers/databases", "location": loc,
			"sku": obj{"name": "System", "tier": "System"}, "properties": obj{"status": "Online"}})
		for d := range sh.databasesPerSrv {
			dname := fmt.Sprintf("db-%d", d)
			did := id + "/databases/" + dname
			g.add("sqlDatabases", obj{"id": did, "name": dname, "type": "Microsoft.Sql/servers/databases", "location": loc,
				"sku":        obj{"name": g.pick("GP_Gen5", "Basic", "S0"), "tier": "GeneralPurpose"},
				"properties": obj{"status": "Online", "zoneRedundant": g.r.IntN(2) == 0, "isLedgerOn": false, "currentBackupStorageRedundancy": g.pick("Geo", "Local", "Zone")}})
			g.e.want[azure.TypeSQLDatabase]++
			if g.bad(0.1) {
				g.add("sqlTransparentDataEncryption", obj{"id": did + "/transparentDataEncryption/Current", "name": "Current",
					"type": "Microsoft.Sql/servers/databases/transparentDataEncryption", "properties": obj{"state": "Disabled"}})
			}
		}
	}
}

func (g *azureGen) keyVaults(si int, base string, sh azureShape) {
	for k := range sh.keyVaults {
		name := fmt.Sprintf("kv-%d-%04d", si, k)
		id := base + "/resourceGroups/rg-sec-" + fmt.Sprint(k%5) + "/providers/Microsoft.KeyVault/vaults/" + name
		loc := benchRegions[k%len(benchRegions)]
		p := obj{"sku": obj{"family": "A", "name": g.pick("standard", "premium")}, "tenantId": benchTenant, "accessPolicies": []any{},
			"enableSoftDelete": true, "softDeleteRetentionInDays": 90, "enablePurgeProtection": !g.bad(0.3), "enableRbacAuthorization": !g.bad(0.3),
			"publicNetworkAccess": g.pick("Enabled", "Disabled"), "vaultUri": "https://" + name + ".vault.azure.net/",
			"networkAcls": obj{"bypass": "AzureServices", "defaultAction": g.pick("Deny", "Allow"), "ipRules": []any{}, "virtualNetworkRules": []any{}}}
		if !g.bad(0.4) {
			p["privateEndpointConnections"] = []any{obj{"id": id + "/privateEndpointConnections/pe", "properties": obj{
				"privateEndpoint":                   obj{"id": base + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-" + name},
				"privateLinkServiceConnectionState": obj{"status": "Approved"}, "provisioningState": "Succeeded"}}}
		}
		g.add("keyVaults", obj{"id": id, "name": name, "type": "Microsoft.KeyVault/vaults", "location": loc, "tags": obj{"env": g.pick("prod", "dev")}, "properties": p})
		g.e.want[azure.TypeKeyVault]++
		for n := range sh.keysPerVault {
			attrs := obj{"enabled": !g.bad(0.1), "created": 1600000000 + g.r.IntN(1e8), "recoveryLevel": "Recoverable"}
			if !g.bad(0.3) {
				attrs["exp"] = 1790000000 + g.r.IntN(1e7)
			}
			kp := obj{"attributes": attrs, "kty": g.pick("RSA", "RSA-HSM", "EC"), "keyUri": fmt.Sprintf("https://%s.vault.azure.net/keys/key-%d", name, n)}
			if !g.bad(0.4) {
				kp["rotationPolicy"] = obj{"attributes": obj{"expiryTime": "P1Y"}, "lifetimeActions": []any{
					obj{"action": obj{"type": "rotate"}, "trigger": obj{"timeAfterCreate": "P11M"}},
					obj{"action": obj{"type": "notify"}, "trigger": obj{"timeBeforeExpiry": "P30D"}}}}
			}
			g.add("keyVaultKeys", obj{"id": fmt.Sprintf("%s/keys/key-%d", id, n), "name": fmt.Sprintf("key-%d", n), "type": "Microsoft.KeyVault/vaults/keys",
				"location": loc, "properties": kp})
		}
		for n := range sh.secretsPerVault {
			attrs := obj{"enabled": true, "created": 1600000000 + g.r.IntN(1e8)}
			if !g.bad(0.3) {
				attrs["exp"] = 1790000000 + g.r.IntN(1e7)
			}
			g.add("keyVaultSecrets", obj{"id": fmt.Sprintf("%s/secrets/secret-%d", id, n), "name": fmt.Sprintf("secret-%d", n),
				"type": "Microsoft.KeyVault/vaults/secrets", "location": loc,
				"properties": obj{"attributes": attrs, "contentType": "text/plain", "value": "bench-secret-value"}})
		}
	}
}

// builtinRoles are Owner, Contributor and Reader, by role definition GUID.
var builtinRoles = [][2]string{
	{"8e3af657-a8ff-443b-a7f5-89a9d6f0c7dd", "Owner"},
	{"b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor"},
	{"acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader"},
}

func (g *azureGen) authorization(base string, sh azureShape) {
	defs := base + "/providers/Microsoft.Authorization/roleDefinitions/"
	var roleIDs []string
	for _, r := range builtinRoles {
		actions := []any{"*"}
		if r[1] == "Reader" {
			actions = []any{"*/read"}
		}
		g.add("roleDefinitions", obj{"id": defs + r[0], "name": r[0], "type": "Microsoft.Authorization/roleDefinitions",
			"properties": obj{"roleName": r[1], "type": "BuiltInRole", "assignableScopes": []any{"/"},
				"permissions": []any{obj{"actions": actions, "notActions": []any{}, "dataActions": []any{}, "notDataActions": []any{}}}}})
		roleIDs = append(roleIDs, defs+r[0])
	}
	for c := range sh.customRoles {
		guid := g.guid()
		actions := []any{"Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action"}
		if g.bad(0.3) {
			actions = []any{"*"}
		}
		g.add("roleDefinitions", obj{"id": defs + guid, "name": guid, "type": "Microsoft.Authorization/roleDefinitions",
			"properties": obj{"roleName": fmt.Sprintf("Bench Custom Role %d", c), "type": "CustomRole", "description": "generated",
				"assignableScopes": []any{base},
				"permissions":      []any{obj{"actions": actions, "notActions": []any{}, "dataActions": []any{}, "notDataActions": []any{}}}}})
		g.e.want[azure.TypeRoleDefinition]++
		roleIDs = append(roleIDs, defs+guid)
	}
	for range sh.roleAssignments {
		guid := g.guid()
		scope := base
		if g.r.IntN(3) == 0 {
			scope = base + "/resourceGroups/rg-app-" + fmt.Sprint(g.r.IntN(15))
		}
		g.add("roleAssignments", obj{"id": scope + "/providers/Microsoft.Authorization/roleAssignments/" + guid, "name": guid,
			"type": "Microsoft.Authorization/roleAssignments",
			"properties": obj{"roleDefinitionId": roleIDs[g.r.IntN(len(roleIDs))], "principalId": g.guid(),
				"principalType": g.pick("User", "Group", "ServicePrincipal"), "scope": scope, "createdOn": g.day()}})
		g.e.want[azure.TypeRoleAssignment]++
	}
}
