package sesconnector

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// ErrRecipientLimited reports that WithRecipientLimit refused the send: too many messages went
// to this address lately. It also matches ErrInvalidParameters (the caller asked too often),
// and errors.As reaches a *LimitError with the wait.
var ErrRecipientLimited error = &subError{msg: "sesconnector: recipient limited", parent: ErrInvalidParameters}

// LimitError is a send refused by WithRecipientLimit; RetryAfter is how long until one more
// message may go to the address (for an HTTP Retry-After header, say).
type LimitError struct {
	RetryAfter time.Duration
}

// Error says how long to wait, without the address.
func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: too many messages to this address lately; one more may go in %v", ErrRecipientLimited, e.RetryAfter.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrRecipientLimited) and errors.Is(err, ErrInvalidParameters)
// true.
func (e *LimitError) Unwrap() error { return ErrRecipientLimited }

// RecipientLimiter says whether one more message may go to key now, and if not, when. It
// records the message when it says yes. Keys are opaque: the Connector passes a hash of the
// normalized address, never the address. Allow should return when ctx ends: the Connector
// gives each call a short budget (WithLimiterTimeout) and sends without the answer after it.
type RecipientLimiter interface {
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
}

// WithRecipientLimit checks l before every send: after the message is composed and valid (so a
// bad request does not count), before the suppression check and SES. Messages are counted per
// address, lower-cased, whatever the usage type: a caller that picks the usage type must not
// multiply the limit by nine. A refused send is an ErrRecipientLimited with a *LimitError, and
// nothing is sent. A limiter error, or no answer within WithLimiterTimeout (250 ms by default),
// is logged, once for each run of failures, and the send goes ahead: a slow or broken limiter
// must not hold or stop sign-ins.
func WithRecipientLimit(l RecipientLimiter) Option {
	return func(o *options) {
		if isNil(l) {
			o.problems.add("WithRecipientLimit", "the limiter is nil; use NewMemoryLimiter or a shared one such as redislimit's")
		}
		o.recipientLimit = l
	}
}

// WithLimiterTimeout is the budget of each limiter call (default 250 ms): a limiter that has
// not answered by then is taken as failed, and the send goes ahead.
func WithLimiterTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.problems.add("WithLimiterTimeout", fmt.Sprintf("a timeout of %v; give a positive duration, such as 250*time.Millisecond", d))
		}
		o.limiterTimeout = d
	}
}

// defaultLimiterTimeout is the budget of a limiter call when WithLimiterTimeout is not given.
const defaultLimiterTimeout = 250 * time.Millisecond

// recipientKey is what the limiter counts: a hash of the lower-cased address, so that
// JANE@example.com and jane@example.com share a count, every usage type counts against the
// same limit, and no address is stored.
func recipientKey(to string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(to)))
	return base64.RawURLEncoding.EncodeToString(sum[:18])
}

// recipientGate applies the limiter to one send, within its budget, failing open.
type recipientGate struct {
	limiter  RecipientLimiter
	timeout  time.Duration
	inMemory bool // NewMemoryLimiter's: it answers in nanoseconds, so no budget is kept
	failures failureLog
}

func newRecipientGate(l RecipientLimiter, timeout time.Duration) *recipientGate {
	if timeout <= 0 {
		timeout = defaultLimiterTimeout
	}
	_, inMemory := l.(*memoryLimiter)
	return &recipientGate{limiter: l, timeout: timeout, inMemory: inMemory, failures: failureLog{what: "recipient limiter"}}
}

// allowed is a limiter's answer.
type allowed struct {
	ok         bool
	retryAfter time.Duration
	err        error
}

func (g *recipientGate) allow(ctx context.Context, to string, logger *slog.Logger) error {
	allow := func(ctx context.Context) allowed {
		ok, retryAfter, err := g.limiter.Allow(ctx, recipientKey(to))
		return allowed{ok, retryAfter, err}
	}
	var a allowed
	if g.inMemory {
		a = allow(ctx)
	} else {
		a = callWithin(ctx, g.timeout, allow)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: waiting for the recipient limiter: %w", ErrSendFailed, err)
	}
	if a.err != nil {
		g.failures.failed(ctx, logger, a.err.Error())
		return nil
	}
	ok, retryAfter := a.ok, a.retryAfter
	g.failures.ok(ctx, logger)
	if !ok {
		return &LimitError{RetryAfter: retryAfter}
	}
	return nil
}

// callWithin runs fn with a context that ends after budget (or with ctx), and returns its
// answer, or an error once that context has ended even if fn has not returned: a limiter that
// does not honour its context finishes on its own, unwaited for.
func callWithin(ctx context.Context, budget time.Duration, fn func(context.Context) allowed) allowed {
	cctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	done := make(chan allowed, 1)
	go func() { done <- fn(cctx) }()
	select {
	case a := <-done:
		return a
	case <-cctx.Done():
		return allowed{err: fmt.Errorf("no answer within %v (WithLimiterTimeout)", budget)}
	}
}

// NewMemoryLimiter allows n messages per key in any window of length per, in this process only
// (use a shared limiter across replicas). It keeps the times of the last n messages of each
// key, and forgets a key once its newest message is older than per, so memory follows the
// keys active in the last per. n < 1 or per <= 0 allows nothing.
func NewMemoryLimiter(n int, per time.Duration) RecipientLimiter {
	l := &memoryLimiter{n: n, per: per, now: time.Now}
	for i := range l.shards {
		l.shards[i].keys = map[string]*window{}
	}
	return l
}

const limiterShards = 32

type memoryLimiter struct {
	n      int
	per    time.Duration
	now    func() time.Time
	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu        sync.Mutex
	keys      map[string]*window
	lastSweep time.Time
}

// window holds the times of a key's last n messages: it grows to n, then the oldest is at
// next. (Growing keeps a large n cheap for the many keys that see one message.)
type window struct {
	times []time.Time
	next  int
}

func (w *window) newest() time.Time { return w.times[(w.next+len(w.times)-1)%len(w.times)] }

// record adds a message at now if the window has room, or returns the wait until it has.
func (w *window) record(now time.Time, n int, per time.Duration) time.Duration {
	if len(w.times) < n {
		w.times = append(w.times, now)
		return 0
	}
	if wait := w.times[w.next].Add(per).Sub(now); wait > 0 {
		return wait
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % n
	return 0
}

// Allow implements RecipientLimiter.
func (l *memoryLimiter) Allow(_ context.Context, key string) (bool, time.Duration, error) {
	if l.n < 1 || l.per <= 0 {
		return false, time.Duration(1<<63 - 1), nil
	}
	now := l.now()
	s := &l.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= l.per {
		s.sweep(now, l.per)
	}
	w := s.keys[key]
	if w == nil {
		w = &window{times: make([]time.Time, 0, min(l.n, 4))}
		s.keys[key] = w
	}
	if wait := w.record(now, l.n, l.per); wait > 0 {
		return false, wait, nil
	}
	return true, 0, nil
}

// sweep forgets the keys that have had no message for per.
func (s *limiterShard) sweep(now time.Time, per time.Duration) {
	for k, w := range s.keys {
		if now.Sub(w.newest()) >= per {
			delete(s.keys, k)
		}
	}
	s.lastSweep = now
}

// shardOf spreads keys over the shards (FNV-1a).
func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % limiterShards)
}
