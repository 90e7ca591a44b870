# The two commands of the README: `make demo` (the main job: a send to a local SES emulator)
# and `make test` (every test). Both install the pinned emulator first; `make test` also needs
# redis-server on the PATH (Debian: apt-get install redis-server), as .ci/run installs it.

GO       ?= go
FUZZTIME ?= 4s
EMULATOR := internal/emulator/node_modules/.package-lock.json
GOFILES   = $(shell find . -name '*.go' -not -path '*/node_modules/*')
# The modules of this repository: the library, and those kept apart so that it needs no Redis client.
MODULES  := . redislimit examples/authserver

.PHONY: demo test emulator moto fmt-check vet unit fuzz bench perf perf-realistic

demo: $(EMULATOR)
	$(GO) run ./internal/cmd/demo

test: fmt-check vet unit fuzz

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
	@command -v moto_server >/dev/null || pip install "moto[server]"

# Real parts: the SES emulator (npm, pinned), moto_server, and redis-server (Debian's package;
# .ci/run installs it).
unit: $(EMULATOR) moto
	@for m in $(MODULES); do echo "go test -race $$m/..."; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# Each fuzzer runs for FUZZTIME beyond its seed corpus (testdata/fuzz), which `unit` runs too.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzRecipient$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzPlainAddress$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./feedback

bench: moto
	$(GO) test -run '^$$' -bench . -benchmem . ./feedback
	cd redislimit && $(GO) test -run '^$$' -bench . -benchmem .

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
