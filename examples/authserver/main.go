// Command authserver is a small email-code service to start from: POST /codes sends a
// 6-digit code through sesconnector, POST /verify checks it, once, in constant time.
//
//	go run ./examples/authserver -config examples/config.example.json [-addr 127.0.0.1:8080] [-metrics-addr 127.0.0.1:9464] [-endpoint URL]
//		[-deliveries DSN -address-key-file F [-support-token T]]
//
//	curl -X POST localhost:8080/codes  -d '{"email":"jane@example.com","usageType":"SignIn","locale":"pt-BR"}'
//	curl -X POST localhost:8080/verify -d '{"email":"jane@example.com","usageType":"SignIn","code":"123456"}'
//
// Codes live 10 minutes; an address gets at most 3 codes per 10 minutes, whatever the usage
// type (counted by the Connector's per-recipient limit: in this process, or shared by every
// replica in Redis when REDIS_URL is set, e.g. redis://localhost:6379/0), and 5 tries per
// code. The server sends at most 100 codes a minute in all; one client (its IPv4 address, or
// its IPv6 /64) may ask for 10 codes per 10 minutes and 2 a minute, a fiftieth of the budget,
// so that one client cannot spray codes at many inboxes and a handful cannot lock others out.
// A 422 answer counts against the client like a code. Too many codes for an
// address and SES throttling answer 429 with Retry-After, a bad address or usage type 400,
// other send failures 502. A sign-up (Register) to an address that SES's address insights say
// would not receive mail gets 422: "this address does not look deliverable: check for a typo". An address on the SES suppression list (WithSuppressionCheck), or one
// that SES reported at /ses-events as bounced for good or complaining, gets 422: "this address
// cannot receive our mail; use another". Otherwise every address gets the same answers: the
// server does not tell whether an account exists.
//
// /metrics serves sends (by usage type, outcome and region) and feedback events (by type) in
// Prometheus's format, through sesotel and OpenTelemetry's Prometheus exporter, on a listener
// of its own (-metrics-addr, 127.0.0.1:9464 by default), never on the public one: alerts.yml
// beside this file holds the alert rules.
//
// /ses-events is the SNS endpoint of the topic the SES identity (or configuration set)
// publishes bounces and complaints to: subscribe it over HTTPS. The topic's ARN is required
// (-topic, or SES_TOPIC_ARN): messages of any other topic are refused, since anyone can
// subscribe an endpoint to a topic of their own and have SNS sign what they publish.
//
// With -deliveries (a deliverylog DSN: sqlite:deliveries.db, or postgres://… shared by the
// replicas) and -address-key-file, every send and every SES event is recorded on one timeline
// per message, addresses kept only as their keyed hash and masked. With -support-token (or
// SUPPORT_TOKEN) too, GET /support/deliveries?address= answers "I never got the code" for a
// holder of the token, as JSON, and a browser that opens it gets a page to ask with.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/redis/go-redis/v9"

	ses "github.com/sesconnector/sesconnector"
	"github.com/sesconnector/sesconnector/deliverylog"
	"github.com/sesconnector/sesconnector/feedback"
	"github.com/sesconnector/sesconnector/redislimit"
)

