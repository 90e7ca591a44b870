package feedback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/sesconnector/sesconnector"
)

var (
	// ErrMalformed reports input that is not an SES event in any of the shapes Parse reads; the
	// error says what was expected.
	ErrMalformed = errors.New("feedback: not an SES event")
	// ErrSetupNotice reports the message SES publishes once when a topic is set up for an
	// identity's notifications (AmazonSnsSubscriptionSucceeded): no event, nothing to handle.
	// NewSNSHandler and Consume acknowledge it.
	ErrSetupNotice = errors.New("feedback: SES notice that notifications are set up, not an event")
)

// Parse reads one event from an SES notification or event-publishing record: raw, inside an
// SNS envelope (as an HTTPS subscription or an SQS queue without raw delivery receives it), or
// inside an EventBridge event. An SNS envelope is not verified here: NewSNSHandler verifies.
// SNS carries the record in Message as a JSON string; a JSON object there (as some emulators
// send) is read too. A notificationType that is no known type is accepted when exactly one of
// bounce, complaint or delivery is present: the Type is taken from it. An SNS Message that is
// itself an EventBridge event (an EventBridge rule targeting SNS) is read too. The Event keeps
// nothing of data: its Raw is a copy.
func Parse(data []byte) (*Event, error) {
	var env envelope
	if err := jsonv2.Unmarshal(data, &env); err != nil {
		var typeErr *jsonv2.SemanticError
		if !errors.As(err, &typeErr) || typeErr.JSONPointer != "/Message" {
			return nil, fmt.Errorf("%w: expected a JSON object (an SES record, an SNS envelope or an EventBridge event): %v", ErrMalformed, err)
		}
		// Message is not a string: an object, as some emulators send, or something else.
		return parseObjectMessage(data)
	}
	switch {
	case env.Type != "" && env.Message != nil:
		if env.Type != "Notification" {
			return nil, fmt.Errorf("%w: expected an SNS Notification, not a %s (NewSNSHandler confirms subscriptions)", ErrMalformed, env.Type)
		}
		return parseMessage([]byte(*env.Message)) // a copy
	case env.DetailType != "" && env.Detail != nil:
		return parseEventBridge(env.Source, env.Detail) // jsonv2 copies a jsontext.Value
	}
	return parseRecord(bytes.Clone(data))
}

// parseMessage reads an SNS envelope's Message, which the caller owns: an SES record, or an
// EventBridge event that a rule sent to the topic.
func parseMessage(msg []byte) (*Event, error) {
	if bytes.Contains(msg, []byte(`"detail-type"`)) {
		var env envelope
		if err := jsonv2.Unmarshal(msg, &env); err == nil && env.DetailType != "" && env.Detail != nil {
			return parseEventBridge(env.Source, env.Detail)
		}
	}
	return parseRecord(msg)
}

func parseEventBridge(source string, detail []byte) (*Event, error) {
	if source != "aws.ses" {
		return nil, fmt.Errorf("%w: expected an EventBridge event from aws.ses, not from %q", ErrMalformed, cutText(source, 100))
	}
	return parseRecord(detail)
}

// envelope holds the fields that tell the shapes apart. SNS's Message is decoded as the string
// it is in one pass with the rest, which halves the work on the common path.
//
// Envelopes and records are decoded with github.com/go-json-experiment/json, the encoding/json
// v2 of the Go team: 2.6 times as fast as encoding/json here, and strict where SES's JSON never
// needs leniency (exact field names, no duplicate keys, valid UTF-8).
type envelope struct {
	Type       string         `json:"Type"`    // SNS
	Message    *string        `json:"Message"` // SNS: a JSON string holding the record
	DetailType string         `json:"detail-type"`
	Source     string         `json:"source"` // EventBridge: aws.ses
	Detail     jsontext.Value `json:"detail"`
}

