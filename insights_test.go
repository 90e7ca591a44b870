package sesconnector_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/motoserver"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// insightsAnswer is SES's answer for an address, as the SDK's own type.
func insightsAnswer(valid, disposable, role types.EmailAddressInsightsConfidenceVerdict) *sesv2.GetEmailAddressInsightsOutput {
	v := func(c types.EmailAddressInsightsConfidenceVerdict) *types.EmailAddressInsightsVerdict {
		return &types.EmailAddressInsightsVerdict{ConfidenceVerdict: c}
	}
	return &sesv2.GetEmailAddressInsightsOutput{MailboxValidation: &types.MailboxValidation{
		IsValid: v(valid),
		Evaluations: &types.EmailAddressInsightsMailboxEvaluations{
			HasValidSyntax: v("HIGH"), HasValidDnsRecords: v(valid), MailboxExists: v(valid),
			IsDisposable: v(disposable), IsRoleAddress: v(role), IsRandomInput: v("LOW"),
		},
	}}
}

// The addresses the insights tests know.
var knownAddresses = map[string]*sesv2.GetEmailAddressInsightsOutput{
	"jane@example.com":       insightsAnswer("HIGH", "LOW", "LOW"),
	"jnae@exmaple.com":       insightsAnswer("LOW", "LOW", "LOW"),
	"temp@mailinator.test":   insightsAnswer("MEDIUM", "HIGH", "LOW"),
	"admin@example.com":      insightsAnswer("HIGH", "LOW", "HIGH"),
	"gone@example.com":       insightsAnswer("LOW", "LOW", "LOW"),
	"slow@example.com":       insightsAnswer("LOW", "LOW", "LOW"),
	"unanswered@example.com": nil,
}

// insightsSES is mockSES with GetEmailAddressInsights and GetSuppressedDestination.
type insightsSES struct {
	suppressionSES
	lookups atomic.Int64
	gate    chan struct{} // when set, a look-up waits for it, or its context
	fail    error
}

func (s *insightsSES) GetEmailAddressInsights(ctx context.Context, in *sesv2.GetEmailAddressInsightsInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailAddressInsightsOutput, error) {
	s.lookups.Add(1)
	if err := waitGate(ctx, s.gate); err != nil {
		return nil, err
	}
	if s.fail != nil {
		return nil, s.fail
	}
	return knownAddresses[strings.ToLower(*in.EmailAddress)], nil
}

func TestAddressInsightsDefaultPolicy(t *testing.T) {
	t.Parallel()
	api := &insightsSES{}
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	send := func(to string, usage ses.UsageType) error {
		_, err := c.SendMessage(context.Background(), to, usage, ses.Payload{"code": "123456"})
		return err
	}
	require.NoError(t, send("jnae@exmaple.com", ses.UsageSignIn), "SignIn is not checked by default: the address was checked at sign-up")
	assert.Equal(t, int64(0), api.lookups.Load())

	err = send("jnae@exmaple.com", ses.UsageRegister)
	require.ErrorIs(t, err, ses.ErrUndeliverable)
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.False(t, errors.Is(err, ses.ErrSendFailed))
	var a *ses.AddressInsights
	require.ErrorAs(t, err, &a)
	assert.Equal(t, ses.AddressInsights{Address: "jnae@exmaple.com", Valid: "LOW", ValidSyntax: "HIGH", ValidDNS: "LOW", MailboxExists: "LOW",
		Disposable: "LOW", RoleAddress: "LOW", RandomInput: "LOW"}, *a)
	assert.Equal(t, "sesconnector: address undeliverable: SES's address insights for j***@exmaple.com: valid LOW, valid DNS LOW, mailbox exists LOW; check the address for a typo, or ask for another", err.Error())

	require.ErrorIs(t, send("Temp@Mailinator.test", ses.UsageRegister), ses.ErrUndeliverable, "disposable HIGH")
	require.NoError(t, send("admin@example.com", ses.UsageRegister), "a role address passes the default policy")
	require.NoError(t, send("jane@example.com", ses.UsageRegister))
	for range 3 {
		require.ErrorIs(t, send("JNAE@exmaple.com", ses.UsageRegister), ses.ErrUndeliverable)
		require.NoError(t, send("Jane@Example.com", ses.UsageRegister))
	}
	assert.Equal(t, int64(4), api.lookups.Load(), "both answers cached per address, in any letter case")
	assert.Len(t, api.Calls(), 1+1+1+3) // SignIn, admin, jane, and jane three times
	for _, form := range []string{"jnae@", "JNAE", "temp@", "Temp@"} {
		assert.NotContains(t, logs.String(), form)
	}
}

