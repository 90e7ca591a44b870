# The two commands of the README: `make demo` (the main job: a send to a local SES emulator)
# and `make test` (every test). Both install the pinned emulator first. `make test` checks every
# real part first (Go, Node, redis-server, Chromium, promtool, PostgreSQL, moto_server:
# .ci/check-prereqs says how to install what is missing) and fails without them;
# `make test-allow-missing` skips the tests of what is missing instead, and ends with the list
# of every test it skipped.

GO       ?= go
FUZZTIME ?= 4s
EMULATOR := internal/emulator/node_modules/.package-lock.json
GOFILES   = $(shell find . -name '*.go' -not -path '*/node_modules/*')
# The modules of this repository, tied by go.work: the library, and those kept apart so that it
# needs no Redis client, OpenTelemetry, database driver, browser driver or file watcher.
MODULES  := . cmd/sesconnector redislimit sesotel deliverylog examples/authserver internal/release
# Each test that skips for a missing real part (only with SESCONNECTOR_ALLOW_MISSING=1) writes
# a line here; the run ends by printing them.
export SESCONNECTOR_SKIPPED := $(CURDIR)/.skipped-tests

.PHONY: demo test test-allow-missing prereqs tracked emulator moto fmt-check vet unit fuzz release-proof skipped bench perf perf-realistic

demo: $(EMULATOR)
	$(GO) run ./internal/cmd/demo

test: moto prereqs tracked fmt-check vet unit fuzz release-proof skipped

test-allow-missing:
	SESCONNECTOR_ALLOW_MISSING=1 $(MAKE) test

prereqs:
	@bash .ci/check-prereqs || [ "$$SESCONNECTOR_ALLOW_MISSING" = 1 ]

# No build output in git: no tracked binary or executable, nothing over 1 MiB.
tracked:
	@bash .ci/check-tracked

emulator: $(EMULATOR)

# npm ci installs exactly what package-lock.json pins; the stamp npm writes skips it next time.
$(EMULATOR): internal/emulator/package.json internal/emulator/package-lock.json
	npm ci --prefix internal/emulator --no-audit --no-fund

fmt-check:
	@out=$$(gofmt -l $(GOFILES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done

# moto_server emulates SES (with its mailbox simulator), SNS and SQS; pip installs it only where missing.
moto:
	@command -v moto_server >/dev/null || pip install "moto[server]" || true

# Real parts: the SES emulator (npm, pinned), moto_server, and redis-server, Chromium, promtool
# and PostgreSQL (Debian's packages; .ci/run installs them).
unit: $(EMULATOR)
	@rm -f $(SESCONNECTOR_SKIPPED)
	@for m in $(MODULES); do echo "go test -race $$m/..."; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# Each fuzzer runs for FUZZTIME beyond its seed corpus (testdata/fuzz), which `unit` runs too.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzRecipient$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzPlainAddress$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzMaskAddresses$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./feedback
	cd cmd/sesconnector && $(GO) test -run '^$$' -fuzz '^FuzzEMLHeaders$$' -fuzztime $(FUZZTIME) .
	cd deliverylog && $(GO) test -run '^$$' -fuzz '^FuzzMaskAndDSN$$' -fuzztime $(FUZZTIME) .

# RELEASING.md, proven: the modules tagged in order in a scratch clone, served from a file://
# GOPROXY, go-gotten and go-installed by a module outside the repository.
release-proof:
	$(GO) run ./internal/release

# The loud end of a run that skipped tests for missing real parts.
skipped:
	@if [ -s $(SESCONNECTOR_SKIPPED) ]; then \
		echo; echo "==== SKIPPED, NOT PASSED: these tests did not run (a real part is missing) ===="; \
		cat $(SESCONNECTOR_SKIPPED); echo "==== install what .ci/check-prereqs lists and run make test ===="; fi

bench: moto
	$(GO) test -run '^$$' -bench . -benchmem . ./feedback
	cd redislimit && $(GO) test -run '^$$' -bench . -benchmem .
	cd deliverylog && $(GO) test -run '^$$' -bench . -benchmem -benchtime 40x .

# The README's Performance table: the connector, the raw SDK and Logto's connector, side by side.
LOGTO := internal/cmd/sesbench/logto/node_modules/.package-lock.json
perf: $(LOGTO)
	$(GO) run ./internal/cmd/sesbench -logto

# The same over TLS through a loopback proxy adding 0, 20 and 80 ms of round trip, with users
# arriving independently, and cold starts: docs/realistic.md.
perf-realistic: $(LOGTO)
	$(GO) run ./internal/cmd/sesbench -realistic -logto -rounds 3 -duration 3s

$(LOGTO): internal/cmd/sesbench/logto/package.json internal/cmd/sesbench/logto/package-lock.json
	npm ci --prefix internal/cmd/sesbench/logto --no-audit --no-fund
