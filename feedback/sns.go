package feedback

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Handler acts on one event. It must be idempotent by MessageID and Type: SNS and SQS deliver
// at least once. An error leaves the event to be delivered again.
type Handler func(ctx context.Context, e *Event) error

// SNSOption changes how NewSNSHandler verifies and answers.
type SNSOption func(*snsHandler) error

// WithTopicARNs accepts messages and subscriptions of these topics only: the ARNs of the
// topics your SES identities or configuration sets publish to. A message of another topic is
// refused with 403 before anything is fetched for it. Of WithTopicARNs and WithAnyTopic, the
// last one given wins.
func WithTopicARNs(arns ...string) SNSOption {
	return func(s *snsHandler) error {
		if len(arns) == 0 {
			return errors.New("WithTopicARNs: give at least one topic ARN")
		}
		s.topics, s.anyTopic = map[string]bool{}, false
		for _, a := range arns {
			if !strings.HasPrefix(a, "arn:") || strings.Count(a, ":") != 5 {
				return fmt.Errorf("WithTopicARNs: %q is not a topic ARN such as arn:aws:sns:us-east-1:123456789012:ses-events", cutText(a, 100))
			}
			s.topics[a] = true
		}
		return nil
	}
}

// WithAnyTopic accepts messages and subscriptions of any topic: for tests and local tools only.
// Anyone with an AWS account can subscribe an endpoint to a topic of their own, and SNS signs
// what they publish there as genuinely as what SES publishes to yours.
func WithAnyTopic() SNSOption {
	return func(s *snsHandler) error {
		s.topics, s.anyTopic = nil, true
		return nil
	}
}

// WithHTTPClient fetches signing certificates and confirms subscriptions with c (default: a
// client with a 10-second timeout). Redirects are never followed, whatever c says.
func WithHTTPClient(c *http.Client) SNSOption {
	return func(s *snsHandler) error {
		if c == nil {
			return errors.New("WithHTTPClient: the client is nil")
		}
		s.certs.client = noRedirects(c)
		return nil
	}
}

// WithCertificates makes the signing certificate's chain a condition: it must chain to one of
// these roots, or to the system's, through the intermediates its file holds. For tests and
// private CAs; SNS itself serves its certificate without the intermediate, so do not give it
// for AWS's SNS.
func WithCertificates(pool *x509.CertPool) SNSOption {
	return func(s *snsHandler) error {
		if pool == nil {
			return errors.New("WithCertificates: the pool is nil")
		}
		s.certs.roots = pool
		return nil
	}
}

// WithSNSLogger logs what the handler refuses and confirms (default: nothing).
func WithSNSLogger(l *slog.Logger) SNSOption {
	return func(s *snsHandler) error {
		s.log = l
		return nil
	}
}

// maxSNSBody is the largest body the handler reads: SNS's messages are at most 256 KiB, and
// their envelope adds to that.
const maxSNSBody = 1 << 20

type snsHandler struct {
	h        Handler
	topics   map[string]bool // WithTopicARNs
	anyTopic bool            // WithAnyTopic
	certs    certCache
	log      *slog.Logger
}

// NewSNSHandler serves an SNS HTTP/HTTPS subscription. It verifies every message's signature
// (SignatureVersion 1, SHA1withRSA, and 2, SHA256withRSA) as AWS's own validators do: with the
// certificate at SigningCertURL, which must be https on an SNS host (sns.<region>.amazonaws.com,
// a .pem path) and is fetched once, without redirects, and cached; the certificate must be
// SNS's (sns.amazonaws.com) and valid at the message's Timestamp. It confirms
// SubscriptionConfirmation for the allowed topics (the SubscribeURL pinned likewise) and
// ignores UnsubscribeConfirmation. It answers 200 once h returns nil, 500 when h fails or the
// certificate could not be fetched (SNS retries), 400 for malformed input (a Type other than
// those three included; nothing is fetched for it), 403 for unverifiable
// input or a topic not allowed (nothing is fetched for it), and 413 for a body over 1 MiB,
// unread. h never sees an unverified message.
//
// It refuses to build without WithTopicARNs (or WithAnyTopic, for tests): otherwise anyone
// could subscribe the endpoint to a topic of their own and feed it AWS-signed bounces of their
// choosing.
//
// A certificate fetch is shared by the requests that need it and runs on its own 10-second
// timeout; each request stops waiting when its own context ends. A failed fetch is remembered
// for 5 seconds, and at most 64 certificates are kept.
func NewSNSHandler(h Handler, opts ...SNSOption) (http.Handler, error) {
	if h == nil {
		return nil, errors.New("feedback: NewSNSHandler: the Handler is nil")
	}
	s := &snsHandler{h: h, certs: newCertCache()}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("feedback: NewSNSHandler: an option is nil")
		}
		if err := opt(s); err != nil {
			return nil, fmt.Errorf("feedback: NewSNSHandler: %w", err)
		}
	}
	if s.topics == nil && !s.anyTopic {
		return nil, errors.New("feedback: NewSNSHandler: give WithTopicARNs with the ARN of the topic SES publishes to; without it anyone could subscribe this endpoint to a topic of their own and report any address as bounced (WithAnyTopic is for tests)")
	}
	return s, nil
}

