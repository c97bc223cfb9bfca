package azure

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
)

// nsgRule builds an ARM security rule: access, protocol, source prefix,
// destination port spec and priority; inbound, any destination.
func nsgRule(name, access, proto, src, ports string, prio int32) *armnetwork.SecurityRule {
	dir, acc, pr := armnetwork.SecurityRuleDirectionInbound, armnetwork.SecurityRuleAccess(access), armnetwork.SecurityRuleProtocol(proto)
	return &armnetwork.SecurityRule{Name: &name, Properties: &armnetwork.SecurityRulePropertiesFormat{
		Direction: &dir, Access: &acc, Protocol: &pr, Priority: &prio, SourceAddressPrefix: &src,
		SourcePortRange: ptrTo("*"), DestinationAddressPrefix: ptrTo("*"), DestinationPortRange: &ports}}
}

// TestInternetPorts: an Allow from the Internet exposes only what no rule
// of a lower priority number has decided for all Internet traffic.
func TestInternetPorts(t *testing.T) {
	narrowDst := nsgRule("deny-one-vm", "Deny", "Tcp", "*", "1-1000", 100)
	narrowDst.Properties.DestinationAddressPrefix = ptrTo("10.0.0.4")
	srcPort := nsgRule("deny-srcport", "Deny", "Tcp", "*", "22", 100)
	srcPort.Properties.SourcePortRange = ptrTo("1024")
	out := nsgRule("out", "Allow", "*", "*", "22", 100)
	out.Properties.Direction = ptrTo(armnetwork.SecurityRuleDirectionOutbound)
	cases := []struct {
		name  string
		rules []*armnetwork.SecurityRule
		// want is the last rule's internet_ports.
		want string
	}{
		{"allow any protocol", []*armnetwork.SecurityRule{nsgRule("a", "Allow", "*", "Internet", "22", 200)},
			`{"tcp":[{"from":22,"to":22}],"udp":[{"from":22,"to":22}]}`},
		{"a tcp deny first leaves udp", []*armnetwork.SecurityRule{nsgRule("a", "Allow", "*", "Internet", "22", 200),
			nsgRule("d", "Deny", "Tcp", "*", "22", 100)}, `{"tcp":[],"udp":[{"from":22,"to":22}]}`},
		{"an IPv4-only deny leaves IPv6", []*armnetwork.SecurityRule{nsgRule("d", "Deny", "Tcp", "0.0.0.0/0", "22", 100),
			nsgRule("a", "Allow", "Tcp", "Internet", "22", 200)}, `{"tcp":[{"from":22,"to":22}],"udp":[]}`},
		{"a deny of one range", []*armnetwork.SecurityRule{nsgRule("d", "Deny", "Tcp", "192.0.2.0/24", "22", 100),
			nsgRule("a", "Allow", "Tcp", "*", "22", 200)}, `{"tcp":[{"from":22,"to":22}],"udp":[]}`},
		{"a deny to one destination", []*armnetwork.SecurityRule{narrowDst, nsgRule("a", "Allow", "Tcp", "*", "22", 200)},
			`{"tcp":[{"from":22,"to":22}],"udp":[]}`},
		{"a deny of one source port", []*armnetwork.SecurityRule{srcPort, nsgRule("a", "Allow", "Tcp", "*", "22", 200)},
			`{"tcp":[{"from":22,"to":22}],"udp":[]}`},
		{"a deny punches a hole", []*armnetwork.SecurityRule{nsgRule("d", "Deny", "Tcp", "Internet", "22", 100),
			nsgRule("a", "Allow", "Tcp", "Any", "20-30", 200)}, `{"tcp":[{"from":20,"to":21},{"from":23,"to":30}],"udp":[]}`},
		{"an earlier allow decides first", []*armnetwork.SecurityRule{nsgRule("a1", "Allow", "Tcp", "*", "0-1024", 100),
			nsgRule("a2", "Allow", "Tcp", "0.0.0.0", "22", 200)}, `{"tcp":[],"udp":[]}`},
		{"a later deny changes nothing", []*armnetwork.SecurityRule{nsgRule("d", "Deny", "*", "*", "*", 4000),
			nsgRule("a", "Allow", "Udp", "*", "53", 200)}, `{"tcp":[],"udp":[]}`},
		{"a trusted range is not the Internet", []*armnetwork.SecurityRule{nsgRule("a", "Allow", "*", "203.0.113.0/24", "22", 200)},
			`{"tcp":[],"udp":[]}`},
		{"outbound", []*armnetwork.SecurityRule{out}, `{"tcp":[],"udp":[]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, docs := ruleDocs(tc.rules)
			// The rule judged is the one of the highest priority number.
			last := docs[0].(map[string]any)
			for _, d := range docs {
				if m := d.(map[string]any); m["priority"].(int) > last["priority"].(int) {
					last = m
				}
			}
			got, _ := json.Marshal(last["internet_ports"])
			if string(got) != tc.want {
				t.Errorf("internet_ports of %s = %s, want %s", last["name"], got, tc.want)
			}
		})
	}
}

// TestOffendingRules: the fix removes what lets the Internet in, then what
// that shadowed, and never a rule a Deny shadows.
func TestOffendingRules(t *testing.T) {
	ssh := exposures["azure-network-nsg-no-internet-ssh"]
	cases := []struct {
		name  string
		rules []*armnetwork.SecurityRule
		want  []string
	}{
		{"two allows, the second shadowed by the first", []*armnetwork.SecurityRule{nsgRule("zero", "Allow", "Tcp", "0.0.0.0", "22", 340),
			nsgRule("any", "Allow", "Tcp", "Any", "22", 330)}, []string{"any", "zero"}},
		{"an allow a deny shadows stays", []*armnetwork.SecurityRule{nsgRule("deny", "Deny", "Tcp", "*", "22", 100),
			nsgRule("allow", "Allow", "Tcp", "Internet", "22", 200)}, nil},
		{"udp only is not ssh", []*armnetwork.SecurityRule{nsgRule("dns", "Allow", "Udp", "*", "22", 200)}, nil},
		{"only the rule on the port", []*armnetwork.SecurityRule{nsgRule("web", "Allow", "Tcp", "*", "443", 100),
			nsgRule("admin", "Allow", "*", "*", "20-25", 200)}, []string{"admin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, r := range ssh.offending(tc.rules) {
				got = append(got, *r.Name)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("offending = %v, want %v", got, tc.want)
			}
		})
	}
}
