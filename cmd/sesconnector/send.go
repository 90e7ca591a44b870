package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	ses "github.com/sesconnector/sesconnector"
)

var sendCommand = &command{
	name:    "send",
	summary: "render a template and send it through SES (or print the request with -dry-run)",
	usage:   "-config FILE -to ADDR [-usage SignIn] [-code C] [-locale L] [-payload JSON] [-dry-run] [-endpoint URL]",
	example: `sesconnector send -config ses.json -to you@example.com -usage SignIn -code 123456 -locale pt-BR`,
	run:     runSend,
}

var testCommand = &command{
	name:    "test",
	summary: `send the Generic template with code 000000, as Logto's "Test" button does`,
	usage:   "-config FILE -to ADDR [-dry-run] [-endpoint URL]",
	example: `sesconnector test -config ses.json -to you@example.com -dry-run`,
	run:     runSend,
}

// connectionFlags are the flags of every command that builds a Connector.
type connectionFlags struct {
	config, endpoint *string
	timeout          *time.Duration
}

// addConnectionFlags adds them; what says what the command does at -endpoint ("send to", "check").
func addConnectionFlags(fs *flag.FlagSet, what string) connectionFlags {
	return connectionFlags{
		config:   fs.String("config", "", "the connector's JSON config `file` (required)"),
		endpoint: fs.String("endpoint", "", what+" this SES endpoint `URL` instead of AWS's, e.g. the local emulator `go run ./internal/cmd/demo -keep` prints"),
		timeout:  timeoutFlag(fs),
	}
}

// check says what is wrong with the flags' values, or "".
func (f connectionFlags) check() string {
	if *f.timeout <= 0 {
		return fmt.Sprintf("-timeout %v: give a positive duration, such as 30s", *f.timeout)
	}
	return checkEndpoint(*f.endpoint)
}

// parseUsage reads -usage, suggesting the usage type meant when only the letter case is off.
func parseUsage(s string) (ses.UsageType, error) {
	for _, u := range usageTypes {
		if string(u) == s {
			return u, nil
		}
	}
	for _, u := range usageTypes {
		if strings.EqualFold(string(u), s) {
			return "", fmt.Errorf("-usage %q: did you mean %s? (usage types are spelled as Logto spells them)", s, u)
		}
	}
	names := make([]string, len(usageTypes))
	for i, u := range usageTypes {
		names[i] = string(u)
	}
	return "", fmt.Errorf("-usage %q: not a usage type; use one of %s", s, strings.Join(names, ", "))
}

// connect loads the config and builds a Connector.
func (f connectionFlags) connect(ctx context.Context) (*ses.Connector, error) {
	cfg, err := ses.LoadConfig(*f.config)
	if err != nil {
		return nil, err
	}
	var opts []ses.Option
	if *f.endpoint != "" {
		opts = append(opts, ses.WithEndpoint(*f.endpoint))
	}
	return ses.New(ctx, cfg, opts...)
}

func runSend(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	conn := addConnectionFlags(fs, "send to")
	to := fs.String("to", "", "the recipient `address` (required)")
	dryRun := fs.Bool("dry-run", false, "print the SES request as JSON and send nothing")
	var usage, code, locale, payloadJSON *string
	if c.name == "send" {
		usage = fs.String("usage", string(ses.UsageSignIn), "the usage `type`: SignIn, Register, ForgotPassword, Generic, ...")
		code = fs.String("code", "123456", "the verification `code` ({{code}})")
		locale = fs.String("locale", "", "the recipient's `locale`, such as pt-BR, to choose the template")
		payloadJSON = fs.String("payload", "", "more payload values as a JSON `object`, e.g. '{\"link\":\"https://...\"}'")
	}
	if code := c.parseFlags(e, fs, args, "config", "to"); code >= 0 {
		return code
	}
	if msg := conn.check(); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}

	usageType, payload := ses.UsageGeneric, ses.Payload{"code": "000000"}
	if c.name == "send" {
		var err error
		if payload, err = sendPayload(fs, *payloadJSON, *code, *locale); err != nil {
			return c.usageError(e, fs, "%v", err)
		}
		if usageType, err = parseUsage(*usage); err != nil {
			return c.usageError(e, fs, "%v", err)
		}
	}

	ctx, cancel := context.WithTimeout(ctx, *conn.timeout)
	defer cancel()
	connector, err := conn.connect(ctx)
	if err != nil {
		return fail(e, c, err)
	}
	if *dryRun {
		in, err := connector.Compose(ctx, *to, usageType, payload)
		if err != nil {
			return fail(e, c, err)
		}
		if err := printRequest(e.stdout, in); err != nil {
			return fail(e, c, err)
		}
		return exitOK
	}
	id, err := connector.SendMessage(ctx, *to, usageType, payload)
	if err != nil {
		if errors.Is(err, ses.ErrThrottled) {
			err = fmt.Errorf("%w\nSES is throttling this account: wait and retry, or raise its sending quota", err)
		}
		return fail(e, c, err)
	}
	fmt.Fprintln(e.stdout, id)
	return exitOK
}

// sendPayload builds the payload from -payload, then -code and -locale: a flag given on the
// command line wins over the same key in -payload, and -code's default fills in a payload
// without a code.
func sendPayload(fs *flag.FlagSet, payloadJSON, code, locale string) (ses.Payload, error) {
	payload := ses.Payload{}
	if payloadJSON != "" {
		if err := json.Unmarshal([]byte(payloadJSON), &payload); err != nil || payload == nil {
			return nil, fmt.Errorf(`-payload must be a JSON object such as '{"code":"123456","link":"https://example.com"}': %v`, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if _, ok := payload["code"]; set["code"] || !ok {
		payload["code"] = code
	}
	if locale != "" {
		payload["locale"] = locale
	}
	return payload, nil
}

// printRequest prints the fields of the request that are set, as SES would receive them.
func printRequest(w io.Writer, v any) error {
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
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(e)
			}
		}
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}
