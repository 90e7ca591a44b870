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
// on. A send whose wait would pass its longest acceptable wait (ARGV[2], -1 for none) or the
// horizon (ARGV[3]) takes nothing: so the schedule never runs more than the horizon ahead of
// Redis's clock, whatever the callers do with their answers. The reply is {taken, wait}.
// Times are written with %.0f, whole microseconds, since Lua would print a large number in
// exponent form. Every write sets an expiry: the key is gone once the schedule is in the past.
var reserve = redis.NewScript(`
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local longest = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < t then tat = t end
local wait = tat - t
if wait > horizon or (longest >= 0 and wait > longest) then
	return {0, wait}
end
local next = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - t) / 1000) + 1000)
return {1, wait}
`)

// DefaultHorizon is how far ahead of Redis's clock the shared schedule may run by default,
// or one interval of the rate where that is longer (a rate under one a second).
const DefaultHorizon = time.Second

// SendRateOption sets up a SendRate.
type SendRateOption func(*SendRate)

// WithHorizon bounds how far ahead of Redis's clock the schedule may run (default 1 s): a send
// that would wait longer takes nothing and is refused with sesconnector.ErrThrottled. It is
// also the most a stall can cost: a reservation that Redis carries out after the Connector
// gave up on it (a slow or unreachable Redis, the send went ahead failing open) pushes the
// schedule at most this far, so sends are back at the rate at most this long after a fault
// heals. At least one interval of the rate, at most a minute; by default DefaultHorizon, or
// one interval where that is longer.
func WithHorizon(d time.Duration) SendRateOption {
	return func(s *SendRate) { s.horizon, s.horizonSet = d, true }
}

// SendRate is a sesconnector.SendRateLimiter kept in Redis: every replica that shares the
// Redis and the key shares one schedule of sends. It is safe for concurrent use.
type SendRate struct {
	rdb        redis.Scripter
	bounded    bool // the client honours contexts by itself
	key        string
	interval   time.Duration
	horizon    time.Duration
	horizonSet bool
	err        error // an invalid limit, reported by every Reserve
}

var _ sesconnector.SendRateLimiter = (*SendRate)(nil)

// NewSendRate spaces the sends of every replica that shares rdb and key at perSecond, the
// account's SES MaxSendRate (Connector.SendQuota reads it; leave some headroom): one Redis
// round trip per send (a Lua script, GCRA), on Redis's clock, so that all replicas together
// never put more than ceil(perSecond)+1 sends in any one second. A send that would wait past
// its deadline (sesconnector.MaxWait) or past the horizon (WithHorizon, 1 s) takes no place
// and is refused with sesconnector.ErrThrottled. Give it to sesconnector.WithSendRateLimiter,
// with a client from Options; any client works, each call returning within its context's
// deadline. An invalid limit (a nil client, an empty key, a rate that is not a positive number,
// a horizon out of range) makes every Reserve fail with ErrInvalidLimit, and the Connector
// sends without the shared rate, logging it.
func NewSendRate(rdb redis.UniversalClient, key string, perSecond float64, opts ...SendRateOption) sesconnector.SendRateLimiter {
	s := &SendRate{rdb: rdb, bounded: honoursContext(rdb), key: KeyPrefix + "sendrate:" + key}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
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
		if !s.horizonSet {
			s.horizon = max(DefaultHorizon, s.interval)
		}
		if s.horizon < s.interval || s.horizon > time.Minute {
			s.err = fmt.Errorf("%w: a horizon of %v; give one from the rate's interval (%v) to a minute", ErrInvalidLimit, s.horizon, s.interval)
		}
	}
	return s
}

// Reserve implements sesconnector.SendRateLimiter: it takes this send's place in the shared
// schedule and says how long to wait for it, or takes nothing and refuses the send with an
// error matching sesconnector.ErrThrottled.
func (s *SendRate) Reserve(ctx context.Context) (time.Duration, error) {
	if s.err != nil {
		return 0, s.err
	}
	longest := int64(-1)
	if w, ok := sesconnector.MaxWait(ctx); ok {
		longest = w.Microseconds()
	}
	reply, err := within(ctx, s.bounded, func(ctx context.Context) ([]int64, error) {
		return reserve.Run(ctx, s.rdb, []string{s.key}, s.interval.Microseconds(), longest, s.horizon.Microseconds()).Int64Slice()
	})
	if err != nil {
		return 0, fmt.Errorf("redislimit: %w", err)
	}
	if len(reply) != 2 {
		return 0, fmt.Errorf("redislimit: the send rate script answered %v", reply)
	}
	wait := time.Duration(reply[1]) * time.Microsecond
	if reply[0] == 0 {
		return wait, &scheduleFull{wait: wait, longest: longest, horizon: s.horizon}
	}
	return wait, nil
}

// scheduleFull is a reservation that took nothing; it matches sesconnector.ErrThrottled.
type scheduleFull struct {
	wait    time.Duration
	longest int64 // µs; -1 for no deadline
	horizon time.Duration
}

func (e *scheduleFull) Error() string {
	limit := fmt.Sprintf("the horizon of %v", e.horizon)
	if e.longest >= 0 && time.Duration(e.longest)*time.Microsecond < e.horizon {
		limit = fmt.Sprintf("the %v left before the deadline", (time.Duration(e.longest) * time.Microsecond).Round(time.Millisecond))
	}
	return fmt.Sprintf("redislimit: the shared schedule is %v ahead, past %s; nothing was reserved", e.wait.Round(time.Millisecond), limit)
}

func (e *scheduleFull) Is(target error) bool { return target == sesconnector.ErrThrottled }
