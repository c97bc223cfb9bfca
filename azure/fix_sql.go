package azure

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/sql/armsql"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/fix"
)

// opSQLAuditingWrite is the RBAC operation of the server auditing PUT.
const opSQLAuditingWrite = "Microsoft.Sql/servers/auditingSettings/write"

func init() {
	fixActions = append(fixActions, func(f *Fixer) fix.Action {
		return &sqlAuditing{fixAction{f: f, id: "azure.sql.auditing", typ: TypeSQLServer,
			title: "turn on server auditing for the SQL server (params retention_days, default 90; storage_endpoint, else Azure Monitor)",
			perms: []string{opSubscriptionRead, opSQLAuditingRead, opSQLAuditingWrite}}}
	})
}

// sqlAuditing turns on a SQL server's blob auditing policy. ARM replaces
// the policy as a whole on PUT, so Undo puts the recorded one back.
type sqlAuditing struct{ fixAction }

// sqlAuditingParams reads retention_days (0–3650, 0 keeps logs forever;
// default 90) and storage_endpoint (an https blob endpoint, no path or
// query: a SAS there would be a secret in the audit trail).
func sqlAuditingParams(params map[string]any) (days int, endpoint string, err error) {
	days = 90
	if v, ok := params["retention_days"]; ok && v != nil {
		var d float64
		switch x := v.(type) {
		case int:
			d = float64(x)
		case int64:
			d = float64(x)
		case float64:
			d = x
		case string:
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return 0, "", vigil.Errorf(vigil.EINVALID, "param retention_days of azure.sql.auditing: %q is not a whole number of days", x)
			}
			d = float64(n)
		default:
			return 0, "", vigil.Errorf(vigil.EINVALID, "param retention_days of azure.sql.auditing: want a number of days, got %T", v)
		}
		if d != math.Trunc(d) || d < 0 || d > 3650 {
			return 0, "", vigil.Errorf(vigil.EINVALID, "param retention_days of azure.sql.auditing: %v is not a whole number from 0 to 3650", v)
		}
		days = int(d)
	}
	if v, ok := params["storage_endpoint"]; ok && v != nil {
		s, _ := v.(string)
		u, perr := url.Parse(strings.TrimSpace(s))
		if s == "" || perr != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return 0, "", vigil.Errorf(vigil.EINVALID, "param storage_endpoint of azure.sql.auditing: want a storage account's blob endpoint such as https://ACCOUNT.blob.core.windows.net/, with no path or query")
		}
		endpoint = "https://" + u.Host + "/"
	}
	return days, endpoint, nil
}

func (f *Fixer) sqlAuditingClient(ctx context.Context, sub string) (*armsql.ServerBlobAuditingPoliciesClient, error) {
	cred, opts, err := f.client(ctx, sub)
	if err != nil {
		return nil, err
	}
	return armsql.NewServerBlobAuditingPoliciesClient(sub, cred, opts)
}

func (a *sqlAuditing) Plan(ctx context.Context, t fix.Target) (*fix.Plan, error) {
	days, endpoint, err := sqlAuditingParams(t.Params)
	if err != nil {
		return nil, err
	}
	id, err := parseTarget(t.Resource)
	if err != nil {
		return nil, err
	}
	c, err := a.f.sqlAuditingClient(ctx, id.SubscriptionID)
	if err != nil {
		return nil, err
	}
	resp, err := c.Get(ctx, id.ResourceGroupName, id.Name, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", opSQLAuditingRead, errorf(err))
	}
	prev := deref(resp.Properties)
	prev.StorageAccountAccessKey = nil // write-only; never recorded
	cur, err := jsonMap(prev)
	if err != nil {
		return nil, err
	}
	before := map[string]any{"auditing": cur}
	if deref(prev.State) == armsql.BlobAuditingPolicyStateEnabled {
		return &fix.Plan{NoOp: true, Before: before, Steps: []string{"auditing is already on for SQL server " + t.Resource.Name}}, nil
	}
	props := map[string]any{"state": string(armsql.BlobAuditingPolicyStateEnabled), "retentionDays": days}
	step := fmt.Sprintf("turn on auditing for SQL server %s, keeping audit logs %d days", t.Resource.Name, days)
	if endpoint != "" {
		props["storageEndpoint"] = endpoint
		step += " in storage account " + endpoint + " (the server's managed identity needs Storage Blob Data Contributor there)"
	} else {
		props["isAzureMonitorTargetEnabled"] = true
		step += " through Azure Monitor (logs reach a workspace only once the master database has a diagnostic setting with the SQLSecurityAuditEvents category)"
	}
	body := map[string]any{"properties": props}
	return &fix.Plan{Before: before, Steps: []string{step},
		Calls: []vigil.FixCall{{Operation: opSQLAuditingWrite, Input: call("PUT", t.Resource.UID+"/auditingSettings/default", body)}}}, nil
}

func (a *sqlAuditing) Apply(ctx context.Context, t fix.Target, p *fix.Plan, rec *fix.Recorder) error {
	body, err := plannedBody(p, 0)
	if err != nil {
		return err
	}
	return a.put(ctx, t.Resource, body, rec)
}

func (a *sqlAuditing) Undo(ctx context.Context, t fix.Target, before map[string]any, rec *fix.Recorder) error {
	prev, ok := before["auditing"].(map[string]any)
	if !ok {
		return vigil.Errorf(vigil.EINVALID, "the fix recorded no previous auditing policy to restore")
	}
	return a.put(ctx, t.Resource, map[string]any{"properties": prev}, rec)
}

func (a *sqlAuditing) put(ctx context.Context, r vigil.Resource, body map[string]any, rec *fix.Recorder) error {
	id, err := parseTarget(r)
	if err != nil {
		return err
	}
	c, err := a.f.sqlAuditingClient(ctx, id.SubscriptionID)
	if err != nil {
		return err
	}
	var policy armsql.ServerBlobAuditingPolicy
	if err := fromJSON(body, &policy); err != nil {
		return vigil.Errorf(vigil.EINVALID, "sql auditing body: %v", err)
	}
	return rec.Do(opSQLAuditingWrite, call("PUT", r.UID+"/auditingSettings/default", body), func() error {
		poller, err := c.BeginCreateOrUpdate(ctx, id.ResourceGroupName, id.Name, policy, nil)
		if err != nil {
			return errorOf(err)
		}
		_, err = poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: pollEvery})
		return errorOf(err)
	})
}
