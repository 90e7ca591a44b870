package sesotel

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go"
	smithymetrics "github.com/aws/smithy-go/metrics"
	"github.com/aws/smithy-go/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesconnector/sesconnector"
)

// This file adapts OpenTelemetry to the SDK's tracing and metrics interfaces (smithy-go's
// tracing.TracerProvider and metrics.MeterProvider), as smithy-go's own adapter modules do
// (github.com/aws/smithy-go/tracing/smithyoteltracing and metrics/smithyotelmetrics); those are
// not served by the Go module proxy this project builds from, so it carries its own.

// attributes turns smithy properties into OpenTelemetry attributes.
func attributes(p *smithy.Properties) []attribute.KeyValue {
	values := p.Values()
	if len(values) == 0 {
		return nil
	}
	attrs := make([]attribute.KeyValue, 0, len(values))
	for k, v := range values {
		key := attribute.Key(fmt.Sprint(k))
		switch v := v.(type) {
		case string: // exception.message, api.error_message: SES's texts quote recipients
			attrs = append(attrs, key.String(sesconnector.MaskAddresses(v)))
		case bool:
			attrs = append(attrs, key.Bool(v))
		case int:
			attrs = append(attrs, key.Int(v))
		case int64:
			attrs = append(attrs, key.Int64(v))
		case float64:
			attrs = append(attrs, key.Float64(v))
		default:
			attrs = append(attrs, key.String(sesconnector.MaskAddresses(fmt.Sprint(v))))
		}
	}
	return attrs
}

type tracerProvider struct{ tp trace.TracerProvider }

func (p tracerProvider) Tracer(scope string, _ ...tracing.TracerOption) tracing.Tracer {
	return tracer{p.tp.Tracer(scope)}
}

type tracer struct{ t trace.Tracer }

func (t tracer) StartSpan(ctx context.Context, name string, opts ...tracing.SpanOption) (context.Context, tracing.Span) {
	var o tracing.SpanOptions
	for _, fn := range opts {
		fn(&o)
	}
	kind := trace.SpanKindInternal
	switch o.Kind {
	case tracing.SpanKindClient:
		kind = trace.SpanKindClient
	case tracing.SpanKindServer:
		kind = trace.SpanKindServer
	case tracing.SpanKindProducer:
		kind = trace.SpanKindProducer
	case tracing.SpanKindConsumer:
		kind = trace.SpanKindConsumer
	}
	ctx, s := t.t.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attributes(&o.Properties)...))
	method, _ := o.Properties.Get("rpc.method").(string)
	sp := &span{name: name, s: s, method: method}
	return tracing.WithSpan(ctx, sp), sp
}

type span struct {
	name    string
	s       trace.Span
	method  string               // rpc.method, for an operation's span
	code    string               // api.error_code, once the operation failed
	pending []attribute.KeyValue // exception.* and error, held until the status says what they are
}

func (s *span) Name() string { return s.name }

func (s *span) Context() tracing.SpanContext {
	sc := s.s.SpanContext()
	return tracing.SpanContext{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), IsRemote: sc.IsRemote()}
}

func (s *span) AddEvent(name string, opts ...tracing.EventOption) {
	var o tracing.EventOptions
	for _, fn := range opts {
		fn(&o)
	}
	s.s.AddEvent(name, trace.WithAttributes(attributes(&o.Properties)...))
}

// normalMiss is a suppression-list look-up that found nothing: SES answers 404 NotFound, the
// normal answer for an address that may be sent to, and not an error.
func normalMiss(method, code string) bool {
	return method == "GetSuppressedDestination" && code == "NotFoundException"
}

func (s *span) SetStatus(status tracing.SpanStatus) {
	switch {
	case normalMiss(s.method, s.code):
		s.pending = nil // no exception, no error: the address is not on the list
	case status == tracing.SpanStatusOK:
		s.flush()
		s.s.SetStatus(codes.Ok, "")
	case status == tracing.SpanStatusError:
		s.flush()
		s.s.SetStatus(codes.Error, "")
	}
}

func (s *span) flush() {
	if len(s.pending) > 0 {
		s.s.SetAttributes(s.pending...)
		s.pending = nil
	}
}

