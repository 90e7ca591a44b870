package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
)

// Sender is what the server needs of *sesconnector.Connector.
type Sender interface {
	SendMessage(ctx context.Context, to string, usage ses.UsageType, payload ses.Payload) (string, error)
}

// Policy is how long codes live and how often they may be asked for and tried. The send limit
// is the Connector's (sesconnector.WithRecipientLimit, built in main from SendsPerWindow and
// SendWindow), so that it holds across replicas when the limiter is Redis.
//
// A client is its IPv4 address, or its IPv6 /64 (what one subscriber or host is given). Besides
// ClientCodes per ClientWindow, one client may use at most a fiftieth of the server-wide budget
// (TotalCodes/50 per TotalWindow, at least 1): it takes 50 clients, not a handful, to spend it
// and lock everyone else out for a TotalWindow.
type Policy struct {
	CodeTTL        time.Duration // a code expires this long after it was sent, and is swept
	SendsPerWindow int           // codes one address may be sent per SendWindow
	SendWindow     time.Duration
	MaxAttempts    int // wrong codes tried before the code is void

	ClientCodes  int           // codes one client may ask for per ClientWindow
	ClientWindow time.Duration // whatever the addresses: one client must not spray many inboxes
	TotalCodes   int           // codes the whole server sends per TotalWindow
	TotalWindow  time.Duration
}

// clientShare is the part of TotalCodes one client may use per TotalWindow: 1/clientShare.
const clientShare = 50

// clientBurst is the number of codes one client may ask for per TotalWindow.
func (p Policy) clientBurst() int { return max(1, p.TotalCodes/clientShare) }

// DefaultPolicy: 10-minute codes, 3 sends per address per 10 minutes, 5 attempts; 10 codes per
// client per 10 minutes and 2 a minute, 100 codes a minute in all.
var DefaultPolicy = Policy{CodeTTL: 10 * time.Minute, SendsPerWindow: 3, SendWindow: 10 * time.Minute, MaxAttempts: 5,
	ClientCodes: 10, ClientWindow: 10 * time.Minute, TotalCodes: 100, TotalWindow: time.Minute}

// Server issues and verifies one-time email codes. It keeps only an HMAC of each code, under a
// key made at start, so a memory dump does not give the codes away; a real deployment keeps
// these records in its database, with the same rules.
type Server struct {
	sender Sender
	policy Policy
	now    func() time.Time
	log    *slog.Logger
	key    [32]byte

	clients     ses.RecipientLimiter // per client, ClientCodes per ClientWindow
	clientShare ses.RecipientLimiter // per client, a fiftieth of TotalCodes per TotalWindow
	total       ses.RecipientLimiter // one key for all

	mu            sync.Mutex
	pending       map[codeKey]*pendingCode
	swept         time.Time       // when expired codes were last swept from pending
	undeliverable map[string]bool // addresses SES said bounced for good or complained
}

type codeKey struct {
	email string
	usage ses.UsageType
}

type pendingCode struct {
	mac      []byte
	expires  time.Time
	attempts int
}

// NewServer returns a server that sends codes through sender.
func NewServer(sender Sender, policy Policy, log *slog.Logger) *Server {
	s := &Server{sender: sender, policy: policy, now: time.Now, log: log,
		clients:     ses.NewMemoryLimiter(policy.ClientCodes, policy.ClientWindow),
		clientShare: ses.NewMemoryLimiter(policy.clientBurst(), policy.TotalWindow),
		total:       ses.NewMemoryLimiter(policy.TotalCodes, policy.TotalWindow),
		pending:     map[codeKey]*pendingCode{}, undeliverable: map[string]bool{}}
	if _, err := rand.Read(s.key[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return s
}

// Handler routes POST /codes and POST /verify, and /ses-events to events, the SNS endpoint of
// the SES feedback topic (see NewSNSHandler in main), when it is not nil. /metrics is not
// here: it is served on a listener of its own (MetricsHandler), never the public one.
func (s *Server) Handler(events http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /codes", s.sendCode)
	mux.HandleFunc("POST /verify", s.verify)
	if events != nil {
		mux.Handle("/ses-events", events)
	}
	return mux
}

// HandleEvent marks the recipients of a permanent bounce or a complaint undeliverable. SNS
// delivers at least once: marking an address twice is the same as once, so no record of
// MessageIDs is needed here; a handler that counts or notifies would keep one.
func (s *Server) HandleEvent(_ context.Context, e *feedback.Event) error {
	if !e.Undeliverable() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range e.Recipients {
		s.undeliverable[normalize(r.Address)] = true
	}
	s.log.Info("addresses marked undeliverable", "type", e.Type, "count", len(e.Recipients))
	return nil
}

// cannotReceive is the answer for an address that bounced for good, complained, or is on the
// SES suppression list: sending would only hurt the account's reputation.
const cannotReceive = "this address cannot receive our mail; use another"

// looksUndeliverable is the answer for a sign-up address that SES's address insights say would
// not receive mail (a typo, a domain without mail servers, a throwaway address).
const looksUndeliverable = "this address does not look deliverable: check for a typo"

type codeRequest struct {
	Email     string        `json:"email"`
	UsageType ses.UsageType `json:"usageType"`
	Locale    string        `json:"locale,omitempty"`
	Code      string        `json:"code,omitempty"`
}

func (s *Server) sendCode(w http.ResponseWriter, r *http.Request) {
	var req codeRequest
	if !decode(w, r, &req) {
		return
	}
	email := normalize(req.Email)
	// The client is counted first: asking about an address the server will not mail (the 422
	// below, and the suppressed and undeliverable answers of the send) costs as much as a code.
	if !s.admit(w, r, s.clientLimits(r)) {
		return
	}
	s.mu.Lock()
	known := s.undeliverable[email]
	s.mu.Unlock()
	if known {
		writeError(w, http.StatusUnprocessableEntity, cannotReceive)
		return
	}
	if !s.admit(w, r, []limit{{s.total, "all", "the server is sending too many codes; try again shortly"}}) {
		return
	}
	code, err := newCode()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "could not make a code")
		return
	}
	payload := ses.Payload{"code": code}
	if req.Locale != "" {
		payload["locale"] = req.Locale
	}
	if _, err := s.sender.SendMessage(r.Context(), req.Email, req.UsageType, payload); err != nil {
		var limited *ses.LimitError
		if errors.As(err, &limited) {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(limited.RetryAfter.Seconds()))))
		}
		status, msg := sendStatus(err)
		s.log.WarnContext(r.Context(), "code not sent", "usageType", req.UsageType, "status", status)
		writeError(w, status, msg)
		return
	}
	s.mu.Lock()
	now := s.now()
	s.sweep(now)
	s.pending[codeKey{email, req.UsageType}] = &pendingCode{mac: s.mac(email, req.UsageType, code), expires: now.Add(s.policy.CodeTTL)}
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true, "expiresInSeconds": int(s.policy.CodeTTL.Seconds())})
}

