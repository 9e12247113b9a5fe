# Rapport's build. The Temporal server module needs a newer Go than some machines have, so the toolchain
# named in go.mod is fetched through the module proxy when needed.
export GOTOOLCHAIN := auto

GO       ?= go
BIN      := bin/rapport
PKGS     := ./...
# The plugin SDK is a Go module of its own, which `go test ./...` from the root does not enter.
SDK      := plugins/sdk
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test lint bench clean ui ui-check screenshots

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

## bench: benchmarks, each with its baseline measured in the same run, and the ratios between them; the
## records scale benchmark (issue 14) prints its own table of 1,000 against 50,000 leads and contacts
bench:
	{ $(GO) test -run '^$$' -bench . -skip BenchmarkRFM -benchmem ./engine/... ./plugins/host/ && \
	  $(GO) test -run '^$$' -bench RFM -benchtime 1x -benchmem ./engine/analytics/ && \
	  $(GO) test -run '^$$' -bench . -benchtime 200x ./workflows/devserver/ ./workflows/process/e2e/ && \
	  $(GO) test -run '^$$' -bench 'RecordsCreate|PrincipalResolve' -benchtime 500x ./admin/api/ && \
	  $(GO) test -run '^$$' -bench RecordsList -benchtime 3x ./admin/api/ && \
	  $(GO) test -run '^$$' -bench RecordsScale -benchtime 1s -timeout 60m ./admin/api/ ; } 2>&1 | awk -f .ci/bench-ratios.awk

## ui: rebuild the admin web app into admin/ui/static/app (committed and embedded, so build and run need no node)
ui:
	cd admin/ui && npm ci --no-audit --no-fund && npm run build

## ui-check: type-check the admin web app's sources (svelte-check)
ui-check:
	cd admin/ui && npm run check

## screenshots: every main page and analytics dashboard of the admin app in English and Russian, into screenshots/ (not committed)
screenshots:
	RAPPORT_SCREENSHOTS=$(CURDIR)/screenshots $(GO) test -count=1 -run 'TestBrowserJourneys/(pages|analytics)' ./admin/ui/
	@echo "screenshots in $(CURDIR)/screenshots"

clean:
	rm -rf bin screenshots
