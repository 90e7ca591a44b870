package redislimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/childproc"
	"github.com/sesconnector/sesconnector/internal/redistest"
	"github.com/sesconnector/sesconnector/redislimit"
)

// countingSES counts the messages it was asked to send.
type countingSES struct{ sent atomic.Int64 }

func (c *countingSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	n := c.sent.Add(1)
	return &sesv2.SendEmailOutput{MessageId: aws.String(fmt.Sprint("m-", n))}, nil
}

func config() *sesconnector.Config {
	return &sesconnector.Config{
		Region: "eu-west-1", EmailAddress: "noreply@example.com",
		Templates: []sesconnector.Template{{UsageType: sesconnector.UsageGeneric, Subject: "Code {{code}}", Content: "<p>{{code}}</p>"}},
	}
}

// replica is one instance of a service: its own Connector, its own Redis client, the shared
// Redis server.
func replica(t *testing.T, addr string, n int, per time.Duration, opts ...sesconnector.Option) (*sesconnector.Connector, *countingSES) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	l, err := redislimit.New(rdb, n, per)
	require.NoError(t, err)
	api := &countingSES{}
	c, err := sesconnector.New(context.Background(), config(), append([]sesconnector.Option{sesconnector.WithClient(api), sesconnector.WithRecipientLimit(l)}, opts...)...)
	require.NoError(t, err)
	return c, api
}

func send(c *sesconnector.Connector, to string) error {
	_, err := c.SendMessage(context.Background(), to, sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
	return err
}

// Two replicas sharing one Redis, 64 senders between them, one recipient: exactly n messages
// go out, whatever the letter case, and every other send is refused with the wait.
func TestReplicasShareTheLimit(t *testing.T) {
	srv := redistest.StartForTest(t)
	const n = 5
	a, apiA := replica(t, srv.Addr, n, time.Hour)
	b, apiB := replica(t, srv.Addr, n, time.Hour)
	var limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			c := []*sesconnector.Connector{a, b}[i%2]
			to := []string{"jane@example.com", "JANE@example.com", "Jane@Example.COM"}[i%3]
			for range 3 {
				err := send(c, to)
				if err != nil {
					var le *sesconnector.LimitError
					if assert.ErrorAs(t, err, &le) && assert.ErrorIs(t, err, sesconnector.ErrRecipientLimited) {
						assert.Greater(t, le.RetryAfter, time.Duration(0))
						limited.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(n), apiA.sent.Load()+apiB.sent.Load(), "n messages to one inbox, across replicas")
	assert.Equal(t, int64(64*3-n), limited.Load())
}

func TestDistinctRecipientsAreIndependent(t *testing.T) {
	srv := redistest.StartForTest(t)
	a, apiA := replica(t, srv.Addr, 1, time.Hour)
	b, apiB := replica(t, srv.Addr, 1, time.Hour)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			c := []*sesconnector.Connector{a, b}[i%2]
			assert.NoError(t, send(c, fmt.Sprintf("user%d@example.com", i)))
		})
	}
	wg.Wait()
	assert.Equal(t, int64(64), apiA.sent.Load()+apiB.sent.Load())
	require.ErrorIs(t, send(a, "user0@example.com"), sesconnector.ErrRecipientLimited)
	_, err := a.SendMessage(context.Background(), "user0@example.com", sesconnector.UsageForgotPassword, sesconnector.Payload{"code": "1"})
	require.ErrorIs(t, err, sesconnector.ErrRecipientLimited, "every usage type counts against the address's one limit")
}

// Redis stopped mid-run: sends go ahead, and the failure is logged once for the run of
// failures, not once per send.
func TestRedisDownFailsOpen(t *testing.T) {
	srv := redistest.StartForTest(t)
	var logs childproc.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	c, api := replica(t, srv.Addr, 1, time.Hour, sesconnector.WithLogger(logger))
	require.NoError(t, send(c, "jane@example.com"))
	require.ErrorIs(t, send(c, "jane@example.com"), sesconnector.ErrRecipientLimited)

	srv.Stop()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 4 {
				assert.NoError(t, send(c, "jane@example.com"), "a stopped Redis does not stop sign-ins")
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1+64), api.sent.Load())
	assert.Equal(t, 1, strings.Count(logs.String(), "recipient limiter failed"), logs.String())
	assert.NotContains(t, logs.String(), "jane@")
}

// Redis holds no address: every key is a hash.
func TestStoredKeysHoldNoAddress(t *testing.T) {
	srv := redistest.StartForTest(t)
	c, _ := replica(t, srv.Addr, 3, time.Hour)
	addrs := []string{"jane.doe@example.com", "bob.smith@example.org", "Ana.Lima@Example.com.br"}
	for _, to := range addrs {
		require.NoError(t, send(c, to))
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	require.Len(t, keys, len(addrs))
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, "rate:"+redislimit.KeyPrefix), k)
		assert.NotContains(t, k, "SignIn", k)
		for _, to := range addrs {
			for _, part := range []string{to, strings.ToLower(to), strings.Split(to, "@")[0], strings.ToLower(strings.Split(to, "@")[0]), "@"} {
				assert.NotContains(t, k, part)
			}
		}
		ttl, err := rdb.TTL(context.Background(), k).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, time.Duration(0), "keys expire by themselves")
	}
}

func TestNewRefusesBadLimits(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for _, tc := range []struct {
		n   int
		per time.Duration
	}{{0, time.Minute}, {-1, time.Minute}, {1, 0}, {1, time.Millisecond}} {
		_, err := redislimit.New(rdb, tc.n, tc.per)
		require.ErrorIs(t, err, redislimit.ErrInvalidLimit)
	}
	_, err := redislimit.New(nil, 1, time.Minute)
	require.ErrorIs(t, err, redislimit.ErrInvalidLimit)
}

// BenchmarkRedisAllow is the latency the Redis limiter adds to a send against a local Redis:
// p50 and p99 of Allow, one call at a time.
func BenchmarkRedisAllow(b *testing.B) {
	srv := redistest.StartForTest(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	l, err := redislimit.New(rdb, 1<<20, time.Hour)
	require.NoError(b, err)
	ctx := context.Background()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, _, err := l.Allow(ctx, fmt.Sprint("SignIn:k", i%1024)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
