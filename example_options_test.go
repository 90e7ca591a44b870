package sesconnector_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	ses "github.com/sesconnector/sesconnector"
)

// WithEndpoint sends through New's own SES client to another endpoint: a VPC or FIPS endpoint,
// or a local emulator. Here a stand-in server answers as SES does. An emulator needs static
// keys in the config (any will do): without them the SDK looks for credentials elsewhere.
func ExampleWithEndpoint() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path)
		io.WriteString(w, `{"MessageId":"0100018c-local"}`)
	}))
	defer srv.Close()

	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)
	// Output:
	// POST /v2/email/outbound-emails
	// 0100018c-local <nil>
}

// WithLogger writes one record per send, with the recipient masked; the time and duration
// are left out here so that the output stays the same.
func ExampleWithLogger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{}
			}
			return a
		},
	}))
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}), ses.WithLogger(logger))
	if err != nil {
		panic(err)
	}
	_, _ = c.SendMessage(ctx, "bob.smith@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	_, _ = c.SendMessage(ctx, "bob.smith@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	// Output:
	// level=INFO msg="sesconnector: email sent" usageType=SignIn to=b***@example.com messageId=0100018c-example
	// level=WARN msg="sesconnector: email not sent" usageType=SignIn to=b***@example.com error="sesconnector: invalid parameters: placeholder {{name}} in content: the payload has no \"name\""
}

// WithTemplateLookup takes templates from a database first, as Logto's custom templates; the
// config's templates are the fallback. The lookup sees the locale lower-cased.
func ExampleWithTemplateLookup() {
	fromDB := func(_ context.Context, usage ses.UsageType, locale string) (*ses.Template, error) {
		if usage == ses.UsageSignIn && locale == "de" {
			return &ses.Template{Subject: "Ihr Code: {{code}}", Content: "<p>{{code}}</p>"}, nil
		}
		return nil, nil // none: the config's templates
	}
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}), ses.WithTemplateLookup(fromDB))
	if err != nil {
		panic(err)
	}
	for _, locale := range []string{"DE", "pt-BR"} {
		in, err := c.Compose(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob", "locale": locale})
		if err != nil {
			panic(err)
		}
		fmt.Println(*in.Content.Simple.Subject.Data)
	}
	// Output:
	// Ihr Code: 123456
	// Seu código: 123456
}

// WithMaxSendRate keeps sends within the account's SES MaxSendRate: here 2 per second, so a
// burst of 3 sends two at once and the third a second later.
func ExampleWithMaxSendRate() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}), ses.WithMaxSendRate(2))
	if err != nil {
		panic(err)
	}
	start := time.Now()
	for i := range 3 {
		_, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
		fmt.Printf("send %d after %.0f s, %v\n", i+1, time.Since(start).Seconds(), err)
	}
	// Output:
	// send 1 after 0 s, <nil>
	// send 2 after 0 s, <nil>
	// send 3 after 1 s, <nil>
}

// quietSES stands in for *sesv2.Client without printing.
type quietSES struct{}

func (quietSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-example")}, nil
}

// slowLimiterExample is a shared limiter whose store has stopped answering.
type slowLimiterExample struct{}

func (slowLimiterExample) Allow(ctx context.Context, _ string) (bool, time.Duration, error) {
	<-ctx.Done()
	return false, 0, ctx.Err()
}

// WithLimiterTimeout bounds each call to the recipient limiter: a store that does not answer
// within the budget is skipped, and the code goes out.
func ExampleWithLimiterTimeout() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}),
		ses.WithRecipientLimit(slowLimiterExample{}), ses.WithLimiterTimeout(100*time.Millisecond))
	if err != nil {
		panic(err)
	}
	start := time.Now()
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err, time.Since(start) < time.Second)
	// Output: 0100018c-example <nil> true
}

// slowSuppressionSES is an SES client whose suppression look-up hangs.
type slowSuppressionSES struct{ quietSES }

func (slowSuppressionSES) GetSuppressedDestination(ctx context.Context, _ *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// WithSuppressionTimeout bounds the suppression list look-up: past it the send goes ahead
// without the answer (and the failure is logged, once per run of failures).
func ExampleWithSuppressionTimeout() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(slowSuppressionSES{}),
		ses.WithSuppressionCheck(10*time.Minute), ses.WithSuppressionTimeout(100*time.Millisecond))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)
	// Output: 0100018c-example <nil>
}

// WithAWSConfig builds the SES clients from the aws.Config a service already has: its
// credential chain (here static fake keys; config.LoadDefaultConfig in production), HTTP client
// and middleware. The config needs no keys of its own then.
func ExampleWithAWSConfig() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.Path, r.Header.Get("User-Agent") != "")
		io.WriteString(w, `{"MessageId":"0100018c-own-config"}`)
	}))
	defer srv.Close()

	awsCfg := aws.Config{
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLEOWNCHAIN0", "fake-secret", ""),
		HTTPClient:  srv.Client(),
	}
	cfg := exampleConfig()
	cfg.AccessKeyID, cfg.AccessKeySecret = "", ""

	ctx := context.Background()
	c, err := ses.New(ctx, cfg, ses.WithAWSConfig(awsCfg), ses.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)
	// Output:
	// POST /v2/email/outbound-emails true
	// 0100018c-own-config <nil>
}
