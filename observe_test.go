package sesconnector_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

type ctxKey string

// recordingObserver keeps every call, and marks the context it returns.
type recordingObserver struct {
	name  string
	mu    sync.Mutex
	calls []string
	infos []ses.SendInfo
	done  []ses.SendResult
	ctxOK []bool // whether SendDone got the context SendStart returned
}

func (o *recordingObserver) SendStart(ctx context.Context, s ses.SendInfo) context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, o.name+" start")
	o.infos = append(o.infos, s)
	return context.WithValue(ctx, ctxKey(o.name), true)
}

func (o *recordingObserver) SendDone(ctx context.Context, s ses.SendInfo, r ses.SendResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, o.name+" done")
	o.done = append(o.done, r)
	o.ctxOK = append(o.ctxOK, ctx.Value(ctxKey(o.name)) == true)
}

func (o *recordingObserver) last(t *testing.T) ses.SendResult {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	require.NotEmpty(t, o.done)
	return o.done[len(o.done)-1]
}

// ctxSES remembers whether the SES call got the observer's context.
type ctxSES struct {
	mockSES
	sawSpan bool
}

func (c *ctxSES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	c.sawSpan = ctx.Value(ctxKey("first")) == true
	return c.mockSES.SendEmail(ctx, in, opts...)
}

func TestObserverOutcomes(t *testing.T) {
	t.Parallel()
	rejected := &types.MessageRejected{Message: new("Email address is not verified.")}
	cases := []struct {
		name     string
		opts     func() []ses.Option
		to       string
		payload  ses.Payload
		ctx      func() (context.Context, context.CancelFunc)
		outcome  ses.Outcome
		template string
		region   string
	}{
		{name: "sent", outcome: ses.OutcomeSent, template: "templates[0]", region: "eu-west-1"},
		{name: "sent in Portuguese", payload: ses.Payload{"code": "1", "locale": "pt-BR"}, outcome: ses.OutcomeSent, template: "templates[1]", region: "eu-west-1"},
		{name: "bad recipient", to: "Jane <jane@example.com>", outcome: ses.OutcomeInvalid},
		{name: "unresolved placeholder", payload: ses.Payload{}, outcome: ses.OutcomeInvalid, template: "templates[0]"},
		{name: "suppressed", opts: func() []ses.Option {
			return []ses.Option{ses.WithClient(&suppressionSES{suppressed: map[string]types.SuppressionListReason{"jane@example.com": types.SuppressionListReasonBounce}}), ses.WithSuppressionCheck(time.Hour)}
		}, outcome: ses.OutcomeSuppressed, template: "templates[0]"},
		{name: "recipient limited", opts: func() []ses.Option {
			return []ses.Option{ses.WithClient(&mockSES{}), ses.WithRecipientLimit(ses.NewMemoryLimiter(0, time.Hour))}
		}, outcome: ses.OutcomeRecipientLimited, template: "templates[0]"},
		{name: "throttled", opts: func() []ses.Option {
			return []ses.Option{ses.WithClient(&mockSES{err: &types.TooManyRequestsException{}})}
		}, outcome: ses.OutcomeThrottled, template: "templates[0]", region: "eu-west-1"},
		{name: "rejected", opts: func() []ses.Option { return []ses.Option{ses.WithClient(&mockSES{err: rejected})} },
			outcome: ses.OutcomeRejected, template: "templates[0]", region: "eu-west-1"},
		{name: "failed: no network", opts: func() []ses.Option {
			return []ses.Option{ses.WithClient(&mockSES{err: errors.New("dial tcp: connection refused")})}
		}, outcome: ses.OutcomeFailed, template: "templates[0]", region: "eu-west-1"},
		{name: "failed: access denied", opts: func() []ses.Option {
			return []ses.Option{ses.WithClient(&mockSES{err: &smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}})}
		}, outcome: ses.OutcomeFailed, template: "templates[0]", region: "eu-west-1"},
		{name: "canceled", opts: func() []ses.Option { return []ses.Option{ses.WithClient(&mockSES{wait: true})} },
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Millisecond)
			},
			outcome: ses.OutcomeCanceled, template: "templates[0]", region: "eu-west-1"},
		{name: "canceled before", ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, outcome: ses.OutcomeCanceled, template: "templates[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first, second := &recordingObserver{name: "first"}, &recordingObserver{name: "second"}
			opts := []ses.Option{ses.WithClient(&mockSES{})}
			if tc.opts != nil {
				opts = tc.opts()
			}
			opts = append(opts, ses.WithObserver(first), ses.WithObserver(second), ses.WithMaxSendRate(1000))
			c, err := ses.New(context.Background(), testConfig(), opts...)
			require.NoError(t, err)
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			to, payload := "jane@example.com", ses.Payload{"code": "123456"}
			if tc.to != "" {
				to = tc.to
			}
			if tc.payload != nil {
				payload = tc.payload
			}
			id, sendErr := c.SendMessage(ctx, to, ses.UsageSignIn, payload)

			r := first.last(t)
			assert.Equal(t, tc.outcome, r.Outcome)
			assert.Equal(t, tc.template, r.Template)
			assert.Equal(t, tc.region, r.Region)
			assert.Equal(t, id, r.MessageID)
			assert.Equal(t, sendErr, r.Err)
			assert.Equal(t, tc.outcome == ses.OutcomeSent, sendErr == nil)
			assert.Positive(t, r.Duration)
			assert.Equal(t, r, second.last(t), "every observer hears the same")
			assert.Equal(t, []string{"first start", "first done"}, first.calls, "exactly one SendDone")
			assert.Equal(t, []bool{true}, second.ctxOK, "SendDone gets the context SendStart returned")
		})
	}
}

