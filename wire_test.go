package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// These tests send through the real SDK client that New builds, to an httptest server that
// answers as SES does, and check what the emulator cannot show: the optional fields on the
// wire, the signature, and SES's faults.

// noLeaks checks, when the test ends and its servers are closed, that no goroutine it started
// is left behind. Register it first: cleanups run last-registered first.
func noLeaks(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, baseline) })
}

func wireConnector(t *testing.T, cfg *ses.Config, opts ...ses.Option) (*ses.Connector, *sestest.Server) {
	t.Helper()
	srv := sestest.New(t)
	c, err := ses.New(context.Background(), cfg, append([]ses.Option{ses.WithEndpoint(srv.URL), noBackoff()}, opts...)...)
	require.NoError(t, err)
	return c, srv
}

func TestWireOptionalFields(t *testing.T) {
	noLeaks(t)
	optional := []string{"ConfigurationSetName", "FeedbackForwardingEmailAddress", "FeedbackForwardingEmailAddressIdentityArn", "FromEmailAddressIdentityArn", "ReplyToAddresses", "EmailTags"}

	c, srv := wireConnector(t, fullConfig(), ses.WithTags(map[string]string{"app": "web"}))
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	body := srv.Requests()[0].JSON
	simple := body["Content"].(map[string]any)["Simple"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"Name": "X-Entity-Ref-ID", "Value": "1"}}, simple["Headers"])
	assert.Equal(t, "auth-mail", body["ConfigurationSetName"])
	assert.Equal(t, "bounces@example.com", body["FeedbackForwardingEmailAddress"])
	assert.Equal(t, "arn:aws:ses:us-east-1:123456789012:identity/bounces@example.com", body["FeedbackForwardingEmailAddressIdentityArn"])
	assert.Equal(t, "arn:aws:ses:us-east-1:123456789012:identity/example.com", body["FromEmailAddressIdentityArn"])
	assert.Equal(t, []any{
		map[string]any{"Name": "usageType", "Value": "SignIn"},
		map[string]any{"Name": "app", "Value": "web"},
	}, body["EmailTags"])

	c, srv = wireConnector(t, testConfig())
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	req := srv.Requests()[0]
	for _, field := range optional {
		assert.NotContains(t, req.JSON, field)
		assert.NotContains(t, string(req.Body), field, "absent, not \"\"")
	}
	assert.NotContains(t, string(req.Body), "Headers")
	assert.Equal(t, map[string]any{
		"Content": map[string]any{"Simple": map[string]any{
			"Subject": map[string]any{"Charset": "UTF-8", "Data": "Sign-in code 1"},
			"Body":    map[string]any{"Html": map[string]any{"Charset": "UTF-8", "Data": "<p>Your sign-in code is 1.</p>"}},
		}},
		"Destination":      map[string]any{"ToAddresses": []any{"user@example.com"}},
		"FromEmailAddress": "noreply@example.com",
		"ConfigurationOverrides": map[string]any{"Tracking": map[string]any{
			"ClickTrackingEnabled": "DISABLED", "OpenTrackingEnabled": "DISABLED",
		}},
	}, req.JSON)
}

// WithTracking leaves tracking to the configuration set: no ConfigurationOverrides on the wire.
func TestWireWithTracking(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, fullConfig(), ses.WithTracking())
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	body := srv.Requests()[0]
	assert.NotContains(t, string(body.Body), "ConfigurationOverrides")
	assert.NotContains(t, string(body.Body), "Tracking")
	assert.Equal(t, "auth-mail", body.JSON["ConfigurationSetName"])
}

func TestWireSignature(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	req := srv.Requests()[0]
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Regexp(t, regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/\d{8}/eu-west-1/ses/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`),
		req.Header.Get("Authorization"))
	assert.NotContains(t, fmt.Sprint(req.Header), fakeSecret)
	assert.NotContains(t, string(req.Body), fakeSecret)
}

func TestWireThrottledThenSent(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(n int, _ sestest.Request) sestest.Response {
		if n <= 2 {
			return sestest.Error(http.StatusTooManyRequests, "TooManyRequestsException", "Too many requests")
		}
		return sestest.Response{}
	})
	id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, "sestest-3", id, "sent on attempt 3")
	assert.Len(t, srv.Requests(), 3)
}

func TestWireAlwaysThrottled(t *testing.T) {
	noLeaks(t)
	for _, attempts := range []int{1, 4} {
		c, srv := wireConnector(t, testConfig(), ses.WithRetryMaxAttempts(attempts))
		srv.Respond(func(int, sestest.Request) sestest.Response {
			return sestest.Error(http.StatusTooManyRequests, "TooManyRequestsException", "Maximum sending rate exceeded.")
		})
		_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.ErrorIs(t, err, ses.ErrThrottled)
		require.ErrorIs(t, err, ses.ErrSendFailed)
		var tooMany *types.TooManyRequestsException
		require.ErrorAs(t, err, &tooMany)
		assert.Len(t, srv.Requests(), attempts)
	}
}

func TestWireExceptions(t *testing.T) {
	noLeaks(t)
	cases := []struct {
		errorType string
		status    int
		target    any
	}{
		{"MessageRejected", 400, new(*types.MessageRejected)},
		{"AccountSuspendedException", 400, new(*types.AccountSuspendedException)},
		{"SendingPausedException", 400, new(*types.SendingPausedException)},
		{"MailFromDomainNotVerifiedException", 400, new(*types.MailFromDomainNotVerifiedException)},
		{"BadRequestException", 400, new(*types.BadRequestException)},
		{"NotFoundException", 404, new(*types.NotFoundException)},
	}
	for _, tc := range cases {
		t.Run(tc.errorType, func(t *testing.T) {
			c, srv := wireConnector(t, testConfig())
			srv.Respond(func(int, sestest.Request) sestest.Response {
				return sestest.Error(tc.status, tc.errorType, "refused by the test")
			})
			_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
			require.ErrorIs(t, err, ses.ErrSendFailed)
			assert.False(t, errors.Is(err, ses.ErrThrottled))
			require.ErrorAs(t, err, tc.target)
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.errorType, apiErr.ErrorCode())
			assert.Equal(t, "refused by the test", apiErr.ErrorMessage())
			assert.Len(t, srv.Requests(), 1, "not retried")
		})
	}
}

func TestWireServerErrorRetried(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(n int, _ sestest.Request) sestest.Response {
		if n == 1 {
			return sestest.Error(http.StatusInternalServerError, "InternalFailure", "oops")
		}
		return sestest.Response{}
	})
	id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, "sestest-2", id)
}

func TestWireDeadline(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(int, sestest.Request) sestest.Response { return sestest.Response{Hang: true} })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ses.ErrSendFailed)
	// Without the deadline the send would hang until the server stops; the margin is for a
	// loaded machine.
	assert.Less(t, elapsed, 5*time.Second)
}

func TestWireConnectionRefused(t *testing.T) {
	noLeaks(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	c, err := ses.New(context.Background(), testConfig(), ses.WithEndpoint("http://"+addr), ses.WithRetryMaxAttempts(2), noBackoff())
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.False(t, errors.Is(err, ses.ErrThrottled))
	assert.Contains(t, err.Error(), "connection refused")
}

func TestWireNotJSON(t *testing.T) {
	noLeaks(t)
	c, srv := wireConnector(t, testConfig())
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Response{Body: "<html>proxy login</html>"}
	})
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	assert.True(t, strings.Contains(err.Error(), "deserialization failed") || strings.Contains(err.Error(), "invalid character"), err.Error())
}
