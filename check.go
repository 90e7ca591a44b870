package sesconnector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// CheckAPI is what Check asks of the client beyond SendEmail; *sesv2.Client has it.
type CheckAPI interface {
	GetAccount(ctx context.Context, params *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
	GetEmailIdentity(ctx context.Context, params *sesv2.GetEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.GetEmailIdentityOutput, error)
	GetConfigurationSet(ctx context.Context, params *sesv2.GetConfigurationSetInput, optFns ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error)
}

// Report is what Check found. Problems is empty when the connector is ready to send.
type Report struct {
	Region                string
	ProductionAccess      bool // false: the account is in the SES sandbox, only verified recipients
	SendingEnabled        bool
	MaxSendRate           float64 // messages per second
	Max24HourSend         float64
	SentLast24Hours       float64
	Identity              string // the identity checked (From address, its domain, or the identity ARN)
	IdentityVerified      bool
	ConfigurationSet      string   // the configuration set checked; "" when none is configured
	ConfigurationSetFound bool     // true as well when none is configured
	Problems              []string // each says what is wrong and what to do about it
	Notes                 []string // what Check could not check, and why; not problems

	// What SES answered: where a step got no answer (access denied, say), its fields above
	// are unknown rather than false or zero, and Problems says why.
	AccountRead          bool // ProductionAccess, SendingEnabled and the quota were read
	IdentityRead         bool // IdentityVerified was read
	ConfigurationSetRead bool // ConfigurationSetFound was read (false when none is configured)

	EnforcementStatus string    // GetAccount's: HEALTHY, PROBATION, SHUTDOWN; "" unread
	Regions           []*Report // one per failover region, each checked like the primary

	vdmEnabled bool // Virtual Deliverability Manager is on: SES's recommendations are read
}

// Check asks SES, without sending, whether this connector can send: whether the account is out
// of the sandbox with sending enabled and quota left and not under review (EnforcementStatus),
// whether the From identity is verified in the region and signs with DKIM, whether the
// configuration set exists and stops retrying a message before its code expires, and, where
// Virtual Deliverability Manager is on, SES's recommendations for the identity (DKIM, SPF,
// DMARC, BIMI). With failoverRegions, each failover region is checked like the primary, in
// Regions. Access denied on one of its calls is a
// problem naming the IAM action to grant. The error is only for when SES cannot be asked at all
// (no credentials, no network, a client without CheckAPI); it matches ErrSendFailed, or
// ErrInvalidConfig for the client.
func (c *Connector) Check(ctx context.Context) (*Report, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	targets := c.targets()
	var reports []*Report
	for i, t := range targets {
		api, ok := t.client.(CheckAPI)
		if !ok {
			return nil, fmt.Errorf("%w: the client given to WithClient does not implement CheckAPI (GetAccount, GetEmailIdentity, GetConfigurationSet)", ErrInvalidConfig)
		}
		r, err := c.checkRegion(ctx, api, t.name)
		switch {
		case err != nil && i == 0:
			return nil, err
		case err != nil: // a failover region SES cannot be asked in: a problem of that region
			r = &Report{Region: t.name, Problems: []string{fmt.Sprintf("SES could not be reached in %s, a failover region: %s", t.name, cut(err.Error(), maxErrorText))}}
		}
		reports = append(reports, r)
	}
	if len(reports) > 1 {
		reports[0].Regions = reports[1:]
	}
	return reports[0], nil
}

// checkRegion runs every step of Check against one region's client.
func (c *Connector) checkRegion(ctx context.Context, api CheckAPI, region string) (*Report, error) {
	r := &Report{Region: region, ConfigurationSet: c.sender.configurationSetName, ConfigurationSetFound: c.sender.configurationSetName == ""}
	steps := []func(context.Context, CheckAPI, *Report) (stop bool, err error){
		c.checkAccount, c.checkIdentity, c.checkConfigurationSet, c.checkSuppressionAccess, c.checkRecommendations, c.checkTenant,
	}
	for _, step := range steps {
		stop, err := step(ctx, api, r)
		if err != nil {
			return nil, err
		}
		if stop {
			break
		}
	}
	return r, nil
}

func (c *Connector) checkAccount(ctx context.Context, api CheckAPI, r *Report) (bool, error) {
	out, err := answered(api.GetAccount(ctx, &sesv2.GetAccountInput{}))
	if err != nil {
		return c.callProblem(r, "GetAccount", "read the account's sandbox status and quota", err)
	}
	r.AccountRead = true
	r.ProductionAccess, r.SendingEnabled = out.ProductionAccessEnabled, out.SendingEnabled
	c.checkEnforcement(r, aws.ToString(out.EnforcementStatus))
	r.vdmEnabled = out.VdmAttributes != nil && out.VdmAttributes.VdmEnabled == types.FeatureStatusEnabled
	if q := out.SendQuota; q != nil {
		r.MaxSendRate, r.Max24HourSend, r.SentLast24Hours = q.MaxSendRate, q.Max24HourSend, q.SentLast24Hours
	}
	if !r.ProductionAccess {
		r.Problems = append(r.Problems, fmt.Sprintf("the account is in the SES sandbox in %s: only verified recipients receive mail; request production access (SES console, Account dashboard)", r.Region))
	}
	if !r.SendingEnabled && r.EnforcementStatus != "SHUTDOWN" {
		status := aws.ToString(out.EnforcementStatus)
		r.Problems = append(r.Problems, fmt.Sprintf("sending is paused for the account in %s (enforcement status %q): see the SES console's Reputation metrics, fix the cause, then resume sending or contact AWS Support", r.Region, status))
	}
	if r.Max24HourSend > 0 && r.SentLast24Hours >= r.Max24HourSend {
		r.Problems = append(r.Problems, fmt.Sprintf("the 24-hour sending quota in %s is used up (%.0f of %.0f): wait, or request a higher quota", r.Region, r.SentLast24Hours, r.Max24HourSend))
	}
	return false, nil
}

func (c *Connector) checkIdentity(ctx context.Context, api CheckAPI, r *Report) (bool, error) {
	if arn := c.sender.fromARN; arn != "" {
		r.Identity = arn
		name := arn[strings.IndexByte(arn, '/')+1:] // arn:...:identity/NAME, validated
		out, err := answered(api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &name}))
		if isCode(err, "NotFoundException") {
			r.Notes = append(r.Notes, fmt.Sprintf("the identity %s is not in this account's %s identities: Check cannot see another account's identities; its owner must allow this account to send with a sending authorization policy", arn, r.Region))
			return false, nil
		}
		if err != nil {
			return c.callProblem(r, "GetEmailIdentity", "check the From identity", err)
		}
		c.verified(r, arn, out)
		return false, nil
	}

	address := c.identity
	domain := address[strings.LastIndexByte(address, '@')+1:]
	r.Identity = address
	out, err := answered(api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &address}))
	switch {
	case err == nil && out.VerifiedForSendingStatus:
		r.IdentityRead, r.IdentityVerified = true, true
		c.checkDKIM(r, address, out)
		return false, nil
	case err != nil && !isCode(err, "NotFoundException"):
		return c.callProblem(r, "GetEmailIdentity", "check the From identity", err)
	}
	addressPending := err == nil // the address is an identity, but not verified
	domainOut, derr := answered(api.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &domain}))
	switch {
	case derr == nil && domainOut.VerifiedForSendingStatus:
		r.Identity, r.IdentityRead, r.IdentityVerified = domain, true, true
		c.checkDKIM(r, domain, domainOut)
		if addressPending {
			r.Notes = append(r.Notes, fmt.Sprintf("the address identity %s is not verified (%s), but its domain %s is: mail is sent under the domain's verification", address, out.VerificationStatus, domain))
		}
	case addressPending:
		c.verified(r, address, out)
	case derr == nil:
		c.verified(r, domain, domainOut)
	case isCode(derr, "NotFoundException"):
		r.IdentityRead = true
		r.Problems = append(r.Problems, fmt.Sprintf("neither %s nor its domain %s is an SES identity in %s: verify one of them (SES console, Identities, Create identity), in the region of the config", address, domain, r.Region))
	default:
		return c.callProblem(r, "GetEmailIdentity", "check the From identity", derr)
	}
	return false, nil
}

