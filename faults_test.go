package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// refusingLimiter refuses every reservation longer than the caller accepts, taking nothing, as
// a shared schedule that is already full does; it records the longest wait it was offered.
type refusingLimiter struct {
	ahead time.Duration // how far ahead the schedule is

	mu      sync.Mutex
	offered []time.Duration // MaxWait of each call; -1 for none
	taken   int
}

var errFull = fmt.Errorf("%w: the schedule is full", ses.ErrThrottled)

func (l *refusingLimiter) Reserve(ctx context.Context) (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	longest, ok := ses.MaxWait(ctx)
	if !ok {
		longest = -1
	}
	l.offered = append(l.offered, longest)
	if ok && l.ahead > longest {
		return l.ahead, errFull
	}
	l.taken++
	return l.ahead, nil
}

// The Connector offers the limiter the caller's time left, and a refusal that took nothing
// refuses the send with ErrThrottled: nothing is sent, and it is not a limiter failure (no
// ERROR, no fail-open).
func TestSharedRateRefusalTakesNothing(t *testing.T) {
	t.Parallel()
	l := &refusingLimiter{ahead: 3 * time.Second}
	var logs safeBuffer
	c, m := newConnector(t, testConfig(), ses.WithSendRateLimiter(l), ses.WithLogger(jsonLogger(&logs)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.ErrorIs(t, err, ses.ErrThrottled)
	require.ErrorIs(t, err, errFull, "the limiter's own error is reachable")
	assert.Contains(t, err.Error(), "the shared send rate refused this send")
	assert.Empty(t, m.Calls(), "nothing sent")
	assert.NotContains(t, logs.String(), "shared send rate limiter failed", "a refusal is an answer, not a failure")

	l.mu.Lock()
	require.Len(t, l.offered, 1)
	assert.Greater(t, l.offered[0], time.Second, "offered the caller's time left")
	assert.LessOrEqual(t, l.offered[0], 2*time.Second)
	assert.Zero(t, l.taken, "a refused reservation takes nothing")
	l.mu.Unlock()

	// Without a deadline there is no longest wait: the limiter's own bound decides.
	_, err = c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	l.mu.Lock()
	assert.Equal(t, time.Duration(-1), l.offered[1])
	l.mu.Unlock()
}

// safeBuffer is a log destination for concurrent senders.
type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// regionPair is a config failing over from eu-west-1 to us-west-2, each an SES-shaped server, with
// the SDK's own retries.
func regionPair(t *testing.T, opts ...ses.Option) (*ses.Connector, *sestest.Server, *sestest.Server) {
	t.Helper()
	primary, secondary := sestest.New(t), sestest.New(t)
	cfg := testConfig()
	cfg.FailoverRegions = []string{"us-west-2"}
	c, err := ses.New(context.Background(), cfg, append([]ses.Option{
		ses.WithRegionEndpoint("eu-west-1", primary.URL), ses.WithRegionEndpoint("us-west-2", secondary.URL),
	}, opts...)...)
	require.NoError(t, err)
	return c, primary, secondary
}

func sendEmails(s *sestest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Path == "/v2/email/outbound-emails" {
			n++
		}
	}
	return n
}

// A lost answer (SES took the request, the connection reset before the answer) gives at most
// one copy per region with failoverRegions: the SDK does not retry it in the region, the next
// region sends it. Without failoverRegions the SDK's retries stay: up to three copies.
func TestLostAnswerOneCopyPerRegion(t *testing.T) {
	t.Parallel()
	c, primary, secondary := regionPair(t)
	primary.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{Reset: true} })
	id, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	assert.Equal(t, 1, sendEmails(primary), "one copy in the region that lost the answer")
	assert.Equal(t, 1, sendEmails(secondary), "one copy in the next region")

	// Both lose the answer: one copy each, and the error joins both.
	secondary.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{Reset: true} })
	_, err = c.SendMessage(context.Background(), "john@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Equal(t, 2, sendEmails(primary))
	assert.Equal(t, 2, sendEmails(secondary))

	// A connection refused never reached SES: the SDK may try it again in the region.
	// One region without failover: the SDK's three attempts, each a copy SES may have taken.
	single := sestest.New(t)
	single.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{Reset: true} })
	one, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(single.URL))
	require.NoError(t, err)
	_, err = one.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Equal(t, 3, sendEmails(single), "without failover a lost answer is retried by the SDK: up to 3 copies")
}

// A refused message (4xx) is never sent in another region, whatever the error type.
func TestRefusalNotSentElsewhere(t *testing.T) {
	t.Parallel()
	for _, r := range []sestest.Response{
		sestest.Error(http.StatusBadRequest, "MessageRejected", "Email address is not verified."),
		sestest.Error(http.StatusBadRequest, "BadRequestException", "Invalid domain"),
		sestest.Error(http.StatusForbidden, "AccessDeniedException", "not authorized"),
	} {
		c, primary, secondary := regionPair(t)
		primary.Respond(func(int, sestest.Request) sestest.Response { return r })
		_, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
		require.ErrorIs(t, err, ses.ErrSendFailed, r.ErrorType)
		assert.Equal(t, 1, sendEmails(primary), r.ErrorType)
		assert.Zero(t, sendEmails(secondary), "%s: not sent in another region", r.ErrorType)
	}
}

