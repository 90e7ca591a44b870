package redislimit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/cutproxy"
	"github.com/sesconnector/sesconnector/internal/redistest"
	"github.com/sesconnector/sesconnector/redislimit"
)

// The fault suite runs this test binary again as replica processes: with
// SESCONNECTOR_REPLICA set, it is one replica of an auth service, not a test run.
func TestMain(m *testing.M) {
	redis.SetLogger(quiet{}) // tests stop Redis on purpose; its pool's dial failures are expected
	if os.Getenv("SESCONNECTOR_REPLICA") != "" {
		os.Exit(runReplica())
	}
	os.Exit(m.Run())
}

// quiet drops go-redis's own log lines.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// runReplica offers OFFER sends a second, each with a 2-s deadline, for DURATION, through its
// own Connector sharing the schedule in REDIS_URL at RATE, to the sink at SES_URL; it prints
// how many were sent, refused (ErrThrottled) and failed, and exits 1 on any other outcome.
func runReplica() int {
	env := func(k string) string { return os.Getenv(k) }
	rate, _ := strconv.ParseFloat(env("RATE"), 64)
	offer, _ := strconv.ParseFloat(env("OFFER"), 64)
	duration, _ := time.ParseDuration(env("DURATION"))
	opts, err := redislimit.Options(env("REDIS_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	cfg := config()
	cfg.AccessKeyID, cfg.AccessKeySecret = "AKIAIOSFODNN7EXAMPLE", "fake-secret-for-the-fault-suite"
	c, err := sesconnector.New(context.Background(), cfg, sesconnector.WithEndpoint(env("SES_URL")), sesconnector.WithRetryMaxAttempts(1),
		sesconnector.WithSendRateLimiter(redislimit.NewSendRate(rdb, "fault-suite", rate)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var sent, refused, other atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / offer))
	defer tick.Stop()
	for stop := time.Now().Add(duration); time.Now().Before(stop); <-tick.C {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := c.SendMessage(ctx, "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
			switch {
			case err == nil:
				sent.Add(1)
			case errors.Is(err, sesconnector.ErrThrottled):
				refused.Add(1)
			default:
				other.Add(1)
				fmt.Fprintln(os.Stderr, err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("sent %d refused %d other %d\n", sent.Load(), refused.Load(), other.Load())
	if other.Load() > 0 {
		return 1
	}
	return 0
}

// sink is an SES-shaped server that notes when each SendEmail arrived.
type sink struct {
	mu    sync.Mutex
	start time.Time
	times []time.Duration // since start
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.times = append(s.times, time.Since(s.start))
	s.mu.Unlock()
	_, _ = io.WriteString(w, `{"MessageId":"sink"}`)
}

// perSecond is the arrivals in each whole second of the run.
func (s *sink) perSecond(seconds int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make([]int, seconds)
	for _, t := range s.times {
		if i := int(t / time.Second); i < seconds {
			counts[i]++
		}
	}
	return counts
}

// busiest is the most arrivals in any window of one second inside [from, to).
func (s *sink) busiest(from, to time.Duration) int {
	s.mu.Lock()
	ts := slices.Clone(s.times)
	s.mu.Unlock()
	slices.Sort(ts)
	ts = slices.DeleteFunc(ts, func(t time.Duration) bool { return t < from || t >= to })
	most, j := 0, 0
	for i := range ts {
		for ts[i]-ts[j] >= time.Second {
			j++
		}
		most = max(most, i-j+1)
	}
	return most
}

// A fault in Redis must never become a sign-in outage, nor let the replicas together pass the
// account's rate once it heals. Four replica processes share NewSendRate at 40/s on a real
// redis-server behind a cutting proxy, offering 64/s together (a wave), each send with a 2-s
// deadline. Redis is killed and started again, blackholed, slowed by 300 ms, and FLUSHALL'd.
// Outside each fault and the 2 s after it: no 1-s window at the sink carries over
// ceil(40)+1, and every second carries at least 90% of the rate. Every send is sent or
// refused with ErrThrottled (none fails otherwise), and every key Redis holds has a TTL.
func TestFaultSuiteSharedRate(t *testing.T) {
	const (
		rate     = 40.0
		replicas = 4
		offer    = 16.0 // per replica: 64/s in all, 1.6 times the rate
		run      = 34 * time.Second
		back     = 2 * time.Second // after a fault heals, back within the bound and the rate
	)
	srv := redistest.StartForTest(t)
	p := cutproxy.Start(t, "redis://"+srv.Addr)
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer func() { direct.Close() }()

	sk := &sink{start: time.Now()}
	ses := httptest.NewUnstartedServer(sk)
	ses.Config.ReadHeaderTimeout, ses.Config.IdleTimeout = 5*time.Second, 30*time.Second
	ses.Start()
	defer ses.Close()

	// The faults, in seconds of the run: [from, healed).
	type fault struct {
		name       string
		from, heal time.Duration
		start, end func()
	}
	faults := []fault{
		{"kill", 5 * time.Second, 8 * time.Second, func() { srv.Stop() }, func() {
			srv = redistest.StartForTest(t) // a new, empty Redis on another port
			p.SetTarget(srv.Addr)
			direct.Close()
			direct = redis.NewClient(&redis.Options{Addr: srv.Addr})
		}},
		{"blackhole", 12 * time.Second, 15 * time.Second, p.Blackhole, p.Restore},
		{"slow 300 ms", 19 * time.Second, 22 * time.Second, func() { p.Delay(300 * time.Millisecond) }, p.Restore},
		{"flushall", 26 * time.Second, 26 * time.Second, func() { direct.FlushAll(context.Background()) }, func() {}},
	}

	var outs [replicas]strings.Builder
	var errs [replicas]strings.Builder
	var procs []*exec.Cmd
	sk.mu.Lock()
	sk.start = time.Now()
	sk.mu.Unlock()
	for i := range replicas {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SESCONNECTOR_REPLICA=1", "REDIS_URL=redis://"+p.Addr+"/0", "SES_URL="+ses.URL,
			"RATE="+strconv.FormatFloat(rate, 'f', -1, 64), "OFFER="+strconv.FormatFloat(offer, 'f', -1, 64), "DURATION="+run.String())
		cmd.Stdout, cmd.Stderr = &outs[i], &errs[i]
		require.NoError(t, cmd.Start())
		procs = append(procs, cmd)
	}
	defer func() {
		for _, cmd := range procs {
			_ = cmd.Process.Kill()
		}
	}()
	begin := time.Now()
	for _, f := range faults {
		time.Sleep(time.Until(begin.Add(f.from)))
		f.start()
		time.Sleep(time.Until(begin.Add(f.heal)))
		f.end()
	}
	for i, cmd := range procs {
		err := cmd.Wait()
		assert.NoError(t, err, "replica %d: every send sent or refused with ErrThrottled:\n%s", i, errs[i].String())
		t.Logf("replica %d: %s", i, strings.TrimSpace(outs[i].String()))
	}

	seconds := int(run / time.Second)
	counts := sk.perSecond(seconds)
	t.Logf("sends at the sink, second by second: %v", counts)
	// The quiet spans: from 2 s after the start (the replicas start up) or a fault's heal, to
	// the next fault.
	bound := int(math.Ceil(rate)) + 1
	floor := int(0.9 * rate)
	spanStart := back
	for _, span := range append(faults, fault{name: "end", from: run - time.Second}) {
		from, to := spanStart, span.from
		if to > from {
			most := sk.busiest(from, to)
			assert.LessOrEqual(t, most, bound, "no 1-s window over ceil(rate)+1 in [%v, %v) (before %s)", from, to, span.name)
			for s := int(from / time.Second); s < int(to/time.Second); s++ {
				assert.GreaterOrEqual(t, counts[s], floor, "second %d carries at least 90%% of the rate (before %s)", s, span.name)
			}
			t.Logf("[%v, %v) before %s: busiest second %d, slowest whole second %d", from, to, span.name, most, slices.Min(counts[int(from/time.Second):int(to/time.Second)]))
		}
		spanStart = span.heal + back
	}

	// Every key has a TTL: a stalled schedule never stays behind.
	keys, err := direct.Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	for _, k := range keys {
		ttl, err := direct.PTTL(context.Background(), k).Result()
		require.NoError(t, err)
		if ttl == -2 { // expired between KEYS and PTTL: gone, as it should be
			continue
		}
		// -1 would mean no expiry; 0 is a key in its last millisecond.
		assert.GreaterOrEqual(t, ttl, time.Duration(0), "key %s has a TTL", k)
		assert.LessOrEqual(t, ttl, 3*time.Second, "key %s is at most the horizon and a second ahead", k)
	}
}
