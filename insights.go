package sesconnector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// ErrUndeliverable reports an address that SES's address insights say would not receive mail
// (WithAddressInsights): mistyped, without a mail server, disposable. It also matches
// ErrInvalidParameters (ask the user for another address), and errors.As reaches the
// *AddressInsights with every verdict.
var ErrUndeliverable error = &subError{msg: "sesconnector: address undeliverable", parent: ErrInvalidParameters}

// Verdict is SES's confidence in one property of an address: "LOW", "MEDIUM" or "HIGH"; ""
// when SES did not say.
type Verdict string

// The verdicts SES gives.
const (
	VerdictLow    Verdict = "LOW"
	VerdictMedium Verdict = "MEDIUM"
	VerdictHigh   Verdict = "HIGH"
)

// AddressInsights is what SES's GetEmailAddressInsights says of an address, without sending to
// it. Valid is its overall verdict; the others are its evaluations. Disposable, RoleAddress and
// RandomInput are how confident SES is that the address is one (HIGH: surely a throwaway
// address); the others, how confident that it has the property.
type AddressInsights struct {
	Address                                                                           string
	Valid, ValidSyntax, ValidDNS, MailboxExists, Disposable, RoleAddress, RandomInput Verdict
}

// Error names the verdicts that look bad, with the address masked: the text a log line or a
// sign-up form may show.
func (a *AddressInsights) Error() string {
	var bad []string
	add := func(name string, v, badWhen Verdict) {
		if v == badWhen {
			bad = append(bad, fmt.Sprintf("%s %s", name, v))
		}
	}
	add("valid", a.Valid, VerdictLow)
	add("valid syntax", a.ValidSyntax, VerdictLow)
	add("valid DNS", a.ValidDNS, VerdictLow)
	add("mailbox exists", a.MailboxExists, VerdictLow)
	add("disposable", a.Disposable, VerdictHigh)
	add("role address", a.RoleAddress, VerdictHigh)
	add("random input", a.RandomInput, VerdictHigh)
	if len(bad) == 0 {
		bad = []string{"valid " + string(a.Valid)}
	}
	return fmt.Sprintf("%v: SES's address insights for %s: %s; check the address for a typo, or ask for another",
		ErrUndeliverable, maskAddress(a.Address), strings.Join(bad, ", "))
}

// Unwrap makes errors.Is(err, ErrUndeliverable) and errors.Is(err, ErrInvalidParameters) true.
func (a *AddressInsights) Unwrap() error { return ErrUndeliverable }

// InsightsPolicy says when WithAddressInsights asks SES, and what it refuses.
type InsightsPolicy struct {
	Usages []UsageType                 // checked usage types; default: Register only, where a bad address enters
	TTL    time.Duration               // answers cached per address; default 24 h (SES charges per call)
	Refuse func(*AddressInsights) bool // default: Valid LOW, or Disposable HIGH
}

// InsightsAPI is what WithAddressInsights and AddressInsights ask of the client; *sesv2.Client
// has it.
type InsightsAPI interface {
	GetEmailAddressInsights(ctx context.Context, params *sesv2.GetEmailAddressInsightsInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailAddressInsightsOutput, error)
}

// defaultRefuse is the default policy: SES says the address is not valid, or surely disposable.
func defaultRefuse(a *AddressInsights) bool {
	return a.Valid == VerdictLow || a.Disposable == VerdictHigh
}

// Defaults of the address insights.
const (
	defaultInsightsTTL     = 24 * time.Hour
	defaultInsightsTimeout = 2 * time.Second
	maxInsightsCache       = 100_000
)

// WithAddressInsights asks SES (ses:GetEmailAddressInsights) before sending the policy's usage
// types, after the recipient limit and the suppression check, and refuses with
// ErrUndeliverable (errors.As reaches the *AddressInsights) when p.Refuse says so. Answers
// are cached per lower-cased address for p.TTL, and concurrent sends to one address share one
// look-up, which runs on a context of its own for at most 2 s: a look-up that fails or is slow
// is logged, once per run of failures, and the send goes ahead. A caller whose own context ends
// while it waits gets that context's error, and nothing is sent. The recipient is never
// logged. SES charges per look-up: cache, and check sign-ups only (the default).
func WithAddressInsights(p InsightsPolicy) Option {
	return func(o *options) {
		if p.TTL < 0 {
			o.problems.add("WithAddressInsights", fmt.Sprintf("a cache time of %v; give a positive duration, or 0 for 24 h", p.TTL))
		}
		for _, u := range p.Usages {
			if !u.known() {
				o.problems.add("WithAddressInsights", fmt.Sprintf("unknown usage type %s; use one of %s", quote(string(u)), usageList()))
			}
		}
		o.insights = &p
	}
}

