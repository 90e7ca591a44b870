//go:build unix

package deliverylog_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
)

// processCPU is the CPU time this process has used, user and system, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// sesServer answers every SendEmail at once with a MessageId of its own.
func sesServer(b *testing.B) string {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"MessageId":"bench-%d"}`, n.Add(1))
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkRecording is what recording costs a send: the connector with the real SDK client
// and an SES endpoint in this process, without a log, with a log in PostgreSQL and with one in
// SQLite, in rounds of 256 sends each in rotating order. A round with a log ends when its
// writer has written the round, so the CPU of a side includes its writer's; the wall time is
// the sends' own, what a user waits. PostgreSQL's own CPU is another process's, not counted.
// Run it long: go test -run '^$' -bench Recording -benchtime 40x
func BenchmarkRecording(b *testing.B) {
	endpoint := sesServer(b)
	logs := []*deliverylog.Log{nil, open(b, newPostgres(b)), open(b, newSQLite(b))}
	names := []string{"off", "postgres", "sqlite"}
	conns := make([]*sesconnector.Connector, len(logs))
	for i, l := range logs {
		var opts []sesconnector.Option
		if l != nil {
			opts = append(opts, sesconnector.WithObserver(l.Observer()))
		}
		c, err := sesconnector.New(context.Background(), testConfig(), append(opts, sesconnector.WithEndpoint(endpoint))...)
		require.NoError(b, err)
		conns[i] = c
	}
	const perRound = 256
	var wall, cpu [3]time.Duration
	round := 0
	for b.Loop() {
		for i := range conns {
			side := (i + round) % len(conns)
			startCPU, start := processCPU(), time.Now()
			for j := range perRound {
				_, err := conns[side].SendMessage(context.Background(), fmt.Sprintf("user%d@example.com", j), sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
				require.NoError(b, err)
			}
			wall[side] += time.Since(start)
			if logs[side] != nil {
				require.NoError(b, deliverylog.Flush(context.Background(), logs[side]))
			}
			cpu[side] += time.Duration(processCPU() - startCPU)
		}
		round++
	}
	sends := time.Duration(round * perRound)
	for i, name := range names {
		b.ReportMetric(float64(wall[i]/sends)/1e3, name+"-µs/send")
		b.ReportMetric(float64(cpu[i]/sends)/1e3, name+"-µs-CPU/send")
		if logs[i] != nil {
			require.Zero(b, logs[i].Dropped())
			b.ReportMetric(float64(wall[i])/float64(wall[0]), name+"/off-wall")
			b.ReportMetric(float64(cpu[i])/float64(cpu[0]), name+"/off-CPU")
		}
	}
}

// BenchmarkWritePostgres is the writer's sustained rate into PostgreSQL: 20,000 sends
// recorded at once (the Observer called directly, as fast as it can be), then written.
func BenchmarkWritePostgres(b *testing.B) {
	const records = 20_000
	l := open(b, newPostgres(b), deliverylog.WithQueue(records))
	o := l.Observer()
	n := 0
	for b.Loop() {
		start := time.Now()
		for range records {
			n++
			o.SendDone(context.Background(), sesconnector.SendInfo{Usage: sesconnector.UsageSignIn, To: fmt.Sprintf("user%d@example.com", n)},
				sesconnector.SendResult{MessageID: "w-" + strconv.Itoa(n), Template: "templates[0]", Region: "us-east-1", Outcome: sesconnector.OutcomeSent})
		}
		require.NoError(b, deliverylog.Flush(context.Background(), l))
		b.ReportMetric(records/time.Since(start).Seconds(), "records/s")
	}
	require.Zero(b, l.Dropped())
}

// BenchmarkLookup is ByAddress among 1,000,000 messages with 1,000,000 events (100,000
// addresses, ten messages each, and the address looked up): the p50 and p99 of 2,000 look-ups.
func BenchmarkLookup(b *testing.B) {
	for _, store := range stores {
		b.Run(store.name, func(b *testing.B) {
			dsn := store.dsn(b)
			l := open(b, dsn)
			fill(b, dsn)
			o := l.Observer()
			for i := range 10 {
				o.SendDone(context.Background(), sesconnector.SendInfo{Usage: sesconnector.UsageSignIn, To: "jane@example.com"},
					sesconnector.SendResult{MessageID: "jane-" + strconv.Itoa(i), Outcome: sesconnector.OutcomeSent})
			}
			require.NoError(b, deliverylog.Flush(context.Background(), l))
			for b.Loop() {
				took := make([]time.Duration, 2000)
				for i := range took {
					start := time.Now()
					got, err := l.ByAddress(context.Background(), "jane@example.com", 20)
					took[i] = time.Since(start)
					require.NoError(b, err)
					require.Len(b, got, 10)
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
				b.ReportMetric(float64(took[len(took)*99/100])/1e6, "p99-ms")
			}
		})
	}
}

// fill writes 1,000,000 messages and an event for each, in the database itself.
func fill(b *testing.B, dsn string) {
	b.Helper()
	series := "generate_series(1, 1000000) AS s(i)"
	hash := "md5('a' || (i % 100000)::text) || md5((i % 100000)::text)"
	if _, ok := cutSQLite(dsn); ok {
		series = "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 1000000) SELECT i FROM s)"
		hash = "printf('%064x', i % 100000)"
	}
	db := openSQL(b, dsn)
	defer db.Close()
	now := time.Now().UnixMicro()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO deliverylog_messages SELECT 'm' || i, %s, 'a***@example.com', 'SignIn', '', 'templates[0]', 'us-east-1', 'sent', '', %d - i FROM %s`, hash, now, series),
		fmt.Sprintf(`INSERT INTO deliverylog_events SELECT 'm' || i, 'Delivery', %d - i, '', '', '250 ok' FROM %s`, now, series),
		"ANALYZE",
	} {
		_, err := db.Exec(q)
		require.NoError(b, err)
	}
}
