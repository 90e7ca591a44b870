package sesconnector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// SESAPI is the part of the SES v2 client that sending needs. *sesv2.Client satisfies it; tests
// pass a mock.
type SESAPI interface {
	SendEmail(ctx context.Context, params *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// TemplateLookup finds a template outside the config, in a database say. It returns nil, nil
// when it has none for the usage type and locale. Its templates are validated like the config's.
type TemplateLookup func(ctx context.Context, usage UsageType, locale string) (*Template, error)

// Connector sends the config's templates through SES. Build it once with New and share it: it
// is safe for concurrent use and does no per-send setup.
type Connector struct {
	sender    sender
	region    string
	identity  string // the From address, for Check
	templates templateSet
	client    SESAPI
	limiter   *sendRate    // nil: no client-side limit
	shared    *sharedRate  // nil: no send rate shared with other replicas
	logger    *slog.Logger // nil: no logging
	lookup    TemplateLookup

	recipients  *recipientGate    // nil: no per-recipient limit
	suppression *suppressionCheck // nil: no suppression check
	observers   []Observer        // WithObserver
	failover    []*regionTarget   // the region, then failoverRegions; nil without failoverRegions
	insights    *insightsCheck    // nil: the client has no GetEmailAddressInsights
	checkOnSend bool              // WithAddressInsights: insights asked before the policy's sends
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
	for i, opt := range opts {
		if opt == nil {
			o.problems.add("New", fmt.Sprintf("option %d of %d is nil", i+1, len(opts)))
			continue
		}
		opt(&o)
	}
	var ps problems
	var verr *ConfigError
	if errors.As(cfg.Validate(), &verr) {
		ps = verr.Problems
	}
	ps = append(ps, o.problems...)
	if o.client != nil && cfg != nil && len(cfg.FailoverRegions) > 0 {
		ps.add("WithClient", "one client cannot fail over between regions: drop failoverRegions, or let New build the clients (WithRegionEndpoint points a region elsewhere)")
	}
	if o.client != nil && o.awsConfig != nil {
		ps.add("WithAWSConfig", "WithClient gives the client itself: give one of WithClient and WithAWSConfig")
	}
	if o.awsConfig != nil && o.awsConfig.Credentials == nil && cfg != nil && cfg.AccessKeyID == "" {
		ps.add("WithAWSConfig", "the aws.Config has no Credentials: load it with config.LoadDefaultConfig, or set accessKeyId and accessKeySecret in the config")
	}
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
			feedbackAddress:      wireMailbox(cfg.FeedbackForwardingEmailAddress),
			feedbackARN:          cfg.FeedbackForwardingEmailAddressIdentityArn,
			configurationSetName: cfg.ConfigurationSetName,
			endpointID:           cfg.EndpointID,
			tenantName:           cfg.TenantName,
			tags:                 o.tags,
			keepTracking:         o.keepTracking,
		},
		region:    cfg.Region,
		identity:  from.Address,
		templates: newTemplateSet(cfg.Templates),
		client:    o.client,
		logger:    o.logger,
		lookup:    o.lookup,
		observers: o.observers,
	}
	if o.maxSendRate > 0 {
		c.limiter = newSendRate(o.maxSendRate)
	}
	if o.recipientLimit != nil {
		c.recipients = newRecipientGate(o.recipientLimit, o.limiterTimeout)
	}
	if o.sendRate != nil {
		c.shared = newSharedRate(o.sendRate, o.limiterTimeout)
	}
	if c.client == nil {
		clients, err := newSESClients(ctx, cfg, &o)
		if err != nil {
			return nil, err
		}
		c.client = clients[0]
		if len(clients) > 1 {
			skip := cmp.Or(o.regionSkip, regionSkipFor)
			for i, name := range append([]string{cfg.Region}, cfg.FailoverRegions...) {
				c.failover = append(c.failover, &regionTarget{name: name, client: clients[i], skipFor: skip})
			}
		}
	}
	if o.suppressionTTL > 0 {
		apis := map[string]SuppressionAPI{}
		for _, t := range c.targets() {
			api, ok := t.client.(SuppressionAPI)
			if !ok {
				return nil, &ConfigError{Problems: []Problem{{Path: "WithSuppressionCheck", Message: "the client given to WithClient has no GetSuppressedDestination (SuppressionAPI)"}}}
			}
			apis[t.name] = api
		}
		c.suppression = newSuppressionCheck(apis, o.suppressionTTL, o.suppressionTimeout, cfg.TenantName)
	}
	if apis := insightsAPIs(c.targets()); apis != nil {
		policy := InsightsPolicy{}
		if o.insights != nil {
			policy = *o.insights
		}
		c.insights, c.checkOnSend = newInsightsCheck(apis, policy), o.insights != nil
	} else if o.insights != nil {
		return nil, &ConfigError{Problems: []Problem{{Path: "WithAddressInsights", Message: "the client given to WithClient has no GetEmailAddressInsights (InsightsAPI)"}}}
	}
	return c, nil
}

