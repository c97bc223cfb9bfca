package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil"
	"github.com/vigilsec/vigil/jsondiff"
)

// resourceCols are the columns scanResource reads, in order.
const resourceCols = `uid, provider, account, region, type, name, tags, properties, read_errors, hash, collected_at`

type scanner interface{ Scan(dest ...any) error }

func scanResource(row scanner, extra ...any) (vigil.Resource, error) {
	var r vigil.Resource
	var tags, props, readErrors, collected string
	dest := append([]any{&r.UID, &r.Provider, &r.Account, &r.Region, &r.Type, &r.Name,
		&tags, &props, &readErrors, &r.Hash, &collected}, extra...)
	if err := row.Scan(dest...); err != nil {
		return r, err
	}
	return r, decodeResource(&r, tags, props, readErrors, collected)
}

// decodeResource sets r's documents and collection time from their columns.
func decodeResource(r *vigil.Resource, tags, props, readErrors, collected string) error {
	var err error
	if r.CollectedAt, err = parseTime(collected); err != nil {
		return err
	}
	if err := unmarshal(tags, &r.Tags); err != nil {
		return err
	}
	if err := unmarshal(props, &r.Properties); err != nil {
		return err
	}
	return unmarshal(readErrors, &r.ReadErrors)
}

// document is the part of a resource that versions diff: the values of its
// name, tags, properties and read errors, each either decoded or raw JSON.
func document(name string, tags, props, readErrors any) map[string]any {
	return map[string]any{"name": name, "tags": tags, "properties": props, "read_errors": readErrors}
}

