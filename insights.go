package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
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
		ErrUndeliverable, MaskAddress(a.Address), strings.Join(bad, ", "))
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

// Defaults of the address insights, and how they behave under faults.
const (
	defaultInsightsTTL     = 24 * time.Hour
	defaultInsightsTimeout = 2 * time.Second // a look-up's budget, or half the caller's time if less
	maxInsightsCache       = 100_000

	insightsFailuresToSkip = 3                // failed look-ups in a row in a region...
	insightsSkipFor        = 30 * time.Second // ...skip that region's look-ups this long
	insightsAbsentAfter    = 3                // "unknown operation" answers in a row before the endpoint is taken to lack it
	insightsAbsentFor      = 10 * time.Minute // then asked again after this long
)

// WithAddressInsights asks SES (ses:GetEmailAddressInsights) before sending the policy's usage
// types, after the recipient limit and the suppression check, and refuses with
// ErrUndeliverable (errors.As reaches the *AddressInsights) when p.Refuse says so. It asks in
// the region the send goes to first (with failoverRegions, the first region not being skipped).
// Answers are cached per lower-cased address for p.TTL, and concurrent sends to one address
// share one look-up, which runs on a context of its own. A send waits for it at most 2 s, or
// half of its own time left if that is less: a look-up that fails or is slow is logged, once
// per run of failures, and the send goes ahead; after 3 failures in a row a region's look-ups
// are skipped for 30 s. A caller whose own context ends while it waits gets that context's
// error, and nothing is sent. The recipient is never logged. SES charges per look-up: cache,
// and check sign-ups only (the default).
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

// insightsCheck asks SES about addresses, in the send's region, through a bounded cache.
type insightsCheck struct {
	regions  map[string]*insightsRegion
	usages   []UsageType
	ttl      time.Duration
	refuse   func(*AddressInsights) bool
	cache    *lru.Cache[string, cachedInsights]
	inFlight singleflight.Group
	failures failureLog
}

// insightsRegion is one region's look-ups and their health.
type insightsRegion struct {
	api InsightsAPI

	mu        sync.Mutex
	failures  int       // failed look-ups in a row
	unknown   int       // "unknown operation" answers in a row
	skipUntil time.Time // no look-ups before this: failing, or lacking the operation
}

type cachedInsights struct {
	insights *AddressInsights
	expires  time.Time
}

func newInsightsCheck(apis map[string]InsightsAPI, p InsightsPolicy) *insightsCheck {
	cache, _ := lru.New[string, cachedInsights](maxInsightsCache) // errs only for a size <= 0
	ic := &insightsCheck{regions: map[string]*insightsRegion{}, usages: p.Usages, ttl: p.TTL, refuse: p.Refuse, cache: cache, failures: failureLog{what: "address insights look-up"}}
	for name, api := range apis {
		ic.regions[name] = &insightsRegion{api: api}
	}
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

// skipping says whether the region's look-ups are being skipped now.
func (r *insightsRegion) skipping(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return now.Before(r.skipUntil)
}

// done records a look-up's outcome, and says whether it has just made the region be taken to
// lack the operation.
func (r *insightsRegion) done(now time.Time, err error) (absent bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.failures, r.unknown = 0, 0
	case notImplemented(err):
		r.failures = 0
		if r.unknown++; r.unknown >= insightsAbsentAfter {
			r.unknown, r.skipUntil = 0, now.Add(insightsAbsentFor)
			return true
		}
	default:
		r.unknown = 0
		if r.failures++; r.failures >= insightsFailuresToSkip {
			r.failures, r.skipUntil = 0, now.Add(insightsSkipFor)
		}
	}
	return false
}

// budget is how long a caller waits for a look-up: 2 s, or half its time left if less.
func insightsBudget(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return min(defaultInsightsTimeout, time.Until(deadline)/2)
	}
	return defaultInsightsTimeout
}

// errInsightsBudget is a look-up the caller stopped waiting for.
var errInsightsBudget = errors.New("no answer within the look-up's budget (2 s, or half of the send's time left)")

// check refuses a send whose address the policy refuses; it fails open.
func (ic *insightsCheck) check(ctx context.Context, region, to string, usage UsageType, logger *slog.Logger) error {
	if !slices.Contains(ic.usages, usage) {
		return nil
	}
	r := ic.regions[region]
	if r == nil || r.skipping(time.Now()) {
		return nil
	}
	a, err := ic.get(ctx, region, to, logger)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: waiting for SES's address insights: %w", ErrSendFailed, ctx.Err())
	case err != nil && notImplemented(err):
		return nil // counted, and warned of once it is taken as lacking
	case err != nil:
		ic.failures.failed(ctx, logger, region+": "+maskIn(err.Error(), to))
		return nil
	}
	ic.failures.ok(ctx, logger)
	if ic.refuse(a) {
		return a
	}
	return nil
}

// get returns the insights for an address, from the cache or from one shared look-up in
// region, waiting at most the caller's budget.
func (ic *insightsCheck) get(ctx context.Context, region, to string, logger *slog.Logger) (*AddressInsights, error) {
	key := strings.ToLower(to)
	if c, ok := ic.cache.Get(key); ok && time.Now().Before(c.expires) {
		return c.insights, nil
	}
	r := ic.regions[region]
	budget := insightsBudget(ctx)
	ch := ic.inFlight.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		defer cancel()
		a, err := ic.lookup(lctx, r.api, to)
		if r.done(time.Now(), err) && logger != nil {
			logger.LogAttrs(lctx, slog.LevelWarn, "sesconnector: the endpoint does not implement GetEmailAddressInsights (a local emulator?); address insights are off in this region for 10 minutes",
				slog.String("region", region), slog.String("error", cut(maskIn(err.Error(), to), maxErrorText)))
		}
		if err == nil {
			ic.cache.Add(key, cachedInsights{insights: a, expires: time.Now().Add(ic.ttl)})
		}
		return a, err
	})
	timer := time.NewTimer(budget)
	defer timer.Stop()
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		a := *res.Val.(*AddressInsights) // a copy: the cached one stays as SES said
		a.Address = to
		return &a, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, errInsightsBudget
	}
}

func (ic *insightsCheck) lookup(ctx context.Context, api InsightsAPI, to string) (*AddressInsights, error) {
	out, err := api.GetEmailAddressInsights(ctx, &sesv2.GetEmailAddressInsightsInput{EmailAddress: &to})
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
	a, err := c.insights.get(ctx, c.firstRegion(), address, c.logger)
	if err != nil {
		return nil, &kindError{text: "sesconnector: SES's address insights: " + cut(maskIn(err.Error(), address), maxErrorText), kind: ErrSendFailed, cause: err}
	}
	return a, nil
}
