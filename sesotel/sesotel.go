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
//   - a span "sesconnector.send" (kind client) per send, with the attributes
//     sesconnector.usage_type, sesconnector.locale, sesconnector.template,
//     sesconnector.outcome, sesconnector.message_id and cloud.region; its status is Error,
//     with error.type, for every outcome but "sent";
//   - a histogram "sesconnector.send.duration" (unit s) with sesconnector.usage_type,
//     sesconnector.outcome and cloud.region: its count is the send count;
//   - a counter "sesconnector.feedback.events" with sesconnector.event_type,
//     sesconnector.usage_type and, for bounces, sesconnector.bounce_type.
//
// No attribute ever holds a recipient, and no error text is recorded (an error can quote one).
package sesotel

import (
	"context"
	"errors"
	"fmt"
	"sync"

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

// durationBuckets are the histogram's bounds in seconds: an SES call takes tens of
// milliseconds, a throttled or failing-over one seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30}

// Observer records sends and feedback; it implements sesconnector.Observer. Build it with New.
type Observer struct {
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	tracer   trace.Tracer
	duration metric.Float64Histogram
	events   metric.Int64Counter
	sets     sync.Map // durationKey -> attribute.Set: the few combinations, built once each
}

// durationKey is one combination of the histogram's attributes.
type durationKey struct {
	usage   sesconnector.UsageType
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
	if o.events, err = meter.Int64Counter("sesconnector.feedback.events", metric.WithUnit("{event}"),
		metric.WithDescription("SES feedback events (Delivery, Bounce, Complaint, ...) by type, usage type and bounce type.")); err != nil {
		return nil, fmt.Errorf("sesotel: the feedback counter: %w", err)
	}
	return o, nil
}

// SendStart starts the send's span; the SES call, and the SDK's own spans with SESOptions,
// run under it.
func (o *Observer) SendStart(ctx context.Context, s sesconnector.SendInfo) context.Context {
	ctx, _ = o.tracer.Start(ctx, "sesconnector.send", trace.WithSpanKind(trace.SpanKindClient))
	return ctx
}

// SendDone ends the send's span and records its duration.
func (o *Observer) SendDone(ctx context.Context, s sesconnector.SendInfo, r sesconnector.SendResult) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		attrs := [7]attribute.KeyValue{KeyUsageType.String(string(s.Usage)), KeyLocale.String(s.Locale),
			KeyTemplate.String(r.Template), KeyOutcome.String(string(r.Outcome)),
			KeyMessageID.String(r.MessageID), KeyRegion.String(r.Region)}
		n := 6
		if r.Outcome != sesconnector.OutcomeSent {
			attrs[n] = KeyErrorType.String(errorType(r))
			n++
			span.SetStatus(codes.Error, string(r.Outcome)) // never the error's text: it may quote a recipient
		}
		span.SetAttributes(attrs[:n]...)
	}
	span.End()
	o.duration.Record(ctx, r.Duration.Seconds(), metric.WithAttributeSet(o.durationSet(s.Usage, r.Outcome, r.Region)))
}

// durationSet returns the histogram's attribute set for a combination, built once: usage
// types, outcomes and regions are few, and a set built per send would cost allocations.
func (o *Observer) durationSet(usage sesconnector.UsageType, outcome sesconnector.Outcome, region string) attribute.Set {
	k := durationKey{usage, outcome, region}
	if set, ok := o.sets.Load(k); ok {
		return set.(attribute.Set)
	}
	set := attribute.NewSet(KeyUsageType.String(string(usage)), KeyOutcome.String(string(outcome)), KeyRegion.String(region))
	o.sets.Store(k, set)
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
		attrs := []attribute.KeyValue{KeyEventType.String(string(e.Type)), KeyUsageType.String(string(e.UsageType))}
		if e.Bounce != nil {
			attrs = append(attrs, KeyBounceType.String(e.Bounce.Type))
		}
		o.events.Add(ctx, 1, metric.WithAttributes(attrs...))
		return h(ctx, e)
	}
}
