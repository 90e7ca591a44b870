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
)

// This file holds what Check reports beyond "can it send": what decides whether a code arrives
// in time. The account's enforcement status, the From domain's DKIM, how long SES may retry a
// message, and SES's own recommendations (Virtual Deliverability Manager).

// maxUsefulDelivery is the longest a code's mail is worth retrying: an hour; past it the code
// has expired and a late mail only confuses. suggestedDelivery is what Check suggests.
const (
	maxUsefulDelivery = 3600
	suggestedDelivery = 900
)

// checkEnforcement reports an account SES is reviewing or has shut down.
func (c *Connector) checkEnforcement(r *Report, status string) {
	r.EnforcementStatus = status
	switch status {
	case "PROBATION":
		r.Problems = append(r.Problems, fmt.Sprintf("SES is reviewing the account in %s (enforcement status PROBATION): its bounce or complaint rate passed SES's thresholds; find the cause in the SES console's Reputation metrics and fix it before SES pauses sending", r.Region))
	case "SHUTDOWN":
		r.Problems = append(r.Problems, fmt.Sprintf("SES has shut down sending for the account in %s (enforcement status SHUTDOWN): contact AWS Support", r.Region))
	}
}

// checkDKIM reports the From identity's DKIM signing: without it mail lands in spam or is
// refused (DMARC), and a code does not arrive.
func (c *Connector) checkDKIM(r *Report, name string, out *sesv2.GetEmailIdentityOutput) {
	d := out.DkimAttributes
	switch {
	case d == nil: // not said: nothing to report
	case d.Status == types.DkimStatusFailed || d.Status == types.DkimStatusTemporaryFailure:
		r.Problems = append(r.Problems, fmt.Sprintf("DKIM for %s in %s is %s: SES cannot find its CNAME records; publish the records SES shows for the identity (receivers may send unsigned mail to spam)", name, r.Region, d.Status))
	case d.Status == types.DkimStatusPending || d.Status == types.DkimStatusNotStarted:
		r.Notes = append(r.Notes, fmt.Sprintf("DKIM for %s in %s is %s: publish the CNAME records SES shows for the identity", name, r.Region, d.Status))
	case !d.SigningEnabled:
		r.Notes = append(r.Notes, fmt.Sprintf("DKIM signing is off for %s in %s: turn it on, receivers trust signed mail more", name, r.Region))
	}
}

// checkDeliveryTime reports a configuration set that lets SES retry a message for longer than
// its code lives.
func (c *Connector) checkDeliveryTime(r *Report, name string, out *sesv2.GetConfigurationSetOutput) {
	var seconds int64
	if out.DeliveryOptions != nil {
		seconds = aws.ToInt64(out.DeliveryOptions.MaxDeliverySeconds)
	}
	if seconds > 0 && seconds <= maxUsefulDelivery {
		return
	}
	how := "unset, so SES retries a message for up to 14 hours"
	if seconds > 0 {
		how = fmt.Sprintf("%d s", seconds)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("the configuration set %q lets SES retry a message's delivery for long (MaxDeliverySeconds %s): a code delivered after it expired is worse than none; set %d s: aws sesv2 put-configuration-set-delivery-options --configuration-set-name %s --max-delivery-seconds %d",
		name, how, suggestedDelivery, name, suggestedDelivery))
}

// recommendationsAPI is what Check asks for SES's recommendations; *sesv2.Client has it.
type recommendationsAPI interface {
	ListRecommendations(ctx context.Context, params *sesv2.ListRecommendationsInput, optFns ...func(*sesv2.Options)) (*sesv2.ListRecommendationsOutput, error)
}

// maxRecommendationPages bounds the listing: an account has a few recommendations per identity.
const maxRecommendationPages = 5

// checkRecommendations reports SES's open recommendations (DKIM, SPF, DMARC, BIMI, ...) for the
// From identity, where Virtual Deliverability Manager is on: high impact as problems, low as
// notes.
func (c *Connector) checkRecommendations(ctx context.Context, api CheckAPI, r *Report) (bool, error) {
	if !r.vdmEnabled || r.Identity == "" {
		return false, nil
	}
	rapi, ok := api.(recommendationsAPI)
	if !ok {
		r.Notes = append(r.Notes, "the client has no ListRecommendations: Check could not read SES's deliverability recommendations")
		return false, nil
	}
	identity := r.Identity[strings.LastIndexByte(r.Identity, '/')+1:] // a name, or the name of an identity ARN
	domain := identity[strings.LastIndexByte(identity, '@')+1:]
	in := &sesv2.ListRecommendationsInput{Filter: map[string]string{string(types.ListRecommendationsFilterKeyStatus): string(types.RecommendationStatusOpen)}}
	for range maxRecommendationPages {
		out, err := answered(rapi.ListRecommendations(ctx, in))
		if err != nil {
			c.noteCall(r, "ListRecommendations", "read SES's deliverability recommendations for the identity", err)
			return false, nil
		}
		for _, rec := range out.Recommendations {
			arn := aws.ToString(rec.ResourceArn)
			if !strings.HasSuffix(arn, "identity/"+identity) && !strings.HasSuffix(arn, "identity/"+domain) {
				continue
			}
			text := fmt.Sprintf("SES recommends, for %s (%s, %s impact): %s", arn[strings.LastIndexByte(arn, '/')+1:], rec.Type, rec.Impact, cut(aws.ToString(rec.Description), maxErrorText))
			if rec.Impact == types.RecommendationImpactHigh {
				r.Problems = append(r.Problems, text)
			} else {
				r.Notes = append(r.Notes, text)
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	return false, nil
}

// noteCall records a call that Check only adds information from: what it could not read is a
// note naming the IAM action or the cause, never a problem and never Check's error.
func (c *Connector) noteCall(r *Report, op, purpose string, err error) {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && (apiErr.ErrorCode() == "AccessDeniedException" || apiErr.ErrorCode() == "AccessDenied"):
		r.Notes = append(r.Notes, fmt.Sprintf("access denied to ses:%s: grant it to let Check %s", op, purpose))
	case errors.As(err, &apiErr) && slices.Contains(throttlingCodes, apiErr.ErrorCode()):
		r.Notes = append(r.Notes, fmt.Sprintf("ses:%s was throttled, so Check could not %s; try again", op, purpose))
	default:
		r.Notes = append(r.Notes, fmt.Sprintf("ses:%s failed, so Check could not %s: %s", op, purpose, cut(err.Error(), maxErrorText)))
	}
}