// verified records an identity that exists, with a problem if it is not verified for sending.
func (c *Connector) verified(r *Report, name string, out *sesv2.GetEmailIdentityOutput) {
	r.Identity, r.IdentityRead, r.IdentityVerified = name, true, out.VerifiedForSendingStatus
	if out.VerifiedForSendingStatus {
		c.checkDKIM(r, name, out)
		return
	}
	switch out.VerificationStatus {
	case types.VerificationStatusPending, types.VerificationStatusNotStarted:
		how := "click the link in the verification email SES sent to it"
		if out.IdentityType == types.IdentityTypeDomain {
			how = "publish the DKIM CNAME records SES shows for it in the domain's DNS"
		}
		r.Problems = append(r.Problems, fmt.Sprintf("the identity %s in %s is not verified yet (%s): %s", name, r.Region, out.VerificationStatus, how))
	case types.VerificationStatusSuccess:
		// Verified, yet not for sending: SES's two fields disagree (moto answers so for every
		// identity). Sends will tell; say what to look at if they are refused.
		r.Notes = append(r.Notes, fmt.Sprintf("the identity %s in %s is verified (SUCCESS) but SES does not mark it verified for sending: if sends from it are refused with MessageRejected, look at the identity in the SES console (its DKIM and MAIL FROM settings)", name, r.Region))
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("the identity %s in %s is not verified for sending (%s): check it in the SES console and verify it again", name, r.Region, out.VerificationStatus))
	}
}

