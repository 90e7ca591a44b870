package sesotel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/emulator"
	"github.com/sesconnector/sesconnector/sesotel"
)

// receiver is an OTLP/HTTP endpoint: it decodes every export the SDK's exporters send.
type receiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	metrics []*metricpb.Metric
	raw     []string // every request as protobuf text, for the privacy check
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var msg, resp proto.Message
	switch req.URL.Path {
	case "/v1/traces":
		in := &coltracepb.ExportTraceServiceRequest{}
		msg, resp = in, &coltracepb.ExportTraceServiceResponse{}
		defer func() {
			for _, rs := range in.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					r.spans = append(r.spans, ss.Spans...)
				}
			}
		}()
	case "/v1/metrics":
		in := &colmetricpb.ExportMetricsServiceRequest{}
		msg, resp = in, &colmetricpb.ExportMetricsServiceResponse{}
		defer func() {
			for _, rm := range in.ResourceMetrics {
				for _, sm := range rm.ScopeMetrics {
					r.metrics = append(r.metrics, sm.Metrics...)
				}
			}
		}()
	default:
		http.NotFound(w, req)
		return
	}
	if err := proto.Unmarshal(body, msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.raw = append(r.raw, prototext.Format(msg))
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// sesWithTexts answers as SES does, with SES's own error texts, which quote the recipient: a
// suppression-list miss (404), a rejected send naming the address upper-cased, throttling.
func sesWithTexts(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Destination struct{ ToAddresses []string }
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	to := strings.Join(in.Destination.ToAddresses, ",")
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-ErrorType", typ)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
	}
	if addr, ok := strings.CutPrefix(r.URL.Path, "/v2/email/suppression/addresses/"); ok {
		addr = strings.ReplaceAll(addr, "%40", "@")
		fail(http.StatusNotFound, "NotFoundException", "Email address ("+addr+") does not exist on your suppression list.")
		return
	}
	switch {
	case strings.HasPrefix(to, "probe-rejected"):
		fail(http.StatusBadRequest, "MessageRejected", "Email address is not verified. The following identities failed the check in region EU-WEST-1: "+strings.ToUpper(to))
	case strings.HasPrefix(to, "probe-throttled"):
		fail(http.StatusTooManyRequests, "TooManyRequestsException", "Maximum sending rate exceeded.")
	default:
		_, _ = io.WriteString(w, `{"MessageId":"0100018c-pipeline"}`)
	}
}