// newSESClients builds the SES client of cfg's region, then one for each failover region, all
// with the same credentials, HTTP client and options: from the aws.Config of WithAWSConfig, or
// from the shared configuration.
func newSESClients(ctx context.Context, cfg *Config, o *options) ([]SESAPI, error) {
	awsCfg, err := baseAWSConfig(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	var clients []SESAPI
	for i, region := range append([]string{cfg.Region}, cfg.FailoverRegions...) {
		endpoint := o.regionEndpoints[region]
		if endpoint == "" && i == 0 {
			endpoint = o.endpoint
		}
		ours := func(so *sesv2.Options) {
			so.Region = region
			if endpoint != "" {
				so.BaseEndpoint = aws.String(endpoint)
			}
			if o.retryMaxAttempts > 0 {
				so.RetryMaxAttempts = o.retryMaxAttempts
			}
		}
		fns := append([]func(*sesv2.Options){ours}, o.sesOptions...)
		if len(cfg.FailoverRegions) > 0 {
			fns = append(fns, sendOnceFn) // a lost answer: the next region, not the same one again
		}
		clients = append(clients, sesv2.NewFromConfig(awsCfg, fns...))
	}
	return clients, nil
}

// baseAWSConfig is the aws.Config the clients are built from, in cfg's region, with cfg's keys
// when it has them: WithAWSConfig's as it is otherwise (its HTTP client is the user's), or the
// shared configuration with a connection pool sized for concurrent sends.
func baseAWSConfig(ctx context.Context, cfg *Config, o *options) (aws.Config, error) {
	var static aws.CredentialsProvider
	if cfg.AccessKeyID != "" {
		static = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, string(cfg.AccessKeySecret), "")
	}
	if o.awsConfig != nil {
		awsCfg := *o.awsConfig // WithAWSConfig copied it; only fields are set here
		awsCfg.Region = cfg.Region
		if static != nil {
			awsCfg.Credentials = static
		}
		return awsCfg, nil
	}
	load := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	if static != nil {
		load = append(load, config.WithCredentialsProvider(static))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%w: loading the AWS shared configuration: %w", ErrInvalidConfig, err)
	}
	awsCfg.HTTPClient = sizedForConcurrency(awsCfg.HTTPClient)
	return awsCfg, nil
}

// SendMessage renders the template for usage, chosen by payload["locale"], and sends it to one
// recipient. It returns SES's MessageId. A bad recipient, usage type or payload is an
// ErrInvalidParameters and nothing is sent.
func (c *Connector) SendMessage(ctx context.Context, to string, usage UsageType, payload Payload) (string, error) {
	if ctx == nil {
		return "", errNilContext
	}
	start := time.Now()
	var info SendInfo
	if c.observers != nil {
		locale, _ := payload["locale"].(string)
		info = SendInfo{Usage: usage, Locale: payloadLocale(locale), To: to}
		ctx = c.observeStart(ctx, info)
	}
	id, tr, err := c.sendMessage(ctx, to, usage, payload)
	if c.observers != nil {
		c.observeDone(ctx, info, start, id, tr, err)
	}
	if err != nil {
		c.logFailed(ctx, start, to, usage, err)
		return "", err
	}
	c.logSent(ctx, start, to, usage, id)
	return id, nil
}

// sendMessage composes, passes the recipient limit, the suppression check and the address
// insights, and sends, in that order: a request that is not valid does not count against the
// recipient, and the paid insights are asked last.
func (c *Connector) sendMessage(ctx context.Context, to string, usage UsageType, payload Payload) (string, sendTrace, error) {
	var tr sendTrace
	in, ct, err := c.compose(ctx, to, usage, payload)
	if ct != nil {
		tr.template, tr.locale = ct.name, ct.locale
	}
	if err != nil {
		return "", tr, err
	}
	if c.recipients != nil {
		if err := c.recipients.allow(ctx, to, c.logger); err != nil {
			return "", tr, err
		}
	}
	order := c.regionOrder() // nil without failoverRegions
	region := c.region       // the suppression list and the insights are asked where the send goes first
	if order != nil {
		region = order[0].name
	}
	if c.suppression != nil {
		if err := c.suppression.check(ctx, region, to, c.logger); err != nil {
			return "", tr, err
		}
	}
	if c.checkOnSend {
		if err := c.insights.check(ctx, region, to, usage, c.logger); err != nil {
			return "", tr, err
		}
	}
	id, region, err := c.send(ctx, in, order)
	tr.region = region
	return id, tr, err
}

