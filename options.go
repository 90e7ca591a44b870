package sesconnector

import (
	"fmt"
	"log/slog"
	"math"
	neturl "net/url"
	"reflect"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// Option changes how New builds a Connector. An option given an invalid value makes New fail
// with ErrInvalidConfig.
type Option func(*options)

type options struct {
	client             SESAPI
	endpoint           string
	retryMaxAttempts   int
	maxSendRate        float64
	logger             *slog.Logger
	lookup             TemplateLookup
	sesOptions         []func(*sesv2.Options)
	tags               []tag
	recipientLimit     RecipientLimiter
	suppressionTTL     time.Duration
	suppressionTimeout time.Duration
	limiterTimeout     time.Duration
	keepTracking       bool
	observers          []Observer
	insights           *InsightsPolicy
	sendRate           SendRateLimiter
	awsConfig          *aws.Config       // WithAWSConfig
	regionEndpoints    map[string]string // WithRegionEndpoint
	regionSkip         time.Duration     // withRegionSkip: tests
	problems           problems
}

// WithClient sends through api instead of an SES client built from the config; no AWS
// configuration is loaded. Check needs api to implement CheckAPI as well. A nil api, typed
// or not, is an ErrInvalidConfig from New.
func WithClient(api SESAPI) Option {
	return func(o *options) {
		if isNil(api) {
			o.problems.add("WithClient", fmt.Sprintf("the client is nil (%T); pass a built client such as sesv2.NewFromConfig(cfg)", api))
		}
		o.client = api
	}
}

// WithAWSConfig builds the SES clients from cfg — its credential chain, retryer, HTTP client,
// middleware and instrumentation (otelaws, say) — instead of loading the shared configuration;
// each region's client overrides only the region (and endpoint), and the HTTP client is used
// as it is (New sizes the pool only of a client it builds itself: docs/performance.md). The
// Config's accessKeyId and accessKeySecret, when set, still win. Failover, Check and Warm work
// as with New's own client. cfg must have Credentials, or the Config keys: New says so
// otherwise.
func WithAWSConfig(cfg aws.Config) Option {
	return func(o *options) {
		c := cfg.Copy()
		o.awsConfig = &c
	}
}

// isNil reports whether v is nil or holds a nil pointer, map, slice, func or channel.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// WithEndpoint sends to this endpoint URL instead of SES's regional one: a VPC endpoint, a FIPS
// endpoint, or a local emulator such as "http://127.0.0.1:8005". An emulator still needs
// credentials: give the config any static keys (accessKeyId and accessKeySecret), or the SDK
// looks for them in the default chain and, on a machine without any, fails on the instance
// metadata service.
func WithEndpoint(url string) Option {
	return func(o *options) {
		if msg := endpointProblem(url); msg != "" {
			o.problems.add("WithEndpoint", msg)
		}
		o.endpoint = url
	}
}

// endpointProblem says what is wrong with an endpoint URL, or "".
func endpointProblem(url string) string {
	u, err := neturl.Parse(url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%s is not an http or https URL such as \"https://email.us-east-1.amazonaws.com\"", quote(url))
	}
	return ""
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
// MaxSendRate, so that bursts wait their turn instead of being throttled: no window of one
// second carries more than ceil(perSecond) sends, a burst of that many goes at once, and the
// long-run rate is perSecond. The limit keeps the start times of the last ceil(perSecond)
// sends, so perSecond is at most 100,000; it is at least one a day (1/86,400). A send waits at most until its context is done, and is refused
// at once with ErrThrottled when its context's deadline would come first.
func WithMaxSendRate(perSecond float64) Option {
	return func(o *options) {
		switch {
		case !(perSecond > 0) || math.IsInf(perSecond, 0):
			o.problems.add("WithMaxSendRate", fmt.Sprintf("%v messages per second; give a positive number", perSecond))
		case perSecond < minSendRateLimit:
			o.problems.add("WithMaxSendRate", fmt.Sprintf("%v messages per second is under one a day (%.6g); give the account's MaxSendRate", perSecond, minSendRateLimit))
		case perSecond > maxSendRateLimit:
			o.problems.add("WithMaxSendRate", fmt.Sprintf("%v messages per second is over the %d this limit holds exactly; SES quotas are far below it", perSecond, maxSendRateLimit))
		}
		o.maxSendRate = perSecond
	}
}

// maxSendRateLimit bounds WithMaxSendRate: its memory is 24 bytes a send per second.
const maxSendRateLimit = 100_000

// minSendRateLimit is one send a day: below it the window overflows a time.Duration.
const minSendRateLimit = 1.0 / 86_400

// WithLogger logs one record per send: usage type, masked recipient (j***@example.com), message
// ID or error, and duration. No recipient appears in any other form, and nothing secret is
// logged. A nil l logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTemplateLookup makes fn the first place templates are looked for; the config's templates
// are the fallback. As in Logto, a lookup that fails is logged and the config's templates used.
// fn gets the locale normalized ("pt-br"); a template it returns without a usage type is for
// the usage asked for.
func WithTemplateLookup(fn TemplateLookup) Option {
	return func(o *options) {
		if fn == nil {
			o.problems.add("WithTemplateLookup", "the function is nil")
		}
		o.lookup = fn
	}
}

// WithSESOptions applies fns to the SES client's options, after every other option: an HTTP
// client, a tracer or meter provider, middleware, any SDK setting.
func WithSESOptions(fns ...func(*sesv2.Options)) Option {
	return func(o *options) {
		for i, fn := range fns {
			if fn == nil {
				o.problems.add("WithSESOptions", fmt.Sprintf("function %d of %d is nil", i+1, len(fns)))
			}
		}
		o.sesOptions = append(o.sesOptions, fns...)
	}
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

// WithTracking keeps the open and click tracking of the configuration set (or the account).
// Without it every send turns both off for its message (ConfigurationOverrides.Tracking):
// SES rewriting a sign-in link into a tracking redirect breaks it for users with ad blockers
// and lets mail scanners consume it.
func WithTracking() Option {
	return func(o *options) { o.keepTracking = true }
}
