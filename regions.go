package sesconnector

import (
	"fmt"
	"regexp"
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
