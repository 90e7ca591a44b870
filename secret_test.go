package sesconnector_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
)

// holder is how services keep a config: inside structs of their own.
type holder struct {
	Name   string
	Config ses.Config
	Ptr    *ses.Config
	List   []ses.Config
	ByName map[string]ses.Config
	Any    any
}

// leakForms returns every printed, logged and marshalled form of v that this test knows.
func leakForms(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10.3v", "%-v"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	out["json"] = string(data)
	data, err = json.MarshalIndent(v, "", " ")
	require.NoError(t, err)
	out["json indented"] = string(data)
	if x, err := xml.Marshal(v); err == nil {
		out["xml"] = string(x)
	}
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(h(&buf))
		l.Info("v", "v", v)
		l.Info("group", slog.Group("g", slog.Any("v", v)))
		l.With("with", v).Info("with")
		out[name] = buf.String()
	}
	return out
}

func TestSecretNeverShows(t *testing.T) {
	t.Parallel()
	cfg, err := ses.LoadConfig(filepath.Join("testdata", "logto-example.json"))
	require.NoError(t, err)
	h := holder{Name: "app", Config: *cfg, Ptr: cfg, List: []ses.Config{*cfg}, ByName: map[string]ses.Config{"a": *cfg}, Any: cfg}
	values := map[string]any{
		"Config": *cfg, "*Config": cfg, "[]Config": []ses.Config{*cfg}, "[]*Config": []*ses.Config{cfg},
		"map": map[string]*ses.Config{"a": cfg}, "holder": h, "*holder": &h, "[]holder": []holder{h},
		"Secret": cfg.AccessKeySecret, "any": any(cfg.AccessKeySecret),
	}
	for name, v := range values {
		for form, out := range leakForms(t, v) {
			assert.NotContains(t, out, fakeSecret, "%s as %s", name, form)
			assert.NotContains(t, out, fakeSecret[:12], "%s as %s", name, form)
			assert.NotContains(t, out, fmt.Sprintf("%x", fakeSecret[:12]), "%s as %s", name, form)
		}
	}
	assert.Equal(t, fakeSecret, string(cfg.AccessKeySecret), "string(s) gives it back")
}

func TestSecretForms(t *testing.T) {
	t.Parallel()
	s := ses.Secret(fakeSecret)
	assert.Equal(t, "[REDACTED]", s.String())
	assert.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%q", s))
	assert.Equal(t, `"[REDACTED]"`, fmt.Sprintf("%#v", s))
	data, err := json.Marshal(map[string]ses.Secret{"k": s, "empty": ""})
	require.NoError(t, err)
	assert.JSONEq(t, `{"k":"[REDACTED]","empty":""}`, string(data))
	assert.Equal(t, "", fmt.Sprint(ses.Secret("")), "an empty secret shows as empty")
}

func TestMarshalledConfigDoesNotLoadBack(t *testing.T) {
	t.Parallel()
	cfg, err := ses.LoadConfig(filepath.Join("testdata", "logto-example.json"))
	require.NoError(t, err)
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	assert.NotContains(t, string(data), fakeSecret)
	_, err = ses.ParseConfig(data)
	require.ErrorIs(t, err, ses.ErrInvalidConfig)
	assert.EqualError(t, err, "sesconnector: invalid config: accessKeySecret: is the placeholder a marshalled Config shows in place of the secret; put the real secret here")

	// Without the secret, the rest round-trips.
	cfg.AccessKeyID, cfg.AccessKeySecret = "", ""
	data, err = json.Marshal(cfg)
	require.NoError(t, err)
	back, err := ses.ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, cfg, back)
}
