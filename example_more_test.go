package sesconnector_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	ses "github.com/sesconnector/sesconnector"
)

// printingSES stands in for *sesv2.Client and prints what it is asked to send.
type printingSES struct{}

func (printingSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	fmt.Printf("to %s: %s\n", in.Destination.ToAddresses[0], *in.Content.Simple.Subject.Data)
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-example")}, nil
}

// WithClient sends through any SESAPI: a client you built yourself, or a mock in tests. No AWS
// configuration is loaded.
func ExampleWithClient() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(printingSES{}))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)
	// Output:
	// to bob@example.com: Your sign-in code: 123456
	// 0100018c-example <nil>
}

// WithRetryMaxAttempts sets the SDK's attempts per send, the first included: with 1, a
// server error is the answer at once.
func ExampleWithRetryMaxAttempts() {
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests++
		w.Header().Set("X-Amzn-ErrorType", "InternalFailure")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"message":"try again"}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithEndpoint(srv.URL), ses.WithRetryMaxAttempts(1))
	if err != nil {
		panic(err)
	}
	_, err = c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(errors.Is(err, ses.ErrSendFailed), requests)
	// Output: true 1
}

// WithSESOptions reaches any setting of the SDK's client: here the application ID that SES
// sees in the User-Agent of every request.
func ExampleWithSESOptions() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(strings.Contains(r.UserAgent(), "app/acme-auth"))
		io.WriteString(w, `{"MessageId":"0100018c-local"}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithEndpoint(srv.URL),
		ses.WithSESOptions(func(o *sesv2.Options) { o.AppID = "acme-auth" }))
	if err != nil {
		panic(err)
	}
	_, err = c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// WithTags adds EmailTags to every send; with a configuration set, every send also carries its
// usage type, for SES event publishing and CloudWatch.
func ExampleWithTags() {
	cfg := exampleConfig()
	cfg.ConfigurationSetName = "auth-mail"
	ctx := context.Background()
	c, err := ses.New(ctx, cfg, ses.WithClient(quietSES{}), ses.WithTags(map[string]string{"service": "auth", "env": "prod"}))
	if err != nil {
		panic(err)
	}
	in, err := c.Compose(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	if err != nil {
		panic(err)
	}
	for _, t := range in.EmailTags {
		fmt.Printf("%s=%s\n", *t.Name, *t.Value)
	}
	// Output:
	// usageType=SignIn
	// env=prod
	// service=auth
}

// WithRecipientLimit caps the messages to one address, whatever the usage type: here 2 per 10
// minutes, in this process (NewMemoryLimiter; redislimit shares the count between replicas).
func ExampleWithRecipientLimit() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}),
		ses.WithRecipientLimit(ses.NewMemoryLimiter(2, 10*time.Minute)))
	if err != nil {
		panic(err)
	}
	for _, usage := range []ses.UsageType{ses.UsageSignIn, ses.UsageRegister, ses.UsageForgotPassword} {
		_, err := c.SendMessage(ctx, "Bob@Example.com", usage, ses.Payload{"code": "123456", "name": "Bob"})
		var limited *ses.LimitError
		if errors.As(err, &limited) {
			fmt.Printf("%s: refused, one more in %v\n", usage, limited.RetryAfter.Round(time.Minute))
			continue
		}
		fmt.Printf("%s: %v\n", usage, err)
	}
	// Output:
	// SignIn: <nil>
	// Register: <nil>
	// ForgotPassword: refused, one more in 10m0s
}

// suppressingSES has one address on its account-level suppression list.
type suppressingSES struct{ quietSES }

func (suppressingSES) GetSuppressedDestination(_ context.Context, in *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	if *in.EmailAddress != "gone@example.com" {
		return nil, &types.NotFoundException{Message: aws.String("not on the suppression list")}
	}
	return &sesv2.GetSuppressedDestinationOutput{SuppressedDestination: &types.SuppressedDestination{
		EmailAddress: in.EmailAddress, Reason: types.SuppressionListReasonBounce, LastUpdateTime: aws.Time(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
	}}, nil
}

// WithSuppressionCheck asks SES before each send whether the address is on the account's
// suppression list, where SES would drop the message silently; answers are cached.
func ExampleWithSuppressionCheck() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(suppressingSES{}), ses.WithSuppressionCheck(10*time.Minute))
	if err != nil {
		panic(err)
	}
	for _, to := range []string{"bob@example.com", "gone@example.com"} {
		_, err := c.SendMessage(ctx, to, ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
		var s *ses.Suppression
		if errors.As(err, &s) {
			fmt.Printf("%s: suppressed (%s, since %s): ask for another address\n", to, s.Reason, s.LastUpdated.Format(time.DateOnly))
			continue
		}
		fmt.Printf("%s: %v\n", to, err)
	}
	// Output:
	// bob@example.com: <nil>
	// gone@example.com: suppressed (BOUNCE, since 2026-03-01): ask for another address
}

// Without WithTracking every send turns open and click tracking off for its message; with it,
// the configuration set's own settings apply.
func ExampleWithTracking() {
	ctx := context.Background()
	for _, opts := range [][]ses.Option{{ses.WithClient(quietSES{})}, {ses.WithClient(quietSES{}), ses.WithTracking()}} {
		c, err := ses.New(ctx, exampleConfig(), opts...)
		if err != nil {
			panic(err)
		}
		in, err := c.Compose(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
		if err != nil {
			panic(err)
		}
		if in.ConfigurationOverrides == nil {
			fmt.Println("the configuration set's tracking")
			continue
		}
		t := in.ConfigurationOverrides.Tracking
		fmt.Println("click tracking", t.ClickTrackingEnabled, "open tracking", t.OpenTrackingEnabled)
	}
	// Output:
	// click tracking DISABLED open tracking DISABLED
	// the configuration set's tracking
}

// Warm, called after New and before taking traffic, resolves the credentials and opens a
// connection to SES without sending anything, so that the first sign-in does not wait for them.
func ExampleConnector_Warm() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden) // SES answers an unsigned request so
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Warm(ctx))
	// Output: <nil>
}

// SendTest sends the Generic template with the code 000000, as Logto's "Test" button does.
func ExampleConnector_SendTest() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(printingSES{}))
	if err != nil {
		panic(err)
	}
	_, err = c.SendTest(ctx, "admin@example.com")
	fmt.Println(err)
	// Output:
	// to admin@example.com: Your code: 000000
	// <nil>
}

// insightfulSES answers SES's address insights: one mistyped domain has no mail servers.
type insightfulSES struct{ quietSES }

func (insightfulSES) GetEmailAddressInsights(_ context.Context, in *sesv2.GetEmailAddressInsightsInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailAddressInsightsOutput, error) {
	valid := types.EmailAddressInsightsConfidenceVerdictHigh
	if strings.HasSuffix(*in.EmailAddress, "@gmial.com") {
		valid = types.EmailAddressInsightsConfidenceVerdictLow
	}
	v := &types.EmailAddressInsightsVerdict{ConfidenceVerdict: valid}
	return &sesv2.GetEmailAddressInsightsOutput{MailboxValidation: &types.MailboxValidation{IsValid: v,
		Evaluations: &types.EmailAddressInsightsMailboxEvaluations{HasValidDnsRecords: v}}}, nil
}

// WithAddressInsights asks SES, before a sign-up code, whether the address looks deliverable,
// and refuses a typo before it costs a bounce.
func ExampleWithAddressInsights() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(insightfulSES{}), ses.WithAddressInsights(ses.InsightsPolicy{}))
	if err != nil {
		panic(err)
	}
	for _, to := range []string{"bob@gmail.com", "bob@gmial.com"} {
		_, err := c.SendMessage(ctx, to, ses.UsageRegister, ses.Payload{"code": "123456", "name": "Bob"})
		fmt.Println(to, errors.Is(err, ses.ErrUndeliverable))
	}
	// Output:
	// bob@gmail.com false
	// bob@gmial.com true
}

// AddressInsights asks SES directly, for a sign-up form's own check.
func ExampleConnector_AddressInsights() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(insightfulSES{}))
	if err != nil {
		panic(err)
	}
	a, err := c.AddressInsights(ctx, "bob@gmial.com")
	fmt.Println(a.Valid, a.ValidDNS, err)
	// Output: LOW LOW <nil>
}

// WithObserver hears of every send and what became of it: the place for metrics and traces
// (the module sesotel does it with OpenTelemetry).
func ExampleWithObserver() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}), ses.WithObserver(printObserver{}))
	if err != nil {
		panic(err)
	}
	_, _ = c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob", "locale": "pt-BR"})
	_, _ = c.SendMessage(ctx, "not an address", ses.UsageSignIn, ses.Payload{"code": "123456"})
	// Output:
	// SignIn, locale "pt-br": sent, template "templates[1]", region "eu-west-1"
	// SignIn, locale "": invalid, template "", region ""
}

// printObserver prints what became of each send.
type printObserver struct{}

func (printObserver) SendStart(ctx context.Context, _ ses.SendInfo) context.Context { return ctx }

func (printObserver) SendDone(_ context.Context, s ses.SendInfo, r ses.SendResult) {
	fmt.Printf("%s, locale %q: %s, template %q, region %q\n", s.Usage, s.Locale, r.Outcome, r.Template, r.Region)
}

// steadyRate is a shared limiter that has every send wait 10 ms (redislimit.NewSendRate keeps
// such a schedule in Redis for every replica).
type steadyRate struct{}

func (steadyRate) Reserve(context.Context) (time.Duration, error) { return 10 * time.Millisecond, nil }

// WithSendRateLimiter spaces the sends of every replica together, at the account's rate.
func ExampleWithSendRateLimiter() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(quietSES{}), ses.WithSendRateLimiter(steadyRate{}))
	if err != nil {
		panic(err)
	}
	start := time.Now()
	_, err = c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(err, time.Since(start) >= 10*time.Millisecond)
	// Output: <nil> true
}

// WithRegionEndpoint points each region of a failover config at its own endpoint: here two
// stand-in servers, the first of which is down. The send goes out through the second.
func ExampleWithRegionEndpoint() {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "ServiceUnavailable")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"MessageId":"0100018c-us-west-2"}`)
	}))
	defer up.Close()
	cfg := exampleConfig()
	cfg.FailoverRegions = []string{"us-west-2"}
	ctx := context.Background()
	c, err := ses.New(ctx, cfg, ses.WithRegionEndpoint("eu-west-1", down.URL), ses.WithRegionEndpoint("us-west-2", up.URL), ses.WithRetryMaxAttempts(1))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)
	// Output: 0100018c-us-west-2 <nil>
}

// SendQuota reads the account's sending quota, to size a shared send rate.
func ExampleConnector_SendQuota() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"SendQuota":{"MaxSendRate":14,"Max24HourSend":50000,"SentLast24Hours":120}}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithEndpoint(srv.URL))
	if err != nil {
		panic(err)
	}
	perSecond, perDay, err := c.SendQuota(ctx)
	fmt.Println(perSecond, perDay, err)
	// Output: 14 50000 <nil>
}
