package sesconnector_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// twoRegions is a Connector over eu-west-1 and us-west-2, each an SES-shaped server.
func twoRegions(t *testing.T, opts ...ses.Option) (*ses.Connector, *sestest.Server, *sestest.Server, *recordingObserver) {
	t.Helper()
	primary, secondary := sestest.New(t), sestest.New(t)
	cfg := testConfig()
	cfg.FailoverRegions = []string{"us-west-2"}
	o := &recordingObserver{name: "first"}
	c, err := ses.New(context.Background(), cfg, append([]ses.Option{
		ses.WithRegionEndpoint("eu-west-1", primary.URL), ses.WithRegionEndpoint("us-west-2", secondary.URL),
		ses.WithRetryMaxAttempts(1), ses.WithObserver(o)}, opts...)...)
	require.NoError(t, err)
	return c, primary, secondary, o
}

func sendCode(c *ses.Connector, ctx context.Context) (string, error) {
	return c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
}

func TestFailoverMovesOnForRegionalFailures(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		name string
		fail sestest.Response
	}{
		{"5xx", sestest.Error(http.StatusServiceUnavailable, "ServiceUnavailable", "down")},
		{"throttled", sestest.Error(http.StatusTooManyRequests, "TooManyRequestsException", "slow down")},
	} {
		c, primary, secondary, o := twoRegions(t)
		primary.Respond(func(int, sestest.Request) sestest.Response { return tc.fail })
		id, err := sendCode(c, context.Background())
		require.NoError(t, err, tc.name)
		assert.Equal(t, "sestest-1", id, tc.name)
		assert.Equal(t, "us-west-2", o.last(t).Region, "%s: the region that took it", tc.name)
		assert.Len(t, primary.Requests(), 1)
		assert.Len(t, secondary.Requests(), 1)
		assert.Contains(t, primary.Requests()[0].Header.Get("Authorization"), "/eu-west-1/ses/aws4_request", tc.name)
		assert.Contains(t, secondary.Requests()[0].Header.Get("Authorization"), "/us-west-2/ses/aws4_request", "%s: signed for its own region", tc.name)
	}
}

// A message SES refused, or an answer without a MessageId, is never sent to another region.
func TestFailoverNeverResendsWhatSESAnswered(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		name    string
		answer  sestest.Response
		outcome ses.Outcome
	}{
		{"refused", sestest.Error(http.StatusBadRequest, "MessageRejected", "Email address is not verified."), ses.OutcomeRejected},
		{"no MessageId", sestest.Response{Body: `{}`}, ses.OutcomeFailed},
	} {
		c, primary, secondary, o := twoRegions(t)
		primary.Respond(func(int, sestest.Request) sestest.Response { return tc.answer })
		_, err := sendCode(c, context.Background())
		require.ErrorIs(t, err, ses.ErrSendFailed, tc.name)
		assert.Empty(t, secondary.Requests(), "%s: not re-sent", tc.name)
		assert.Equal(t, tc.outcome, o.last(t).Outcome, tc.name)
		assert.Equal(t, "eu-west-1", o.last(t).Region, tc.name)
	}
}

// Every region failing: each region's error, named, joined; three failures in a row skip a
// region, and the next sends go straight to the other.
func TestFailoverAllFailAndSkip(t *testing.T) {
	noLeaks(t)
	c, primary, secondary, _ := twoRegions(t)
	down := func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusInternalServerError, "InternalFailure", "down")
	}
	primary.Respond(down)
	secondary.Respond(down)
	_, err := sendCode(c, context.Background())
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Contains(t, err.Error(), "eu-west-1: sesconnector: send failed")
	assert.Contains(t, err.Error(), "us-west-2: sesconnector: send failed")
	var many interface{ Unwrap() []error }
	require.ErrorAs(t, err, &many)
	assert.Len(t, many.Unwrap(), 2)

	secondary.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{} })
	for range 2 {
		_, err := sendCode(c, context.Background())
		require.NoError(t, err)
	}
	assert.Len(t, primary.Requests(), 3, "three failures in a row")
	for range 5 {
		_, err := sendCode(c, context.Background())
		require.NoError(t, err)
	}
	assert.Len(t, primary.Requests(), 3, "then skipped: no more attempts for 30 s")
	assert.Len(t, secondary.Requests(), 1+2+5)
}

