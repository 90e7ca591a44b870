package main

// The programs the proof builds in a user's module, as a user would write them.

// userProgram uses the library and redislimit as a service would, sending nothing.
const userProgram = `package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/redislimit"
)

func main() {
	ctx := context.Background()
	cfg, err := sesconnector.ParseConfig([]byte(` + "`" + `{"region":"us-east-1","emailAddress":"Acme <no-reply@acme.example>",
		"templates":[{"usageType":"Generic","subject":"Your Acme sign-in code is {{code}}","content":"<p>{{code}}</p>"}]}` + "`" + `))
	if err != nil {
		panic(err)
	}
	opts, err := redislimit.Options("redis://127.0.0.1:1/0")
	if err != nil {
		panic(err)
	}
	limiter, err := redislimit.New(redis.NewClient(opts), 3, 10*time.Minute)
	if err != nil {
		panic(err)
	}
	conn, err := sesconnector.New(ctx, cfg, sesconnector.WithRecipientLimit(limiter))
	if err != nil {
		panic(err)
	}
	in, err := conn.Compose(ctx, "jane@example.com", sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"})
	if err != nil {
		panic(err)
	}
	fmt.Println(*in.Content.Simple.Subject.Data)
}
`

// senderProgram is the smallest program that sends a code: load the config, build, send.
const senderProgram = `package main

import (
	"context"
	"fmt"
	"os"

	"github.com/sesconnector/sesconnector"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sender CONFIG TO")
		os.Exit(2)
	}
	ctx := context.Background()
	cfg, err := sesconnector.LoadConfig(os.Args[1])
	if err != nil {
		panic(err)
	}
	conn, err := sesconnector.New(ctx, cfg)
	if err != nil {
		panic(err)
	}
	fmt.Println(conn.SendMessage(ctx, os.Args[2], sesconnector.UsageSignIn, sesconnector.Payload{"code": "123456"}))
}
`
