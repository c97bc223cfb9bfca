package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
)

// PutResults upserts the results of scan scanID, one row per (check,
// resource), in one transaction.
//
// Each result is evaluated at its LastSeen time (now if zero); its
// FirstSeen, StatusSince, ResolvedAt and ScanID fields are ignored. A new
// result starts with first_seen, status_since and last_seen at that time
// and is unresolved, whatever its status (a pass never opened). On an
// existing one: first_seen is kept; status_since moves to the evaluation time
// when the status changes; a pass after a fail or error resolves it (keeping
// an earlier resolution time), a fail or error reopens it (moving
// status_since to the evaluation time when it was resolved, also with the
// same status: Sweep and ResolveStale resolve a result without changing its
// status), and a pass after a pass or a mute keeps its resolution state, as
// does a mute; last_seen, reason, severity, scan and the resource's type,
// provider, account and region are updated.
//
// Several results for one (check, resource) pair in rs are one evaluation
// seen twice (a resource collected twice): the worst of them is kept (fail,
// then error, then muted, then pass; the last of equals), so that their
// order never turns a new finding into a resolved one or a failure into a
// pass.
func (s *Store) PutResults(ctx context.Context, scanID string, rs []vigil.Result) error {
	if len(rs) == 0 {
		return nil
	}
	rs = dedupResults(rs)
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		w, err := newResultWriter(ctx, tx, false)
		if err != nil {
			return err
		}
		defer w.close()
		for _, r := range rs {
			if _, _, err := w.put(ctx, scanID, r, s.now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put results: %w", err)
	}
	return nil
}

// resultWriter holds the statements that PutResults and Record prepare in
// their transaction.
type resultWriter struct {
	upsert *sql.Stmt
	// prev and get read a result before and after its upsert, for Record's
	// transitions; nil for PutResults, which reports none.
	prev, get *sql.Stmt
	stmts     []*sql.Stmt
}

func newResultWriter(ctx context.Context, tx *sql.Tx, transitions bool) (resultWriter, error) {
	qs := []string{`INSERT INTO results (check_id, resource_uid, resource_type, provider,
			account, region, severity, status, reason, first_seen, status_since, last_seen, resolved_at, scan_id)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?10, NULL, ?11)
		ON CONFLICT (check_id, resource_uid) DO UPDATE SET
			status_since = CASE WHEN results.status = excluded.status
					AND NOT (results.resolved_at IS NOT NULL AND excluded.status IN ('fail', 'error'))
				THEN results.status_since ELSE excluded.last_seen END,
			resolved_at = CASE
				WHEN excluded.status IN ('fail', 'error') THEN NULL
				WHEN excluded.status = 'pass' AND results.status IN ('fail', 'error')
					THEN coalesce(results.resolved_at, excluded.last_seen)
				ELSE results.resolved_at END,
			status = excluded.status, last_seen = excluded.last_seen, reason = excluded.reason,
			severity = excluded.severity, scan_id = excluded.scan_id,
			resource_type = excluded.resource_type, provider = excluded.provider,
			account = excluded.account, region = excluded.region`}
	if transitions {
		qs = append(qs,
			`SELECT status, resolved_at IS NOT NULL FROM results WHERE check_id = ? AND resource_uid = ?`,
			`SELECT `+resultCols+` FROM results WHERE check_id = ? AND resource_uid = ?`)
	}
	stmts, err := prepare(ctx, tx, qs...)
	if err != nil {
		return resultWriter{}, err
	}
	w := resultWriter{upsert: stmts[0], stmts: stmts}
	if transitions {
		w.prev, w.get = stmts[1], stmts[2]
	}
	return w, nil
}

func (w resultWriter) close() { closeAll(w.stmts) }

// put upserts r, evaluated at its LastSeen (def() when zero), with the
// semantics of PutResults. When the writer was made for transitions, it
// returns r's transition, if it has one, and true.
//
// A fail opens the finding when the result is new, passed, was muted or was
// resolved (then it reopens); an error never opens one, since an alert
// about a check that could not run is not a new finding, but it is open
// for resolution: a pass after an unresolved fail or error resolves it.
func (w resultWriter) put(ctx context.Context, scanID string, r vigil.Result, def func() time.Time) (vigil.Transition, bool, error) {
	if r.CheckID == "" || r.ResourceUID == "" {
		return vigil.Transition{}, false, vigil.Errorf(vigil.EINVALID, "result needs a check id and a resource uid (got %q, %q)", r.CheckID, r.ResourceUID)
	}
	at := r.LastSeen
	if at.IsZero() {
		at = def()
	}
	var from vigil.Status
	var wasResolved bool
	if w.prev != nil {
		err := w.prev.QueryRowContext(ctx, r.CheckID, r.ResourceUID).Scan(&from, &wasResolved)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return vigil.Transition{}, false, fmt.Errorf("result %s on %s: %w", r.CheckID, r.ResourceUID, err)
		}
	}
	if _, err := w.upsert.ExecContext(ctx, r.CheckID, r.ResourceUID, r.ResourceType, r.Provider, r.Account,
		r.Region, r.Severity, r.Status, r.Reason, formatTime(at), scanID); err != nil {
		return vigil.Transition{}, false, fmt.Errorf("result %s on %s: %w", r.CheckID, r.ResourceUID, err)
	}
	if w.get == nil {
		return vigil.Transition{}, false, nil
	}
	tr := vigil.Transition{From: from}
	switch {
	case r.Status == vigil.StatusFail && (from == "" || wasResolved || from == vigil.StatusPass || from == vigil.StatusMuted):
		tr.Opened, tr.Reopened = true, wasResolved
	case r.Status == vigil.StatusPass && !wasResolved && (from == vigil.StatusFail || from == vigil.StatusError):
		tr.Resolved = true
	default:
		return vigil.Transition{}, false, nil
	}
	var err error
	if tr.Result, err = scanResult(w.get.QueryRowContext(ctx, r.CheckID, r.ResourceUID)); err != nil {
		return vigil.Transition{}, false, fmt.Errorf("result %s on %s: %w", r.CheckID, r.ResourceUID, err)
	}
	return tr, true, nil
}