// Compose returns exactly what SendMessage would send, sending nothing: for dry runs, previews
// and tests.
func (c *Connector) Compose(ctx context.Context, to string, usage UsageType, payload Payload) (*sesv2.SendEmailInput, error) {
	in, _, err := c.compose(ctx, to, usage, payload)
	return in, err
}

// compose builds the request, and says which template it chose (nil when none was).
func (c *Connector) compose(ctx context.Context, to string, usage UsageType, payload Payload) (*sesv2.SendEmailInput, *compiledTemplate, error) {
	if ctx == nil {
		return nil, nil, errNilContext
	}
	if err := checkRecipient(to); err != nil {
		return nil, nil, err
	}
	if !usage.known() {
		return nil, nil, fmt.Errorf("%w: unknown usage type %q; use one of %s", ErrInvalidParameters, usage, usageList())
	}
	locale, ok := payload["locale"].(string)
	if !ok && payload["locale"] != nil {
		return nil, nil, fmt.Errorf("%w: payload locale must be a string such as \"pt-BR\", not %T", ErrInvalidParameters, payload["locale"])
	}
	ct, err := c.template(ctx, usage, payloadLocale(locale))
	if err != nil {
		return nil, nil, err
	}
	r, err := ct.render(payload)
	if err != nil {
		return nil, ct, err
	}
	return c.sender.compose(to, usage, ct, r), ct, nil
}

// SendTest sends the Generic template with the code "000000", as Logto's "Test" button does:
// through WithTemplateLookup first, like any other send.
func (c *Connector) SendTest(ctx context.Context, to string) (string, error) {
	return c.SendMessage(ctx, to, UsageGeneric, Payload{"code": "000000"})
}

var errNilContext = fmt.Errorf("%w: nil Context; pass context.Background()", ErrInvalidParameters)

// template chooses the template for usage and a normalized locale: the lookup's, then the
// config's chain for usage and Generic.
func (c *Connector) template(ctx context.Context, usage UsageType, locale string) (*compiledTemplate, error) {
	if c.lookup != nil {
		t, err := c.lookup(ctx, usage, locale)
		switch {
		case err != nil:
			if c.logger != nil {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "sesconnector: template lookup failed; using the config's templates",
					slog.String("usageType", string(usage)), slog.String("locale", locale), slog.String("error", cut(err.Error(), maxErrorText)))
			}
		case t != nil:
			return lookupTemplate(t, usage, locale)
		}
	}
	if ct := c.templates.find(usage, locale); ct != nil {
		return ct, nil
	}
	return nil, fmt.Errorf("%w: no template for usage type %s, locale %q, and no Generic template", ErrTemplateNotFound, usage, locale)
}

// send waits for the shared and the process's rate limiters, if any, and calls SES, in the
// regions of order when it fails over; it says which region it called last ("" for none).
// Success is a MessageId: an answer without one is an error, since the caller would believe a
// code was sent.
func (c *Connector) send(ctx context.Context, in *sesv2.SendEmailInput, order []*regionTarget) (string, string, error) {
	if c.shared != nil {
		if err := c.shared.wait(ctx, c.logger); err != nil {
			return "", "", err
		}
	}
	if c.limiter != nil {
		if err := c.limiter.wait(ctx); err != nil {
			return "", "", err
		}
	}
	if order != nil {
		return c.sendFailover(ctx, in, order)
	}
	id, err := sendOnce(ctx, c.client, in)
	return id, c.region, err
}

// sendOnce is one SendEmail call, its error classified.
func sendOnce(ctx context.Context, client SESAPI, in *sesv2.SendEmailInput) (string, error) {
	out, err := client.SendEmail(ctx, in)
	if err != nil {
		return "", sendError(err)
	}
	if out == nil || aws.ToString(out.MessageId) == "" {
		return "", errNoMessageID
	}
	return *out.MessageId, nil
}

func (c *Connector) logSent(ctx context.Context, start time.Time, to string, usage UsageType, id string) {
	if c.logger == nil {
		return
	}
	c.logger.LogAttrs(ctx, slog.LevelInfo, "sesconnector: email sent",
		slog.String("usageType", string(usage)), slog.String("to", MaskAddress(to)),
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
	masked := MaskAddress(to)
	var msg string
	if re := (*recipientError)(nil); errors.As(err, &re) {
		msg = re.logText()
	} else {
		msg = maskIn(cut(err.Error(), maxErrorText), to) // SES quotes recipients in some errors
	}
	c.logger.LogAttrs(ctx, level, "sesconnector: email not sent",
		slog.String("usageType", string(usage)), slog.String("to", masked),
		slog.String("error", msg), slog.Duration("duration", time.Since(start)))
}
