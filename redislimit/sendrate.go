package redislimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sesconnector/sesconnector"
)

// reserve is GCRA with reservation, in one round trip, on Redis's own clock (replicas' clocks
// differ): the key holds the time the next send may start (its "theoretical arrival time", in
// microseconds); a send takes that time, or now if it has passed, and moves it one interval
// on. The reply is how long the send waits. Times are written with %.0f, whole microseconds,
// since Lua would print a large number in exponent form.
var reserve = redis.NewScript(`
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < t then tat = t end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - t) / 1000) + 1000)
return tat - t
`)

// SendRate is a sesconnector.SendRateLimiter kept in Redis: every replica that shares the
// Redis and the key shares one schedule of sends. It is safe for concurrent use.
type SendRate struct {
	rdb      redis.Scripter
	key      string
	interval time.Duration
	err      error // an invalid limit, reported by every Reserve
}

var _ sesconnector.SendRateLimiter = (*SendRate)(nil)

// NewSendRate spaces the sends of every replica that shares rdb and key at perSecond, the
// account's SES MaxSendRate (Connector.SendQuota reads it; leave some headroom): one Redis
// round trip per send (a Lua script, GCRA), on Redis's clock, so that all replicas together
// never put more than ceil(perSecond)+1 sends in any one second. Give it to
// sesconnector.WithSendRateLimiter, with a client from Options. An invalid limit (a nil
// client, an empty key, a rate that is not a positive number) makes every Reserve fail with
// ErrInvalidLimit, and the Connector sends without the shared rate, logging it.
func NewSendRate(rdb redis.UniversalClient, key string, perSecond float64) sesconnector.SendRateLimiter {
	s := &SendRate{rdb: rdb, key: KeyPrefix + "sendrate:" + key}
	switch {
	case rdb == nil:
		s.err = fmt.Errorf("%w: the Redis client is nil", ErrInvalidLimit)
	case key == "":
		s.err = fmt.Errorf("%w: the key is empty; name the account, such as its ID and region", ErrInvalidLimit)
	case !(perSecond > 0) || math.IsInf(perSecond, 0) || perSecond > 1e6:
		s.err = fmt.Errorf("%w: %v sends per second; give the account's MaxSendRate", ErrInvalidLimit, perSecond)
	default:
		// A hundredth over the exact interval: a send delayed on its way to SES (scheduling,
		// GC) still lands inside the bound.
		s.interval = time.Duration(1.01 * float64(time.Second) / perSecond)
	}
	return s
}

// Reserve implements sesconnector.SendRateLimiter: it takes this send's place in the shared
// schedule and says how long to wait for it.
func (s *SendRate) Reserve(ctx context.Context) (time.Duration, error) {
	if s.err != nil {
		return 0, s.err
	}
	us, err := reserve.Run(ctx, s.rdb, []string{s.key}, s.interval.Microseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("redislimit: %w", err)
	}
	return time.Duration(us) * time.Microsecond, nil
}
