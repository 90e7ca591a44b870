package sesconnector_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	ses "github.com/sesconnector/sesconnector"
)

// The error lists every problem of the config, each by its JSON path.
func ExampleParseConfig_errors() {
	_, err := ses.ParseConfig([]byte(`{
		"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
		"region": "us-east-1",
		"emailAddress": "Logto <noreply@logto.io>, other@logto.io",
		"templates": [
			{"usageType": "Signin", "subject": "Your code", "content": "{{code}}"},
			{"usageType": "Generic", "subject": "Your code", "content": "{{code}}", "local": "en"}
		]
	}`))
	fmt.Println(errors.Is(err, ses.ErrInvalidConfig))
	fmt.Println(err)
	// Output:
	// true
	// sesconnector: invalid config:
	//   templates[1].local: unknown field; did you mean "locale"?
	//   accessKeySecret: required when the other key is set: set both accessKeyId and accessKeySecret, or neither to use the default AWS credential chain
	//   emailAddress: "Logto <noreply@logto.io>, other@logto.io" is not one email address (expected single address, got ", other@logto.io"); use "Name <addr>", "<addr>" or "addr"
	//   templates[0].usageType: "Signin" is not a usage type; use one of SignIn, Register, ForgotPassword, OrganizationInvitation, Generic, UserPermissionValidation, BindNewIdentifier, MfaVerification, BindMfa
}

func exampleConfig() *ses.Config {
	cfg, err := ses.ParseConfig([]byte(`{
		"accessKeyId": "AKIAIOSFODNN7EXAMPLE",
		"accessKeySecret": "fake-secret-for-examples",
		"region": "eu-west-1",
		"emailAddress": "Acme <noreply@acme.example>",
		"templates": [
			{"usageType": "SignIn", "subject": "Your sign-in code: {{code}}", "content": "<p>Hello {{name}}, your code is <b>{{code}}</b>.</p>"},
			{"usageType": "SignIn", "locale": "pt-BR", "subject": "Seu código: {{code}}", "content": "<p>Olá {{name}}, seu código é <b>{{code}}</b>.</p>"},
			{"usageType": "Generic", "subject": "Your code: {{code}}", "content": "<p>Your code is {{code}}.</p>"}
		]
	}`))
	if err != nil {
		panic(err)
	}
	return cfg
}

// Compose shows what would be sent, without sending: the template for the payload's locale,
// with the payload's values HTML-escaped in the HTML body.
func ExampleConnector_Compose() {
	c, err := ses.New(context.Background(), exampleConfig(), ses.WithClient(printSES{}))
	if err != nil {
		panic(err)
	}
	in, err := c.Compose(context.Background(), "ana@example.com", ses.UsageSignIn,
		ses.Payload{"code": "482913", "name": "Ana <3", "locale": "pt-BR"})
	if err != nil {
		panic(err)
	}
	fmt.Println(*in.FromEmailAddress)
	fmt.Println(in.Destination.ToAddresses)
	fmt.Println(*in.Content.Simple.Subject.Data)
	fmt.Println(*in.Content.Simple.Body.Html.Data)
	fmt.Println(in.ConfigurationSetName == nil)
	// Output:
	// "Acme" <noreply@acme.example>
	// [ana@example.com]
	// Seu código: 482913
	// <p>Olá Ana &lt;3, seu código é <b>482913</b>.</p>
	// true
}

// printSES stands in for *sesv2.Client in these examples.
type printSES struct{}

func (printSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	fmt.Printf("SES: to %v, subject %q\n", in.Destination.ToAddresses, *in.Content.Simple.Subject.Data)
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-example")}, nil
}

// SendMessage renders and sends; in production leave out WithClient and New builds the SES
// client from the config. A payload that misses a placeholder is refused, and nothing is sent.
func ExampleConnector_SendMessage() {
	ctx := context.Background()
	c, err := ses.New(ctx, exampleConfig(), ses.WithClient(printSES{}))
	if err != nil {
		panic(err)
	}
	id, err := c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456", "name": "Bob"})
	fmt.Println(id, err)

	_, err = c.SendMessage(ctx, "bob@example.com", ses.UsageSignIn, ses.Payload{"code": "123456"})
	fmt.Println(errors.Is(err, ses.ErrInvalidParameters), err)

	_, err = c.SendMessage(ctx, "Bob <bob@example.com>", ses.UsageRegister, ses.Payload{"code": "123456"})
	fmt.Println(errors.Is(err, ses.ErrInvalidParameters), err)
	// Output:
	// SES: to [bob@example.com], subject "Your sign-in code: 123456"
	// 0100018c-example <nil>
	// true sesconnector: invalid parameters: placeholder {{name}} in content: the payload has no "name"
	// true sesconnector: invalid parameters: recipient "Bob <bob@example.com>" must be one bare address such as user@example.com, without a display name, brackets or spaces
}

// sandboxSES answers Check's calls as SES does for a new account: in the sandbox, with the From
// address's domain verified.
type sandboxSES struct{ printSES }

func (sandboxSES) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return &sesv2.GetAccountOutput{SendingEnabled: true, SendQuota: &types.SendQuota{MaxSendRate: 1, Max24HourSend: 200}}, nil
}

func (sandboxSES) GetEmailIdentity(_ context.Context, in *sesv2.GetEmailIdentityInput, _ ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error) {
	if *in.EmailIdentity == "acme.example" {
		return &sesv2.GetEmailIdentityOutput{IdentityType: types.IdentityTypeDomain, VerifiedForSendingStatus: true}, nil
	}
	return nil, &types.NotFoundException{Message: aws.String("not found")}
}

func (sandboxSES) GetConfigurationSet(context.Context, *sesv2.GetConfigurationSetInput, ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	return &sesv2.GetConfigurationSetOutput{}, nil
}

// Check tells, before the first code is lost, what stands between the config and a delivered
// email. With New's own client it asks SES; here a stand-in answers as a new account would.
func ExampleConnector_Check() {
	c, err := ses.New(context.Background(), exampleConfig(), ses.WithClient(sandboxSES{}))
	if err != nil {
		panic(err)
	}
	r, err := c.Check(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Identity, r.IdentityVerified, r.MaxSendRate)
	for _, p := range r.Problems {
		fmt.Println(p)
	}
	// Output:
	// acme.example true 1
	// the account is in the SES sandbox in eu-west-1: only verified recipients receive mail; request production access (SES console, Account dashboard)
}
