package sesconnector_test

import (
	"context"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/internal/sessink"
)

// The benchmarks compare the connector with the raw sesv2 client that a team would otherwise
// call, built with the same settings and sending an equivalent SendEmailInput, both against an
// in-process loopback SES sink. `make bench` runs them; internal/cmd/sesbench compares them (and
// Logto's connector) in separate processes.

func benchConfig() *ses.Config {
	cfg, err := ses.ParseConfig([]byte(sessink.ConfigJSON))
	if err != nil {
		panic(err)
	}
	return cfg
}

func BenchmarkCompose(b *testing.B) {
	c, err := ses.New(context.Background(), benchConfig(), ses.WithClient(&mockSES{}))
	require.NoError(b, err)
	ctx := context.Background()
	payload := ses.Payload{"code": "123456"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compose(ctx, "user@example.com", ses.UsageSignIn, payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNew(b *testing.B) {
	cfg := benchConfig()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ses.New(ctx, cfg, ses.WithEndpoint("http://127.0.0.1:1")); err != nil {
			b.Fatal(err)
		}
	}
}

func startSink(b *testing.B) (*sessink.Handler, string) {
	h := &sessink.Handler{}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return h, srv.URL
}

func rawClient(b *testing.B, endpoint string) *sesv2.Client {
	client, err := sessink.RawClient(context.Background(), endpoint)
	require.NoError(b, err)
	return client
}

// verifySink checks that every send arrived with its code rendered.
func verifySink(b *testing.B, h *sessink.Handler, sent int64) {
	st := h.Stats()
	if st.Requests != sent || st.Rendered != sent {
		b.Fatalf("sink saw %d requests, %d with a rendered code; %d were sent", st.Requests, st.Rendered, sent)
	}
}

func BenchmarkSendMessage(b *testing.B) { benchSend(b) }

// BenchmarkSendMessageRecipientLimit is BenchmarkSendMessage with the memory limiter checked
// on every send (never refusing): the pair measures what the limit adds to a send.
func BenchmarkSendMessageRecipientLimit(b *testing.B) {
	benchSend(b, ses.WithRecipientLimit(ses.NewMemoryLimiter(1<<30, time.Minute)))
}

// benchSend sends SignIn codes to 1,024 addresses in turn through a Connector with opts.
func benchSend(b *testing.B, opts ...ses.Option) {
	h, url := startSink(b)
	c, err := ses.New(context.Background(), benchConfig(), append([]ses.Option{ses.WithEndpoint(url)}, opts...)...)
	require.NoError(b, err)
	ctx := context.Background()
	to := make([]string, 1024)
	for i := range to {
		to[i] = "user" + strconv.Itoa(i) + "@example.com"
	}
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		if _, err := c.SendMessage(ctx, to[n%1024], ses.UsageSignIn, ses.Payload{"code": strconv.FormatInt(100000+n, 10)}); err != nil {
			b.Fatal(err)
		}
	}
	verifySink(b, h, n)
}

func BenchmarkRawSDK(b *testing.B) {
	h, url := startSink(b)
	client := rawClient(b, url)
	ctx := context.Background()
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		n++
		if _, err := client.SendEmail(ctx, sessink.RawInput(strconv.FormatInt(100000+n, 10))); err != nil {
			b.Fatal(err)
		}
	}
	verifySink(b, h, n)
}

func BenchmarkSendMessageParallel(b *testing.B) {
	h, url := startSink(b)
	c, err := ses.New(context.Background(), benchConfig(), ses.WithEndpoint(url))
	require.NoError(b, err)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8) // 16 in flight on 2 cores
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := strconv.FormatInt(100000+n.Add(1), 10)
			if _, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": code}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	verifySink(b, h, n.Load())
}

func BenchmarkRawSDKParallel(b *testing.B) {
	h, url := startSink(b)
	client := rawClient(b, url)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.SendEmail(ctx, sessink.RawInput(strconv.FormatInt(100000+n.Add(1), 10))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	verifySink(b, h, n.Load())
}

// TestComposeAllocations holds BenchmarkCompose's allocation budget as a test: allocations are
// counted, not timed, so the shared machine's noise cannot make it flaky.
func TestComposeAllocations(t *testing.T) {
	c, err := ses.New(context.Background(), benchConfig(), ses.WithClient(&mockSES{}))
	require.NoError(t, err)
	payload := ses.Payload{"code": "123456"}
	allocs := testing.AllocsPerRun(200, func() {
		_, _ = c.Compose(context.Background(), "user@example.com", ses.UsageSignIn, payload)
	})
	assert.LessOrEqual(t, allocs, 3.0, "one request, the subject and the body; the issue allows 12")
}

// TestManySendsStayFlat sends 100,000 messages on one Connector and checks that the heap and
// the goroutine count after them are what they were after the first 10,000.
func TestManySendsStayFlat(t *testing.T) {
	c, _ := newConnectorDiscarding(t)
	ctx := context.Background()
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := c.SendMessage(ctx, "user@example.com", ses.UsageSignIn, ses.Payload{"code": strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	measure := func() (heap uint64, goroutines int) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc, runtime.NumGoroutine()
	}
	send(0, 10_000)
	heap1, g1 := measure()
	send(10_000, 100_000)
	heap2, g2 := measure()
	assert.Equal(t, g1, g2, "goroutines")
	assert.Less(t, int64(heap2)-int64(heap1), int64(256<<10), "heap grew from %d to %d bytes", heap1, heap2)
}

// discardSES answers every send and keeps nothing, so that only the connector's memory shows.
type discardSES struct{ n atomic.Int64 }

func (d *discardSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	d.n.Add(1)
	return &sesv2.SendEmailOutput{MessageId: aws.String("discard")}, nil
}

func newConnectorDiscarding(t *testing.T) (*ses.Connector, *discardSES) {
	d := &discardSES{}
	c, err := ses.New(context.Background(), benchConfig(), ses.WithClient(d), ses.WithMaxSendRate(100_000))
	require.NoError(t, err)
	return c, d
}