// statusRank orders statuses for dedupResults: the worse, the higher.
func statusRank(st vigil.Status) int {
	switch st {
	case vigil.StatusFail:
		return 4
	case vigil.StatusError:
		return 3
	case vigil.StatusMuted:
		return 2
	case vigil.StatusPass:
		return 1
	}
	return 0
}

// dedupResults returns rs with one result per (check, resource) pair, the
// worst one, in the order of first appearance; rs itself is not modified.
func dedupResults(rs []vigil.Result) []vigil.Result {
	type key struct{ check, uid string }
	at := make(map[key]int, len(rs))
	var out []vigil.Result
	for i, r := range rs {
		k := key{r.CheckID, r.ResourceUID}
		j, dup := at[k]
		if !dup {
			if out != nil {
				at[k] = len(out)
				out = append(out, r)
			} else {
				at[k] = i
			}
			continue
		}
		if out == nil {
			out = append(make([]vigil.Result, 0, len(rs)), rs[:i]...)
		}
		if statusRank(r.Status) >= statusRank(out[j].Status) {
			out[j] = r
		}
	}
	if out == nil {
		return rs
	}
	return out
}

// ResolveStale sets resolved_at to at on the unresolved results, other than
// passes, of the checks in checkIDs that match a scope (by account and
// resource type, and by region unless the scope's Region is "") and that scan
// scanID did not produce, last seen before at, in one transaction, and
// returns how many it resolved. With no check ids or no scopes it does
// nothing. The scan passes its start time as at, so that the results of a
// scan that started after it on the same database stand.
func (s *Store) ResolveStale(ctx context.Context, scanID string, at time.Time, checkIDs []string, scopes []vigil.Scope) (int, error) {
	if len(checkIDs) == 0 || len(scopes) == 0 {
		return 0, nil
	}
	ids, err := marshal(checkIDs)
	if err != nil {
		return 0, fmt.Errorf("resolve stale: %w", err)
	}
	ts := formatTime(at)
	total := 0
	err = inTx(ctx, s.w, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE results SET resolved_at = ?
			WHERE check_id IN (SELECT value FROM json_each(?))
				AND account = ? AND resource_type = ? AND (? = '' OR region = ?)
				AND scan_id != ? AND last_seen < ? AND resolved_at IS NULL AND status != 'pass'`)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer st.Close()
		for _, sc := range scopes {
			res, err := st.ExecContext(ctx, ts, ids, sc.Account, sc.Type, sc.Region, sc.Region, scanID, ts)
			if err != nil {
				return fmt.Errorf("scope %s/%s/%s: %w", sc.Account, sc.Region, sc.Type, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("scope %s/%s/%s: %w", sc.Account, sc.Region, sc.Type, err)
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("resolve stale: %w", err)
	}
	return total, nil
}

// Results lists the results matching f, worst severity first, then by check
// id and resource uid.
func (s *Store) Results(ctx context.Context, f vigil.ResultFilter) ([]vigil.Result, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + resultCols + ` FROM results WHERE 1 = 1`)
	var args []any
	for _, c := range []struct{ col, val string }{
		{"account", f.Account}, {"check_id", f.CheckID}, {"resource_uid", f.UID}, {"scan_id", f.ScanID},
	} {
		if c.val != "" {
			q.WriteString(" AND " + c.col + " = ?")
			args = append(args, c.val)
		}
	}
	if len(f.Statuses) > 0 {
		q.WriteString(" AND status IN (?" + strings.Repeat(", ?", len(f.Statuses)-1) + ")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if f.Open {
		q.WriteString(" AND resolved_at IS NULL")
	}
	q.WriteString(` ORDER BY CASE severity WHEN 'critical' THEN 5 WHEN 'high' THEN 4 WHEN 'medium' THEN 3
		WHEN 'low' THEN 2 WHEN 'info' THEN 1 ELSE 0 END DESC, check_id, resource_uid`)
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	rs, err := readResults(rows)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	return rs, nil
}

// resultCols are the columns scanResult reads, in order.
const resultCols = `check_id, resource_uid, resource_type, provider, account, region, severity, status,
	reason, first_seen, status_since, last_seen, resolved_at, scan_id`

func scanResult(row scanner) (vigil.Result, error) {
	var r vigil.Result
	var first, since, last string
	var resolved sql.NullString
	if err := row.Scan(&r.CheckID, &r.ResourceUID, &r.ResourceType, &r.Provider, &r.Account, &r.Region,
		&r.Severity, &r.Status, &r.Reason, &first, &since, &last, &resolved, &r.ScanID); err != nil {
		return r, err
	}
	var err error
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{first, &r.FirstSeen}, {since, &r.StatusSince}, {last, &r.LastSeen}} {
		if *t.dst, err = parseTime(t.s); err != nil {
			return r, err
		}
	}
	r.ResolvedAt, err = parseTimePtr(resolved)
	return r, err
}

// readResults reads and closes rows of resultCols.
func readResults(rows *sql.Rows) ([]vigil.Result, error) {
	defer rows.Close()
	var rs []vigil.Result
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// queryResults runs st, a query of resultCols, with args.
func queryResults(ctx context.Context, st *sql.Stmt, args ...any) ([]vigil.Result, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	return readResults(rows)
}
