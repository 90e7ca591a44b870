// Command sesconnector sends, checks and previews the verification emails of a sesconnector
// (Logto "AWS Direct Mail") config.
//
//	sesconnector send     -config F -to ADDR [-usage SignIn] [-code C] [-locale L] [-payload JSON] [-dry-run] [-endpoint URL]
//	sesconnector test     -config F -to ADDR [-dry-run] [-endpoint URL]
//	sesconnector check    -config F [-endpoint URL] [-json]
//	sesconnector validate F...
//	sesconnector preview  -config F [-addr 127.0.0.1:8088] [-payload JSON] [-allow-send [-endpoint URL]]  (-allow-send: loopback -addr only)
//	sesconnector events   -queue URL | -listen ADDR -topic ARN
//	sesconnector insights -config F ADDR...
//	sesconnector log      -db DSN -key-file F [-limit N] [-json] ADDR|MESSAGEID | -ses -config F MESSAGEID
//	sesconnector version
//
// Exit status: 0 done; 1 the config, the input or SES said no; 2 bad flags or arguments.
// Install it with
//
//	go install github.com/sesconnector/sesconnector/cmd/sesconnector@latest
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK    = 0
	exitNo    = 1 // the config, the input or SES said no
	exitUsage = 2 // bad flags or arguments
)

// command is one subcommand: its flags are defined and parsed by run.
type command struct {
	name    string
	summary string
	usage   string // the line after the name
	example string
	run     func(ctx context.Context, e *env, c *command, args []string) int
}

// env is what a subcommand reads and writes, so that tests can run it in-process.
type env struct {
	stdout, stderr io.Writer
}

var commands = []*command{sendCommand, testCommand, checkCommand, validateCommand, previewCommand, eventsCommand, insightsCommand, logCommand, versionCommand}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr})
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout) // asked for: to standard output, so that `sesconnector -h | less` shows it
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, e, c, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "sesconnector: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "sesconnector sends, checks and previews the verification emails of a sesconnector config (Logto's AWS SES connector JSON).")
	fmt.Fprintln(w, "\nUsage:")
	for _, c := range commands {
		fmt.Fprintf(w, "  sesconnector %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'sesconnector COMMAND -h' for a command's flags and an example.")
	fmt.Fprintln(w, "Exit status: 0 done; 1 the config, the input or SES said no; 2 bad flags or arguments.")
}

// flags returns a flag set for c; -h prints what c does, its flags and an example to standard
// output (asked for), a bad flag prints them to standard error.
func (c *command) flags(e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr) // the flag package's own messages: a bad flag
	fs.Usage = func() {}   // printed by parse and usageError, to the stream that fits
	return fs
}

// printUsage writes what c does, its flags and an example to w.
func (c *command) printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "sesconnector %s: %s\n\nUsage:\n  sesconnector %s %s\n", c.name, c.summary, c.name, strings.TrimSpace(c.usage))
	hasFlags := false
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintf(w, "\nFlags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	fmt.Fprintf(w, "\nExample:\n  %s\n", c.example)
}

// parse parses args, and returns the exit status to stop with, or -1 to go on.
func (c *command) parse(e *env, fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.printUsage(e.stdout, fs)
			return exitOK
		}
		fmt.Fprintln(e.stderr)
		c.printUsage(e.stderr, fs)
		return exitUsage
	}
	return -1
}

// parseFlags parses args, refuses arguments besides flags, and checks that the required flags
// are set; it returns the exit status to stop with, or -1 to go on.
func (c *command) parseFlags(e *env, fs *flag.FlagSet, args []string, requiredFlags ...string) int {
	if code := c.parse(e, fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(e, fs, "unexpected argument %q: every value is given with a flag", fs.Arg(0))
	}
	if msg := required(fs, requiredFlags...); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}
	return -1
}

// usageError prints what is wrong with the arguments and the subcommand's usage.
func (c *command) usageError(e *env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "sesconnector %s: %s\n\n", c.name, fmt.Sprintf(format, args...))
	c.printUsage(e.stderr, fs)
	return exitUsage
}

// required names the flags among names that were left empty, or "".
func required(fs *flag.FlagSet, names ...string) string {
	var missing []string
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			missing = append(missing, "-"+n)
		}
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return missing[0] + " is required"
	}
	return strings.Join(missing, " and ") + " are required"
}

// newHTTPServer bounds every phase of a connection: a client that trickles its headers or
// body, or keeps an idle connection open, is cut off instead of holding a goroutine forever.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
}

// timeoutFlag is the -timeout every command that calls SES has.
func timeoutFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("timeout", 30*time.Second, "give up on SES after this `duration`")
}

// checkEndpoint says what is wrong with an -endpoint value, or "".
func checkEndpoint(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("-endpoint %q: give an http or https URL, such as http://127.0.0.1:8005", endpoint)
	}
	return ""
}

// fail prints err, once prefixed with the command's name, and returns exitNo.
func fail(e *env, c *command, err error) int {
	fmt.Fprintf(e.stderr, "sesconnector %s: %s\n", c.name, trimPrefix(err))
	return exitNo
}

// trimPrefix is err's text without the library's own "sesconnector: ".
func trimPrefix(err error) string { return strings.TrimPrefix(err.Error(), "sesconnector: ") }

// serve serves h on l until ctx ends, then shuts down, giving requests in flight 5 s.
func serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := newHTTPServer(h)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
