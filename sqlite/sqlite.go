// Package sqlite implements vigil.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go): the default store, with no setup.
//
// The database runs in WAL mode with one writer connection, so that writes
// are serialised inside the process and never fail with SQLITE_BUSY against
// each other, and a pool of read-only connections that read while a write is
// in progress. Times are stored as RFC 3339 UTC text with nine fractional
// digits and JSON documents as text.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilsec/vigil"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is a vigil.Store backed by one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	w   *sql.DB // the single writer connection
	r   *sql.DB // the read-only pool
	now func() time.Time

	mu     sync.Mutex // guards outbox
	outbox func(tx *sql.Tx) vigil.Outbox
}

var _ vigil.Store = (*Store)(nil)

// Connection parameters. Writes take the lock when their transaction begins
// (_txlock=immediate), so a transaction never fails half-way upgrading a read
// lock; busy_timeout covers another process holding it. synchronous=NORMAL
// is durable in WAL mode except for the last commits on power loss.
const (
	writerParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	readerParams = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

// Open opens the database file at path, creating it and its parent directory
// if needed, and applies the pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, vigil.Errorf(vigil.EINVALID, "open store: invalid database path %q (want a file path)", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w, err := sql.Open("sqlite", path+"?"+writerParams)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// The reader opens after the writer has switched the file to WAL mode.
	r, err := sql.Open("sqlite", path+"?"+readerParams)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{w: w, r: r, now: time.Now}, nil
}

// Close closes the database connections.
func (s *Store) Close() error {
	if err := errors.Join(s.r.Close(), s.w.Close()); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// DefaultPath returns where the database lives unless configured otherwise:
// $XDG_DATA_HOME/vigil/vigil.db, or ~/.local/share/vigil/vigil.db when
// XDG_DATA_HOME is unset or relative (as the XDG spec requires), or vigil.db
// in the working directory when the home directory is unknown.
func DefaultPath() string {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "vigil", "vigil.db")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "vigil.db"
	}
	return filepath.Join(home, ".local", "share", "vigil", "vigil.db")
}

//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	file    string
}

// migrationList returns the embedded migrations ordered by version.
func migrationList() ([]migration, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migration %s: name is not NNN_name.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		ms = append(ms, migration{version: v, name: name, file: "migrations/" + e.Name()})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrate applies, each in its own transaction, the migrations not yet
// recorded in schema_migrations. Checking inside the transaction makes two
// processes opening a new database at once safe: the second one waits for
// the first one's lock and then finds the migration applied.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := migrationList()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var latest int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(ms) > 0 && latest > ms[len(ms)-1].version {
		return fmt.Errorf("migrate: database schema version %d is newer than this vigil's %d", latest, ms[len(ms)-1].version)
	}
	for _, m := range ms {
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil || n > 0 {
				return err
			}
			script, err := fs.ReadFile(migrations, m.file)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(script)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, formatTime(time.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %03d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// inTx runs fn in a transaction on db, committing if fn succeeds.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// timeFormat is RFC 3339 with a fixed nine fractional digits: unlike
// time.RFC3339Nano, which trims trailing zeros, it sorts as text in time
// order, and time.RFC3339Nano still parses it.
const timeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// formatTimePtr returns nil (SQL NULL) for a nil time.
func formatTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse time %q: %w", s, err)
	}
	return t, nil
}

func parseTimePtr(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// marshal encodes v as JSON text.
func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// unmarshal decodes the JSON text s into v.
func unmarshal(s string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// DB returns the store's single writer connection, for packages that keep
// their own tables in the same database file and must write in the same
// transactions as the store (the River job queue's outbox). A transaction
// begun on it holds the only write connection until it ends.
func (s *Store) DB() *sql.DB { return s.w }
