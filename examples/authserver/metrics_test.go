package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
)

// rejectingSES refuses mail to one address, as SES refuses an unverified recipient in the sandbox.
type rejectingSES struct{}

func (rejectingSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	if in.Destination.ToAddresses[0] == "sandboxed@example.com" {
		return nil, &types.MessageRejected{Message: aws.String("Email address is not verified.")}
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("m")}, nil
}

// /metrics, on its own listener, scraped after sends and feedback events, parses as
// Prometheus's text format, passes promtool check metrics, and holds the send count by outcome
// and the feedback events by type. The public listener has no /metrics, and requests with
// made-up usage types add no sample.
func TestMetricsEndpoint(t *testing.T) {
	obs, metrics, err := newMetrics()
	require.NoError(t, err)
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	conn, err := ses.New(context.Background(), cfg, ses.WithClient(rejectingSES{}), ses.WithObserver(obs))
	require.NoError(t, err)
	policy := DefaultPolicy
	policy.ClientCodes, policy.TotalCodes = 10_000, 10_000 // every made-up usage type reaches the Connector (a client may ask 200 a minute)
	srv := NewServer(conn, policy, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler(nil))
	defer ts.Close()
	ms := httptest.NewServer(MetricsHandler(metrics))
	defer ms.Close()
	scrape := func() []byte {
		resp, err := http.Get(ms.URL + "/metrics")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return body
	}
	resp, err := http.Get(ts.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no /metrics on the public listener")
	resp, err = http.Post(ms.URL+"/codes", "application/json", strings.NewReader(`{"email":"a@example.com","usageType":"SignIn"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the metrics listener serves /metrics only")
	post := func(body string) int {
		resp, err := http.Post(ts.URL+"/codes", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, email := range []string{"a@example.com", "b@example.com", "sandboxed@example.com"} {
		post(`{"email":"` + email + `","usageType":"SignIn"}`)
	}
	post(`{"email":"c@example.com","usageType":"Register"}`)
	post(`{"email":"d@example.com","usageType":"made-up"}`) // the one series of other/invalid
	before := scrape()
	for i := range 100 {
		post(fmt.Sprintf(`{"email":"d%d@example.com","usageType":"made-up-%d-%s"}`, i, i, strings.Repeat("x", 200)))
	}
	after := scrape()
	assert.Equal(t, samples(t, before), samples(t, after), "100 made-up usage types add no sample")
	assert.NotContains(t, string(after), "made-up")
	handle := obs.Feedback(srv.HandleEvent)
	for _, name := range []string{"event-bounce", "event-complaint", "event-delivery"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "feedback", "testdata", name+".json"))
		require.NoError(t, err)
		e, err := feedback.Parse(data)
		require.NoError(t, err)
		require.NoError(t, handle(context.Background(), e))
	}

	body := scrape()
	check := exec.Command(promtool(t), "check", "metrics")
	check.Stdin = bytes.NewReader(body)
	out, err := check.CombinedOutput()
	require.NoError(t, err, "promtool check metrics:\n%s", out)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err)
	t.Logf("/metrics: %d bytes, %d samples; promtool check metrics: %q", len(body), samples(t, body), strings.TrimSpace(string(out)))

	sends := families["sesconnector_send_duration_seconds"]
	require.NotNil(t, sends, "families: %v", names(families))
	count := map[string]uint64{}
	for _, m := range sends.Metric {
		l := labels(m)
		count[l["sesconnector_usage_type"]+"/"+l["sesconnector_outcome"]+"/"+l["cloud_region"]] += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, map[string]uint64{"SignIn/sent/us-east-1": 2, "SignIn/rejected/us-east-1": 1, "Register/sent/us-east-1": 1, "other/invalid/": 101}, count)

	events := families["sesconnector_feedback_events_total"]
	require.NotNil(t, events, "families: %v", names(families))
	byType := map[string]float64{}
	for _, m := range events.Metric {
		l := labels(m)
		if v := m.GetCounter().GetValue(); v > 0 {
			byType[l["sesconnector_event_type"]+"/"+l["sesconnector_bounce_type"]] += v
		}
	}
	assert.Equal(t, map[string]float64{"Bounce/Permanent": 1, "Complaint/": 1, "Delivery/": 1}, byType)
}

// samples counts the lines of a scrape that are samples.
func samples(t *testing.T, scrape []byte) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(scrape), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
		}
	}
	return n
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.Label {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func names(f map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range f {
		out = append(out, n)
	}
	return out
}
