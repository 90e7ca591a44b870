// Command quickstart is the README's usage example: load Logto's AWS SES connector config,
// build one Connector, send a sign-in code. A test keeps the README's copy the same as this.
//
//	go run ./examples/quickstart -config examples/config.example.json -endpoint http://127.0.0.1:8005
package main

import (
	"context"
	"flag"
	"fmt"
	"log"

	"github.com/sesconnector/sesconnector"
)

func main() {
	configPath := flag.String("config", "ses.json", "Logto's AWS SES connector config, unchanged")
	endpoint := flag.String("endpoint", "", "an SES endpoint such as a local emulator's (default: AWS's)")
	to := flag.String("to", "user@example.com", "the recipient")
	flag.Parse()

	ctx := context.Background()
	cfg, err := sesconnector.LoadConfig(*configPath)
	if err != nil {
		log.Fatal(err) // every problem, each named by its JSON path
	}
	var opts []sesconnector.Option
	if *endpoint != "" {
		opts = append(opts, sesconnector.WithEndpoint(*endpoint))
	}
	conn, err := sesconnector.New(ctx, cfg, opts...) // one SES client, shared by all sends
	if err != nil {
		log.Fatal(err)
	}
	id, err := conn.SendMessage(ctx, *to, sesconnector.UsageSignIn,
		sesconnector.Payload{"code": "123456", "locale": "pt-BR"})
	if err != nil {
		log.Fatal(err) // errors.Is(err, sesconnector.ErrInvalidParameters), ErrSendFailed, ...
	}
	fmt.Println("sent, SES MessageId", id)
}
