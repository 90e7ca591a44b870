package sesconnector_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

func TestWithRecipientLimit(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig(), ses.WithRecipientLimit(ses.NewMemoryLimiter(2, time.Hour)))
	ctx := context.Background()
	send := func(to string, usage ses.UsageType, payload ses.Payload) error {
		_, err := c.SendMessage(ctx, to, usage, payload)
		return err
	}
	code := ses.Payload{"code": "1"}
	require.ErrorIs(t, send("jane@example.com", ses.UsageSignIn, ses.Payload{}), ses.ErrInvalidParameters, "a bad payload")
	require.ErrorIs(t, send("jane@example.com", "Nope", code), ses.ErrInvalidParameters, "a bad usage type")
	require.NoError(t, send("jane@example.com", ses.UsageSignIn, code), "bad requests did not count")
	require.NoError(t, send("JANE@Example.com", ses.UsageSignIn, code))

	err := send("jane@EXAMPLE.com", ses.UsageSignIn, code)
	require.ErrorIs(t, err, ses.ErrRecipientLimited, "one inbox in any letter case")
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.False(t, errors.Is(err, ses.ErrSendFailed))
	var le *ses.LimitError
	require.ErrorAs(t, err, &le)
	assert.InDelta(t, time.Hour.Seconds(), le.RetryAfter.Seconds(), 5)
	assert.Equal(t, "sesconnector: recipient limited: too many messages to this address lately; one more may go in 1h0m0s", err.Error())
	assert.NotContains(t, err.Error(), "jane")

	require.NoError(t, send("bob@example.com", ses.UsageSignIn, code), "other addresses are not affected")
	for _, usage := range []ses.UsageType{ses.UsageForgotPassword, ses.UsageRegister, ses.UsageGeneric, ses.UsageBindMfa} {
		require.ErrorIs(t, send("jane@example.com", usage, code), ses.ErrRecipientLimited, "one limit per address, whatever the usage type: %s", usage)
	}
	assert.Len(t, m.Calls(), 3)

	_, err = c.Compose(ctx, "jane@example.com", ses.UsageSignIn, code)
	require.NoError(t, err, "Compose sends nothing and is not limited")
}

// failingLimiter fails while failing is set, and records the keys it was asked about.
type failingLimiter struct {
	mu      sync.Mutex
	failing bool
	keys    []string
}

func (f *failingLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = append(f.keys, key)
	if f.failing {
		return false, 0, errors.New("redis: connection refused")
	}
	return true, 0, nil
}

func TestRecipientLimiterFailsOpen(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	l := &failingLimiter{failing: true}
	c, m := newConnector(t, testConfig(), ses.WithRecipientLimit(l), ses.WithLogger(jsonLogger(&logs)))
	ctx := context.Background()
	for range 5 {
		_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err, "a broken limiter does not stop sign-ins")
	}
	l.mu.Lock()
	l.failing = false
	l.mu.Unlock()
	_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	l.mu.Lock()
	l.failing = true
	l.mu.Unlock()
	_, err = c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)

	assert.Len(t, m.Calls(), 7)
	assert.Equal(t, 2, strings.Count(logs.String(), "recipient limiter failed"), "once per run of failures")
	assert.Equal(t, 1, strings.Count(logs.String(), "recipient limiter answers again"))
	for _, k := range l.keys {
		assert.NotContains(t, k, "jane")
	}
	assert.NotContains(t, logs.String(), "jane@")
}

// slowLimiter answers after delay, or when its context ends if honour is set.
type slowLimiter struct {
	delay  time.Duration
	honour bool
}

func (s slowLimiter) Allow(ctx context.Context, _ string) (bool, time.Duration, error) {
	t := time.NewTimer(s.delay)
	defer t.Stop()
	if s.honour {
		select {
		case <-t.C:
		case <-ctx.Done():
			return false, 0, ctx.Err()
		}
	} else {
		<-t.C
	}
	return false, time.Hour, nil // it would refuse, had it answered in time
}

// A limiter that does not answer within its budget is taken as failed: the send goes ahead,
// whether the limiter honours its context or not, and the caller's deadline is not spent on it.
func TestRecipientLimiterBudget(t *testing.T) {
	t.Parallel()
	for _, l := range []slowLimiter{{delay: 2 * time.Second, honour: true}, {delay: 2 * time.Second}} {
		var logs strings.Builder
		c, m := newConnector(t, testConfig(), ses.WithRecipientLimit(l), ses.WithLimiterTimeout(50*time.Millisecond), ses.WithLogger(jsonLogger(&logs)))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		start := time.Now()
		_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		elapsed := time.Since(start)
		cancel()
		require.NoError(t, err, "honours its context: %v", l.honour)
		assert.Less(t, elapsed, time.Second, "within the caller's deadline, not the limiter's 2 s")
		assert.Len(t, m.Calls(), 1)
		assert.Contains(t, logs.String(), "no answer within 50ms (WithLimiterTimeout)")
	}

	// A caller whose context ends while the limiter is asked gets its own error; nothing is sent.
	c, m := newConnector(t, testConfig(), ses.WithRecipientLimit(slowLimiter{delay: time.Second, honour: true}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, m.Calls())

	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithLimiterTimeout(0))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithLimiterTimeout: a timeout of 0s")
}

func TestWithRecipientLimitNil(t *testing.T) {
	t.Parallel()
	var nilLimiter *failingLimiter
	for _, l := range []ses.RecipientLimiter{nil, nilLimiter} {
		_, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithRecipientLimit(l))
		require.ErrorIs(t, err, ses.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "WithRecipientLimit: the limiter is nil")
	}
}

func BenchmarkMemoryLimiter(b *testing.B) {
	l := ses.NewMemoryLimiter(10, 10*time.Minute)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "SignIn:" + strings.Repeat("x", 20) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _, _ = l.Allow(ctx, keys[i%len(keys)])
			i++
		}
	})
}
