GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -s -w -X github.com/mqkit/mqkit/internal/version.Version=$(VERSION)
FUZZTIME ?= 20s
# CI fuzzes a fixed number of inputs, not a duration: Go 1.26's fuzz
# coordinator can report "context deadline exceeded" when a -fuzztime
# duration ends mid-input (golang/go#75804, fixed in Go 1.27).
CI_FUZZTIME ?= 20000x

.PHONY: all build run test test-short fuzz mutate bench demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Build, then start the broker with its embedded defaults (127.0.0.1:1883,
# anonymous) keeping retained messages and sessions in ./data (durable).
run: build
	./$(BIN)/mqbroker --data data

# vet + the whole suite under the race detector + each fuzzer briefly (CI runs exactly this).
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME)

test-short:
	$(GO) test -count=1 ./...

# Each fuzz target for FUZZTIME (go test allows one -fuzz target per run).
# Crashers found are written to the package's testdata/fuzz and then replay
# in every ordinary `go test`.
fuzz:
	@set -e; for d in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for t in $$(grep -h '^func Fuzz' $$d/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== fuzz $$d $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$d; \
	  done; \
	done

# The mutation check (internal/tools/mutate): each planted defect of its
# list must make the tests fail. Slow (the broker tests once per
# mutation), so not part of make test. MUTATE_ARGS=-run NAME for a subset.
mutate:
	$(GO) run ./internal/tools/mutate $(MUTATE_ARGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build
	@for s in scripts/demo-*.sh; do bash $$s || exit 1; done

clean:
	rm -rf $(BIN)
