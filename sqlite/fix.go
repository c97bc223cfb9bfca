package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilsec/vigil"
)

// PutFix records a fix, replacing the record with the same ID (a plan
// becomes verified or failed under one ID).
func (s *Store) PutFix(ctx context.Context, f vigil.Fix) error {
	if f.ID == "" {
		return vigil.Errorf(vigil.EINVALID, "put fix: no id")
	}
	var docs [4]string
	for i, v := range []any{f.Plan, f.Calls, f.Before, f.After} {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("put fix %s: %w", f.ID, err)
		}
		docs[i] = string(b)
	}
	return inTx(ctx, s.w, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO fixes (id, at, actor, mode, check_id, resource_uid, resource_type,
				provider, account, region, action, status, reason, plan, calls, before, after, undo_of)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at, actor = excluded.actor, mode = excluded.mode,
				check_id = excluded.check_id, resource_uid = excluded.resource_uid, resource_type = excluded.resource_type,
				provider = excluded.provider, account = excluded.account, region = excluded.region,
				action = excluded.action, status = excluded.status, reason = excluded.reason, plan = excluded.plan,
				calls = excluded.calls, before = excluded.before, after = excluded.after, undo_of = excluded.undo_of`,
			f.ID, formatTime(f.At), f.Actor, f.Mode, f.CheckID, f.ResourceUID, f.ResourceType, f.Provider,
			f.Account, f.Region, f.Action, f.Status, f.Reason, docs[0], docs[1], docs[2], docs[3], f.UndoOf)
		if err != nil {
			return fmt.Errorf("put fix %s: %w", f.ID, err)
		}
		return nil
	})
}

const fixColumns = `id, at, actor, mode, check_id, resource_uid, resource_type, provider, account, region,
	action, status, reason, plan, calls, before, after, undo_of`

// Fix returns one fix record.
func (s *Store) Fix(ctx context.Context, id string) (vigil.Fix, error) {
	fs, err := s.queryFixes(ctx, `SELECT `+fixColumns+` FROM fixes WHERE id = ?`, id)
	if err != nil {
		return vigil.Fix{}, err
	}
	if len(fs) == 0 {
		return vigil.Fix{}, vigil.Errorf(vigil.ENOTFOUND, "no fix %q", id)
	}
	return fs[0], nil
}

// Fixes lists fix records matching f, newest first.
func (s *Store) Fixes(ctx context.Context, f vigil.FixFilter) ([]vigil.Fix, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + fixColumns + ` FROM fixes WHERE 1 = 1`)
	var args []any
	if !f.Since.IsZero() {
		q.WriteString(" AND at >= ?")
		args = append(args, formatTime(f.Since))
	}
	for _, c := range []struct{ col, val string }{{"check_id", f.CheckID}, {"resource_uid", f.ResourceUID}} {
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
	q.WriteString(" ORDER BY at DESC, id DESC")
	if f.Limit > 0 {
		fmt.Fprintf(&q, " LIMIT %d", f.Limit)
	}
	return s.queryFixes(ctx, q.String(), args...)
}

func (s *Store) queryFixes(ctx context.Context, query string, args ...any) ([]vigil.Fix, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("fixes: %w", err)
	}
	defer rows.Close()
	var out []vigil.Fix
	for rows.Next() {
		var f vigil.Fix
		var at, plan, calls, before, after string
		if err := rows.Scan(&f.ID, &at, &f.Actor, &f.Mode, &f.CheckID, &f.ResourceUID, &f.ResourceType, &f.Provider,
			&f.Account, &f.Region, &f.Action, &f.Status, &f.Reason, &plan, &calls, &before, &after, &f.UndoOf); err != nil {
			return nil, fmt.Errorf("fixes: %w", err)
		}
		if f.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("fixes: %w", err)
		}
		for _, d := range []struct {
			s   string
			dst any
		}{{plan, &f.Plan}, {calls, &f.Calls}, {before, &f.Before}, {after, &f.After}} {
			if err := json.Unmarshal([]byte(d.s), d.dst); err != nil {
				return nil, fmt.Errorf("fixes: %s: %w", f.ID, err)
			}
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fixes: %w", err)
	}
	return out, nil
}
