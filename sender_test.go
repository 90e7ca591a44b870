package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// fullConfig sets every optional field.
func fullConfig() *ses.Config {
	return &ses.Config{
		AccessKeyID:                    "AKIAIOSFODNN7EXAMPLE",
		AccessKeySecret:                fakeSecret,
		Region:                         "us-east-1",
		EmailAddress:                   "Équipe Ünicode <noreply@example.com>",
		EmailAddressIdentityArn:        "arn:aws:ses:us-east-1:123456789012:identity/example.com",
		FeedbackForwardingEmailAddress: "bounces@example.com",
		FeedbackForwardingEmailAddressIdentityArn: "arn:aws:ses:us-east-1:123456789012:identity/bounces@example.com",
		ConfigurationSetName:                      "auth-mail",
		Templates: []ses.Template{{
			UsageType: ses.UsageGeneric,
			Subject:   "Código {{code}}",
			Content:   "<p>Seu código é <b>{{code}}</b></p>",
			Text:      "Seu código é {{code}}",
			ReplyTo:   "Support <support@example.com>",
			Headers:   map[string]string{"X-Entity-Ref-ID": "{{code}}"},
		}},
	}
}

// trackingOff is what every send carries unless WithTracking: no open pixel, no link rewriting.
var trackingOff = &types.ConfigurationOverrides{Tracking: &types.TrackingConfigurationOverrides{
	ClickTrackingEnabled: types.FeatureStatusDisabled, OpenTrackingEnabled: types.FeatureStatusDisabled,
}}

func TestComposeFullConfig(t *testing.T) {
	t.Parallel()
	c, _ := newConnector(t, fullConfig(), ses.WithTags(map[string]string{"team": "identity", "env": "prod"}))
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.Equal(t, &sesv2.SendEmailInput{
		FromEmailAddress:                          aws.String("=?utf-8?q?=C3=89quipe_=C3=9Cnicode?= <noreply@example.com>"),
		FromEmailAddressIdentityArn:               aws.String("arn:aws:ses:us-east-1:123456789012:identity/example.com"),
		Destination:                               &types.Destination{ToAddresses: []string{"user@example.com"}},
		ReplyToAddresses:                          []string{`"Support" <support@example.com>`},
		FeedbackForwardingEmailAddress:            aws.String("bounces@example.com"),
		FeedbackForwardingEmailAddressIdentityArn: aws.String("arn:aws:ses:us-east-1:123456789012:identity/bounces@example.com"),
		ConfigurationSetName:                      aws.String("auth-mail"),
		ConfigurationOverrides:                    trackingOff,
		EmailTags: []types.MessageTag{
			{Name: aws.String("usageType"), Value: aws.String("SignIn")},
			{Name: aws.String("env"), Value: aws.String("prod")},
			{Name: aws.String("team"), Value: aws.String("identity")},
		},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Código 123456"), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Html: &types.Content{Data: aws.String("<p>Seu código é <b>123456</b></p>"), Charset: aws.String("UTF-8")},
				Text: &types.Content{Data: aws.String("Seu código é 123456"), Charset: aws.String("UTF-8")},
			},
			Headers: []types.MessageHeader{{Name: aws.String("X-Entity-Ref-ID"), Value: aws.String("123456")}},
		}},
	}, in)
}

func TestComposeMinimalConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.AccessKeyID, cfg.AccessKeySecret = "", ""
	c, _ := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	require.NoError(t, err)
	assert.Equal(t, &sesv2.SendEmailInput{
		FromEmailAddress:       aws.String("noreply@example.com"),
		Destination:            &types.Destination{ToAddresses: []string{"user@example.com"}},
		ConfigurationOverrides: trackingOff,
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Sign-in code 123456"), Charset: aws.String("UTF-8")},
			Body:    &types.Body{Html: &types.Content{Data: aws.String("<p>Your sign-in code is 123456.</p>"), Charset: aws.String("UTF-8")}},
		}},
	}, in, "every optional field nil, none \"\"")
}

func TestFromAddressForms(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"noreply@example.com":                "noreply@example.com",
		"<noreply@example.com>":              "noreply@example.com",
		"Logto<noreply@example.com>":         `"Logto" <noreply@example.com>`,
		`"Acme, Inc." <noreply@example.com>`: `"Acme, Inc." <noreply@example.com>`,
		"株式会社 <noreply@example.com>":         "=?utf-8?q?=E6=A0=AA=E5=BC=8F=E4=BC=9A=E7=A4=BE?= <noreply@example.com>",
	}
	for from, want := range cases {
		cfg := testConfig()
		cfg.EmailAddress = from
		c, _ := newConnector(t, cfg)
		in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
		require.NoError(t, err)
		assert.Equal(t, want, *in.FromEmailAddress, from)
	}
}

func TestPlainTextContent(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Templates[2] = ses.Template{UsageType: ses.UsageGeneric, Subject: "s", Content: "code: {{code}}", ContentType: "text/plain"}
	c, _ := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageRegister, ses.Payload{"code": "<1>"})
	require.NoError(t, err)
	assert.Equal(t, &types.Body{Text: &types.Content{Data: aws.String("code: <1>"), Charset: aws.String("UTF-8")}}, in.Content.Simple.Body)
}

