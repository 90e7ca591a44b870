package feedback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/motoserver"
)

// The whole loop on moto, which emulates SES (with its mailbox simulator), SNS and SQS: an
// identity's notifications go to an SNS topic, the topic to an SQS queue, the Connector sends
// to bounce@, complaint@ and success@simulator.amazonses.com, and Consume reads one Bounce, one
// Complaint and one Delivery.
//
// moto differs from AWS in two ways, checked here: it publishes AWS's canned sample
// notification (its MessageId and recipients are the sample's, not the send's: the
// correlation is tested with AWS's samples in parse_test.go), and its SNS envelope carries
// Message as a JSON object where SNS sends a string.

func TestMotoSimulatorEndToEnd(t *testing.T) {
	moto := motoserver.StartForTest(t)
	q := moto.SQS()
	queueURL, topic := moto.FeedbackQueue(t, q, "ses-feedback")
	moto.NotifyIdentity(t, "example.com", topic)

	cfg := &sesconnector.Config{
		AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AccessKeySecret: "fake-secret-for-moto", Region: motoserver.Region,
		EmailAddress: "noreply@example.com", // moto finds the identity's topics by the bare From's domain
		Templates:    []sesconnector.Template{{UsageType: sesconnector.UsageGeneric, Subject: "Code {{code}}", Content: "<p>{{code}}</p>"}},
	}
	conn, err := sesconnector.New(context.Background(), cfg, sesconnector.WithEndpoint(moto.URL))
	require.NoError(t, err)
	for _, to := range []string{"bounce@simulator.amazonses.com", "complaint@simulator.amazonses.com", "success@simulator.amazonses.com"} {
		id, err := conn.SendMessage(context.Background(), to, sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
		require.NoError(t, err, to)
		require.NotEmpty(t, id)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	got := map[feedback.Type]*feedback.Event{}
	h := func(_ context.Context, e *feedback.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got[e.Type] = e
		if len(got) == 3 {
			cancel()
		}
		return nil
	}
	require.NoError(t, feedback.Consume(ctx, q, queueURL, h, feedback.WithWorkers(2)))
	require.Len(t, got, 3, "one Bounce, one Complaint, one Delivery before the deadline")

	b := got[feedback.TypeBounce]
	require.NotNil(t, b)
	assert.Equal(t, &feedback.Bounce{Type: "Permanent", SubType: "General", FeedbackID: "000001378603176d-5a4b5ad9-6f30-4198-a8c3-b1eb0c270a1d-000000", ReportingMTA: "example.com"}, b.Bounce)
	assert.True(t, b.Undeliverable())
	assert.Equal(t, "recipient1@example.com", b.Recipients[0].Address, "moto's canned sample")
	c := got[feedback.TypeComplaint]
	require.NotNil(t, c)
	assert.Equal(t, "abuse", c.Complaint.FeedbackType)
	assert.True(t, c.Undeliverable())
	d := got[feedback.TypeDelivery]
	require.NotNil(t, d)
	assert.False(t, d.Undeliverable())
	assert.NotEmpty(t, d.Delivery.SMTPResponse)
	for _, e := range got {
		assert.NotEmpty(t, e.MessageID)
		assert.True(t, json.Valid(e.Raw))
	}

	left, err := q.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	require.NoError(t, err)
	assert.Equal(t, "0", left.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)], "every handled message was deleted")
	assert.Equal(t, "0", left.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
}

// BenchmarkConsumeMoto is Consume's throughput against moto with 4 workers and a handler that
// does nothing: events per second, receive and batch delete included.
func BenchmarkConsumeMoto(b *testing.B) {
	moto := motoserver.StartForTest(b)
	q := moto.SQS()
	body := string(shapes(b, fixture(b, "event-bounce"))["SNS envelope (HTTPS or SQS)"])
	const events = 200 // moto's receive scans its whole queue: keep it short
	round := 0
	for b.Loop() {
		b.StopTimer()
		round++ // a fresh queue: a receive cancelled at the end of a round leaves messages in flight
		queueURL, _ := moto.FeedbackQueue(b, q, fmt.Sprint("ses-bench-", round))
		for i := 0; i < events; i += 10 {
			entries := make([]sqstypes.SendMessageBatchRequestEntry, 10)
			for j := range entries {
				entries[j] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(j)), MessageBody: aws.String(body)}
			}
			_, err := q.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: &queueURL, Entries: entries})
			require.NoError(b, err)
		}
		b.StartTimer()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var mu sync.Mutex
		n := 0
		err := feedback.Consume(ctx, q, queueURL, func(context.Context, *feedback.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if n++; n >= events {
				cancel()
			}
			return nil
		}, feedback.WithWorkers(4))
		cancel()
		require.NoError(b, err)
		require.GreaterOrEqual(b, n, events, "at least once: SQS may deliver a message twice")
		b.ReportMetric(float64(events)/time.Since(start).Seconds(), "events/s")
	}
}
