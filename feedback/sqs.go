package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is what Consume asks of an SQS client; *sqs.Client has it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, params *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// ConsumeOption changes how Consume works.
type ConsumeOption func(*consumer)

// WithWorkers sets how many receive loops run at once, each with a batch of up to 10 messages
// in hand (default 4). Values below 1 mean 1.
func WithWorkers(n int) ConsumeOption { return func(c *consumer) { c.workers = max(n, 1) } }

// WithConsumeLogger logs messages left for redelivery and batches not deleted (default:
// nothing).
func WithConsumeLogger(l *slog.Logger) ConsumeOption { return func(c *consumer) { c.log = l } }

// Long polling, SQS's largest batch, the backoff of failed receives, and the time the deletes
// of a stopping Consume get.
const (
	waitSeconds   = 20
	batchSize     = 10
	minBackoff    = 100 * time.Millisecond
	maxBackoff    = 20 * time.Second
	deleteTimeout = 10 * time.Second
)

type consumer struct {
	api      SQSAPI
	queueURL string
	h        Handler
	workers  int
	log      *slog.Logger
}

// Consume long-polls queueURL (20 s, batches of 10) until ctx is done and calls h for each
// event, with a few workers. A message is deleted only after h returns nil; one whose h fails
// or panics (the panic is recovered and logged) stays for SQS to redeliver once its visibility
// timeout ends (and, with a redrive policy, to move to a dead-letter queue); a message that is
// not an SES event is logged and left likewise, never deleted unread. SES's setup notice
// (ErrSetupNotice) is deleted.
//
// A receive that fails for a passing reason (a network error, HTTP 5xx, throttling: what the
// SDK's retryer retries) is logged and tried again after an exponential backoff with jitter,
// capped at 20 s, until ctx ends. Only an error that retrying cannot fix (AccessDenied, a queue
// that does not exist, any other refusal) stops Consume, which returns an error wrapping it
// (errors.As reaches the smithy API error).
//
// When ctx ends, no new handler starts (the messages in hand that did not start stay for
// redelivery), the handlers in flight finish (their context is not cancelled), and what they
// handled is deleted within 10 s; Consume then returns nil.
func Consume(ctx context.Context, api SQSAPI, queueURL string, h Handler, opts ...ConsumeOption) error {
	if api == nil || h == nil || queueURL == "" {
		return errors.New("feedback: Consume needs an SQS client, a queue URL and a Handler")
	}
	c := &consumer{api: api, queueURL: queueURL, h: h, workers: 4}
	for _, opt := range opts {
		if opt != nil {
			opt(c)
		}
	}
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	for range c.workers {
		wg.Go(func() {
			if err := c.loop(ctx); err != nil {
				stop(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// loop receives and handles batches until ctx ends, or a receive fails for good.
func (c *consumer) loop(ctx context.Context) error {
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		out, err := c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &c.queueURL,
			MaxNumberOfMessages:         batchSize,
			WaitTimeSeconds:             waitSeconds,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !transient(err):
			return fmt.Errorf("feedback: receiving from %s: %w", c.queueURL, err)
		case err != nil:
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			wait := backoff/2 + rand.N(backoff/2+1) // jitter: workers that failed together do not retry together
			c.warn(ctx, fmt.Sprintf("feedback: receiving failed; trying again in %v", wait.Round(time.Millisecond)), types.Message{}, err)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		backoff = 0
		if out != nil && len(out.Messages) > 0 {
			c.handle(ctx, out.Messages)
		}
	}
	return nil
}

// retryable is the SDK retryer's own judgement: connection errors, timeouts, HTTP 5xx and
// throttling pass; the rest (AccessDenied, QueueDoesNotExist, ...) would fail again.
func transient(err error) bool {
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary ||
		retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
}

// sleep waits d, or until ctx ends; it reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// handle runs h on each message of a batch, in turn, and deletes those it handled. Once ctx
// ends no further handler starts; the one running finishes, with a context that is not
// cancelled, and the deletes get their own timeout.
func (c *consumer) handle(ctx context.Context, msgs []types.Message) {
	hctx := context.WithoutCancel(ctx)
	done := make([]types.DeleteMessageBatchRequestEntry, 0, len(msgs))
	for i, m := range msgs {
		if ctx.Err() != nil {
			break // the rest stays for redelivery
		}
		e, err := Parse([]byte(aws.ToString(m.Body)))
		switch {
		case errors.Is(err, ErrSetupNotice):
		case err != nil:
			c.warn(hctx, "feedback: SQS message is not an SES event; left for redelivery and the dead-letter queue", m, err)
			continue
		default:
			if err := c.call(hctx, e); err != nil {
				c.warn(hctx, "feedback: Handler failed; the message is left for redelivery", m, err)
				continue
			}
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(hctx, deleteTimeout)
	defer cancel()
	out, err := c.api.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: &c.queueURL, Entries: done})
	if err != nil {
		c.warn(hctx, "feedback: deleting handled messages failed; SQS will deliver them again", types.Message{}, err)
		return
	}
	if out == nil {
		return
	}
	for _, f := range out.Failed {
		c.warn(hctx, "feedback: deleting a handled message failed; SQS will deliver it again", types.Message{},
			fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
	}
}

// call runs h, turning a panic into an error: one bad event must not stop Consume, and its
// message stays for redelivery.
func (c *consumer) call(ctx context.Context, e *Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the Handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return c.h(ctx, e)
}

func (c *consumer) warn(ctx context.Context, msg string, m types.Message, err error) {
	if c.log == nil {
		return
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("queue", c.queueURL),
		slog.String("sqsMessageId", aws.ToString(m.MessageId)),
		slog.String("receiveCount", m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]),
		slog.String("error", err.Error()))
}
