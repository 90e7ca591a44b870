// Command send sends one verification email through sesconnector: the way to try a config
// before wiring it into a service.
//
//	go run ./examples/send -config FILE -to ADDR [-usage SignIn] [-code 123456] [-locale pt-BR]
//	    [-endpoint URL] [-dry-run] [-test] [-check]
//
// -dry-run prints the SES request as JSON and sends nothing; -test sends the Generic template
// with the code 000000, as Logto's "Test" button does; -endpoint sends to another SES endpoint,
// such as the local emulator of `make demo`; -check asks SES whether the config can send
// (sandbox, identity, configuration set) and sends nothing. It prints the MessageId, or the
// report. Exit status: 1 for a bad config, recipient or payload, an SES failure, or a report
// with problems; 2 for bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	ses "github.com/sesconnector/sesconnector"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the connector's JSON config `file` (required)")
	to := fs.String("to", "", "the recipient `address` (required)")
	usage := fs.String("usage", string(ses.UsageSignIn), "the usage `type`: SignIn, Register, ForgotPassword, Generic, ...")
	code := fs.String("code", "123456", "the verification `code` to send")
	locale := fs.String("locale", "", "the recipient's `locale`, such as pt-BR, to choose the template")
	endpoint := fs.String("endpoint", "", "send to this SES endpoint `URL` instead of AWS's, e.g. http://127.0.0.1:8005")
	dryRun := fs.Bool("dry-run", false, "print the SES request as JSON and send nothing")
	test := fs.Bool("test", false, "send the Generic template with code 000000, as Logto's Test button does")
	check := fs.Bool("check", false, "ask SES whether this config can send, and print what is wrong; sends nothing (-to not needed)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this `duration`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *configPath == "" || (*to == "" && !*check) || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "send: -config and -to are required, and no arguments besides flags")
		fs.Usage()
		return 2
	}

	cfg, err := ses.LoadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var opts []ses.Option
	if *endpoint != "" {
		opts = append(opts, ses.WithEndpoint(*endpoint))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c, err := ses.New(ctx, cfg, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	if *check {
		return runCheck(ctx, c, stdout, stderr)
	}
	payload := ses.Payload{"code": *code}
	if *locale != "" {
		payload["locale"] = *locale
	}
	var id string
	switch {
	case *dryRun:
		in, err := c.Compose(ctx, *to, ses.UsageType(*usage), payload)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := printJSON(stdout, in); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	case *test:
		id, err = c.SendTest(ctx, *to)
	default:
		id, err = c.SendMessage(ctx, *to, ses.UsageType(*usage), payload)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, ses.ErrThrottled) {
			fmt.Fprintln(stderr, "SES is throttling this account: wait and retry, or raise its sending quota")
		}
		return 1
	}
	fmt.Fprintln(stdout, id)
	return 0
}

func runCheck(ctx context.Context, c *ses.Connector, stdout, stderr io.Writer) int {
	r, err := c.Check(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(stdout, "Region:            %s\n", r.Region)
	fmt.Fprintf(stdout, "Production access: %s\n", yes[r.ProductionAccess])
	fmt.Fprintf(stdout, "Sending enabled:   %s\n", yes[r.SendingEnabled])
	fmt.Fprintf(stdout, "Send quota:        %g/s; %g of %g sent in the last 24 hours\n", r.MaxSendRate, r.SentLast24Hours, r.Max24HourSend)
	fmt.Fprintf(stdout, "Identity:          %s (verified: %s)\n", r.Identity, yes[r.IdentityVerified])
	fmt.Fprintf(stdout, "Configuration set: found: %s\n", yes[r.ConfigurationSetFound])
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "Note: %s\n", n)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(stdout, "Ready to send.")
		return 0
	}
	for _, p := range r.Problems {
		fmt.Fprintf(stdout, "Problem: %s\n", p)
	}
	return 1
}

// printJSON prints the request with the fields that are set, as SES would receive them.
func printJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(dropNulls(tree))
}

func dropNulls(v any) any {
	if m, ok := v.(map[string]any); ok {
		for k, e := range m {
			if e == nil {
				delete(m, k)
			} else {
				m[k] = dropNulls(e)
			}
		}
	}
	if list, ok := v.([]any); ok {
		for i := range list {
			list[i] = dropNulls(list[i])
		}
	}
	return v
}
