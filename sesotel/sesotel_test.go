package sesotel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/emulator"
	"github.com/sesconnector/sesconnector/sesotel"
)

const recipient = "jane.doe@example.com"

// telemetry is the real OpenTelemetry SDK with an in-memory span recorder and a manual metric
// reader, and an Observer on it.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	obs    *sesotel.Observer
}

func newTelemetry(t testing.TB) *telemetry {
	tel := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tel.spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tel.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	var err error
	tel.obs, err = sesotel.New(sesotel.WithTracerProvider(tel.tp), sesotel.WithMeterProvider(mp))
	require.NoError(t, err)
	return tel
}

func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func (tel *telemetry) sendSpans() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range tel.spans.Ended() {
		if s.Name() == "sesconnector.send" {
			out = append(out, s)
		}
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// noRecipient checks every span, event and data point for any form of the recipient.
func (tel *telemetry) noRecipient(t *testing.T) {
	t.Helper()
	forms := []string{recipient, "jane.doe", "Jane.Doe", "jane.doe%40example.com"}
	check := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			for _, f := range forms {
				assert.NotContains(t, kv.Value.Emit(), f, "%s: %s", where, kv.Key)
			}
		}
	}
	for _, s := range tel.spans.Ended() {
		check("span "+s.Name(), s.Attributes())
		for _, f := range forms {
			assert.NotContains(t, s.Status().Description, f, "span %s status", s.Name())
		}
		for _, e := range s.Events() {
			check("event "+e.Name, e.Attributes)
		}
	}
	for name, m := range tel.metrics(t) {
		switch d := m.Data.(type) {
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				check(name, p.Attributes.ToSlice())
			}
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				check(name, p.Attributes.ToSlice())
			}
		}
	}
}

func config() *sesconnector.Config {
	return &sesconnector.Config{
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AccessKeySecret: "fake-secret-for-sesotel", Region: "eu-west-1", EmailAddress: "noreply@example.com",
		Templates: []sesconnector.Template{
			{UsageType: sesconnector.UsageSignIn, Locale: "pt", Subject: "Código {{code}}", Content: "<p>{{code}}</p>"},
			{UsageType: sesconnector.UsageGeneric, Subject: "Code {{code}}", Content: "<p>{{code}}</p>"},
		},
	}
}

// fakeSES answers SendEmail with err, or a MessageId.
type fakeSES struct{ err error }

func (f fakeSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-sesotel")}, nil
}

// For each outcome: the span's attributes and status, and the histogram's attributes.
func TestSpansAndDurationPerOutcome(t *testing.T) {
	cases := []struct {
		name      string
		client    fakeSES
		to        string
		payload   sesconnector.Payload
		opts      []sesconnector.Option
		outcome   sesconnector.Outcome
		errorType string
		template  string
		region    string
		messageID string
	}{
		{name: "sent", outcome: sesconnector.OutcomeSent, template: "templates[0]", region: "eu-west-1", messageID: "0100018c-sesotel"},
		{name: "invalid", to: "Jane <" + recipient + ">", outcome: sesconnector.OutcomeInvalid, errorType: "invalid"},
		{name: "recipient limited", opts: []sesconnector.Option{sesconnector.WithRecipientLimit(sesconnector.NewMemoryLimiter(0, time.Hour))},
			outcome: sesconnector.OutcomeRecipientLimited, errorType: "recipient_limited", template: "templates[0]"},
		{name: "throttled", client: fakeSES{err: &types.TooManyRequestsException{Message: aws.String("slow down")}},
			outcome: sesconnector.OutcomeThrottled, errorType: "TooManyRequestsException", template: "templates[0]", region: "eu-west-1"},
		{name: "rejected", client: fakeSES{err: &types.MessageRejected{Message: aws.String("Email address is not verified: " + recipient)}},
			outcome: sesconnector.OutcomeRejected, errorType: "MessageRejected", template: "templates[0]", region: "eu-west-1"},
		{name: "failed", client: fakeSES{err: errors.New("dial tcp: connection refused")},
			outcome: sesconnector.OutcomeFailed, errorType: "failed", template: "templates[0]", region: "eu-west-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tel := newTelemetry(t)
			opts := append([]sesconnector.Option{sesconnector.WithClient(tc.client), sesconnector.WithObserver(tel.obs)}, tc.opts...)
			c, err := sesconnector.New(context.Background(), config(), opts...)
			require.NoError(t, err)
			to, payload := recipient, sesconnector.Payload{"code": "123456", "locale": "pt-BR"}
			if tc.to != "" {
				to = tc.to
			}
			_, _ = c.SendMessage(context.Background(), to, sesconnector.UsageSignIn, payload)

			spans := tel.sendSpans()
			require.Len(t, spans, 1)
			s := spans[0]
			assert.Equal(t, trace.SpanKindInternal, s.SpanKind(), "the SDK's HTTP call is the client span")
			want := map[string]string{"sesconnector.usage_type": "SignIn", "sesconnector.outcome": string(tc.outcome),
				"sesconnector.locale": "pt"} // pt-BR asked for, the pt template used
			if tc.template == "" {
				want["sesconnector.locale"] = "other" // no template chosen: not a locale of the config
			}
			for k, v := range map[string]string{"sesconnector.template": tc.template, "sesconnector.message_id": tc.messageID, "cloud.region": tc.region} {
				if v != "" { // an attribute with no value is left out
					want[k] = v
				}
			}
			if tc.outcome == sesconnector.OutcomeSent {
				assert.Equal(t, codes.Unset, s.Status().Code)
			} else {
				want["error.type"] = tc.errorType
				assert.Equal(t, codes.Error, s.Status().Code)
				assert.Equal(t, string(tc.outcome), s.Status().Description)
			}
			assert.Equal(t, want, attrs(s.Attributes()))

			h := tel.metrics(t)["sesconnector.send.duration"]
			assert.Equal(t, "s", h.Unit)
			points := h.Data.(metricdata.Histogram[float64]).DataPoints
			require.Len(t, points, 1)
			assert.Equal(t, uint64(1), points[0].Count, "the count is the send count")
			wantPoint := map[string]string{"sesconnector.usage_type": "SignIn", "sesconnector.outcome": string(tc.outcome)}
			if tc.region != "" {
				wantPoint["cloud.region"] = tc.region
			}
			assert.Equal(t, wantPoint, attrs(points[0].Attributes.ToSlice()))
			tel.noRecipient(t)
		})
	}
}

