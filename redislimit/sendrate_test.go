package redislimit_test

import (
	"context"
	"errors"
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
				if errors.Is(err, sesconnector.ErrThrottled) { // the schedule is a horizon ahead: refused, nothing taken
					time.Sleep(10 * time.Millisecond)
					continue
				}
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
		redislimit.NewSendRate(rdb, "k", 10, redislimit.WithHorizon(0)),                   // under one interval (101 ms)
		redislimit.NewSendRate(rdb, "k", 10, redislimit.WithHorizon(50*time.Millisecond)), // likewise
		redislimit.NewSendRate(rdb, "k", 10, redislimit.WithHorizon(2*time.Minute)),
	} {
		_, err := l.Reserve(context.Background())
		require.ErrorIs(t, err, redislimit.ErrInvalidLimit)
	}
}

// A reservation that would wait past the caller's longest wait, or past the horizon, takes
// nothing: decided inside the one round trip, so the schedule is where it was.
func TestReserveRefusalTakesNothing(t *testing.T) {
	srv := redistest.StartForTest(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	// One every 2.02 s with a 3-s horizon: two places, at 0 and 2.02 s; the third would wait
	// 4.04 s, and is refused until a second has passed, far longer than twenty refusals take.
	l := redislimit.NewSendRate(rdb, "refusal", 0.5, redislimit.WithHorizon(3*time.Second))
	key := redislimit.KeyPrefix + "sendrate:refusal"
	schedule := func() int64 {
		v, err := rdb.Get(context.Background(), key).Int64()
		require.NoError(t, err)
		return v
	}
	for i := range 2 {
		wait, err := l.Reserve(context.Background())
		require.NoError(t, err, "place %d", i)
		assert.Less(t, wait, 3*time.Second)
	}
	full := schedule()
	for range 20 {
		wait, err := l.Reserve(context.Background())
		require.ErrorIs(t, err, sesconnector.ErrThrottled, "past the horizon")
		assert.Contains(t, err.Error(), "past the horizon of 3s; nothing was reserved")
		assert.Greater(t, wait, 3*time.Second)
	}
	assert.Equal(t, full, schedule(), "twenty refusals moved nothing")

	// The caller's longest wait, passed by the Connector, is decided in the same round trip.
	sink := &arrivals{}
	ses := httptest.NewServer(sink)
	defer ses.Close()
	cfg := config()
	cfg.AccessKeyID, cfg.AccessKeySecret = "AKIAIOSFODNN7EXAMPLE", "fake-secret-for-redislimit"
	c, err := sesconnector.New(context.Background(), cfg, sesconnector.WithEndpoint(ses.URL),
		sesconnector.WithSendRateLimiter(redislimit.NewSendRate(rdb, "deadline", 1))) // one a second
	require.NoError(t, err)
	require.NoError(t, sendWithin(c, 2*time.Second), "the first place is now")
	before, err := rdb.Get(context.Background(), redislimit.KeyPrefix+"sendrate:deadline").Int64()
	require.NoError(t, err)
	for range 10 {
		err := sendWithin(c, 300*time.Millisecond) // the next place is 1 s off
		require.ErrorIs(t, err, sesconnector.ErrThrottled)
		assert.Contains(t, err.Error(), "left before the deadline; nothing was reserved")
	}
	after, err := rdb.Get(context.Background(), redislimit.KeyPrefix+"sendrate:deadline").Int64()
	require.NoError(t, err)
	assert.Equal(t, before, after, "ten refused sends moved nothing")
	_, total := sink.busiest()
	assert.Equal(t, 1, total)
	ttl, err := rdb.PTTL(context.Background(), key).Result()
	require.NoError(t, err)
	assert.Positive(t, ttl, "the key expires by itself")
}

func sendWithin(c *sesconnector.Connector, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.SendMessage(ctx, "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
	return err
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
