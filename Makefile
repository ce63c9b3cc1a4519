GO      ?= go
BIN     := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0-dev)
LDFLAGS := -s -w -X github.com/mqkit/mqkit/internal/version.Version=$(VERSION)
FUZZTIME ?= 20s

.PHONY: all build run test test-short fuzz bench demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Build, then start the broker with its embedded defaults (127.0.0.1:1883,
# anonymous) keeping retained messages and sessions in ./data (durable).
run: build
	./$(BIN)/mqbroker --data data

# vet + the whole suite under the race detector (CI runs exactly this).
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -count=1 ./...

# Each fuzz target for FUZZTIME (go test allows one -fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

demo: build
	@for s in scripts/demo-*.sh; do bash $$s || exit 1; done

clean:
	rm -rf $(BIN)
