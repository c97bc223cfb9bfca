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

var _ vigil.ChangeStore = (*Store)(nil)

// The limits of one Changes listing: 100 versions by default, 10,000 at most.
const (
	defaultChangesLimit = 100
	maxChangesLimit     = 10_000
)

// SetOutbox sets how Record builds the Outbox it hands to its after hook
// from its transaction: the job queue (package river) provides it, so that
// a job is inserted in the transaction of the observation that caused it.
// Without one, Enqueue fails. Call it before Record is used.
func (s *Store) SetOutbox(f func(tx *sql.Tx) vigil.Outbox) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outbox = f
}

func (s *Store) outboxFor(tx *sql.Tx) vigil.Outbox {
	s.mu.Lock()
	f := s.outbox
	s.mu.Unlock()
	if f == nil {
		return noOutbox{}
	}
	return f(tx)
}

// noOutbox is the Outbox of a store with no job queue.
type noOutbox struct{}

func (noOutbox) Enqueue(context.Context, vigil.JobArgs) (bool, error) {
	return false, vigil.Errorf(vigil.EINTERNAL, "enqueue: no job queue configured")
}

// Record writes the observation obs in one transaction and returns what it
// changed; after, if not nil, runs in the transaction before it commits, and
// an error from it rolls the whole observation back.
//
// In order:
//   - obs.Resources are upserted as PutResources does (a resource with a zero
//     CollectedAt is collected at obs.At); each that gets a new version is a
//     Change, with Old its previous state (nil for a new resource; for a
//     resurrected one, the state before its deletion);
//   - each of obs.Deleted that exists and is not deleted gets a deletion
//     version, as Sweep gives, and is a Change whose Old and New are its last
//     state; its unresolved results are resolved at obs.At, and each of them
//     that was a fail or an error is a Resolved transition. An unknown or
//     already deleted uid is ignored;
//   - obs.Results are upserted as PutResults does (a zero LastSeen is
//     obs.At); a result that fails now and did not (new, passed, muted or
//     resolved) is Opened, and also Reopened if it was resolved; one that
//     passes now after an unresolved fail or error is Resolved. From is the
//     status before;
//   - with obs.Complete, the unresolved results other than passes of the
//     resources in obs.Resources whose check is not among obs.Results for that
//     resource are resolved at obs.At, the fails and errors among them as
//     Resolved transitions.
//
// Every new version records obs.ScanID, obs.Cause and its actor's ARN. An
// empty ScanID is an EINVALID error, as are a resource, deletion or result
// without its identifiers; obs.At defaults to now.
func (s *Store) Record(ctx context.Context, obs vigil.Observation, after vigil.AfterRecord) (vigil.Recorded, error) {
	if obs.ScanID == "" {
		return vigil.Recorded{}, vigil.Errorf(vigil.EINVALID, "record: observation has no scan id")
	}
	at := obs.At
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	rs, err := prepareResources(obs.Resources, func() time.Time { return at })
	if err != nil {
		return vigil.Recorded{}, fmt.Errorf("record %s: %w", obs.ScanID, err)
	}
	for i, d := range obs.Deleted {
		if d.UID == "" {
			return vigil.Recorded{}, vigil.Errorf(vigil.EINVALID, "record %s: deleted resource %d (%q) has no uid", obs.ScanID, i, d.Name)
		}
	}
	for _, r := range obs.Results {
		if r.CheckID == "" || r.ResourceUID == "" {
			return vigil.Recorded{}, vigil.Errorf(vigil.EINVALID, "record %s: result needs a check id and a resource uid (got %q, %q)",
				obs.ScanID, r.CheckID, r.ResourceUID)
		}
	}
	results := dedupResults(obs.Results)
	o, err := newOrigin(obs.Cause)
	if err != nil {
		return vigil.Recorded{}, fmt.Errorf("record %s: %w", obs.ScanID, err)
	}

	var rec vigil.Recorded
	err = inTx(ctx, s.w, func(tx *sql.Tx) error {
		rec = vigil.Recorded{}
		if err := recordResources(ctx, tx, obs.ScanID, o, rs, &rec); err != nil {
			return err
		}
		if err := recordDeletions(ctx, tx, obs.ScanID, at, o, obs.Deleted, &rec); err != nil {
			return err
		}
		if err := recordResults(ctx, tx, obs.ScanID, at, results, &rec); err != nil {
			return err
		}
		if obs.Complete {
			if err := resolveInapplicable(ctx, tx, at, rs, results, &rec); err != nil {
				return err
			}
		}
		if after != nil {
			if err := after(ctx, rec, s.outboxFor(tx)); err != nil {
				return fmt.Errorf("after record: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return vigil.Recorded{}, fmt.Errorf("record %s: %w", obs.ScanID, err)
	}
	return rec, nil
}

func recordResources(ctx context.Context, tx *sql.Tx, scanID string, o origin, rs []vigil.Resource, rec *vigil.Recorded) error {
	if len(rs) == 0 {
		return nil
	}
	p, err := newPutter(ctx, tx, true)
	if err != nil {
		return err
	}
	defer p.close()
	for _, r := range rs {
		ch, err := p.put(ctx, scanID, o, r)
		if err != nil {
			return fmt.Errorf("resource %s: %w", r.UID, err)
		}
		if ch != nil {
			rec.Changes = append(rec.Changes, *ch)
		}
	}
	return nil
}

func recordDeletions(ctx context.Context, tx *sql.Tx, scanID string, at time.Time, o origin, gone []vigil.Resource, rec *vigil.Recorded) error {
	if len(gone) == 0 {
		return nil
	}
	find, err := tx.PrepareContext(ctx, `SELECT `+resourceCols+`, deleted_at IS NOT NULL,
		(SELECT coalesce(max(seq), 0) FROM resource_versions v WHERE v.uid = r.uid)
		FROM resources r WHERE uid = ?`)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer find.Close()
	d, err := newDeleter(ctx, tx, true)
	if err != nil {
		return err
	}
	defer d.close()
	for _, g := range gone {
		var deleted bool
		var seq int
		r, err := scanResource(find.QueryRowContext(ctx, g.UID), &deleted, &seq)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted) {
			continue
		}
		if err != nil {
			return fmt.Errorf("deleted resource %s: %w", g.UID, err)
		}
		v, trs, err := d.delete(ctx, scanID, at, o, r, seq)
		if err != nil {
			return fmt.Errorf("deleted resource %s: %w", g.UID, err)
		}
		last := r
		rec.Changes = append(rec.Changes, vigil.Change{Old: &last, New: r, Version: v})
		rec.Transitions = append(rec.Transitions, trs...)
	}
	return nil
}

func recordResults(ctx context.Context, tx *sql.Tx, scanID string, at time.Time, rs []vigil.Result, rec *vigil.Recorded) error {
	if len(rs) == 0 {
		return nil
	}
	w, err := newResultWriter(ctx, tx, true)
	if err != nil {
		return err
	}
	defer w.close()
	def := func() time.Time { return at }
	for _, r := range rs {
		tr, ok, err := w.put(ctx, scanID, r, def)
		if err != nil {
			return err
		}
		if ok {
			rec.Transitions = append(rec.Transitions, tr)
		}
	}
	return nil
}

// resolveInapplicable resolves, at time at, the unresolved results other
// than passes of the resources rs whose check is not among results for that
// resource: the check no longer applies (say a bucket stopped being a
// website and the website checks are not evaluated on it any more).
func resolveInapplicable(ctx context.Context, tx *sql.Tx, at time.Time, rs []vigil.Resource, results []vigil.Result, rec *vigil.Recorded) error {
	if len(rs) == 0 {
		return nil
	}
	type key struct{ check, uid string }
	evaluated := make(map[key]bool, len(results))
	for _, r := range results {
		evaluated[key{r.CheckID, r.ResourceUID}] = true
	}
	stmts, err := prepare(ctx, tx,
		`SELECT `+resultCols+` FROM results
		WHERE resource_uid = ? AND resolved_at IS NULL AND status != 'pass' ORDER BY check_id`,
		`UPDATE results SET resolved_at = ? WHERE check_id = ? AND resource_uid = ?`)
	if err != nil {
		return err
	}
	defer closeAll(stmts)
	ts := formatTime(at)
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if seen[r.UID] {
			continue
		}
		seen[r.UID] = true
		open, err := queryResults(ctx, stmts[0], r.UID)
		if err != nil {
			return fmt.Errorf("results of %s: %w", r.UID, err)
		}
		for _, res := range open {
			if evaluated[key{res.CheckID, res.ResourceUID}] {
				continue
			}
			if _, err := stmts[1].ExecContext(ctx, ts, res.CheckID, res.ResourceUID); err != nil {
				return fmt.Errorf("resolve result %s on %s: %w", res.CheckID, res.ResourceUID, err)
			}
			if res.Status == vigil.StatusFail || res.Status == vigil.StatusError {
				res.ResolvedAt = &at
				rec.Transitions = append(rec.Transitions, vigil.Transition{Result: res, From: res.Status, Resolved: true})
			}
		}
	}
	return nil
}

// Changes lists the versions matching f, newest first (by observed time,
// then uid, then latest version first), at most f.Limit of them (100 when
// zero; more than 10,000 or negative is an EINVALID error). Since is
// inclusive and Until exclusive; Account and Type match the resource's
// current account and type, Type as a glob in which * matches any text;
// Actor matches a substring of the version's actor, ignoring case.
func (s *Store) Changes(ctx context.Context, f vigil.ChangeFilter) ([]vigil.Version, error) {
	limit := f.Limit
	switch {
	case limit == 0:
		limit = defaultChangesLimit
	case limit < 0 || limit > maxChangesLimit:
		return nil, vigil.Errorf(vigil.EINVALID, "changes: limit %d is out of range (want 1 to %d)", f.Limit, maxChangesLimit)
	}
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + prefixCols("v.", versionCols) + ` FROM resource_versions v`)
	if f.Account != "" || f.Type != "" {
		q.WriteString(` JOIN resources r ON r.uid = v.uid`)
	}
	q.WriteString(` WHERE 1 = 1`)
	if !f.Since.IsZero() {
		q.WriteString(` AND v.observed_at >= ?`)
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND v.observed_at < ?`)
		args = append(args, formatTime(f.Until))
	}
	if f.UID != "" {
		q.WriteString(` AND v.uid = ?`)
		args = append(args, f.UID)
	}
	if f.Account != "" {
		q.WriteString(` AND r.account = ?`)
		args = append(args, f.Account)
	}
	if f.Type != "" {
		q.WriteString(` AND r.type GLOB ?`)
		args = append(args, typeGlob(f.Type))
	}
	if f.Actor != "" {
		// actor != '' lets the planner use the partial index on actor.
		q.WriteString(` AND v.actor != '' AND instr(lower(v.actor), lower(?)) > 0`)
		args = append(args, f.Actor)
	}
	q.WriteString(` ORDER BY v.observed_at DESC, v.uid, v.seq DESC LIMIT ?`)
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	vs, err := scanVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	return vs, nil
}

// typeGlob turns a type pattern, in which only * is special, into an SQLite
// GLOB pattern: ? and [ match themselves.
func typeGlob(p string) string {
	return strings.NewReplacer("[", "[[]", "?", "[?]").Replace(p)
}

// prefixCols qualifies each of the comma-separated columns with prefix.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
