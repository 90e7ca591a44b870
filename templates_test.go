package sesconnector_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// localeConfig has SignIn in four locales, Register without, and Generic in two.
func localeConfig() *ses.Config {
	cfg := testConfig()
	cfg.Templates = []ses.Template{
		{UsageType: ses.UsageSignIn, Subject: "signin", Content: "c"},
		{UsageType: ses.UsageSignIn, Locale: "pt", Subject: "signin pt", Content: "c"},
		{UsageType: ses.UsageSignIn, Locale: "pt-BR", Subject: "signin pt-BR", Content: "c"},
		{UsageType: ses.UsageSignIn, Locale: "zh-Hant-TW", Subject: "signin zh-Hant-TW", Content: "c"},
		{UsageType: ses.UsageGeneric, Subject: "generic", Content: "c"},
		{UsageType: ses.UsageGeneric, Locale: "fr", Subject: "generic fr", Content: "c"},
	}
	return cfg
}

func subjectOf(t *testing.T, in *sesv2.SendEmailInput) string {
	t.Helper()
	return *in.Content.Simple.Subject.Data
}

func TestTemplateChoice(t *testing.T) {
	t.Parallel()
	c, _ := newConnector(t, localeConfig())
	cases := []struct {
		usage  ses.UsageType
		locale any
		want   string
	}{
		{ses.UsageSignIn, nil, "signin"},
		{ses.UsageSignIn, "pt-BR", "signin pt-BR"},
		{ses.UsageSignIn, "pt-br", "signin pt-BR"},
		{ses.UsageSignIn, "pt_BR", "signin pt-BR"},
		{ses.UsageSignIn, "pt-PT", "signin pt"},
		{ses.UsageSignIn, "pt", "signin pt"},
		{ses.UsageSignIn, "zh-Hant-TW", "signin zh-Hant-TW"},
		{ses.UsageSignIn, "zh-CN", "signin"},
		{ses.UsageSignIn, "de", "signin"},
		{ses.UsageSignIn, "", "signin"},
		{ses.UsageRegister, nil, "generic"},
		{ses.UsageRegister, "fr-CA", "generic fr"},
		{ses.UsageRegister, "pt-BR", "generic"},
		{ses.UsageGeneric, "fr", "generic fr"},
	}
	for _, tc := range cases {
		payload := ses.Payload{"code": "1"}
		if tc.locale != nil {
			payload["locale"] = tc.locale
		}
		in, err := c.Compose(context.Background(), "user@example.com", tc.usage, payload)
		require.NoError(t, err)
		assert.Equal(t, tc.want, subjectOf(t, in), "%s %v", tc.usage, tc.locale)
	}
}

func TestEveryUsageTypeFallsBackToGeneric(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	usages := []ses.UsageType{
		ses.UsageSignIn, ses.UsageRegister, ses.UsageForgotPassword, ses.UsageOrganizationInvitation, ses.UsageGeneric,
		ses.UsageUserPermissionValidation, ses.UsageBindNewIdentifier, ses.UsageMfaVerification, ses.UsageBindMfa,
	}
	for _, u := range usages {
		_, err := c.SendMessage(context.Background(), "user@example.com", u, ses.Payload{"code": "42"})
		require.NoError(t, err, u)
	}
	calls := m.Calls()
	require.Len(t, calls, 9)
	assert.Equal(t, "Sign-in code 42", subjectOf(t, calls[0]))
	for _, in := range calls[1:] {
		assert.Equal(t, "Verification code", subjectOf(t, in))
		assert.Equal(t, "<p>Your code is 42.</p>", *in.Content.Simple.Body.Html.Data)
	}
}

