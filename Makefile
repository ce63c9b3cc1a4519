GO      ?= go
BIN     := bin
# The version: a release tag (git describe) when there is one; otherwise
# the binaries take it from Go's build information (the commit's
# pseudo-version, as "go install ...@latest" does). VERSION=x overrides.
VERSION ?= $(shell git describe --tags --dirty 2>/dev/null)
LDFLAGS := -s -w $(if $(VERSION),-X github.com/mqkit/mqkit/internal/version.Version=$(VERSION))
# -buildvcs=auto: stamp the commit even where GOFLAGS says -buildvcs=false.
BUILDFLAGS := -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)'

# make install: PREFIX=/usr/local by default; DESTDIR for packaging.
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(DESTDIR)$(PREFIX)/bin
MANDIR  := $(DESTDIR)$(PREFIX)/share/man
DATADIR := $(DESTDIR)$(PREFIX)/share
DOCS    := build
FUZZTIME ?= 20s
# CI fuzzes a fixed number of inputs, not a duration: Go 1.26's fuzz
# coordinator can report "context deadline exceeded" when a -fuzztime
# duration ends mid-input (golang/go#75804, fixed in Go 1.27).
CI_FUZZTIME ?= 20000x

.PHONY: all build man install uninstall run test test-short fuzz mutate bench demo clean

all: build

build:
	$(GO) build $(BUILDFLAGS) -o $(BIN)/ ./cmd/...

# Man pages and bash/zsh/fish completion scripts, generated from the
# programs' flag definitions into build/ (internal/tools/gendocs).
man:
	$(GO) run ./internal/tools/gendocs -out $(DOCS)

# The three programs, their man pages and completion scripts.
install: build man
	install -d $(BINDIR) $(MANDIR)/man1 $(MANDIR)/man5 \
	  $(DATADIR)/bash-completion/completions $(DATADIR)/zsh/site-functions $(DATADIR)/fish/vendor_completions.d
	install -m 755 $(BIN)/mqbroker $(BIN)/mqpub $(BIN)/mqsub $(BINDIR)/
	install -m 644 $(DOCS)/man/man1/mqbroker.1 $(DOCS)/man/man1/mqpub.1 $(DOCS)/man/man1/mqsub.1 $(MANDIR)/man1/
	install -m 644 $(DOCS)/man/man5/mqbroker.conf.5 $(MANDIR)/man5/
	install -m 644 $(DOCS)/completion/bash/mqbroker $(DOCS)/completion/bash/mqpub $(DOCS)/completion/bash/mqsub \
	  $(DATADIR)/bash-completion/completions/
	install -m 644 $(DOCS)/completion/zsh/_mqbroker $(DOCS)/completion/zsh/_mqpub $(DOCS)/completion/zsh/_mqsub \
	  $(DATADIR)/zsh/site-functions/
	install -m 644 $(DOCS)/completion/fish/mqbroker.fish $(DOCS)/completion/fish/mqpub.fish \
	  $(DOCS)/completion/fish/mqsub.fish $(DATADIR)/fish/vendor_completions.d/

uninstall:
	rm -f $(BINDIR)/mqbroker $(BINDIR)/mqpub $(BINDIR)/mqsub \
	  $(MANDIR)/man1/mqbroker.1 $(MANDIR)/man1/mqpub.1 $(MANDIR)/man1/mqsub.1 $(MANDIR)/man5/mqbroker.conf.5 \
	  $(DATADIR)/bash-completion/completions/mqbroker $(DATADIR)/bash-completion/completions/mqpub \
	  $(DATADIR)/bash-completion/completions/mqsub $(DATADIR)/zsh/site-functions/_mqbroker \
	  $(DATADIR)/zsh/site-functions/_mqpub $(DATADIR)/zsh/site-functions/_mqsub \
	  $(DATADIR)/fish/vendor_completions.d/mqbroker.fish $(DATADIR)/fish/vendor_completions.d/mqpub.fish \
	  $(DATADIR)/fish/vendor_completions.d/mqsub.fish

# Build, then start the broker with its embedded defaults (127.0.0.1:1883,
# anonymous) keeping retained messages and sessions in ./data (durable).
run: build
	./$(BIN)/mqbroker --data data

# vet + the whole suite under the race detector + each fuzzer briefly (CI runs exactly this).
# Test time (issue 14): the packages run four at a time, the longest
# first (go test runs them in the order given; ./... adds the rest once),
# since most long tests wait on the network or timers rather than use the
# CPU; the fuzzers run alongside, their output after the suite's. Either
# failing fails the target.
TESTPKGS := ./internal/broker ./scripts ./internal/clicmd ./internal/brokercmd ./internal/selftest ./...
test: build
	$(GO) vet ./...
	@fuzzlog=$$(mktemp); \
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME) >"$$fuzzlog" 2>&1 & fuzz=$$!; \
	rc=0; $(GO) test -race -count=1 -timeout 15m -p 4 $(TESTPKGS) || rc=$$?; \
	frc=0; wait $$fuzz || frc=$$?; \
	cat "$$fuzzlog"; rm -f "$$fuzzlog"; \
	if [ $$frc != 0 ]; then echo "make test: the fuzzers failed (exit $$frc)"; fi; \
	[ $$rc = 0 ] && [ $$frc = 0 ]

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
	rm -rf $(BIN) $(DOCS)
