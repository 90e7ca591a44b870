// Package redislimit is a sesconnector.RecipientLimiter kept in Redis, so that every replica
// of a service shares one count per recipient:
//
//	opts, err := redislimit.Options("redis://localhost:6379/0") // short timeouts that honour the context
//	limiter, err := redislimit.New(redis.NewClient(opts), 10, 10*time.Minute) // Logto's default
//	conn, err := sesconnector.New(ctx, cfg, sesconnector.WithRecipientLimit(limiter))
//
// It counts with GCRA (github.com/go-redis/redis_rate): a burst of n messages to a recipient
// at once, then one more every per/n. Redis stores one key per recipient,
// "rate:sesconnector:<hash>", holding a timestamp and expiring by itself; the hash is of the
// lower-cased address, which is never stored.
//
// The Connector gives each limiter call a budget (sesconnector.WithLimiterTimeout, 250 ms) and
// sends without the answer when it runs out. go-redis's own defaults (5 s to dial, 3 s to
// read, retries, and contexts honoured only between commands) are far longer: build the
// client with Options, or set ContextTimeoutEnabled and short timeouts yourself, so that a
// slow Redis gives up when the budget does instead of holding a connection per waiting send.
//
// It is its own Go module, so that the sesconnector module does not require a Redis client of
// the services that do not use one.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/sesconnector/sesconnector"
)

// Options parses a redis:// or rediss:// URL (redis.ParseURL) into client options suited to a
// limiter on the sign-in path: the context's deadline honoured inside every command
// (ContextTimeoutEnabled), 250 ms to dial, read and write, and no retries: a Redis that does
// not answer within the Connector's budget is skipped, not waited for.
func Options(redisURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redislimit: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	opts.MaxRetries = -1 // none
	return opts, nil
}

// KeyPrefix starts every key this package hands to redis_rate (which adds its own "rate:").
const KeyPrefix = "sesconnector:"

// Limiter is a sesconnector.RecipientLimiter backed by Redis. It is safe for concurrent use.
type Limiter struct {
	rl      *redis_rate.Limiter
	bounded bool // the client honours contexts by itself
	limit   redis_rate.Limit
}

var _ sesconnector.RecipientLimiter = (*Limiter)(nil)

// ErrInvalidLimit reports a limit that allows nothing or never refills.
var ErrInvalidLimit = errors.New("redislimit: invalid limit")

// New returns a Limiter that lets n messages go to one recipient at once and then one more
// every per/n, counted in rdb: a *redis.Client, a *redis.ClusterClient or a *redis.Ring.
func New(rdb redis.UniversalClient, n int, per time.Duration) (*Limiter, error) {
	switch {
	case rdb == nil:
		return nil, fmt.Errorf("%w: the Redis client is nil", ErrInvalidLimit)
	case n < 1:
		return nil, fmt.Errorf("%w: %d messages; allow at least 1", ErrInvalidLimit, n)
	case per < time.Second:
		return nil, fmt.Errorf("%w: a window of %v; give one of a second or more", ErrInvalidLimit, per)
	}
	return &Limiter{
		rl:      redis_rate.NewLimiter(rdb),
		bounded: honoursContext(rdb),
		limit:   redis_rate.Limit{Rate: n, Burst: n, Period: per},
	}, nil
}

// Allow implements sesconnector.RecipientLimiter: it records one message to key if the limit
// has room, or says how long until it has. An error means Redis could not be asked; the
// Connector then sends anyway (fails open) and logs it. It returns by ctx's deadline with any
// client, even one built with go-redis's defaults.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := within(ctx, l.bounded, func(ctx context.Context) (*redis_rate.Result, error) {
		return l.rl.Allow(ctx, KeyPrefix+key, l.limit)
	})
	if err != nil {
		return false, 0, fmt.Errorf("redislimit: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}

// honoursContext says whether rdb ends a command at its context's deadline by itself
// (ContextTimeoutEnabled); go-redis's defaults do not, and wait out their own timeouts.
func honoursContext(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// lateAnswer is how long past its context's deadline a call may take to give up.
const lateAnswer = 50 * time.Millisecond

// within runs fn and returns by ctx's deadline whatever the client does: a client that honours
// contexts is called directly; with any other, fn runs on its own goroutine and the caller
// stops waiting when ctx ends (the command then finishes or times out on its own).
func within[T any](ctx context.Context, bounded bool, fn func(context.Context) (T, error)) (T, error) {
	if _, ok := ctx.Deadline(); bounded || (!ok && ctx.Done() == nil) {
		return fn(ctx)
	}
	type answer struct {
		v   T
		err error
	}
	done := make(chan answer, 1)
	go func() {
		v, err := fn(ctx)
		done <- answer{v, err}
	}()
	select {
	case a := <-done:
		return a.v, a.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