func (s *span) SetProperty(k, v any) {
	var p smithy.Properties
	p.Set(k, v)
	attrs := attributes(&p)
	switch k {
	case "api.error_code":
		s.code, _ = v.(string)
	case "exception.type", "exception.message", "error":
		s.pending = append(s.pending, attrs...)
		return
	}
	s.s.SetAttributes(attrs...)
}

func (s *span) End() {
	if !normalMiss(s.method, s.code) {
		s.flush()
	}
	s.s.End()
}

type meterProvider struct{ mp metric.MeterProvider }

func (p meterProvider) Meter(scope string, _ ...smithymetrics.MeterOption) smithymetrics.Meter {
	return meter{p.mp.Meter(scope)}
}

type meter struct{ m metric.Meter }

// instrumentOptions turns smithy's instrument options into those of one OpenTelemetry kind.
func instrumentOptions[T any](opts []smithymetrics.InstrumentOption) []T {
	var o smithymetrics.InstrumentOptions
	for _, fn := range opts {
		fn(&o)
	}
	var out []T
	if o.UnitLabel != "" {
		out = append(out, any(metric.WithUnit(o.UnitLabel)).(T))
	}
	if o.Description != "" {
		out = append(out, any(metric.WithDescription(o.Description)).(T))
	}
	if o.UnitLabel == "s" { // the SDK's durations: seconds, not OpenTelemetry's default bounds (0 to 10000, for ms)
		if b, ok := any(metric.WithExplicitBucketBoundaries(secondsBuckets...)).(T); ok {
			out = append(out, b)
		}
	}
	return out
}

// secondsBuckets are the bounds of the SDK's duration histograms: its steps (signing,
// serializing) take microseconds, a call tens of milliseconds, a slow one seconds.
var secondsBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// measurement turns smithy's record options into OpenTelemetry's attributes option.
func measurement(opts []smithymetrics.RecordMetricOption) metric.MeasurementOption {
	var o smithymetrics.RecordMetricOptions
	for _, fn := range opts {
		fn(&o)
	}
	return metric.WithAttributes(attributes(&o.Properties)...)
}

type int64Adder interface {
	Add(context.Context, int64, ...metric.AddOption)
}

type int64Add struct{ i int64Adder }

func (a int64Add) Add(ctx context.Context, v int64, opts ...smithymetrics.RecordMetricOption) {
	var o smithymetrics.RecordMetricOptions
	for _, fn := range opts {
		fn(&o)
	}
	method, _ := o.Properties.Get("rpc.method").(string)
	code, _ := o.Properties.Get("exception.type").(string)
	if normalMiss(method, code) { // client.call.errors for a suppression-list miss
		return
	}
	a.i.Add(ctx, v, metric.WithAttributes(attributes(&o.Properties)...))
}

type float64Adder interface {
	Add(context.Context, float64, ...metric.AddOption)
}

type float64Add struct{ i float64Adder }

func (a float64Add) Add(ctx context.Context, v float64, opts ...smithymetrics.RecordMetricOption) {
	a.i.Add(ctx, v, measurement(opts))
}

type int64Recorder interface {
	Record(context.Context, int64, ...metric.RecordOption)
}

type int64Record struct{ i int64Recorder }

func (r int64Record) Record(ctx context.Context, v int64, opts ...smithymetrics.RecordMetricOption) {
	r.i.Record(ctx, v, measurement(opts))
}

func (r int64Record) Sample(ctx context.Context, v int64, opts ...smithymetrics.RecordMetricOption) {
	r.i.Record(ctx, v, measurement(opts))
}

type float64Recorder interface {
	Record(context.Context, float64, ...metric.RecordOption)
}

type float64Record struct{ i float64Recorder }

func (r float64Record) Record(ctx context.Context, v float64, opts ...smithymetrics.RecordMetricOption) {
	r.i.Record(ctx, v, measurement(opts))
}

func (r float64Record) Sample(ctx context.Context, v float64, opts ...smithymetrics.RecordMetricOption) {
	r.i.Record(ctx, v, measurement(opts))
}

func (m meter) Int64Counter(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Int64Counter, error) {
	i, err := m.m.Int64Counter(name, instrumentOptions[metric.Int64CounterOption](opts)...)
	return int64Add{i}, err
}

func (m meter) Int64UpDownCounter(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Int64UpDownCounter, error) {
	i, err := m.m.Int64UpDownCounter(name, instrumentOptions[metric.Int64UpDownCounterOption](opts)...)
	return int64Add{i}, err
}

