package azure

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/azure/azuretest"
	"github.com/vigilsec/vigil/fix"
	vpolicy "github.com/vigilsec/vigil/policy"
)

func init() {
	// The SDK operations of the key vault and SQL
	// actions, for the recorder that checks their declared permissions.
	for api, op := range map[string]string{
		"VaultsClient.Get":                                     "Microsoft.KeyVault/vaults/read",
		"VaultsClient.Update":                                  "Microsoft.KeyVault/vaults/write",
		"ServerBlobAuditingPoliciesClient.Get":                 "Microsoft.Sql/servers/auditingSettings/read",
		"ServerBlobAuditingPoliciesClient.BeginCreateOrUpdate": "Microsoft.Sql/servers/auditingSettings/write",
	} {
		rbacOperations[api] = op
	}
}

const (
	fxSub       = "/subscriptions/" + subProd
	fxKVLegacy  = fxSub + "/resourceGroups/rg-legacy/providers/Microsoft.KeyVault/vaults/kv-legacy"
	fxKVProd    = fxSub + "/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-prod"
	fxSQLLegacy = fxSub + "/resourceGroups/rg-legacy/providers/Microsoft.Sql/servers/sql-legacy"
	fxSQLProd   = fxSub + "/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-prod"
)

// newMoreFixHarness is newFixHarness over the base estate plus the
// security (Defender, monitor) and SQL/Key Vault fixtures.
func newMoreFixHarness(t *testing.T) *fixHarness {
	t.Helper()
	return newFixHarness(t, filepath.Join("testdata", "security", "estate.json"), filepath.Join("testdata", "estate-sql-keyvault.json"))
}