func TestAddressInsightsPolicyAndOrder(t *testing.T) {
	t.Parallel()
	api := &insightsSES{suppressionSES: suppressionSES{suppressed: map[string]types.SuppressionListReason{"gone@example.com": types.SuppressionListReasonBounce}}}
	policy := ses.InsightsPolicy{Usages: []ses.UsageType{ses.UsageSignIn}, TTL: time.Millisecond,
		Refuse: func(a *ses.AddressInsights) bool { return a.RoleAddress == ses.VerdictHigh }}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(policy),
		ses.WithSuppressionCheck(time.Hour), ses.WithRecipientLimit(ses.NewMemoryLimiter(1, time.Hour)))
	require.NoError(t, err)
	send := func(to string) error {
		_, err := c.SendMessage(context.Background(), to, ses.UsageSignIn, ses.Payload{"code": "123456"})
		return err
	}
	require.ErrorIs(t, send("admin@example.com"), ses.ErrUndeliverable, "the policy's own Refuse")
	require.ErrorIs(t, send("gone@example.com"), ses.ErrSuppressed, "the suppression list first: SES is not asked, and not paid")
	require.ErrorIs(t, send("admin@example.com"), ses.ErrRecipientLimited, "the recipient limit before both")
	require.NoError(t, send("jnae@exmaple.com"), "the policy's Refuse passes it")
	assert.Equal(t, int64(2), api.lookups.Load())
	time.Sleep(5 * time.Millisecond)
	_, err = c.AddressInsights(context.Background(), "jnae@exmaple.com")
	require.NoError(t, err)
	assert.Equal(t, int64(3), api.lookups.Load(), "past the policy's TTL, asked again")

	for _, p := range []ses.InsightsPolicy{{TTL: -time.Second}, {Usages: []ses.UsageType{"Login"}}} {
		_, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(p))
		require.ErrorIs(t, err, ses.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "WithAddressInsights: ")
	}
	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithAddressInsights(ses.InsightsPolicy{}))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "no GetEmailAddressInsights")
}

// Concurrent sends to one address share one look-up on a context of its own: a caller that
// gives up gets its own context's error and nothing is sent, the others get the answer.
func TestAddressInsightsSharedLookup(t *testing.T) {
	t.Parallel()
	api := &insightsSES{gate: make(chan struct{})}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}))
	require.NoError(t, err)
	impatient, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		ctx := context.Background()
		if i == 0 {
			ctx = impatient
		}
		wg.Go(func() {
			_, errs[i] = c.SendMessage(ctx, "jnae@exmaple.com", ses.UsageRegister, ses.Payload{"code": "123456"})
		})
	}
	require.Eventually(t, func() bool { return api.lookups.Load() == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	cancel()
	time.Sleep(20 * time.Millisecond)
	close(api.gate)
	wg.Wait()
	require.ErrorIs(t, errs[0], context.Canceled, "the caller that gave up")
	for _, err := range errs[1:] {
		require.ErrorIs(t, err, ses.ErrUndeliverable, "the others still get SES's answer")
	}
	assert.Equal(t, int64(1), api.lookups.Load(), "sixteen sends, one look-up")
	assert.Empty(t, api.Calls())
}

// A look-up that fails or takes over 2 s is logged once, and the send goes ahead; the
// recipient is not in the log.
func TestAddressInsightsFailOpen(t *testing.T) {
	t.Parallel()
	for _, api := range []*insightsSES{
		{fail: errors.New("operation error SESv2: GetEmailAddressInsights, https response error StatusCode: 0, request send failed, Post \"https://email.eu-west-1.amazonaws.com/v2/email/email-address-insights\": jnae@exmaple.com: connection reset")},
		{gate: make(chan struct{})}, // never answers
	} {
		var logs strings.Builder
		c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithAddressInsights(ses.InsightsPolicy{}), ses.WithLogger(jsonLogger(&logs)))
		require.NoError(t, err)
		for range 2 {
			start := time.Now()
			_, err = c.SendMessage(context.Background(), "jnae@exmaple.com", ses.UsageRegister, ses.Payload{"code": "123456"})
			require.NoError(t, err, "fail open")
			assert.Less(t, time.Since(start), 5*time.Second)
		}
		assert.Len(t, api.Calls(), 2)
		assert.Equal(t, 1, strings.Count(logs.String(), "address insights look-up failed"), logs.String())
		assert.NotContains(t, logs.String(), "jnae@")
	}
}

func TestConnectorAddressInsights(t *testing.T) {
	t.Parallel()
	api := &insightsSES{}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api))
	require.NoError(t, err)
	a, err := c.AddressInsights(context.Background(), "temp@mailinator.test")
	require.NoError(t, err, "without WithAddressInsights too")
	assert.Equal(t, ses.VerdictHigh, a.Disposable)
	assert.Equal(t, ses.VerdictMedium, a.Valid)
	_, err = c.SendMessage(context.Background(), "temp@mailinator.test", ses.UsageRegister, ses.Payload{"code": "1"})
	require.NoError(t, err, "without WithAddressInsights, sends are not checked")

	_, err = c.AddressInsights(context.Background(), "Jane <jane@example.com>")
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	_, err = c.AddressInsights(context.Background(), "unanswered@example.com")
	require.ErrorIs(t, err, ses.ErrSendFailed, "an empty answer")

	plain, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}))
	require.NoError(t, err)
	_, err = plain.AddressInsights(context.Background(), "jane@example.com")
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
}