// Through a real pipeline: the OpenTelemetry SDK exports over OTLP/HTTP to a receiver that
// decodes it, while sends of every outcome go to the SES emulator and to a server answering with
// SES's real error texts, through the real SDK client with SESOptions and the suppression check
// on. Nothing received holds an address (any case, its local part alone, percent-encoded) or
// a code; the span tree and attributes are as documented.
func TestPipelineIsPrivate(t *testing.T) {
	rcv := &receiver{}
	otlp := httptest.NewServer(rcv)
	defer otlp.Close()
	ses := httptest.NewServer(http.HandlerFunc(sesWithTexts))
	defer ses.Close()
	emu := emulator.StartForTest(t)

	ctx := context.Background()
	texp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(otlp.URL+"/v1/traces"))
	require.NoError(t, err)
	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(otlp.URL+"/v1/metrics"))
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))))
	obs, err := sesotel.New(sesotel.WithTracerProvider(tp), sesotel.WithMeterProvider(mp))
	require.NoError(t, err)

	const code = "493817"
	var people []string
	send := func(endpoint, to string, usage sesconnector.UsageType) sesconnector.Outcome {
		people = append(people, to)
		last := &lastOutcome{}
		c, err := sesconnector.New(ctx, config(), sesconnector.WithEndpoint(endpoint), sesconnector.WithRetryMaxAttempts(1),
			sesconnector.WithSuppressionCheck(time.Hour), sesconnector.WithObserver(obs), sesconnector.WithObserver(last),
			sesconnector.WithSESOptions(obs.SESOptions()))
		require.NoError(t, err)
		_, _ = c.SendMessage(ctx, to, usage, sesconnector.Payload{"code": code, "locale": "pt-BR"})
		return last.outcome
	}
	outcomes := map[string]sesconnector.Outcome{
		"emulator":   send(emu.URL, "Probe-Emu.7f3a@example.com", sesconnector.UsageSignIn),
		"sent":       send(ses.URL, "probe-sent.7f3a@example.com", sesconnector.UsageRegister),
		"rejected":   send(ses.URL, "probe-rejected.7f3a@example.com", sesconnector.UsageSignIn),
		"throttled":  send(ses.URL, "probe-throttled.7f3a@example.com", sesconnector.UsageForgotPassword),
		"invalid":    send(ses.URL, "Probe <probe-invalid.7f3a@example.com>", sesconnector.UsageSignIn),
		"made-up":    send(ses.URL, "probe-madeup.7f3a@example.com", "probe-madeup.7f3a@example.com"),
		"no address": send(ses.URL, "probe-noaddress.7f3a", sesconnector.UsageSignIn),
	}
	assert.Equal(t, map[string]sesconnector.Outcome{"emulator": "sent", "sent": "sent", "rejected": "rejected", "throttled": "throttled",
		"invalid": "invalid", "made-up": "invalid", "no address": "invalid"}, outcomes)
	require.NoError(t, tp.Shutdown(ctx))
	require.NoError(t, mp.Shutdown(ctx))

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	require.NotEmpty(t, rcv.spans)
	require.NotEmpty(t, rcv.metrics)
	all := strings.ToLower(strings.Join(rcv.raw, "\n"))
	for _, to := range people {
		to = strings.ToLower(to)
		local, _, _ := strings.Cut(to, "@")
		local = strings.TrimPrefix(local, "probe <")
		for _, form := range []string{to, local, strings.ReplaceAll(to, "@", "%40")} {
			assert.NotContains(t, all, form, "exported telemetry holds a recipient")
		}
	}
	assert.NotContains(t, all, code, "exported telemetry holds the code")
	assert.Contains(t, all, "p***@example.com", "SES's texts are exported masked")

	// The span tree: each send an internal span, the SDK's operations client spans under it.
	byID := map[string]*tracepb.Span{}
	for _, s := range rcv.spans {
		byID[string(s.SpanId)] = s
	}
	sends, misses, ops := 0, 0, map[string]int{}
	for _, s := range rcv.spans {
		for _, a := range s.Attributes {
			assert.NotEmpty(t, a.Value.GetStringValue()+fmt.Sprint(a.Value.GetValue()), "span %s: attribute %s has a value", s.Name, a.Key)
			if sv, ok := a.Value.Value.(*commonpb.AnyValue_StringValue); ok {
				assert.NotEmpty(t, sv.StringValue, "span %s: attribute %s is not empty", s.Name, a.Key)
			}
		}
		switch {
		case s.Name == "sesconnector.send":
			sends++
			assert.Equal(t, tracepb.Span_SPAN_KIND_INTERNAL, s.Kind)
		case strings.HasPrefix(s.Name, "SESv2."):
			ops[s.Name]++
			assert.Equal(t, tracepb.Span_SPAN_KIND_CLIENT, s.Kind, s.Name)
			parent := byID[string(s.ParentSpanId)]
			require.NotNil(t, parent, "%s has its parent exported", s.Name)
			assert.Equal(t, "sesconnector.send", parent.Name)
			if attr(s.Attributes, "api.error_code") == "NotFoundException" { // the emulator has no suppression list: its 404 is an error
				misses++
				assert.NotEqual(t, tracepb.Status_STATUS_CODE_ERROR, s.GetStatus().GetCode(), "a suppression-list miss is not an error")
				assert.Empty(t, attr(s.Attributes, "exception.type"), "a suppression-list miss is not an exception")
			}
		}
	}
	assert.Equal(t, len(people), sends)
	assert.Equal(t, 4, ops["SESv2.SendEmail"], "emulator, sent, rejected, throttled")
	assert.Equal(t, 4, ops["SESv2.GetSuppressedDestination"])
	assert.Equal(t, 3, misses, "sent, rejected, throttled: SES's 404 NotFound")

	// The SDK's duration histograms have bounds in seconds, and a miss is no error count.
	for _, m := range rcv.metrics {
		if h := m.GetHistogram(); h != nil && strings.HasPrefix(m.Name, "client.call") {
			for _, p := range h.DataPoints {
				assert.Equal(t, 0.0001, p.ExplicitBounds[0], "%s: bounds in seconds", m.Name)
			}
		}
		if m.Name == "client.call.errors" {
			for _, p := range m.GetSum().DataPoints {
				assert.False(t, attr(p.Attributes, "exception.type") == "NotFoundException", "a suppression-list miss is not counted as an error")
			}
		}
	}
	t.Logf("received %d spans and %d metrics (%d bytes as text); operations %v", len(rcv.spans), len(rcv.metrics), len(all), ops)
}

// 10,000 refused sends with made-up usage types add no series, the cache of attribute sets stays
// small, and a throttled send after them still has its own point.
func TestMadeUpUsageTypesAddNoSeries(t *testing.T) {
	tel := newTelemetry(t)
	c, err := sesconnector.New(context.Background(), config(), sesconnector.WithClient(fakeSES{}), sesconnector.WithObserver(tel.obs))
	require.NoError(t, err)
	send := func(usage sesconnector.UsageType) {
		_, _ = c.SendMessage(context.Background(), recipient, usage, sesconnector.Payload{"code": "123456", "locale": fmt.Sprintf("x-%d", rand.IntN(1e6))})
	}
	send("made-up")
	before := points(tel.metrics(t))
	for i := range 10_000 {
		send(sesconnector.UsageType(fmt.Sprintf("made-up-%d-%x", i, rand.Uint64())))
	}
	after := points(tel.metrics(t))
	assert.Equal(t, before, after, "10,000 made-up usage types add no series")

	throttled, err := sesconnector.New(context.Background(), config(), sesconnector.WithClient(fakeSES{err: &types.TooManyRequestsException{Message: aws.String("Maximum sending rate exceeded.")}}), sesconnector.WithObserver(tel.obs))
	require.NoError(t, err)
	_, _ = throttled.SendMessage(context.Background(), recipient, sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
	m := tel.metrics(t)
	found := false
	for _, p := range m["sesconnector.sends"].Data.(metricdata.Sum[int64]).DataPoints {
		if v, _ := p.Attributes.Value(sesotel.KeyOutcome); v.AsString() == "throttled" {
			found = p.Value == 1
		}
	}
	assert.True(t, found, "the throttled send has its own point")
	t.Logf("series: %d after one refused send, %d after 10,000 more with made-up usage types", before, after)
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value.GetStringValue()
		}
	}
	return ""
}

// lastOutcome keeps what became of the last send.
type lastOutcome struct{ outcome sesconnector.Outcome }

func (*lastOutcome) SendStart(ctx context.Context, _ sesconnector.SendInfo) context.Context {
	return ctx
}
func (l *lastOutcome) SendDone(_ context.Context, _ sesconnector.SendInfo, r sesconnector.SendResult) {
	l.outcome = r.Outcome
}

// points counts every data point of every metric.
func points(m map[string]metricdata.Metrics) int {
	n := 0
	for _, x := range m {
		switch d := x.Data.(type) {
		case metricdata.Histogram[float64]:
			n += len(d.DataPoints)
		case metricdata.Sum[int64]:
			n += len(d.DataPoints)
		}
	}
	return n
}
