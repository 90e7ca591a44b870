package sesconnector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// fakeSecret is the obviously fake secret of every test config; no output may contain it.
const fakeSecret = "fake-secret-wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"

func TestLoadConfigLogtoExample(t *testing.T) {
	t.Parallel()
	cfg, err := ses.LoadConfig(filepath.Join("testdata", "logto-example.json"))
	require.NoError(t, err)

	data, err := os.ReadFile(filepath.Join("testdata", "logto-example.json"))
	require.NoError(t, err)
	parsed, err := ses.ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, cfg, parsed)

	assert.Equal(t, &ses.Config{
		AccessKeyID:                    "AKIAIOSFODNN7EXAMPLE",
		AccessKeySecret:                fakeSecret,
		Region:                         "us-east-1",
		EmailAddress:                   "Logto<noreply@logto.io>",
		EmailAddressIdentityArn:        "arn:aws:ses:us-east-1:123456789012:identity/logto.io",
		FeedbackForwardingEmailAddress: "bounces@logto.io",
		FeedbackForwardingEmailAddressIdentityArn: "arn:aws:ses:us-east-1:123456789012:identity/bounces@logto.io",
		ConfigurationSetName:                      "logto-transactional",
		Templates: []ses.Template{
			{UsageType: ses.UsageSignIn, Subject: "Logto sign-in verification code", Content: "Your Logto sign-in verification code is {{code}}. The code will remain active for 10 minutes."},
			{UsageType: ses.UsageRegister, Subject: "Logto sign-up verification code", Content: "Your Logto sign-up verification code is {{code}}. The code will remain active for 10 minutes."},
			{UsageType: ses.UsageForgotPassword, Subject: "Logto password change verification code", Content: "Your Logto password change verification code is {{code}}. The code will remain active for 10 minutes."},
			{UsageType: ses.UsageGeneric, Subject: "Logto verification code", Content: "Your Logto verification code is {{code}}. The code will remain active for 10 minutes."},
		},
	}, cfg)
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := ses.LoadConfig(filepath.Join(t.TempDir(), "nope.json"))
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// validConfig returns a minimal valid config as a JSON object, for tests to break.
func validConfig() map[string]any {
	return map[string]any{
		"accessKeyId":     "AKIAIOSFODNN7EXAMPLE",
		"accessKeySecret": fakeSecret,
		"region":          "eu-west-1",
		"emailAddress":    "noreply@example.com",
		"templates": []any{
			map[string]any{"usageType": "Generic", "subject": "Code", "content": "Your code is {{code}}"},
		},
	}
}

func template0(m map[string]any) map[string]any { return m["templates"].([]any)[0].(map[string]any) }

func addTemplate(m map[string]any, t map[string]any) {
	m["templates"] = append(m["templates"].([]any), t)
}

func TestParseConfigInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		raw   string                 // the config as written, if not built from validConfig
		edit  func(m map[string]any) // changes to validConfig
		wants []string               // substrings of the error, JSON paths first
	}{
		{name: "malformed JSON", raw: `{"region": "eu-west-1",}`, wants: []string{"not valid JSON at line 1, column 24"}},
		{name: "truncated JSON", raw: `{"region": `, wants: []string{"not valid JSON"}},
		{name: "empty input", raw: ``, wants: []string{"the input is empty"}},
		{name: "white space only", raw: " \n\t", wants: []string{"the input is empty"}},
		{name: "cut short after the brace", raw: `{`, wants: []string{"not valid JSON: unexpected end of JSON at line 1, column 2"}},
		{name: "cut short after a key", raw: `{"region":`, wants: []string{"not valid JSON: unexpected end of JSON at line 1, column 11"}},
		{name: "cut short on line 3", raw: "{\n \"region\": \"eu-west-1\",\n \"templates\": [", wants: []string{"unexpected end of JSON at line 3, column 16"}},
		{name: "not JSON at all", raw: `garbage`, wants: []string{"not valid JSON at line 1, column 1: invalid character 'g'"}},
		{name: "trailing data, placed", raw: `{"a":1}x`, wants: []string{"not valid JSON at line 1, column 8: more data after the config object"}},
		{name: "trailing data", raw: `{} {}`, wants: []string{"more data after the config object"}},
		{name: "array document", raw: `[]`, wants: []string{"the config must be a JSON object, not an array"}},
		{name: "null document", raw: `null`, wants: []string{"the config must be a JSON object, not null"}},
		{name: "duplicate key", raw: `{"region":"eu-west-1","region":"us-east-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c"}]}`,
			wants: []string{`region: appears more than once ("eu-west-1", then "us-east-1"); keep one`}},
		{name: "duplicate key, the earlier value bad", raw: `{"region":"us-east1","region":"eu-west-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c"}]}`,
			wants: []string{`region: appears more than once ("us-east1", then "eu-west-1")`, "region: (the earlier of the two) "}},
		{name: "duplicate key, the later value bad", raw: `{"region":"eu-west-1","region":"us-east1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c"}]}`,
			wants: []string{`region: appears more than once ("eu-west-1", then "us-east1")`, `region: "us-east1"`}},
		{name: "duplicate secret, never shown", raw: `{"region":"eu-west-1","accessKeyId":"AKIAIOSFODNN7EXAMPLE","accessKeySecret":"first-secret","accessKeySecret":"second-secret","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c"}]}`,
			wants: []string{"accessKeySecret: appears more than once; keep one"}},
		{name: "duplicate template key", raw: `{"region":"eu-west-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c","content":"d"}]}`,
			wants: []string{"templates[0].content: appears more than once"}},
		{name: "duplicate header", raw: `{"region":"eu-west-1","emailAddress":"a@example.com","templates":[{"usageType":"Generic","subject":"s","content":"c","headers":{"X-A":"1","X-A":"2"}}]}`,
			wants: []string{`templates[0].headers["X-A"]: appears more than once`}},
		{name: "invalid UTF-8", raw: "{\n \"region\": \"eu-west-1\",\n \"emailAddress\": \"caf\xe9 <a@example.com>\"}", wants: []string{"not valid UTF-8 at line 3, column 22: save the file as UTF-8"}},
		{name: "nested too deep", raw: strings.Repeat("[", 100) + strings.Repeat("]", 100), wants: []string{"nested more than 32 levels deep"}},
		{name: "region a number", edit: func(m map[string]any) { m["region"] = 1 }, wants: []string{"region: must be a string, not a number"}},
		{name: "templates an object", edit: func(m map[string]any) { m["templates"] = map[string]any{} }, wants: []string{"templates: must be an array of templates, not an object"}},
		{name: "template a string", edit: func(m map[string]any) { m["templates"] = []any{"Generic"} }, wants: []string{"templates[0]: must be a template object, not a string"}},
		{name: "subject a boolean", edit: func(m map[string]any) { template0(m)["subject"] = true }, wants: []string{"templates[0].subject: must be a string, not a boolean"}},
		{name: "headers an array", edit: func(m map[string]any) { template0(m)["headers"] = []any{} }, wants: []string{"templates[0].headers: must be an object"}},
		{name: "unknown field", edit: func(m map[string]any) { m["regoin"] = "eu-west-1" }, wants: []string{`regoin: unknown field; did you mean "region"?`}},
		{name: "unknown template field", edit: func(m map[string]any) { template0(m)["Subject"] = "x" }, wants: []string{`templates[0].Subject: unknown field; did you mean "subject"?`}},
		{name: "no region", edit: func(m map[string]any) { delete(m, "region") }, wants: []string{"region: required"}},
		{name: "no emailAddress", edit: func(m map[string]any) { delete(m, "emailAddress") }, wants: []string{"emailAddress: required"}},
		{name: "no templates", edit: func(m map[string]any) { delete(m, "templates") }, wants: []string{"templates: required"}},
		{name: "empty templates", edit: func(m map[string]any) { m["templates"] = []any{} }, wants: []string{"templates: at least one template"}},
		{name: "only accessKeyId", edit: func(m map[string]any) { delete(m, "accessKeySecret") }, wants: []string{"accessKeySecret: required when the other key is set"}},
		{name: "only accessKeySecret", edit: func(m map[string]any) { delete(m, "accessKeyId") }, wants: []string{"accessKeyId: required when the other key is set"}},
		{name: "bad region", edit: func(m map[string]any) { m["region"] = "EU-WEST-1" }, wants: []string{`region: "EU-WEST-1" is not an AWS region name`}},
		{name: "region with space", edit: func(m map[string]any) { m["region"] = "eu-west-1 " }, wants: []string{"region: "}},
		{name: "bad address", edit: func(m map[string]any) { m["emailAddress"] = "noreply" }, wants: []string{`emailAddress: "noreply" is not one email address`}},
		{name: "two addresses", edit: func(m map[string]any) { m["emailAddress"] = "a@example.com, b@example.com" }, wants: []string{"emailAddress: ", "expected single address"}},
		{name: "address with LF", edit: func(m map[string]any) { m["emailAddress"] = "a@example.com\nBcc: x@example.com" }, wants: []string{"emailAddress: ", "contains CR or LF"}},
		{name: "address without dotted domain", edit: func(m map[string]any) { m["emailAddress"] = "a@localhost" }, wants: []string{"emailAddress: ", "not a dotted domain name"}},
		{name: "bad feedback address", edit: func(m map[string]any) { m["feedbackForwardingEmailAddress"] = "bounces@" }, wants: []string{"feedbackForwardingEmailAddress: "}},
		{name: "bad identity ARN", edit: func(m map[string]any) { m["emailAddressIdentityArn"] = "arn:aws:s3:::bucket" }, wants: []string{`emailAddressIdentityArn: "arn:aws:s3:::bucket" is not an SES ARN`}},
		{name: "bad feedback ARN", edit: func(m map[string]any) {
			m["feedbackForwardingEmailAddressIdentityArn"] = "arn:aws:ses:us-east-1:123:identity/x"
		}, wants: []string{"feedbackForwardingEmailAddressIdentityArn: "}},
		{name: "configuration set with space", edit: func(m map[string]any) { m["configurationSetName"] = "my set" }, wants: []string{`configurationSetName: "my set" is not a configuration set name`}},
		{name: "configuration set too long", edit: func(m map[string]any) { m["configurationSetName"] = strings.Repeat("a", 65) }, wants: []string{"configurationSetName: "}},
		{name: "unknown usageType", edit: func(m map[string]any) { template0(m)["usageType"] = "Signin" }, wants: []string{`templates[0].usageType: "Signin" is not a usage type; use one of SignIn,`}},
		{name: "no usageType", edit: func(m map[string]any) { delete(template0(m), "usageType") }, wants: []string{"templates[0].usageType: required"}},
		{name: "empty subject", edit: func(m map[string]any) { template0(m)["subject"] = "" }, wants: []string{"templates[0].subject: required"}},
		{name: "subject with CR", edit: func(m map[string]any) { template0(m)["subject"] = "Code\r\nBcc: x@example.com" }, wants: []string{"templates[0].subject: must not contain CR or LF"}},
		{name: "empty content", edit: func(m map[string]any) { template0(m)["content"] = "" }, wants: []string{"templates[0].content: required"}},
		{name: "bad contentType", edit: func(m map[string]any) { template0(m)["contentType"] = "text/markdown" }, wants: []string{`templates[0].contentType: "text/markdown" is not a content type`}},
		{name: "text beside plain content", edit: func(m map[string]any) {
			template0(m)["contentType"] = "text/plain"
			template0(m)["text"] = "x"
		}, wants: []string{"templates[0].text: only allowed beside HTML content"}},
		{name: "bad locale", edit: func(m map[string]any) {
			addTemplate(m, map[string]any{"usageType": "SignIn", "subject": "s", "content": "c", "locale": "portuguese!"})
		}, wants: []string{`templates[1].locale: "portuguese!" is not a BCP 47 language tag`}},
		{name: "bad replyTo", edit: func(m map[string]any) { template0(m)["replyTo"] = "support" }, wants: []string{"templates[0].replyTo: "}},
		{name: "duplicate usage and locale", edit: func(m map[string]any) {
			addTemplate(m, map[string]any{"usageType": "SignIn", "subject": "s", "content": "c", "locale": "pt-BR"})
			addTemplate(m, map[string]any{"usageType": "SignIn", "subject": "s", "content": "c", "locale": "pt-br"})
		}, wants: []string{`templates[2]: duplicates templates[1]: both are usageType "SignIn"`}},
		{name: "no Generic", edit: func(m map[string]any) { template0(m)["usageType"] = "SignIn" }, wants: []string{"templates: no Generic template without a locale"}},
		{name: "Generic only with a locale", edit: func(m map[string]any) { template0(m)["locale"] = "en" }, wants: []string{"templates: no Generic template without a locale"}},
		{name: "reserved header", edit: func(m map[string]any) { template0(m)["headers"] = map[string]any{"Bcc": "x@example.com"} }, wants: []string{`templates[0].headers["Bcc"]: set by SES or this library`}},
		{name: "Content-* header", edit: func(m map[string]any) { template0(m)["headers"] = map[string]any{"content-type": "text/plain"} }, wants: []string{`templates[0].headers["content-type"]: set by SES`}},
		{name: "header name with colon", edit: func(m map[string]any) { template0(m)["headers"] = map[string]any{"X-A:B": "1"} }, wants: []string{`templates[0].headers["X-A:B"]: not a header field name`}},
		{name: "header value with LF", edit: func(m map[string]any) { template0(m)["headers"] = map[string]any{"X-Ref": "a\nb"} }, wants: []string{`templates[0].headers["X-Ref"]: value must not contain CR or LF`}},
		{name: "16 headers", edit: func(m map[string]any) {
			hs := map[string]any{}
			for i := range 16 {
				hs[fmt.Sprintf("X-H%d", i)] = "v"
			}
			template0(m)["headers"] = hs
		}, wants: []string{"templates[0].headers: 16 headers; SES allows at most 15"}},
	}
	require.GreaterOrEqual(t, len(cases), 30)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := []byte(tc.raw)
			if tc.edit != nil {
				m := validConfig()
				tc.edit(m)
				var err error
				raw, err = json.Marshal(m)
				require.NoError(t, err)
			}
			cfg, err := ses.ParseConfig(raw)
			require.ErrorIs(t, err, ses.ErrInvalidConfig)
			assert.Nil(t, cfg)
			for _, want := range tc.wants {
				assert.Contains(t, err.Error(), want)
			}
			assert.NotContains(t, err.Error(), fakeSecret)
			var cerr *ses.ConfigError
			require.ErrorAs(t, err, &cerr)
			assert.NotEmpty(t, cerr.Problems)
		})
	}
}