func (m meter) Int64Gauge(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Int64Gauge, error) {
	i, err := m.m.Int64Gauge(name, instrumentOptions[metric.Int64GaugeOption](opts)...)
	return int64Record{i}, err
}

func (m meter) Int64Histogram(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Int64Histogram, error) {
	i, err := m.m.Int64Histogram(name, instrumentOptions[metric.Int64HistogramOption](opts)...)
	return int64Record{i}, err
}

func (m meter) Float64Counter(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Float64Counter, error) {
	i, err := m.m.Float64Counter(name, instrumentOptions[metric.Float64CounterOption](opts)...)
	return float64Add{i}, err
}

func (m meter) Float64UpDownCounter(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Float64UpDownCounter, error) {
	i, err := m.m.Float64UpDownCounter(name, instrumentOptions[metric.Float64UpDownCounterOption](opts)...)
	return float64Add{i}, err
}

func (m meter) Float64Gauge(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Float64Gauge, error) {
	i, err := m.m.Float64Gauge(name, instrumentOptions[metric.Float64GaugeOption](opts)...)
	return float64Record{i}, err
}

func (m meter) Float64Histogram(name string, opts ...smithymetrics.InstrumentOption) (smithymetrics.Float64Histogram, error) {
	i, err := m.m.Float64Histogram(name, instrumentOptions[metric.Float64HistogramOption](opts)...)
	return float64Record{i}, err
}

// registration stops an asynchronous instrument's callback.
type registration struct{ r metric.Registration }

func (r registration) Stop() { _ = r.r.Unregister() }

type int64Observer struct {
	o metric.Observer
	i metric.Int64Observable
}

func (o int64Observer) Observe(_ context.Context, v int64, opts ...smithymetrics.RecordMetricOption) {
	o.o.ObserveInt64(o.i, v, measurement(opts))
}

type float64Observer struct {
	o metric.Observer
	i metric.Float64Observable
}

func (o float64Observer) Observe(_ context.Context, v float64, opts ...smithymetrics.RecordMetricOption) {
	o.o.ObserveFloat64(o.i, v, measurement(opts))
}

func (m meter) int64Async(i metric.Int64Observable, err error, cb smithymetrics.Int64Callback) (smithymetrics.AsyncInstrument, error) {
	if err != nil {
		return nil, err
	}
	r, err := m.m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, int64Observer{o, i})
		return nil
	}, i)
	return registration{r}, err
}

func (m meter) float64Async(i metric.Float64Observable, err error, cb smithymetrics.Float64Callback) (smithymetrics.AsyncInstrument, error) {
	if err != nil {
		return nil, err
	}
	r, err := m.m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, float64Observer{o, i})
		return nil
	}, i)
	return registration{r}, err
}

func (m meter) Int64AsyncCounter(name string, cb smithymetrics.Int64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Int64ObservableCounter(name, instrumentOptions[metric.Int64ObservableCounterOption](opts)...)
	return m.int64Async(i, err, cb)
}

func (m meter) Int64AsyncUpDownCounter(name string, cb smithymetrics.Int64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Int64ObservableUpDownCounter(name, instrumentOptions[metric.Int64ObservableUpDownCounterOption](opts)...)
	return m.int64Async(i, err, cb)
}

func (m meter) Int64AsyncGauge(name string, cb smithymetrics.Int64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Int64ObservableGauge(name, instrumentOptions[metric.Int64ObservableGaugeOption](opts)...)
	return m.int64Async(i, err, cb)
}

func (m meter) Float64AsyncCounter(name string, cb smithymetrics.Float64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Float64ObservableCounter(name, instrumentOptions[metric.Float64ObservableCounterOption](opts)...)
	return m.float64Async(i, err, cb)
}

func (m meter) Float64AsyncUpDownCounter(name string, cb smithymetrics.Float64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Float64ObservableUpDownCounter(name, instrumentOptions[metric.Float64ObservableUpDownCounterOption](opts)...)
	return m.float64Async(i, err, cb)
}

func (m meter) Float64AsyncGauge(name string, cb smithymetrics.Float64Callback, opts ...smithymetrics.InstrumentOption) (smithymetrics.AsyncInstrument, error) {
	i, err := m.m.Float64ObservableGauge(name, instrumentOptions[metric.Float64ObservableGaugeOption](opts)...)
	return m.float64Async(i, err, cb)
}
