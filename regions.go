package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// endpointIDPattern is a global endpoint's ID as SES's endpoint rules take it: DNS labels of
// letters, digits and hyphens, separated by dots.
var endpointIDPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// maxTenantName is SES's longest tenant name.
const maxTenantName = 64

// validateRegions checks failoverRegions, endpointId and tenantName.
func validateRegions(c *Config, ps *problems) {
	seen := map[string]int{}
	for i, r := range c.FailoverRegions {
		path := fmt.Sprintf("failoverRegions[%d]", i)
		switch j, dup := seen[r]; {
		case !regionPattern.MatchString(r):
			ps.add(path, fmt.Sprintf("%s is not an AWS region name such as \"us-west-2\"", quote(r)))
		case r == c.Region:
			ps.add(path, fmt.Sprintf("%s is the primary region: list the other regions to fail over to", quote(r)))
		case dup:
			ps.add(path, fmt.Sprintf("repeats failoverRegions[%d]; list each region once", j))
		}
		if _, dup := seen[r]; !dup {
			seen[r] = i
		}
	}
	if c.EndpointID != "" {
		switch {
		case len(c.EndpointID) > 253 || !endpointIDPattern.MatchString(c.EndpointID):
			ps.add("endpointId", fmt.Sprintf("%s is not an SES global endpoint ID: DNS labels of letters, digits and hyphens, such as \"abcd1234.xyz\"", quote(c.EndpointID)))
		case len(c.FailoverRegions) > 0:
			ps.add("endpointId", "not together with failoverRegions: a global endpoint fails over between its own regions; keep one of the two")
		}
	}
	if c.TenantName != "" && !validSESName(c.TenantName, maxTenantName) {
		ps.add("tenantName", fmt.Sprintf("%s is not an SES tenant name: 1 to 64 letters, digits, \"_\" and \"-\"", quote(c.TenantName)))
	}
}

// WithRegionEndpoint sends to url for region instead of AWS's endpoint: local emulators,
// tests. For the config's own region it wins over WithEndpoint.
func WithRegionEndpoint(region, url string) Option {
	return func(o *options) {
		if !regionPattern.MatchString(region) {
			o.problems.add("WithRegionEndpoint", fmt.Sprintf("%s is not an AWS region name such as \"us-west-2\"", quote(region)))
		}
		if msg := endpointProblem(url); msg != "" {
			o.problems.add("WithRegionEndpoint", msg)
		}
		if o.regionEndpoints == nil {
			o.regionEndpoints = map[string]string{}
		}
		o.regionEndpoints[region] = url
	}
}

// How a region that keeps failing is skipped: after this many failed attempts in a row, for
// this long; then one send tries it again (the probe).
const (
	regionFailuresToSkip = 3
	regionSkipFor        = 30 * time.Second
)

// withRegionSkip shortens how long a failing region is skipped: for tests.
func withRegionSkip(d time.Duration) Option {
	return func(o *options) { o.regionSkip = d }
}

// regionTarget is one region a Connector fails over between, with its health.
type regionTarget struct {
	name    string
	client  SESAPI
	skipFor time.Duration

	mu        sync.Mutex
	failures  int       // failed attempts in a row
	skipUntil time.Time // while failures >= regionFailuresToSkip
	probing   bool      // one send is trying it again
}

// targets are the regions a Connector sends to: its one region, or the failover list.
func (c *Connector) targets() []*regionTarget {
	if c.failover != nil {
		return c.failover
	}
	return []*regionTarget{{name: c.region, client: c.client}}
}

// firstRegion is the region a send would go to first.
func (c *Connector) firstRegion() string {
	if order := c.regionOrder(); order != nil {
		return order[0].name
	}
	return c.region
}

// insightsAPIs is each region's InsightsAPI; nil when a client has none (WithClient).
func insightsAPIs(targets []*regionTarget) map[string]InsightsAPI {
	apis := map[string]InsightsAPI{}
	for _, t := range targets {
		api, ok := t.client.(InsightsAPI)
		if !ok {
			return nil
		}
		apis[t.name] = api
	}
	return apis
}

