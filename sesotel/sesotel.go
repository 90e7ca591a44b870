// Package sesotel turns what a sesconnector.Connector does into OpenTelemetry traces and
// metrics, the way go-redis's redisotel does for Redis: the core offers a hook
// (sesconnector.WithObserver), and this module, with its own go.mod, carries the weight.
//
//	obs, err := sesotel.New() // the global providers, or WithTracerProvider / WithMeterProvider
//	conn, err := sesconnector.New(ctx, cfg,
//		sesconnector.WithObserver(obs),
//		sesconnector.WithSESOptions(obs.SESOptions())) // the SDK's own spans under the send's
//	handler := obs.Feedback(markUndeliverable)     // count bounces and complaints, then handle
//
// What it records, every name stable:
//   - a span "sesconnector.send" (kind internal; the SDK's HTTP call under it is the client
//     span) per send, with the attributes sesconnector.usage_type, sesconnector.locale,
//     sesconnector.template, sesconnector.outcome, sesconnector.message_id and cloud.region,
//     each left out when it has no value; its status is Error, with error.type, for every
//     outcome but "sent";
//   - a histogram "sesconnector.send.duration" (unit s) with sesconnector.usage_type,
//     sesconnector.outcome and cloud.region: its count is the send count;
//   - a counter "sesconnector.sends" with sesconnector.outcome, and a counter
//     "sesconnector.feedback.events" with sesconnector.event_type, sesconnector.usage_type and,
//     for bounces, sesconnector.bounce_type. New creates their series at 0, so that an alert
//     rule's increase() counts the first send, bounce or complaint of a process too.
//
// Private and bounded: no attribute holds a recipient or a code, and no error text is recorded
// but masked (sesconnector.MaskAddresses: SES's messages quote recipients). Every metric
// attribute takes a bounded set of values: a usage type is one of the nine or "other", a locale
// one the config's templates have or "other", a template the config's or "lookup".
package sesotel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
)

// ScopeName names the tracer and the meter.
const ScopeName = "github.com/sesconnector/sesconnector/sesotel"

// The attribute keys.
const (
	KeyUsageType  = attribute.Key("sesconnector.usage_type")
	KeyLocale     = attribute.Key("sesconnector.locale")
	KeyTemplate   = attribute.Key("sesconnector.template")
	KeyOutcome    = attribute.Key("sesconnector.outcome")
	KeyMessageID  = attribute.Key("sesconnector.message_id")
	KeyRegion     = attribute.Key("cloud.region")
	KeyErrorType  = attribute.Key("error.type")
	KeyEventType  = attribute.Key("sesconnector.event_type")
	KeyBounceType = attribute.Key("sesconnector.bounce_type")
)

// Other stands for any value outside an attribute's bounded set: a usage type that is not one of
// the nine, a locale no template has, an event or bounce type SES does not document.
const Other = "other"

var (
	usageTypes = []sesconnector.UsageType{sesconnector.UsageSignIn, sesconnector.UsageRegister,
		sesconnector.UsageForgotPassword, sesconnector.UsageOrganizationInvitation, sesconnector.UsageGeneric,
		sesconnector.UsageUserPermissionValidation, sesconnector.UsageBindNewIdentifier,
		sesconnector.UsageMfaVerification, sesconnector.UsageBindMfa}
	outcomes = []sesconnector.Outcome{sesconnector.OutcomeSent, sesconnector.OutcomeInvalid,
		sesconnector.OutcomeSuppressed, sesconnector.OutcomeRecipientLimited, sesconnector.OutcomeUndeliverable,
		sesconnector.OutcomeThrottled, sesconnector.OutcomeRejected, sesconnector.OutcomeFailed, sesconnector.OutcomeCanceled}
	eventTypes = []feedback.Type{feedback.TypeSend, feedback.TypeDelivery, feedback.TypeBounce, feedback.TypeComplaint,
		feedback.TypeReject, feedback.TypeDeliveryDelay, feedback.TypeRenderingFailure, feedback.TypeOpen,
		feedback.TypeClick, feedback.TypeSubscription}
	bounceTypes = []string{"Permanent", "Transient", "Undetermined"}
)

// usageValue is a usage type as a metric may hold it.
func usageValue(u sesconnector.UsageType) string {
	if slices.Contains(usageTypes, u) {
		return string(u)
	}
	return Other
}