func TestTemplateLookup(t *testing.T) {
	t.Parallel()
	type call struct {
		usage  ses.UsageType
		locale string
	}
	var calls []call
	lookup := func(_ context.Context, usage ses.UsageType, locale string) (*ses.Template, error) {
		calls = append(calls, call{usage, locale})
		switch {
		case usage == ses.UsageSignIn && locale == "pt-br": // normalized
			return &ses.Template{UsageType: usage, Locale: locale, Subject: "db {{code}}", Content: "db"}, nil
		case usage == ses.UsageRegister:
			return nil, errors.New("database is down")
		case usage == ses.UsageForgotPassword:
			return &ses.Template{UsageType: usage, Subject: "bad\nsubject", Content: "x"}, nil
		}
		return nil, nil
	}
	c, m := newConnector(t, localeConfig(), ses.WithTemplateLookup(lookup))
	ctx := context.Background()

	in, err := c.Compose(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "7", "locale": "pt-BR"})
	require.NoError(t, err)
	assert.Equal(t, "db 7", subjectOf(t, in), "the lookup comes before the config")

	in, err = c.Compose(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": "7", "locale": "pt-PT"})
	require.NoError(t, err)
	assert.Equal(t, "signin pt", subjectOf(t, in), "no lookup template: the config's chain")

	in, err = c.Compose(ctx, "user@example.com", ses.UsageRegister, ses.Payload{"code": "7"})
	require.NoError(t, err)
	assert.Equal(t, "generic", subjectOf(t, in), "a failed lookup falls back to the config, as in Logto")

	_, err = c.SendMessage(ctx, "user@example.com", ses.UsageForgotPassword, ses.Payload{"code": "7"})
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "template from WithTemplateLookup for ForgotPassword")
	assert.Contains(t, err.Error(), "subject: must not contain CR or LF")
	assert.Empty(t, m.Calls())

	assert.Equal(t, []call{
		{ses.UsageSignIn, "pt-br"}, {ses.UsageSignIn, "pt-pt"}, {ses.UsageRegister, ""}, {ses.UsageForgotPassword, ""},
	}, calls)
}

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name              string
		tmpl              ses.Template
		payload           ses.Payload
		subject, html, tx string
		wantErr           string // with ErrInvalidParameters
	}{
		{name: "braces", tmpl: ses.Template{Subject: "{{code}}", Content: "{{code}}"}, payload: ses.Payload{"code": "123456"},
			subject: "123456", html: "123456"},
		{name: "spaces inside braces", tmpl: ses.Template{Subject: "{{ code }}", Content: "{{  code}}"}, payload: ses.Payload{"code": "1"},
			subject: "1", html: "1"},
		{name: "angle brackets", tmpl: ses.Template{Subject: "<<code>>", Content: "<p><<code>></p>"}, payload: ses.Payload{"code": "9"},
			subject: "9", html: "<p>9</p>"},
		{name: "repeated", tmpl: ses.Template{Subject: "{{code}} {{code}}", Content: "{{code}}<<code>>{{code}}"}, payload: ses.Payload{"code": "5"},
			subject: "5 5", html: "555"},
		{name: "any key and number", tmpl: ses.Template{Subject: "{{app}}", Content: "{{link}} {{minutes}} {{ok}}"},
			payload: ses.Payload{"app": "Acme", "link": "https://example.com/v?t=1", "minutes": 10, "ok": true},
			subject: "Acme", html: "https://example.com/v?t=1 10 true"},
		{name: "float from JSON", tmpl: ses.Template{Subject: "s", Content: "{{n}}"}, payload: ses.Payload{"n": float64(123456)},
			subject: "s", html: "123456"},
		{name: "dotted path", tmpl: ses.Template{Subject: "Join {{organization.name}}", Content: "{{ organization.owner.name }}"},
			payload: ses.Payload{"organization": map[string]any{"name": "Acme", "owner": map[string]string{"name": "Ann"}}},
			subject: "Join Acme", html: "Ann"},
		{name: "nested Payload", tmpl: ses.Template{Subject: "{{a.b}}", Content: "c"}, payload: ses.Payload{"a": ses.Payload{"b": "x"}},
			subject: "x", html: "c"},
		{name: "HTML escaped in HTML only", tmpl: ses.Template{Subject: "{{name}}", Content: "<b>{{name}}</b>", Text: "{{name}}"},
			payload: ses.Payload{"name": `<script>"Tom" & 'Jerry'</script>`},
			subject: `<script>"Tom" & 'Jerry'</script>`, html: `<b>&lt;script&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/script&gt;</b>`,
			tx: `<script>"Tom" & 'Jerry'</script>`},
		{name: "plain-text content not escaped", tmpl: ses.Template{Subject: "s", Content: "a < {{x}}", ContentType: "text/plain"},
			payload: ses.Payload{"x": "<b>"}, subject: "s", tx: "a < <b>"},
		{name: "no placeholders", tmpl: ses.Template{Subject: "Hello", Content: "{code} }} >> < <"}, payload: nil,
			subject: "Hello", html: "{code} }} >> < <"},
		{name: "missing key", tmpl: ses.Template{Subject: "s", Content: "Your code is {{code}}"}, payload: ses.Payload{"link": "x"},
			wantErr: `placeholder {{code}} in content: the payload has no "code"`},
		{name: "nil payload", tmpl: ses.Template{Subject: "<<code>>", Content: "c"}, payload: nil,
			wantErr: `placeholder <<code>> in subject: the payload has no "code"`},
		{name: "null value", tmpl: ses.Template{Subject: "s", Content: "{{code}}"}, payload: ses.Payload{"code": nil},
			wantErr: "placeholder {{code}} in content: the value is null"},
		{name: "missing nested key", tmpl: ses.Template{Subject: "s", Content: "{{organization.name}}"}, payload: ses.Payload{"organization": map[string]any{}},
			wantErr: `placeholder {{organization.name}} in content: the payload has no "organization.name"`},
		{name: "path through a string", tmpl: ses.Template{Subject: "s", Content: "{{code.x}}"}, payload: ses.Payload{"code": "1"},
			wantErr: `the payload has no "code.x"`},
		{name: "map value", tmpl: ses.Template{Subject: "s", Content: "{{organization}}"}, payload: ses.Payload{"organization": map[string]any{"a": 1}},
			wantErr: "the value is a map, not text or a number"},
		{name: "slice value", tmpl: ses.Template{Subject: "s", Content: "{{codes}}"}, payload: ses.Payload{"codes": []string{"1"}},
			wantErr: "the value is a slice"},
		{name: "missing in text part", tmpl: ses.Template{Subject: "s", Content: "c", Text: "{{code}}"}, payload: nil,
			wantErr: "placeholder {{code}} in text"},
		{name: "CR LF in rendered subject", tmpl: ses.Template{Subject: "Hi {{name}}", Content: "c"}, payload: ses.Payload{"name": "x\r\nBcc: evil@example.com"},
			wantErr: `the rendered subject holds '\r': no CR, LF or other control character`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			tc.tmpl.UsageType = ses.UsageGeneric
			cfg.Templates = []ses.Template{tc.tmpl}
			c, m := newConnector(t, cfg)
			_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageGeneric, tc.payload)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ses.ErrInvalidParameters)
				assert.Contains(t, err.Error(), tc.wantErr)
				assert.Empty(t, m.Calls(), "nothing is sent")
				return
			}
			require.NoError(t, err)
			simple := m.Calls()[0].Content.Simple
			assert.Equal(t, tc.subject, *simple.Subject.Data)
			if tc.html == "" {
				assert.Nil(t, simple.Body.Html)
			} else {
				assert.Equal(t, tc.html, *simple.Body.Html.Data)
			}
			if tc.tx == "" {
				assert.Nil(t, simple.Body.Text)
			} else {
				assert.Equal(t, tc.tx, *simple.Body.Text.Data)
			}
		})
	}
}

