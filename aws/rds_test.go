package aws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// seedRDS creates, in us-east-1, a public unencrypted instance with no
// backups, a well configured one, one with a single day of backups, an
// encrypted Aurora cluster with a member, and manual snapshots that are
// public, shared with one account, and private.
func seedRDS(t *testing.T) {
	t.Helper()
	defer seedFailed(t)
	ctx := context.Background()
	c := rds.NewFromConfig(moto.Config(t, "us-east-1"))
	db := func(in rds.CreateDBInstanceInput) {
		in.DBInstanceClass = aws.String("db.t3.micro")
		in.AllocatedStorage = aws.Int32(20)
		in.MasterUsername = aws.String("admin")
		in.MasterUserPassword = aws.String("correct-horse-battery")
		seedOK(c.CreateDBInstance(ctx, &in))
	}
	db(rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db-public"), Engine: aws.String("mysql"),
		EngineVersion: aws.String("8.0.35"), PubliclyAccessible: aws.Bool(true), StorageEncrypted: aws.Bool(false),
		AutoMinorVersionUpgrade: aws.Bool(false), BackupRetentionPeriod: aws.Int32(0), MultiAZ: aws.Bool(false),
		DeletionProtection: aws.Bool(false)})
	db(rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db-private"), Engine: aws.String("postgres"),
		EngineVersion: aws.String("16.3"), PubliclyAccessible: aws.Bool(false), StorageEncrypted: aws.Bool(true),
		KmsKeyId:                aws.String("arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"),
		AutoMinorVersionUpgrade: aws.Bool(true), BackupRetentionPeriod: aws.Int32(7), MultiAZ: aws.Bool(true),
		DeletionProtection: aws.Bool(true), EnableIAMDatabaseAuthentication: aws.Bool(true),
		EnableCloudwatchLogsExports: []string{"postgresql"}})
	db(rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db-short-backups"), Engine: aws.String("postgres"),
		EngineVersion: aws.String("16.3"), PubliclyAccessible: aws.Bool(false), StorageEncrypted: aws.Bool(true),
		AutoMinorVersionUpgrade: aws.Bool(true), BackupRetentionPeriod: aws.Int32(1), MultiAZ: aws.Bool(false),
		DeletionProtection: aws.Bool(false)})

	seedOK(c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("aurora-main"),
		Engine: aws.String("aurora-postgresql"), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("correct-horse-battery"), StorageEncrypted: aws.Bool(true),
		DeletionProtection: aws.Bool(false), BackupRetentionPeriod: aws.Int32(7)}))
	seedOK(c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("aurora-main-1"),
		DBClusterIdentifier: aws.String("aurora-main"), Engine: aws.String("aurora-postgresql"),
		DBInstanceClass: aws.String("db.r6g.large")}))

	snap := func(name, instance string) {
		seedOK(c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String(name),
			DBInstanceIdentifier: aws.String(instance)}))
	}
	snap("snap-public", "db-public")
	seedOK(c.ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String("snap-public"),
		AttributeName: aws.String("restore"), ValuesToAdd: []string{"all"}}))
	snap("snap-shared", "db-private")
	seedOK(c.ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String("snap-shared"),
		AttributeName: aws.String("restore"), ValuesToAdd: []string{"111122223333"}}))
	snap("snap-private", "db-private")
}