// oneOf is v when it is in the set, and Other when not.
func oneOf[T ~string](v T, set []T) string {
	if slices.Contains(set, v) {
		return string(v)
	}
	return Other
}

// maxSets bounds the cache of the histogram's attribute sets. Usage types and outcomes are
// bounded; regions come from the configs of the Connectors sharing the Observer.
const maxSets = 4096

// durationBuckets are the histogram's bounds in seconds: an SES call takes tens of
// milliseconds, a throttled or failing-over one seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30}

// Observer records sends and feedback; it implements sesconnector.Observer. Build it with New.
type Observer struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	tracer   trace.Tracer
	duration metric.Float64Histogram
	sends    metric.Int64Counter
	events   metric.Int64Counter
	sets     sync.Map     // durationKey -> attribute.Set: the few combinations, built once each
	nsets    atomic.Int64 // how many sets holds, at most maxSets
	outcome  map[sesconnector.Outcome]attribute.Set
}

// durationKey is one combination of the histogram's attributes.
type durationKey struct {
	usage   string
	outcome sesconnector.Outcome
	region  string
}

var _ sesconnector.Observer = (*Observer)(nil)

// Option changes how New builds an Observer.
type Option func(*Observer)

// WithTracerProvider records spans with tp instead of the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *Observer) { o.tp = tp } }

// WithMeterProvider records metrics with mp instead of the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *Observer) { o.mp = mp } }

// New builds an Observer on the providers given, or on the global ones (otel.GetTracerProvider,
// otel.GetMeterProvider).
func New(opts ...Option) (*Observer, error) {
	o := &Observer{}
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("sesotel: New: an option is nil")
		}
		opt(o)
	}
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	o.tracer = o.tp.Tracer(ScopeName)
	meter := o.mp.Meter(ScopeName)
	var err error
	if o.duration, err = meter.Float64Histogram("sesconnector.send.duration", metric.WithUnit("s"),
		metric.WithDescription("How long SendMessage took, by usage type, outcome and region; its count is the send count."),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, fmt.Errorf("sesotel: the duration histogram: %w", err)
	}
	if o.sends, err = meter.Int64Counter("sesconnector.sends", metric.WithUnit("{send}"),
		metric.WithDescription("Sends by outcome, each created at 0: the denominator of the bounce and complaint rates.")); err != nil {
		return nil, fmt.Errorf("sesotel: the send counter: %w", err)
	}
	if o.events, err = meter.Int64Counter("sesconnector.feedback.events", metric.WithUnit("{event}"),
		metric.WithDescription("SES feedback events (Delivery, Bounce, Complaint, ...) by type, usage type and bounce type.")); err != nil {
		return nil, fmt.Errorf("sesotel: the feedback counter: %w", err)
	}
	o.createSeries()
	return o, nil
}

// createSeries adds 0 to every series the alert rules read, before any send or event: a series
// the exporter creates at its first event starts at 1, and increase() does not count that 1.
func (o *Observer) createSeries() {
	ctx := context.Background()
	o.outcome = make(map[sesconnector.Outcome]attribute.Set, len(outcomes))
	for _, out := range outcomes {
		o.outcome[out] = attribute.NewSet(KeyOutcome.String(string(out)))
		o.sends.Add(ctx, 0, metric.WithAttributeSet(o.outcome[out]))
	}
	for _, u := range append([]string{""}, append(stringsOf(usageTypes), Other)...) {
		o.events.Add(ctx, 0, metric.WithAttributes(eventAttrs(feedback.TypeDelivery, u, "")...))
		o.events.Add(ctx, 0, metric.WithAttributes(eventAttrs(feedback.TypeComplaint, u, "")...))
		for _, b := range bounceTypes {
			o.events.Add(ctx, 0, metric.WithAttributes(eventAttrs(feedback.TypeBounce, u, b)...))
		}
	}
}

func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// eventAttrs are a feedback event's attributes: usage "" (an identity notification carries no
// tags) and bounce "" (not a bounce) are left out.
func eventAttrs(t feedback.Type, usage, bounce string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{KeyEventType.String(oneOf(t, eventTypes))}
	if usage != "" {
		attrs = append(attrs, KeyUsageType.String(usage))
	}
	if bounce != "" {
		attrs = append(attrs, KeyBounceType.String(oneOf(bounce, bounceTypes)))
	}
	return attrs
}

