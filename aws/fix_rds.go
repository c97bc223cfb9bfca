package aws

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

func init() {
	fixActions = append(fixActions,
		func(f *Fixer) fix.Action {
			return &rdsDisablePublicAccess{fixAction{f: f, id: "aws.rds.disable-public-access", typ: TypeRDSInstance,
				title: "make the DB instance not publicly accessible, applied immediately",
				perms: []string{"rds:DescribeDBInstances", "rds:ModifyDBInstance"}}}
		},
		func(f *Fixer) fix.Action {
			return &rdsSnapshotPrivate{fixAction: fixAction{f: f, id: "aws.rds.make-snapshot-private", typ: TypeRDSSnapshot,
				title: "stop sharing the DB snapshot with every AWS account (accounts it is shared with by id keep it)",
				perms: []string{"rds:DescribeDBSnapshotAttributes", "rds:ModifyDBSnapshotAttribute"}}}
		},
		func(f *Fixer) fix.Action {
			return &rdsSnapshotPrivate{cluster: true, fixAction: fixAction{f: f, id: "aws.rds.make-cluster-snapshot-private", typ: TypeRDSClusterSnapshot,
				title: "stop sharing the DB cluster snapshot with every AWS account (accounts it is shared with by id keep it)",
				perms: []string{"rds:DescribeDBClusterSnapshotAttributes", "rds:ModifyDBClusterSnapshotAttribute"}}}
		},
	)
}

// rdsClient returns an RDS client for a region with the remediation
// credentials.
func (f *Fixer) rdsClient(ctx context.Context, account, region string) (*rds.Client, error) {
	cfg, err := f.config(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return rds.NewFromConfig(cfg), nil
}

// rdsDisablePublicAccess sets PubliclyAccessible to false with
// ApplyImmediately, so the change does not wait for the maintenance
// window. The instance's DNS name then resolves to its private address.
// Undo makes it publicly accessible again.
type rdsDisablePublicAccess struct{ fixAction }

func (a *rdsDisablePublicAccess) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.rdsClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(r.Name)})
	if err != nil {
		return nil, fmt.Errorf("rds:DescribeDBInstances: %w", errorf(err))
	}
	if len(out.DBInstances) != 1 {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "rds:DescribeDBInstances: %d instances named %s", len(out.DBInstances), r.Name)
	}
	public := aws.ToBool(out.DBInstances[0].PubliclyAccessible)
	before := map[string]any{"publicly_accessible": public}
	if !public {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"DB instance " + r.Name + " is already not publicly accessible"}}, nil
	}
	return &fix.Plan{
		Steps:  []string{"make DB instance " + r.Name + " not publicly accessible, applied immediately"},
		Calls:  fixCalls{{"rds:ModifyDBInstance", rdsPublicInput(r.Name, false)}}.calls(),
		Before: before,
	}, nil
}

func (a *rdsDisablePublicAccess) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.set(ctx, t, false, rec)
}

func (a *rdsDisablePublicAccess) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	public, _ := before["publicly_accessible"].(bool)
	if !public {
		return nil // it was private: the fix changed nothing
	}
	return a.set(ctx, t, true, rec)
}

func (a *rdsDisablePublicAccess) set(ctx context.Context, t fix.Target, public bool, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.rdsClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	return rec.Do("rds:ModifyDBInstance", rdsPublicInput(r.Name, public), func() error {
		_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(r.Name),
			PubliclyAccessible: aws.Bool(public), ApplyImmediately: aws.Bool(true)})
		return errorOf(err)
	})
}

func rdsPublicInput(id string, public bool) map[string]any {
	return map[string]any{"DBInstanceIdentifier": id, "PubliclyAccessible": public, "ApplyImmediately": true}
}

// rdsSnapshotPrivate removes the value "all" from a DB (or, cluster set,
// DB cluster) snapshot's restore attribute; the accounts it is shared with
// by id keep their access. Undo adds "all" back.
type rdsSnapshotPrivate struct {
	fixAction
	cluster bool
}

