# Rapport's build. The Temporal server module needs a newer Go than some machines have, so the toolchain
# named in go.mod is fetched through the module proxy when needed.
export GOTOOLCHAIN := auto

GO       ?= go
BIN      := bin/rapport
PKGS     := ./...
# The plugin SDK is a Go module of its own, which `go test ./...` from the root does not enter.
SDK      := plugins/sdk
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# make load: requests per second of each step, and how long each step lasts
LOAD_RATES    ?= 20,40,80
LOAD_DURATION ?= 3m

.PHONY: all build run test test-chaos test-chaos-quick lint bench fuzz load clean ui ui-check screenshots

all: build

## build: compile the rapport binary into bin/
build:
	$(GO) build -o $(BIN) ./cmd/rapport

## run: build, then run everything in one process on embedded servers (http://localhost:8080)
run: build
	./$(BIN) dev

## test: the whole test suite (unit and integration, on embedded Temporal and FerretDB), the SDK module's first
test:
	cd $(SDK) && $(GO) test -count=1 -timeout 10m ./...
	$(GO) test -count=1 -timeout 30m $(PKGS)

## lint: go vet plus staticcheck
lint:
	$(GO) vet $(PKGS)
	cd $(SDK) && $(GO) vet ./...
	$(GO) run $(STATICCHECK) $(PKGS)
	cd $(SDK) && $(GO) run $(STATICCHECK) ./...

## bench: benchmarks in BENCH_ROUNDS rounds (default 5), one table: each figure, its same-run baseline,
## the median ratio and its min-max spread, with machine, commit and date (.ci/bench, .ci/benchmarks)
bench:
	.ci/bench

## test-chaos: kill and cut Rapport's parts under work (SIGKILL of `rapport dev` and of a worker, a plugin
## killed mid-task, store and Temporal unreachable for 20 s) and count that nothing is lost or doubled;
## CHAOS_RUN picks scenarios by name
CHAOS_RUN ?= Chaos
test-chaos:
	RAPPORT_CHAOS=1 $(GO) test -count=1 -timeout 30m -parallel 5 -v -run '$(CHAOS_RUN)' ./cmd/rapport/stack/chaos/

## test-chaos-quick: the scenarios CI runs (a plugin killed mid-task, the store unreachable; about 2 minutes)
test-chaos-quick:
	$(MAKE) test-chaos CHAOS_RUN='TestChaos(PluginKilledMidTask|StoreUnreachable)$$'


## fuzz: every fuzz target for FUZZTIME each (default 60s), from the seed corpora in testdata/fuzz
fuzz:
	.ci/fuzz

## load: drive a fresh `rapport dev` at three fixed rates and report latency percentiles, errors and memory
load: build
	./$(BIN) load --rates $(LOAD_RATES) --duration $(LOAD_DURATION)

## ui: rebuild the admin web app into admin/ui/static/app (committed and embedded, so build and run need no node)
ui:
	cd admin/ui && npm ci --no-audit --no-fund && npm run build

## ui-check: type-check the admin web app's sources (svelte-check)
ui-check:
	cd admin/ui && npm run check

## screenshots: every main page and analytics dashboard of the admin app in English and Russian, into screenshots/ (not committed)
screenshots:
	RAPPORT_REQUIRE_BROWSER=1 RAPPORT_SCREENSHOTS=$(CURDIR)/screenshots $(GO) test -count=1 -run 'TestBrowserJourneys/(pages|analytics)' ./admin/ui/
	@echo "screenshots in $(CURDIR)/screenshots"

clean:
	rm -rf bin screenshots