// Through the real SDK client against the SES emulator: the SDK's own SendEmail span is a
// child of the send's span, with SESOptions.
func TestSDKSpansUnderTheSend(t *testing.T) {
	emu := emulator.StartForTest(t)
	tel := newTelemetry(t)
	c, err := sesconnector.New(context.Background(), config(), sesconnector.WithEndpoint(emu.URL),
		sesconnector.WithObserver(tel.obs), sesconnector.WithSESOptions(tel.obs.SESOptions()))
	require.NoError(t, err)
	_, err = c.SendMessage(context.Background(), recipient, sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
	require.NoError(t, err)

	sends := tel.sendSpans()
	require.Len(t, sends, 1)
	parent := sends[0]
	var children []string
	for _, s := range tel.spans.Ended() {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() {
			assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext().TraceID())
			children = append(children, s.Name())
		}
	}
	require.NotEmpty(t, children, "the SDK's spans hang under the send's")
	assert.Contains(t, strings.Join(children, ","), "SendEmail")
	t.Logf("spans under sesconnector.send: %v; metrics: %v", children, keys(tel.metrics(t)))
	assert.Equal(t, "sent", attrs(parent.Attributes())["sesconnector.outcome"])
	m := tel.metrics(t)
	assert.Contains(t, m, "sesconnector.send.duration")
	sdkMetrics := 0
	for name := range m {
		if strings.HasPrefix(name, "client.call") {
			sdkMetrics++
		}
	}
	assert.Positive(t, sdkMetrics, "the SDK's own metrics, through the adapter: %v", keys(m))
	tel.noRecipient(t)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// AWS's documented sample events, counted by type, usage type and bounce type.
func TestFeedbackCounted(t *testing.T) {
	tel := newTelemetry(t)
	var handled int
	h := tel.obs.Feedback(func(context.Context, *feedback.Event) error { handled++; return nil })
	for _, name := range []string{"event-bounce", "event-bounce", "event-complaint", "event-delivery", "notification-bounce-without-dsn"} {
		data, err := os.ReadFile(filepath.Join("..", "feedback", "testdata", name+".json"))
		require.NoError(t, err)
		e, err := feedback.Parse(data)
		require.NoError(t, err)
		if strings.HasPrefix(name, "event-") {
			e.UsageType = sesconnector.UsageSignIn // as the usageType tag of a send through a configuration set gives it
		}
		require.NoError(t, h(context.Background(), e))
	}
	assert.Equal(t, 5, handled)
	sum := tel.metrics(t)["sesconnector.feedback.events"].Data.(metricdata.Sum[int64])
	got := map[string]int64{}
	for _, p := range sum.DataPoints {
		a := attrs(p.Attributes.ToSlice())
		if p.Value > 0 {
			got[a["sesconnector.event_type"]+"/"+a["sesconnector.usage_type"]+"/"+a["sesconnector.bounce_type"]] += p.Value
		}
	}
	assert.Equal(t, map[string]int64{"Bounce/SignIn/Permanent": 2, "Complaint/SignIn/": 1, "Delivery/SignIn/": 1, "Bounce//Permanent": 1}, got)
	// Created at 0 by New: Delivery, Complaint and three bounce types, for no usage type, the
	// nine and other.
	assert.Len(t, sum.DataPoints, 5*11)
	tel.noRecipient(t)
}
