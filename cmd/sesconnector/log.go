package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
)

var logCommand = &command{
	name:    "log",
	summary: "print what happened to the mail sent to an address, or to one message: every send and SES event on one timeline (deliverylog), or SES's own insights with -ses",
	usage:   "-db DSN -key-file FILE [-limit N] [-json] ADDRESS|MESSAGEID | -ses -config FILE [-endpoint URL] MESSAGEID",
	example: `sesconnector log -db sqlite:deliveries.db -key-file address.key jane@example.com`,
	run:     runLog,
}

func runLog(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	db := fs.String("db", "", "the delivery log's `DSN`: postgres://user@host/db or sqlite:path")
	keyFile := fs.String("key-file", "", "the `file` of the log's address key (deliverylog.WithAddressKey), as the service reads it")
	limit := fs.Int("limit", 20, "the most messages to print for an address, newest first")
	asJSON := fs.Bool("json", false, "print the messages as JSON")
	fromSES := fs.Bool("ses", false, "ask SES's message insights (GetMessageInsights; VDM must be on) for a MessageId instead")
	conn := addConnectionFlags(fs, "with -ses: ask")
	if code := c.parse(e, fs, args); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		return c.usageError(e, fs, "give one address or MessageId")
	}
	what := fs.Arg(0)
	if msg := conn.check(); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}
	ctx, cancel := context.WithTimeout(ctx, *conn.timeout)
	defer cancel()
	if *fromSES {
		switch {
		case *db != "" || *keyFile != "":
			return c.usageError(e, fs, "-ses asks SES, not the log: leave out -db and -key-file")
		case *conn.config == "":
			return c.usageError(e, fs, "-ses needs -config FILE, for the account's keys and region")
		case strings.Contains(what, "@"):
			return c.usageError(e, fs, "-ses looks up a MessageId, not an address")
		}
		if err := printInsights(ctx, e.stdout, conn, what, *asJSON); err != nil {
			return fail(e, c, err)
		}
		return exitOK
	}
	switch {
	case *db == "" || *keyFile == "":
		return c.usageError(e, fs, "give -db DSN and -key-file FILE (or -ses to ask SES)")
	case *conn.config != "" || *conn.endpoint != "":
		return c.usageError(e, fs, "-config and -endpoint go with -ses")
	case *limit < 1 || *limit > deliverylog.MaxLimit:
		return c.usageError(e, fs, "-limit %d: give 1 to %d", *limit, deliverylog.MaxLimit)
	}
	key, err := deliverylog.ReadKeyFile(*keyFile)
	if err != nil {
		return fail(e, c, err)
	}
	l, err := deliverylog.Open(ctx, *db, deliverylog.WithAddressKey(key))
	if err != nil {
		return fail(e, c, err)
	}
	defer l.Close(context.WithoutCancel(ctx)) //nolint:errcheck // it wrote nothing
	var messages []deliverylog.Message
	if strings.Contains(what, "@") {
		messages, err = l.ByAddress(ctx, what, *limit)
		if err == nil && len(messages) == 0 {
			err = fmt.Errorf("%w: nothing was sent to that address in the log's retention", deliverylog.ErrNotFound)
		}
	} else {
		var m *deliverylog.Message
		if m, err = l.ByMessageID(ctx, what); err == nil {
			messages = []deliverylog.Message{*m}
		}
	}
	if err != nil {
		return fail(e, c, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(messages)
		return exitOK
	}
	printTimeline(e.stdout, messages)
	return exitOK
}

const timeFormat = "2006-01-02 15:04:05.000 MST"

// printTimeline writes each message, newest first, with its events under it, oldest first.
func printTimeline(out io.Writer, messages []deliverylog.Message) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, m := range messages {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.At.UTC().Format(timeFormat), m.Masked, m.Usage, m.Outcome, orDash(m.Region), orDash(m.MessageID))
		if m.Error != "" {
			fmt.Fprintf(w, "  \t%s\n", m.Error)
		}
		for _, ev := range m.Events {
			kind := ev.Type
			if ev.BounceType != "" {
				kind += " " + ev.BounceType + "/" + ev.BounceSubType
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\n", ev.At.UTC().Format(timeFormat), kind, ev.Diagnostic)
		}
	}
	w.Flush()
}

// printInsights asks SES for a message's insights and prints its events, the recipients masked.
// The subject is left out: it may hold the code.
func printInsights(ctx context.Context, out io.Writer, conn connectionFlags, id string, asJSON bool) error {
	cfg, err := ses.LoadConfig(*conn.config)
	if err != nil {
		return err
	}
	load := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, string(cfg.AccessKeySecret), "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	client := sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) {
		if *conn.endpoint != "" {
			o.BaseEndpoint = aws.String(*conn.endpoint)
		}
	})
	got, err := client.GetMessageInsights(ctx, &sesv2.GetMessageInsightsInput{MessageId: aws.String(id)})
	if err != nil {
		return fmt.Errorf("GetMessageInsights (ses:GetMessageInsights; VDM must be on for the account): %s", ses.MaskAddresses(err.Error()))
	}
	type event struct {
		At                   time.Time
		Type, Kind, Detail   string
		Recipient, ISPDomain string
	}
	var events []event
	for _, in := range got.Insights {
		for _, ev := range in.Events {
			e := event{Type: string(ev.Type), Recipient: ses.MaskAddresses(aws.ToString(in.Destination)), ISPDomain: aws.ToString(in.Isp)}
			if ev.Timestamp != nil {
				e.At = ev.Timestamp.UTC()
			}
			e.Kind, e.Detail = details(ev.Details)
			events = append(events, e)
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(events)
	}
	fmt.Fprintf(out, "%s (from SES's message insights)\n", aws.ToString(got.MessageId))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, e := range events {
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", e.At.Format(timeFormat), e.Recipient, strings.TrimSpace(e.Type+" "+e.Kind), orDash(e.ISPDomain), e.Detail)
	}
	return w.Flush()
}

// details is a bounce's or complaint's type and what the receiving server said, masked.
func details(d *types.EventDetails) (kind, detail string) {
	switch {
	case d == nil:
	case d.Bounce != nil:
		return string(d.Bounce.BounceType) + "/" + aws.ToString(d.Bounce.BounceSubType), ses.MaskAddresses(aws.ToString(d.Bounce.DiagnosticCode))
	case d.Complaint != nil:
		return aws.ToString(d.Complaint.ComplaintSubType), aws.ToString(d.Complaint.ComplaintFeedbackType)
	}
	return "", ""
}
