package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// suppressionSES is mockSES with a suppression list, and a count of look-ups.
type suppressionSES struct {
	mockSES
	suppressed map[string]types.SuppressionListReason
	err        error
	lookups    atomic.Int64
	slow       time.Duration
	gate       chan struct{} // when set, a look-up waits for it to close, or for its context
}

var since = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func (s *suppressionSES) GetSuppressedDestination(ctx context.Context, in *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	s.lookups.Add(1)
	time.Sleep(s.slow)
	if err := waitGate(ctx, s.gate); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	reason, ok := s.suppressed[strings.ToLower(*in.EmailAddress)]
	if !ok {
		return nil, &types.NotFoundException{Message: aws.String("Email address (" + *in.EmailAddress + ") does not exist on your suppression list.")}
	}
	return &sesv2.GetSuppressedDestinationOutput{SuppressedDestination: &types.SuppressedDestination{
		EmailAddress: in.EmailAddress, Reason: reason, LastUpdateTime: aws.Time(since),
	}}, nil
}

func TestWithSuppressionCheck(t *testing.T) {
	t.Parallel()
	api := &suppressionSES{suppressed: map[string]types.SuppressionListReason{"gone@example.com": types.SuppressionListReasonBounce}}
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	ctx := context.Background()

	_, err = c.SendMessage(ctx, "Gone@Example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSuppressed)
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.False(t, errors.Is(err, ses.ErrSendFailed))
	var s *ses.Suppression
	require.ErrorAs(t, err, &s)
	assert.Equal(t, &ses.Suppression{Address: "Gone@Example.com", Reason: "BOUNCE", LastUpdated: since}, s)
	assert.Equal(t, "sesconnector: recipient suppressed: the address is on the account's SES suppression list (BOUNCE, since 2026-03-01): SES would drop the message; ask for another address, or remove it from the list once it can receive mail", err.Error())
	assert.Empty(t, api.Calls(), "nothing is sent")

	for range 3 {
		_, err = c.SendMessage(ctx, "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.ErrorIs(t, err, ses.ErrSuppressed)
		_, err = c.SendMessage(ctx, "here@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err)
	}
	assert.Equal(t, int64(2), api.lookups.Load(), "both answers are cached per address, in any letter case")
	assert.Len(t, api.Calls(), 3)
	assert.NotContains(t, logs.String(), "gone@")

	_, err = c.Compose(ctx, "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err, "Compose sends nothing and does not look up")
}

func TestSuppressionCheckConcurrentLookupOnce(t *testing.T) {
	t.Parallel()
	api := &suppressionSES{slow: 50 * time.Millisecond}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			_, err := c.SendMessage(context.Background(), "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), api.lookups.Load(), "32 concurrent sends to one address, one look-up")
	assert.Len(t, api.Calls(), 32)
}

func TestSuppressionCheckFailsOpen(t *testing.T) {
	t.Parallel()
	api := &suppressionSES{err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User is not authorized to perform ses:GetSuppressedDestination on resource arn:aws:ses:eu-west-1:123456789012:suppression/addresses/u0@example.com"}}
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	for i := range 5 {
		_, err := c.SendMessage(context.Background(), fmt.Sprintf("u%d@example.com", i), ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err, "a failed look-up does not stop the send")
	}
	assert.Len(t, api.Calls(), 5)
	assert.Equal(t, int64(5), api.lookups.Load(), "failures are not cached")
	assert.Equal(t, 1, strings.Count(logs.String(), "suppression list look-up failed"), "logged once per run of failures")
	assert.NotContains(t, logs.String(), "u0@example.com", "the address SES names in its error is masked")
	assert.Contains(t, logs.String(), "***@example.com")
}

// One caller giving up never lets mail go to a suppressed address for another: the shared
// look-up runs on its own context, and each waiter returns on its own.
func TestSuppressionCheckCallersGiveUpAlone(t *testing.T) {
	t.Parallel()
	api := &suppressionSES{gate: make(chan struct{}), suppressed: map[string]types.SuppressionListReason{"gone@example.com": types.SuppressionListReasonBounce}}
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour))
	require.NoError(t, err)
	impatient, cancel := context.WithCancel(context.Background())
	first, second := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := c.SendMessage(impatient, "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		first <- err
	}()
	require.Eventually(t, func() bool { return api.lookups.Load() == 1 }, 5*time.Second, time.Millisecond)
	go func() {
		_, err := c.SendMessage(context.Background(), "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		second <- err
	}()
	time.Sleep(20 * time.Millisecond) // the second caller waits for the same look-up
	cancel()
	require.ErrorIs(t, <-first, context.Canceled, "the caller that gave up gets its own context's error")
	close(api.gate)
	require.ErrorIs(t, <-second, ses.ErrSuppressed, "the other caller still gets the answer")
	assert.Equal(t, int64(1), api.lookups.Load())
	assert.Empty(t, api.Calls(), "nothing was sent to the suppressed address")
}

// A look-up that does not answer within WithSuppressionTimeout fails open, logged once.
func TestSuppressionCheckTimeout(t *testing.T) {
	t.Parallel()
	api := &suppressionSES{gate: make(chan struct{})} // never answers
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour),
		ses.WithSuppressionTimeout(50*time.Millisecond), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		start := time.Now()
		_, err := c.SendMessage(ctx, "jane@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err)
		assert.Less(t, time.Since(start), 2*time.Second, "bounded by the look-up's timeout, not the caller's deadline")
	}
	assert.Len(t, api.Calls(), 3)
	assert.Equal(t, 1, strings.Count(logs.String(), "suppression list look-up failed"))
	assert.Contains(t, logs.String(), "context deadline exceeded")

	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(api), ses.WithSuppressionCheck(time.Hour), ses.WithSuppressionTimeout(-time.Second))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithSuppressionTimeout: a timeout of -1s")
}

// The SDK's error for a look-up whose connection failed carries the request's URL, with the
// address percent-encoded in its path: the log masks that form too.
func TestWireSuppressionLogMasksEncodedAddress(t *testing.T) {
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/email/suppression/addresses/") {
			mu.Lock()
			paths = append(paths, r.URL.EscapedPath())
			mu.Unlock()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the connection drops: the SDK's error names the URL
			}
			return
		}
		w.Write([]byte(`{"MessageId":"m-1"}`))
	}))
	defer srv.Close()
	var logs strings.Builder
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint(srv.URL), noBackoff(), ses.WithRetryMaxAttempts(1),
		ses.WithSuppressionCheck(time.Hour), ses.WithLogger(jsonLogger(&logs)))
	require.NoError(t, err)
	for _, to := range []string{"jane.doe+auth@example.com", "Jane.Doe+Auth@Example.com"} {
		_, err := c.SendMessage(context.Background(), to, ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err)
	}
	out := logs.String()
	require.Contains(t, out, "suppression list look-up failed")
	require.Contains(t, out, "/v2/email/suppression/addresses/", "the SDK's URL is in the error")
	mu.Lock()
	require.NotEmpty(t, paths)
	encoded := strings.TrimPrefix(paths[0], "/v2/email/suppression/addresses/")
	mu.Unlock()
	assert.NotEqual(t, "jane.doe+auth@example.com", encoded, "the SDK encodes the address in the path")
	for _, form := range []string{encoded, "jane.doe", "Jane.Doe", "%40example.com", "Auth@"} {
		assert.NotContains(t, out, form)
	}
	assert.Contains(t, out, "j***@example.com")
}

