package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	neturl "net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"golang.org/x/time/rate"
)

// SESAPI is the part of the SES v2 client that sending needs. *sesv2.Client satisfies it; tests
// pass a mock.
type SESAPI interface {
	SendEmail(ctx context.Context, params *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// TemplateLookup finds a template outside the config, in a database say. It returns nil, nil
// when it has none for the usage type and locale. Its templates are validated like the config's.
type TemplateLookup func(ctx context.Context, usage UsageType, locale string) (*Template, error)

// Option changes how New builds a Connector. An option given an invalid value makes New fail
// with ErrInvalidConfig.
type Option func(*options)

type options struct {
	client           SESAPI
	endpoint         string
	retryMaxAttempts int
	maxSendRate      float64
	logger           *slog.Logger
	lookup           TemplateLookup
	sesOptions       []func(*sesv2.Options)
	tags             []tag
	problems         problems
}

// WithClient sends through api instead of an SES client built from the config; no AWS
// configuration is loaded. Check needs api to implement CheckAPI as well.
func WithClient(api SESAPI) Option {
	return func(o *options) {
		if api == nil {
			o.problems.add("WithClient", "the client is nil")
		}
		o.client = api
	}
}

// WithEndpoint sends to this endpoint URL instead of SES's regional one: a VPC endpoint, a FIPS
// endpoint, or a local emulator such as "http://127.0.0.1:8005".
func WithEndpoint(url string) Option {
	return func(o *options) {
		u, err := neturl.Parse(url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			o.problems.add("WithEndpoint", fmt.Sprintf("%q is not an http or https URL such as \"https://email.us-east-1.amazonaws.com\"", url))
		}
		o.endpoint = url
	}
}

// WithRetryMaxAttempts sets how many attempts the SDK makes per send, the first included;
// throttling and server errors are retried with backoff. The default is the SDK's (3).
func WithRetryMaxAttempts(n int) Option {
	return func(o *options) {
		if n < 1 {
			o.problems.add("WithRetryMaxAttempts", fmt.Sprintf("%d attempts; give at least 1", n))
		}
		o.retryMaxAttempts = n
	}
}

// WithMaxSendRate limits sends to perSecond on this Connector, e.g. the account's SES
// MaxSendRate, so that bursts wait their turn instead of being throttled. A send waits at most
// until its context is done.
func WithMaxSendRate(perSecond float64) Option {
	return func(o *options) {
		if !(perSecond > 0) || math.IsInf(perSecond, 0) {
			o.problems.add("WithMaxSendRate", fmt.Sprintf("%v messages per second; give a positive number", perSecond))
		}
		o.maxSendRate = perSecond
	}
}

// WithLogger logs one record per send: usage type, masked recipient, message ID or error, and
// duration. Nothing secret is logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTemplateLookup makes fn the first place templates are looked for; the config's templates
// are the fallback. As in Logto, a lookup that fails is logged and the config's templates used.
func WithTemplateLookup(fn TemplateLookup) Option {
	return func(o *options) { o.lookup = fn }
}

// WithSESOptions applies fns to the SES client's options, after every other option: an HTTP
// client, a tracer or meter provider, middleware, any SDK setting.
func WithSESOptions(fns ...func(*sesv2.Options)) Option {
	return func(o *options) { o.sesOptions = append(o.sesOptions, fns...) }
}

// WithTags adds these EmailTags to every send. Names and values follow SES's rule: 1 to 256
// letters, digits, "_" and "-". The name usageType is the library's own.
func WithTags(tags map[string]string) Option {
	return func(o *options) {
		for _, name := range sortedKeys(tags) {
			value := tags[name]
			path := fmt.Sprintf("WithTags[%q]", name)
			switch {
			case !validSESName(name, maxTag):
				o.problems.add(path, "not a tag name: 1 to 256 letters, digits, \"_\" and \"-\"")
			case name == usageTypeTag:
				o.problems.add(path, "reserved: every send with a configuration set carries the usage type under this name")
			case !validSESName(value, maxTag):
				o.problems.add(path, fmt.Sprintf("%q is not a tag value: 1 to 256 letters, digits, \"_\" and \"-\"", value))
			}
			o.tags = append(o.tags, tag{name, value})
		}
	}
}

const maxTag = 256

// Connector sends the config's templates through SES. Build it once with New and share it: it
// is safe for concurrent use and does no per-send setup.
type Connector struct {
	sender    sender
	region    string
	identity  string // the From address, for Check
	templates templateSet
	generic   *compiledTemplate // the Generic template without locale, for SendTest
	client    SESAPI
	limiter   *rate.Limiter // nil: no client-side limit
	logger    *slog.Logger  // nil: no logging
	lookup    TemplateLookup
}

// New validates cfg and the options, prepares the templates, and builds one SES client: from
// WithClient, or from cfg's keys (the default AWS credential chain when both are empty) and
// region. Every problem is reported at once, in an error matching ErrInvalidConfig. New makes
// no network call; credentials from the chain are fetched at the first send.
func New(ctx context.Context, cfg *Config, opts ...Option) (*Connector, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil Context; pass context.Background()", ErrInvalidConfig)
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var ps problems
	var verr *ConfigError
	if errors.As(cfg.Validate(), &verr) {
		ps = verr.Problems
	}
	ps = append(ps, o.problems...)
	if o.client != nil && (o.endpoint != "" || o.retryMaxAttempts != 0 || len(o.sesOptions) > 0) {
		ps.add("WithClient", "WithEndpoint, WithRetryMaxAttempts and WithSESOptions set up the client New builds, and would be ignored; set them on your own client instead")
	}
	if err := ps.err(); err != nil {
		return nil, err
	}

	from, _ := parseMailbox(cfg.EmailAddress) // validated
	c := &Connector{
		sender: sender{
			from:                 formatMailbox(from),
			fromARN:              cfg.EmailAddressIdentityArn,
			feedbackAddress:      cfg.FeedbackForwardingEmailAddress,
			feedbackARN:          cfg.FeedbackForwardingEmailAddressIdentityArn,
			configurationSetName: cfg.ConfigurationSetName,
			tags:                 o.tags,
		},
		region:    cfg.Region,
		identity:  from.Address,
		templates: newTemplateSet(cfg.Templates),
		client:    o.client,
		logger:    o.logger,
		lookup:    o.lookup,
	}
	c.generic = c.templates.find(UsageGeneric, "")
	if o.maxSendRate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.maxSendRate), max(1, int(o.maxSendRate)))
	}
	if c.client == nil {
		client, err := newSESClient(ctx, cfg, &o)
		if err != nil {
			return nil, err
		}
		c.client = client
	}
	return c, nil
}

