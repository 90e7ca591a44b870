package deliverylog_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/internal/sestest"
)

// sampleID is the MessageId of AWS's sample event records (feedback/testdata, from the SES
// developer guide): the test's SES answers the send with it, as SES would, so that AWS's own
// events meet the send on one timeline.
const sampleID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"

// sampleEvents are AWS's sample records of every type the log keeps, and of one it does not.
func sampleEvents(t testing.TB) map[string]*feedback.Event {
	t.Helper()
	out := map[string]*feedback.Event{}
	for _, name := range []string{"send", "delivery", "deliverydelay", "bounce", "complaint", "reject", "rendering-failure", "open"} {
		data, err := os.ReadFile(filepath.Join("..", "feedback", "testdata", "event-"+name+".json"))
		require.NoError(t, err)
		e, err := feedback.Parse(data)
		require.NoError(t, err, name)
		require.Equal(t, sampleID, e.MessageID)
		out[name] = e
	}
	return out
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// A send SES took and one it refused, then AWS's sample events (one of them redelivered, one a
// click, which is not kept, and one forged for a MessageId nobody sent): the timeline a
// support engineer sees, on both stores.
func TestTimeline(t *testing.T) {
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			dsn := store.dsn(t)
			keep := deliverylog.WithRetention(100 * 365 * 24 * time.Hour) // AWS's samples are from 2016 to 2020
			l := open(t, dsn, keep)
			ses := sestest.New(t)
			ses.Respond(func(n int, _ sestest.Request) sestest.Response {
				if n == 1 {
					return sestest.Response{Body: `{"MessageId":"` + sampleID + `"}`}
				}
				return sestest.Error(400, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: noreply@example.com, recipient@example.com")
			})
			conn := connector(t, l, ses.URL)
			before := time.Now().UTC()
			id, err := conn.SendMessage(context.Background(), "Recipient@Example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
			require.NoError(t, err)
			require.Equal(t, sampleID, id)
			_, err = conn.SendMessage(context.Background(), "recipient@example.com", sesconnector.UsageForgotPassword, sesconnector.Payload{"code": "654321"})
			require.ErrorIs(t, err, sesconnector.ErrSendFailed)

			events := sampleEvents(t)
			handled := 0
			h := l.Feedback(func(context.Context, *feedback.Event) error { handled++; return nil })
			for _, name := range []string{"send", "delivery", "deliverydelay", "bounce", "complaint", "reject", "rendering-failure", "open", "bounce"} {
				require.NoError(t, h(context.Background(), events[name]))
			}
			forged := *events["bounce"]
			forged.MessageID = "forged-0100018c"
			require.NoError(t, h(context.Background(), &forged))
			assert.Equal(t, 10, handled, "every event is passed on")
			require.NoError(t, l.Close(context.Background()))
			l = open(t, dsn, keep)

			got, err := l.ByAddress(context.Background(), "  RECIPIENT@example.COM ", 10)
			require.NoError(t, err)
			require.Len(t, got, 2)
			refused, sent := got[0], got[1]
			assert.Empty(t, refused.MessageID, "SES never took it")
			assert.Equal(t, "rejected", refused.Outcome)
			assert.Equal(t, "ForgotPassword", refused.Usage)
			assert.Equal(t, "us-east-1", refused.Region)
			assert.Contains(t, refused.Error, "Email address is not verified")
			assert.NotContains(t, strings.ToLower(refused.Error), "recipient@example.com", "masked")
			assert.Contains(t, refused.Error, "r***@example.com")
			assert.Empty(t, refused.Events)

			assert.Equal(t, sampleID, sent.MessageID)
			assert.Equal(t, "R***@Example.com", sent.Masked)
			assert.Equal(t, deliverylog.Message{
				MessageID: sampleID, Masked: "R***@Example.com", Usage: "SignIn", Template: "templates[0]", Region: "us-east-1",
				Outcome: "sent", At: sent.At, Events: sent.Events,
			}, sent)
			assert.WithinRange(t, sent.At, before.Add(-time.Second), time.Now().Add(time.Second))
			assert.True(t, refused.At.After(sent.At) || refused.At.Equal(sent.At), "newest first")

			var types []string
			for _, e := range sent.Events {
				types = append(types, e.Type)
			}
			require.Equal(t, []string{"Send", "Reject", "Delivery", "Bounce", "Complaint", "RenderingFailure", "DeliveryDelay"}, types,
				"the kept types, each once (the bounce came twice), in the order of their timestamps")
			bounce := sent.Events[3]
			assert.Equal(t, deliverylog.Event{Type: "Bounce", BounceType: "Permanent", BounceSubType: "General",
				Diagnostic: "smtp; 550 5.1.1 user unknown", At: at("2017-08-05T00:41:02.669Z")}, bounce)
			assert.Equal(t, "MyTemplate: Attribute 'attributeName' is not present in the rendering data.", sent.Events[5].Diagnostic)
			assert.Equal(t, "TransientCommunicationFailure", sent.Events[6].Diagnostic[:len("TransientCommunicationFailure")])
			assert.Equal(t, "250 2.6.0 Message received", sent.Events[2].Diagnostic)
			assert.Equal(t, "Bad content", sent.Events[1].Diagnostic)

			byID, err := l.ByMessageID(context.Background(), sampleID)
			require.NoError(t, err)
			assert.Equal(t, sent, *byID)
			_, err = l.ByMessageID(context.Background(), "forged-0100018c")
			assert.ErrorIs(t, err, deliverylog.ErrNotFound, "a forged event makes no message")

			text := strings.ToLower(allText(t, dsn))
			assert.NotContains(t, text, "recipient@", "no address is stored in the clear")
			assert.NotContains(t, text, "123456", "nor a code")
		})
	}
}