// TestFixMoreActions runs the key vault and SQL actions
// through plan, apply, verify and undo: the planned calls are exactly the
// writes the estate receives, the check passes after the fix, and undo
// sends the recorded state back so that the check fails again.
func TestFixMoreActions(t *testing.T) {
	cases := []struct {
		name    string
		check   string
		uid     string
		params  map[string]any
		calls   []map[string]any
		undo    []map[string]any // nil: the action has no undo
		steps   int
		warning string
	}{
		{name: "key vault purge protection", check: "azure-keyvault-recoverable", uid: fxKVLegacy, warning: "cannot be undone",
			calls: []map[string]any{{"method": "PATCH", "path": fxKVLegacy, "body": map[string]any{"properties": map[string]any{"enablePurgeProtection": true}}}}},
		{name: "sql auditing to azure monitor", check: "azure-sql-server-auditing-enabled", uid: fxSQLLegacy, warning: "90 days",
			calls: []map[string]any{{"method": "PUT", "path": fxSQLLegacy + "/auditingSettings/default", "body": map[string]any{"properties": map[string]any{
				"state": "Enabled", "retentionDays": 90.0, "isAzureMonitorTargetEnabled": true}}}},
			undo: []map[string]any{{"method": "PUT", "path": fxSQLLegacy + "/auditingSettings/default", "body": map[string]any{"properties": map[string]any{
				"state": "Disabled", "retentionDays": 0.0}}}}},
		{name: "sql auditing to storage", check: "azure-sql-server-auditing-enabled", uid: fxSQLLegacy,
			params: map[string]any{"retention_days": 180, "storage_endpoint": "https://contosoaudit.blob.core.windows.net"},
			calls: []map[string]any{{"method": "PUT", "path": fxSQLLegacy + "/auditingSettings/default", "body": map[string]any{"properties": map[string]any{
				"state": "Enabled", "retentionDays": 180.0, "storageEndpoint": "https://contosoaudit.blob.core.windows.net/"}}}},
			undo: []map[string]any{{"method": "PUT", "path": fxSQLLegacy + "/auditingSettings/default", "body": map[string]any{"properties": map[string]any{
				"state": "Disabled", "retentionDays": 0.0}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newMoreFixHarness(t)
			since := 0
			j, f, p := h.plan(tc.check, tc.uid, tc.params)
			if p.NoOp {
				t.Fatalf("plan is a no-op: %v", p.Steps)
			}
			var planned []map[string]any
			for _, c := range p.Calls {
				planned = append(planned, c.Input)
			}
			if got, want := asJSON(t, planned), asJSON(t, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("planned calls\n got %v\nwant %v", got, want)
			}
			if want := max(tc.steps, 1); len(p.Steps) != want {
				t.Errorf("plan steps %q, want %d", p.Steps, want)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(p.Steps, " "), tc.warning) {
				t.Errorf("plan steps %q do not say %q", p.Steps, tc.warning)
			}
			done := h.apply(j, f, p)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.calls); !reflect.DeepEqual(got, want) {
				t.Errorf("writes received\n got %v\nwant %v", got, want)
			}
			if !strings.HasPrefix(done.Reason, "verified") {
				t.Errorf("reason %q", done.Reason)
			}
			_, undoable := j.Action.(fix.Undoer)
			if tc.undo == nil {
				if undoable {
					t.Errorf("action %s has an Undo; it must not", j.Action.ID())
				}
				return
			}
			h.undo(done.ID)
			if got, want := asJSON(t, h.takeRequests(&since)), asJSON(t, tc.undo); !reflect.DeepEqual(got, want) {
				t.Errorf("undo writes\n got %v\nwant %v", got, want)
			}
			fresh, err := h.fixer.Refresh(context.Background(), j.Target.Resource)
			if err != nil {
				t.Fatal(err)
			}
			if o := j.Check.Evaluate(vpolicy.NewInput(&fresh, fixedNow)); o.Status != vigil.StatusFail {
				t.Errorf("after undo the check gives %s (%s), want fail again", o.Status, o.Reason)
			}
		})
	}
}

// TestFixMoreNoOp: resources already as the action would make them plan
// nothing.
func TestFixMoreNoOp(t *testing.T) {
	h := newMoreFixHarness(t)
	cases := []struct {
		check, uid string
		params     map[string]any
	}{
		{"azure-keyvault-recoverable", fxKVProd, nil},
		{"azure-sql-server-auditing-enabled", fxSQLProd, nil},
	}
	for _, tc := range cases {
		_, _, p := h.plan(tc.check, tc.uid, tc.params)
		if !p.NoOp || len(p.Calls) != 0 {
			t.Errorf("%s on %s %v: %+v", tc.check, tc.uid, tc.params, p)
		}
	}
}

// TestFixMoreParams: bad parameters are EINVALID before any call.
func TestFixMoreParams(t *testing.T) {
	h := newMoreFixHarness(t)
	ctx := context.Background()
	cases := []struct {
		check, uid string
		params     map[string]any
		want       string
	}{
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, map[string]any{"retention_days": -1}, "from 0 to 3650"},
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, map[string]any{"retention_days": 3651}, "from 0 to 3650"},
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, map[string]any{"retention_days": "a year"}, "not a whole number"},
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, map[string]any{"storage_endpoint": "http://contosoaudit.blob.core.windows.net/"}, "blob endpoint"},
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, map[string]any{"storage_endpoint": "https://contosoaudit.blob.core.windows.net/?sig=x"}, "no path or query"},
	}
	for _, tc := range cases {
		j, err := h.runner.Prepare(ctx, tc.check, tc.uid, tc.params)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = h.runner.Plan(ctx, j, "user:test", "fix-now")
		if err == nil || !strings.Contains(err.Error(), tc.want) || vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s %v: error %v (code %s), want EINVALID %q", tc.check, tc.params, err, vigil.ErrorCode(err), tc.want)
		}
		if strings.Contains(errString(err), "sig=x") {
			t.Errorf("the error repeats the endpoint's query: %v", err)
		}
	}
	if len(h.e.Requests()) != 0 {
		t.Errorf("writes: %+v", h.e.Requests())
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFixMoreWriteForbidden: a 403 on the write is a failed fix that
// changed nothing.
func TestFixMoreWriteForbidden(t *testing.T) {
	cases := []struct {
		check, uid, api, op string
		state               func(h *fixHarness) any
	}{
		{"azure-keyvault-recoverable", fxKVLegacy, "VaultsClient.Update", opKeyVaultsWrite,
			func(h *fixHarness) any { v, _ := h.e.KeyVault(fxKVLegacy); return v }},
		{"azure-sql-server-auditing-enabled", fxSQLLegacy, "ServerBlobAuditingPoliciesClient.BeginCreateOrUpdate", opSQLAuditingWrite,
			func(h *fixHarness) any { a, ok := h.e.SQLAuditing(fxSQLLegacy); return []any{a, ok} }},
	}
	for _, tc := range cases {
		t.Run(tc.check, func(t *testing.T) {
			h := newMoreFixHarness(t)
			before := asJSON(t, tc.state(h))
			h.e.Inject(azuretest.Fault{API: tc.api, Status: 403, Code: "AuthorizationFailed",
				Message: "The client does not have authorization to perform action '" + tc.op + "'."})
			j, f, p := h.plan(tc.check, tc.uid, nil)
			out, err := h.runner.Apply(context.Background(), j, f, p)
			h.checkPermissions(j.Action)
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != vigil.FixFailed || !strings.Contains(out.Reason, "AuthorizationFailed") {
				t.Errorf("fix %s: %s", out.Status, out.Reason)
			}
			if len(out.Calls) != 1 || out.Calls[0].Operation != tc.op || out.Calls[0].Error == "" {
				t.Errorf("calls %+v", out.Calls)
			}
			if after := asJSON(t, tc.state(h)); !reflect.DeepEqual(after, before) {
				t.Errorf("the resource changed although the write was refused:\n got %v\nwant %v", after, before)
			}
		})
	}
}