func newSESClient(ctx context.Context, cfg *Config, o *options) (*sesv2.Client, error) {
	load := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if cfg.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.AccessKeySecret, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the AWS shared configuration: %w", ErrInvalidConfig, err)
	}
	ours := func(so *sesv2.Options) {
		if o.endpoint != "" {
			so.BaseEndpoint = aws.String(o.endpoint)
		}
		if o.retryMaxAttempts > 0 {
			so.RetryMaxAttempts = o.retryMaxAttempts
		}
	}
	return sesv2.NewFromConfig(awsCfg, append([]func(*sesv2.Options){ours}, o.sesOptions...)...), nil
}

// SendMessage renders the template for usage, chosen by payload["locale"], and sends it to one
// recipient. It returns SES's MessageId. A bad recipient, usage type or payload is an
// ErrInvalidParameters and nothing is sent.
func (c *Connector) SendMessage(ctx context.Context, to string, usage UsageType, payload Payload) (string, error) {
	if ctx == nil {
		return "", errNilContext
	}
	start := time.Now()
	in, err := c.Compose(ctx, to, usage, payload)
	if err == nil {
		var id string
		id, err = c.send(ctx, in)
		if err == nil {
			c.logSent(ctx, start, to, usage, id)
			return id, nil
		}
	}
	c.logFailed(ctx, start, to, usage, err)
	return "", err
}

