# make test: what CI runs (.ci/run). Installs what the tests need and is
# missing (nginx, for the nginx example's end-to-end test; tmux, the
# terminal that drives `supctl top` in its end-to-end test), then vets and
# runs every test with the race detector.
GO ?= go

.PHONY: test deps vet bench build

test: deps vet
	$(GO) test -race -count=1 -timeout 15m ./...

deps:
	@command -v nginx >/dev/null 2>&1 || command -v /usr/sbin/nginx >/dev/null 2>&1 || \
		{ echo "installing nginx for the end-to-end tests"; \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null || \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }
	@command -v tmux >/dev/null 2>&1 || \
		{ echo "installing tmux for the end-to-end test of supctl top"; \
		  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Static, stripped binaries, as examples/docker/Dockerfile builds them:
# smaller, and supd maps fewer pages of itself (see the README's RSS figure).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o bin/ ./cmd/supd ./cmd/supctl

# Benchmarks (figures in the README). Not part of `make test`.
bench:
	$(GO) test -run '^$$' -bench . ./probe/ ./supervisor/output/
	supervisor/bench/run.sh --count 3
