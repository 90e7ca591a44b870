package sesconnector

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Secret is a credential that never shows itself: fmt (every verb, inside any struct, slice or
// map), slog (every handler) and encoding/json all print "[REDACTED]" in its place, and "" when
// it is empty. string(s) gives the value back.
//
// fmt cannot call methods on unexported struct fields, so keep a Config in an exported field,
// or behind a pointer, of any struct you print.
type Secret string

const redacted = "[REDACTED]"

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[REDACTED]", or "" for an empty secret.
func (s Secret) String() string { return s.shown() }

// GoString returns the redacted form as a Go string literal.
func (s Secret) GoString() string { return strconv.Quote(s.shown()) }

// Format prints the redacted form whatever the verb and flags: %x or %d print no more of the
// secret than %v does.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || verb == 'v' && f.Flag('#') {
		io.WriteString(f, strconv.Quote(s.shown()))
		return
	}
	io.WriteString(f, s.shown())
}

// MarshalJSON writes "[REDACTED]": a Config marshalled to JSON does not carry its secret, so it
// does not load back as it was (ParseConfig refuses the redacted placeholder by name).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.shown())), nil }

// MarshalText writes "[REDACTED]", for encoders that use encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// LogValue gives slog the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }
