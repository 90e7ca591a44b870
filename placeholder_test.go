package sesconnector_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// composeWith builds a connector whose Generic template has this subject and content, and
// composes one message with payload; it returns the subject and HTML body.
func composeWith(t *testing.T, subject, content string, payload ses.Payload) (string, string, error) {
	t.Helper()
	cfg := testConfig()
	cfg.Templates = []ses.Template{{UsageType: ses.UsageGeneric, Subject: subject, Content: content}}
	c, m := newConnector(t, cfg)
	in, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, payload)
	_, sendErr := c.SendMessage(context.Background(), "user@example.com", ses.UsageGeneric, payload)
	if err != nil {
		require.ErrorIs(t, sendErr, ses.ErrInvalidParameters)
		assert.Empty(t, m.Calls(), "nothing is sent")
		return "", "", err
	}
	require.NoError(t, sendErr)
	return *in.Content.Simple.Subject.Data, *in.Content.Simple.Body.Html.Data, nil
}

func TestPlaceholderSyntax(t *testing.T) {
	t.Parallel()
	payload := ses.Payload{
		"code": "123456", "user-name": "Ana", "código": "42", "org": map[string]any{"name": "Acme"},
		"list": []any{map[string]any{"name": "first"}, "second"}, "names": []string{"x", "y"},
		"deep": map[string]any{"a": map[string]string{"b": "c"}}, "0": "zero",
	}
	cases := []struct {
		content, want string
	}{
		{"{{code}}", "123456"},
		{"{{ code }}", "123456"},
		{"{{\u00a0code\u00a0}}", "123456"}, // no-break spaces from a rich-text editor
		{"{{\tcode\u2003}}", "123456"},     // tab, em space
		{"{{\u3000code\ufeff}}", "123456"}, // ideographic space, BOM: JavaScript's \s
		{"<<code>>", "123456"},
		{"<< code >>", "123456"},
		{"{{user-name}}", "Ana"},
		{"{{código}}", "42"},
		{"{{org.name}}", "Acme"},
		{"{{list.0.name}} {{list.1}}", "first second"},
		{"{{names.1}}", "y"},
		{"{{deep.a.b}}", "c"},
		{"{{0}}", "zero"},
		{"a } b }} c > d >> e {x}", "a } b }} c > d >> e {x}"}, // literal text is sent as written
	}
	for _, tc := range cases {
		t.Run(tc.content, func(t *testing.T) {
			t.Parallel()
			_, html, err := composeWith(t, "s", tc.content, payload)
			require.NoError(t, err)
			assert.Equal(t, tc.want, html)
		})
	}
}

func TestHalfPlaceholdersRefusedAtLoad(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"{{code}", "{{{code}}}", "{{code}}}", "{{ }}", "{{}}", "{{a b}}", "<<code>", "<<code", "<<>>",
		"{{code", "{{.code}}", "{{code.}}", "{{a..b}}", "{{code>>", "<<code}}", "{{<b>}}", "x << y",
		"{{\u00a0}}", "<<<code>>>",
	} {
		t.Run(bad, func(t *testing.T) {
			t.Parallel()
			for _, field := range []string{"subject", "content", "text", `headers["X-Ref"]`} {
				cfg := testConfig()
				tmpl := &cfg.Templates[0]
				switch field {
				case "subject":
					tmpl.Subject = "Code " + bad
				case "content":
					tmpl.Content = "<p>" + bad + "</p>"
				case "text":
					tmpl.Text = "Code " + bad
				default:
					tmpl.Headers = map[string]string{"X-Ref": "r-" + bad}
				}
				_, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
				require.ErrorIs(t, err, ses.ErrInvalidConfig, field)
				assert.Contains(t, err.Error(), "templates[0]."+field+": ", field)
				assert.Contains(t, err.Error(), "opens a placeholder but is not one", field)
			}
		})
	}
}

type stringer struct{ s string }

func (s *stringer) String() string { return s.s }

type panicky struct{}

func (panicky) String() string { panic("boom") }

type code int

func TestPayloadValues(t *testing.T) {
	t.Parallel()
	var nilStringer *stringer
	var nilMap map[string]any
	cases := []struct {
		name    string
		value   any
		want    string // rendered; "" means refused
		wantErr string
	}{
		{name: "string", value: "123456", want: "123456"},
		{name: "int", value: 42, want: "42"},
		{name: "uint8", value: uint8(7), want: "7"},
		{name: "float", value: 1.5, want: "1.5"},
		{name: "named int", value: code(9), want: "9"},
		{name: "bool", value: true, want: "true"},
		{name: "Stringer", value: &stringer{"acme"}, want: "acme"},
		{name: "null", value: nil, wantErr: "the value is null"},
		{name: "typed-nil Stringer", value: nilStringer, wantErr: "the value is a nil *sesconnector_test.stringer"},
		{name: "panicking Stringer", value: panicky{}, wantErr: "the value's String method (sesconnector_test.panicky) panicked"},
		{name: "nil map", value: nilMap, wantErr: "the value is a map"},
		{name: "list", value: []any{"a"}, wantErr: "the value is a slice"},
		{name: "struct", value: struct{ A int }{1}, wantErr: "the value is a struct"},
		{name: "func", value: func() {}, wantErr: "the value is a func"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			subject, html, err := composeWith(t, "Code {{v}}", "<p>{{v}}</p>", ses.Payload{"v": tc.value})
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ses.ErrInvalidParameters)
				assert.Contains(t, err.Error(), "placeholder {{v}} in subject: "+tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "Code "+tc.want, subject)
			assert.Equal(t, "<p>"+tc.want+"</p>", html)
		})
	}
}

