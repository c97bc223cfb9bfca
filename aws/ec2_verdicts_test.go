package aws

import (
	"sort"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
)

// TestEC2RDSVerdicts seeds moto with good and bad EC2/VPC and RDS
// resources, collects them, evaluates the built-in checks and asserts the
// exact status of every ec2 and rds check on every resource, moto's own
// defaults (default VPCs, groups, ACLs, subnets, root volumes, AMI and
// automated snapshots) included.
func TestEC2RDSVerdicts(t *testing.T) {
	moto.Reset(t)
	ids := seedEC2(t)
	seedRDS(t)
	col := collect(t, []string{"ec2", "rds"}, "us-east-1", "eu-west-1")
	got := verdicts(t, col)

	const pass, fail = vigil.StatusPass, vigil.StatusFail
	type verdict = map[string]vigil.Status
	id := func(name string) string {
		v, ok := ids[name]
		if !ok {
			t.Fatalf("nothing seeded as %s", name)
		}
		return v
	}
	// each returns the names of the collected resources of typ that match.
	each := func(typ string, match func(vigil.Resource) bool) []string {
		var out []string
		for name, r := range col.ofType(typ) {
			if match(r) {
				out = append(out, name)
			}
		}
		sort.Strings(out)
		return out
	}
	with := func(v verdict, names []string, s vigil.Status) verdict {
		for _, n := range names {
			v[n] = s
		}
		return v
	}
	prop := func(k string, want any) func(vigil.Resource) bool {
		return func(r vigil.Resource) bool { return r.Properties[k] == want }
	}

	defaultVPCs := each(TypeEC2VPC, prop("is_default", true))
	defaultSubnets := each(TypeEC2Subnet, prop("default_for_az", true))
	defaultACLs := each(TypeEC2NetworkACL, prop("is_default", true))
	// The default groups moto made: the default VPCs' and the bare VPC's.
	untouchedDefaultSGs := each(TypeEC2SecurityGroup, func(r vigil.Resource) bool {
		return r.Properties["is_default"] == true && r.Name != ids["sg-app-default"]
	})
	// moto gives every instance an unencrypted root volume on /dev/sda1.
	rootVolumes := each(TypeEC2Volume, func(r vigil.Resource) bool {
		a, _ := r.Properties["attachments"].([]any)
		return len(a) == 1 && a[0].(map[string]any)["device"] == "/dev/sda1"
	})
	// moto snapshots the root device of each registered AMI.
	amiSnapshots := each(TypeEC2Snapshot, func(r vigil.Resource) bool {
		d, _ := r.Properties["description"].(string)
		return strings.HasPrefix(d, "Auto-created snapshot for AMI")
	})
	// moto takes an automated snapshot of every instance it creates.
	automated := each(TypeRDSSnapshot, prop("snapshot_type", "automated"))
	// …and of every cluster: private and encrypted like aurora-main.
	clusterSnaps := each(TypeRDSClusterSnapshot, prop("snapshot_type", "automated"))
	if len(clusterSnaps) != 1 {
		t.Fatalf("%d automated cluster snapshots, want 1 (aurora-main)", len(clusterSnaps))
	}
	if len(defaultVPCs) != 2 || len(defaultSubnets) != 9 || len(defaultACLs) != 4 || len(untouchedDefaultSGs) != 3 ||
		len(rootVolumes) != 4 || len(amiSnapshots) != 3 || len(automated) != 4 {
		t.Fatalf("moto defaults changed: %d default VPCs, %d default subnets, %d default ACLs, %d default groups, "+
			"%d root volumes, %d AMI snapshots, %d automated DB snapshots", len(defaultVPCs), len(defaultSubnets),
			len(defaultACLs), len(untouchedDefaultSGs), len(rootVolumes), len(amiSnapshots), len(automated))
	}
	var automatedPublic string
	for _, n := range automated {
		if strings.HasPrefix(n, "rds:db-public-") {
			automatedPublic = n
		}
	}

	// Security groups the app VPC holds, by seeded name.
	sgs := func(statuses map[string]vigil.Status, defaults vigil.Status) verdict {
		v := verdict{}
		for name, s := range statuses {
			v[id("sg-"+name)] = s
		}
		return with(v, untouchedDefaultSGs, defaults)
	}
	allSGsPass := func(failing ...string) map[string]vigil.Status {
		m := map[string]vigil.Status{}
		for _, n := range []string{"ssh-world", "ssh-office", "all-world", "rdp-v6", "web", "mysql-world",
			"from-office", "ping-world", "app-default"} {
			m[n] = pass
		}
		for _, n := range failing {
			m[n] = fail
		}
		return m
	}

	want := map[string]verdict{
		"aws-ec2-ebs-default-encryption-enabled": {"us-east-1": fail, "eu-west-1": pass},
		"aws-ec2-nacl-no-world-admin-ports": with(verdict{
			id("acl-deny-ssh-first"): fail, id("acl-deny-admin-first"): pass, id("acl-udp-ssh-open"): fail,
			id("acl-restricted"): pass, id("acl-narrow-deny"): fail, id("acl-rdp-v6"): fail,
		}, defaultACLs, fail),
		"aws-ec2-sg-no-world-ipv4-admin-ports": sgs(allSGsPass("ssh-world", "all-world"), pass),
		"aws-ec2-sg-no-world-ipv6-admin-ports": sgs(allSGsPass("rdp-v6"), pass),
		"aws-ec2-sg-no-world-high-risk-ports":  sgs(allSGsPass("ssh-world", "all-world", "rdp-v6", "mysql-world"), pass),
		"aws-ec2-default-sg-restricts-all-traffic": with(verdict{id("sg-app-default"): pass},
			untouchedDefaultSGs, fail),
		// EC2.18 (new check): from the internet, only TCP 80 and 443. ICMP
		// (ping-world) has no ports and is not judged; the default groups have
		// no rule from the internet.
		"aws-ec2-sg-world-only-authorized-ports": sgs(allSGsPass("ssh-world", "all-world", "rdp-v6", "mysql-world"), pass),
		// EC2.16 (new check): the seeded ACLs are associated with no subnet;
		// default ACLs are out of scope.
		"aws-ec2-nacl-unused": {
			id("acl-deny-ssh-first"): fail, id("acl-deny-admin-first"): fail, id("acl-udp-ssh-open"): fail,
			id("acl-restricted"): fail, id("acl-narrow-deny"): fail, id("acl-rdp-v6"): fail,
		},
		// i-imds-off has its metadata endpoint disabled but HttpTokens left
		// optional: Security Hub EC2.8 and CIS 5.6 pass an instance only when
		// HttpTokens is required (re-enabling the endpoint brings IMDSv1
		// back), so the check now fails it instead of passing it.
		"aws-ec2-instance-imdsv2-required": {
			id("i-v1-public"): fail, id("i-v2-private"): pass, id("i-v1-stopped"): fail, id("i-imds-off"): fail,
		},
		"aws-ec2-instance-no-public-ip": {
			id("i-v1-public"): fail, id("i-v2-private"): pass, id("i-v1-stopped"): pass, id("i-imds-off"): pass,
		},
		"aws-ec2-vpc-flow-logs-enabled": with(verdict{id("vpc-app"): pass, id("vpc-bare"): fail}, defaultVPCs, fail),
		"aws-ec2-snapshot-not-public": with(verdict{
			id("snap-public"): fail, id("snap-shared"): pass, id("snap-private"): pass,
		}, amiSnapshots, pass),
		// The detached volume is out of scope.
		"aws-ec2-volume-attached-encrypted": with(verdict{
			id("vol-encrypted-attached"): pass, id("vol-plain-attached"): fail,
		}, rootVolumes, fail),
		"aws-ec2-subnet-no-auto-public-ip": with(verdict{
			id("subnet-private"): pass, id("subnet-public"): fail,
		}, defaultSubnets, fail),
		"aws-ec2-image-not-public": {id("ami-base"): pass, id("ami-public"): fail, id("ami-partner"): pass},

		"aws-rds-instance-not-public": {
			"db-public": fail, "db-private": pass, "db-short-backups": pass, "aurora-main-1": pass,
		},
		"aws-rds-instance-storage-encrypted": {
			"db-public": fail, "db-private": pass, "db-short-backups": pass, "aurora-main-1": pass,
		},
		"aws-rds-instance-auto-minor-version-upgrade": {
			"db-public": fail, "db-private": pass, "db-short-backups": pass, "aurora-main-1": pass,
		},
		// The Aurora member is out of scope of the next three.
		"aws-rds-instance-backup-retention":    {"db-public": fail, "db-private": pass, "db-short-backups": fail},
		"aws-rds-instance-multi-az":            {"db-public": fail, "db-private": pass, "db-short-backups": fail},
		"aws-rds-instance-deletion-protection": {"db-public": fail, "db-private": pass, "db-short-backups": fail},
		// moto stops the instance just now: stopped for 0 days.
		"aws-ec2-instance-stopped-not-long":   {id("i-v1-stopped"): pass},
		"aws-rds-cluster-snapshot-not-public": with(verdict{}, clusterSnaps, pass),
		"aws-rds-cluster-snapshot-encrypted":  with(verdict{}, clusterSnaps, pass),
		"aws-rds-snapshot-not-public": with(verdict{
			"snap-public": fail, "snap-shared": pass, "snap-private": pass,
		}, automated, pass),
		"aws-rds-snapshot-encrypted": with(verdict{
			"snap-public": fail, "snap-shared": pass, "snap-private": pass,
		}, automated, pass),
		"aws-rds-cluster-storage-encrypted":   {"aurora-main": pass},
		"aws-rds-cluster-deletion-protection": {"aurora-main": fail},

		// New FSBP RDS checks. Only db-private enables IAM authentication and
		// exports a log (postgresql, not upgrade); moto leaves Enhanced
		// Monitoring and copy-tags-to-snapshot off and every instance on its
		// engine's default port. Aurora members are out of scope of the
		// instance-level log, copy-tags and port checks (their cluster decides).
		"aws-rds-instance-enhanced-monitoring": {
			"db-public": fail, "db-private": fail, "db-short-backups": fail, "aurora-main-1": fail,
		},
		"aws-rds-instance-iam-auth": {
			"db-public": fail, "db-private": pass, "db-short-backups": fail, "aurora-main-1": fail,
		},
		"aws-rds-instance-cloudwatch-logs":       {"db-public": fail, "db-private": fail, "db-short-backups": fail},
		"aws-rds-instance-postgresql-logs":       {"db-private": pass, "db-short-backups": fail},
		"aws-rds-instance-copy-tags-to-snapshot": {"db-public": fail, "db-private": fail, "db-short-backups": fail},
		"aws-rds-instance-non-default-port":      {"db-public": fail, "db-private": fail, "db-short-backups": fail},
		"aws-rds-cluster-iam-auth":               {"aurora-main": fail},
		"aws-rds-cluster-multi-az":               {"aurora-main": fail},
		"aws-rds-cluster-aurora-postgresql-logs": {"aurora-main": fail},
	}
	want["aws-rds-snapshot-encrypted"][automatedPublic] = fail

	for check, w := range want {
		g := got[check]
		for name, ws := range w {
			if gs, ok := g[name]; !ok {
				t.Errorf("%s on %s: no result, want %s", check, name, ws)
			} else if gs != ws {
				t.Errorf("%s on %s: %s, want %s (%s)", check, name, gs, ws, reasons(t, col, check)[name])
			}
		}
		for name, gs := range g {
			if _, ok := w[name]; !ok {
				t.Errorf("%s on %s: unexpected %s (%s)", check, name, gs, reasons(t, col, check)[name])
			}
		}
	}
	// Every ec2 and rds check is asserted above.
	for check := range got {
		if strings.HasPrefix(check, "aws-ec2-") || strings.HasPrefix(check, "aws-rds-") {
			if _, ok := want[check]; !ok {
				t.Errorf("check %s has no expected verdicts", check)
			}
		}
	}

	// Reasons name what is wrong.
	for check, r := range map[string]map[string]string{
		"aws-ec2-nacl-no-world-admin-ports":    {id("acl-deny-ssh-first"): "fail: network ACL allows ingress from the internet to remote administration ports: 3389 (the first matching inbound entry is an allow)"},
		"aws-ec2-sg-no-world-ipv4-admin-ports": {id("sg-all-world"): "fail: security group allows ingress from 0.0.0.0/0 to remote administration ports: 22, 3389"},
		"aws-ec2-instance-imdsv2-required":     {id("i-v1-stopped"): "fail: instance metadata service accepts IMDSv1 requests (http_tokens is optional)"},
		"aws-rds-instance-backup-retention":    {"db-short-backups": "fail: automated backups are kept for 1 day, less than 7"},
	} {
		for name, want := range r {
			if got := reasons(t, col, check)[name]; got != want {
				t.Errorf("%s on %s: reason %q, want %q", check, name, got, want)
			}
		}
	}
}
