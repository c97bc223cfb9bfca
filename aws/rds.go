package aws

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/vigilsec/vigil"
)

// Resource types of the rds service.
const (
	TypeRDSInstance = "aws.rds.instance"
	TypeRDSSnapshot = "aws.rds.snapshot"
	TypeRDSCluster  = "aws.rds.cluster"
	// TypeRDSClusterSnapshot is a DB cluster snapshot (Aurora, Multi-AZ DB cluster).
	TypeRDSClusterSnapshot = "aws.rds.cluster_snapshot"
)

func init() {
	register(&service{name: "rds", types: []string{TypeRDSInstance, TypeRDSSnapshot, TypeRDSCluster, TypeRDSClusterSnapshot},
		collect: collectRDS, get: collectRDS})
}

// collectRDS lists DB instances, DB snapshots and DB clusters; each listing
// fails on its own.
func collectRDS(ctx context.Context, t *task) error {
	client := rds.NewFromConfig(t.cfg)
	return runListings(ctx, t, client, []listing[*rds.Client]{
		{TypeRDSInstance, listRDSInstances},
		{TypeRDSSnapshot, listRDSSnapshots},
		{TypeRDSCluster, listRDSClusters},
		{TypeRDSClusterSnapshot, listRDSClusterSnapshots},
	})
}

// rdsEach runs list once without an identifier in a full collection, or
// once per identifier of typ a Get wants (RDS describes one identifier a
// call). An identifier RDS does not know is a resource that is gone, not a
// failed listing.
func rdsEach(ctx context.Context, t *task, typ string, list func(id *string) error) error {
	if t.only == nil {
		return list(nil)
	}
	for _, uid := range t.wantedUIDs(typ) {
		// arn:aws:rds:REGION:ACCOUNT:db:ID (or snapshot:, cluster:,
		// cluster-snapshot:).
		parts := strings.SplitN(uid, ":", 7)
		if len(parts) < 7 || parts[6] == "" {
			continue
		}
		err := list(&parts[6])
		var stop stopError
		switch {
		case err == nil, classify(err) == vigil.ENOTFOUND:
		case errors.As(err, &stop), ctx.Err() != nil:
			return err
		default:
			t.getFailed(uid, err)
		}
	}
	return nil
}

