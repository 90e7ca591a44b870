package sesconnector_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// A send succeeds only with a MessageId: whatever else SES (or a proxy in its place) answers,
// the caller must not believe that a code went out.
func TestWireAnswerWithoutMessageID(t *testing.T) {
	noLeaks(t)
	for name, resp := range map[string]sestest.Response{
		"empty body":           {NoBody: true},
		"empty object":         {Body: `{}`},
		"null MessageId":       {Body: `{"MessageId":null}`},
		"empty MessageId":      {Body: `{"MessageId":""}`},
		"number MessageId":     {Body: `{"MessageId":42}`},
		"object MessageId":     {Body: `{"MessageId":{"id":"x"}}`},
		"not JSON, status 200": {Body: `<html>gateway</html>`},
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := wireConnector(t, testConfig())
			srv.Respond(func(int, sestest.Request) sestest.Response { return resp })
			for _, send := range []func() (string, error){
				func() (string, error) {
					return c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
				},
				func() (string, error) { return c.SendTest(context.Background(), "user@example.com") },
			} {
				id, err := send()
				assert.Empty(t, id)
				require.ErrorIs(t, err, ses.ErrSendFailed)
				assert.False(t, errors.Is(err, ses.ErrThrottled))
				assert.Contains(t, err.Error(), "it may have accepted the message")
			}
		})
	}
}

// nilSES answers (nil, nil), as a hand-written client might.
type nilSES struct{}

func (nilSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return nil, nil
}

func TestClientAnswerWithoutMessageID(t *testing.T) {
	t.Parallel()
	for name, api := range map[string]ses.SESAPI{
		"nil, nil":     nilSES{},
		"no MessageId": &fixedSES{out: &sesv2.SendEmailOutput{}},
		"empty":        &fixedSES{out: &sesv2.SendEmailOutput{MessageId: aws.String("")}},
	} {
		c, err := ses.New(context.Background(), testConfig(), ses.WithClient(api))
		require.NoError(t, err)
		id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		assert.Empty(t, id, name)
		require.ErrorIs(t, err, ses.ErrSendFailed, name)
		assert.EqualError(t, err, "sesconnector: send failed: SES answered without a MessageId; it may have accepted the message, so look for it before sending again", name)
	}
}

type fixedSES struct{ out *sesv2.SendEmailOutput }

func (f *fixedSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return f.out, nil
}

func TestWirePlain429IsThrottled(t *testing.T) {
	noLeaks(t)
	for name, resp := range map[string]sestest.Response{
		"no body":   {Status: http.StatusTooManyRequests, NoBody: true},
		"HTML body": {Status: http.StatusTooManyRequests, Body: "<html>slow down</html>"},
		"JSON body": {Status: http.StatusTooManyRequests, Body: `{"message":"Rate exceeded"}`},
	} {
		t.Run(name, func(t *testing.T) {
			c, srv := wireConnector(t, testConfig(), ses.WithRetryMaxAttempts(1))
			srv.Respond(func(int, sestest.Request) sestest.Response { return resp })
			_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
			require.ErrorIs(t, err, ses.ErrThrottled)
			require.ErrorIs(t, err, ses.ErrSendFailed)
		})
	}
}

func TestWireHugeErrorCut(t *testing.T) {
	noLeaks(t)
	var logs strings.Builder
	c, srv := wireConnector(t, testConfig(), ses.WithRetryMaxAttempts(1), ses.WithLogger(jsonLogger(&logs)))
	huge := strings.Repeat("é", 3<<20) // 6 MiB of message
	srv.Respond(func(int, sestest.Request) sestest.Response {
		return sestest.Error(http.StatusBadRequest, "MessageRejected", huge)
	})
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, ses.ErrSendFailed)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr, "the whole SES error stays reachable")
	assert.Equal(t, "MessageRejected", apiErr.ErrorCode())
	assert.Less(t, len(err.Error()), 1200)
	assert.Contains(t, err.Error(), "more bytes)")
	assert.Less(t, logs.Len(), 2048, "one short log record")
	assert.True(t, strings.HasPrefix(err.Error(), "sesconnector: send failed: "))
}
