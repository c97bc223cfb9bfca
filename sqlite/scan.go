package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vigilsec/vigil"
)

// PutAccount creates the account or, when one with the same provider and id
// exists, replaces its other fields.
func (s *Store) PutAccount(ctx context.Context, a vigil.Account) error {
	if a.Provider == "" || a.ID == "" {
		return vigil.Errorf(vigil.EINVALID, "put account: provider and id are required")
	}
	regions, err := marshal(a.Regions)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	labels, err := marshal(a.Labels)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO accounts (provider, id, name, profile, role_arn, regions, labels)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider, id) DO UPDATE SET name = excluded.name, profile = excluded.profile,
			role_arn = excluded.role_arn, regions = excluded.regions, labels = excluded.labels`,
		a.Provider, a.ID, a.Name, a.Profile, a.RoleARN, regions, labels)
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, err)
	}
	return nil
}

// Accounts lists the accounts ordered by provider and id.
func (s *Store) Accounts(ctx context.Context) ([]vigil.Account, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT provider, id, name, profile, role_arn, regions, labels
		FROM accounts ORDER BY provider, id`)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	defer rows.Close()
	var as []vigil.Account
	for rows.Next() {
		var a vigil.Account
		var regions, labels string
		if err := rows.Scan(&a.Provider, &a.ID, &a.Name, &a.Profile, &a.RoleARN, &regions, &labels); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		if err := unmarshal(regions, &a.Regions); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		if err := unmarshal(labels, &a.Labels); err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return as, nil
}

// StartScan records a new scan, with status "running" unless s says
// otherwise. A scan id already recorded is an ECONFLICT error.
func (s *Store) StartScan(ctx context.Context, sc vigil.Scan) error {
	if sc.ID == "" {
		return vigil.Errorf(vigil.EINVALID, "start scan: id is required")
	}
	if sc.Status == "" {
		sc.Status = "running"
	}
	args, err := scanArgs(sc)
	if err != nil {
		return fmt.Errorf("start scan %s: %w", sc.ID, err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO scans (id, started_at, finished_at, status, accounts, stats, read_errors, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		append([]any{sc.ID, formatTime(sc.StartedAt)}, args...)...)
	if err != nil {
		return fmt.Errorf("start scan %s: %w", sc.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("start scan %s: %w", sc.ID, err)
	} else if n == 0 {
		return vigil.Errorf(vigil.ECONFLICT, "start scan: scan %s already exists", sc.ID)
	}
	return nil
}

// FinishScan records a scan's finish time (now if FinishedAt is nil), status,
// accounts, stats, read errors and error; its start time is kept. An unknown
// scan is an ENOTFOUND error.
func (s *Store) FinishScan(ctx context.Context, sc vigil.Scan) error {
	if sc.FinishedAt == nil {
		now := s.now()
		sc.FinishedAt = &now
	}
	args, err := scanArgs(sc)
	if err != nil {
		return fmt.Errorf("finish scan %s: %w", sc.ID, err)
	}
	res, err := s.w.ExecContext(ctx, `UPDATE scans SET finished_at = ?, status = ?, accounts = ?, stats = ?,
		read_errors = ?, error = ? WHERE id = ?`, append(args, sc.ID)...)
	if err != nil {
		return fmt.Errorf("finish scan %s: %w", sc.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish scan %s: %w", sc.ID, err)
	} else if n == 0 {
		return vigil.Errorf(vigil.ENOTFOUND, "finish scan: scan %s not found", sc.ID)
	}
	return nil
}

// scanArgs returns finished_at, status, accounts, stats, read_errors and error.
func scanArgs(sc vigil.Scan) ([]any, error) {
	accounts, err := marshal(sc.Accounts)
	if err != nil {
		return nil, err
	}
	stats, err := marshal(sc.Stats)
	if err != nil {
		return nil, err
	}
	readErrors, err := marshal(sc.ReadErrors)
	if err != nil {
		return nil, err
	}
	return []any{formatTimePtr(sc.FinishedAt), sc.Status, accounts, stats, readErrors, sc.Error}, nil
}

// Scans lists the scans by start time, newest first, at most limit of them;
// a limit of zero or less means no limit.
func (s *Store) Scans(ctx context.Context, limit int) ([]vigil.Scan, error) {
	if limit <= 0 {
		limit = -1 // no limit in SQLite
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, finished_at, status, accounts, stats, read_errors, error
		FROM scans ORDER BY started_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("scans: %w", err)
	}
	defer rows.Close()
	var scans []vigil.Scan
	for rows.Next() {
		var sc vigil.Scan
		var started, accounts, stats, readErrors string
		var finished sql.NullString
		if err := rows.Scan(&sc.ID, &started, &finished, &sc.Status, &accounts, &stats, &readErrors, &sc.Error); err != nil {
			return nil, fmt.Errorf("scans: %w", err)
		}
		if sc.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("scans: %w", err)
		}
		if sc.FinishedAt, err = parseTimePtr(finished); err != nil {
			return nil, fmt.Errorf("scans: %w", err)
		}
		for _, f := range []struct {
			s string
			v any
		}{{accounts, &sc.Accounts}, {stats, &sc.Stats}, {readErrors, &sc.ReadErrors}} {
			if err := unmarshal(f.s, f.v); err != nil {
				return nil, fmt.Errorf("scans: %w", err)
			}
		}
		scans = append(scans, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scans: %w", err)
	}
	return scans, nil
}
