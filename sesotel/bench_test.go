package sesotel_test

import (
	"context"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sessink"
	"github.com/sesconnector/sesconnector/sesotel"
)

// BenchmarkSendWithSesotel sends through the real SDK client to a loopback SES sink from two
// Connectors in turn, one without an observer and one with sesotel on the real OpenTelemetry
// SDK (every span sampled and exported to memory through a batcher, metrics aggregated by a
// reader), timing each
// send: alternating keeps the machine's drift out of the ratio it reports. The SDK-spans
// variant adds SESOptions, the SDK's own spans and metrics.
func BenchmarkSendWithSesotel(b *testing.B) {
	for _, sdkSpans := range []bool{false, true} {
		name := "observer"
		if sdkSpans {
			name = "observer+SDK-spans"
		}
		b.Run(name, func(b *testing.B) {
			sink := &sessink.Handler{}
			srv := httptest.NewServer(sink)
			defer srv.Close()
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			defer tp.Shutdown(context.Background())
			defer mp.Shutdown(context.Background())
			obs, err := sesotel.New(sesotel.WithTracerProvider(tp), sesotel.WithMeterProvider(mp))
			require.NoError(b, err)
			observed := []sesconnector.Option{sesconnector.WithEndpoint(srv.URL), sesconnector.WithObserver(obs)}
			if sdkSpans {
				observed = append(observed, sesconnector.WithSESOptions(obs.SESOptions()))
			}
			plain, err := sesconnector.New(context.Background(), config(), sesconnector.WithEndpoint(srv.URL))
			require.NoError(b, err)
			withOtel, err := sesconnector.New(context.Background(), config(), observed...)
			require.NoError(b, err)
			ctx := context.Background()
			var plainTime, otelTime time.Duration
			n := 0
			send := func(c *sesconnector.Connector) time.Duration {
				start := time.Now()
				if _, err := c.SendMessage(ctx, "user"+strconv.Itoa(n%1024)+"@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": strconv.Itoa(100000 + n)}); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			for b.Loop() {
				n++
				if n%2 == 0 {
					plainTime += send(plain)
					otelTime += send(withOtel)
				} else {
					otelTime += send(withOtel)
					plainTime += send(plain)
				}
				if n%256 == 0 {
					exp.Reset() // the exporter's memory stays small
				}
			}
			b.ReportMetric(float64(plainTime.Nanoseconds())/float64(n), "plain-ns/send")
			b.ReportMetric(float64(otelTime.Nanoseconds())/float64(n), "sesotel-ns/send")
			b.ReportMetric(float64(otelTime)/float64(plainTime), "ratio")
		})
	}
}

// BenchmarkObserver is what sesotel does per send, in process: a span started, its attributes,
// its end and its export to memory through a batcher, as in production, and the duration
// recorded.
func BenchmarkObserver(b *testing.B) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	obs, _ := sesotel.New(sesotel.WithTracerProvider(tp), sesotel.WithMeterProvider(mp))
	ctx := context.Background()
	info := sesconnector.SendInfo{Usage: "SignIn"}
	r := sesconnector.SendResult{Outcome: "sent", MessageID: "m", Template: "templates[0]", Region: "eu-west-1"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		c := obs.SendStart(ctx, info)
		obs.SendDone(c, info, r)
		n++
		if n%4096 == 0 {
			exp.Reset()
		}
	}
}
