package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

var versionCommand = &command{
	name:    "version",
	summary: "print the command's module version, the library's, and the VCS revision it was built from",
	usage:   "",
	example: `sesconnector version`,
	run:     runVersion,
}

func runVersion(_ context.Context, e *env, c *command, args []string) int {
	fs := c.flags(e)
	if code := c.parseFlags(e, fs, args); code >= 0 {
		return code
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fail(e, c, fmt.Errorf("this binary carries no build information"))
	}
	fmt.Fprintln(e.stdout, versionText(info))
	return exitOK
}

// versionText is the command's module and version, the library's version, and the VCS revision
// and time when the build recorded them (go build in a checkout; go install m@v records none).
func versionText(info *debug.BuildInfo) string {
	text := fmt.Sprintf("%s %s", info.Main.Path, info.Main.Version)
	for _, d := range info.Deps {
		if d.Path == "github.com/sesconnector/sesconnector" {
			text += fmt.Sprintf("\nlibrary %s %s", d.Path, d.Version)
		}
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		text += "\nrevision " + rev
		if t := settings["vcs.time"]; t != "" {
			text += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			text += ", with local changes"
		}
	} else if info.Main.Version == "(devel)" {
		// go build leaves the revision out in a workspace (-buildvcs=auto); go install m@v has a version.
		text += "\nno VCS revision recorded: in a checkout, build with go build -buildvcs=true ./cmd/sesconnector"
	}
	return text + "\n" + info.GoVersion
}