// sweep drops the expired codes from pending, at most once a minute. s.mu is held.
func (s *Server) sweep(now time.Time) {
	if now.Sub(s.swept) < time.Minute {
		return
	}
	s.swept = now
	for k, p := range s.pending {
		if !now.Before(p.expires) {
			delete(s.pending, k)
		}
	}
}

// limit is one limiter, the key the request counts under and the answer when it is spent.
type limit struct {
	limiter ses.RecipientLimiter
	key     string
	msg     string
}

// clientLimits are the limits of the request's client.
func (s *Server) clientLimits(r *http.Request) []limit {
	const msg = "too many codes requested from this client; try again later"
	client := clientKey(r.RemoteAddr)
	return []limit{{s.clientShare, client, msg}, {s.clients, client, msg}}
}

// clientKey is who a request counts against: its IPv4 address, or the /64 of its IPv6 address
// (one host or subscriber is given a whole /64, so counting single IPv6 addresses would give
// it 2^64 clients). An IPv4 address mapped into IPv6 is its IPv4 address.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host // not an IP address (a Unix socket, a test): itself
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// admit counts the request against each of limits in turn, and answers 429 with Retry-After
// when one is spent. A limiter that fails lets the request through: an outage of the limit's
// store must not become an outage of sign-in.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, limits []limit) bool {
	for _, l := range limits {
		ok, retryAfter, err := l.limiter.Allow(r.Context(), l.key)
		if err == nil && !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
			s.log.WarnContext(r.Context(), "code request refused", "reason", l.msg)
			writeError(w, http.StatusTooManyRequests, l.msg)
			return false
		}
	}
	return true
}

// sendStatus maps a send error to an HTTP status and a message safe to show the caller.
func sendStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ses.ErrRecipientLimited): // before ErrInvalidParameters, which it matches
		return http.StatusTooManyRequests, "too many codes requested for this address; try again later"
	case errors.Is(err, ses.ErrSuppressed): // likewise
		return http.StatusUnprocessableEntity, cannotReceive
	case errors.Is(err, ses.ErrUndeliverable): // likewise
		return http.StatusUnprocessableEntity, looksUndeliverable
	case errors.Is(err, ses.ErrThrottled):
		return http.StatusTooManyRequests, "the mail service is busy; try again shortly"
	case errors.Is(err, ses.ErrInvalidParameters):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "the mail service did not answer in time"
	default:
		return http.StatusBadGateway, "the code could not be sent"
	}
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	var req codeRequest
	if !decode(w, r, &req) {
		return
	}
	email := normalize(req.Email)
	key := codeKey{email, req.UsageType}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[key]
	switch {
	case p == nil:
		writeError(w, http.StatusUnauthorized, "no code pending for this address; request a new one")
	case !s.now().Before(p.expires):
		delete(s.pending, key)
		writeError(w, http.StatusUnauthorized, "the code has expired; request a new one")
	case !hmac.Equal(p.mac, s.mac(email, req.UsageType, req.Code)): // constant time
		p.attempts++
		if p.attempts >= s.policy.MaxAttempts {
			delete(s.pending, key)
			writeError(w, http.StatusUnauthorized, "wrong code, and too many attempts; request a new one")
			return
		}
		writeError(w, http.StatusUnauthorized, "wrong code")
	default:
		delete(s.pending, key) // a code verifies once
		writeJSON(w, http.StatusOK, map[string]any{"verified": true})
	}
}

// normalize is the form an address is counted and stored under: JANE@example.com and
// jane@example.com are one inbox to a person, and one key here.
func normalize(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func (s *Server) mac(email string, usage ses.UsageType, code string) []byte {
	m := hmac.New(sha256.New, s.key[:])
	fmt.Fprintf(m, "%q %q %q", email, usage, code)
	return m.Sum(nil)
}

// newCode returns six random digits from crypto/rand.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