// parseObjectMessage reads an SNS envelope whose Message is a JSON object.
func parseObjectMessage(data []byte) (*Event, error) {
	var env struct {
		Type    string          `json:"Type"`
		Message json.RawMessage `json:"Message"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: expected a JSON object (an SES record, an SNS envelope or an EventBridge event): %v", ErrMalformed, err)
	}
	msg := bytes.TrimSpace(env.Message)
	if len(msg) == 0 || msg[0] != '{' {
		return nil, fmt.Errorf("%w: expected the SNS envelope's Message to be a JSON string holding the SES record, not %.20s", ErrMalformed, msg)
	}
	if env.Type != "Notification" {
		return nil, fmt.Errorf("%w: expected an SNS Notification, not a %s (NewSNSHandler confirms subscriptions)", ErrMalformed, env.Type)
	}
	return parseMessage(msg)
}

// record is an SES notification or event-publishing record, the fields this package reads.
type record struct {
	EventType        string `json:"eventType"`
	NotificationType string `json:"notificationType"`
	Mail             *struct {
		Timestamp   string              `json:"timestamp"`
		MessageID   string              `json:"messageId"`
		Source      string              `json:"source"`
		Destination []string            `json:"destination"`
		Tags        map[string][]string `json:"tags"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string          `json:"bounceType"`
		BounceSubType     string          `json:"bounceSubType"`
		BouncedRecipients []recipientJSON `json:"bouncedRecipients"`
		Timestamp         string          `json:"timestamp"`
		FeedbackID        string          `json:"feedbackId"`
		ReportingMTA      string          `json:"reportingMTA"`
	} `json:"bounce"`
	Complaint *struct {
		ComplainedRecipients  []recipientJSON `json:"complainedRecipients"`
		Timestamp             string          `json:"timestamp"`
		FeedbackID            string          `json:"feedbackId"`
		UserAgent             string          `json:"userAgent"`
		ComplaintFeedbackType string          `json:"complaintFeedbackType"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp            string   `json:"timestamp"`
		ProcessingTimeMillis int64    `json:"processingTimeMillis"`
		Recipients           []string `json:"recipients"`
		SMTPResponse         string   `json:"smtpResponse"`
		ReportingMTA         string   `json:"reportingMTA"`
	} `json:"delivery"`
	DeliveryDelay *struct {
		Timestamp         string          `json:"timestamp"`
		DelayType         string          `json:"delayType"`
		ExpirationTime    string          `json:"expirationTime"`
		DelayedRecipients []recipientJSON `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
	Reject *struct {
		Reason string `json:"reason"`
	} `json:"reject"`
	Send         *struct{}  `json:"send"`
	Open         *timestamp `json:"open"`
	Click        *timestamp `json:"click"`
	Subscription *timestamp `json:"subscription"`
	Failure      *struct{}  `json:"failure"` // Rendering Failure
}

type recipientJSON struct {
	EmailAddress   string `json:"emailAddress"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnosticCode"`
}

type timestamp struct {
	Timestamp string `json:"timestamp"`
}

// parseRecord reads an SES record from data, which the Event keeps as its Raw: the caller
// hands over a copy of its own.
func parseRecord(data []byte) (*Event, error) {
	var r record
	if err := jsonv2.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: expected an SES record (eventType or notificationType, mail, and the event's object): %v", ErrMalformed, err)
	}
	if r.NotificationType == "AmazonSnsSubscriptionSucceeded" {
		return nil, ErrSetupNotice
	}
	if r.Mail == nil || r.Mail.MessageID == "" {
		return nil, fmt.Errorf("%w: expected an SES record with mail.messageId", ErrMalformed)
	}
	t, err := r.eventType()
	if err != nil {
		return nil, err
	}
	e := &Event{
		Type:      t,
		MessageID: r.Mail.MessageID,
		Tags:      r.Mail.Tags,
		From:      r.Mail.Source,
		Raw:       json.RawMessage(data),
	}
	if v := r.Mail.Tags["usageType"]; len(v) > 0 {
		e.UsageType = sesconnector.UsageType(v[0])
	}
	eventTime, err := r.fill(e)
	if err != nil {
		return nil, err
	}
	if e.Timestamp, err = parseTime("mail.timestamp", r.Mail.Timestamp); err != nil {
		return nil, err
	}
	if !eventTime.IsZero() {
		e.Timestamp = eventTime
	}
	if e.Recipients == nil {
		e.Recipients = make([]Recipient, len(r.Mail.Destination))
		for i, a := range r.Mail.Destination {
			e.Recipients[i] = Recipient{Address: a}
		}
	}
	return e, nil
}

// eventType names the record's type, and checks that the object of that type is there.
func (r *record) eventType() (Type, error) {
	name := r.EventType
	if name == "" {
		name = r.NotificationType
	}
	present := map[Type]bool{
		TypeSend: r.Send != nil, TypeDelivery: r.Delivery != nil, TypeBounce: r.Bounce != nil,
		TypeComplaint: r.Complaint != nil, TypeReject: r.Reject != nil, TypeDeliveryDelay: r.DeliveryDelay != nil,
		TypeRenderingFailure: r.Failure != nil, TypeOpen: r.Open != nil, TypeClick: r.Click != nil,
		TypeSubscription: r.Subscription != nil,
	}
	t := Type(name)
	if name == "Rendering Failure" {
		t = TypeRenderingFailure
	}
	if _, known := present[t]; !known {
		// Not a type SES documents: take it from the one object that says, if only one does.
		var found []Type
		for _, c := range []Type{TypeBounce, TypeComplaint, TypeDelivery} {
			if present[c] {
				found = append(found, c)
			}
		}
		if len(found) != 1 {
			return "", fmt.Errorf("%w: expected an eventType or notificationType of Bounce, Complaint, Delivery, Send, Reject, DeliveryDelay, Rendering Failure, Open, Click or Subscription; %q is not an SES event type", ErrMalformed, name)
		}
		t = found[0]
	}
	needsObject := t == TypeBounce || t == TypeComplaint || t == TypeDelivery || t == TypeDeliveryDelay || t == TypeReject
	if needsObject && !present[t] {
		return "", fmt.Errorf("%w: expected a %s object in a %s record", ErrMalformed, objectName(t), t)
	}
	return t, nil
}

func objectName(t Type) string {
	if t == TypeDeliveryDelay {
		return "deliveryDelay"
	}
	return string(bytes.ToLower([]byte(t[:1]))) + string(t[1:])
}

// fill copies the event's own object into e, and returns its timestamp.
func (r *record) fill(e *Event) (time.Time, error) {
	var at string
	switch {
	case e.Type == TypeBounce:
		b := r.Bounce
		e.Bounce = &Bounce{Type: b.BounceType, SubType: b.BounceSubType, FeedbackID: b.FeedbackID, ReportingMTA: b.ReportingMTA}
		e.Recipients = recipients(b.BouncedRecipients)
		at = b.Timestamp
	case e.Type == TypeComplaint:
		c := r.Complaint
		e.Complaint = &Complaint{FeedbackType: c.ComplaintFeedbackType, FeedbackID: c.FeedbackID, UserAgent: c.UserAgent}
		e.Recipients = recipients(c.ComplainedRecipients)
		at = c.Timestamp
	case e.Type == TypeDelivery:
		d := r.Delivery
		e.Delivery = &Delivery{ProcessingTime: time.Duration(d.ProcessingTimeMillis) * time.Millisecond, SMTPResponse: d.SMTPResponse, ReportingMTA: d.ReportingMTA}
		if d.Recipients != nil {
			e.Recipients = make([]Recipient, len(d.Recipients))
			for i, a := range d.Recipients {
				e.Recipients[i] = Recipient{Address: a}
			}
		}
		at = d.Timestamp
	case e.Type == TypeDeliveryDelay:
		d := r.DeliveryDelay
		expires, err := parseTime("deliveryDelay.expirationTime", d.ExpirationTime)
		if err != nil {
			return time.Time{}, err
		}
		e.Delay = &DeliveryDelay{Type: d.DelayType, ExpirationTime: expires}
		e.Recipients = recipients(d.DelayedRecipients)
		at = d.Timestamp
	case e.Type == TypeReject:
		e.Reject = &Reject{Reason: r.Reject.Reason}
	case e.Type == TypeOpen && r.Open != nil:
		at = r.Open.Timestamp
	case e.Type == TypeClick && r.Click != nil:
		at = r.Click.Timestamp
	case e.Type == TypeSubscription && r.Subscription != nil:
		at = r.Subscription.Timestamp
	}
	return parseTime(objectName(e.Type)+".timestamp", at)
}

func recipients(rs []recipientJSON) []Recipient {
	if rs == nil {
		return nil
	}
	out := make([]Recipient, len(rs))
	for i, r := range rs {
		out[i] = Recipient{Address: r.EmailAddress, Action: r.Action, Status: r.Status, DiagnosticCode: r.DiagnosticCode}
	}
	return out
}

// timeLayouts are the forms SES writes timestamps in: ISO 8601 with fractional seconds, and
// a space before the offset in some notification samples (and the emulators built on them).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05 -0700", "2006-01-02T15:04:05.999999999 -0700"}

// parseTime reads an SES timestamp; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: expected %s in ISO 8601 such as 2017-08-05T00:41:02.669Z, not %q", ErrMalformed, field, s)
}