func TestMissingPathsNamed(t *testing.T) {
	t.Parallel()
	payload := ses.Payload{"list": []any{"a"}, "org": map[string]any{"name": "Acme"}, "n": 5}
	for content, missing := range map[string]string{
		"{{list.1}}":     "list.1",
		"{{list.01}}":    "list.01",
		"{{list.-1}}":    "list.-1",
		"{{org.id}}":     "org.id",
		"{{org.name.x}}": "org.name.x",
		"{{n.0}}":        "n.0",
		"{{nope}}":       "nope",
	} {
		_, _, err := composeWith(t, "s", content, payload)
		require.ErrorIs(t, err, ses.ErrInvalidParameters, content)
		assert.Contains(t, err.Error(), fmt.Sprintf("the payload has no %q", missing), content)
	}
}

func TestRenderedSubjectControlCharacters(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"a\rb", "a\nb", "a\x00b", "a\tb", "a\x1bb", "a\u0085b", "a\u2028b", "a\u2029b", "a\x7fb", "a\xffb"} {
		_, _, err := composeWith(t, "Hi {{name}}", "<p>{{name}}</p>", ses.Payload{"name": bad})
		require.ErrorIs(t, err, ses.ErrInvalidParameters, "%q", bad)
		assert.Contains(t, err.Error(), "the rendered subject holds", "%q", bad)
	}
	// The same characters written into the template itself are refused at load.
	for _, bad := range []string{"a\x00b", "a\u2028b", "a\tb"} {
		cfg := testConfig()
		cfg.Templates[0].Subject = bad
		_, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
		require.ErrorIs(t, err, ses.ErrInvalidConfig, "%q", bad)
		assert.Contains(t, err.Error(), "templates[0].subject: must not contain CR or LF, nor any other control character")
	}
}

func TestHeaderValues(t *testing.T) {
	t.Parallel()
	render := func(value string) error {
		cfg := testConfig()
		cfg.Templates[2].Headers = map[string]string{"X-Ref": "{{v}}"}
		c, _ := newConnector(t, cfg)
		_, err := c.Compose(context.Background(), "user@example.com", ses.UsageGeneric, ses.Payload{"code": "1", "v": value})
		return err
	}
	require.NoError(t, render(strings.Repeat("a", 870)))
	require.NoError(t, render(" !~"))
	for _, bad := range []string{strings.Repeat("a", 871), "", "café", "a\x00b", "a\tb", "a\x7f"} {
		err := render(bad)
		require.ErrorIs(t, err, ses.ErrInvalidParameters, "%q", bad)
		assert.Contains(t, err.Error(), "the rendered header X-Ref ", "%q", bad)
	}

	load := func(hs map[string]string) error {
		cfg := testConfig()
		cfg.Templates[2].Headers = hs
		_, err := ses.New(context.Background(), cfg, ses.WithClient(&mockSES{}))
		return err
	}
	for name, hs := range map[string]map[string]string{
		"871 bytes":          {"X-Ref": strings.Repeat("a", 871)},
		"871 literal bytes":  {"X-Ref": strings.Repeat("a", 871) + "{{code}}"},
		"empty":              {"X-Ref": ""},
		"non-ASCII":          {"X-Ref": "café {{code}}"},
		"tab":                {"X-Ref": "a\tb"},
		"same name any case": {"X-Ref": "a", "x-ref": "b"},
	} {
		err := load(hs)
		require.ErrorIs(t, err, ses.ErrInvalidConfig, name)
		assert.Contains(t, err.Error(), "templates[2].headers[", name)
	}
	require.NoError(t, load(map[string]string{"X-Ref": "{{code}}", "X-Other": strings.Repeat("a", 870)}))
}

// "Your code is " is never sent: an empty or blank code is refused like a missing one.
func TestEmptyCodeIsRefused(t *testing.T) {
	t.Parallel()
	c, m := newConnector(t, testConfig())
	for _, code := range []any{"", " ", "\t\n", "\u00a0", "\u3000"} {
		_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": code})
		require.ErrorIs(t, err, ses.ErrInvalidParameters, "%q", code)
		assert.Contains(t, err.Error(), `placeholder {{code}} in subject: the payload's "code" is empty`, "%q", code)
	}
	assert.Empty(t, m.Calls())
	_, err := c.SendMessage(context.Background(), "user@example.com", ses.UsageSignIn, ses.Payload{"code": 0})
	require.NoError(t, err, "a number is a code")
}
