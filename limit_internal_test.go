package sesconnector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fakeClockLimiter(n int, per time.Duration) (*memoryLimiter, *time.Time) {
	l := NewMemoryLimiter(n, per).(*memoryLimiter)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	return l, &now
}

func (l *memoryLimiter) size() int {
	total := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		total += len(l.shards[i].keys)
		l.shards[i].mu.Unlock()
	}
	return total
}

// n messages in any window of length per: a burst of n, then one more each time the oldest
// of the last n leaves the window, with the wait until then.
func TestMemoryLimiterSlidingWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, now := fakeClockLimiter(3, 10*time.Minute)
	start := *now
	for i := range 3 {
		ok, _, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "message %d of the burst", i+1)
		*now = now.Add(time.Minute)
	}
	ok, wait, _ := l.Allow(ctx, "k")
	assert.False(t, ok)
	assert.Equal(t, 7*time.Minute, wait, "until the first leaves the window")
	ok, _, _ = l.Allow(ctx, "other")
	assert.True(t, ok, "keys do not share a count")

	*now = start.Add(10 * time.Minute)
	ok, _, _ = l.Allow(ctx, "k")
	assert.True(t, ok, "the first left the window")
	ok, wait, _ = l.Allow(ctx, "k")
	assert.False(t, ok)
	assert.Equal(t, time.Minute, wait)

	// Any window of 10 minutes held at most 3 of the times recorded.
	zero, _, _ := NewMemoryLimiter(0, time.Minute).Allow(ctx, "k")
	assert.False(t, zero, "n = 0 allows nothing")
}

// A million distinct keys do not stay: each is forgotten once its newest message is older
// than per.
func TestMemoryLimiterForgetsOldKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, now := fakeClockLimiter(10, time.Minute)
	const keys = 1_000_000
	for i := range keys {
		if ok, _, _ := l.Allow(ctx, fmt.Sprintf("key-%d", i)); !ok {
			t.Fatal("a new key is allowed")
		}
	}
	assert.Equal(t, keys, l.size())
	*now = now.Add(time.Minute)
	for i := range limiterShards * 4 { // touch every shard
		_, _, _ = l.Allow(ctx, fmt.Sprintf("new-%d", i))
	}
	assert.LessOrEqual(t, l.size(), limiterShards*4)
}

func TestRecipientKeyHoldsNoAddress(t *testing.T) {
	t.Parallel()
	k := recipientKey("Jane.Doe@Example.com")
	assert.Equal(t, k, recipientKey("jane.doe@example.com"), "one inbox, one key")
	assert.NotEqual(t, k, recipientKey("john.doe@example.com"))
	for _, part := range []string{"jane", "Jane", "example", "@"} {
		assert.NotContains(t, k, part)
	}
}

// BenchmarkRecipientGate is what WithRecipientLimit adds to a send with the memory limiter:
// the key's hash and the limiter's answer.
func BenchmarkRecipientGate(b *testing.B) {
	g := newRecipientGate(NewMemoryLimiter(1<<30, time.Minute), 0)
	to := make([]string, 1024)
	for i := range to {
		to[i] = fmt.Sprintf("user%d@example.com", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := g.allow(ctx, to[i%len(to)], nil); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// instantLimiter answers at once, like a shared store with no latency: what the budget around
// each call of a limiter other than NewMemoryLimiter's costs.
type instantLimiter struct{}

func (instantLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return true, 0, nil
}

func BenchmarkRecipientGateShared(b *testing.B) {
	g := newRecipientGate(instantLimiter{}, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.allow(ctx, "user@example.com", nil); err != nil {
			b.Fatal(err)
		}
	}
}
