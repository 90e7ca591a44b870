package sesconnector

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// Limits of RFC 5321 on an address and its parts.
const (
	maxAddress = 254
	maxLocal   = 64
	maxDomain  = 253
)

// parseMailbox parses one mailbox, "Name <addr>", "<addr>" or "addr", and checks what
// net/mail lets through but SES refuses: CR or LF, and a domain that is not a dotted name.
func parseMailbox(s string) (*mail.Address, error) {
	if hasCRLF(s) {
		return nil, errors.New("contains CR or LF")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, errors.New(explainAddress(s, err))
	}
	if err := checkAddrSpec(a.Address); err != nil {
		return nil, err
	}
	return a, nil
}

// explainAddress says in plain words why net/mail refused s, for the mistakes people make
// with a bare address; anything else keeps net/mail's own words.
func explainAddress(s string, err error) string {
	if !strings.ContainsAny(s, "<>\"(),;") {
		at := strings.LastIndexByte(s, '@')
		local, domain := s[:max(at, 0)], s[at+1:]
		switch {
		case strings.TrimSpace(s) == "":
			return "it is blank"
		case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			return "contains a space or a control character"
		case at < 0:
			return "no @: write it as name@example.com"
		case local == "":
			return "nothing before the @"
		case domain == "":
			return "nothing after the @"
		case strings.HasSuffix(domain, "."):
			return fmt.Sprintf("the domain %s ends with a dot; remove it", quote(domain))
		case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
			return "the part before the @ starts or ends with a dot, or has two dots in a row"
		case strings.Count(s, "@") > 1:
			return "more than one @ (quote a local part that holds one)"
		}
	}
	return strings.TrimPrefix(err.Error(), "mail: ")
}

