package sesconnector

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// tenantAPI is what Check asks of the client about the config's tenantName; *sesv2.Client has it.
type tenantAPI interface {
	GetTenant(ctx context.Context, params *sesv2.GetTenantInput, optFns ...func(*sesv2.Options)) (*sesv2.GetTenantOutput, error)
	ListTenantResources(ctx context.Context, params *sesv2.ListTenantResourcesInput, optFns ...func(*sesv2.Options)) (*sesv2.ListTenantResourcesOutput, error)
}

// maxTenantResourcePages bounds the listing of a tenant's resources.
const maxTenantResourcePages = 10

// checkTenant reports, with tenantName, whether the tenant exists and may send, and whether
// the From identity and the configuration set are among its resources: SES refuses a tenant's
// send through a resource the tenant does not hold.
func (c *Connector) checkTenant(ctx context.Context, api CheckAPI, r *Report) (bool, error) {
	name := c.sender.tenantName
	if name == "" {
		return false, nil
	}
	tapi, ok := api.(tenantAPI)
	if !ok {
		r.Notes = append(r.Notes, "the client has no GetTenant: Check could not see the tenant "+name)
		return false, nil
	}
	out, err := answered(tapi.GetTenant(ctx, &sesv2.GetTenantInput{TenantName: &name}))
	switch {
	case isCode(err, "NotFoundException"):
		r.Problems = append(r.Problems, fmt.Sprintf("the tenant %q does not exist in %s: every send would be refused; create it (aws sesv2 create-tenant --tenant-name %s) or fix tenantName", name, r.Region, name))
		return false, nil
	case err != nil:
		c.noteCall(r, "GetTenant", "see the tenant "+name, err)
		return false, nil
	case out.Tenant != nil && out.Tenant.SendingStatus == types.SendingStatusDisabled:
		r.Problems = append(r.Problems, fmt.Sprintf("sending is disabled for the tenant %q in %s: SES paused it (its reputation); see the tenant in the SES console", name, r.Region))
	}

	var arns []string
	in := &sesv2.ListTenantResourcesInput{TenantName: &name}
	for range maxTenantResourcePages {
		res, err := answered(tapi.ListTenantResources(ctx, in))
		if err != nil {
			c.noteCall(r, "ListTenantResources", "see the resources of the tenant "+name, err)
			return false, nil
		}
		for _, tr := range res.TenantResources {
			arns = append(arns, aws.ToString(tr.ResourceArn))
		}
		if res.NextToken == nil {
			break
		}
		in.NextToken = res.NextToken
	}
	holds := func(kind, resource string) bool {
		for _, arn := range arns {
			if strings.HasSuffix(arn, ":"+kind+"/"+resource) {
				return true
			}
		}
		return false
	}
	if identity := r.Identity[strings.LastIndexByte(r.Identity, '/')+1:]; identity != "" && !holds("identity", identity) {
		r.Problems = append(r.Problems, fmt.Sprintf("the identity %s is not a resource of the tenant %q in %s: associate it (aws sesv2 create-tenant-resource-association --tenant-name %s --resource-arn <the identity's ARN>)", identity, name, r.Region, name))
	}
	if set := c.sender.configurationSetName; set != "" && !holds("configuration-set", set) {
		r.Problems = append(r.Problems, fmt.Sprintf("the configuration set %q is not a resource of the tenant %q in %s: associate it (aws sesv2 create-tenant-resource-association --tenant-name %s --resource-arn <the set's ARN>)", set, name, r.Region, name))
	}
	return false, nil
}
