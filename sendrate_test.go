package sesconnector

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The promise of WithMaxSendRate, checked on the limiter's own clock: whatever the arrivals,
// no window of one second holds more than ceil(r) send starts, a first burst of ceil(r) goes at
// once, and the long-run rate is r.
func TestSendRateWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []float64{0.5, 1, 2.5, 3, 7, 10, 14, 100, 1000} {
		n := int(math.Ceil(r))
		rng := rand.New(rand.NewPCG(1, uint64(r*10)))
		for _, arrivals := range map[string]func(i int) time.Duration{
			"one burst": func(int) time.Duration { return 0 },
			"random":    func(int) time.Duration { return time.Duration(rng.Int64N(int64(3 * time.Second))) },
			"steady 2r": func(i int) time.Duration { return time.Duration(float64(i) / (2 * r) * float64(time.Second)) },
		} {
			l := newSendRate(r)
			asked := make([]time.Time, 20*n+5)
			for i := range asked {
				asked[i] = t0.Add(arrivals(i))
			}
			slices.SortFunc(asked, time.Time.Compare)
			starts := make([]time.Time, len(asked))
			for i, at := range asked {
				var ok bool
				starts[i], ok = l.reserve(at, time.Time{})
				require.True(t, ok)
				require.False(t, starts[i].Before(at), "no send starts before it is asked for")
			}
			slices.SortFunc(starts, time.Time.Compare)
			for i := 0; i+n < len(starts); i++ {
				require.GreaterOrEqual(t, starts[i+n].Sub(starts[i]), time.Second, "r=%v: %d sends within one second", r, n+1)
			}
			if asked[n-1] == t0 {
				assert.Equal(t, t0, starts[n-1], "r=%v: a burst of ceil(r) goes at once", r)
			}
			span := starts[len(starts)-1].Sub(starts[0]).Seconds()
			assert.InDelta(t, float64(len(starts)-n)/r, span, float64(len(starts)/n)*rateGuard.Seconds()+3, "r=%v: long-run rate", r)
		}
	}
}

func TestSendRateDeadline(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	l := newSendRate(1)
	_, ok := l.reserve(t0, t0.Add(time.Millisecond))
	require.True(t, ok)
	_, ok = l.reserve(t0, t0.Add(500*time.Millisecond))
	require.False(t, ok, "the next place is a second away")
	at, ok := l.reserve(t0, time.Time{})
	require.True(t, ok, "a refused send took no place")
	assert.Equal(t, t0.Add(time.Second+rateGuard), at)
}
