package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	ses "github.com/sesconnector/sesconnector"
)

var checkCommand = &command{
	name:    "check",
	summary: "ask SES, without sending, whether the config can send (sandbox, identity, configuration set)",
	usage:   "-config FILE [-endpoint URL] [-json]",
	example: `sesconnector check -config ses.json    # exit status 1 when SES reports a problem`,
	run:     runCheck,
}

var validateCommand = &command{
	name:    "validate",
	summary: "list every problem of each config file, without calling SES",
	usage:   "FILE...",
	example: `sesconnector validate ses.json staging/ses.json`,
	run:     runValidate,
}

func runCheck(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	conn := addConnectionFlags(fs, "check the account, identity and configuration set at")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if code := c.parseFlags(e, fs, args, "config"); code >= 0 {
		return code
	}
	if msg := conn.check(); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}
	ctx, cancel := context.WithTimeout(ctx, *conn.timeout)
	defer cancel()
	connector, err := conn.connect(ctx)
	if err != nil {
		return fail(e, c, err)
	}
	r, err := connector.Check(ctx)
	if err != nil {
		return fail(e, c, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reportJSON(r)); err != nil {
			return fail(e, c, err)
		}
	} else {
		printReport(e.stdout, r)
		for _, region := range r.Regions {
			fmt.Fprintln(e.stdout)
			printReport(e.stdout, region)
		}
	}
	for _, region := range append([]*ses.Report{r}, r.Regions...) {
		if len(region.Problems) > 0 {
			return exitNo
		}
	}
	return exitOK
}

// jsonReport is the report as check -json prints it: what SES did not answer is null, never
// a zero or a false (or true) that nobody read.
type jsonReport struct {
	Region                string       `json:"region"`
	ProductionAccess      *bool        `json:"productionAccess"`
	SendingEnabled        *bool        `json:"sendingEnabled"`
	MaxSendRate           *float64     `json:"maxSendRate"`
	Max24HourSend         *float64     `json:"max24HourSend"`
	SentLast24Hours       *float64     `json:"sentLast24Hours"`
	EnforcementStatus     *string      `json:"enforcementStatus"` // HEALTHY, PROBATION, SHUTDOWN
	Identity              string       `json:"identity"`
	IdentityVerified      *bool        `json:"identityVerified"`
	ConfigurationSet      *string      `json:"configurationSet"`      // null: none configured
	ConfigurationSetFound *bool        `json:"configurationSetFound"` // null: none configured, or not read
	Problems              []string     `json:"problems"`
	Notes                 []string     `json:"notes"`
	Regions               []jsonReport `json:"regions,omitempty"` // the failover regions
}

func reportJSON(r *ses.Report) jsonReport {
	j := jsonReport{Region: r.Region, Identity: r.Identity, Problems: r.Problems, Notes: r.Notes}
	if j.Problems == nil {
		j.Problems = []string{}
	}
	if j.Notes == nil {
		j.Notes = []string{}
	}
	for _, region := range r.Regions {
		j.Regions = append(j.Regions, reportJSON(region))
	}
	if r.EnforcementStatus != "" {
		j.EnforcementStatus = &r.EnforcementStatus
	}
	if r.AccountRead {
		j.ProductionAccess, j.SendingEnabled = &r.ProductionAccess, &r.SendingEnabled
		j.MaxSendRate, j.Max24HourSend, j.SentLast24Hours = &r.MaxSendRate, &r.Max24HourSend, &r.SentLast24Hours
	}
	if r.IdentityRead {
		j.IdentityVerified = &r.IdentityVerified
	}
	if r.ConfigurationSet != "" {
		j.ConfigurationSet = &r.ConfigurationSet
		if r.ConfigurationSetRead {
			j.ConfigurationSetFound = &r.ConfigurationSetFound
		}
	}
	return j
}

// printReport prints r for a person: what SES did not answer is "unknown", never a zero.
func printReport(w io.Writer, r *ses.Report) {
	yes := func(read, v bool) string {
		switch {
		case !read:
			return "unknown"
		case v:
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "Region:            %s\n", r.Region)
	fmt.Fprintf(w, "Production access: %s\n", yes(r.AccountRead, r.ProductionAccess))
	fmt.Fprintf(w, "Sending enabled:   %s\n", yes(r.AccountRead, r.SendingEnabled))
	enforcement := r.EnforcementStatus
	if enforcement == "" {
		enforcement = "unknown"
	}
	fmt.Fprintf(w, "Enforcement:       %s\n", enforcement)
	if r.AccountRead {
		fmt.Fprintf(w, "Send quota:        %g/s; %g of %g sent in the last 24 hours\n", r.MaxSendRate, r.SentLast24Hours, r.Max24HourSend)
	} else {
		fmt.Fprintf(w, "Send quota:        unknown\n")
	}
	fmt.Fprintf(w, "Identity:          %s (verified: %s)\n", r.Identity, yes(r.IdentityRead, r.IdentityVerified))
	if r.ConfigurationSet == "" {
		fmt.Fprintf(w, "Configuration set: none configured\n")
	} else {
		fmt.Fprintf(w, "Configuration set: %s (found: %s)\n", r.ConfigurationSet, yes(r.ConfigurationSetRead, r.ConfigurationSetFound))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "Ready to send.")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "Problem: %s\n", p)
	}
}

func runValidate(_ context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	if code := c.parse(e, fs, args); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		return c.usageError(e, fs, "give at least one config file")
	}
	status := exitOK
	for _, path := range fs.Args() {
		_, err := ses.LoadConfig(path)
		var cerr *ses.ConfigError
		switch {
		case err == nil:
			fmt.Fprintf(e.stdout, "%s: valid\n", path)
		case errors.As(err, &cerr):
			status = exitNo
			fmt.Fprintf(e.stdout, "%s: %d problem(s)\n", path, len(cerr.Problems))
			for _, p := range cerr.Problems {
				fmt.Fprintf(e.stdout, "  %s\n", p)
			}
		default:
			status = exitNo
			fmt.Fprintln(e.stdout, trimPrefix(err)) // "cannot read PATH: why"
		}
	}
	return status
}