// The context SendStart returns is the one the SES call gets; SendTest is observed too, with
// the locale normalized; SendResult.Locale is the locale of the template used.
func TestObserverContextAndInfo(t *testing.T) {
	t.Parallel()
	api := &ctxSES{}
	o := &recordingObserver{name: "first"}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithObserver(o))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1", "locale": "PT_br"})
	require.NoError(t, err)
	assert.True(t, api.sawSpan)
	_, err = c.SendTest(context.Background(), "admin@example.com")
	require.NoError(t, err)
	assert.Equal(t, []ses.SendInfo{{Usage: ses.UsageSignIn, Locale: "pt-br", To: "jane@example.com"}, {Usage: ses.UsageGeneric, To: "admin@example.com"}}, o.infos, "the recipient as given")
	assert.Equal(t, "pt", o.done[0].Locale, "pt-br asked, the config's pt template used")
	assert.Empty(t, o.done[1].Locale, "the Generic template has no locale")

	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithObserver(nil))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithObserver: the observer is nil")
}

// On the wire, through the real SDK client: SES's typed answers sort as a dashboard needs.
func TestWireObserverOutcomes(t *testing.T) {
	noLeaks(t)
	for _, tc := range []struct {
		status   int
		errType  string
		outcome  ses.Outcome
		attempts int
	}{
		{http.StatusBadRequest, "MessageRejected", ses.OutcomeRejected, 1},
		{http.StatusBadRequest, "MailFromDomainNotVerifiedException", ses.OutcomeRejected, 1},
		{http.StatusNotFound, "NotFoundException", ses.OutcomeRejected, 1},
		{http.StatusForbidden, "AccessDeniedException", ses.OutcomeFailed, 1},
		{http.StatusTooManyRequests, "TooManyRequestsException", ses.OutcomeThrottled, 1},
		{http.StatusInternalServerError, "InternalFailure", ses.OutcomeFailed, 1},
	} {
		o := &recordingObserver{name: "first"}
		c, srv := wireConnector(t, testConfig(), ses.WithObserver(o), ses.WithRetryMaxAttempts(tc.attempts))
		srv.Respond(func(int, sestest.Request) sestest.Response {
			return sestest.Error(tc.status, tc.errType, "as SES says it")
		})
		_, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.Error(t, err)
		assert.Equal(t, tc.outcome, o.last(t).Outcome, tc.errType)
	}
}

// BenchmarkSendNoObserver is a send to a client that answers at once, without an observer:
// its allocations are the library's own, and an observer-less send has no more of them than
// before observers existed.
func BenchmarkSendNoObserver(b *testing.B) {
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(quietSES{}))
	require.NoError(b, err)
	ctx := context.Background()
	payload := ses.Payload{"code": "123456"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, payload); err != nil {
			b.Fatal(err)
		}
	}
}