// regionOrder is the order a send tries the regions in: the config's order, regions being
// skipped after the others; nil without failoverRegions.
func (c *Connector) regionOrder() []*regionTarget {
	if c.failover == nil {
		return nil
	}
	now := time.Now()
	order := make([]*regionTarget, 0, len(c.failover))
	var skipped []*regionTarget
	for _, t := range c.failover {
		if t.skipped(now) {
			skipped = append(skipped, t)
		} else {
			order = append(order, t)
		}
	}
	return append(order, skipped...)
}

// skipped reports whether the region is being skipped now.
func (t *regionTarget) skipped(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failures >= regionFailuresToSkip && (now.Before(t.skipUntil) || t.probing)
}

// take says whether this send may try the region: a healthy one, always; one whose skip has
// run out, by one send at a time (the probe); one being skipped, only when every region is
// (last resort, say).
func (t *regionTarget) take(now time.Time, lastResort bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.failures < regionFailuresToSkip || lastResort:
		return true
	case !now.Before(t.skipUntil) && !t.probing:
		t.probing = true
		return true
	}
	return false
}

// done records an attempt: a regional failure counts toward skipping the region; anything
// else (a send, or an answer that refused this message) shows the region works.
func (t *regionTarget) done(now time.Time, regionalFailure bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.probing = false
	if !regionalFailure {
		t.failures = 0
		return
	}
	t.failures++
	if t.failures >= regionFailuresToSkip {
		t.skipUntil = now.Add(t.skipFor)
	}
}

// sendFailover tries the regions of order in turn until one takes the message, within the
// caller's deadline: each attempt but the last gets half the time left. A message SES refused,
// or an answer without a MessageId, is never sent elsewhere. When every region fails the error
// joins each region's, prefixed with its name.
func (c *Connector) sendFailover(ctx context.Context, in *sesv2.SendEmailInput, order []*regionTarget) (string, string, error) {
	allSkipped := order[0].skipped(time.Now())
	var errs []error
	last := ""
	for i, t := range order {
		if ctx.Err() != nil {
			break
		}
		if !t.take(time.Now(), allSkipped) {
			continue
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && i < len(order)-1 {
			actx, cancel = context.WithTimeout(ctx, time.Until(deadline)/2)
		}
		id, err := sendOnce(actx, t.client, in)
		cancel()
		last = t.name
		regional := err != nil && ctx.Err() == nil && regionalFailure(err)
		t.done(time.Now(), regional)
		if !regional {
			return id, t.name, err // sent, refused here (never re-sent elsewhere), or the caller gave up
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.name, err))
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrSendFailed, ctx.Err()))
	}
	return "", last, errors.Join(errs...)
}

// regionalFailure reports a failure that another region may not have: no answer (a
// connection or TLS error, an attempt's timeout), HTTP 5xx after the SDK's retries, or
// throttling. An answer that refused this message (4xx), or one without a MessageId, is not.
func regionalFailure(err error) bool {
	if errors.Is(err, errNoMessageID) {
		return false
	}
	if errors.Is(err, ErrThrottled) {
		return true
	}
	var apiErr smithy.APIError
	if re, ok := httpAnswer(err); ok {
		return re.HTTPStatusCode() >= 500
	}
	return !errors.As(err, &apiErr) // no answer at all
}

// onceSent keeps the SDK from sending a message twice in one region when it may have reached
// SES: with failoverRegions, an attempt that failed after the request may have been written (a
// reset, an EOF, a timeout while waiting for the answer) is not retried there; the send moves
// on to the next region instead, so a lost answer gives at most one copy per region. A
// connection that was never made (a dial error) is retried as before, and so is every answer
// (5xx, throttling).
type onceSent struct{ aws.RetryerV2 }

func (r onceSent) IsErrorRetryable(err error) bool {
	if mayHaveReached(err) {
		return false
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// mayHaveReached reports an attempt that got no answer after its connection was made: SES may
// have taken the request.
func mayHaveReached(err error) bool {
	var sendErr *smithyhttp.RequestSendError
	if !errors.As(err, &sendErr) {
		return false // an answer, or no attempt at all
	}
	var opErr *net.OpError
	return !(errors.As(err, &opErr) && opErr.Op == "dial")
}

// sendOnceFn sets a failover client's retryer to onceSent; it runs after every other option.
func sendOnceFn(so *sesv2.Options) {
	r := so.Retryer
	if r == nil {
		r = retry.NewStandard()
	}
	if v2, ok := r.(aws.RetryerV2); ok {
		so.Retryer = onceSent{v2}
	}
}