func TestRDS(t *testing.T) {
	moto.Reset(t)
	seedRDS(t)
	col := collect(t, []string{"rds"})
	if len(col.readErrors) != 0 {
		t.Errorf("read errors: %s", dump(t, col.readErrors))
	}

	dbs := col.ofType(TypeRDSInstance)
	if len(dbs) != 4 {
		t.Fatalf("got %d DB instances, want 4: %v", len(dbs), ec2Keys(dbs))
	}
	pub := dbs["db-public"]
	if pub.UID != "arn:aws:rds:us-east-1:123456789012:db:db-public" {
		t.Errorf("uid %s", pub.UID)
	}
	wantProps(t, pub, map[string]any{
		"engine": "mysql", "engine_version": "8.0.35", "publicly_accessible": true, "storage_encrypted": false,
		"kms_key_id": nil, "backup_retention_period": 0, "multi_az": false, "auto_minor_version_upgrade": false,
		"deletion_protection": false, "iam_database_authentication_enabled": false,
		"enabled_cloudwatch_logs_exports": []any{}, "db_cluster_identifier": nil, "read_replica_source": nil,
		"endpoint": map[string]any{"address": "db-public.aaaaaaaaaa.us-east-1.rds.amazonaws.com", "port": 3306, "hosted_zone_id": nil},
	})
	wantProps(t, dbs["db-private"], map[string]any{
		"engine": "postgres", "publicly_accessible": false, "storage_encrypted": true,
		"kms_key_id":              "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
		"backup_retention_period": 7, "multi_az": true, "auto_minor_version_upgrade": true, "deletion_protection": true,
		"iam_database_authentication_enabled": true, "enabled_cloudwatch_logs_exports": []any{"postgresql"},
	})
	wantProps(t, dbs["aurora-main-1"], map[string]any{"db_cluster_identifier": "aurora-main", "engine": "aurora-postgresql"})
	if sgs, _ := pub.Properties["vpc_security_groups"].([]any); len(sgs) != 1 {
		t.Errorf("vpc_security_groups = %v", pub.Properties["vpc_security_groups"])
	}

	snaps := col.ofType(TypeRDSSnapshot)
	wantProps(t, snaps["snap-public"], map[string]any{"db_instance_identifier": "db-public", "snapshot_type": "manual",
		"encrypted": false, "public": true, "shared_accounts": []any{}})
	wantProps(t, snaps["snap-shared"], map[string]any{"encrypted": true, "public": false, "shared_accounts": []any{"111122223333"}})
	wantProps(t, snaps["snap-private"], map[string]any{"public": false, "shared_accounts": []any{}})
	automated := 0
	for _, s := range snaps {
		if s.Properties["snapshot_type"] == "automated" {
			automated++
			wantProps(t, s, map[string]any{"public": false, "shared_accounts": []any{}})
		}
	}
	if automated != 4 || len(snaps) != 7 {
		t.Errorf("%d snapshots, %d automated; want 7 and 4 (moto snapshots every new instance)", len(snaps), automated)
	}

	clusters := col.ofType(TypeRDSCluster)
	wantProps(t, clusters["aurora-main"], map[string]any{"engine": "aurora-postgresql", "storage_encrypted": true,
		"deletion_protection": false, "backup_retention_period": 7,
		"members": []any{map[string]any{"db_instance_identifier": "aurora-main-1", "is_writer": true}}})
}

// TestRDSClusterSnapshots checks that cluster snapshots are collected with
// their sharing, and that a public one fails while a shared one passes.
func TestRDSClusterSnapshots(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := rds.NewFromConfig(moto.Config(t, "us-east-1"))
	seedOK := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	seedOK(c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("orders"),
		Engine: aws.String("aurora-postgresql"), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("correct-horse-battery"), StorageEncrypted: aws.Bool(true)}))
	for _, name := range []string{"orders-public", "orders-shared"} {
		seedOK(c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("orders"),
			DBClusterSnapshotIdentifier: aws.String(name)}))
	}
	seedOK(c.ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{
		DBClusterSnapshotIdentifier: aws.String("orders-public"), AttributeName: aws.String("restore"), ValuesToAdd: []string{"all"}}))
	seedOK(c.ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{
		DBClusterSnapshotIdentifier: aws.String("orders-shared"), AttributeName: aws.String("restore"), ValuesToAdd: []string{"111122223333"}}))

	col := collect(t, []string{"rds"})
	snaps := col.ofType(TypeRDSClusterSnapshot)
	pub, shared := snaps["orders-public"], snaps["orders-shared"]
	if pub.UID != "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:orders-public" ||
		pub.Properties["public"] != true || shared.Properties["public"] != false ||
		len(shared.Properties["shared_accounts"].([]any)) != 1 || shared.Properties["db_cluster_identifier"] != "orders" {
		t.Fatalf("cluster snapshots: %+v / %+v", pub, shared)
	}
	v := verdicts(t, col)["aws-rds-cluster-snapshot-not-public"]
	if v["orders-public"] != "fail" || v["orders-shared"] != "pass" {
		t.Errorf("aws-rds-cluster-snapshot-not-public = %v", v)
	}
}
