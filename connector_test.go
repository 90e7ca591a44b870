package sesconnector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// mockSES records every SendEmail call and answers with err, or with a MessageId.
type mockSES struct {
	mu    sync.Mutex
	calls []*sesv2.SendEmailInput
	err   error
	wait  bool // block until the context is done and return its error
}

func (m *mockSES) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	m.mu.Lock()
	m.calls = append(m.calls, in)
	n := len(m.calls)
	m.mu.Unlock()
	if m.wait {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if m.err != nil {
		return nil, m.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String(fmt.Sprintf("mock-%d", n))}, nil
}

func (m *mockSES) Calls() []*sesv2.SendEmailInput {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*sesv2.SendEmailInput(nil), m.calls...)
}

// testConfig is a valid config with a template for SignIn, the Generic fallback, and a
// Portuguese SignIn; no optional field is set.
func testConfig() *ses.Config {
	return &ses.Config{
		AccessKeyID:     "AKIAIOSFODNN7EXAMPLE",
		AccessKeySecret: fakeSecret,
		Region:          "eu-west-1",
		EmailAddress:    "noreply@example.com",
		Templates: []ses.Template{
			{UsageType: ses.UsageSignIn, Subject: "Sign-in code {{code}}", Content: "<p>Your sign-in code is {{code}}.</p>"},
			{UsageType: ses.UsageSignIn, Locale: "pt", Subject: "Código {{code}}", Content: "<p>Seu código é {{code}}.</p>"},
			{UsageType: ses.UsageGeneric, Subject: "Verification code", Content: "<p>Your code is {{code}}.</p>"},
		},
	}
}

// newConnector builds a Connector over a fresh mock.
func newConnector(t *testing.T, cfg *ses.Config, opts ...ses.Option) (*ses.Connector, *mockSES) {
	t.Helper()
	m := &mockSES{}
	c, err := ses.New(context.Background(), cfg, append([]ses.Option{ses.WithClient(m)}, opts...)...)
	require.NoError(t, err)
	return c, m
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.Equal(t, "mock-1", id)
	require.Len(t, m.Calls(), 1)
	in := m.Calls()[0]
	assert.Equal(t, "Sign-in code 123456", *in.Content.Simple.Subject.Data)
	assert.Equal(t, "<p>Your sign-in code is 123456.</p>", *in.Content.Simple.Body.Html.Data)
}

func TestSendTest(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	id, err := c.SendTest(context.Background(), "admin@example.com")
	require.NoError(t, err)
	assert.Equal(t, "mock-1", id)
	in := m.Calls()[0]
	assert.Equal(t, "Verification code", *in.Content.Simple.Subject.Data)
	assert.Equal(t, "<p>Your code is 000000.</p>", *in.Content.Simple.Body.Html.Data)
	assert.Equal(t, []string{"admin@example.com"}, in.Destination.ToAddresses)

	_, err = c.SendTest(context.Background(), "not an address")
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.Len(t, m.Calls(), 1)
}

func TestNewRefusesInvalidConfigAndOptions(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Region = ""
	_, err := ses.New(context.Background(), cfg,
		ses.WithClient(nil),
		ses.WithEndpoint("localhost:8005"),
		ses.WithRetryMaxAttempts(0),
		ses.WithMaxSendRate(-1),
		ses.WithTags(map[string]string{"team": "auth", "bad name": "x", "env": "prod!", "usageType": "x"}),
	)
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	var cerr *ses.ConfigError
	require.ErrorAs(t, err, &cerr)
	var paths []string
	for _, p := range cerr.Problems {
		paths = append(paths, p.Path)
	}
	assert.Equal(t, []string{
		"region", "WithClient", "WithEndpoint", "WithRetryMaxAttempts", "WithMaxSendRate",
		`WithTags["bad name"]`, `WithTags["env"]`, `WithTags["usageType"]`,
	}, paths)

	_, err = ses.New(context.Background(), nil)
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
}

// No rate panics or takes unbounded memory: out of range is a problem naming the bound.
func TestWithMaxSendRateRange(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{math.NaN(), 0, -1, math.Inf(1), math.Inf(-1), 1e300, 100_001, math.SmallestNonzeroFloat64, 1e-9, 1.0 / 86_401} {
		_, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithMaxSendRate(r))
		require.ErrorIs(t, err, ses.ErrInvalidConfig, "%v", r)
		assert.Contains(t, err.Error(), "WithMaxSendRate: ", "%v", r)
		if r > 100_000 && !math.IsInf(r, 1) {
			assert.Contains(t, err.Error(), "over the 100000 this limit holds exactly", "%v", r)
		}
		if r > 0 && r < 1e-5 {
			assert.Contains(t, err.Error(), "under one a day", "%v", r)
		}
	}
	for _, r := range []float64{1.0 / 86_400, 1e-3, 0.5, 14, 100_000} {
		_, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithMaxSendRate(r))
		require.NoError(t, err, "%v", r)
	}
}

func TestNewRefusesClientOptionsBesideWithClient(t *testing.T) {
	t.Parallel()
	_, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithRetryMaxAttempts(5))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithClient: WithEndpoint, WithRetryMaxAttempts and WithSESOptions set up the client New builds, and would be ignored")
}

func TestNewCopiesConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	c, m := newConnector(t, cfg)
	cfg.EmailAddress = "changed@example.com"
	cfg.Templates[0].Subject = "changed"
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	in := m.Calls()[0]
	assert.Equal(t, "noreply@example.com", *in.FromEmailAddress)
	assert.Equal(t, "Sign-in code 1", *in.Content.Simple.Subject.Data)
}

func TestWithEndpointSendsThroughRealClient(t *testing.T) {
	t.Parallel()
	srv := sestest.New(t)
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL))
	require.NoError(t, err)
	id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "654321"})
	require.NoError(t, err)
	assert.Equal(t, "sestest-1", id)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v2/email/outbound-emails", reqs[0].Path)
	assert.Contains(t, reqs[0].Header.Get("Authorization"), "Credential=AKIAIOSFODNN7EXAMPLE/")
	assert.NotContains(t, string(reqs[0].Body)+fmt.Sprint(reqs[0].Header), fakeSecret)
}

func TestWithRetryMaxAttempts(t *testing.T) {
	t.Parallel()
	srv := sestest.New(t)
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusInternalServerError, "InternalFailure", "try again")
	})
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL), ses.WithRetryMaxAttempts(2), noBackoff())
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.Len(t, srv.Requests(), 2)
}

// noBackoff keeps the SDK's standard retryer but retries at once, so that fault tests are quick.
// WithRetryMaxAttempts still applies: the SDK sets the attempts after every option function.
func noBackoff() ses.Option {
	return ses.WithSESOptions(func(o *sesv2.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
}

func TestWithSESOptionsAppliedLast(t *testing.T) {
	t.Parallel()
	ignored, used := sestest.New(t), sestest.New(t)
	var viaCustomClient atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		viaCustomClient.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(ignored.URL),
		ses.WithSESOptions(func(o *sesv2.Options) { o.BaseEndpoint = aws.String(used.URL) }, func(o *sesv2.Options) { o.HTTPClient = client }))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Empty(t, ignored.Requests())
	assert.Len(t, used.Requests(), 1)
	assert.Equal(t, int64(1), viaCustomClient.Load())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDefaultCredentialChain(t *testing.T) {
	// Not parallel: it sets environment variables.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTFAKE1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-environment-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	srv := sestest.New(t)
	cfg := testConfig()
	cfg.AccessKeyID, cfg.AccessKeySecret = "", ""
	c, err := ses.New(context.Background(), cfg, ses.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Contains(t, srv.Requests()[0].Header.Get("Authorization"), "Credential=AKIAENVIRONMENTFAKE1/")
}

func TestStaticKeysNeedNoInstanceMetadata(t *testing.T) {
	// Not parallel: it points the SDK's instance-metadata client at a counting server.
	var imdsHits atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		imdsHits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	srv := sestest.New(t)
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Zero(t, imdsHits.Load())
}

func TestWithMaxSendRate(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig(), ses.WithMaxSendRate(0.5)) // one send, then one every 2 s
	ctx := context.Background()
	_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = c.SendMessage(short, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "2"})
	require.ErrorIs(t, err, ses.ErrThrottled)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	cancelled, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, err = c.SendMessage(cancelled, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "3"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, m.Calls(), 1, "waiting sends are not sent")
}

func TestWithLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	c, m := newConnector(t, testConfig(), ses.WithLogger(logger))
	ctx := context.Background()
	_, err := c.SendMessage(ctx, "jane.doe@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	m.err = errors.New("Email address is not verified: jane.doe@example.com")
	_, err = c.SendMessage(ctx, "jane.doe@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	_, err = c.SendMessage(ctx, "jane.doe@example.com", "Nope", nil)
	require.ErrorIs(t, err, ses.ErrInvalidParameters)

	var records []map[string]any
	for line := range strings.Lines(buf.String()) {
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &r))
		records = append(records, r)
	}
	require.Len(t, records, 3, "one record per send")
	assert.Equal(t, "INFO", records[0]["level"])
	assert.Equal(t, "mock-1", records[0]["messageId"])
	assert.Equal(t, "SignIn", records[0]["usageType"])
	assert.Equal(t, "ERROR", records[1]["level"])
	assert.Equal(t, "WARN", records[2]["level"])
	for _, r := range records {
		assert.Equal(t, "j***@example.com", r["to"])
	}
	assert.NotContains(t, buf.String(), "jane.doe")
	assert.NotContains(t, buf.String(), fakeSecret)
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	const goroutines, sends = 64, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range sends {
				code := fmt.Sprintf("%02d-%03d", g, i)
				_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": code})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, in := range m.Calls() {
		seen[*in.Content.Simple.Subject.Data]++
	}
	assert.Len(t, seen, goroutines*sends)
	for subject, n := range seen {
		if n != 1 {
			t.Errorf("%q sent %d times", subject, n)
		}
	}
}

func TestNilContext(t *testing.T) {
	t.Parallel()
	var nilCtx context.Context // a caller's bug, answered with an error rather than a panic
	_, err := ses.New(nilCtx, testConfig())
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	c, m := newConnector(t, testConfig(), ses.WithLogger(slog.New(slog.DiscardHandler)))
	_, err = c.SendMessage(nilCtx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	_, err = c.Compose(nilCtx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	_, err = c.SendTest(nilCtx, "user@example.com")
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	_, err = c.Check(nilCtx)
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.Empty(t, m.Calls())
}