func TestRenderHeaders(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Templates[2].Headers = map[string]string{"X-Entity-Ref-ID": "{{code}}-{{ requestId }}", "List-Unsubscribe": "<mailto:u@example.com>"}
	c, _ := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "1", "requestId": "r9"})
	require.NoError(t, err)
	hs := in.Content.Simple.Headers
	require.Len(t, hs, 2)
	assert.Equal(t, "List-Unsubscribe", *hs[0].Name, "sorted by name")
	assert.Equal(t, "<mailto:u@example.com>", *hs[0].Value)
	assert.Equal(t, "X-Entity-Ref-ID", *hs[1].Name)
	assert.Equal(t, "1-r9", *hs[1].Value)

	_, err = c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "1\n", "requestId": "r"})
	require.ErrorIs(t, err, ses.ErrInvalidParameters)
	assert.Contains(t, err.Error(), `the rendered header X-Entity-Ref-ID holds "\n-r" at byte 1; SES takes printable ASCII only`)
}

func TestComposeReturnsIndependentRequests(t *testing.T) {
	t.Parallel()
	c, _ := newConnector(t, testConfig())
	a, err := c.Compose(context.Background(), "a@example.com", ses.UsageSignIn, ses.Payload{"code": "1"})
	require.NoError(t, err)
	*a.FromEmailAddress = "mutated@example.com"
	*a.Content.Simple.Subject.Charset = "latin1"
	b, err := c.Compose(context.Background(), "b@example.com", ses.UsageSignIn, ses.Payload{"code": "2"})
	require.NoError(t, err)
	assert.Equal(t, "noreply@example.com", *b.FromEmailAddress)
	assert.Equal(t, "UTF-8", *b.Content.Simple.Subject.Charset)
	assert.Equal(t, []string{"b@example.com"}, b.Destination.ToAddresses)
}

