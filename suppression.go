package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// ErrSuppressed reports a recipient on the account's SES suppression list: SES would accept the
// message and drop it, and the user would wait for a code that never comes. It also matches
// ErrInvalidParameters (ask the user for another address); errors.As reaches the *Suppression
// with the reason and date.
var ErrSuppressed error = &subError{msg: "sesconnector: recipient suppressed", parent: ErrInvalidParameters}

// SuppressionAPI is what WithSuppressionCheck asks of the client; *sesv2.Client has it.
type SuppressionAPI interface {
	GetSuppressedDestination(ctx context.Context, params *sesv2.GetSuppressedDestinationInput, optFns ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error)
}

// Suppression is an address on the account-level suppression list.
type Suppression struct {
	Address     string
	Reason      string // "BOUNCE" or "COMPLAINT"
	LastUpdated time.Time
}

// Error says why nothing was sent, without the address.
func (s *Suppression) Error() string {
	return fmt.Sprintf("%v: the address is on the account's SES suppression list (%s, since %s): SES would drop the message; ask for another address, or remove it from the list once it can receive mail",
		ErrSuppressed, s.Reason, s.LastUpdated.UTC().Format(time.DateOnly))
}

// Unwrap makes errors.Is(err, ErrSuppressed) and errors.Is(err, ErrInvalidParameters) true.
func (s *Suppression) Unwrap() error { return ErrSuppressed }

// WithSuppressionCheck asks SES, before each send, whether the recipient is on the
// account-level suppression list (ses:GetSuppressedDestination). A suppressed recipient gets
// ErrSuppressed with the reason and date, and nothing is sent. Answers are cached per address
// for ttl, both "suppressed" and "not", and concurrent sends to one address make one look-up.
//
// The look-up runs on a context of its own, with its own timeout (WithSuppressionTimeout, 2 s
// by default), so that no caller's cancellation fails it for the others. A caller whose own
// context ends while it waits gets that context's error, and nothing is sent. A look-up that
// fails, is denied or times out is logged, once for each run of failures, and the send goes
// ahead (fail open). Check reports whether the credentials may make the look-up.
func WithSuppressionCheck(ttl time.Duration) Option {
	return func(o *options) {
		if ttl <= 0 {
			o.problems.add("WithSuppressionCheck", fmt.Sprintf("a cache time of %v; give a positive duration, such as 10*time.Minute", ttl))
		}
		o.suppressionTTL = ttl
	}
}

// WithSuppressionTimeout bounds each suppression list look-up (default 2 s); past it the send
// goes ahead without the answer.
func WithSuppressionTimeout(d time.Duration) Option {
	return func(o *options) {
		if d <= 0 {
			o.problems.add("WithSuppressionTimeout", fmt.Sprintf("a timeout of %v; give a positive duration, such as 2*time.Second", d))
		}
		o.suppressionTimeout = d
	}
}

// maxSuppressionCache bounds the cache: addresses seen in the last ttl, at most this many.
const maxSuppressionCache = 100_000

// defaultSuppressionTimeout bounds a look-up when WithSuppressionTimeout is not given.
const defaultSuppressionTimeout = 2 * time.Second

// suppressionCheck looks recipients up on the suppression list, through a cache. The cache is
// golang-lru's bounded LRU with the expiry kept beside each answer: its expirable variant
// starts a goroutine per cache that never ends, which would outlive every Connector.
type suppressionCheck struct {
	apis     map[string]SuppressionAPI // by region: the list is per region
	absent   atomic.Bool               // the endpoint does not implement the look-up (an emulator): skip it
	ttl      time.Duration
	timeout  time.Duration
	tenant   string // the config's tenantName: the tenant's own list
	cache    *lru.Cache[suppressionKey, cachedAnswer]
	inFlight singleflight.Group
	failures failureLog
}

// suppressionKey is an address, lower-cased, in a region: the suppression list is per region.
type suppressionKey struct{ region, address string }

// cachedAnswer is a look-up's answer until expires; a nil suppression is "not suppressed".
type cachedAnswer struct {
	suppression *Suppression
	expires     time.Time
}

