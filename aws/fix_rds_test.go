package aws

import (
	"context"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

func TestFixRDSDisablePublicAccess(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := rds.NewFromConfig(moto.Config(t, "us-east-1"))
	for _, id := range []string{"db-public", "db-denied"} {
		must[any](t)(c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id),
			Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20),
			MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("correct-horse-battery"),
			PubliclyAccessible: aws.Bool(true)}))
	}
	public := func(id string) bool {
		t.Helper()
		out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.DBInstances[0].PubliclyAccessible)
	}
	h := newFixHarness(t, []string{"rds"})
	const check = "aws-rds-instance-not-public"

	j, f, p := h.plan(check, h.uid(TypeRDSInstance, "db-public"), nil)
	want := map[string]any{"DBInstanceIdentifier": "db-public", "PubliclyAccessible": false, "ApplyImmediately": true}
	if got := operations(p.Calls); !reflect.DeepEqual(got, []string{"rds:ModifyDBInstance"}) || !reflect.DeepEqual(p.Calls[0].Input, want) {
		t.Errorf("planned calls %+v", p.Calls)
	}
	if !public("db-public") {
		t.Fatal("the plan changed the instance")
	}
	done := h.apply(j, f, p)
	if public("db-public") {
		t.Error("after the fix: still publicly accessible")
	}
	undo := h.undo(done.ID)
	if len(undo.Calls) != 1 || undo.Calls[0].Input["PubliclyAccessible"] != true {
		t.Errorf("undo calls %+v", undo.Calls)
	}
	if !public("db-public") {
		t.Error("after undo: not publicly accessible")
	}

	// The one call denied: failed, and the instance still public.
	j, f, p = h.plan(check, h.uid(TypeRDSInstance, "db-denied"), nil)
	h.fixer.APIOptions = append(h.fixer.APIOptions, answer("ModifyDBInstance", iamDenied))
	iamApplyDenied(t, h, j, f, p, "apply: rds:ModifyDBInstance: AccessDenied: denied",
		[]string{"rds:ModifyDBInstance: AccessDenied: denied"})
	if !public("db-denied") {
		t.Error("after the failed fix: not publicly accessible")
	}
}

func TestFixRDSMakeSnapshotPrivate(t *testing.T) {
	moto.Reset(t)
	ctx := context.Background()
	c := rds.NewFromConfig(moto.Config(t, "us-east-1"))
	must[any](t)(c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db-1"),
		Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String("admin"), MasterUserPassword: aws.String("correct-horse-battery")}))
	must[any](t)(c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBSnapshotIdentifier: aws.String("snap-public"),
		DBInstanceIdentifier: aws.String("db-1")}))
	must[any](t)(c.ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String("snap-public"),
		AttributeName: aws.String("restore"), ValuesToAdd: []string{"all", "111122223333"}}))
	must[any](t)(c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("orders"),
		Engine: aws.String("aurora-postgresql"), MasterUsername: aws.String("admin"),
		MasterUserPassword: aws.String("correct-horse-battery")}))
	must[any](t)(c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("orders"),
		DBClusterSnapshotIdentifier: aws.String("orders-public")}))
	must[any](t)(c.ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{
		DBClusterSnapshotIdentifier: aws.String("orders-public"), AttributeName: aws.String("restore"),
		ValuesToAdd: []string{"all", "111122223333"}}))
	restore := func(cluster bool, id string) []string {
		t.Helper()
		var vs []string
		if cluster {
			out, err := c.DescribeDBClusterSnapshotAttributes(ctx, &rds.DescribeDBClusterSnapshotAttributesInput{DBClusterSnapshotIdentifier: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range out.DBClusterSnapshotAttributesResult.DBClusterSnapshotAttributes {
				if aws.ToString(a.AttributeName) == "restore" {
					vs = append(vs, a.AttributeValues...)
				}
			}
		} else {
			out, err := c.DescribeDBSnapshotAttributes(ctx, &rds.DescribeDBSnapshotAttributesInput{DBSnapshotIdentifier: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range out.DBSnapshotAttributesResult.DBSnapshotAttributes {
				if aws.ToString(a.AttributeName) == "restore" {
					vs = append(vs, a.AttributeValues...)
				}
			}
		}
		sort.Strings(vs)
		return append([]string{}, vs...)
	}
	h := newFixHarness(t, []string{"rds"})
	for _, tc := range []struct {
		name, check, typ, id, op string
		cluster                  bool
	}{
		{"snapshot", "aws-rds-snapshot-not-public", TypeRDSSnapshot, "snap-public", "rds:ModifyDBSnapshotAttribute", false},
		{"cluster snapshot", "aws-rds-cluster-snapshot-not-public", TypeRDSClusterSnapshot, "orders-public", "rds:ModifyDBClusterSnapshotAttribute", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, f, p := h.plan(tc.check, h.uid(tc.typ, tc.id), nil)
			if got := operations(p.Calls); !reflect.DeepEqual(got, []string{tc.op}) ||
				!reflect.DeepEqual(p.Calls[0].Input["ValuesToRemove"], []string{"all"}) || p.Calls[0].Input["AttributeName"] != "restore" {
				t.Errorf("planned calls %+v", p.Calls)
			}
			if got := restore(tc.cluster, tc.id); !reflect.DeepEqual(got, []string{"111122223333", "all"}) {
				t.Fatalf("the plan changed the sharing: %v", got)
			}
			done := h.apply(j, f, p)
			if got := restore(tc.cluster, tc.id); !reflect.DeepEqual(got, []string{"111122223333"}) {
				t.Errorf("after the fix: %v, want only the account it is shared with", got)
			}
			h.undo(done.ID)
			if got := restore(tc.cluster, tc.id); !reflect.DeepEqual(got, []string{"111122223333", "all"}) {
				t.Errorf("after undo: %v", got)
			}
		})
	}
}
