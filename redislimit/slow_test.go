package redislimit_test

import (
	"context"
	"io"
	"net"
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

// proxy listens on loopback and, for each connection, either forwards to target holding every
// chunk for delay each way, or (target "") accepts and never answers. Everything stops when
// the test ends.
func proxy(t *testing.T, target string, delay time.Duration) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			select {
			case <-time.After(delay):
			case <-done:
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			track(c)
			if target == "" {
				wg.Go(func() { _, _ = io.Copy(io.Discard, c) }) // reads, never answers
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(up)
			wg.Go(func() { pipe(up, c) })
			wg.Go(func() { pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		close(done)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return l.Addr().String()
}

// A send with Redis 2 s slow, or not answering at all, goes ahead within the limiter's budget,
// with go-redis's default options as with redislimit.Options: a caller with a 3 s deadline
// gets its mail.
func TestSlowRedisDoesNotHoldSends(t *testing.T) {
	srv := redistest.StartForTest(t)
	targets := map[string]string{
		"Redis delayed 2 s":   proxy(t, srv.Addr, 2*time.Second),
		"Redis not answering": proxy(t, "", 0),
	}
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
