package sesconnector

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// sender holds the parts of every request that the config fixes, formatted once in New.
type sender struct {
	from                 string // FromEmailAddress, display name RFC 2047-encoded
	fromARN              string
	feedbackAddress      string
	feedbackARN          string
	configurationSetName string
	tags                 []tag // WithTags, sorted by name; usageType added per send with a configuration set
}

type tag struct{ name, value string }

const charsetUTF8 = "UTF-8"

// request is everything one SendEmailInput points to, allocated together: composing a request
// costs one allocation instead of a dozen, and no two requests share anything a caller could
// change.
type request struct {
	input   sesv2.SendEmailInput
	dest    types.Destination
	to      [1]string
	content types.EmailContent
	message types.Message
	body    types.Body
	subject types.Content
	html    types.Content
	text    types.Content
	charset string
	fixed   sender
	r       rendered
}

// compose builds the SendEmailInput for one message of usage, rendered from ct. Empty optional
// fields stay nil: SES reads "" as a value, not as absent.
func (s *sender) compose(to string, usage UsageType, ct *compiledTemplate, r rendered) *sesv2.SendEmailInput {
	q := &request{charset: charsetUTF8, fixed: *s, r: r}
	q.to[0] = to
	q.dest.ToAddresses = q.to[:]
	q.subject = types.Content{Data: &q.r.subject, Charset: &q.charset}
	q.message.Subject = &q.subject
	if ct.html != nil {
		q.html = types.Content{Data: &q.r.html, Charset: &q.charset}
		q.body.Html = &q.html
	}
	if ct.text != nil {
		q.text = types.Content{Data: &q.r.text, Charset: &q.charset}
		q.body.Text = &q.text
	}
	q.message.Body = &q.body
	q.message.Headers = q.r.headers
	q.content.Simple = &q.message

	f := &q.fixed
	q.input = sesv2.SendEmailInput{
		Content:                        &q.content,
		Destination:                    &q.dest,
		FromEmailAddress:               &f.from,
		FromEmailAddressIdentityArn:    optional(&f.fromARN),
		FeedbackForwardingEmailAddress: optional(&f.feedbackAddress),
		FeedbackForwardingEmailAddressIdentityArn: optional(&f.feedbackARN),
		ConfigurationSetName:                      optional(&f.configurationSetName),
	}
	if ct.replyTo != "" {
		q.input.ReplyToAddresses = []string{ct.replyTo}
	}
	q.input.EmailTags = s.emailTags(usage)
	return &q.input
}

// usageTypeTag is the EmailTag that lets SES event publishing split events by usage type.
const usageTypeTag = "usageType"

func (s *sender) emailTags(usage UsageType) []types.MessageTag {
	n := len(s.tags)
	if s.configurationSetName != "" {
		n++
	}
	if n == 0 {
		return nil
	}
	all := make([]tag, 0, n)
	if s.configurationSetName != "" {
		all = append(all, tag{usageTypeTag, string(usage)})
	}
	all = append(all, s.tags...)
	tags := make([]types.MessageTag, n)
	for i := range all {
		tags[i] = types.MessageTag{Name: &all[i].name, Value: &all[i].value}
	}
	return tags
}

func optional(s *string) *string {
	if *s == "" {
		return nil
	}
	return s
}

// checkRecipient accepts one bare address, as SES's Destination wants it.
func checkRecipient(to string) error {
	if to == "" {
		return fmt.Errorf("%w: the recipient is empty", ErrInvalidParameters)
	}
	if isPlainAddress(to) {
		return nil // the common case, decided without net/mail's allocations
	}
	a, err := parseMailbox(to)
	if err != nil {
		return fmt.Errorf("%w: recipient %q is not an email address: %v", ErrInvalidParameters, to, err)
	}
	if a.Name != "" || a.Address != to {
		return fmt.Errorf("%w: recipient %q must be one bare address such as user@example.com, without a display name, brackets or spaces", ErrInvalidParameters, to)
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

// throttlingCodes are the SES error codes that mean "slow down".
var throttlingCodes = []string{"TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException"}

// sendError classifies an error from SendEmail, keeping it reachable by errors.As and errors.Is.
func sendError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && slices.Contains(throttlingCodes, apiErr.ErrorCode()) {
		return fmt.Errorf("%w: %w", ErrThrottled, err)
	}
	return fmt.Errorf("%w: %w", ErrSendFailed, err)
}

// maskAddress keeps enough of an address to tell deliveries apart in logs: j***@example.com.
func maskAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 1 {
		return "***"
	}
	return addr[:1] + "***" + addr[at:]
}
