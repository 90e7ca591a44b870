package deliverylog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/sesconnector/sesconnector"
)

// maskAddress masks one plain address as sesconnector.MaskAddresses does, and keeps nothing
// of what is not one.
func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"jane@example.com":         "j***@example.com",
		"Jane.Doe@Example.COM":     "J***@Example.COM",
		"jo@example.com":           "***@example.com",
		"not an address":           "***",
		"jane@example.com, joe@x":  "***",
		"Jane <jane@example.com>":  "***",
		"@example.com":             "***",
		"jane@":                    "***",
		"a@b@example.com":          "***",
		"\"jane doe\"@example.com": "***",
		"":                         "***",
	} {
		assert.Equal(t, want, maskAddress(in), in)
		if want != "***" {
			assert.Equal(t, sesconnector.MaskAddresses(in), maskAddress(in), in)
		}
	}
}

// Stored texts are masked and cut on a character boundary.
func TestMaskedText(t *testing.T) {
	assert.Equal(t, "smtp; 550 j***@example.com unknown", masked("smtp; 550 jane@example.com unknown"))
	long := masked(strings.Repeat("é", 400))
	assert.True(t, utf8.ValidString(long))
	assert.LessOrEqual(t, len(long), maxText+len("…"))
	assert.True(t, strings.HasSuffix(long, "…"))
}

// What the log stores of a recipient keeps at most its first character and its domain, and a
// DSN it refuses is never quoted past its scheme (it may hold a password), whatever the input.
func FuzzMaskAndDSN(f *testing.F) {
	for _, s := range []string{"jane@example.com", "jo@x.io", "a@b@c", "\"j d\"@x.com", "mysql://root:hunter2@db/x", "sqlite:", "postgres://", "ﬀ@ß.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := maskAddress(s)
		if m != "***" {
			at := strings.IndexByte(s, '@')
			if !strings.HasSuffix(m, s[at:]) || len(m) > len(s)+3 || !strings.Contains(m, "***@") {
				t.Fatalf("maskAddress(%q) = %q", s, m)
			}
		}
		_, _, err := parseDSN(s)
		if err == nil {
			return
		}
		if _, rest, ok := strings.Cut(s, ":"); ok && len(rest) > 3 && strings.Contains(err.Error(), rest) && !strings.HasPrefix(s, "sqlite:") {
			t.Fatalf("parseDSN(%q) quotes what follows the scheme: %v", s, err)
		}
	})
}
