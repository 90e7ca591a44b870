package sesconnector

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/internal/cutproxy"
	"github.com/sesconnector/sesconnector/internal/emulator"
)

// regionLog records which region took each MessageId.
type regionLog struct {
	mu             sync.Mutex
	region         map[string]string
	firstSecondary time.Time
}

func (l *regionLog) SendStart(ctx context.Context, _ SendInfo) context.Context { return ctx }

func (l *regionLog) SendDone(_ context.Context, _ SendInfo, r SendResult) {
	if r.MessageID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.region[r.MessageID] = r.Region
	if r.Region == "us-west-2" && l.firstSecondary.IsZero() {
		l.firstSecondary = time.Now()
	}
}

// Two regions, each the SES emulator behind a proxy the test cuts: cut the primary in the middle
// of 1,000 concurrent sends. Every send returns a MessageId or an error within its deadline;
// every MessageId is in the store of the region that answered; no store holds a message twice;
// sends go on through the other region; restored, the primary is probed and used again.
func TestFailoverBetweenEmulators(t *testing.T) {
	emuA, emuB := emulator.StartForTest(t), emulator.StartForTest(t)
	proxyA, proxyB := cutproxy.Start(t, emuA.URL), cutproxy.Start(t, emuB.URL)
	cfg := &Config{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AccessKeySecret: "fake-secret-for-failover", Region: "eu-west-1",
		FailoverRegions: []string{"us-west-2"}, EmailAddress: "noreply@example.com",
		Templates: []Template{{UsageType: UsageGeneric, Subject: "Code {{code}}", Content: "<p>{{code}}</p>"}}}
	log := &regionLog{region: map[string]string{}}
	c, err := New(context.Background(), cfg, WithRegionEndpoint("eu-west-1", proxyA.URL), WithRegionEndpoint("us-west-2", proxyB.URL),
		WithRetryMaxAttempts(1), WithObserver(log), withRegionSkip(time.Second))
	require.NoError(t, err)

	const n, deadline = 1000, 10 * time.Second
	var done atomic.Int64
	var cutAt time.Time
	var cutOnce sync.Once
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			_, errs[i] = c.SendMessage(ctx, fmt.Sprintf("u%d@example.com", i), UsageSignIn, Payload{"code": "123456"})
			if done.Add(1) == n/3 {
				cutOnce.Do(func() { cutAt = time.Now(); proxyA.Cut() })
			}
		})
	}
	// Every send returns: none is held by the cut connection. The bound is a liveness check,
	// three deadlines, not a measure of how late a loaded machine runs: a send that waited on
	// the cut primary with no deadline of its own would never return.
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(3 * deadline):
		require.FailNow(t, "sends still running", "%d of %d sends had not returned %v after their deadline", n-int(done.Load()), n, 2*deadline)
	}
	failed := 0
	for i := range n {
		if errs[i] != nil {
			failed++
			assert.ErrorIs(t, errs[i], ErrSendFailed)
		}
	}

	stores := map[string][]emulator.Email{}
	for region, emu := range map[string]*emulator.Emulator{"eu-west-1": emuA, "us-west-2": emuB} {
		stores[region], err = emu.Emails()
		require.NoError(t, err)
	}
	held := map[string]string{}
	perRecipient := map[string]int{}
	for region, emails := range stores {
		seen := map[string]bool{}
		for _, e := range emails {
			held[e.MessageID] = region
			assert.False(t, seen[e.Destination.To[0]], "%s holds a message to %s twice", region, e.Destination.To[0])
			seen[e.Destination.To[0]] = true
			perRecipient[e.Destination.To[0]]++
		}
	}
	log.mu.Lock()
	for id, region := range log.region {
		assert.Equal(t, region, held[id], "MessageId %s is in the store of the region that answered", id)
	}
	bySecondary := 0
	for _, r := range log.region {
		if r == "us-west-2" {
			bySecondary++
		}
	}
	firstSecondary := log.firstSecondary
	log.mu.Unlock()
	assert.Equal(t, n-failed, len(log.region), "every send without an error has a MessageId")
	assert.Positive(t, bySecondary, "sends went on through us-west-2")
	t.Logf("%d sends: %d through eu-west-1, %d through us-west-2 after the cut, %d errors; first send served by us-west-2 %v after the cut",
		n, len(stores["eu-west-1"]), bySecondary, failed, firstSecondary.Sub(cutAt).Round(time.Millisecond))

	// Restored: once the skip is over, one send probes eu-west-1 and it is used again.
	proxyA.Restore()
	time.Sleep(1100 * time.Millisecond)
	before := len(stores["eu-west-1"])
	for i := range 5 {
		_, err := c.SendMessage(context.Background(), fmt.Sprintf("back%d@example.com", i), UsageSignIn, Payload{"code": "123456"})
		require.NoError(t, err)
	}
	after, err := emuA.Emails()
	require.NoError(t, err)
	assert.Equal(t, before+5, len(after), "eu-west-1 probed and used again")
}