func TestBadSendCalls(t *testing.T) {
	t.Parallel()
	code := ses.Payload{"code": "123456"}
	cases := []struct {
		name    string
		to      string
		usage   ses.UsageType
		payload ses.Payload
		want    string
	}{
		{"empty recipient", "", ses.UsageSignIn, code, "the recipient is empty"},
		{"display name", "User <user@example.com>", ses.UsageSignIn, code, "must be one bare address"},
		{"angle brackets", "<user@example.com>", ses.UsageSignIn, code, "must be one bare address"},
		{"two addresses", "a@example.com, b@example.com", ses.UsageSignIn, code, "expected single address"},
		{"two addresses with semicolon", "a@example.com;b@example.com", ses.UsageSignIn, code, "is not an email address"},
		{"CR LF", "user@example.com\r\nBcc: evil@example.com", ses.UsageSignIn, code, "contains CR or LF"},
		{"LF only", "user@example.com\n", ses.UsageSignIn, code, "contains CR or LF"},
		{"leading space", " user@example.com", ses.UsageSignIn, code, "must be one bare address"},
		{"overlong", strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + ".com", ses.UsageSignIn, code, "longer than 254"},
		{"overlong local part", strings.Repeat("a", 65) + "@example.com", ses.UsageSignIn, code, "local part longer than 64"},
		{"no domain", "user@", ses.UsageSignIn, code, "is not an email address"},
		{"no at sign", "user.example.com", ses.UsageSignIn, code, "is not an email address"},
		{"undotted domain", "user@localhost", ses.UsageSignIn, code, "not a dotted domain name"},
		{"domain literal", "user@[127.0.0.1]", ses.UsageSignIn, code, "not a dotted domain name"},
		{"comment", "user@example.com (me)", ses.UsageSignIn, code, "must be one bare address"},
		{"non-ASCII domain", "user@exämple.com", ses.UsageSignIn, code, "punycode (xn--) form"},
		{"unknown usage type", "user@example.com", "Signin", code, `unknown usage type "Signin"`},
		{"empty usage type", "user@example.com", "", code, `unknown usage type ""`},
		{"nil payload", "user@example.com", ses.UsageSignIn, nil, `the payload has no "code"`},
		{"missing code", "user@example.com", ses.UsageSignIn, ses.Payload{"link": "x"}, `the payload has no "code"`},
		{"nil code", "user@example.com", ses.UsageSignIn, ses.Payload{"code": nil}, "the value is null"},
		{"locale not a string", "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1", "locale": 7}, "payload locale must be a string"},
	}
	require.GreaterOrEqual(t, len(cases), 15)
	c, m := newConnector(t, testConfig())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SendMessage(context.Background(), tc.to, tc.usage, tc.payload)
			require.ErrorIs(t, err, ses.ErrInvalidParameters)
			assert.Contains(t, err.Error(), tc.want)
			_, err = c.Compose(context.Background(), tc.to, tc.usage, tc.payload)
			require.ErrorIs(t, err, ses.ErrInvalidParameters)
		})
	}
	assert.Empty(t, m.Calls(), "nothing is sent")
}

func TestSESErrors(t *testing.T) {
	t.Parallel()
	msg := aws.String("refused")
	cases := []struct {
		name      string
		err       error
		throttled bool
	}{
		{"MessageRejected", &types.MessageRejected{Message: msg}, false},
		{"AccountSuspended", &types.AccountSuspendedException{Message: msg}, false},
		{"SendingPaused", &types.SendingPausedException{Message: msg}, false},
		{"MailFromDomainNotVerified", &types.MailFromDomainNotVerifiedException{Message: msg}, false},
		{"BadRequest", &types.BadRequestException{Message: msg}, false},
		{"NotFound", &types.NotFoundException{Message: msg}, false},
		{"TooManyRequests", &types.TooManyRequestsException{Message: msg}, true},
		{"LimitExceeded", &types.LimitExceededException{Message: msg}, true},
		{"generic throttling", &smithy.GenericAPIError{Code: "Throttling", Message: "Maximum sending rate exceeded."}, true},
		{"network", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, m := newConnector(t, testConfig())
			m.err = &smithy.OperationError{ServiceID: "SESv2", OperationName: "SendEmail", Err: tc.err}
			id, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
			assert.Empty(t, id)
			require.ErrorIs(t, err, ses.ErrSendFailed)
			assert.Equal(t, tc.throttled, errors.Is(err, ses.ErrThrottled))
			assert.False(t, errors.Is(err, ses.ErrInvalidParameters))
			require.ErrorIs(t, err, tc.err, "the cause stays reachable")
			assert.NotContains(t, err.Error(), fakeSecret)
			var apiErr smithy.APIError
			if errors.As(tc.err, &apiErr) {
				require.ErrorAs(t, err, &apiErr)
			}
		})
	}

	var rejected *types.MessageRejected
	c, m := newConnector(t, testConfig())
	m.err = fmt.Errorf("wrapped: %w", &types.MessageRejected{Message: msg})
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorAs(t, err, &rejected)
	assert.Equal(t, "refused", *rejected.Message)
}

func TestContextErrors(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	m.wait = true

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, ses.ErrSendFailed)

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.ErrorIs(t, err, context.Canceled)
}