// PutResources upserts the resources seen by scan scanID in one transaction,
// and returns how many changed.
//
// A resource's Hash is computed (vigil.Resource.ComputeHash) when empty. A
// resource that is new, whose hash differs from the stored one, or that was
// deleted gets a new version, numbered one past the last, whose Diff goes
// from the previous state's document {name, tags, properties, read_errors}
// to the new one (nil for the first version; for a resurrected resource, from
// the state before its deletion), and counts as changed. Every resource gets
// collected_at and last_seen set to its CollectedAt (now if zero), its last
// scan set to scanID, and its deletion cleared; its first_seen never changes.
// The caller's slice is not modified.
func (s *Store) PutResources(ctx context.Context, scanID string, rs []vigil.Resource) (int, error) {
	if len(rs) == 0 {
		return 0, nil
	}
	rs, err := prepareResources(rs, s.now)
	if err != nil {
		return 0, fmt.Errorf("put resources: %w", err)
	}
	changed := 0
	err = inTx(ctx, s.w, func(tx *sql.Tx) error {
		p, err := newPutter(ctx, tx, false)
		if err != nil {
			return err
		}
		defer p.close()
		for _, r := range rs {
			c, err := p.put(ctx, scanID, origin{}, r)
			if err != nil {
				return fmt.Errorf("resource %s: %w", r.UID, err)
			}
			if c != nil {
				changed++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("put resources: %w", err)
	}
	return changed, nil
}

// prepareResources returns a copy of rs, each hashed when its Hash is empty
// and with its collection time (def() when zero) in UTC. Hashing is CPU work
// that needs no lock: done before the transaction, concurrent callers hash
// in parallel while one of them writes.
func prepareResources(rs []vigil.Resource, def func() time.Time) ([]vigil.Resource, error) {
	rs = slices.Clone(rs)
	for i := range rs {
		r := &rs[i]
		if r.UID == "" {
			return nil, vigil.Errorf(vigil.EINVALID, "resource %q of type %s has no uid", r.Name, r.Type)
		}
		if r.Hash == "" {
			r.ComputeHash()
		}
		if r.CollectedAt.IsZero() {
			r.CollectedAt = def()
		}
		r.CollectedAt = r.CollectedAt.UTC()
	}
	return rs, nil
}

// origin is what the new versions of one write record about their cause:
// nothing for a scan, the event and its actor for an event.
type origin struct {
	cause *vigil.Cause
	actor string
	json  any // the cause as JSON text, or nil for SQL NULL
}

func newOrigin(c *vigil.Cause) (origin, error) {
	if c == nil {
		return origin{}, nil
	}
	doc, err := marshal(c)
	if err != nil {
		return origin{}, fmt.Errorf("encode cause: %w", err)
	}
	return origin{cause: c, actor: c.Actor.ARN, json: doc}, nil
}

// insertVersion is the statement that adds a version, shared by puts and
// deletions.
const insertVersion = `INSERT INTO resource_versions (uid, seq, hash, observed_at, scan_id, actor, cause, deleted, resource, diff)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// putter holds the statements that PutResources and Record prepare in their
// transaction.
type putter struct {
	state, prev, upsert, touch, version *sql.Stmt
	stmts                               []*sql.Stmt
	// old makes put decode the previous state into its Change (Record);
	// PutResources only counts changes and skips that work.
	old bool
}

func newPutter(ctx context.Context, tx *sql.Tx, old bool) (putter, error) {
	stmts, err := prepare(ctx, tx,
		`SELECT hash, deleted_at IS NOT NULL, provider, account, region, type FROM resources WHERE uid = ?`,
		`SELECT name, tags, properties, read_errors, collected_at,
			(SELECT coalesce(max(seq), 0) FROM resource_versions v WHERE v.uid = r.uid)
		FROM resources r WHERE uid = ?`,
		`INSERT INTO resources (uid, provider, account, region, type, name, tags, properties, read_errors,
			hash, collected_at, first_seen, last_seen, last_scan_id, deleted_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11, ?12, NULL)
		ON CONFLICT (uid) DO UPDATE SET provider = excluded.provider, account = excluded.account,
			region = excluded.region, type = excluded.type, name = excluded.name, tags = excluded.tags,
			properties = excluded.properties, read_errors = excluded.read_errors, hash = excluded.hash,
			collected_at = excluded.collected_at, last_seen = excluded.last_seen,
			last_scan_id = excluded.last_scan_id, deleted_at = NULL`,
		`UPDATE resources SET collected_at = ?1, last_seen = ?1, last_scan_id = ?2 WHERE uid = ?3`,
		insertVersion,
	)
	if err != nil {
		return putter{}, err
	}
	return putter{state: stmts[0], prev: stmts[1], upsert: stmts[2], touch: stmts[3], version: stmts[4],
		stmts: stmts, old: old}, nil
}

func (p putter) close() { closeAll(p.stmts) }

// put stores r, hashed and with its collection time set, and returns its
// change when it got a new version (nil otherwise). The change's Old is set
// only when the putter was made for it.
func (p putter) put(ctx context.Context, scanID string, o origin, r vigil.Resource) (*vigil.Change, error) {
	seen := formatTime(r.CollectedAt)
	var hash string
	var deleted bool
	was := vigil.Resource{UID: r.UID}
	err := p.state.QueryRowContext(ctx, r.UID).Scan(&hash, &deleted, &was.Provider, &was.Account, &was.Region, &was.Type)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	same := found && hash == r.Hash && !deleted
	if same && was.Provider == r.Provider && was.Account == r.Account && was.Region == r.Region && was.Type == r.Type {
		// Unchanged, the common case: a narrow update that leaves the
		// indexed columns alone.
		_, err := p.touch.ExecContext(ctx, seen, scanID, r.UID)
		return nil, err
	}

	enc, err := encodeResource(r)
	if err != nil {
		return nil, err
	}
	upsert := func() error {
		_, err := p.upsert.ExecContext(ctx, r.UID, r.Provider, r.Account, r.Region, r.Type, r.Name,
			enc.tags, enc.props, enc.readErrors, r.Hash, seen, scanID)
		return err
	}
	if same {
		// Only the labels outside the hash changed (say the region of a
		// global resource): rewrite the row, with no version.
		return nil, upsert()
	}
	ch := &vigil.Change{New: r}
	seq := 1
	var diff []vigil.DiffOp
	if found {
		var tags, props, readErrors, collected string
		if err := p.prev.QueryRowContext(ctx, r.UID).Scan(&was.Name, &tags, &props, &readErrors, &collected, &seq); err != nil {
			return nil, err
		}
		seq++
		diff = jsondiff.Diff(
			document(was.Name, json.RawMessage(tags), json.RawMessage(props), json.RawMessage(readErrors)),
			document(r.Name, r.Tags, r.Properties, r.ReadErrors))
		if p.old {
			was.Hash = hash
			if err := decodeResource(&was, tags, props, readErrors, collected); err != nil {
				return nil, err
			}
			ch.Old = &was
		}
	}
	diffJSON, err := marshal(diff)
	if err != nil {
		return nil, err
	}
	if err := upsert(); err != nil {
		return nil, err
	}
	if _, err := p.version.ExecContext(ctx, r.UID, seq, r.Hash, seen, scanID, o.actor, o.json, false, enc.doc, diffJSON); err != nil {
		return nil, fmt.Errorf("version %d: %w", seq, err)
	}
	ch.Version = vigil.Version{UID: r.UID, Seq: seq, Hash: r.Hash, ObservedAt: r.CollectedAt, ScanID: scanID,
		Actor: o.actor, Cause: o.cause, Resource: r, Diff: diff}
	return ch, nil
}

// encoded is a resource's JSON: its tags, properties and read errors for
// their columns, and the whole resource for its version.
type encoded struct{ tags, props, readErrors, doc string }

// encodeResource encodes each of r's documents once and splices them into
// the whole: properties are most of a resource, and encoding them a second
// time cost about a tenth of PutResources's CPU for new resources.
func encodeResource(r vigil.Resource) (encoded, error) {
	var e encoded
	var err error
	if e.tags, err = marshal(r.Tags); err != nil {
		return e, err
	}
	if e.props, err = marshal(r.Properties); err != nil {
		return e, err
	}
	if e.readErrors, err = marshal(r.ReadErrors); err != nil {
		return e, err
	}
	// The outer fields hide the embedded Resource's fields of the same JSON
	// names; empty raw values are omitted as Resource omits empty ones.
	d := struct {
		vigil.Resource
		Tags       json.RawMessage `json:"tags,omitempty"`
		Properties json.RawMessage `json:"properties"`
		ReadErrors json.RawMessage `json:"read_errors,omitempty"`
	}{Resource: r, Properties: json.RawMessage(e.props)}
	if len(r.Tags) > 0 {
		d.Tags = json.RawMessage(e.tags)
	}
	if len(r.ReadErrors) > 0 {
		d.ReadErrors = json.RawMessage(e.readErrors)
	}
	e.doc, err = marshal(d)
	return e, err
}

// prepare prepares the queries on tx, in order.
func prepare(ctx context.Context, tx *sql.Tx, queries ...string) ([]*sql.Stmt, error) {
	stmts := make([]*sql.Stmt, 0, len(queries))
	for _, q := range queries {
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			closeAll(stmts)
			return nil, fmt.Errorf("prepare: %w", err)
		}
		stmts = append(stmts, st)
	}
	return stmts, nil
}

func closeAll(stmts []*sql.Stmt) {
	for _, st := range stmts {
		_ = st.Close()
	}
}

// Sweep marks deleted, at time at, every resource in the scopes that is not
// deleted, whose last scan is not scanID and that was last seen before at,
// all in one transaction, and returns how many it deleted. The scan passes
// its start time as at: a resource that another scan running at the same
// time (a second `vigil scan` on the same database) saw after it started
// exists, although its last scan is that other one. A scope matches resources by account and type,
// and by region unless its Region is "" (any region). Each deleted resource
// gets a version with Deleted set, its last state as Resource and a Diff that
// removes the whole document; its unresolved results (whatever their status,
// which is kept) get resolved_at set to at.
func (s *Store) Sweep(ctx context.Context, scanID string, at time.Time, scopes []vigil.Scope) (int, error) {
	if len(scopes) == 0 {
		return 0, nil
	}
	ts := formatTime(at)
	deleted := 0
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		find, err := tx.PrepareContext(ctx, `SELECT `+resourceCols+`,
				(SELECT coalesce(max(seq), 0) FROM resource_versions v WHERE v.uid = r.uid)
			FROM resources r
			WHERE account = ? AND type = ? AND (? = '' OR region = ?) AND deleted_at IS NULL AND last_scan_id != ?
				AND last_seen < ?
			ORDER BY uid`)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		defer find.Close()
		d, err := newDeleter(ctx, tx, false)
		if err != nil {
			return err
		}
		defer d.close()
		for _, sc := range scopes {
			gone, seqs, err := findGone(ctx, find, scanID, ts, sc)
			if err != nil {
				return fmt.Errorf("scope %s/%s/%s: %w", sc.Account, sc.Region, sc.Type, err)
			}
			for i, r := range gone {
				if _, _, err := d.delete(ctx, scanID, at, origin{}, r, seqs[i]); err != nil {
					return fmt.Errorf("resource %s: %w", r.UID, err)
				}
				deleted++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	return deleted, nil
}

// deleter holds the statements that mark resources deleted, shared by Sweep
// and Record.
type deleter struct {
	version, del, resolve *sql.Stmt
	// open reads the findings that a deletion resolves, for Record's
	// transitions; nil for Sweep, which reports none.
	open  *sql.Stmt
	stmts []*sql.Stmt
}

func newDeleter(ctx context.Context, tx *sql.Tx, transitions bool) (deleter, error) {
	qs := []string{
		insertVersion,
		`UPDATE resources SET deleted_at = ? WHERE uid = ?`,
		`UPDATE results SET resolved_at = ? WHERE resource_uid = ? AND resolved_at IS NULL`,
	}
	if transitions {
		qs = append(qs, `SELECT `+resultCols+` FROM results
			WHERE resource_uid = ? AND resolved_at IS NULL AND status IN ('fail', 'error') ORDER BY check_id`)
	}
	stmts, err := prepare(ctx, tx, qs...)
	if err != nil {
		return deleter{}, err
	}
	d := deleter{version: stmts[0], del: stmts[1], resolve: stmts[2], stmts: stmts}
	if transitions {
		d.open = stmts[3]
	}
	return d, nil
}

func (d deleter) close() { closeAll(d.stmts) }

// delete marks r, whose last version is seq, deleted at time at: a version
// with Deleted set, r as its Resource and a Diff that removes the whole
// document; r's unresolved results (whatever their status, which is kept)
// are resolved at at. It returns the version and, when the deleter was made
// for them, the transitions of the fail and error results it resolved.
func (d deleter) delete(ctx context.Context, scanID string, at time.Time, o origin, r vigil.Resource, seq int) (vigil.Version, []vigil.Transition, error) {
	ts := formatTime(at)
	var trs []vigil.Transition
	if d.open != nil {
		open, err := queryResults(ctx, d.open, r.UID)
		if err != nil {
			return vigil.Version{}, nil, fmt.Errorf("open results: %w", err)
		}
		for _, res := range open {
			res.ResolvedAt = &at
			trs = append(trs, vigil.Transition{Result: res, From: res.Status, Resolved: true})
		}
	}
	diff := jsondiff.Diff(document(r.Name, r.Tags, r.Properties, r.ReadErrors), map[string]any{})
	doc, err := marshal(r)
	if err != nil {
		return vigil.Version{}, nil, err
	}
	diffJSON, err := marshal(diff)
	if err != nil {
		return vigil.Version{}, nil, err
	}
	if _, err := d.version.ExecContext(ctx, r.UID, seq+1, r.Hash, ts, scanID, o.actor, o.json, true, doc, diffJSON); err != nil {
		return vigil.Version{}, nil, fmt.Errorf("version %d: %w", seq+1, err)
	}
	if _, err := d.del.ExecContext(ctx, ts, r.UID); err != nil {
		return vigil.Version{}, nil, err
	}
	if _, err := d.resolve.ExecContext(ctx, ts, r.UID); err != nil {
		return vigil.Version{}, nil, fmt.Errorf("resolve results: %w", err)
	}
	v := vigil.Version{UID: r.UID, Seq: seq + 1, Hash: r.Hash, ObservedAt: at, ScanID: scanID,
		Actor: o.actor, Cause: o.cause, Deleted: true, Resource: r, Diff: diff}
	return v, trs, nil
}

// findGone reads the resources that Sweep deletes in one scope, with their
// last version numbers, before any of them is changed.
func findGone(ctx context.Context, find *sql.Stmt, scanID, before string, sc vigil.Scope) ([]vigil.Resource, []int, error) {
	rows, err := find.QueryContext(ctx, sc.Account, sc.Type, sc.Region, sc.Region, scanID, before)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var rs []vigil.Resource
	var seqs []int
	for rows.Next() {
		var seq int
		r, err := scanResource(rows, &seq)
		if err != nil {
			return nil, nil, err
		}
		rs = append(rs, r)
		seqs = append(seqs, seq)
	}
	return rs, seqs, rows.Err()
}

// Resource returns the current state of the resource uid, also when it is
// deleted; an unknown uid is an ENOTFOUND error.
func (s *Store) Resource(ctx context.Context, uid string) (vigil.Resource, error) {
	r, err := scanResource(s.r.QueryRowContext(ctx, `SELECT `+resourceCols+` FROM resources WHERE uid = ?`, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return vigil.Resource{}, vigil.Errorf(vigil.ENOTFOUND, "resource %s not found", uid)
	}
	if err != nil {
		return vigil.Resource{}, fmt.Errorf("resource %s: %w", uid, err)
	}
	return r, nil
}

// Resources lists the resources that are not deleted and match f, ordered by
// type and uid, at most f.Limit of them when it is positive.
func (s *Store) Resources(ctx context.Context, f vigil.ResourceFilter) ([]vigil.Resource, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + resourceCols + ` FROM resources WHERE deleted_at IS NULL`)
	var args []any
	for _, c := range []struct{ col, val string }{{"account", f.Account}, {"region", f.Region}, {"type", f.Type}} {
		if c.val != "" {
			q.WriteString(" AND " + c.col + " = ?")
			args = append(args, c.val)
		}
	}
	q.WriteString(" ORDER BY type, uid")
	if f.Limit > 0 {
		q.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	defer rows.Close()
	var rs []vigil.Resource
	for rows.Next() {
		r, err := scanResource(rows)
		if err != nil {
			return nil, fmt.Errorf("resources: %w", err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("resources: %w", err)
	}
	return rs, nil
}

// Versions returns the versions of the resource uid, oldest first; an
// unknown uid is an ENOTFOUND error.
func (s *Store) Versions(ctx context.Context, uid string) ([]vigil.Version, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+versionCols+` FROM resource_versions WHERE uid = ? ORDER BY seq`, uid)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", uid, err)
	}
	vs, err := scanVersions(rows)
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", uid, err)
	}
	if len(vs) == 0 {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "resource %s not found", uid)
	}
	return vs, nil
}

// versionCols are the columns scanVersions reads, in order.
const versionCols = `uid, seq, hash, observed_at, scan_id, actor, cause, deleted, resource, diff`

// scanVersions reads and closes rows of versionCols.
func scanVersions(rows *sql.Rows) ([]vigil.Version, error) {
	defer rows.Close()
	var vs []vigil.Version
	for rows.Next() {
		var v vigil.Version
		var observed, doc, diff string
		var cause sql.NullString
		if err := rows.Scan(&v.UID, &v.Seq, &v.Hash, &observed, &v.ScanID, &v.Actor, &cause, &v.Deleted, &doc, &diff); err != nil {
			return nil, err
		}
		var err error
		if v.ObservedAt, err = parseTime(observed); err != nil {
			return nil, err
		}
		if cause.Valid {
			v.Cause = new(vigil.Cause)
			if err := unmarshal(cause.String, v.Cause); err != nil {
				return nil, err
			}
		}
		if err := unmarshal(doc, &v.Resource); err != nil {
			return nil, err
		}
		if err := unmarshal(diff, &v.Diff); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}
