package sesconnector_test

import (
	"context"
	"errors"
	"strings"
	"testing"

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
	f.Add([]byte(`{"accessKeyId":"AKIAIOSFODNN7EXAMPLE","accessKeySecret":"fake","region":"us-east-1","emailAddress":"Logto<noreply@logto.io>","templates":[{"usageType":"Generic","subject":"s","content":"{{code}}"}]}`))
	f.Add([]byte(`{"region":"eu-west-1","emailAddress":"a@b.co","templates":[{"usageType":"SignIn","locale":"pt-BR","subject":"s","content":"c","headers":{"X-A":"{{code}}"}},{"usageType":"Generic","subject":"s","content":"c"}]}`))
	f.Add([]byte(`{"templates":[1,null,{"usageType":7}],"region":null}`))
	f.Add([]byte(`[{"a":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ses.ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidConfig) || cfg != nil {
				t.Fatalf("ParseConfig(%q) = %v, %v", data, cfg, err)
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
	})
}

func FuzzRender(f *testing.F) {
	f.Add("Code {{code}}", "<p>{{ code }} <<v>></p>", "<script>")
	f.Add("{{o.k}}", "{{v}}{{v}}", "a\r\nb")
	f.Add("s", "<<code>", "<<code>>")
	f.Add("{{missing}}", "x", "")
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
		compose := func(v string) (string, string, error) {
			payload := ses.Payload{"code": "123456", "v": v, "o": map[string]any{"k": v}}
			in, err := c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, payload)
			if err != nil {
				return "", "", err
			}
			return *in.Content.Simple.Subject.Data, *in.Content.Simple.Body.Html.Data, nil
		}
		subj, html, err := compose(value)
		if err != nil {
			if !errors.Is(err, ses.ErrInvalidParameters) {
				t.Fatalf("Compose: %v", err)
			}
			return
		}
		if strings.ContainsAny(subj, "\r\n") {
			t.Fatalf("rendered subject %q holds CR or LF", subj)
		}
		// The same render with every "<" of the value made harmless: any extra "<" in the HTML
		// would be one the payload put there unescaped.
		_, safeHTML, err := compose(strings.ReplaceAll(value, "<", "x"))
		if err != nil {
			t.Fatalf("Compose with the safe value: %v", err)
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
