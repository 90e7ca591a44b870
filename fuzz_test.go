package sesconnector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	ses "github.com/sesconnector/sesconnector"
)

// The fuzzers' properties: no panic, every error is one of the package's sentinels, a rendered
// subject never holds CR or LF, and the HTML body never holds a "<" that came from the payload.
// Seeds are the f.Add calls and testdata/fuzz; `make test` runs each fuzzer for a few seconds.

func ours(err error) bool {
	for _, s := range []error{ses.ErrInvalidConfig, ses.ErrTemplateNotFound, ses.ErrInvalidParameters, ses.ErrSendFailed} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","accessKeySecret":"fake-secret-for-the-fuzzer","region":"us-east-1","emailAddress":"Logto<noreply@logto.io>","templates":[{"usageType":"Generic","subject":"s","content":"{{code}}"}]}`))
	f.Add([]byte(`{"region":"eu-west-1","emailAddress":"a@b.co","templates":[{"usageType":"SignIn","locale":"pt-BR","subject":"s","content":"c","headers":{"X-A":"{{code}}"}},{"usageType":"Generic","subject":"s","content":"c"}]}`))
	f.Add([]byte(`{"templates":[1,null,{"usageType":7}],"region":null}`))
	f.Add([]byte(`{"accessKeyId":"AKIA","accessKeySecret":"fake-secret-in-a-bad-config","region":"x","region":"y"}`))
	f.Add([]byte("\xef\xbb\xbf{\"region\":\"caf\xe9\"}"))
	f.Add([]byte(`[{"a":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ses.ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidConfig) || cfg != nil {
				t.Fatalf("ParseConfig(%q) = %v, %v", data, cfg, err)
			}
			if secret := secretOf(data); len(secret) >= 12 && bytes.Count(data, []byte(secret)) == 1 && strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the secret %q: %v", secret, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parsed config fails Validate: %v", err)
		}
		c, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
		if err != nil {
			t.Fatalf("New refuses a parsed config: %v", err)
		}
		if _, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": "1"}); err != nil && !ours(err) {
			t.Fatalf("Compose: %v", err)
		}
		cfg.AccessKeySecret = fakeSecret
		for form, out := range leakForms(t, cfg) {
			if strings.Contains(out, fakeSecret) {
				t.Fatalf("the secret shows in %s: %s", form, out)
			}
		}
	})
}

// secretOf returns the accessKeySecret string of a config document, if it has one.
func secretOf(data []byte) string {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	s, _ := m["accessKeySecret"].(string)
	return s
}

func FuzzRender(f *testing.F) {
	f.Add("Code {{code}}", "<p>{{ code }} <<v>></p>", "<script>")
	f.Add("{{o.k}}", "{{v}}{{v}}", "a\r\nb")
	f.Add("s", "<<code>", "<<code>>")
	f.Add("{{missing}}", "x", "")
	f.Add("{{\u00a0v\u00a0}}", "{{l.0}} {{{v}}}", "\u2028")
	f.Fuzz(func(t *testing.T, subject, content, value string) {
		cfg := testConfig()
		cfg.Templates = []ses.Template{{UsageType: ses.UsageGeneric, Subject: subject, Content: content, Text: content}}
		c, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidConfig) {
				t.Fatalf("New: %v", err)
			}
			return
		}
		compose := func(v string) (subject, html, text string, err error) {
			payload := ses.Payload{"code": "123456", "v": v, "o": map[string]any{"k": v}, "l": []any{v}}
			in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, payload)
			if err != nil {
				return "", "", "", err
			}
			body := in.Content.Simple.Body
			return *in.Content.Simple.Subject.Data, *body.Html.Data, *body.Text.Data, nil
		}
		subj, html, _, err := compose(value)
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidParameters) {
				t.Fatalf("Compose: %v", err)
			}
			return
		}
		for _, r := range subj {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("rendered subject %q holds the control character %q", subj, r)
			}
		}
		if !utf8.ValidString(subj) {
			t.Fatalf("rendered subject %q is not UTF-8", subj)
		}
		// The same render with a value that cannot make a placeholder or markup: any "{{" or
		// "<<" left is an unresolved placeholder of the template, and any extra "<" in the
		// HTML one that the payload put there unescaped.
		neutral := strings.NewReplacer("<", "x", "{", "x", ">", "x", "}", "x").Replace(value)
		safeSubj, safeHTML, safeText, err := compose(neutral)
		if err != nil {
			t.Fatalf("Compose with the neutral value: %v", err)
		}
		for _, out := range []string{safeSubj, safeHTML, safeText} {
			if strings.Contains(out, "{{") || strings.Contains(out, "<<") {
				t.Fatalf("output %q holds an unresolved placeholder (template %q, %q)", out, subject, content)
			}
		}
		if strings.Count(html, "<") != strings.Count(safeHTML, "<") {
			t.Fatalf("HTML %q holds a '<' from the payload %q", html, value)
		}
	})
}

func FuzzRecipient(f *testing.F) {
	for _, s := range []string{"user@example.com", "User <user@example.com>", "a@b.co, c@d.co", "user@example.com\r\nBcc: x@y.z", "\"a b\"@example.com", "user@[127.0.0.1]", "用户@例子.广告"} {
		f.Add(s)
	}
	c, _ := ses.New(context.Background(), testConfig(), ses.WithClient(&mockSES{}))
	f.Fuzz(func(t *testing.T, to string) {
		in, err := c.Compose(context.Background(), to, ses.UsageSignIn, ses.Payload{"code": "1"})
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidParameters) {
				t.Fatalf("Compose(%q): %v", to, err)
			}
			return
		}
		if got := in.Destination.ToAddresses; len(got) != 1 || got[0] != to {
			t.Fatalf("ToAddresses = %q, want [%q]", got, to)
		}
		if strings.ContainsAny(to, "\r\n<>,") || !strings.Contains(to, "@") {
			t.Fatalf("accepted %q", to)
		}
	})
}
