package sesconnector

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"
)

// sendRate is WithMaxSendRate's limit: no window of one second carries more than
// n = ceil(perSecond) sends. Each send takes the place of the send n before it, once that one
// is n/perSecond old (a sliding log): a burst of up to n goes at once, and the long-run rate is
// perSecond. A token bucket such as golang.org/x/time/rate cannot promise that: its full
// bucket plus a second's refill lets about 2n through the first second.
type sendRate struct {
	mu     sync.Mutex
	window time.Duration // n/perSecond, and a little more: see rateGuard
	starts []time.Time   // the last n start times, the oldest at next
	next   int
}

// rateGuard widens the window a little so that a send delayed on its way out by the
// scheduler still lands outside the window of the send n after it.
const rateGuard = 5 * time.Millisecond

func newSendRate(perSecond float64) *sendRate {
	n := int(math.Ceil(perSecond))
	return &sendRate{
		window: time.Duration(float64(n)/perSecond*float64(time.Second)) + rateGuard,
		starts: make([]time.Time, n),
	}
}

// reserve returns when a send asked for at now may start, and takes that place; a send that
// could not start before deadline (zero: none) takes nothing and gets false.
func (l *sendRate) reserve(now, deadline time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := now
	if oldest := l.starts[l.next]; !oldest.IsZero() {
		at = later(at, oldest.Add(l.window))
	}
	if !deadline.IsZero() && at.After(deadline) {
		return time.Time{}, false
	}
	l.starts[l.next] = at
	l.next = (l.next + 1) % len(l.starts)
	return at, true
}

// wait blocks until a send may start, or refuses it at once when it could not start before
// ctx's deadline.
func (l *sendRate) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: before the send rate limit: %w", ErrSendFailed, err)
	}
	deadline, _ := ctx.Deadline()
	now := time.Now()
	at, ok := l.reserve(now, deadline)
	if !ok {
		return fmt.Errorf("%w: the send rate limit would delay this send past the context deadline: %w", ErrThrottled, context.DeadlineExceeded)
	}
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for the send rate limit: %w", ErrSendFailed, ctx.Err())
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
