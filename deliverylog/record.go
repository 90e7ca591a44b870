package deliverylog

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strings"
	"time"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
)

// record is one thing to write: a send, an event, or a flush marker (closed once everything
// queued before it is written).
type record struct {
	send  *sendRecord
	event *eventRecord
	flush chan struct{}
}

// sendRecord is a send as the Observer saw it. The address is hashed and masked by the writer,
// off the sender's goroutine.
type sendRecord struct {
	to, id, usage, locale, template, region, outcome, err string
	at                                                    time.Time
}

// eventRecord is one SES event about one message.
type eventRecord struct {
	messageID, typ, bounceType, bounceSubType, diagnostic string
	at                                                    time.Time
}

// The event types the log keeps: what happened to the message, not what its reader did.
var kept = map[feedback.Type]bool{
	feedback.TypeSend: true, feedback.TypeDelivery: true, feedback.TypeDeliveryDelay: true, feedback.TypeBounce: true,
	feedback.TypeComplaint: true, feedback.TypeReject: true, feedback.TypeRenderingFailure: true,
}

// Feedback returns a feedback.Handler that adds each of SES's events about a message to its
// timeline, by MessageId, then calls h (when h is not nil) and returns what h returns. An
// event redelivered by SNS or SQS is stored once. Open, Click and Subscription events, and
// events without a MessageId, are passed on and not stored.
func (l *Log) Feedback(h feedback.Handler) feedback.Handler {
	return func(ctx context.Context, e *feedback.Event) error {
		if e != nil && e.MessageID != "" && kept[e.Type] {
			l.enqueue(record{event: eventOf(e)})
		}
		if h == nil {
			return nil
		}
		return h(ctx, e)
	}
}

// eventOf keeps what a support engineer needs of e; its texts are masked by the writer.
func eventOf(e *feedback.Event) *eventRecord {
	r := &eventRecord{messageID: e.MessageID, typ: string(e.Type), at: e.Timestamp}
	var diagnostic string
	for _, rc := range e.Recipients {
		if rc.DiagnosticCode != "" {
			diagnostic = rc.DiagnosticCode
			break
		}
	}
	switch {
	case e.Bounce != nil:
		r.bounceType, r.bounceSubType = e.Bounce.Type, e.Bounce.SubType
	case e.Delay != nil:
		diagnostic = join(e.Delay.Type, diagnostic)
	case e.Delivery != nil:
		diagnostic = e.Delivery.SMTPResponse
	case e.Complaint != nil:
		diagnostic = e.Complaint.FeedbackType
	case e.Reject != nil:
		diagnostic = e.Reject.Reason
	case e.Type == feedback.TypeRenderingFailure:
		diagnostic = renderingFailure(e.Raw)
	}
	r.diagnostic = diagnostic
	return r
}

func join(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + ": " + b
}

// renderingFailure is what SES said of a template it could not render.
func renderingFailure(raw json.RawMessage) string {
	var r struct {
		Failure struct{ ErrorMessage, TemplateName string } `json:"failure"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return ""
	}
	return join(r.Failure.TemplateName, r.Failure.ErrorMessage)
}

// maxText is the longest error or diagnostic kept.
const maxText = 500

// masked returns text with every address masked, cut to maxText bytes on a character boundary.
func masked(text string) string {
	text = sesconnector.MaskAddresses(text)
	if len(text) <= maxText {
		return text
	}
	cut := maxText
	for cut > 0 && !validStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

func validStart(b byte) bool { return b&0xC0 != 0x80 }

// maskAddress is the stored form of a recipient, as the connector's logs show it.
var maskAddress = sesconnector.MaskAddress

// normalize is the address as its hash is taken: trimmed and lower-cased, so that what a user
// types finds what the service sent, whatever its letter case.
func normalize(address string) string { return strings.ToLower(strings.TrimSpace(address)) }

// addressHash is the keyed hash of an address, in hex.
func addressHash(key []byte, address string) string { return sum(hmac.New(sha256.New, key), address) }

// sum is mac's hash of an address, in hex.
func sum(mac hash.Hash, address string) string {
	mac.Reset()
	mac.Write([]byte(normalize(address)))
	var b [sha256.Size]byte
	return hex.EncodeToString(mac.Sum(b[:0]))
}

// refusedID names the row of a send SES never took, which has no MessageId.
func refusedID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "refused-" + hex.EncodeToString(b)
}
