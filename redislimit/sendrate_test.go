package redislimit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/redistest"
	"github.com/sesconnector/sesconnector/redislimit"
)

// arrivals is an SES-shaped sink that answers SendEmail and notes when each arrived.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
	_, _ = io.WriteString(w, `{"MessageId":"sink"}`)
}

// busiest is the most arrivals in any window of one second.
func (a *arrivals) busiest() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ts := slices.Clone(a.times)
	slices.SortFunc(ts, func(x, y time.Time) int { return x.Compare(y) })
	most, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most, len(ts)
}

// Four replicas, each its own Connector and Redis client, sending as fast as they can through
// one shared schedule at 50/s for 5 s: no second at the sink carries over 51.
func TestSharedSendRateAcrossReplicas(t *testing.T) {
	srv := redistest.StartForTest(t)
	sink := &arrivals{}
	ses := httptest.NewServer(sink)
	defer ses.Close()
	cfg := config()
	cfg.AccessKeyID, cfg.AccessKeySecret = "AKIAIOSFODNN7EXAMPLE", "fake-secret-for-redislimit"
	var replicas []*sesconnector.Connector
	for range 4 {
		opts, err := redislimit.Options("redis://" + srv.Addr + "/0")
		require.NoError(t, err)
		rdb := redis.NewClient(opts)
		t.Cleanup(func() { rdb.Close() })
		c, err := sesconnector.New(context.Background(), cfg, sesconnector.WithEndpoint(ses.URL),
			sesconnector.WithSendRateLimiter(redislimit.NewSendRate(rdb, "account-123456789012-eu-west-1", 50)))
		require.NoError(t, err)
		replicas = append(replicas, c)
	}
	stop := time.Now().Add(5 * time.Second)
	var wg sync.WaitGroup
	for i := range 4 * 8 {
		wg.Go(func() {
			for time.Now().Before(stop) {
				_, err := replicas[i%4].SendMessage(context.Background(), "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	most, total := sink.busiest()
	t.Logf("%d sends in all; the busiest second carried %d", total, most)
	assert.LessOrEqual(t, most, 51, "ceil(50)+1 at most in any one second")
	assert.GreaterOrEqual(t, total, 240, "about 50/s for 5 s went out")
}

func TestNewSendRateRefusesBadLimits(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, l := range []sesconnector.SendRateLimiter{
		redislimit.NewSendRate(nil, "k", 1), redislimit.NewSendRate(rdb, "", 1), redislimit.NewSendRate(rdb, "k", 0),
		redislimit.NewSendRate(rdb, "k", -1), redislimit.NewSendRate(rdb, "k", 1e300),
	} {
		_, err := l.Reserve(context.Background())
		require.ErrorIs(t, err, redislimit.ErrInvalidLimit)
	}
}

// BenchmarkSendRateReserve is what the shared rate adds to a send against a local
// redis-server: one round trip, p50 and p99, at a rate high enough that nobody waits.
func BenchmarkSendRateReserve(b *testing.B) {
	srv := redistest.StartForTest(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	l := redislimit.NewSendRate(rdb, "bench", 1e6)
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := l.Reserve(ctx); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
