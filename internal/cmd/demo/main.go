// Command demo is `make demo`: it starts the local SES emulator, runs the README's quickstart
// (examples/quickstart) against it, which sends a SignIn email through the real SES client,
// prints the email as the emulator stored it, and stops the emulator. No AWS account is needed.
//
//	go run ./internal/cmd/demo [-to ADDR] [-keep] [-port 8005]
//
// The emulator listens on 127.0.0.1:8005, the endpoint the README's quickstart line names, or
// on a free port when that one is taken (the demo says so). With -keep the emulator runs on,
// its web viewer's URL printed, until Ctrl-C or SIGTERM. The
// emulator dies with the demo whatever signal ends it, and the demo with the process that
// started it (go run).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sesconnector/sesconnector/internal/emulator"
)

func main() {
	to := flag.String("to", "you@example.com", "the recipient `address`")
	keep := flag.Bool("keep", false, "keep the emulator running, until Ctrl-C, to look at the mail in its web viewer")
	port := flag.Int("port", 8005, "the emulator's `port` on 127.0.0.1 (a free one if it is taken; 0 for a free one)")
	flag.CommandLine.SetOutput(os.Stdout) // -h is asked for
	flag.Parse()
	dieWithParent()
	if err := run(*to, *keep, *port); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(to string, keep bool, port int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if port != 0 {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
			fmt.Printf("127.0.0.1:%d is taken: the emulator gets a free port (use the URL below as -endpoint)\n", port)
			port = 0
		} else {
			l.Close()
		}
	}
	emu, err := emulator.StartOn(ctx, port)
	if err != nil {
		return err
	}
	defer emu.Stop()
	fmt.Printf("SES emulator running at %s\n", emu.URL)

	root := filepath.Join(emulator.Dir(), "..", "..")
	args := []string{"run", "./examples/quickstart", "-config", "examples/config.example.json", "-endpoint", emu.URL, "-to", to}
	fmt.Printf("$ go %s\n", strings.Join(args, " "))
	send := exec.CommandContext(ctx, "go", args...)
	send.Dir = root
	send.Stdout, send.Stderr = os.Stdout, os.Stderr
	if err := send.Run(); err != nil {
		return fmt.Errorf("the quickstart: %w", err)
	}

	store, err := emu.Store()
	if err != nil {
		return err
	}
	var out bytes.Buffer // indented, every value byte for byte as stored
	if err := json.Indent(&out, store, "", "  "); err != nil {
		return fmt.Errorf("the emulator's store is not JSON: %w", err)
	}
	fmt.Printf("The email as the emulator stored it (GET %s/store):\n%s\n", emu.URL, out.String())

	if keep {
		fmt.Printf("Web viewer: %s/ — press Ctrl-C to stop the emulator.\n", emu.URL)
		fmt.Printf("Send more: go run ./cmd/sesconnector send -config examples/config.example.json -to %s -code 654321 -endpoint %s\n", to, emu.URL)
		<-ctx.Done()
	}
	return nil
}
