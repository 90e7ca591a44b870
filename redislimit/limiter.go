// Package redislimit is a sesconnector.RecipientLimiter kept in Redis, so that every replica
// of a service shares one count per recipient:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	limiter, err := redislimit.New(rdb, 10, 10*time.Minute) // Logto's default
//	conn, err := sesconnector.New(ctx, cfg, sesconnector.WithRecipientLimit(limiter))
//
// It counts with GCRA (github.com/go-redis/redis_rate): a burst of n messages to a recipient
// at once, then one more every per/n. Redis stores one key per recipient and usage type,
// "rate:sesconnector:<usage>:<hash>", holding a timestamp and expiring by itself; the hash is
// of the lower-cased address, which is never stored.
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

// KeyPrefix starts every key this package hands to redis_rate (which adds its own "rate:").
const KeyPrefix = "sesconnector:"

// Limiter is a sesconnector.RecipientLimiter backed by Redis. It is safe for concurrent use.
type Limiter struct {
	rl    *redis_rate.Limiter
	limit redis_rate.Limit
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
		rl:    redis_rate.NewLimiter(rdb),
		limit: redis_rate.Limit{Rate: n, Burst: n, Period: per},
	}, nil
}

// Allow implements sesconnector.RecipientLimiter: it records one message to key if the limit
// has room, or says how long until it has. An error means Redis could not be asked; the
// Connector then sends anyway (fails open) and logs it.
func (l *Limiter) Allow(ctx context.Context, key string) (bool, time.Duration, error) {
	res, err := l.rl.Allow(ctx, KeyPrefix+key, l.limit)
	if err != nil {
		return false, 0, fmt.Errorf("redislimit: %w", err)
	}
	if res.Allowed > 0 {
		return true, 0, nil
	}
	return false, res.RetryAfter, nil
}