// insightsRegions is an InsightsAPI per region for the fault tests: each answers, fails, hangs
// or lacks the operation, and records the deadline each look-up had.
type regionInsights struct {
	mockSES
	mu        sync.Mutex
	fail      error
	hang      bool
	lookups   int
	deadlines []time.Duration // each look-up's time left when it came
}

func (r *regionInsights) GetEmailAddressInsights(ctx context.Context, in *sesv2.GetEmailAddressInsightsInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailAddressInsightsOutput, error) {
	r.mu.Lock()
	r.lookups++
	if d, ok := ctx.Deadline(); ok {
		r.deadlines = append(r.deadlines, time.Until(d))
	}
	fail, hang := r.fail, r.hang
	r.mu.Unlock()
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if fail != nil {
		return nil, fail
	}
	return knownAddresses["jnae@exmaple.com"], nil
}

func (r *regionInsights) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups
}

// A look-up never spends more than half of a caller's time left (nor 2 s): a sign-up with 1 s
// left waits at most 500 ms for a hanging look-up and goes ahead; its look-up had that budget.
func TestInsightsBudgetIsHalfTheCallersTime(t *testing.T) {
	t.Parallel()
	api := &regionInsights{hang: true}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}))
	require.NoError(t, err)
	for i, left := range []time.Duration{time.Second, 10 * time.Second} {
		ctx, cancel := context.WithTimeout(context.Background(), left)
		_, err := c.SendMessage(ctx, fmt.Sprintf("new%d@example.com", i), ses.UsageRegister, ses.Payload{"code": "123456"})
		cancel()
		require.NoError(t, err, "a slow look-up fails open")
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	require.Len(t, api.deadlines, 2)
	assert.LessOrEqual(t, api.deadlines[0], 500*time.Millisecond, "half of 1 s")
	assert.LessOrEqual(t, api.deadlines[1], 2*time.Second, "2 s at most")
	assert.Len(t, api.Calls(), 2, "both sent")
}

// Three failed look-ups in a row skip look-ups for 30 s (sends go ahead); one bare 404 does not
// turn insights off, three "unknown operation" answers in a row do (and say so once).
func TestInsightsUnderRepeatedFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fail error
		warn string
	}{
		{"5xx", errors.New("https response error StatusCode: 503, ServiceUnavailable"), "address insights look-up failed"},
		{"unknown operation", &smithy.GenericAPIError{Code: "UnknownOperationException", Message: "Unknown operation"}, "does not implement GetEmailAddressInsights"},
	}
	for _, tc := range cases {
		api := &regionInsights{fail: tc.fail}
		var logs safeBuffer
		c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}), ses.WithLogger(jsonLogger(&logs)))
		require.NoError(t, err)
		for i := range 6 {
			_, err := c.SendMessage(context.Background(), fmt.Sprintf("u%d@example.com", i), ses.UsageRegister, ses.Payload{"code": "123456"})
			require.NoError(t, err, tc.name)
			if i == 0 {
				assert.Equal(t, 1, api.count(), "%s: one failure is not enough to stop asking", tc.name)
			}
		}
		assert.Equal(t, 3, api.count(), "%s: asked three times, then skipped", tc.name)
		assert.Len(t, api.Calls(), 6, "%s: every sign-up sent", tc.name)
		assert.Contains(t, logs.String(), tc.warn)
		assert.NotContains(t, logs.String(), "u0@")
	}
}

// The look-up goes where the send goes first: with the primary failing (and so skipped), a
// sign-up's insights are asked in us-west-2, and the sign-up is sent there.
func TestInsightsFollowTheRegionOrder(t *testing.T) {
	t.Parallel()
	c, primary, secondary := regionPair(t, ses.WithRetryMaxAttempts(1), ses.WithAddressInsights(ses.InsightsPolicy{}))
	primary.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusServiceUnavailable, "ServiceUnavailable", "down")
	})
	answer := `{"MailboxValidation":{"IsValid":{"ConfidenceVerdict":"HIGH"}}}`
	secondary.Respond(func(_ int, r sestest.Request) sestest.Response {
		if r.Path == "/v2/email/email-address-insights" {
			return sestest.Response{Body: answer}
		}
		return sestest.Response{}
	})
	for i := range 3 { // three regional failures: the primary is skipped
		_, err := c.SendMessage(context.Background(), fmt.Sprintf("u%d@example.com", i), ses.UsageSignIn, ses.Payload{"code": "123456"})
		require.NoError(t, err, "failed over")
	}
	before := len(primary.Requests())
	_, err := c.SendMessage(context.Background(), "new@example.com", ses.UsageRegister, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.Equal(t, before, len(primary.Requests()), "nothing asked of the skipped primary")
	var paths []string
	for _, r := range secondary.Requests() {
		paths = append(paths, r.Path)
	}
	assert.Equal(t, []string{"/v2/email/outbound-emails", "/v2/email/outbound-emails", "/v2/email/outbound-emails",
		"/v2/email/email-address-insights", "/v2/email/outbound-emails"}, paths)
}