// Compose returns exactly what SendMessage would send, sending nothing: for dry runs, previews
// and tests.
func (c *Connector) Compose(ctx context.Context, to string, usage UsageType, payload Payload) (*sesv2.SendEmailInput, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	if err := checkRecipient(to); err != nil {
		return nil, err
	}
	if !usage.known() {
		return nil, fmt.Errorf("%w: unknown usage type %q; use one of %s", ErrInvalidParameters, usage, usageList())
	}
	locale, ok := payload["locale"].(string)
	if !ok && payload["locale"] != nil {
		return nil, fmt.Errorf("%w: payload locale must be a string such as \"pt-BR\", not %T", ErrInvalidParameters, payload["locale"])
	}
	ct, err := c.template(ctx, usage, locale)
	if err != nil {
		return nil, err
	}
	r, err := ct.render(payload)
	if err != nil {
		return nil, err
	}
	return c.sender.compose(to, usage, ct, r), nil
}

// SendTest sends the Generic template with the code "000000", as Logto's "Test" button does.
func (c *Connector) SendTest(ctx context.Context, to string) (string, error) {
	if ctx == nil {
		return "", errNilContext
	}
	start := time.Now()
	err := checkRecipient(to)
	if err == nil {
		var r rendered
		if r, err = c.generic.render(Payload{"code": "000000"}); err == nil {
			var id string
			if id, err = c.send(ctx, c.sender.compose(to, UsageGeneric, c.generic, r)); err == nil {
				c.logSent(ctx, start, to, UsageGeneric, id)
				return id, nil
			}
		}
	}
	c.logFailed(ctx, start, to, UsageGeneric, err)
	return "", err
}

var errNilContext = fmt.Errorf("%w: nil Context; pass context.Background()", ErrInvalidParameters)

// template chooses the template: the lookup's, then the config's chain for usage and Generic.
func (c *Connector) template(ctx context.Context, usage UsageType, locale string) (*compiledTemplate, error) {
	if c.lookup != nil {
		t, err := c.lookup(ctx, usage, locale)
		switch {
		case err != nil:
			if c.logger != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "sesconnector: template lookup failed; using the config's templates",
					slog.String("usageType", string(usage)), slog.String("locale", locale), slog.String("error", err.Error()))
			}
		case t != nil:
			if err := validateTemplate(t); err != nil {
				return nil, fmt.Errorf("template from WithTemplateLookup for %s, locale %q: %w", usage, locale, err)
			}
			return compileTemplate(t), nil
		}
	}
	if ct := c.templates.find(usage, locale); ct != nil {
		return ct, nil
	}
	return nil, fmt.Errorf("%w: no template for usage type %s, locale %q, and no Generic template", ErrTemplateNotFound, usage, locale)
}

// send waits for the rate limiter, if any, and calls SES.
func (c *Connector) send(ctx context.Context, in *sesv2.SendEmailInput) (string, error) {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("%w: waiting for the send rate limit: %w", ErrSendFailed, ctx.Err())
			}
			// The limiter refuses at once a wait that would outlast the deadline.
			return "", fmt.Errorf("%w: the send rate limit would delay this send past the context deadline: %w", ErrThrottled, context.DeadlineExceeded)
		}
	}
	out, err := c.client.SendEmail(ctx, in)
	if err != nil {
		return "", sendError(err)
	}
	if out == nil {
		return "", nil
	}
	return aws.ToString(out.MessageId), nil
}

func (c *Connector) logSent(ctx context.Context, start time.Time, to string, usage UsageType, id string) {
	if c.logger == nil {
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelInfo, "sesconnector: email sent",
		slog.String("usageType", string(usage)), slog.String("to", maskAddress(to)),
		slog.String("messageId", id), slog.Duration("duration", time.Since(start)))
}

func (c *Connector) logFailed(ctx context.Context, start time.Time, to string, usage UsageType, err error) {
	if c.logger == nil {
		return
	}
	level := slog.LevelWarn // the caller's input
	if errors.Is(err, ErrSendFailed) {
		level = slog.LevelError
	}
	masked := maskAddress(to)
	msg := err.Error()
	if to != "" {
		msg = strings.ReplaceAll(msg, to, masked) // SES quotes recipients in some errors
	}
	c.logger.LogAttrs(ctx, level, "sesconnector: email not sent",
		slog.String("usageType", string(usage)), slog.String("to", masked),
		slog.String("error", msg), slog.Duration("duration", time.Since(start)))
}
