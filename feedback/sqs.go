package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// Long polling, and SQS's largest batch.
const (
	waitSeconds = 20
	batchSize   = 10
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
// stays for SQS to redeliver once its visibility timeout ends (and, with a redrive policy, to
// move to a dead-letter queue); a message that is not an SES event is logged and left likewise,
// never deleted unread. SES's setup notice (ErrSetupNotice) is deleted. When ctx ends, the
// handlers in flight finish (their context is not cancelled) and their messages are deleted;
// Consume then returns nil. It returns an error wrapping the one that made it stop otherwise
// (errors.As reaches the smithy API error, e.g. AccessDenied).
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

// loop receives and handles batches until ctx ends, or a receive fails.
func (c *consumer) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		out, err := c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    &c.queueURL,
			MaxNumberOfMessages:         batchSize,
			WaitTimeSeconds:             waitSeconds,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("feedback: receiving from %s: %w", c.queueURL, err)
		}
		if out != nil && len(out.Messages) > 0 {
			c.handle(context.WithoutCancel(ctx), out.Messages)
		}
	}
	return nil
}

// handle runs h on each message of a batch and deletes those it handled. It runs to the end
// even when Consume is stopping: the batch is in hand.
func (c *consumer) handle(ctx context.Context, msgs []types.Message) {
	done := make([]types.DeleteMessageBatchRequestEntry, 0, len(msgs))
	for i, m := range msgs {
		e, err := Parse([]byte(aws.ToString(m.Body)))
		switch {
		case errors.Is(err, ErrSetupNotice):
		case err != nil:
			c.warn(ctx, "feedback: SQS message is not an SES event; left for redelivery and the dead-letter queue", m, err)
			continue
		default:
			if err := c.h(ctx, e); err != nil {
				c.warn(ctx, "feedback: Handler failed; the message is left for redelivery", m, err)
				continue
			}
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) == 0 {
		return
	}
	out, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &c.queueURL, Entries: done})
	if err != nil {
		c.warn(ctx, "feedback: deleting handled messages failed; SQS will deliver them again", types.Message{}, err)
		return
	}
	if out == nil {
		return
	}
	for _, f := range out.Failed {
		c.warn(ctx, "feedback: deleting a handled message failed; SQS will deliver it again", types.Message{},
			fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message)))
	}
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