// SendStart starts the send's span; the SES call, and the SDK's own spans with SESOptions,
// run under it.
func (o *Observer) SendStart(ctx context.Context, s sesconnector.SendInfo) context.Context {
	ctx, _ = o.tracer.Start(ctx, "sesconnector.send", trace.WithSpanKind(trace.SpanKindInternal))
	return ctx
}

// SendDone ends the send's span and records its duration.
func (o *Observer) SendDone(ctx context.Context, s sesconnector.SendInfo, r sesconnector.SendResult) {
	span := trace.SpanFromContext(ctx)
	usage := usageValue(s.Usage)
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 7)
		attrs = append(attrs, KeyUsageType.String(usage), KeyOutcome.String(string(r.Outcome)))
		switch {
		case r.Locale != "": // the locale of a config template
			attrs = append(attrs, KeyLocale.String(r.Locale))
		case s.Locale != "": // asked for, and no template has it
			attrs = append(attrs, KeyLocale.String(Other))
		}
		for _, kv := range [...]attribute.KeyValue{KeyTemplate.String(r.Template), KeyMessageID.String(r.MessageID), KeyRegion.String(r.Region)} {
			if kv.Value.AsString() != "" {
				attrs = append(attrs, kv)
			}
		}
		if r.Outcome != sesconnector.OutcomeSent {
			attrs = append(attrs, KeyErrorType.String(errorType(r)))
			span.SetStatus(codes.Error, string(r.Outcome)) // never the error's text: it may quote a recipient
		}
		span.SetAttributes(attrs...)
	}
	span.End()
	o.duration.Record(ctx, r.Duration.Seconds(), metric.WithAttributeSet(o.durationSet(usage, r.Outcome, r.Region)))
	set, ok := o.outcome[r.Outcome]
	if !ok {
		set = attribute.NewSet(KeyOutcome.String(Other))
	}
	o.sends.Add(ctx, 1, metric.WithAttributeSet(set))
}

// durationSet returns the histogram's attribute set for a combination, built once: usage
// types, outcomes and regions are few, and a set built per send would cost allocations.
func (o *Observer) durationSet(usage string, outcome sesconnector.Outcome, region string) attribute.Set {
	k := durationKey{usage, outcome, region}
	if set, ok := o.sets.Load(k); ok {
		return set.(attribute.Set)
	}
	attrs := []attribute.KeyValue{KeyUsageType.String(usage), KeyOutcome.String(string(outcome))}
	if region != "" {
		attrs = append(attrs, KeyRegion.String(region))
	}
	set := attribute.NewSet(attrs...)
	if o.nsets.Load() < maxSets {
		if _, loaded := o.sets.LoadOrStore(k, set); !loaded {
			o.nsets.Add(1)
		}
	}
	return set
}

// errorType is SES's error code when SES answered, and the outcome otherwise.
func errorType(r sesconnector.SendResult) string {
	var apiErr smithy.APIError
	if errors.As(r.Err, &apiErr) && apiErr.ErrorCode() != "" {
		return apiErr.ErrorCode()
	}
	return string(r.Outcome)
}

// SESOptions makes the SDK's own spans (the SendEmail operation, its attempts) and metrics
// children of the send's span, on the Observer's providers. Give it to WithSESOptions.
func (o *Observer) SESOptions() func(*sesv2.Options) {
	return func(so *sesv2.Options) {
		so.TracerProvider = tracerProvider{o.tp}
		so.MeterProvider = meterProvider{o.mp}
	}
}

// Feedback returns a feedback.Handler that counts every event by type, usage type and bounce
// type, then calls h. SNS and SQS deliver at least once: an event delivered again is counted
// again, as SES's own statistics count what they send.
func (o *Observer) Feedback(h feedback.Handler) feedback.Handler {
	return func(ctx context.Context, e *feedback.Event) error {
		usage, bounce := "", ""
		if e.UsageType != "" {
			usage = usageValue(e.UsageType)
		}
		if e.Bounce != nil {
			bounce = e.Bounce.Type
			if bounce == "" {
				bounce = Other
			}
		}
		o.events.Add(ctx, 1, metric.WithAttributes(eventAttrs(e.Type, usage, bounce)...))
		return h(ctx, e)
	}
}
