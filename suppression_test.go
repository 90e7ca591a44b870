package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
}

var since = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func (s *suppressionSES) GetSuppressedDestination(_ context.Context, in *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	s.lookups.Add(1)
	time.Sleep(s.slow)
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
