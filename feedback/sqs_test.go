package feedback_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/feedback"
)

// fakeQueue is an SQS queue in memory: ReceiveMessage hands out what is queued (waiting a
// little when nothing is, as long polling does), DeleteMessageBatch records deletions.
type fakeQueue struct {
	mu         sync.Mutex
	queued     []types.Message
	deleted    []string
	receiveErr error   // every receive fails with it
	failFirst  []error // the next receives fail with these, in turn
	inputs     []*sqs.ReceiveMessageInput
	deleteCtx  []time.Duration // how long each delete's context had left
}

func (q *fakeQueue) add(bodies ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, b := range bodies {
		n := len(q.queued) + len(q.deleted)
		q.queued = append(q.queued, types.Message{Body: aws.String(b), MessageId: aws.String(fmt.Sprint("sqs-", n)), ReceiptHandle: aws.String(fmt.Sprint("rh-", n))})
	}
}

func (q *fakeQueue) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	q.inputs = append(q.inputs, in)
	if q.receiveErr != nil {
		q.mu.Unlock()
		return nil, q.receiveErr
	}
	if len(q.failFirst) > 0 {
		err := q.failFirst[0]
		q.failFirst = q.failFirst[1:]
		q.mu.Unlock()
		return nil, err
	}
	n := min(len(q.queued), int(in.MaxNumberOfMessages))
	batch := q.queued[:n:n]
	q.queued = q.queued[n:]
	q.mu.Unlock()
	if n == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: batch}, nil
}

func (q *fakeQueue) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	left := time.Duration(-1)
	if d, ok := ctx.Deadline(); ok {
		left = time.Until(d)
	}
	q.deleteCtx = append(q.deleteCtx, left)
	for _, e := range in.Entries {
		q.deleted = append(q.deleted, *e.ReceiptHandle)
	}
	return &sqs.DeleteMessageBatchOutput{}, nil
}

func (q *fakeQueue) state() (queued int, deleted []string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queued), append([]string(nil), q.deleted...)
}

func snsBody(t *testing.T, name string) string {
	return string(shapes(t, fixture(t, name))["SNS envelope (HTTPS or SQS)"])
}

func TestConsumeDeletesOnlyWhatWasHandled(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	q.add(snsBody(t, "event-bounce"), "not an event", string(fixture(t, "event-delivery")), snsBody(t, "event-complaint"),
		`{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"set up"}`)
	var mu sync.Mutex
	var seen []feedback.Type
	h := func(_ context.Context, e *feedback.Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Type)
		if e.Type == feedback.TypeComplaint {
			return errors.New("database down")
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- feedback.Consume(ctx, q, "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events", h, feedback.WithWorkers(2))
	}()
	require.Eventually(t, func() bool { n, d := q.state(); return n == 0 && len(d) == 3 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done, "a stop by ctx is no error")
	_, deleted := q.state()
	assert.ElementsMatch(t, []string{"rh-0", "rh-2", "rh-4"}, deleted, "the bounce, the raw delivery and SES's setup notice; not the junk nor the failed complaint")
	assert.ElementsMatch(t, []feedback.Type{feedback.TypeBounce, feedback.TypeDelivery, feedback.TypeComplaint}, seen)
	q.mu.Lock()
	in := q.inputs[0]
	q.mu.Unlock()
	assert.Equal(t, int32(10), in.MaxNumberOfMessages)
	assert.Equal(t, int32(20), in.WaitTimeSeconds, "long polling")
}

// A handler in flight when ctx ends finishes, and its message is deleted; nothing else is.
func TestConsumeStopsGracefully(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	q.add(snsBody(t, "event-bounce"))
	started, release := make(chan struct{}), make(chan struct{})
	h := func(hctx context.Context, _ *feedback.Event) error {
		close(started)
		<-release
		return hctx.Err() // the handler's context outlives Consume's
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- feedback.Consume(ctx, q, "q", h, feedback.WithWorkers(1)) }()
	<-started
	cancel()
	select {
	case <-done:
		t.Fatal("Consume returned before its handler finished")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)
	_, deleted := q.state()
	assert.Equal(t, []string{"rh-0"}, deleted)
}

func TestConsumeStopsOnReceiveError(t *testing.T) {
	t.Parallel()
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sqs:receivemessage"}
	q := &fakeQueue{receiveErr: &smithy.OperationError{ServiceID: "SQS", OperationName: "ReceiveMessage", Err: denied}}
	err := feedback.Consume(context.Background(), q, "q", func(context.Context, *feedback.Event) error { return nil })
	require.Error(t, err)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "AccessDenied", apiErr.ErrorCode())
	assert.Contains(t, err.Error(), "feedback: receiving from q")

	require.Error(t, feedback.Consume(context.Background(), nil, "q", func(context.Context, *feedback.Event) error { return nil }))
	require.Error(t, feedback.Consume(context.Background(), q, "", func(context.Context, *feedback.Event) error { return nil }))
	require.Error(t, feedback.Consume(context.Background(), q, "q", nil))
}