func TestWithSuppressionCheckConfig(t *testing.T) {
	t.Parallel()
	_, err := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}), ses.WithSuppressionCheck(time.Hour))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "WithSuppressionCheck: the client given to WithClient has no GetSuppressedDestination")
	_, err = ses.New(context.Background(), testConfig(), ses.WithClient(&suppressionSES{}), ses.WithSuppressionCheck(0))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
}

// On the wire, through New's own client: SES's NotFoundException means "not suppressed", an
// AccessDeniedException fails open, and Check reports it.
func TestWireSuppressionCheck(t *testing.T) {
	noLeaks(t)
	var denied atomic.Bool
	c, srv := wireConnector(t, testConfig(), ses.WithSuppressionCheck(time.Millisecond))
	srv.Respond(func(_ int, req sestest.Request) sestest.Response {
		switch {
		case denied.Load() && strings.HasPrefix(req.Path, "/v2/email/suppression/addresses/"):
			return sestest.Error(http.StatusForbidden, "AccessDeniedException", "not authorized to perform ses:GetSuppressedDestination")
		case req.Path == "/v2/email/suppression/addresses/gone@example.com":
			return sestest.Response{Body: `{"SuppressedDestination":{"EmailAddress":"gone@example.com","Reason":"COMPLAINT","LastUpdateTime":1772366400}}`}
		case strings.HasPrefix(req.Path, "/v2/email/suppression/addresses/"):
			return sestest.Error(http.StatusNotFound, "NotFoundException", "not on the list")
		case req.Path == "/v2/email/account":
			return sestest.Response{Body: `{"ProductionAccessEnabled":true,"SendingEnabled":true}`}
		case strings.HasPrefix(req.Path, "/v2/email/identities/"):
			return sestest.Response{Body: `{"IdentityType":"DOMAIN","VerifiedForSendingStatus":true}`}
		}
		return sestest.Response{}
	})
	ctx := context.Background()
	_, err := c.SendMessage(ctx, "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	var s *ses.Suppression
	require.ErrorAs(t, err, &s)
	assert.Equal(t, "COMPLAINT", s.Reason)
	assert.True(t, s.LastUpdated.Equal(time.Unix(1772366400, 0)))
	_, err = c.SendMessage(ctx, "here@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)

	r, err := c.Check(ctx)
	require.NoError(t, err)
	assert.Empty(t, r.Problems)

	denied.Store(true)
	time.Sleep(5 * time.Millisecond) // past the cache's ttl
	_, err = c.SendMessage(ctx, "gone@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err, "denied: the send goes ahead")
	r, err = c.Check(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"access denied to ses:GetSuppressedDestination: WithSuppressionCheck cannot see the suppression list, so every send goes ahead unchecked; grant it to the credentials that send"}, r.Problems)
}

// waitGate waits for gate to close, or for ctx; a nil gate does not wait.
func waitGate(ctx context.Context, gate chan struct{}) error {
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
