package sessink

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// The benchmarks' two sides send the same message: the connector from ConfigJSON, the raw SDK
// client from RawClient with RawInput.

// ConfigJSON is the connector's config in every benchmark: a SignIn template with a code.
const ConfigJSON = `{
	"accessKeyId": "AKIAIOSFODNN7EXAMPLE", "accessKeySecret": "fake-secret-for-benchmarks",
	"region": "us-east-1", "emailAddress": "Acme <noreply@acme.example>",
	"templates": [
		{"usageType": "SignIn", "subject": "Your Acme sign-in code is {{code}}",
		 "content": "<p>Your Acme sign-in verification code is <b>{{code}}</b>. It expires in 10 minutes.</p>"},
		{"usageType": "Generic", "subject": "Your Acme code is {{code}}", "content": "<p>{{code}}</p>"}
	]
}`

// RawClient builds the sesv2 client as sesconnector.New does for ConfigJSON: the default config
// loader with its static keys and region, and the endpoint.
func RawClient(ctx context.Context, endpoint string) (*sesv2.Client, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "fake-secret-for-benchmarks", "")))
	if err != nil {
		return nil, err
	}
	return sesv2.NewFromConfig(awsCfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(endpoint) }), nil
}

// RawInput is the SignIn message of ConfigJSON written by hand, as a team without the connector
// would: the same request the connector sends, link tracking off included (without it the
// request is 107 bytes shorter and the comparison is not of the same message).
func RawInput(code string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		ConfigurationOverrides: &types.ConfigurationOverrides{Tracking: &types.TrackingConfigurationOverrides{
			ClickTrackingEnabled: types.FeatureStatusDisabled, OpenTrackingEnabled: types.FeatureStatusDisabled,
		}},
		FromEmailAddress: aws.String(`"Acme" <noreply@acme.example>`),
		Destination:      &types.Destination{ToAddresses: []string{"user@example.com"}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Your Acme sign-in code is " + code), Charset: aws.String("UTF-8")},
			Body: &types.Body{Html: &types.Content{
				Data:    aws.String("<p>Your Acme sign-in verification code is <b>" + code + "</b>. It expires in 10 minutes.</p>"),
				Charset: aws.String("UTF-8"),
			}},
		}},
	}
}
