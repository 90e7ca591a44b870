package deliverylog_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
)

// A Connector that records every send, SES's events about them, and the timeline a support
// engineer sees for the address a user gives. The log here is an SQLite file; with many
// replicas, give them one PostgreSQL DSN.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "deliverylog-example")
	defer os.RemoveAll(dir)
	key := []byte("a secret of 32 bytes or more, the same for every replica") // deliverylog.ReadKeyFile
	log, err := deliverylog.Open(ctx, "sqlite:"+filepath.Join(dir, "deliveries.db"), deliverylog.WithAddressKey(key))
	if err != nil {
		fmt.Println(err)
		return
	}
	conn, err := sesconnector.New(ctx, testConfig(), sesconnector.WithClient(&inProcess{prefix: "0100018c"}), sesconnector.WithObserver(log.Observer()))
	if err != nil {
		fmt.Println(err)
		return
	}
	id, _ := conn.SendMessage(ctx, "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})

	// SES's events, through the SNS handler or Consume: log.Feedback wraps your own handler.
	events := log.Feedback(func(context.Context, *feedback.Event) error { return nil })
	_ = events(ctx, &feedback.Event{Type: feedback.TypeBounce, MessageID: id, Timestamp: time.Date(2026, 12, 4, 10, 40, 0, 0, time.UTC),
		Bounce: &feedback.Bounce{Type: "Transient", SubType: "MailboxFull"}})
	_ = log.Close(ctx) // writes what is queued; a service closes it when it stops

	log, _ = deliverylog.Open(ctx, "sqlite:"+filepath.Join(dir, "deliveries.db"), deliverylog.WithAddressKey(key))
	defer log.Close(ctx)
	messages, _ := log.ByAddress(ctx, "Jane@Example.com", 10)
	for _, m := range messages {
		fmt.Println(m.MessageID, m.Masked, m.Usage, m.Outcome)
		for _, e := range m.Events {
			fmt.Println(" ", e.At.Format(time.RFC3339), e.Type, e.BounceType, e.BounceSubType)
		}
	}
	// Output:
	// 0100018c-1 j***@example.com SignIn sent
	//   2026-12-04T10:40:00Z Bounce Transient MailboxFull
}
