package sesconnector_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	ses "github.com/sesconnector/sesconnector"
)

func TestMaskAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"no address here", "no address here"},
		{"Email address (probe-7f3a@example.com) does not exist on your suppression list.",
			"Email address (p***@example.com) does not exist on your suppression list."},
		{"The following identities failed the check in region EU-WEST-1: PROBE-7F3A@EXAMPLE.COM, noreply@acme.example",
			"The following identities failed the check in region EU-WEST-1: P***@EXAMPLE.COM, n***@acme.example"},
		{"GET https://email.eu-west-1.amazonaws.com/v2/email/suppression/addresses/jane.doe%2Bx%40example.com: 404",
			"GET https://email.eu-west-1.amazonaws.com/v2/email/suppression/addresses/j***@example.com: 404"},
		{"?to=ab@example.com&x=1", "?to=***@example.com&x=1"},
		{"user@localhost is not an address here, a@b.co is", "user@localhost is not an address here, ***@b.co is"},
	} {
		assert.Equal(t, tc.want, ses.MaskAddresses(tc.in), tc.in)
	}
}

// Whatever the text, no address in it survives masking: not in any letter case, and not its
// local part.
func FuzzMaskAddresses(f *testing.F) {
	f.Add("Email address (probe@example.com) does not exist", "probe-7f3a")
	f.Add("%s", "jane.doe+x")
	f.Fuzz(func(t *testing.T, around, local string) {
		if len(local) < 4 || strings.ContainsFunc(local, func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '.' || r == '-' || r == '+')
		}) {
			return
		}
		for _, addr := range []string{local + "@example.com", strings.ToUpper(local + "@example.com"), local + "%40example.com"} {
			text := around + " (" + addr + ") " + around
			masked := ses.MaskAddresses(text)
			lower := strings.ToLower(masked)
			if strings.Contains(lower, strings.ToLower(local)+"@example.com") || strings.Contains(lower, strings.ToLower(local)+"%40example.com") {
				t.Fatalf("MaskAddresses(%q) = %q keeps the address", text, masked)
			}
		}
	})
}
