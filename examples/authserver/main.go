// Command authserver is a small email-code service to start from: POST /codes sends a
// 6-digit code through sesconnector, POST /verify checks it, once, in constant time.
//
//	go run ./examples/authserver -config examples/config.example.json [-addr 127.0.0.1:8080] [-endpoint URL]
//
//	curl -X POST localhost:8080/codes  -d '{"email":"jane@example.com","usageType":"SignIn","locale":"pt-BR"}'
//	curl -X POST localhost:8080/verify -d '{"email":"jane@example.com","usageType":"SignIn","code":"123456"}'
//
// Codes live 10 minutes; an address gets at most 3 codes per 10 minutes (counted by the
// Connector's per-recipient limit: in this process, or shared by every replica in Redis when
// REDIS_URL is set, e.g. redis://localhost:6379/0) and 5 tries per code. Too many codes for an
// address and SES throttling answer 429 with Retry-After, a bad address or usage type 400,
// other send failures 502. An address on the SES suppression list (WithSuppressionCheck), or one
// that SES reported at /ses-events as bounced for good or complaining, gets 422: "this address
// cannot receive our mail; use another". Otherwise every address gets the same answers: the
// server does not tell whether an account exists.
//
// /ses-events is the SNS endpoint of the topic the SES identity (or configuration set)
// publishes bounces and complaints to: subscribe it over HTTPS; -topic restricts it to one
// topic.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/redislimit"
)

func main() {
	configPath := flag.String("config", "", "the connector's JSON config `file` (required)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address`")
	endpoint := flag.String("endpoint", "", "send to this SES endpoint `URL`, e.g. the local emulator")
	topic := flag.String("topic", "", "accept SES feedback at /ses-events from this SNS topic `ARN` only")
	flag.Parse()
	if *configPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*configPath, *addr, *endpoint, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

func run(configPath, addr, endpoint, topic string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := ses.LoadConfig(configPath)
	if err != nil {
		return err
	}
	limiter, err := recipientLimiter(os.Getenv("REDIS_URL"), DefaultPolicy)
	if err != nil {
		return err
	}
	opts := []ses.Option{ses.WithLogger(log), ses.WithRecipientLimit(limiter), ses.WithSuppressionCheck(10 * time.Minute)}
	if endpoint != "" {
		opts = append(opts, ses.WithEndpoint(endpoint))
	}
	conn, err := ses.New(ctx, cfg, opts...)
	if err != nil {
		return err
	}
	server := NewServer(conn, DefaultPolicy, log)
	var snsOpts []feedback.SNSOption
	if topic != "" {
		snsOpts = append(snsOpts, feedback.WithTopicARNs(topic))
	}
	events, err := feedback.NewSNSHandler(server.HandleEvent, append(snsOpts, feedback.WithSNSLogger(log))...)
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: server.Handler(events), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// recipientLimiter is Redis when redisURL is set, so that replicas share the count, and this
// process's memory otherwise.
func recipientLimiter(redisURL string, p Policy) (ses.RecipientLimiter, error) {
	if redisURL == "" {
		return ses.NewMemoryLimiter(p.SendsPerWindow, p.SendWindow), nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return redislimit.New(redis.NewClient(opts), p.SendsPerWindow, p.SendWindow)
}
