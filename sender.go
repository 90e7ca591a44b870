package sesconnector

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sender holds the parts of every request that the config fixes, formatted once in New.
type sender struct {
	from                 string // FromEmailAddress, display name RFC 2047-encoded
	fromARN              string
	feedbackAddress      string
	feedbackARN          string
	configurationSetName string
	endpointID           string // a global endpoint: the SDK signs with SigV4a
	tenantName           string
	tags                 []tag // WithTags, sorted by name; usageType added per send with a configuration set
	keepTracking         bool  // WithTracking: no ConfigurationOverrides
}

type tag struct{ name, value string }

const charsetUTF8 = "UTF-8"

// request is everything one SendEmailInput points to, allocated together: composing a request
// costs one allocation instead of a dozen, and no two requests share anything a caller could
// change.
type request struct {
	input     sesv2.SendEmailInput
	dest      types.Destination
	to        [1]string
	content   types.EmailContent
	message   types.Message
	body      types.Body
	subject   types.Content
	html      types.Content
	text      types.Content
	charset   string
	overrides types.ConfigurationOverrides
	tracking  types.TrackingConfigurationOverrides
	fixed     sender
	r         rendered
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
		EndpointId:                                optional(&f.endpointID),
		TenantName:                                optional(&f.tenantName),
	}
	if ct.replyTo != "" {
		q.input.ReplyToAddresses = []string{ct.replyTo}
	}
	if !s.keepTracking {
		// Auth mail carries sign-in links and codes: a click-tracking redirect breaks them (ad
		// blockers, mail scanners that follow links) and an open pixel adds nothing.
		q.tracking = types.TrackingConfigurationOverrides{ClickTrackingEnabled: types.FeatureStatusDisabled, OpenTrackingEnabled: types.FeatureStatusDisabled}
		q.overrides.Tracking = &q.tracking
		q.input.ConfigurationOverrides = &q.overrides
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

// throttlingCodes are the SES error codes that mean "slow down".
var throttlingCodes = []string{"TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException"}

// maxErrorText bounds the cause's text in an error (and so in a log record): SES's messages
// are short, but a proxy in the way may answer with a whole page.
const maxErrorText = 1024

// sendFailure is a send that failed at SES or on the way. Its text is the sentinel's, a note,
// and the cause's text cut to maxErrorText; errors.Is and errors.As reach the sentinel and
// the cause, the smithy API error and typed SES exception included.
type sendFailure struct {
	kind  error // ErrSendFailed or ErrThrottled
	note  string
	cause error
}

func (e *sendFailure) Error() string {
	var b strings.Builder
	b.WriteString(e.kind.Error())
	if e.note != "" {
		b.WriteString(": ")
		b.WriteString(e.note)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(cut(e.cause.Error(), maxErrorText))
	}
	return b.String()
}

func (e *sendFailure) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// sendError classifies an error from SendEmail.
func sendError(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && slices.Contains(throttlingCodes, apiErr.ErrorCode()) {
		return &sendFailure{kind: ErrThrottled, cause: err}
	}
	var re *smithyhttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case status == http.StatusTooManyRequests:
		return &sendFailure{kind: ErrThrottled, note: "HTTP 429 Too Many Requests", cause: err}
	case status >= 200 && status < 300:
		return &sendFailure{kind: ErrSendFailed, note: fmt.Sprintf("SES answered HTTP %d with a body that could not be read; it may have accepted the message", status), cause: err}
	}
	return &sendFailure{kind: ErrSendFailed, cause: err}
}

// errNoMessageID is an answer without the MessageId that a sent message always gets.
var errNoMessageID = &sendFailure{kind: ErrSendFailed, note: "SES answered without a MessageId; it may have accepted the message, so look for it before sending again"}

// cut shortens s to at most n bytes, on a character boundary, saying how much was left out.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	end := n
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return fmt.Sprintf("%s… (%d more bytes)", s[:end], len(s)-end)
}
