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
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"),
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

func TestRDSExplore(t *testing.T) {
	moto.Reset(t)
	seedRDS(t)
	col := collect(t, []string{"rds"})
	for _, typ := range []string{TypeRDSInstance, TypeRDSSnapshot, TypeRDSCluster} {
		for n, r := range col.ofType(typ) {
			t.Logf("%s %s %s tags=%v\n%s", typ, n, r.UID, r.Tags, dump(t, r.Properties))
		}
	}
	t.Logf("errors: %s", dump(t, col.readErrors))
}