// A hung primary gets half the caller's time; the send goes out through the other region
// within the deadline (the context's own: no wall-clock bound a loaded machine could break).
func TestFailoverWithinDeadline(t *testing.T) {
	noLeaks(t)
	c, primary, _, o := twoRegions(t)
	primary.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{Hang: true} })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	_, err := sendCode(c, ctx)
	require.NoError(t, err, "sent within the caller's deadline")
	assert.Equal(t, "us-west-2", o.last(t).Region)
	assert.Len(t, primary.Requests(), 1, "the hung primary was tried once")
}

// The suppression list is per region: the look-up asks the region the send goes to.
func TestFailoverSuppressionInTheSendingRegion(t *testing.T) {
	noLeaks(t)
	c, primary, secondary, _ := twoRegions(t, ses.WithSuppressionCheck(time.Millisecond))
	notListed := func(_ int, req sestest.Request) sestest.Response {
		if strings.HasPrefix(req.Path, "/v2/email/suppression/") {
			return sestest.Error(http.StatusNotFound, "NotFoundException", "not on the list")
		}
		return sestest.Error(http.StatusInternalServerError, "InternalFailure", "down")
	}
	primary.Respond(notListed)
	for range 3 { // three failures: the primary is skipped
		_, err := sendCode(c, context.Background())
		require.NoError(t, err)
	}
	secondary.Respond(func(_ int, req sestest.Request) sestest.Response {
		if strings.HasPrefix(req.Path, "/v2/email/suppression/") {
			return sestest.Response{Body: `{"SuppressedDestination":{"EmailAddress":"jane@example.com","Reason":"BOUNCE","LastUpdateTime":1772366400}}`}
		}
		return sestest.Response{}
	})
	time.Sleep(2 * time.Millisecond)
	_, err := sendCode(c, context.Background())
	require.ErrorIs(t, err, ses.ErrSuppressed, "asked in us-west-2, where the send would go")
}

func TestFailoverConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.FailoverRegions = []string{"us-west-2"}
	_, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithClient: one client cannot fail over")
	_, err = ses.New(context.Background(), cfg, ses.WithRegionEndpoint("mars", "x"))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `WithRegionEndpoint: "mars" is not an AWS region name`)
	assert.Contains(t, err.Error(), `WithRegionEndpoint: "x" is not an http or https URL`)
	assert.False(t, errors.Is(err, ses.ErrSendFailed))
}

// BenchmarkFailoverHealthy alternates sends through a Connector with failoverRegions (the
// primary healthy) and one without, to one SES-shaped loopback server, timing each: the ratio
// is what failover costs while nothing fails.
func BenchmarkFailoverHealthy(b *testing.B) {
	srv := sestest.New(b)
	cfg := testConfig()
	plain, err := ses.New(context.Background(), cfg, ses.WithEndpoint(srv.URL))
	require.NoError(b, err)
	fcfg := testConfig()
	fcfg.FailoverRegions = []string{"us-west-2"}
	failover, err := ses.New(context.Background(), fcfg, ses.WithRegionEndpoint("eu-west-1", srv.URL), ses.WithRegionEndpoint("us-west-2", srv.URL))
	require.NoError(b, err)
	ctx := context.Background()
	send := func(c *ses.Connector) time.Duration {
		start := time.Now()
		if _, err := sendCode(c, ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var tPlain, tFailover time.Duration
	n := 0
	for b.Loop() {
		n++
		if n%2 == 0 {
			tPlain += send(plain)
			tFailover += send(failover)
		} else {
			tFailover += send(failover)
			tPlain += send(plain)
		}
	}
	b.ReportMetric(float64(tFailover)/float64(tPlain), "failover/plain")
}
