package deliverylog_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/pgtest"
)

// count is the number of rows in a table of the log's database.
func count(t testing.TB, dsn, table string) int {
	t.Helper()
	db := openSQL(t, dsn)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM "+table).Scan(&n))
	return n
}

// phase is what the senders saw while the database was in one state.
type phase struct {
	name      string
	durations []time.Duration
	errors    int
}

func (p *phase) quantile(q float64) time.Duration {
	slices.Sort(p.durations)
	return p.durations[int(q*float64(len(p.durations)-1))]
}

// PostgreSQL hung (every process stopped: connections taken, nothing answered) for 2 s, then
// stopped for 2 s and started again, under sends: the sends go on with no error and no added
// latency (they only queue), the queue fills and counts what it drops, rows resume within 5 s
// of the database's return, and every send is either a row or counted as dropped — never
// both, never neither.
func TestPostgresStoppedAndStarted(t *testing.T) {
	srv := pgtest.StartForTest(t)
	dsn := createDatabase(t, srv)
	l := open(t, dsn, deliverylog.WithQueue(500))
	conn := inProcessConnector(t, l, "fault")

	var mu sync.Mutex
	current := &phase{name: "up"}
	phases := []*phase{current}
	sends := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				mu.Lock()
				p := current // the phase a send began in is the one it counts for
				mu.Unlock()
				start := time.Now()
				_, err := conn.SendMessage(context.Background(), fmt.Sprintf("user%d-%d@example.com", w, i), sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
				d := time.Since(start)
				mu.Lock()
				sends++
				p.durations = append(p.durations, d)
				if err != nil {
					p.errors++
				}
				mu.Unlock()
			}
		}()
	}
	enter := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		current = &phase{name: name}
		phases = append(phases, current)
	}

	time.Sleep(time.Second)
	require.NoError(t, srv.Hang())
	enter("hung")
	time.Sleep(2 * time.Second)
	require.NoError(t, srv.Resume())
	enter("resumed")
	time.Sleep(time.Second)
	srv.Stop()
	enter("down")
	time.Sleep(2 * time.Second)
	require.NoError(t, srv.Restart(context.Background()))
	back := time.Now()
	enter("back")
	before := count(t, dsn, "deliverylog_messages")
	eventually(t, 5*time.Second-time.Since(back), func() bool { return count(t, dsn, "deliverylog_messages") > before },
		"rows written again within 5 s of the database's return")
	resumed := time.Since(back)
	// And a send made after that is recorded.
	id, err := conn.SendMessage(context.Background(), "marker@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
	require.NoError(t, err)
	eventually(t, 5*time.Second, func() bool {
		_, err := l.ByMessageID(context.Background(), id)
		return err == nil
	}, "a send recorded after the database came back")
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, l.Close(ctx))

	for _, p := range phases {
		assert.Zero(t, p.errors, "%s: send errors", p.name)
		require.NotEmpty(t, p.durations, p.name)
		t.Logf("%s: %d sends, p50 %v, p99 %v, max %v", p.name, len(p.durations), p.quantile(0.5), p.quantile(0.99), p.quantile(1))
	}
	up := phases[0]
	for _, p := range phases[1:] {
		assert.Less(t, p.quantile(1), time.Second, "%s: no send waited on the database (a blocking send would wait out the 2 s hang)", p.name)
		assert.LessOrEqual(t, p.quantile(0.5), 3*up.quantile(0.5)+time.Millisecond, "%s: no added latency", p.name)
	}
	rows := count(t, dsn, "deliverylog_messages")
	dropped := int(l.Dropped())
	t.Logf("%d sends: %d rows, %d dropped; rows resumed %v after the database came back", sends+1, rows, dropped, resumed.Round(time.Millisecond))
	assert.Positive(t, dropped, "the queue of 500 filled while the database was down")
	assert.Equal(t, sends+1, rows+dropped, "every send is a row or counted as dropped")
}

// Four replicas, each with its own log on one PostgreSQL (opened at once: the schema is
// applied once), send to their own users and to one shared address; each message's Delivery
// event reaches another replica, and its redelivery a third. Every message is stored once,
// every event once, and any replica sees the shared address's whole history.
func TestFourReplicas(t *testing.T) {
	dsn := newPostgres(t)
	const replicas, perReplica, shared = 4, 250, 10
	logs := make([]*deliverylog.Log, replicas)
	var wg sync.WaitGroup
	for i := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			logs[i], err = deliverylog.Open(context.Background(), dsn, deliverylog.WithAddressKey(testKey))
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for _, l := range logs {
		require.NotNil(t, l)
	}
	ids := make([][]string, replicas)
	for i, l := range logs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := inProcessConnector(t, l, fmt.Sprint("replica", i))
			for j := range perReplica + shared {
				to := fmt.Sprintf("user%d-%d@example.com", i, j)
				if j >= perReplica {
					to = "shared@example.com"
				}
				id, err := conn.SendMessage(context.Background(), to, sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
				assert.NoError(t, err)
				ids[i] = append(ids[i], id)
			}
		}()
	}
	wg.Wait()
	for i := range logs {
		for _, id := range ids[i] {
			e := &feedback.Event{Type: feedback.TypeDelivery, MessageID: id, Timestamp: time.Now()}
			require.NoError(t, logs[(i+1)%replicas].Feedback(nil)(context.Background(), e))
			require.NoError(t, logs[(i+2)%replicas].Feedback(nil)(context.Background(), e))
		}
	}
	for _, l := range logs {
		require.NoError(t, l.Close(context.Background()))
		assert.Zero(t, l.Dropped())
	}

	total := replicas * (perReplica + shared)
	assert.Equal(t, total, count(t, dsn, "deliverylog_messages"))
	assert.Equal(t, total, count(t, dsn, "deliverylog_events"), "a redelivered event is stored once")
	assert.Equal(t, 1, count(t, dsn, "deliverylog_migrations"))
	l := open(t, dsn)
	history, err := l.ByAddress(context.Background(), "shared@example.com", 100)
	require.NoError(t, err)
	assert.Len(t, history, replicas*shared)
	for _, m := range history {
		assert.Len(t, m.Events, 1, m.MessageID)
	}
}

// Close gives up when its context ends with the database gone: it says so, and what it could
// not write is counted as dropped, not lost silently.
func TestCloseGivesUpWithTheDatabaseGone(t *testing.T) {
	srv := pgtest.StartForTest(t)
	l, err := deliverylog.Open(context.Background(), createDatabase(t, srv), deliverylog.WithAddressKey(testKey))
	require.NoError(t, err)
	srv.Stop()
	conn := inProcessConnector(t, l, "gone")
	for i := range 10 {
		_, err := conn.SendMessage(context.Background(), fmt.Sprintf("user%d@example.com", i), sesconnector.UsageSignIn, sesconnector.Payload{"code": "1"})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = l.Close(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "deliverylog: closing before everything queued was written")
	assert.Equal(t, uint64(10), l.Dropped())
}