func TestComposedHeadersAreIndependent(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Templates[2].Headers = map[string]string{"X-Entity-Ref-ID": "{{code}}"}
	c, _ := newConnector(t, cfg)
	a, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "1"})
	require.NoError(t, err)
	*a.Content.Simple.Headers[0].Name = "X-Mutated"
	b, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "2"})
	require.NoError(t, err)
	assert.Equal(t, "X-Entity-Ref-ID", *b.Content.Simple.Headers[0].Name)
}

func TestConfigTemplateFor(t *testing.T) {
	t.Parallel()
	cfg := localeConfig()
	for _, tc := range []struct {
		usage  ses.UsageType
		locale string
	}{
		{ses.UsageSignIn, "pt-BR"}, {ses.UsageSignIn, "pt_br"}, {ses.UsageSignIn, "pt-PT"}, {ses.UsageSignIn, ""},
		{ses.UsageSignIn, "de"}, {ses.UsageRegister, "pt-BR"}, {ses.UsageRegister, ""}, {ses.UsageGeneric, "fr"},
	} {
		i := cfg.TemplateFor(tc.usage, tc.locale)
		require.GreaterOrEqual(t, i, 0, tc)
		c, _ := newConnector(t, cfg)
		in, err := c.Compose(context.Background(), "user@example.com", tc.usage, ses.Payload{"code": "1", "locale": tc.locale})
		require.NoError(t, err)
		want := strings.ReplaceAll(cfg.Templates[i].Subject, "{{code}}", "1")
		assert.Equal(t, want, subjectOf(t, in), "TemplateFor picks what Compose sends: %v", tc)
	}
	assert.Equal(t, -1, (&ses.Config{}).TemplateFor(ses.UsageSignIn, ""))
}

// Only a well-formed language tag reaches WithTemplateLookup, normalized; anything else is no
// locale, for the lookup and for the config's chain alike.
func TestPayloadLocaleMustBeALanguageTag(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	lookup := func(_ context.Context, _ ses.UsageType, locale string) (*ses.Template, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, locale)
		return nil, nil
	}
	c, m := newConnector(t, testConfig(), ses.WithTemplateLookup(lookup))
	cases := []struct{ locale, asked, subject string }{
		{"pt", "pt", "Código 1"},
		{"PT-br", "pt-br", "Código 1"},
		{"pt_BR", "pt-br", "Código 1"},
		{"zh-Hant-TW", "zh-hant-tw", "Sign-in code 1"},
		{"en-US-x-private", "en-us-x-private", "Sign-in code 1"},
		{"../../etc/passwd", "", "Sign-in code 1"},
		{"pt\r\nX-Injected: 1", "", "Sign-in code 1"},
		{"pt-BR\n", "", "Sign-in code 1"},
		{strings.Repeat("pt-", 3400), "", "Sign-in code 1"},
		{"pt--BR", "", "Sign-in code 1"},
		{"-pt", "", "Sign-in code 1"},
		{"pt-", "", "Sign-in code 1"},
		{"p", "", "Sign-in code 1"},
		{"pt-BRAZILIAN", "", "Sign-in code 1"},
		{"1pt", "", "Sign-in code 1"},
		{"pt BR", "", "Sign-in code 1"},
		{"português", "", "Sign-in code 1"},
		{"en-aaaaaaaa-bbbbbbbb-cccccccc-ddddd", "en-aaaaaaaa-bbbbbbbb-cccccccc-ddddd", "Sign-in code 1"}, // 35 characters
		{"en-aaaaaaaa-bbbbbbbb-cccccccc-dddddd", "", "Sign-in code 1"},                                   // 36
	}
	for i, tc := range cases {
		_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1", "locale": tc.locale})
		require.NoError(t, err, "%q", tc.locale)
		mu.Lock()
		assert.Equal(t, tc.asked, asked[len(asked)-1], "%q", tc.locale)
		mu.Unlock()
		assert.Equal(t, tc.subject, *m.Calls()[i].Content.Simple.Subject.Data, "%q", tc.locale)
	}
}
