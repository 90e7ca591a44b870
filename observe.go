package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aws/smithy-go"
)

// Observer hears about every SendMessage and SendTest, on the sender's goroutine: keep it
// quick. The module github.com/sesconnector/sesconnector/sesotel turns these calls into
// OpenTelemetry spans and metrics; the core depends on no telemetry library.
type Observer interface {
	// SendStart is called when a send begins. It may return a context carrying a span: the
	// SES call and SendDone get it. A nil context keeps the one it was given.
	SendStart(ctx context.Context, s SendInfo) context.Context
	// SendDone is called once for every send that SendStart was called for, whatever became of it.
	SendDone(ctx context.Context, s SendInfo, r SendResult)
}

// SendInfo is what a send was asked to do.
type SendInfo struct {
	Usage  UsageType
	Locale string // the normalized locale asked for (payload["locale"]); "" for none
	// To is the recipient as given, for an observer that keeps a delivery log (deliverylog
	// stores only its keyed hash and masked form). An observer that exports telemetry must
	// not record it: sesotel does not.
	To string
}

// SendResult is what became of a send.
type SendResult struct {
	MessageID string        // "" unless Outcome is OutcomeSent
	Template  string        // the template used: "templates[2]", "lookup"; "" when none was chosen
	Locale    string        // the normalized locale of the config's template used; "" for none, or the lookup's
	Region    string        // the region that took (or last refused) the message; "" before any call
	Outcome   Outcome       // what became of it, for dashboards: one of the Outcome constants
	Err       error         // nil only for OutcomeSent
	Duration  time.Duration // from SendMessage's entry to its return
}

// Outcome sorts what became of a send into a few values a dashboard can split by.
type Outcome string

// The outcomes of a send.
const (
	OutcomeSent             Outcome = "sent"
	OutcomeInvalid          Outcome = "invalid"           // ErrInvalidParameters, ErrTemplateNotFound (not the three below)
	OutcomeSuppressed       Outcome = "suppressed"        // ErrSuppressed
	OutcomeRecipientLimited Outcome = "recipient_limited" // ErrRecipientLimited
	OutcomeUndeliverable    Outcome = "undeliverable"     // ErrUndeliverable
	OutcomeThrottled        Outcome = "throttled"         // ErrThrottled
	OutcomeRejected         Outcome = "rejected"          // SES refused this message (MessageRejected, identity not verified, ...)
	OutcomeFailed           Outcome = "failed"            // any other ErrSendFailed (network, 5xx, access denied)
	OutcomeCanceled         Outcome = "canceled"          // the caller's context ended first
)

// WithObserver tells o about every send (SendMessage and SendTest). Several observers are
// called in the order given: SendStart in that order, each getting the context the one before
// returned, then SendDone likewise. Without an observer a send does no work for them.
func WithObserver(o Observer) Option {
	return func(opts *options) {
		if isNil(o) {
			opts.problems.add("WithObserver", fmt.Sprintf("the observer is nil (%T); pass one such as sesotel.New's", o))
			return
		}
		opts.observers = append(opts.observers, o)
	}
}

// sendTrace is what a send did on its way, for its observers: the template it chose, and the
// region it called last ("" when it called none).
type sendTrace struct {
	template string
	locale   string
	region   string
}

// observeStart tells the observers a send begins, and returns the context the send goes on with.
func (c *Connector) observeStart(ctx context.Context, info SendInfo) context.Context {
	for _, o := range c.observers {
		if next := o.SendStart(ctx, info); next != nil {
			ctx = next
		}
	}
	return ctx
}

// observeDone tells the observers what became of a send.
func (c *Connector) observeDone(ctx context.Context, info SendInfo, start time.Time, id string, tr sendTrace, err error) {
	r := SendResult{MessageID: id, Template: tr.template, Locale: tr.locale, Region: tr.region, Outcome: outcomeOf(ctx, err), Err: err, Duration: time.Since(start)}
	for _, o := range c.observers {
		o.SendDone(ctx, info, r)
	}
}

// outcomeOf sorts a send's error.
func outcomeOf(ctx context.Context, err error) Outcome {
	switch {
	case err == nil:
		return OutcomeSent
	case ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
		return OutcomeCanceled
	case errors.Is(err, ErrSuppressed):
		return OutcomeSuppressed
	case errors.Is(err, ErrRecipientLimited):
		return OutcomeRecipientLimited
	case errors.Is(err, ErrUndeliverable):
		return OutcomeUndeliverable
	case errors.Is(err, ErrInvalidParameters), errors.Is(err, ErrTemplateNotFound):
		return OutcomeInvalid
	case errors.Is(err, ErrThrottled):
		return OutcomeThrottled
	case refusedMessage(err):
		return OutcomeRejected
	}
	return OutcomeFailed
}

// refusedMessage reports an SES answer that refused this message: an SES error with a 4xx
// status, other than throttling and other than the credentials' or permissions' (those are
// the service's, not the message's).
func refusedMessage(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	code := apiErr.ErrorCode()
	if code == "AccessDeniedException" || code == "AccessDenied" || slices.Contains(credentialCodes, code) {
		return false
	}
	if re, ok := httpAnswer(err); ok {
		status := re.HTTPStatusCode()
		return status >= 400 && status < 500 && status != http.StatusTooManyRequests
	}
	return apiErr.ErrorFault() == smithy.FaultClient // a typed exception without its HTTP answer (a mock)
}