func newSuppressionCheck(apis map[string]SuppressionAPI, ttl, timeout time.Duration, tenant string) *suppressionCheck {
	cache, _ := lru.New[suppressionKey, cachedAnswer](maxSuppressionCache) // errs only for a size <= 0
	if timeout <= 0 {
		timeout = defaultSuppressionTimeout
	}
	return &suppressionCheck{apis: apis, ttl: ttl, timeout: timeout, tenant: tenant, cache: cache, failures: failureLog{what: "suppression list look-up"}}
}

// check returns a *Suppression error for a recipient suppressed in region, the caller's
// context error when it ends first, and nil otherwise (a failed or slow look-up included).
func (s *suppressionCheck) check(ctx context.Context, region, to string, logger *slog.Logger) error {
	if s.absent.Load() {
		return nil
	}
	key := suppressionKey{region, strings.ToLower(to)}
	if a, ok := s.cache.Get(key); ok && time.Now().Before(a.expires) {
		return asError(a.suppression)
	}
	ch := s.inFlight.DoChan(region+" "+key.address, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
		defer cancel()
		sup, err := s.lookup(lctx, s.apis[region], to)
		if err == nil {
			s.cache.Add(key, cachedAnswer{suppression: sup, expires: time.Now().Add(s.ttl)})
		}
		return sup, err
	})
	var r singleflight.Result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return fmt.Errorf("%w: waiting for the suppression list look-up: %w", ErrSendFailed, ctx.Err())
	}
	if r.Err != nil {
		if notImplemented(r.Err) {
			if s.absent.CompareAndSwap(false, true) && logger != nil {
				logger.LogAttrs(ctx, slog.LevelWarn, "sesconnector: the endpoint does not implement GetSuppressedDestination (a local emulator?); WithSuppressionCheck is off for this Connector",
					slog.String("error", cut(maskIn(r.Err.Error(), to), maxErrorText)))
			}
			return nil
		}
		s.failures.failed(ctx, logger, maskIn(r.Err.Error(), to)) // SES's message, and the SDK's URL, may name the address
		return nil
	}
	s.failures.ok(ctx, logger)
	return asError(r.Val.(*Suppression))
}

// notImplemented reports an answer that says the endpoint has no such operation: HTTP 404 or
// 501 that is no SES error (SES answers an address off the list with a typed
// NotFoundException), or UnknownOperationException. Local emulators answer so.
func notImplemented(err error) bool {
	if isCode(err, "UnknownOperationException") {
		return true
	}
	var apiErr smithy.APIError
	re, ok := httpAnswer(err)
	return ok && (re.HTTPStatusCode() == 404 || re.HTTPStatusCode() == 501) &&
		(!errors.As(err, &apiErr) || apiErr.ErrorCode() == "UnknownError" || apiErr.ErrorCode() == "")
}

func asError(s *Suppression) error {
	if s == nil {
		return nil
	}
	return s
}

func (s *suppressionCheck) lookup(ctx context.Context, api SuppressionAPI, to string) (*Suppression, error) {
	in := &sesv2.GetSuppressedDestinationInput{EmailAddress: &to}
	if s.tenant != "" {
		in.TenantName = &s.tenant
	}
	out, err := api.GetSuppressedDestination(ctx, in)
	switch {
	case isCode(err, "NotFoundException"):
		return nil, nil
	case err != nil:
		return nil, err
	case out == nil || out.SuppressedDestination == nil:
		return nil, errors.New("ses:GetSuppressedDestination gave an empty answer")
	}
	d := out.SuppressedDestination
	return &Suppression{Address: aws.ToString(d.EmailAddress), Reason: string(d.Reason), LastUpdated: aws.ToTime(d.LastUpdateTime)}, nil
}

// failureLog logs the first failure of a run of failures, and the recovery after it, so that
// a dependency that is down writes two records, not one per send.
type failureLog struct {
	what    string
	failing atomic.Bool
}

func (f *failureLog) failed(ctx context.Context, logger *slog.Logger, errText string) {
	if f.failing.CompareAndSwap(false, true) && logger != nil {
		logger.LogAttrs(ctx, slog.LevelError, "sesconnector: "+f.what+" failed; sending without it until it answers again",
			slog.String("error", cut(errText, maxErrorText)))
	}
}

func (f *failureLog) ok(ctx context.Context, logger *slog.Logger) {
	if f.failing.CompareAndSwap(true, false) && logger != nil {
		logger.LogAttrs(ctx, slog.LevelInfo, "sesconnector: "+f.what+" answers again")
	}
}