// modifyOp is the IAM action (and operation) that changes the attribute.
func (a *rdsSnapshotPrivate) modifyOp() string {
	if a.cluster {
		return "rds:ModifyDBClusterSnapshotAttribute"
	}
	return "rds:ModifyDBSnapshotAttribute"
}

func (a *rdsSnapshotPrivate) input(id string, add bool) map[string]any {
	key, values := "DBSnapshotIdentifier", "ValuesToRemove"
	if a.cluster {
		key = "DBClusterSnapshotIdentifier"
	}
	if add {
		values = "ValuesToAdd"
	}
	return map[string]any{key: id, "AttributeName": "restore", values: []string{"all"}}
}

func (a *rdsSnapshotPrivate) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	r := t.Resource
	c, err := a.f.rdsClient(ctx, r.Account, r.Region)
	if err != nil {
		return nil, err
	}
	var restore []string
	if a.cluster {
		out, err := c.DescribeDBClusterSnapshotAttributes(ctx, &rds.DescribeDBClusterSnapshotAttributesInput{DBClusterSnapshotIdentifier: aws.String(r.Name)})
		if err != nil {
			return nil, fmt.Errorf("rds:DescribeDBClusterSnapshotAttributes: %w", errorf(err))
		}
		if res := out.DBClusterSnapshotAttributesResult; res != nil {
			for _, at := range res.DBClusterSnapshotAttributes {
				if aws.ToString(at.AttributeName) == "restore" {
					restore = append(restore, at.AttributeValues...)
				}
			}
		}
	} else {
		out, err := c.DescribeDBSnapshotAttributes(ctx, &rds.DescribeDBSnapshotAttributesInput{DBSnapshotIdentifier: aws.String(r.Name)})
		if err != nil {
			return nil, fmt.Errorf("rds:DescribeDBSnapshotAttributes: %w", errorf(err))
		}
		if res := out.DBSnapshotAttributesResult; res != nil {
			for _, at := range res.DBSnapshotAttributes {
				if aws.ToString(at.AttributeName) == "restore" {
					restore = append(restore, at.AttributeValues...)
				}
			}
		}
	}
	if restore == nil {
		restore = []string{}
	}
	public := slices.Contains(restore, "all")
	before := map[string]any{"restore": restore, "public": public}
	kind := "DB snapshot "
	if a.cluster {
		kind = "DB cluster snapshot "
	}
	if !public {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{kind + r.Name + " is already not public"}}, nil
	}
	return &fix.Plan{
		Steps:  []string{fmt.Sprintf("remove \"all\" from the restore attribute of %s%s (now: %v)", kind, r.Name, restore)},
		Calls:  fixCalls{{a.modifyOp(), a.input(r.Name, false)}}.calls(),
		Before: before,
	}, nil
}

func (a *rdsSnapshotPrivate) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	return a.modify(ctx, t, false, rec)
}

func (a *rdsSnapshotPrivate) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	if public, _ := before["public"].(bool); !public {
		return nil // it was not public: the fix changed nothing
	}
	return a.modify(ctx, t, true, rec)
}

func (a *rdsSnapshotPrivate) modify(ctx context.Context, t fix.Target, add bool, rec *fix.Recorder) error {
	r := t.Resource
	c, err := a.f.rdsClient(ctx, r.Account, r.Region)
	if err != nil {
		return err
	}
	var toAdd, toRemove []string
	if add {
		toAdd = []string{"all"}
	} else {
		toRemove = []string{"all"}
	}
	return rec.Do(a.modifyOp(), a.input(r.Name, add), func() error {
		var err error
		if a.cluster {
			_, err = c.ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{
				DBClusterSnapshotIdentifier: aws.String(r.Name), AttributeName: aws.String("restore"),
				ValuesToAdd: toAdd, ValuesToRemove: toRemove})
		} else {
			_, err = c.ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{
				DBSnapshotIdentifier: aws.String(r.Name), AttributeName: aws.String("restore"),
				ValuesToAdd: toAdd, ValuesToRemove: toRemove})
		}
		return errorOf(err)
	})
}
