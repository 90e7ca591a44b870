package deliverylog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// Forget erases an address's messages and their events, the one just sent included (it writes
// what is queued first), and nothing of another address.
func TestForget(t *testing.T) {
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			l := open(t, store.dsn(t))
			ses := sestest.New(t)
			conn := connector(t, l, ses.URL)
			h := l.Feedback(nil)
			for i := range 3 {
				for _, to := range []string{"jane@example.com", "joe@example.com"} {
					id, err := conn.SendMessage(context.Background(), to, sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
					require.NoError(t, err)
					require.NoError(t, h(context.Background(), &feedback.Event{Type: feedback.TypeDelivery, MessageID: id, Timestamp: time.Unix(int64(i), 0)}))
				}
			}
			n, err := l.Forget(context.Background(), "JANE@example.com")
			require.NoError(t, err)
			assert.Equal(t, 6, n, "3 messages and their 3 events")
			gone, err := l.ByAddress(context.Background(), "jane@example.com", 10)
			require.NoError(t, err)
			assert.Empty(t, gone)
			kept, err := l.ByAddress(context.Background(), "joe@example.com", 10)
			require.NoError(t, err)
			assert.Len(t, kept, 3)
			for _, m := range kept {
				assert.Len(t, m.Events, 1)
			}
			n, err = l.Forget(context.Background(), "jane@example.com")
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
}

// Rows older than the retention are swept when the log opens (and every hour, or a quarter of
// the retention, after).
func TestRetention(t *testing.T) {
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			dsn := store.dsn(t)
			l := open(t, dsn, deliverylog.WithRetention(48*time.Hour))
			ses := sestest.New(t)
			conn := connector(t, l, ses.URL)
			_, err := conn.SendMessage(context.Background(), "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
			require.NoError(t, err)
			h := l.Feedback(nil)
			require.NoError(t, h(context.Background(), &feedback.Event{Type: feedback.TypeDelivery, MessageID: "sestest-1", Timestamp: time.Now().Add(-72 * time.Hour)}))
			require.NoError(t, h(context.Background(), &feedback.Event{Type: feedback.TypeSend, MessageID: "sestest-1", Timestamp: time.Now()}))
			require.NoError(t, l.Close(context.Background()))
			ageMessages(t, dsn, "UPDATE deliverylog_messages SET id = 'old', at = at - 3 * 86400000000")
			_, err = conn.SendMessage(context.Background(), "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
			require.NoError(t, err, "a closed log costs the send nothing")

			l = open(t, dsn, deliverylog.WithRetention(48*time.Hour))
			got, err := l.ByAddress(context.Background(), "jane@example.com", 10)
			require.NoError(t, err)
			assert.Empty(t, got, "the message three days old is swept")
			text := allText(t, dsn)
			assert.Equal(t, 1, strings.Count(text, "\n"), "one row left: the event of today; got %q", text)
			assert.Contains(t, text, "Send")
		})
	}
}

// ageMessages runs an UPDATE on the log's database.
func ageMessages(t *testing.T, dsn, update string) {
	t.Helper()
	db := openSQL(t, dsn)
	defer db.Close()
	_, err := db.Exec(update)
	require.NoError(t, err)
}

// Every bad option, DSN or look-up is an error errors.Is can match, saying what to do; a DSN's
// password is never quoted.
func TestErrors(t *testing.T) {
	key := deliverylog.WithAddressKey(testKey)
	for _, tc := range []struct {
		name string
		dsn  string
		opts []deliverylog.Option
		want string
	}{
		{"no key", "sqlite:x.db", nil, "WithAddressKey is required"},
		{"short key", "sqlite:x.db", []deliverylog.Option{deliverylog.WithAddressKey([]byte("short"))}, "the key has 5 bytes; give at least 32"},
		{"unknown scheme", "mysql://root:hunter2@db/x", []deliverylog.Option{key}, `DSN starting "mysql:": give postgres://user@host/database or sqlite:path/to/log.db`},
		{"no scheme", "hunter2", []deliverylog.Option{key}, `DSN starting "…:"`},
		{"memory", "sqlite::memory:", []deliverylog.Option{key}, "give a file"},
		{"empty sqlite", "sqlite:", []deliverylog.Option{key}, "give a file"},
		{"queue", "sqlite:x.db", []deliverylog.Option{key, deliverylog.WithQueue(0)}, "WithQueue(0): give a queue of at least 1 record"},
		{"retention", "sqlite:x.db", []deliverylog.Option{key, deliverylog.WithRetention(time.Minute)}, "WithRetention(1m0s): keep rows for an hour or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := deliverylog.Open(context.Background(), tc.dsn, tc.opts...)
			require.ErrorIs(t, err, sesconnector.ErrInvalidConfig)
			assert.Nil(t, l)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}

	l := open(t, newSQLite(t))
	for name, call := range map[string]func() error{
		"ByAddress empty":   func() error { _, err := l.ByAddress(context.Background(), " ", 1); return err },
		"ByAddress limit 0": func() error { _, err := l.ByAddress(context.Background(), "jane@example.com", 0); return err },
		"ByAddress limit": func() error {
			_, err := l.ByAddress(context.Background(), "jane@example.com", deliverylog.MaxLimit+1)
			return err
		},
		"ByMessageID empty": func() error { _, err := l.ByMessageID(context.Background(), ""); return err },
		"Forget empty":      func() error { _, err := l.Forget(context.Background(), ""); return err },
	} {
		assert.ErrorIs(t, call(), sesconnector.ErrInvalidParameters, name)
	}
	_, err := l.ByMessageID(context.Background(), "0100018c-unknown")
	assert.ErrorIs(t, err, deliverylog.ErrNotFound)
	assert.EqualError(t, err, `deliverylog: no such message: "0100018c-unknown"`)

	require.NoError(t, l.Close(context.Background()))
	require.NoError(t, l.Close(context.Background()), "twice is fine")
	_, err = l.ByAddress(context.Background(), "jane@example.com", 1)
	assert.ErrorIs(t, err, deliverylog.ErrClosed)
	_, err = l.Forget(context.Background(), "jane@example.com")
	assert.ErrorIs(t, err, deliverylog.ErrClosed)
}

// A database that cannot be reached is Open's error, naming it.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := deliverylog.Open(ctx, "postgres://postgres:hunter2@127.0.0.1:1/x?sslmode=disable", deliverylog.WithAddressKey(testKey))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "deliverylog: applying the schema to PostgreSQL")
	assert.NotContains(t, err.Error(), "hunter2")
}