func main() {
	configPath := flag.String("config", "", "the connector's JSON config `file` (required)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen `address`")
	metricsAddr := flag.String("metrics-addr", "127.0.0.1:9464", "the `address` /metrics is served on, apart from the public listener")
	endpoint := flag.String("endpoint", "", "send to this SES endpoint `URL`, e.g. the local emulator")
	topic := flag.String("topic", os.Getenv("SES_TOPIC_ARN"), "the `ARN` of the SNS topic SES publishes feedback to, served at /ses-events (required; default $SES_TOPIC_ARN)")
	var d deliveries
	flag.StringVar(&d.dsn, "deliveries", "", "record every send and SES event in this delivery log `DSN` (sqlite:deliveries.db or postgres://…)")
	flag.StringVar(&d.keyFile, "address-key-file", "", "with -deliveries: the `file` of the log's address key, 32 bytes or more (openssl rand -hex 32)")
	flag.StringVar(&d.token, "support-token", os.Getenv("SUPPORT_TOKEN"), "with -deliveries: serve GET /support/deliveries to holders of this bearer `token` (default $SUPPORT_TOKEN)")
	flag.Parse()
	if *configPath == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*configPath, *addr, *metricsAddr, *endpoint, *topic, d); err != nil {
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// deliveries is where the delivery log is kept, and who may read it.
type deliveries struct{ dsn, keyFile, token string }

// open opens the log, and its support handler when a token is given; nil, nil without a DSN.
func (d deliveries) open(ctx context.Context) (*deliverylog.Log, *Support, error) {
	switch {
	case d.dsn == "" && (d.keyFile != "" || d.token != ""):
		return nil, nil, errors.New("-address-key-file and -support-token go with -deliveries DSN")
	case d.dsn == "":
		return nil, nil, nil
	case d.keyFile == "":
		return nil, nil, errors.New("-deliveries needs -address-key-file: the log keeps addresses only as their keyed hash")
	}
	key, err := deliverylog.ReadKeyFile(d.keyFile)
	if err != nil {
		return nil, nil, err
	}
	l, err := deliverylog.Open(ctx, d.dsn, deliverylog.WithAddressKey(key))
	if err != nil {
		return nil, nil, err
	}
	if d.token == "" {
		return l, nil, nil
	}
	support, err := NewSupport(l, d.token)
	if err != nil {
		_ = l.Close(ctx)
		return nil, nil, err
	}
	return l, support, nil
}

func run(configPath, addr, metricsAddr, endpoint, topic string, d deliveries) error {
	if topic == "" {
		return errors.New("give -topic ARN (or SES_TOPIC_ARN), the SNS topic SES publishes feedback to, e.g. arn:aws:sns:us-east-1:123456789012:ses-events: /ses-events accepts that topic only")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	dlog, support, err := d.open(ctx)
	if err != nil {
		return err
	}
	if dlog != nil {
		defer func() { // what is queued is written before the process ends
			closing, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = dlog.Close(closing)
		}()
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := ses.LoadConfig(configPath)
	if err != nil {
		return err
	}
	limiter, err := recipientLimiter(os.Getenv("REDIS_URL"), DefaultPolicy)
	if err != nil {
		return err
	}
	obs, metrics, err := newMetrics()
	if err != nil {
		return err
	}
	opts := []ses.Option{ses.WithLogger(log), ses.WithRecipientLimit(limiter), ses.WithSuppressionCheck(10 * time.Minute),
		ses.WithAddressInsights(ses.InsightsPolicy{}), // sign-ups only: SES charges per look-up
		ses.WithObserver(obs), ses.WithSESOptions(obs.SESOptions())}
	if endpoint != "" {
		opts = append(opts, ses.WithEndpoint(endpoint))
	}
	if dlog != nil {
		opts = append(opts, ses.WithObserver(dlog.Observer()))
	}
	if redisURL := os.Getenv("REDIS_URL"); redisURL != "" {
		shared, err := sharedSendRate(ctx, cfg, redisURL, opts, log)
		if err != nil {
			return err
		}
		opts = append(opts, shared...)
	}
	conn, err := ses.New(ctx, cfg, opts...)
	if err != nil {
		return err
	}
	server := NewServer(conn, DefaultPolicy, log)
	handleEvent := feedback.Handler(server.HandleEvent)
	if dlog != nil {
		handleEvent = dlog.Feedback(handleEvent)
	}
	events, err := feedback.NewSNSHandler(obs.Feedback(handleEvent), feedback.WithTopicARNs(topic), feedback.WithSNSLogger(log))
	if err != nil {
		return err
	}
	// Both listeners are bound before either serves: a busy metrics port stops the start.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mln, err := net.Listen("tcp", metricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("the metrics listener (-metrics-addr): %w", err)
	}
	public := server.Handler(events)
	if support != nil {
		mux := http.NewServeMux()
		mux.Handle("/support/deliveries", support)
		mux.Handle("/", public)
		public = mux
	}
	srv, metricsSrv := newHTTPServer(addr, public), newHTTPServer(metricsAddr, MetricsHandler(metrics))
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = metricsSrv.Shutdown(shutdown)
	}()
	metricsErr := make(chan error, 1)
	go func() { metricsErr <- metricsSrv.Serve(mln) }()
	log.Info("listening", "addr", ln.Addr().String(), "metrics", mln.Addr().String())
	err = srv.Serve(ln)
	stop() // the public listener ended: end the metrics one too
	if !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := <-metricsErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("the metrics listener: %w", err)
	}
	return nil
}

// newHTTPServer bounds every phase of a connection: a client that trickles its headers or
// body, or keeps an idle connection open, is cut off instead of holding a goroutine forever.
func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
}

// quotaHeadroom is the share of the account's MaxSendRate the replicas together use: the rest
// is for other senders of the account and for the clock's jitter.
const quotaHeadroom = 0.9

// sharedSendRate spaces the sends of every replica in Redis at the account's SES MaxSendRate,
// read with SendQuota, less the headroom. Where the quota cannot be read (no ses:GetAccount,
// an emulator without it), it says so and goes without.
func sharedSendRate(ctx context.Context, cfg *ses.Config, redisURL string, opts []ses.Option, log *slog.Logger) ([]ses.Option, error) {
	probe, err := ses.New(ctx, cfg, opts...)
	if err != nil {
		return nil, err
	}
	perSecond, _, err := probe.SendQuota(ctx)
	if err != nil {
		log.Warn("the account's send quota could not be read; the replicas do not share a send rate", "error", err)
		return nil, nil
	}
	ropts, err := redislimit.Options(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rate := quotaHeadroom * perSecond
	log.Info("replicas share the send rate", "perSecond", rate, "quota", perSecond)
	return []ses.Option{ses.WithSendRateLimiter(redislimit.NewSendRate(redis.NewClient(ropts), "ses:"+cfg.Region, rate))}, nil
}

// recipientLimiter is Redis when redisURL is set, so that replicas share the count, and this
// process's memory otherwise. The Redis client honours the context with short timeouts
// (redislimit.Options): a slow Redis is skipped within the Connector's budget.
func recipientLimiter(redisURL string, p Policy) (ses.RecipientLimiter, error) {
	if redisURL == "" {
		return ses.NewMemoryLimiter(p.SendsPerWindow, p.SendWindow), nil
	}
	opts, err := redislimit.Options(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return redislimit.New(redis.NewClient(opts), p.SendsPerWindow, p.SendWindow)
}
