package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sesconnector/sesconnector/feedback"
)

var eventsCommand = &command{
	name:    "events",
	summary: "print SES delivery feedback (bounces, complaints, deliveries, ...) as it comes, from an SQS queue or as an SNS HTTPS endpoint",
	usage:   "-queue URL [-endpoint URL] [-region R] [-json] | -listen ADDR -topic ARN [-json]",
	example: `sesconnector events -queue https://sqs.us-east-1.amazonaws.com/123456789012/ses-events`,
	run:     runEvents,
}

func runEvents(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	queue := fs.String("queue", "", "read the SQS queue at this `URL` (subscribed to the SES topic, or an event destination's queue)")
	listen := fs.String("listen", "", "serve an SNS HTTP subscription at this `address`, e.g. 127.0.0.1:8080, verifying every message")
	endpoint := fs.String("endpoint", "", "with -queue: the SQS endpoint `URL`, e.g. a local emulator")
	region := fs.String("region", "", "with -queue: the AWS `region` (default: the queue URL's, or the AWS configuration's)")
	topic := fs.String("topic", "", "with -listen (required): the `ARN` of the SNS topic SES publishes to; messages of other topics are refused")
	asJSON := fs.Bool("json", false, "print each event as one line of JSON")
	if code := c.parseFlags(e, fs, args); code >= 0 {
		return code
	}
	switch {
	case (*queue == "") == (*listen == ""):
		return c.usageError(e, fs, "give one of -queue and -listen")
	case *topic != "" && *listen == "":
		return c.usageError(e, fs, "-topic goes with -listen")
	case *listen != "" && *topic == "":
		return c.usageError(e, fs, "-listen needs -topic ARN, the SNS topic SES publishes to: without it anyone could subscribe this endpoint to a topic of their own")
	case (*endpoint != "" || *region != "") && *queue == "":
		return c.usageError(e, fs, "-endpoint and -region go with -queue")
	case checkEndpoint(*endpoint) != "":
		return c.usageError(e, fs, "%s", checkEndpoint(*endpoint))
	}
	p := &printer{w: e.stdout, json: *asJSON}
	var err error
	if *queue != "" {
		err = consumeQueue(ctx, *queue, *endpoint, *region, p.print)
	} else {
		err = serveSNS(ctx, e, *listen, *topic, p.print)
	}
	if err != nil {
		return fail(e, c, err)
	}
	return exitOK
}

func consumeQueue(ctx context.Context, queueURL, endpoint, region string, h feedback.Handler) error {
	if region == "" {
		region = regionOf(queueURL)
	}
	var load []func(*config.LoadOptions) error
	if region != "" {
		load = append(load, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return feedback.Consume(ctx, client, queueURL, h)
}

// regionOf reads the region of https://sqs.REGION.amazonaws.com/ACCOUNT/NAME.
func regionOf(queueURL string) string {
	host, _, _ := strings.Cut(strings.TrimPrefix(queueURL, "https://"), "/")
	if parts := strings.Split(host, "."); len(parts) >= 4 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
}

func serveSNS(ctx context.Context, e *env, addr, topic string, h feedback.Handler) error {
	handler, err := feedback.NewSNSHandler(h, feedback.WithTopicARNs(topic))
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "sesconnector events: SNS endpoint at http://%s/ (subscribe it to the topic; put HTTPS in front of it for SNS)\n", l.Addr())
	return serve(ctx, l, handler)
}

// printer writes one line per event.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

func (p *printer) print(_ context.Context, ev *feedback.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		line, err := json.Marshal(struct {
			*feedback.Event
			Undeliverable bool
		}{ev, ev.Undeliverable()})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", line)
		return err
	}
	detail := ""
	switch {
	case ev.Bounce != nil:
		detail = ev.Bounce.Type + "/" + ev.Bounce.SubType
	case ev.Complaint != nil:
		detail = ev.Complaint.FeedbackType
	case ev.Delay != nil:
		detail = ev.Delay.Type
	case ev.Reject != nil:
		detail = ev.Reject.Reason
	}
	addrs := make([]string, len(ev.Recipients))
	for i, r := range ev.Recipients {
		addrs[i] = r.Address
	}
	usage := string(ev.UsageType)
	if usage == "" {
		usage = "-"
	}
	_, err := fmt.Fprintf(p.w, "%s %-16s %-20s %-14s %s %s\n", ev.Timestamp.UTC().Format(time.RFC3339), ev.Type, orDash(detail), usage, ev.MessageID, strings.Join(addrs, ","))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