// On the wire, through the real SDK client, against an SES-shaped server whose answers are the
// SDK's own types marshalled: the verdicts arrive, throttling and AccessDenied fail open.
func TestWireAddressInsights(t *testing.T) {
	noLeaks(t)
	var mode atomic.Value
	mode.Store("answer")
	var logs strings.Builder
	c, srv := wireConnector(t, testConfig(), ses.WithAddressInsights(ses.InsightsPolicy{}), ses.WithLogger(jsonLogger(&logs)), ses.WithRetryMaxAttempts(1))
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		if req.Path != "/v2/email/email-address-insights" {
			return sestest.Response{}
		}
		switch mode.Load() {
		case "throttled":
			return sestest.Error(http.StatusTooManyRequests, "TooManyRequestsException", "Too many requests")
		case "denied":
			return sestest.Error(http.StatusForbidden, "AccessDeniedException", "User is not authorized to perform ses:GetEmailAddressInsights")
		}
		addr, _ := req.JSON["EmailAddress"].(string)
		body, err := json.Marshal(knownAddresses[addr])
		require.NoError(t, err)
		return sestest.Response{Body: string(body)}
	})
	_, err := c.SendMessage(context.Background(), "jnae@exmaple.com", ses.UsageRegister, ses.Payload{"code": "1"})
	var a *ses.AddressInsights
	require.ErrorAs(t, err, &a)
	assert.Equal(t, ses.AddressInsights{Address: "jnae@exmaple.com", Valid: "LOW", ValidSyntax: "HIGH", ValidDNS: "LOW", MailboxExists: "LOW",
		Disposable: "LOW", RoleAddress: "LOW", RandomInput: "LOW"}, *a)
	req := srv.Requests()[0]
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, map[string]any{"EmailAddress": "jnae@exmaple.com"}, req.JSON)

	for _, m := range []string{"throttled", "denied"} {
		mode.Store(m)
		_, err := c.SendMessage(context.Background(), m+"@example.com", ses.UsageRegister, ses.Payload{"code": "1"})
		require.NoError(t, err, "%s: fail open", m)
	}
	assert.Contains(t, logs.String(), "address insights look-up failed")
	assert.Contains(t, logs.String(), "TooManyRequestsException")
	assert.NotContains(t, logs.String(), "throttled@")
}

// moto_server implements SendEmail and identities but not GetEmailAddressInsights (nor GetAccount
// or ListRecommendations): against it the insights are skipped after one WARN, and sign-ups go out.
func TestAddressInsightsAgainstMoto(t *testing.T) {
	moto := motoserver.StartForTest(t)
	admin := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "fake-secret-for-moto", "")})
	_, err := admin.CreateEmailIdentity(context.Background(), &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("example.com")})
	require.NoError(t, err)
	cfg := testConfig()
	cfg.Region = "us-east-1"
	var logs strings.Builder
	c, err := ses.New(context.Background(), cfg, ses.WithEndpoint(moto.URL), ses.WithAddressInsights(ses.InsightsPolicy{}), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	for i := range 3 {
		id, err := c.SendMessage(context.Background(), "new"+strconv.Itoa(i)+"@example.com", ses.UsageRegister, ses.Payload{"code": "123456"})
		require.NoError(t, err)
		assert.NotEmpty(t, id)
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "does not implement GetEmailAddressInsights"), logs.String())
	assert.NotContains(t, logs.String(), `"level":"ERROR"`)
	_, err = c.AddressInsights(context.Background(), "new0@example.com")
	require.ErrorIs(t, err, ses.ErrSendFailed, "asked directly, moto's 404 is the answer")
}

// BenchmarkAddressInsightsWire sends through the real SDK client to an SES-shaped loopback
// server from three Connectors in turn, timing each send: "none" without WithAddressInsights,
// "warm" to one address whose insights are cached, "cold" to a new address each time (one more
// call to SES before the send). It reports warm/none, what the warm check costs a send, and
// cold-warm, the look-up's latency. Alternating keeps the machine's drift out of both.
func BenchmarkAddressInsightsWire(b *testing.B) {
	answer, err := json.Marshal(insightsAnswer("HIGH", "LOW", "LOW"))
	require.NoError(b, err)
	srv := sestest.New(b)
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		if req.Path == "/v2/email/email-address-insights" {
			return sestest.Response{Body: string(answer)}
		}
		return sestest.Response{}
	})
	none, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL))
	require.NoError(b, err)
	checked, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL), ses.WithAddressInsights(ses.InsightsPolicy{}))
	require.NoError(b, err)
	ctx := context.Background()
	send := func(c *ses.Connector, to string) time.Duration {
		start := time.Now()
		if _, err := c.SendMessage(ctx, to, ses.UsageRegister, ses.Payload{"code": "123456"}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var tNone, tWarm, tCold time.Duration
	n := 0
	for b.Loop() {
		n++
		tNone += send(none, "jane@example.com")
		tWarm += send(checked, "jane@example.com")
		tCold += send(checked, "user"+strconv.Itoa(n)+"@example.com")
	}
	b.ReportMetric(float64(tWarm)/float64(tNone), "warm/none")
	b.ReportMetric(float64((tCold-tWarm).Microseconds())/float64(n), "cold-warm-µs")
}
