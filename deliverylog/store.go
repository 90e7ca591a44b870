package deliverylog

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go
)

// dialect is what differs between the two databases.
type dialect struct {
	name     string
	driver   string
	numbered bool // placeholders are $1, $2 ... (PostgreSQL), not ? (SQLite)
	// rowsPerInsert is the rows of one INSERT: many for PostgreSQL (a round trip each); for
	// SQLite one, in a statement prepared once (prepare), which runs fastest in the process.
	rowsPerInsert int
	prepare       bool
	lock          string // taken inside the migration's transaction, so that replicas migrate one at a time
	maxConns      int
	idleConns     int
}

var (
	postgres = dialect{name: "PostgreSQL", driver: "pgx", numbered: true, rowsPerInsert: 200, lock: "SELECT pg_advisory_xact_lock(7346529015)", maxConns: 8, idleConns: 4}
	sqlite   = dialect{name: "SQLite", driver: "sqlite", rowsPerInsert: 1, prepare: true, maxConns: 4, idleConns: 4}
)

// parseDSN tells the database from dsn and returns the driver's DSN. Its errors never quote
// more than the scheme: a DSN may hold a password.
func parseDSN(dsn string) (dialect, string, error) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres, dsn, nil
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" || strings.HasPrefix(path, ":memory:") || strings.Contains(path, "mode=memory") {
			return dialect{}, "", fmt.Errorf("DSN %q: give a file, sqlite:path/to/log.db (a database in memory is not shared by the log's connections)", dsn)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		// WAL lets look-ups read while the writer writes; _txlock=immediate takes the write
		// lock at BEGIN, so that two writers wait for each other instead of failing.
		return sqlite, "file:" + path + sep + "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate", nil
	}
	scheme, _, found := strings.Cut(dsn, ":")
	if !found || len(scheme) > 16 {
		scheme = "…"
	}
	return dialect{}, "", fmt.Errorf("DSN starting %q: give postgres://user@host/database or sqlite:path/to/log.db", scheme+":")
}

func (d dialect) configure(db *sql.DB) {
	db.SetMaxOpenConns(d.maxConns)
	db.SetMaxIdleConns(d.idleConns)
}

// q writes a query's ? placeholders as the dialect wants them.
func (d dialect) q(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

//go:embed migrations/*.sql
var migrations embed.FS

// migrate applies the migrations not applied yet, in their order, in one transaction.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	err := func() error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
		if d.lock != "" {
			if _, err := tx.ExecContext(ctx, d.lock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS deliverylog_migrations (version INTEGER PRIMARY KEY)"); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := tx.QueryContext(ctx, "SELECT version FROM deliverylog_migrations")
		if err != nil {
			return err
		}
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
		}
		if err := rows.Close(); err != nil {
			return err
		}
		names, err := fs.Glob(migrations, "migrations/*.sql")
		if err != nil {
			return err
		}
		slices.Sort(names)
		for _, name := range names {
			v, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
			if applied[v] {
				continue
			}
			text, _ := migrations.ReadFile(name)
			for _, stmt := range statements(string(text)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			if _, err := tx.ExecContext(ctx, d.q("INSERT INTO deliverylog_migrations (version) VALUES (?)"), v); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("deliverylog: applying the schema to %s: %w", d.name, err)
	}
	return nil
}

// statements splits a migration at the semicolons that end its lines, leaving out comments.
func statements(text string) []string {
	var out []string
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			out = append(out, strings.TrimSpace(b.String()))
			b.Reset()
		}
	}
	return out
}

// sendRow is a send as stored.
type sendRow struct {
	id, hash, masked, usage, locale, template, region, outcome, err string
	at                                                              int64
}

// insert writes sends and events in one transaction; rows already there are left as they are.
func (d dialect) insert(ctx context.Context, db *sql.DB, sends []sendRow, events []*eventRecord) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	err = d.insertAll(ctx, tx, "deliverylog_messages (id, address_hash, masked, usage_type, locale, template, region, outcome, error, at)", 10, len(sends),
		func(i int, args []any) []any {
			s := sends[i]
			return append(args, s.id, s.hash, s.masked, s.usage, s.locale, s.template, s.region, s.outcome, s.err, s.at)
		})
	if err != nil {
		return err
	}
	err = d.insertAll(ctx, tx, "deliverylog_events (message_id, type, at, bounce_type, bounce_subtype, diagnostic)", 6, len(events),
		func(i int, args []any) []any {
			e := events[i]
			return append(args, e.messageID, e.typ, e.at.UnixMicro(), e.bounceType, e.bounceSubType, e.diagnostic)
		})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// insertAll writes n rows of k columns into table, the dialect's rowsPerInsert to a statement.
// SQLite's statement is prepared once, sparing the parsing; pgx keeps PostgreSQL's prepared
// by their text itself, and a statement prepared per transaction would cost round trips.
func (d dialect) insertAll(ctx context.Context, tx *sql.Tx, table string, k, n int, row func(i int, args []any) []any) error {
	var stmt *sql.Stmt
	if d.prepare && n > 0 {
		var err error
		if stmt, err = tx.PrepareContext(ctx, d.insertQuery(table, 1, k)); err != nil {
			return err
		}
		defer stmt.Close()
	}
	args := make([]any, 0, min(n, d.rowsPerInsert)*k)
	for start := 0; start < n; start += d.rowsPerInsert {
		rows := min(d.rowsPerInsert, n-start)
		args = args[:0]
		for i := start; i < start+rows; i++ {
			args = row(i, args)
		}
		var err error
		if stmt != nil {
			_, err = stmt.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, d.insertQuery(table, rows, k), args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// insertQuery is the INSERT of n rows of k columns into table, made once for each size.
func (d dialect) insertQuery(table string, n, k int) string {
	type size struct {
		numbered bool
		table    string
		n        int
	}
	key := size{d.numbered, table, n}
	if q, ok := insertQueries.Load(key); ok {
		return q.(string)
	}
	group := "(" + strings.Repeat("?, ", k-1) + "?)"
	q := d.q("INSERT INTO " + table + " VALUES " + strings.Repeat(group+", ", n-1) + group + " ON CONFLICT DO NOTHING")
	insertQueries.Store(key, q)
	return q
}

// insertQueries holds the INSERTs made so far: a few sizes of each.
var insertQueries sync.Map