func (s *snsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.refuse(r, w, http.StatusMethodNotAllowed, errors.New("SNS delivers with POST"))
		return
	}
	if r.ContentLength > maxSNSBody {
		s.refuse(r, w, http.StatusRequestEntityTooLarge, fmt.Errorf("a body of %d bytes; SNS messages are under %d", r.ContentLength, maxSNSBody))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSNSBody+1))
	switch {
	case err != nil:
		s.refuse(r, w, http.StatusBadRequest, fmt.Errorf("reading the body: %w", err))
		return
	case len(body) > maxSNSBody:
		s.refuse(r, w, http.StatusRequestEntityTooLarge, fmt.Errorf("a body over %d bytes", maxSNSBody))
		return
	}
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil || m.Type == "" || m.TopicArn == "" || m.MessageID == "" {
		s.refuse(r, w, http.StatusBadRequest, fmt.Errorf("%w: expected an SNS message (Type, MessageId, TopicArn, Signature, ...)", ErrMalformed))
		return
	}
	switch m.Type {
	case "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation":
	default:
		s.refuse(r, w, http.StatusBadRequest, fmt.Errorf("%w: Type %q is none of Notification, SubscriptionConfirmation, UnsubscribeConfirmation", ErrMalformed, cutText(m.Type, 64)))
		return
	}
	if !s.anyTopic && !s.topics[m.TopicArn] {
		s.refuse(r, w, http.StatusForbidden, fmt.Errorf("topic %s is not one of WithTopicARNs", cutText(m.TopicArn, 256)))
		return
	}
	if err := s.certs.verify(r.Context(), &m); err != nil {
		status := http.StatusForbidden
		if errors.Is(err, errFetch) {
			status = http.StatusInternalServerError // perhaps genuine: let SNS try again
		}
		s.refuse(r, w, status, err)
		return
	}
	switch m.Type {
	case "Notification":
		s.notification(w, r, &m)
	case "SubscriptionConfirmation":
		s.confirm(w, r, &m)
	default: // UnsubscribeConfirmation: nothing to do
		w.WriteHeader(http.StatusOK)
	}
}

func (s *snsHandler) notification(w http.ResponseWriter, r *http.Request, m *snsMessage) {
	e, err := parseMessage([]byte(m.Message))
	switch {
	case errors.Is(err, ErrSetupNotice):
		s.info(r, "feedback: SES confirmed notifications to this topic", m.TopicArn)
		w.WriteHeader(http.StatusOK)
		return
	case err != nil:
		s.refuse(r, w, http.StatusBadRequest, err)
		return
	}
	if err := s.h(r.Context(), e); err != nil {
		s.refuse(r, w, http.StatusInternalServerError, fmt.Errorf("the Handler failed on %s %s: %w", e.Type, e.MessageID, err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// confirm visits the SubscribeURL of a verified confirmation, on an SNS host, without
// following redirects, within the request's context and the fetch timeout.
func (s *snsHandler) confirm(w http.ResponseWriter, r *http.Request, m *snsMessage) {
	u, err := checkSNSURL("SubscribeURL", m.SubscribeURL, false)
	if err != nil {
		s.refuse(r, w, http.StatusForbidden, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), certFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err == nil {
		var resp *http.Response
		if resp, err = s.certs.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("SNS answered %s", resp.Status)
			}
		}
	}
	if err != nil {
		s.refuse(r, w, http.StatusInternalServerError, fmt.Errorf("confirming the subscription to %s: %w", m.TopicArn, err))
		return
	}
	s.info(r, "feedback: subscription confirmed", m.TopicArn)
	w.WriteHeader(http.StatusOK)
}

func (s *snsHandler) refuse(r *http.Request, w http.ResponseWriter, status int, err error) {
	if s.log != nil {
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "feedback: SNS message refused",
			slog.Int("status", status), slog.String("error", err.Error()))
	}
	http.Error(w, http.StatusText(status), status)
}

func (s *snsHandler) info(r *http.Request, msg, topic string) {
	if s.log != nil {
		s.log.LogAttrs(r.Context(), slog.LevelInfo, msg, slog.String("topic", topic))
	}
}
