// Package feedback turns what Amazon SES says after a send into typed events: notifications of
// an identity (Bounce, Complaint, Delivery) and the event-publishing records of a configuration
// set (Send, Delivery, Bounce, Complaint, Reject, DeliveryDelay, RenderingFailure, Open, Click,
// Subscription), raw or inside an SNS envelope, an SQS message or an EventBridge event.
//
// Parse reads one event from any of those shapes; NewSNSHandler serves an SNS HTTPS
// subscription, verifying every message's signature before parsing it; Consume long-polls an
// SQS queue subscribed to the topic.
//
// SNS and SQS deliver at least once: a Handler sees the same event again after a retry, a
// redelivery or a restart, so it must be idempotent by MessageID and Type (record the pair,
// or make what it does safe to repeat, such as marking an address undeliverable).
package feedback

import (
	"encoding/json"
	"time"

	"github.com/sesconnector/sesconnector"
)

// Type is the kind of an event, as SES names it ("Rendering Failure" is RenderingFailure).
type Type string

// The event types.
const (
	TypeSend             Type = "Send"
	TypeDelivery         Type = "Delivery"
	TypeBounce           Type = "Bounce"
	TypeComplaint        Type = "Complaint"
	TypeReject           Type = "Reject"
	TypeDeliveryDelay    Type = "DeliveryDelay"
	TypeRenderingFailure Type = "RenderingFailure"
	TypeOpen             Type = "Open"
	TypeClick            Type = "Click"
	TypeSubscription     Type = "Subscription"
)

// Event is one thing SES says about one message.
type Event struct {
	Type      Type
	MessageID string    // SES's MessageId: what SendMessage returned
	Timestamp time.Time // the event object's timestamp (bounce, complaint, delivery, ...); else mail.timestamp
	// UsageType comes from the usageType tag that every send through a configuration set
	// carries; "" for identity notifications, which carry no tags.
	UsageType  sesconnector.UsageType
	Tags       map[string][]string
	From       string      // mail.source
	Recipients []Recipient // the recipients this event is about; mail.destination for events without their own list
	Bounce     *Bounce     // set for TypeBounce; likewise the others
	Complaint  *Complaint
	Delivery   *Delivery
	Delay      *DeliveryDelay
	Reject     *Reject
	Raw        json.RawMessage // the SES JSON as received, without its envelopes
}

// Recipient is one address an event is about, with what the receiving server said of it.
type Recipient struct{ Address, Action, Status, DiagnosticCode string }

// Bounce says why a message bounced. Type is Permanent, Transient or Undetermined; SubType is
// General, NoEmail, Suppressed, OnAccountSuppressionList, MailboxFull, ... as SES documents.
type Bounce struct{ Type, SubType, FeedbackID, ReportingMTA string }

// Complaint is a recipient marking the message as spam. FeedbackType is the ISP's
// (abuse, fraud, not-spam, ...), empty when it sent no feedback report.
type Complaint struct{ FeedbackType, FeedbackID, UserAgent string }

// Delivery is a message the recipient's mail server accepted.
type Delivery struct {
	ProcessingTime             time.Duration
	SMTPResponse, ReportingMTA string
}

// DeliveryDelay is a message SES is still trying to deliver, until ExpirationTime.
type DeliveryDelay struct {
	Type           string // InternalFailure, General, MailboxFull, SpamDetected, RecipientServerError, IPFailure, TransientCommunicationFailure, ...
	ExpirationTime time.Time
}

// Reject is a message SES refused to send (it held a virus).
type Reject struct{ Reason string }

// Undeliverable reports whether mail to these recipients should stop: a permanent bounce (the
// address does not exist, or is on the account's suppression list) or a complaint.
func (e *Event) Undeliverable() bool {
	switch {
	case e.Type == TypeBounce && e.Bounce != nil:
		return e.Bounce.Type == "Permanent"
	case e.Type == TypeComplaint:
		return true
	}
	return false
}
