package feedback_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesconnector/sesconnector/feedback"
)

// Parse reads an SES record in any of its shapes; here AWS's documented sample of a bounce.
func ExampleParse() {
	data, err := os.ReadFile("testdata/event-bounce.json")
	if err != nil {
		log.Fatal(err)
	}
	e, err := feedback.Parse(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Type, e.Bounce.Type, e.Bounce.SubType, e.Undeliverable())
	fmt.Println(e.MessageID)
	fmt.Println(e.Recipients[0].Address, e.Recipients[0].DiagnosticCode)
	// Output:
	// Bounce Permanent General true
	// EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000
	// recipient@example.com smtp; 550 5.1.1 user unknown
}

// Consume reads the SQS queue subscribed to the SES feedback topic and stops mail to
// addresses that bounced for good or complained. The handler is idempotent: SQS delivers at
// least once.
func ExampleConsume() {
	markUndeliverable := func(ctx context.Context, address string) error { return nil } // an UPSERT in your database
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	err = feedback.Consume(ctx, sqs.NewFromConfig(cfg), "https://sqs.us-east-1.amazonaws.com/123456789012/ses-events",
		func(ctx context.Context, e *feedback.Event) error {
			if !e.Undeliverable() {
				return nil
			}
			for _, r := range e.Recipients {
				if err := markUndeliverable(ctx, r.Address); err != nil {
					return err // the message stays in the queue and comes back
				}
			}
			return nil
		})
	if err != nil {
		log.Fatal(err)
	}
}

// NewSNSHandler serves the HTTPS endpoint subscribed to the SES feedback topic: it verifies,
// confirms the subscription, and hands the handler verified events only.
func ExampleNewSNSHandler() {
	h, err := feedback.NewSNSHandler(func(ctx context.Context, e *feedback.Event) error {
		log.Printf("%s for %s (%s)", e.Type, e.MessageID, e.UsageType)
		return nil
	}, feedback.WithTopicARNs("arn:aws:sns:us-east-1:123456789012:ses-events"))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/ses-events", h)
}