// A panicking Handler is recovered and logged; its message stays, and Consume goes on.
func TestConsumeRecoversPanics(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	q.add(snsBody(t, "event-bounce"), snsBody(t, "event-delivery"))
	var logs bytes.Buffer
	h := func(_ context.Context, e *feedback.Event) error {
		if e.Type == feedback.TypeBounce {
			var m map[string]int
			m["boom"]++ // a nil map: panics
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- feedback.Consume(ctx, q, "q", h, feedback.WithWorkers(1), feedback.WithConsumeLogger(newTextLogger(&logs)))
	}()
	require.Eventually(t, func() bool { _, d := q.state(); return len(d) == 1 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	_, deleted := q.state()
	assert.Equal(t, []string{"rh-1"}, deleted, "the delivery is deleted, the bounce whose handler panicked is not")
	assert.Contains(t, logs.String(), "the Handler panicked: assignment to entry in nil map")
}

// Transient receive failures are retried with backoff; Consume goes on and handles what comes.
func TestConsumeRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	status := func(code int) error {
		return &smithy.OperationError{ServiceID: "SQS", OperationName: "ReceiveMessage", Err: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("server error")}}
	}
	q := &fakeQueue{failFirst: []error{
		status(http.StatusServiceUnavailable),
		status(http.StatusInternalServerError),
		&smithy.GenericAPIError{Code: "RequestThrottled", Message: "slow down"},
		&smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"},
		&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED},
	}}
	q.add(snsBody(t, "event-bounce"))
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- feedback.Consume(ctx, q, "q", func(context.Context, *feedback.Event) error { return nil },
			feedback.WithWorkers(1), feedback.WithConsumeLogger(newTextLogger(&logs)))
	}()
	require.Eventually(t, func() bool { _, d := q.state(); return len(d) == 1 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, 5, strings.Count(logs.String(), "receiving failed; trying again in"))

	for _, code := range []string{"AccessDenied", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"} {
		q := &fakeQueue{failFirst: []error{&smithy.GenericAPIError{Code: code}}}
		err := feedback.Consume(context.Background(), q, "q", func(context.Context, *feedback.Event) error { return nil }, feedback.WithWorkers(1))
		require.Error(t, err, code)
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, code, apiErr.ErrorCode())
	}
}

// Once ctx ends no new handler starts: the rest of the batch stays for redelivery, and the
// delete of what was handled has a deadline of its own.
func TestConsumeStartsNothingAfterStop(t *testing.T) {
	t.Parallel()
	q := &fakeQueue{}
	for range 10 {
		q.add(snsBody(t, "event-bounce"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	h := func(context.Context, *feedback.Event) error {
		if calls.Add(1) == 1 {
			cancel() // Consume stops while the first of ten is being handled
		}
		return nil
	}
	require.NoError(t, feedback.Consume(ctx, q, "q", h, feedback.WithWorkers(1)))
	assert.Equal(t, int64(1), calls.Load(), "no handler started after the stop")
	_, deleted := q.state()
	assert.Equal(t, []string{"rh-0"}, deleted)
	q.mu.Lock()
	defer q.mu.Unlock()
	require.Len(t, q.deleteCtx, 1)
	assert.Greater(t, q.deleteCtx[0], time.Duration(0), "the delete has a deadline")
	assert.LessOrEqual(t, q.deleteCtx[0], 10*time.Second)
}
