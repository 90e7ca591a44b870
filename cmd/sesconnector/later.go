package main

import (
	"context"
	"fmt"
)

var previewCommand = &command{
	name:    "preview",
	summary: "serve a web page of every template, rendered (not built yet)",
	usage:   "-config FILE [-addr 127.0.0.1:8025] [-payload JSON]",
	example: `sesconnector preview -config ses.json`,
	run:     notYet("preview"),
}

func notYet(name string) func(context.Context, *env, *command, []string) int {
	return func(_ context.Context, e *env, c *command, args []string) int {
		if code := c.parse(c.flags(e), args); code >= 0 {
			return code
		}
		fmt.Fprintf(e.stderr, "sesconnector %s: not built yet in this version; see the README\n", name)
		return exitUsage
	}
}
