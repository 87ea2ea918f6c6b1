# zapgate — make help lists the targets.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin:$(shell $(GO) env GOPATH 2>/dev/null)/bin

# Debian packages the build and the tests need.
APT_PACKAGES := libzmq3-dev pkg-config python3-zmq gcc rsyslog rsyslog-gnutls openssl slapd ldap-utils samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind
FUZZTIME ?= 5s
FUZZTIME_LONG ?= 10m
FUZZ_TARGETS ?=
FUZZ_NICE ?= 10
BENCHTIME ?= 2s

.PHONY: help deps build test unit integration fuzz fuzz-long lint demo bench clean

help: ## Show this help.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install Debian packages (apt-get when root, else print the command) and Go modules.
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "missing Debian packages; run:"; \
	    echo "  sudo apt-get install -y --no-install-recommends $$missing"; \
	    exit 1; \
	  fi; \
	else echo "Debian packages present: $(APT_PACKAGES)"; fi
	$(GO) mod download
	@# The OpenID provider of the enrollment tests (oidc-provider, pinned by integration/oidc/package-lock.json).
	@if [ integration/oidc/package-lock.json -nt integration/oidc/node_modules/.package-lock.json ]; then \
	  command -v npm >/dev/null || { echo "npm missing: install Node.js 20 or later with npm"; exit 1; }; \
	  npm ci --prefix integration/oidc --no-audit --no-fund; \
	else echo "integration/oidc: node modules up to date"; fi

build: ## Build bin/zapgate.
	$(GO) build -o bin/zapgate ./cmd/zapgate

test: deps unit integration fuzz ## Run every test: unit and integration (with -race), then each fuzz target briefly.

unit: ## Run the unit tests with the race detector.
	$(GO) test -race -count=1 ./...

integration: ## Run the integration suite against real servers (build tag integration).
	$(GO) test -race -count=1 -tags integration ./integration/...

fuzz: ## Run every fuzz target for FUZZTIME (default 5s) each.
	@scripts/fuzz.sh $(FUZZTIME)

fuzz-long: ## Run every fuzz target for FUZZTIME_LONG (10m, or e.g. 10000000x) and print executions per target.
	@FUZZ_TARGETS='$(FUZZ_TARGETS)' FUZZ_REPORT=1 nice -n $(FUZZ_NICE) scripts/fuzz.sh $(FUZZTIME_LONG)

lint: ## gofmt, go vet, and staticcheck when it installs from the Go module proxy.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	@if command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2; then \
	  staticcheck ./...; else echo "staticcheck unavailable; skipped"; fi

demo: deps build ## Run the demo: a backup control plane on 127.0.0.1 through the real broker, with refusals, a live revocation and the audit trail.
	./bin/zapgate demo

bench: ## Benchmarks with same-run baselines: ZAP handshakes, relay round trips, durable audit records, policy decisions, and directory queries and handshakes/s with a cold, warm and disabled cache against a Samba AD DC.
	@scripts/bench.sh $(BENCHTIME)

clean: ## Remove build output.
	rm -rf bin
