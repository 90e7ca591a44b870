package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// SendRateLimiter says how long this send must wait so that every replica together stays under
// the account's rate (a shared store: redislimit.NewSendRate). Reserve takes the send's place
// in the shared schedule, unless that place is further off than MaxWait(ctx): then it takes
// nothing and returns an error matching ErrThrottled, and the send is refused. Any other error
// fails open: the send goes ahead, and the process's own WithMaxSendRate, if any, still holds.
type SendRateLimiter interface {
	Reserve(ctx context.Context) (wait time.Duration, err error)
}

type maxWaitKey struct{}

// MaxWait is the longest wait the Connector accepts for the reservation Reserve is asked for:
// the caller's time left before its deadline. A limiter decides with it, in the same step as
// it takes the place (inside one Redis round trip, say), so that a send it would refuse never
// takes a place in the schedule. ok is false when the caller has no deadline.
func MaxWait(ctx context.Context) (wait time.Duration, ok bool) {
	wait, ok = ctx.Value(maxWaitKey{}).(time.Duration)
	return wait, ok
}

// WithSendRateLimiter spaces sends with l, shared by every replica: the account's SES
// MaxSendRate is the account's, not the process's. Each Reserve has the budget of
// WithLimiterTimeout (250 ms by default); a limiter that fails or does not answer in time is
// logged, once per run of failures, and the send goes ahead. A send whose wait would pass its
// context's deadline is refused at once with ErrThrottled.
func WithSendRateLimiter(l SendRateLimiter) Option {
	return func(o *options) {
		if isNil(l) {
			o.problems.add("WithSendRateLimiter", "the limiter is nil; use a shared one such as redislimit.NewSendRate")
		}
		o.sendRate = l
	}
}

// sharedRate applies a SendRateLimiter to one send, within its budget, failing open.
type sharedRate struct {
	limiter  SendRateLimiter
	timeout  time.Duration
	failures failureLog
}

func newSharedRate(l SendRateLimiter, timeout time.Duration) *sharedRate {
	if timeout <= 0 {
		timeout = defaultLimiterTimeout
	}
	return &sharedRate{limiter: l, timeout: timeout, failures: failureLog{what: "shared send rate limiter"}}
}

// wait reserves the send's place and waits for it.
func (s *sharedRate) wait(ctx context.Context, logger *slog.Logger) error {
	rctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		rctx = context.WithValue(ctx, maxWaitKey{}, max(time.Until(deadline), 0))
	}
	a := callWithin(rctx, s.timeout, func(ctx context.Context) allowed {
		wait, err := s.limiter.Reserve(ctx)
		return allowed{retryAfter: wait, err: err}
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: waiting for the shared send rate: %w", ErrSendFailed, err)
	}
	if a.err != nil && errors.Is(a.err, ErrThrottled) {
		s.failures.ok(ctx, logger) // the limiter answered: it refused this send
		return &kindError{text: "sesconnector: the shared send rate refused this send: " + cut(a.err.Error(), maxErrorText), kind: ErrThrottled, cause: a.err}
	}
	if a.err != nil {
		s.failures.failed(ctx, logger, a.err.Error())
		return nil
	}
	s.failures.ok(ctx, logger)
	if a.retryAfter <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Now().Add(a.retryAfter).After(deadline) {
		return fmt.Errorf("%w: the shared send rate would delay this send by %v, past the context deadline: %w", ErrThrottled, a.retryAfter.Round(time.Millisecond), context.DeadlineExceeded)
	}
	t := time.NewTimer(a.retryAfter)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the shared send rate: %w", ErrSendFailed, ctx.Err())
	}
}

// SendQuota reads the account's sending quota in the client's region (ses:GetAccount):
// messages per second and per 24 hours. Size a shared limiter with it, with some headroom.
func (c *Connector) SendQuota(ctx context.Context) (maxPerSecond, max24h float64, err error) {
	if ctx == nil {
		return 0, 0, errNilContext
	}
	api, ok := c.client.(CheckAPI)
	if !ok {
		return 0, 0, fmt.Errorf("%w: the client given to WithClient has no GetAccount", ErrInvalidConfig)
	}
	out, err := api.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return 0, 0, &kindError{text: "sesconnector: reading the send quota (GetAccount): " + cut(err.Error(), maxErrorText), kind: ErrSendFailed, cause: err}
	}
	if out == nil || out.SendQuota == nil {
		return 0, 0, fmt.Errorf("%w: ses:GetAccount answered without a SendQuota", ErrSendFailed)
	}
	return out.SendQuota.MaxSendRate, out.SendQuota.Max24HourSend, nil
}