// checkAddrSpec checks a bare address as parsed by net/mail.
func checkAddrSpec(addr string) error {
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:max(at, 0)], addr[at+1:]
	switch {
	case !isASCII(addr):
		return errors.New("not ASCII: SES takes a 7-bit local part, and an internationalized domain in its punycode (xn--) form")
	case len(addr) > maxAddress:
		return fmt.Errorf("longer than %d characters", maxAddress)
	case at <= 0:
		return errors.New("no local part")
	case len(local) > maxLocal:
		return fmt.Errorf("local part longer than %d characters", maxLocal)
	case len(domain) > maxDomain:
		return fmt.Errorf("domain longer than %d characters", maxDomain)
	case !validDomain(domain):
		return fmt.Errorf("domain %s is not a dotted domain name", quote(domain))
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// validDomain reports whether d is a dotted name of letters, digits and hyphens, as SES takes
// it (an internationalized domain in its punycode form).
func validDomain(d string) bool {
	if len(d) > maxDomain {
		return false
	}
	labels := 0
	for label := range strings.SplitSeq(d, ".") {
		labels++
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return labels >= 2
}

// formatMailbox is how an address goes on the wire: the bare address, or the display name
// (RFC 2047-encoded when it is not ASCII) and the address in angle brackets.
func formatMailbox(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.String()
}

// wireMailbox formats a validated config address for the wire.
func wireMailbox(s string) string {
	if s == "" {
		return ""
	}
	a, err := parseMailbox(s)
	if err != nil {
		return s // Validate reports it
	}
	return formatMailbox(a)
}

// recipientError is a recipient refused before anything was sent. Its text quotes the
// recipient for the caller; the log gets masked instead.
type recipientError struct {
	to     string
	reason string
}

func (e *recipientError) Error() string {
	if e.to == "" {
		return fmt.Sprintf("%v: the recipient is empty", ErrInvalidParameters)
	}
	return fmt.Sprintf("%v: recipient %q %s", ErrInvalidParameters, e.to, e.reason)
}

func (e *recipientError) Unwrap() error { return ErrInvalidParameters }

// logText is Error without the recipient.
func (e *recipientError) logText() string {
	if e.to == "" {
		return e.Error()
	}
	return fmt.Sprintf("%v: recipient (not logged) %s", ErrInvalidParameters, e.reason)
}

// checkRecipient accepts one bare address, as SES's Destination wants it.
func checkRecipient(to string) error {
	if to == "" {
		return &recipientError{to, "is empty"}
	}
	if isPlainAddress(to) {
		return nil // the common case, decided without net/mail's allocations
	}
	a, err := parseMailbox(to)
	if err != nil {
		return &recipientError{to, "is not an email address: " + err.Error()}
	}
	if a.Name != "" || a.Address != to {
		return &recipientError{to, "must be one bare address such as user@example.com, without a display name, brackets or spaces"}
	}
	return nil
}

// isPlainAddress reports whether s is a dot-atom local part, "@", and a dotted domain name of
// letters, digits and hyphens, within the length limits: an address that net/mail and
// checkAddrSpec accept as it is. Anything else (quoted local parts, say) takes the full parser.
func isPlainAddress(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > maxLocal || len(s) > maxAddress || !validDomain(s[at+1:]) {
		return false
	}
	local := s[:at]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !isAtext(c) && c != '.' {
			return false
		}
	}
	return true
}

// isAtext reports whether c may stand in an RFC 5322 atom.
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// MaskAddress is how the logs show a recipient: enough of a valid one to tell deliveries
// apart, j***@example.com, and nothing of a short local part (***@example.com) or of anything
// that is not one valid address (***). A delivery log or a hook of your own can store it.
func MaskAddress(addr string) string {
	if checkRecipient(addr) != nil {
		return "***"
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 3 || addr[0] == '"' {
		return "***" + addr[at:]
	}
	return addr[:1] + "***" + addr[at:]
}

// maskIn replaces every occurrence of a valid recipient in text with its masked form, in any
// letter case and with any of its characters percent-encoded: SES quotes recipients in some of
// its messages, and an SDK error carries the request's URL, where the address of
// GetSuppressedDestination stands as jane%40example.com. It runs only when a log record is
// written for a failure.
func maskIn(text, to string) string {
	if to == "" || checkRecipient(to) != nil {
		return text
	}
	var pattern strings.Builder
	pattern.WriteString("(?i)")
	for i := 0; i < len(to); i++ {
		c := to[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			pattern.WriteByte(c)
			continue
		}
		fmt.Fprintf(&pattern, "(?:%s|%%%02X)", regexp.QuoteMeta(string(c)), c)
	}
	re, err := regexp.Compile(pattern.String())
	if err != nil { // cannot happen: every character is quoted
		return MaskAddress(to)
	}
	return re.ReplaceAllLiteralString(text, MaskAddress(to))
}

// addressIn finds what looks like an email address in a text, in any letter case, with its @
// written or percent-encoded (%40, as in a URL's path). The local part leaves out / = ? and &,
// which are rare in an address and common around one in a URL.
var addressIn = regexp.MustCompile(`(?i)[a-z0-9!#$%'*+^_` + "`" + `{|}~.-]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)+`)

// MaskAddresses returns text with every email address in it masked as the logs mask a
// recipient, j***@example.com: whatever its letter case, and with its @ percent-encoded too.
// SES's error messages quote recipients ("Email address (jane@example.com) does not exist on
// your suppression list"); sesotel masks every text the SDK gives its spans with it, and a
// telemetry or logging hook of your own can do the same.
func MaskAddresses(text string) string {
	if !strings.Contains(text, "@") && !strings.Contains(text, "%40") {
		return text
	}
	return addressIn.ReplaceAllStringFunc(text, func(addr string) string {
		local, domain, ok := strings.Cut(addr, "@")
		if !ok {
			local, domain, _ = strings.Cut(addr, "%40")
		}
		if len(local) < 3 {
			return "***@" + domain
		}
		return local[:1] + "***@" + domain
	})
}
