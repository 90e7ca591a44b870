package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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

// /metrics, scraped after sends and feedback events, parses as Prometheus's text format and
// holds the send count by outcome and the feedback events by type.
func TestMetricsEndpoint(t *testing.T) {
	obs, metrics, err := newMetrics()
	require.NoError(t, err)
	cfg, err := ses.LoadConfig(filepath.Join("..", "config.example.json"))
	require.NoError(t, err)
	conn, err := ses.New(context.Background(), cfg, ses.WithClient(rejectingSES{}), ses.WithObserver(obs))
	require.NoError(t, err)
	srv := NewServer(conn, DefaultPolicy, slog.New(slog.DiscardHandler))
	ts := httptest.NewServer(srv.Handler(nil, metrics))
	defer ts.Close()
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
	handle := obs.Feedback(srv.HandleEvent)
	for _, name := range []string{"event-bounce", "event-complaint", "event-delivery"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "feedback", "testdata", name+".json"))
		require.NoError(t, err)
		e, err := feedback.Parse(data)
		require.NoError(t, err)
		require.NoError(t, handle(context.Background(), e))
	}

	resp, err := http.Get(ts.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)

	sends := families["sesconnector_send_duration_seconds"]
	require.NotNil(t, sends, "families: %v", names(families))
	count := map[string]uint64{}
	for _, m := range sends.Metric {
		l := labels(m)
		count[l["sesconnector_usage_type"]+"/"+l["sesconnector_outcome"]+"/"+l["cloud_region"]] += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, map[string]uint64{"SignIn/sent/us-east-1": 2, "SignIn/rejected/us-east-1": 1, "Register/sent/us-east-1": 1}, count)

	events := families["sesconnector_feedback_events_total"]
	require.NotNil(t, events, "families: %v", names(families))
	byType := map[string]float64{}
	for _, m := range events.Metric {
		l := labels(m)
		byType[l["sesconnector_event_type"]+"/"+l["sesconnector_bounce_type"]] += m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"Bounce/Permanent": 1, "Complaint/": 1, "Delivery/": 1}, byType)
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
