package redislimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/cutproxy"
	"github.com/sesconnector/sesconnector/internal/redistest"
	"github.com/sesconnector/sesconnector/redislimit"
)

// A send with Redis 2 s slow, or not answering at all, goes ahead within the limiter's budget,
// with go-redis's default options as with redislimit.Options: a caller with a 3 s deadline
// gets its mail.
func TestSlowRedisDoesNotHoldSends(t *testing.T) {
	srv := redistest.StartForTest(t)
	slow, silent := cutproxy.Start(t, "redis://"+srv.Addr), cutproxy.Start(t, "redis://"+srv.Addr)
	slow.Delay(2 * time.Second)
	silent.Blackhole()
	targets := map[string]string{"Redis delayed 2 s": slow.Addr, "Redis not answering": silent.Addr}
	clients := map[string]func(addr string) *redis.Options{
		"go-redis defaults": func(addr string) *redis.Options { return &redis.Options{Addr: addr} },
		"redislimit.Options": func(addr string) *redis.Options {
			opts, err := redislimit.Options("redis://" + addr + "/0")
			require.NoError(t, err)
			return opts
		},
	}
	for tname, addr := range targets {
		for cname, opts := range clients {
			rdb := redis.NewClient(opts(addr))
			t.Cleanup(func() { rdb.Close() })
			l, err := redislimit.New(rdb, 1, time.Hour)
			require.NoError(t, err)
			api := &countingSES{}
			c, err := sesconnector.New(context.Background(), config(), sesconnector.WithClient(api), sesconnector.WithRecipientLimit(l))
			require.NoError(t, err)
			for range 3 {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				start := time.Now()
				_, err := c.SendMessage(ctx, "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
				elapsed := time.Since(start)
				cancel()
				require.NoError(t, err, "%s, %s", tname, cname)
				assert.Less(t, elapsed, time.Second, "%s, %s: the 250 ms budget, not Redis's delay", tname, cname)
				t.Logf("%s, %s: the send took %v", tname, cname, elapsed.Round(time.Millisecond))
			}
			assert.Equal(t, int64(3), api.sent.Load(), "%s, %s: every send went ahead", tname, cname)
		}
	}
}

func TestOptionsHonourTheContext(t *testing.T) {
	opts, err := redislimit.Options("redis://:secret@127.0.0.1:6380/2")
	require.NoError(t, err)
	assert.True(t, opts.ContextTimeoutEnabled)
	assert.Equal(t, 250*time.Millisecond, opts.DialTimeout)
	assert.Equal(t, 250*time.Millisecond, opts.ReadTimeout)
	assert.Equal(t, 250*time.Millisecond, opts.WriteTimeout)
	assert.Equal(t, 2, opts.DB)
	_, err = redislimit.Options("http://nope")
	require.Error(t, err)
}

// Every call returns by its context's deadline (+50 ms) with any client, even one built with
// go-redis's defaults, which wait out their own 3-s read timeout: a blackholed Redis answers
// each call with the context's own error, not the client's timeout.
func TestCallsHonourTheContextWithDefaultClients(t *testing.T) {
	srv := redistest.StartForTest(t)
	silent := cutproxy.Start(t, "redis://"+srv.Addr)
	silent.Blackhole()
	rdb := redis.NewClient(&redis.Options{Addr: silent.Addr}) // go-redis's defaults
	defer rdb.Close()
	l, err := redislimit.New(rdb, 1, time.Hour)
	require.NoError(t, err)
	rate := redislimit.NewSendRate(rdb, "k", 10)
	for name, call := range map[string]func(context.Context) error{
		"Allow":   func(ctx context.Context) error { _, _, err := l.Allow(ctx, "k"); return err },
		"Reserve": func(ctx context.Context) error { _, err := rate.Reserve(ctx); return err },
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := call(ctx)
		elapsed := time.Since(start)
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "%s: the caller's deadline ended it", name)
		assert.Less(t, elapsed, 3*time.Second, "%s: not go-redis's own 3-s read timeout", name)
		t.Logf("%s returned %v after a 200 ms deadline", name, elapsed.Round(time.Millisecond))
	}
}