func TestParseConfigValidVariants(t *testing.T) {
	t.Parallel()
	cases := map[string]func(m map[string]any){
		"default credential chain": func(m map[string]any) { delete(m, "accessKeyId"); delete(m, "accessKeySecret") },
		"name and address":         func(m map[string]any) { m["emailAddress"] = "Example <noreply@example.com>" },
		"angle address":            func(m map[string]any) { m["emailAddress"] = "<noreply@example.com>" },
		"Logto's spelling":         func(m map[string]any) { m["emailAddress"] = "Logto<noreply@logto.io>" },
		"non-ASCII display name":   func(m map[string]any) { m["emailAddress"] = "Équipe Ünicode <noreply@example.com>" },
		"GovCloud region":          func(m map[string]any) { m["region"] = "us-gov-west-1" },
		"null optional field":      func(m map[string]any) { m["configurationSetName"] = nil },
		"contentType in capitals":  func(m map[string]any) { template0(m)["contentType"] = "TEXT/HTML" },
		"contentType mixed case":   func(m map[string]any) { template0(m)["contentType"] = "Text/Plain" },
		"64-character set name":    func(m map[string]any) { m["configurationSetName"] = strings.Repeat("a", 64) },
		"China partition ARN": func(m map[string]any) {
			m["emailAddressIdentityArn"] = "arn:aws-cn:ses:cn-north-1:123456789012:identity/example.cn"
		},
		"every option of a template": func(m map[string]any) {
			addTemplate(m, map[string]any{
				"usageType": "SignIn", "subject": "s {{code}}", "content": "<b>{{code}}</b>", "contentType": "text/html",
				"text": "code {{code}}", "locale": "pt-BR", "replyTo": "Support <support@example.com>",
				"headers": map[string]any{"X-Entity-Ref-ID": "{{code}}"},
			})
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := validConfig()
			edit(m)
			raw, err := json.Marshal(m)
			require.NoError(t, err)
			_, err = ses.ParseConfig(raw)
			require.NoError(t, err)
		})
	}
}

func TestParseConfigReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, err := ses.ParseConfig([]byte(`{
		"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
		"region": "mars-1",
		"emailAddress": "a@example.com, b@example.com",
		"configurationSetName": "bad name",
		"templates": [
			{"usageType": "Signin", "subject": "Code\n", "content": ""},
			{"usageType": "Generic", "subject": 7, "content": "x", "colour": "red"}
		]
	}`))
	var cerr *ses.ConfigError
	require.ErrorAs(t, err, &cerr)
	var paths []string
	for _, p := range cerr.Problems {
		paths = append(paths, p.Path)
	}
	assert.ElementsMatch(t, []string{
		"templates[1].colour", "templates[1].subject", "accessKeySecret", "region", "emailAddress",
		"configurationSetName", "templates[0].usageType", "templates[0].subject", "templates[0].content",
	}, paths)
	assert.Equal(t, len(cerr.Problems)+1, strings.Count(err.Error(), "\n")+1, "one line per problem after the header")
}

func TestParseConfigSkipsByteOrderMark(t *testing.T) {
	t.Parallel()
	raw, err := json.Marshal(validConfig())
	require.NoError(t, err)
	withBOM, err := ses.ParseConfig(append([]byte("\xef\xbb\xbf"), raw...))
	require.NoError(t, err)
	without, err := ses.ParseConfig(raw)
	require.NoError(t, err)
	assert.Equal(t, without, withBOM)
}

