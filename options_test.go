package sesconnector_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// Every option given nothing to work with fails in New, by name, instead of panicking at the
// first send.
func TestNilOptionValues(t *testing.T) {
	t.Parallel()
	var nilClient *sesv2.Client
	var nilMock *mockSES
	var nilFn func(*sesv2.Options)
	cases := []struct {
		name string
		opt  ses.Option
		path string
	}{
		{"WithClient(nil)", ses.WithClient(nil), "WithClient"},
		{"WithClient(typed nil *sesv2.Client)", ses.WithClient(nilClient), "WithClient"},
		{"WithClient(typed nil mock)", ses.WithClient(nilMock), "WithClient"},
		{"WithSESOptions(nil)", ses.WithSESOptions(nil), "WithSESOptions"},
		{"WithSESOptions(fn, nil)", ses.WithSESOptions(func(*sesv2.Options) {}, nilFn), "WithSESOptions"},
		{"WithTemplateLookup(nil)", ses.WithTemplateLookup(nil), "WithTemplateLookup"},
		{"nil Option", nil, "New"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := []ses.Option{tc.opt}
			if tc.path != "WithClient" && tc.path != "WithSESOptions" {
				opts = append(opts, ses.WithClient(&mockSES{}))
			}
			c, err := ses.New(context.Background(), testConfig(), opts...)
			require.ErrorIs(t, err, ses.ErrInvalidConfig)
			assert.Nil(t, c)
			var cerr *ses.ConfigError
			require.ErrorAs(t, err, &cerr)
			assert.Equal(t, tc.path, cerr.Problems[0].Path)
		})
	}
	// A nil logger is no logger.
	c, m := newConnector(t, testConfig(), ses.WithLogger(nil))
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Len(t, m.Calls(), 1)
}

// nilCheckSES answers every Check call with (nil, nil).
type nilCheckSES struct{ mockSES }

func (*nilCheckSES) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return nil, nil
}

func (*nilCheckSES) GetEmailIdentity(context.Context, *sesv2.GetEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	return nil, nil
}

func (*nilCheckSES) GetConfigurationSet(context.Context, *sesv2.GetConfigurationSetInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	return nil, nil
}

func TestCheckEmptyAnswers(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*ses.Config){
		"address": func(*ses.Config) {},
		"identity ARN": func(c *ses.Config) {
			c.EmailAddressIdentityArn = "arn:aws:ses:eu-west-1:123456789012:identity/example.com"
		},
		"config set": func(c *ses.Config) { c.ConfigurationSetName = "auth-mail" },
	} {
		cfg := testConfig()
		edit(cfg)
		c, err := ses.New(context.Background(), cfg, ses.WithClient(&nilCheckSES{}))
		require.NoError(t, err)
		r, err := c.Check(context.Background())
		require.NoError(t, err, name)
		assert.Contains(t, r.Problems, "ses:GetAccount gave an empty answer, so Check could not read the account's sandbox status and quota", name)
		assert.Contains(t, r.Problems[1], "ses:GetEmailIdentity gave an empty answer", name)
		assert.False(t, r.AccountRead, name)
		assert.False(t, r.IdentityRead, name)
		if cfg.ConfigurationSetName != "" {
			assert.Contains(t, r.Problems[len(r.Problems)-1], "ses:GetConfigurationSet gave an empty answer", name)
		}
	}
}

func TestFeedbackForwardingAddressOnTheWire(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.FeedbackForwardingEmailAddress = "Équipe Rebonds <bounces@example.com>"
	cfg.EmailAddress = "Équipe <noreply@example.com>"
	c, _ := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, "=?utf-8?q?=C3=89quipe_Rebonds?= <bounces@example.com>", *in.FeedbackForwardingEmailAddress)
	assert.Equal(t, "=?utf-8?q?=C3=89quipe?= <noreply@example.com>", *in.FromEmailAddress)

	cfg.FeedbackForwardingEmailAddress = "<bounces@example.com>"
	c, _ = newConnector(t, cfg)
	in, err = c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Equal(t, "bounces@example.com", *in.FeedbackForwardingEmailAddress)
}

// Logto's Test button sends the database template when there is one; its templates carry no
// usage type; the lookup sees the locale as the connector compares it.
func TestLookupParityWithLogto(t *testing.T) {
	t.Parallel()
	var locales []string
	lookup := func(_ context.Context, usage ses.UsageType, locale string) (*ses.Template, error) {
		locales = append(locales, locale)
		switch usage {
		case ses.UsageGeneric:
			return &ses.Template{Subject: "db test {{code}}", Content: "<p>{{code}}</p>"}, nil
		case ses.UsageRegister:
			return &ses.Template{UsageType: ses.UsageSignIn, Subject: "s", Content: "c"}, nil
		}
		return nil, nil
	}
	c, m := newConnector(t, testConfig(), ses.WithTemplateLookup(lookup))
	ctx := context.Background()
	_, err := c.SendTest(ctx, "admin@example.com")
	require.NoError(t, err)
	require.Len(t, m.Calls(), 1)
	assert.Equal(t, "db test 000000", *m.Calls()[0].Content.Simple.Subject.Data)

	_, err = c.SendMessage(ctx, "user@example.com", ses.UsageRegister, ses.Payload{"code": "1", "locale": "PT_br"})
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.Contains(t, err.Error(), `template from WithTemplateLookup for Register, locale "pt-br" has usageType "SignIn"`)
	assert.Len(t, m.Calls(), 1)
	assert.Equal(t, []string{"", "pt-br"}, locales)
}