// insightsCheck asks SES about addresses, through a bounded cache.
type insightsCheck struct {
	api      InsightsAPI
	absent   atomic.Bool // the endpoint does not implement the look-up (an emulator): skip it
	usages   []UsageType
	ttl      time.Duration
	refuse   func(*AddressInsights) bool
	cache    *lru.Cache[string, cachedInsights]
	inFlight singleflight.Group
	failures failureLog
}

type cachedInsights struct {
	insights *AddressInsights
	expires  time.Time
}

func newInsightsCheck(api InsightsAPI, p InsightsPolicy) *insightsCheck {
	cache, _ := lru.New[string, cachedInsights](maxInsightsCache) // errs only for a size <= 0
	ic := &insightsCheck{api: api, usages: p.Usages, ttl: p.TTL, refuse: p.Refuse, cache: cache, failures: failureLog{what: "address insights look-up"}}
	if len(ic.usages) == 0 {
		ic.usages = []UsageType{UsageRegister}
	}
	if ic.ttl == 0 {
		ic.ttl = defaultInsightsTTL
	}
	if ic.refuse == nil {
		ic.refuse = defaultRefuse
	}
	return ic
}

// check refuses a send whose address the policy refuses; it fails open.
func (ic *insightsCheck) check(ctx context.Context, to string, usage UsageType, logger *slog.Logger) error {
	if !slices.Contains(ic.usages, usage) || ic.absent.Load() {
		return nil
	}
	a, err := ic.get(ctx, to)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: waiting for SES's address insights: %w", ErrSendFailed, ctx.Err())
	case err != nil && notImplemented(err):
		if ic.absent.CompareAndSwap(false, true) && logger != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "sesconnector: the endpoint does not implement GetEmailAddressInsights (a local emulator?); WithAddressInsights is off for this Connector",
				slog.String("error", cut(maskIn(err.Error(), to), maxErrorText)))
		}
		return nil
	case err != nil:
		ic.failures.failed(ctx, logger, maskIn(err.Error(), to))
		return nil
	}
	ic.failures.ok(ctx, logger)
	if ic.refuse(a) {
		return a
	}
	return nil
}

// get returns the insights for an address, from the cache or from one shared look-up.
func (ic *insightsCheck) get(ctx context.Context, to string) (*AddressInsights, error) {
	key := strings.ToLower(to)
	if c, ok := ic.cache.Get(key); ok && time.Now().Before(c.expires) {
		return c.insights, nil
	}
	ch := ic.inFlight.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultInsightsTimeout)
		defer cancel()
		a, err := ic.lookup(lctx, to)
		if err == nil {
			ic.cache.Add(key, cachedInsights{insights: a, expires: time.Now().Add(ic.ttl)})
		}
		return a, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		a := *r.Val.(*AddressInsights) // a copy: the cached one stays as SES said
		a.Address = to
		return &a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (ic *insightsCheck) lookup(ctx context.Context, to string) (*AddressInsights, error) {
	out, err := ic.api.GetEmailAddressInsights(ctx, &sesv2.GetEmailAddressInsightsInput{EmailAddress: &to})
	switch {
	case err != nil:
		return nil, err
	case out == nil || out.MailboxValidation == nil:
		return nil, fmt.Errorf("ses:GetEmailAddressInsights gave an empty answer")
	}
	v := out.MailboxValidation
	a := &AddressInsights{Address: to, Valid: verdict(v.IsValid)}
	if e := v.Evaluations; e != nil {
		a.ValidSyntax, a.ValidDNS, a.MailboxExists = verdict(e.HasValidSyntax), verdict(e.HasValidDnsRecords), verdict(e.MailboxExists)
		a.Disposable, a.RoleAddress, a.RandomInput = verdict(e.IsDisposable), verdict(e.IsRoleAddress), verdict(e.IsRandomInput)
	}
	return a, nil
}

func verdict(v *types.EmailAddressInsightsVerdict) Verdict {
	if v == nil {
		return ""
	}
	return Verdict(v.ConfidenceVerdict)
}

// AddressInsights asks SES now (the cache first) what it thinks of address, without sending:
// for a sign-up form's own check. It works whether or not WithAddressInsights was given; the
// verdicts are the caller's to judge (a refusal by the policy is no error here). An address
// that is not one bare address is an ErrInvalidParameters; a failed look-up is its error
// (ErrSendFailed when SES cannot be reached), with the recipient never in it.
func (c *Connector) AddressInsights(ctx context.Context, address string) (*AddressInsights, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if err := checkRecipient(address); err != nil {
		return nil, err
	}
	if c.insights == nil {
		return nil, fmt.Errorf("%w: the client given to WithClient has no GetEmailAddressInsights (InsightsAPI)", ErrInvalidConfig)
	}
	a, err := c.insights.get(ctx, address)
	if err != nil {
		return nil, &kindError{text: "sesconnector: SES's address insights: " + cut(maskIn(err.Error(), address), maxErrorText), kind: ErrSendFailed, cause: err}
	}
	return a, nil
}