// listRDSInstances emits the region's DB instances.
func listRDSInstances(ctx context.Context, t *task, client *rds.Client) error {
	return rdsEach(ctx, t, TypeRDSInstance, func(id *string) error {
		p := rds.NewDescribeDBInstancesPaginator(client, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: id})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, db := range page.DBInstances {
				if err := emitOrStop(ctx, t, rdsInstance(t, db)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// rdsInstance maps a described DB instance to a resource.
func rdsInstance(t *task, db types.DBInstance) vigil.Resource {
	id := aws.ToString(db.DBInstanceIdentifier)
	r := vigil.Resource{UID: aws.ToString(db.DBInstanceArn), Type: TypeRDSInstance, Name: id,
		Tags: rdsTags(db.TagList)}
	if r.UID == "" {
		r.UID = t.arn("rds", t.region, "db:"+id)
	}
	var subnetGroup, vpcID any
	if db.DBSubnetGroup != nil {
		subnetGroup = nonEmpty(db.DBSubnetGroup.DBSubnetGroupName)
		vpcID = nonEmpty(db.DBSubnetGroup.VpcId)
	}
	sgs := make([]any, 0, len(db.VpcSecurityGroups))
	for _, g := range db.VpcSecurityGroups {
		sgs = append(sgs, map[string]any{"group_id": aws.ToString(g.VpcSecurityGroupId), "status": aws.ToString(g.Status)})
	}
	var endpoint any
	if e := db.Endpoint; e != nil {
		endpoint = map[string]any{"address": aws.ToString(e.Address), "port": int(aws.ToInt32(e.Port)),
			"hosted_zone_id": nonEmpty(e.HostedZoneId)}
	}
	r.Properties = map[string]any{
		"db_instance_identifier":              id,
		"db_instance_class":                   aws.ToString(db.DBInstanceClass),
		"engine":                              aws.ToString(db.Engine),
		"engine_version":                      aws.ToString(db.EngineVersion),
		"status":                              aws.ToString(db.DBInstanceStatus),
		"db_cluster_identifier":               nonEmpty(db.DBClusterIdentifier),
		"read_replica_source":                 nonEmpty(db.ReadReplicaSourceDBInstanceIdentifier),
		"publicly_accessible":                 aws.ToBool(db.PubliclyAccessible),
		"storage_encrypted":                   aws.ToBool(db.StorageEncrypted),
		"kms_key_id":                          nonEmpty(db.KmsKeyId),
		"backup_retention_period":             int(aws.ToInt32(db.BackupRetentionPeriod)),
		"multi_az":                            aws.ToBool(db.MultiAZ),
		"auto_minor_version_upgrade":          aws.ToBool(db.AutoMinorVersionUpgrade),
		"deletion_protection":                 aws.ToBool(db.DeletionProtection),
		"iam_database_authentication_enabled": aws.ToBool(db.IAMDatabaseAuthenticationEnabled),
		"enabled_cloudwatch_logs_exports":     stringsToList(db.EnabledCloudwatchLogsExports),
		"db_subnet_group":                     subnetGroup,
		"vpc_id":                              vpcID,
		"vpc_security_groups":                 sgs,
		"endpoint":                            endpoint,
		"storage_type":                        aws.ToString(db.StorageType),
		"allocated_storage":                   int(aws.ToInt32(db.AllocatedStorage)),
		"copy_tags_to_snapshot":               aws.ToBool(db.CopyTagsToSnapshot),
		"performance_insights_enabled":        aws.ToBool(db.PerformanceInsightsEnabled),
		"monitoring_interval":                 int(aws.ToInt32(db.MonitoringInterval)),
		"ca_certificate_identifier":           nonEmpty(db.CACertificateIdentifier),
		"instance_create_time":                timeOrNil(db.InstanceCreateTime),
	}
	return r
}

// listRDSSnapshots emits the DB snapshots the account owns (manual and
// automated: DescribeDBSnapshots leaves out shared and public snapshots of
// other accounts unless asked), with who may restore them.
func listRDSSnapshots(ctx context.Context, t *task, client *rds.Client) error {
	return rdsEach(ctx, t, TypeRDSSnapshot, func(id *string) error { return listRDSSnapshotsOf(ctx, t, client, id) })
}

// listRDSSnapshotsOf emits the DB snapshots DescribeDBSnapshots answers
// for id (nil: all of them).
func listRDSSnapshotsOf(ctx context.Context, t *task, client *rds.Client, id *string) error {
	p := rds.NewDescribeDBSnapshotsPaginator(client, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: id})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.DBSnapshots {
			id := aws.ToString(s.DBSnapshotIdentifier)
			r := vigil.Resource{UID: aws.ToString(s.DBSnapshotArn), Type: TypeRDSSnapshot, Name: id,
				Tags: rdsTags(s.TagList)}
			if r.UID == "" {
				r.UID = t.arn("rds", t.region, "snapshot:"+id)
			}
			r.Properties = map[string]any{
				"db_snapshot_identifier": id,
				"db_instance_identifier": aws.ToString(s.DBInstanceIdentifier),
				"snapshot_type":          aws.ToString(s.SnapshotType),
				"engine":                 aws.ToString(s.Engine),
				"engine_version":         aws.ToString(s.EngineVersion),
				"status":                 aws.ToString(s.Status),
				"encrypted":              aws.ToBool(s.Encrypted),
				"kms_key_id":             nonEmpty(s.KmsKeyId),
				"snapshot_create_time":   timeOrNil(s.SnapshotCreateTime),
			}
			err := emitRDSSnapshot(ctx, t, r, func() ([]string, error) {
				out, err := client.DescribeDBSnapshotAttributes(ctx, &rds.DescribeDBSnapshotAttributesInput{
					DBSnapshotIdentifier: s.DBSnapshotIdentifier,
				})
				if err != nil || out.DBSnapshotAttributesResult == nil {
					return nil, err
				}
				var restore []string
				for _, a := range out.DBSnapshotAttributesResult.DBSnapshotAttributes {
					if aws.ToString(a.AttributeName) == "restore" {
						restore = append(restore, a.AttributeValues...)
					}
				}
				return restore, nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// emitRDSSnapshot records a DB or cluster snapshot's sharing, read from its
// "restore" attribute values, and emits it. A failed read leaves public and
// shared_accounts unknown.
func emitRDSSnapshot(ctx context.Context, t *task, r vigil.Resource, restore func() ([]string, error)) error {
	values, err := restore()
	switch {
	case err != nil && ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		t.propErr(&r, "public", err)
		t.propErr(&r, "shared_accounts", err)
	default:
		r.Properties["public"], r.Properties["shared_accounts"] = restoreSharing(values)
	}
	return emitOrStop(ctx, t, r)
}

// restoreSharing reads a snapshot's "restore" attribute values: "all" makes
// it public, any other value is an account it is shared with.
func restoreSharing(values []string) (public bool, shared []any) {
	shared = []any{}
	for _, v := range values {
		if v == "all" {
			public = true
		} else {
			shared = append(shared, v)
		}
	}
	return public, shared
}

// listRDSClusterSnapshots emits the DB cluster snapshots (Aurora, Multi-AZ
// DB clusters) the account owns, with their sharing.
func listRDSClusterSnapshots(ctx context.Context, t *task, client *rds.Client) error {
	return rdsEach(ctx, t, TypeRDSClusterSnapshot, func(id *string) error { return listRDSClusterSnapshotsOf(ctx, t, client, id) })
}

// listRDSClusterSnapshotsOf emits the DB cluster snapshots
// DescribeDBClusterSnapshots answers for id (nil: all of them).
func listRDSClusterSnapshotsOf(ctx context.Context, t *task, client *rds.Client, id *string) error {
	p := rds.NewDescribeDBClusterSnapshotsPaginator(client, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: id})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.DBClusterSnapshots {
			id := aws.ToString(s.DBClusterSnapshotIdentifier)
			r := vigil.Resource{UID: aws.ToString(s.DBClusterSnapshotArn), Type: TypeRDSClusterSnapshot, Name: id,
				Tags: rdsTags(s.TagList)}
			if r.UID == "" {
				r.UID = t.arn("rds", t.region, "cluster-snapshot:"+id)
			}
			r.Properties = map[string]any{
				"db_cluster_snapshot_identifier": id,
				"db_cluster_identifier":          aws.ToString(s.DBClusterIdentifier),
				"snapshot_type":                  aws.ToString(s.SnapshotType),
				"engine":                         aws.ToString(s.Engine),
				"engine_version":                 aws.ToString(s.EngineVersion),
				"status":                         aws.ToString(s.Status),
				"encrypted":                      aws.ToBool(s.StorageEncrypted),
				"kms_key_id":                     nonEmpty(s.KmsKeyId),
				"snapshot_create_time":           timeOrNil(s.SnapshotCreateTime),
			}
			err := emitRDSSnapshot(ctx, t, r, func() ([]string, error) {
				out, err := client.DescribeDBClusterSnapshotAttributes(ctx, &rds.DescribeDBClusterSnapshotAttributesInput{
					DBClusterSnapshotIdentifier: s.DBClusterSnapshotIdentifier,
				})
				if err != nil || out.DBClusterSnapshotAttributesResult == nil {
					return nil, err
				}
				var restore []string
				for _, a := range out.DBClusterSnapshotAttributesResult.DBClusterSnapshotAttributes {
					if aws.ToString(a.AttributeName) == "restore" {
						restore = append(restore, a.AttributeValues...)
					}
				}
				return restore, nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// listRDSClusters emits the region's DB clusters (Aurora, Multi-AZ DB
// clusters, and the Neptune and DocumentDB clusters the same API returns).
func listRDSClusters(ctx context.Context, t *task, client *rds.Client) error {
	return rdsEach(ctx, t, TypeRDSCluster, func(id *string) error { return listRDSClustersOf(ctx, t, client, id) })
}

// listRDSClustersOf emits the DB clusters DescribeDBClusters answers for id
// (nil: all of them).
func listRDSClustersOf(ctx context.Context, t *task, client *rds.Client, id *string) error {
	p := rds.NewDescribeDBClustersPaginator(client, &rds.DescribeDBClustersInput{DBClusterIdentifier: id})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, c := range page.DBClusters {
			id := aws.ToString(c.DBClusterIdentifier)
			r := vigil.Resource{UID: aws.ToString(c.DBClusterArn), Type: TypeRDSCluster, Name: id,
				Tags: rdsTags(c.TagList)}
			if r.UID == "" {
				r.UID = t.arn("rds", t.region, "cluster:"+id)
			}
			members := make([]any, 0, len(c.DBClusterMembers))
			for _, m := range c.DBClusterMembers {
				members = append(members, map[string]any{
					"db_instance_identifier": aws.ToString(m.DBInstanceIdentifier),
					"is_writer":              aws.ToBool(m.IsClusterWriter),
				})
			}
			sgs := make([]any, 0, len(c.VpcSecurityGroups))
			for _, g := range c.VpcSecurityGroups {
				sgs = append(sgs, map[string]any{"group_id": aws.ToString(g.VpcSecurityGroupId), "status": aws.ToString(g.Status)})
			}
			r.Properties = map[string]any{
				"db_cluster_identifier":               id,
				"engine":                              aws.ToString(c.Engine),
				"engine_version":                      aws.ToString(c.EngineVersion),
				"engine_mode":                         aws.ToString(c.EngineMode),
				"status":                              aws.ToString(c.Status),
				"storage_encrypted":                   aws.ToBool(c.StorageEncrypted),
				"kms_key_id":                          nonEmpty(c.KmsKeyId),
				"backup_retention_period":             int(aws.ToInt32(c.BackupRetentionPeriod)),
				"multi_az":                            aws.ToBool(c.MultiAZ),
				"deletion_protection":                 aws.ToBool(c.DeletionProtection),
				"iam_database_authentication_enabled": aws.ToBool(c.IAMDatabaseAuthenticationEnabled),
				"publicly_accessible":                 boolOrNil(c.PubliclyAccessible),
				"auto_minor_version_upgrade":          boolOrNil(c.AutoMinorVersionUpgrade),
				"enabled_cloudwatch_logs_exports":     stringsToList(c.EnabledCloudwatchLogsExports),
				"db_subnet_group":                     nonEmpty(c.DBSubnetGroup),
				"vpc_security_groups":                 sgs,
				"members":                             members,
				"endpoint":                            nonEmpty(c.Endpoint),
				"cluster_create_time":                 timeOrNil(c.ClusterCreateTime),
			}
			if err := emitOrStop(ctx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// rdsTags converts RDS tags to a map.
func rdsTags(tags []types.Tag) map[string]string {
	return tagMap(tags, func(t types.Tag) (*string, *string) { return t.Key, t.Value })
}

// stringsToList converts a string slice to a CEL-friendly list, never nil.
func stringsToList(ss []string) []any {
	out := make([]any, 0, len(ss))
	for _, s := range ss {
		out = append(out, s)
	}
	return out
}

// boolOrNil returns the flag, or nil when the API left it out (settings
// that apply to some kinds of cluster only).
func boolOrNil(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// timeOrNil formats a timestamp in timeFormat, or returns nil.
func timeOrNil(ts *time.Time) any {
	if ts == nil {
		return nil
	}
	return ts.UTC().Format(timeFormat)
}
