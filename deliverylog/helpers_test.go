package deliverylog_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/internal/childproc"
	"github.com/sesconnector/sesconnector/internal/pgtest"
)

// testKey is a made-up address key of the required length.
var testKey = []byte("test-only-address-key-0123456789abcdef")

// pg is one PostgreSQL server for the package's tests, each in a database of its own; the
// fault tests start their own.
var (
	pg    *pgtest.Server
	pgErr error
)

func TestMain(m *testing.M) {
	pg, pgErr = pgtest.Start(context.Background())
	code := m.Run()
	if pg != nil {
		pg.Close()
	}
	os.Exit(code)
}

var databases atomic.Int64

// newPostgres returns the DSN of a new, empty database on the package's server.
func newPostgres(t testing.TB) string {
	t.Helper()
	if pgErr != nil {
		childproc.Need(t, pgErr, pgtest.Install)
	}
	return createDatabase(t, pg)
}

// createDatabase makes a new database on s and returns its DSN.
func createDatabase(t testing.TB, s *pgtest.Server) string {
	t.Helper()
	admin, err := sql.Open("pgx", s.DSN("postgres"))
	require.NoError(t, err)
	defer admin.Close()
	name := fmt.Sprintf("deliverylog_%d", databases.Add(1))
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	return s.DSN(name)
}

// newSQLite returns the DSN of a new SQLite file.
func newSQLite(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "log.db")
}

// stores are the two databases every behaviour is tested on.
var stores = []struct {
	name string
	dsn  func(testing.TB) string
}{
	{"PostgreSQL", newPostgres},
	{"SQLite", newSQLite},
}

// open opens a log that is closed when the test ends.
func open(t testing.TB, dsn string, opts ...deliverylog.Option) *deliverylog.Log {
	t.Helper()
	l, err := deliverylog.Open(context.Background(), dsn, append([]deliverylog.Option{deliverylog.WithAddressKey(testKey)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// testConfig sends SignIn and Generic codes from a made-up account.
func testConfig() *sesconnector.Config {
	return &sesconnector.Config{
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AccessKeySecret: "fake-secret-key-for-tests", Region: "us-east-1",
		EmailAddress: "noreply@example.com",
		Templates:    []sesconnector.Template{{UsageType: sesconnector.UsageGeneric, Subject: "Code {{code}}", Content: "<p>{{code}}</p>"}},
	}
}

// inProcessConnector sends through an in-process client and records every send in l.
func inProcessConnector(t testing.TB, l *deliverylog.Log, prefix string) *sesconnector.Connector {
	t.Helper()
	c, err := sesconnector.New(context.Background(), testConfig(), sesconnector.WithClient(&inProcess{prefix: prefix}), sesconnector.WithObserver(l.Observer()))
	require.NoError(t, err)
	return c
}

// connector sends through an SES endpoint and records every send in l.
func connector(t testing.TB, l *deliverylog.Log, endpoint string) *sesconnector.Connector {
	t.Helper()
	c, err := sesconnector.New(context.Background(), testConfig(), sesconnector.WithEndpoint(endpoint), sesconnector.WithObserver(l.Observer()))
	require.NoError(t, err)
	return c
}

// inProcess is an SES client that answers at once with MessageIds prefix-1, prefix-2, ...
type inProcess struct {
	prefix string
	n      atomic.Int64
}

func (c *inProcess) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	id := fmt.Sprintf("%s-%d", c.prefix, c.n.Add(1))
	return &sesv2.SendEmailOutput{MessageId: &id}, nil
}

// eventually polls cond every 20 ms until it holds or within passes.
func eventually(t testing.TB, within time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allText is every text stored in the log's tables, for the privacy checks.
func allText(t testing.TB, dsn string) string {
	t.Helper()
	db := openSQL(t, dsn)
	defer db.Close()
	var b strings.Builder
	for _, table := range []string{"deliverylog_messages", "deliverylog_events"} {
		rows, err := db.Query("SELECT * FROM " + table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintln(&b, vals...)
		}
		require.NoError(t, rows.Close())
	}
	return b.String()
}

// cutSQLite is the file of a sqlite: DSN.
func cutSQLite(dsn string) (string, bool) { return strings.CutPrefix(dsn, "sqlite:") }

// openSQL opens the log's database directly, for what the tests check or prepare in it.
func openSQL(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	driver, source := "pgx", dsn
	if path, ok := cutSQLite(dsn); ok {
		driver, source = "sqlite", path
	}
	db, err := sql.Open(driver, source)
	require.NoError(t, err)
	return db
}
