package sesconnector_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// scheduleLimiter hands out waits from a schedule, or fails.
type scheduleLimiter struct {
	mu    sync.Mutex
	waits []time.Duration
	err   error
	calls int
}

func (s *scheduleLimiter) Reserve(context.Context) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return 0, s.err
	}
	if len(s.waits) == 0 {
		return 0, nil
	}
	w := s.waits[0]
	s.waits = s.waits[1:]
	return w, nil
}

func TestWithSendRateLimiter(t *testing.T) {
	t.Parallel()
	l := &scheduleLimiter{waits: []time.Duration{0, 50 * time.Millisecond, time.Hour}}
	c, m := newConnector(t, testConfig(), ses.WithSendRateLimiter(l))
	send := func(ctx context.Context) error {
		_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		return err
	}
	require.NoError(t, send(context.Background()))
	start := time.Now()
	require.NoError(t, send(context.Background()))
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond, "the send waited its turn")

	// A wait past the deadline is refused at once, not after waiting out the deadline: the
	// margin (5 s of 10) is for a loaded machine, not a measure of speed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start = time.Now()
	err := send(ctx)
	require.ErrorIs(t, err, ses.ErrThrottled, "a wait past the deadline is refused at once")
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Len(t, m.Calls(), 2)

	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithSendRateLimiter(nil))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
}

// A shared limiter that fails or hangs fails open within the limiter's budget, logged once;
// the process's own WithMaxSendRate still holds.
func TestSendRateLimiterFailsOpen(t *testing.T) {
	t.Parallel()
	for _, l := range []ses.SendRateLimiter{&scheduleLimiter{err: errors.New("redis: connection refused")}, hangingRate{}} {
		var logs strings.Builder
		c, m := newConnector(t, testConfig(), ses.WithSendRateLimiter(l), ses.WithLimiterTimeout(50*time.Millisecond),
			ses.WithMaxSendRate(2), ses.WithLogger(jsonLogger(&logs)))
		start := time.Now()
		for range 3 {
			_, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
			require.NoError(t, err)
		}
		assert.GreaterOrEqual(t, time.Since(start), time.Second, "WithMaxSendRate(2) still spaced the third send")
		assert.Len(t, m.Calls(), 3)
		assert.Equal(t, 1, strings.Count(logs.String(), "shared send rate limiter failed"), logs.String())
	}
}

type hangingRate struct{}

func (hangingRate) Reserve(ctx context.Context) (time.Duration, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func TestSendQuota(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		if req.Path == "/v2/email/account" {
			return sestest.Response{Body: `{"SendQuota":{"MaxSendRate":14,"Max24HourSend":50000,"SentLast24Hours":3}}`}
		}
		return sestest.Error(http.StatusNotFound, "NotFoundException", req.Path)
	})
	perSecond, perDay, err := c.SendQuota(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 14.0, perSecond)
	assert.Equal(t, 50000.0, perDay)

	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusForbidden, "AccessDeniedException", "not authorized to perform ses:GetAccount")
	})
	_, _, err = c.SendQuota(context.Background())
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Contains(t, err.Error(), "AccessDeniedException")
}
