package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	ses "github.com/sesconnector/sesconnector"
)

var insightsCommand = &command{
	name:    "insights",
	summary: "ask SES whether addresses look deliverable (GetEmailAddressInsights), without sending; exit 1 when the default policy would refuse one",
	usage:   "-config FILE [-endpoint URL] ADDR...",
	example: `sesconnector insights -config ses.json jane@example.com jnae@exmaple.com`,
	run:     runInsights,
}

// runInsights prints a line per address with every verdict, and whether the default policy of
// WithAddressInsights (Valid LOW, or Disposable HIGH) would refuse it. SES charges per address.
func runInsights(ctx context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	conn := addConnectionFlags(fs, "ask for address insights at")
	if code := c.parse(e, fs, args); code >= 0 {
		return code
	}
	if msg := required(fs, "config"); msg != "" {
		return c.usageError(e, fs, "%s", msg)
	}
	if fs.NArg() == 0 {
		return c.usageError(e, fs, "give at least one address")
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
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ADDRESS\tVALID\tSYNTAX\tDNS\tMAILBOX\tDISPOSABLE\tROLE\tRANDOM\tDEFAULT POLICY")
	status := exitOK
	for _, addr := range fs.Args() {
		a, err := connector.AddressInsights(ctx, addr)
		if err != nil {
			w.Flush()
			status = exitNo
			fmt.Fprintf(e.stderr, "sesconnector insights: %s: %s\n", addr, trimPrefix(err))
			continue
		}
		verdict := "send"
		if a.Valid == ses.VerdictLow || a.Disposable == ses.VerdictHigh {
			verdict, status = "refuse", exitNo
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", addr, dash(a.Valid), dash(a.ValidSyntax), dash(a.ValidDNS),
			dash(a.MailboxExists), dash(a.Disposable), dash(a.RoleAddress), dash(a.RandomInput), verdict)
	}
	w.Flush()
	return status
}

func dash(v ses.Verdict) string { return orDash(string(v)) }
