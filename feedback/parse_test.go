package feedback_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector/feedback"
)

// The fixtures in testdata are AWS's documented samples, one per type: event-*.json from "Examples
// of event data that Amazon SES publishes to Amazon SNS", notification-*.json from "Amazon SNS
// notification examples for Amazon SES" (the SES developer guide).

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	return data
}

// shapes wraps an SES record in every shape Parse reads.
func shapes(t testing.TB, record []byte) map[string][]byte {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal(record, &obj))
	marshal := func(v any) []byte {
		data, err := json.Marshal(v)
		require.NoError(t, err)
		return data
	}
	sns := map[string]any{
		"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		"TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events", "Message": string(record),
		"Timestamp": "2017-08-05T00:41:03.000Z", "SignatureVersion": "1", "Signature": "EXAMPLE",
		"SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-EXAMPLE.pem",
	}
	snsObject := map[string]any{}
	for k, v := range sns {
		snsObject[k] = v
	}
	snsObject["Message"] = obj
	return map[string][]byte{
		"raw (SQS raw delivery)":       record,
		"SNS envelope (HTTPS or SQS)":  marshal(sns),
		"SNS envelope, object Message": marshal(snsObject),
		"EventBridge": marshal(map[string]any{
			"version": "0", "id": "7e16e2d8-0d6b-4e2e-9d3b-6a1f9a1a7c2e", "detail-type": "Email Bounced",
			"source": "aws.ses", "account": "123456789012", "time": "2017-08-05T00:41:03Z", "region": "us-east-1",
			"resources": []string{"arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"}, "detail": obj,
		}),
	}
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseDocumentedSamples(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture    string
		typ        feedback.Type
		timestamp  string
		recipients []feedback.Recipient
		check      func(t *testing.T, e *feedback.Event)
	}{
		{"event-bounce", feedback.TypeBounce, "2017-08-05T00:41:02.669Z",
			[]feedback.Recipient{{Address: "recipient@example.com", Action: "failed", Status: "5.1.1", DiagnosticCode: "smtp; 550 5.1.1 user unknown"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, &feedback.Bounce{Type: "Permanent", SubType: "General", FeedbackID: "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000", ReportingMTA: "dsn; mta.example.com"}, e.Bounce)
				assert.True(t, e.Undeliverable())
				assert.Equal(t, []string{"ConfigSet"}, e.Tags["ses:configuration-set"])
			}},
		{"event-complaint", feedback.TypeComplaint, "2017-08-05T00:41:02.669Z",
			[]feedback.Recipient{{Address: "recipient@example.com"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, "abuse", e.Complaint.FeedbackType)
				assert.Equal(t, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0.3112.90 Safari/537.36", e.Complaint.UserAgent)
				assert.True(t, e.Undeliverable())
			}},
		{"event-delivery", feedback.TypeDelivery, "2016-10-19T23:21:04.133Z",
			[]feedback.Recipient{{Address: "recipient@example.com"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, &feedback.Delivery{ProcessingTime: 11893 * time.Millisecond, SMTPResponse: "250 2.6.0 Message received", ReportingMTA: "mta.example.com"}, e.Delivery)
				assert.False(t, e.Undeliverable())
			}},
		{"event-send", feedback.TypeSend, "2016-10-14T05:02:16.645Z", []feedback.Recipient{{Address: "recipient@example.com"}}, nil},
		{"event-reject", feedback.TypeReject, "2016-10-14T17:38:15.211Z", []feedback.Recipient{{Address: "sender@example.com"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, &feedback.Reject{Reason: "Bad content"}, e.Reject)
			}},
		{"event-open", feedback.TypeOpen, "2017-08-09T22:00:19.652Z", []feedback.Recipient{{Address: "recipient@example.com"}}, nil},
		{"event-click", feedback.TypeClick, "2017-08-09T23:51:25.570Z", []feedback.Recipient{{Address: "recipient@example.com"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, []string{"myCustomValue1"}, e.Tags["myCustomTag1"])
			}},
		{"event-rendering-failure", feedback.TypeRenderingFailure, "2018-01-22T18:43:06.197Z", []feedback.Recipient{{Address: "recipient@example.com"}}, nil},
		{"event-deliverydelay", feedback.TypeDeliveryDelay, "2020-06-16T00:25:40.095Z",
			[]feedback.Recipient{{Address: "recipient@example.com", Status: "4.4.1", DiagnosticCode: "smtp; 421 4.4.1 Unable to connect to remote host"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, &feedback.DeliveryDelay{Type: "TransientCommunicationFailure", ExpirationTime: at("2020-06-16T00:25:40.914Z")}, e.Delay)
			}},
		{"event-subscription", feedback.TypeSubscription, "2022-01-12T01:00:17.910Z", []feedback.Recipient{{Address: "recipient@example.com"}}, nil},
		{"notification-bounce-with-dsn", feedback.TypeBounce, "2016-01-27T14:59:38.237Z",
			[]feedback.Recipient{{Address: "jane@example.com", Action: "failed", Status: "5.1.1", DiagnosticCode: "smtp; 550 5.1.1 <jane@example.com>... User"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, "Permanent", e.Bounce.Type)
				assert.Empty(t, e.Tags, "identity notifications carry no tags")
				assert.Empty(t, e.UsageType)
			}},
		{"notification-bounce-without-dsn", feedback.TypeBounce, "2016-01-27T14:59:38.237Z", []feedback.Recipient{{Address: "jane@example.com"}, {Address: "richard@example.com"}}, nil},
		{"notification-complaint-with-feedback-report", feedback.TypeComplaint, "2016-01-27T14:59:38.237Z", []feedback.Recipient{{Address: "richard@example.com"}},
			func(t *testing.T, e *feedback.Event) { assert.Equal(t, "abuse", e.Complaint.FeedbackType) }},
		{"notification-complaint-without-feedback-report", feedback.TypeComplaint, "2016-01-27T14:59:38.237Z", []feedback.Recipient{{Address: "richard@example.com"}},
			func(t *testing.T, e *feedback.Event) { assert.Empty(t, e.Complaint.FeedbackType) }},
		{"notification-delivery", feedback.TypeDelivery, "2016-01-27T14:59:38.237Z", []feedback.Recipient{{Address: "jane@example.com"}},
			func(t *testing.T, e *feedback.Event) {
				assert.Equal(t, 546*time.Millisecond, e.Delivery.ProcessingTime)
			}},
	}
	for _, tc := range cases {
		record := fixture(t, tc.fixture)
		var doc struct {
			Mail struct {
				MessageID string `json:"messageId"`
				Source    string `json:"source"`
			} `json:"mail"`
		}
		require.NoError(t, json.Unmarshal(record, &doc))
		for shape, data := range shapes(t, record) {
			t.Run(tc.fixture+"/"+shape, func(t *testing.T) {
				e, err := feedback.Parse(data)
				require.NoError(t, err)
				assert.Equal(t, tc.typ, e.Type)
				assert.Equal(t, doc.Mail.MessageID, e.MessageID)
				assert.Equal(t, doc.Mail.Source, e.From)
				assert.True(t, at(tc.timestamp).Equal(e.Timestamp), "timestamp %v, want %s", e.Timestamp, tc.timestamp)
				assert.Equal(t, tc.recipients, e.Recipients)
				assert.JSONEq(t, string(record), string(e.Raw), "Raw is the SES record, without envelopes")
				if tc.check != nil {
					tc.check(t, e)
				}
			})
		}
	}
}

