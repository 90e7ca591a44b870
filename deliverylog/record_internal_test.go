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
