package sesconnector

import "testing"

// FuzzPlainAddress checks that the fast path of checkRecipient accepts only what the full
// parser accepts as a bare address.
func FuzzPlainAddress(f *testing.F) {
	for _, s := range []string{"user@example.com", "a.b+c@sub.example.co", "a..b@example.com", ".a@example.com", "a@-x.com",
		"a@x", "\"q\"@example.com", "a@exa_mple.com", "o'brien@example.ie", "a@b.c.", "{x}@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isPlainAddress(s) {
			return
		}
		a, err := parseMailbox(s)
		if err != nil || a.Name != "" || a.Address != s {
			t.Fatalf("isPlainAddress(%q) but the parser says %v, %+v", s, err, a)
		}
	})
}