func (c *Connector) checkConfigurationSet(ctx context.Context, api CheckAPI, r *Report) (bool, error) {
	name := c.sender.configurationSetName
	if name == "" {
		return false, nil
	}
	out, err := answered(api.GetConfigurationSet(ctx, &sesv2.GetConfigurationSetInput{ConfigurationSetName: &name}))
	if isCode(err, "NotFoundException") {
		r.ConfigurationSetRead = true
		r.Problems = append(r.Problems, fmt.Sprintf("the configuration set %q does not exist in %s: every send would be refused; create it or fix configurationSetName", name, r.Region))
		return false, nil
	}
	if err != nil {
		return c.callProblem(r, "GetConfigurationSet", "check the configuration set", err)
	}
	r.ConfigurationSetRead, r.ConfigurationSetFound = true, true
	if out.SendingOptions != nil && !out.SendingOptions.SendingEnabled {
		r.Problems = append(r.Problems, fmt.Sprintf("sending is disabled for the configuration set %q in %s: enable it, or use another", name, r.Region))
	}
	c.checkDeliveryTime(r, name, out)
	return false, nil
}

// checkSuppressionAccess asks, with WithSuppressionCheck, whether these credentials may read
// the suppression list: without ses:GetSuppressedDestination every send goes unchecked.
func (c *Connector) checkSuppressionAccess(ctx context.Context, _ CheckAPI, r *Report) (bool, error) {
	if c.suppression == nil {
		return false, nil
	}
	probe := c.identity // any address will do: NotFound is an answer
	_, err := c.suppression.apis[r.Region].GetSuppressedDestination(ctx, &sesv2.GetSuppressedDestinationInput{EmailAddress: &probe})
	switch {
	case err == nil || isCode(err, "NotFoundException"):
	case isCode(err, "AccessDeniedException") || isCode(err, "AccessDenied"):
		r.Problems = append(r.Problems, "access denied to ses:GetSuppressedDestination: WithSuppressionCheck cannot see the suppression list, so every send goes ahead unchecked; grant it to the credentials that send")
	default:
		return c.callProblem(r, "GetSuppressedDestination", "see the suppression list (WithSuppressionCheck)", err)
	}
	return false, nil
}

// credentialCodes are SES's answers to credentials it does not accept.
var credentialCodes = []string{"UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "IncompleteSignature", "ExpiredToken", "ExpiredTokenException", "InvalidSignatureException"}

// callProblem turns a failed call into a problem when SES answered it, and into Check's error
// when SES could not be asked. Rejected credentials stop the check: every call would fail alike.
func (c *Connector) callProblem(r *Report, op, purpose string, err error) (bool, error) {
	if errors.Is(err, errNoAnswer) {
		r.Problems = append(r.Problems, fmt.Sprintf("ses:%s gave an empty answer, so Check could not %s", op, purpose))
		return false, nil
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		answered, ok := httpAnswer(err)
		if !ok {
			return true, &kindError{text: fmt.Sprintf("sesconnector: SES could not be reached (%s): %s", op, cut(err.Error(), maxErrorText)), kind: ErrSendFailed, cause: err}
		}
		r.Problems = append(r.Problems, fmt.Sprintf("ses:%s failed, so Check could not %s: HTTP %d: %v", op, purpose, answered.HTTPStatusCode(), answered.Err))
		return false, nil
	}
	code := apiErr.ErrorCode()
	switch {
	case code == "AccessDeniedException" || code == "AccessDenied":
		r.Problems = append(r.Problems, fmt.Sprintf("access denied to ses:%s: grant it to these credentials to let Check %s (sending does not need it)", op, purpose))
	case slices.Contains(credentialCodes, code):
		r.Problems = append(r.Problems, fmt.Sprintf("SES rejected the credentials (%s: %s): check accessKeyId and accessKeySecret, or the default credential chain", code, apiErr.ErrorMessage()))
		return true, nil
	default:
		r.Problems = append(r.Problems, fmt.Sprintf("ses:%s failed, so Check could not %s: %s: %s", op, purpose, code, apiErr.ErrorMessage()))
	}
	return false, nil
}

// errNoAnswer stands for a call that returned neither an answer nor an error.
var errNoAnswer = errors.New("no answer and no error")

// answered turns a (nil, nil) answer, which a hand-written CheckAPI may give, into errNoAnswer.
func answered[T any](out *T, err error) (*T, error) {
	if err == nil && out == nil {
		return nil, errNoAnswer
	}
	return out, err
}

func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

// httpAnswer returns the HTTP response error of a call that got an answer that is no SES error.
func httpAnswer(err error) (*smithyhttp.ResponseError, bool) {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil || re.HTTPStatusCode() == 0 {
		return nil, false
	}
	return re, true
}
