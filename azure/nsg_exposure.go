package azure

import (
	"sort"
	"strings"
)

// NSG rules are evaluated the way Azure does: by priority, lowest number
// first, the first rule that matches a packet decides it. An inbound Allow
// from the whole Internet therefore exposes only the ports that no rule of
// a lower priority number has already decided for all Internet traffic: a
// Deny of the same ports from any source in front of it shadows it.
// Partial rules never shadow (a Deny from one /24 leaves the rest of the
// Internet to the later rules), so the result may over-report, never
// under-report.

// ipFamilies and netProtocols are the dimensions traffic is decided in.
var (
	ipFamilies   = []string{"v4", "v6"}
	netProtocols = []string{"tcp", "udp"}
)

// portSet is a set of ports as sorted, disjoint, inclusive ranges.
type portSet [][2]int

// add returns the union of s and r.
func (s portSet) add(r [2]int) portSet {
	out := append(portSet(nil), s...)
	out = append(out, r)
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	merged := out[:1]
	for _, x := range out[1:] {
		last := &merged[len(merged)-1]
		if x[0] <= last[1]+1 {
			last[1] = max(last[1], x[1])
			continue
		}
		merged = append(merged, x)
	}
	return merged
}

// minus returns the parts of r that s does not hold.
func (s portSet) minus(r [2]int) portSet {
	var out portSet
	from := r[0]
	for _, x := range s {
		if x[1] < from || x[0] > r[1] {
			continue
		}
		if x[0] > from {
			out = append(out, [2]int{from, x[0] - 1})
		}
		from = x[1] + 1
		if from > r[1] {
			return out
		}
	}
	if from <= r[1] {
		out = append(out, [2]int{from, r[1]})
	}
	return out
}

// internetFamilies is which IP families a rule's sources cover entirely:
// "*", "Any" and the Internet service tag both, 0.0.0.0/0 IPv4, ::/0 IPv6.
func internetFamilies(doc map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, s := range doc["source_prefixes"].([]any) {
		switch strings.ToLower(strings.TrimSpace(s.(string))) {
		case "*", "any", "internet":
			out["v4"], out["v6"] = true, true
		case "0.0.0.0/0", "0.0.0.0":
			out["v4"] = true
		case "::/0":
			out["v6"] = true
		}
	}
	return out
}

// ruleProtocols is which of tcp and udp a rule's protocol matches.
func ruleProtocols(doc map[string]any) []string {
	switch strings.ToLower(doc["protocol"].(string)) {
	case "*":
		return netProtocols
	case "tcp":
		return []string{"tcp"}
	case "udp":
		return []string{"udp"}
	}
	return nil
}

// matchesAll reports whether a list of prefixes or ports matches anything:
// empty, "*", "Any" or 0.0.0.0/0.
func matchesAll(list []any) bool {
	if len(list) == 0 {
		return true
	}
	for _, s := range list {
		switch strings.ToLower(strings.TrimSpace(s.(string))) {
		case "*", "any", "0.0.0.0/0", "0-65535":
			return true
		}
	}
	return false
}

// setInternetPorts sets internet_ports on every rule of an NSG (sorted by
// direction, then priority): {tcp: [...], udp: [...]}, the destination port
// ranges on which the rule lets any Internet address in and no earlier
// rule has decided otherwise. Empty for every rule that is not an inbound
// Allow from the whole Internet, or that earlier rules shadow entirely.
func setInternetPorts(rules []any) {
	decided := map[string]portSet{} // family/protocol → ports decided for all Internet traffic to any destination
	for _, r := range rules {
		doc := r.(map[string]any)
		exposed := map[string][]any{"tcp": {}, "udp": {}}
		doc["internet_ports"] = exposed
		if doc["direction"] != "Inbound" {
			continue
		}
		fams := internetFamilies(doc)
		if len(fams) == 0 {
			continue
		}
		ranges := doc["destination_port_ranges"].([]any)
		allow := doc["access"] == "Allow"
		// The rule decides for all Internet traffic only when nothing
		// else narrows what it matches.
		decides := len(doc["source_asgs"].([]any)) == 0 && len(doc["destination_asgs"].([]any)) == 0 &&
			matchesAll(doc["destination_prefixes"].([]any)) && matchesAll(doc["source_ports"].([]any))
		for _, proto := range ruleProtocols(doc) {
			var open portSet
			for _, fam := range ipFamilies {
				if !fams[fam] {
					continue
				}
				key := fam + "/" + proto
				for _, pr := range ranges {
					m := pr.(map[string]any)
					rg := [2]int{m["from"].(int), m["to"].(int)}
					if allow && len(doc["source_asgs"].([]any)) == 0 {
						for _, x := range decided[key].minus(rg) {
							open = open.add(x)
						}
					}
					if decides {
						decided[key] = decided[key].add(rg)
					}
				}
			}
			for _, x := range open {
				exposed[proto] = append(exposed[proto], map[string]any{"from": x[0], "to": x[1]})
			}
		}
	}
}