// The usageType tag that every send through a configuration set carries comes back on every
// event of that message.
func TestParseUsageTypeTag(t *testing.T) {
	t.Parallel()
	var rec map[string]any
	require.NoError(t, json.Unmarshal(fixture(t, "event-bounce"), &rec))
	mail := rec["mail"].(map[string]any)
	mail["messageId"] = "0100019a-sent-by-us-000000"
	mail["tags"].(map[string]any)["usageType"] = []string{"SignIn"}
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	for shape, d := range shapes(t, data) {
		e, err := feedback.Parse(d)
		require.NoError(t, err, shape)
		assert.Equal(t, "SignIn", string(e.UsageType), shape)
		assert.Equal(t, "0100019a-sent-by-us-000000", e.MessageID, shape)
	}
}

func TestUndeliverable(t *testing.T) {
	t.Parallel()
	for sub, want := range map[[2]string]bool{
		{"Permanent", "General"}: true, {"Permanent", "OnAccountSuppressionList"}: true, {"Permanent", "Suppressed"}: true,
		{"Transient", "MailboxFull"}: false, {"Undetermined", "Undetermined"}: false,
	} {
		e := &feedback.Event{Type: feedback.TypeBounce, Bounce: &feedback.Bounce{Type: sub[0], SubType: sub[1]}}
		assert.Equal(t, want, e.Undeliverable(), sub)
	}
	assert.True(t, (&feedback.Event{Type: feedback.TypeComplaint}).Undeliverable())
	for _, typ := range []feedback.Type{feedback.TypeDelivery, feedback.TypeSend, feedback.TypeDeliveryDelay, feedback.TypeReject} {
		assert.False(t, (&feedback.Event{Type: typ}).Undeliverable(), typ)
	}
}