func TestPlainTextContentTypeAnyCase(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Templates[2].ContentType = "TEXT/Plain"
	c, _ := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "1"})
	require.NoError(t, err)
	assert.Nil(t, in.Content.Simple.Body.Html)
	assert.Equal(t, "<p>Your code is 1.</p>", *in.Content.Simple.Body.Text.Data)
}

func TestValidateNilConfig(t *testing.T) {
	t.Parallel()
	var cfg *ses.Config
	require.ErrorIs(t, cfg.Validate(), ses.ErrInvalidConfig)
}

func TestConfigNeverPrintsSecret(t *testing.T) {
	t.Parallel()
	cfg, err := ses.LoadConfig(filepath.Join("testdata", "logto-example.json"))
	require.NoError(t, err)

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d", "%T"} {
		for _, v := range []any{cfg, *cfg, []*ses.Config{cfg}, map[string]ses.Config{"c": *cfg}} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, fakeSecret, verb)
			assert.NotContains(t, out, fakeSecret[:20], verb)
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", cfg), "AccessKeySecret:[REDACTED]")
	assert.Contains(t, fmt.Sprintf("%#v", *cfg), `sesconnector.Config{AccessKeyID:"AKIAIOSFODNN7EXAMPLE", AccessKeySecret:"[REDACTED]"`)
	assert.Contains(t, cfg.String(), "us-east-1")

	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		slog.New(h).Info("config", "cfg", cfg, "value", *cfg)
	}
	assert.NotContains(t, buf.String(), fakeSecret)
	assert.Contains(t, buf.String(), `"accessKeySecret":"[REDACTED]"`)
	assert.Contains(t, buf.String(), `"region":"us-east-1"`)

	// A config with only the secret set fails validation without quoting it.
	cfg.AccessKeyID = ""
	err = cfg.Validate()
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.NotContains(t, err.Error(), fakeSecret)
	assert.False(t, errors.Is(err, ses.ErrSendFailed))
}
