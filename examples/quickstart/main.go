// Command quickstart is the README's usage example: load Logto's AWS SES connector config,
// build one Connector, send a sign-in code. A test keeps the README's copy the same as this.
package main

import (
	"context"
	"fmt"
	"log"

	"github.com/sesconnector/sesconnector"
)

func main() {
	ctx := context.Background()
	cfg, err := sesconnector.LoadConfig("ses.json") // Logto's AWS SES connector config, unchanged
	if err != nil {
		log.Fatal(err) // every problem, each named by its JSON path
	}
	conn, err := sesconnector.New(ctx, cfg) // one SES client, shared by all sends
	if err != nil {
		log.Fatal(err)
	}
	id, err := conn.SendMessage(ctx, "user@example.com", sesconnector.UsageSignIn,
		sesconnector.Payload{"code": "123456", "locale": "pt-BR"})
	if err != nil {
		log.Fatal(err) // errors.Is(err, sesconnector.ErrInvalidParameters), ErrSendFailed, ...
	}
	fmt.Println("sent, SES MessageId", id)
}