// moto publishes a notificationType that is no type ("Bounce, Complaint, or Delivery."), and a
// mail.timestamp with a space before the offset.
func TestParseEmulatorForms(t *testing.T) {
	t.Parallel()
	rec := `{"notificationType":"Bounce, Complaint, or Delivery.","mail":{"timestamp":"2018-10-08T14:05:45 +0000","messageId":"m-1","source":"a@example.com","destination":["b@example.com"]},` +
		`"bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"b@example.com"}],"timestamp":"2012-05-25T14:59:38.605Z"}}`
	e, err := feedback.Parse([]byte(rec))
	require.NoError(t, err)
	assert.Equal(t, feedback.TypeBounce, e.Type)
	assert.Equal(t, at("2012-05-25T14:59:38.605Z"), e.Timestamp)

	both := `{"notificationType":"Something","mail":{"messageId":"m"},"bounce":{},"delivery":{}}`
	_, err = feedback.Parse([]byte(both))
	require.ErrorIs(t, err, feedback.ErrMalformed)
	assert.Contains(t, err.Error(), `"Something" is not an SES event type`)
}

func TestParseRefusesWhatIsNoEvent(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not JSON":               `not json`,
		"a list":                 `[1,2]`,
		"empty object":           `{}`,
		"no messageId":           `{"eventType":"Send","mail":{},"send":{}}`,
		"unknown type":           `{"eventType":"Bounced","mail":{"messageId":"m"}}`,
		"bounce without object":  `{"eventType":"Bounce","mail":{"messageId":"m"}}`,
		"bad timestamp":          `{"eventType":"Send","mail":{"messageId":"m","timestamp":"yesterday"},"send":{}}`,
		"SNS confirmation":       `{"Type":"SubscriptionConfirmation","Message":"You have chosen to subscribe","TopicArn":"arn:aws:sns:us-east-1:1:t"}`,
		"SNS Message not string": `{"Type":"Notification","Message":42}`,
		"SNS Message not record": `{"Type":"Notification","Message":"hello"}`,
		"EventBridge not SES":    `{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}`,
		"wrong field type":       `{"eventType":"Send","mail":{"messageId":7},"send":{}}`,
	}
	for name, input := range cases {
		e, err := feedback.Parse([]byte(input))
		assert.Nil(t, e, name)
		require.ErrorIs(t, err, feedback.ErrMalformed, name)
		assert.Contains(t, err.Error(), "expected", fmt.Sprintf("%s: %v", name, err))
	}
	_, err := feedback.Parse([]byte(`{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed your Amazon SNS topic"}`))
	require.ErrorIs(t, err, feedback.ErrSetupNotice)
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"event-bounce", "event-deliverydelay", "notification-complaint-with-feedback-report"} {
		for _, data := range shapes(f, fixture(f, name)) {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"Type":"Notification","Message":"{\"eventType\":\"Open\",\"mail\":{\"messageId\":\"m\"}}"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := feedback.Parse(data)
		if err != nil {
			if e != nil {
				t.Fatalf("an event and an error: %v", err)
			}
			return
		}
		if e.MessageID == "" || e.Type == "" || e.Raw == nil {
			t.Fatalf("an event without MessageID, Type or Raw: %+v", e)
		}
	})
}

// BenchmarkParse reads each documented sample inside an SNS envelope, as an HTTPS subscription
// or an SQS queue receives it.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"event-bounce", "event-complaint", "event-delivery", "event-send", "event-open", "event-click", "event-deliverydelay", "notification-bounce-with-dsn"} {
		data := shapes(b, fixture(b, name))["SNS envelope (HTTPS or SQS)"]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := feedback.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
