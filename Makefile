.PHONY: run test lint bench fuzz lighthouse

GO ?= go
GOPATH_BIN := $(shell $(GO) env GOPATH)/bin
GOVULNCHECK := $(GOPATH_BIN)/govulncheck
# e.g. GOVULNCHECK_FLAGS='-db file:///path/to/vulndb' where vuln.go.dev is unreachable
GOVULNCHECK_FLAGS ?=

run:
	$(GO) run ./app/cmd/fair demo

test:
	bash .ci/testenv.sh

# gofmt checks tracked files plus untracked files that are not ignored
# (so new files are covered before their first commit).
lint:
	@files=$$(git ls-files --cached --others --exclude-standard -- '*.go' | sort -u | while IFS= read -r f; do [ -f "$$f" ] && printf '%s\n' "$$f"; done); \
	if [ -n "$$files" ]; then \
		out=$$(printf '%s\n' "$$files" | xargs -d '\n' gofmt -l) || exit 1; \
		if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi; \
	fi
	$(GO) vet ./...
	@command -v govulncheck >/dev/null 2>&1 || [ -x "$(GOVULNCHECK)" ] || $(GO) install golang.org/x/vuln/cmd/govulncheck@latest
	@if command -v govulncheck >/dev/null 2>&1; then govulncheck $(GOVULNCHECK_FLAGS) ./...; else "$(GOVULNCHECK)" $(GOVULNCHECK_FLAGS) ./...; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Runs every fuzz target of the module (each `func FuzzX` in a _test.go file)
# for FUZZTIME, one at a time: the same as
#   go test -run '^$$' -fuzz '^FuzzX$$' -fuzztime $(FUZZTIME) ./pkg
# per target (-fuzz takes one target per run), with each package's
# instrumented test binary built once rather than once per target. It fails
# at the end if any target failed; a failing input is written under the
# package's testdata/fuzz/FuzzX/ (commit it as a seed once it is fixed). A
# run that stops without writing one (the fuzzing engine's own deadline on a
# busy machine) is reported and not counted: the seeds themselves run in the
# ordinary go test steps.
FUZZTIME ?= 60s

fuzz:
	@failed=""; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; \
	cache=$$($(GO) env GOCACHE)/fuzz; \
	for pkg in $$(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' . | xargs -n1 dirname | sort -u); do \
		imp=$$($(GO) list "$$pkg") || { failed="$$failed $$pkg"; continue; }; \
		$(GO) test -c -fuzz . -o "$$bin/fuzz.test" "$$pkg" || { failed="$$failed $$pkg"; continue; }; \
		for name in $$(cat "$$pkg"/*_test.go | sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p'); do \
			echo "== fuzz $$name ($$pkg, $(FUZZTIME))"; \
			corpus="$$pkg/testdata/fuzz/$$name"; before=$$(ls "$$corpus" 2>/dev/null | wc -l); \
			if ! (cd "$$pkg" && "$$bin/fuzz.test" -test.run '^$$' -test.fuzz "^$$name\$$" -test.fuzztime $(FUZZTIME) \
				-test.fuzzcachedir "$$cache/$$imp"); then \
				if [ "$$(ls "$$corpus" 2>/dev/null | wc -l)" -gt "$$before" ]; then failed="$$failed $$name"; \
				else echo "fuzz: $$name stopped without a failing input (the engine's own deadline), not a finding"; fi; \
			fi; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi; \
	echo "fuzz: all targets passed"

# Lighthouse (mobile) scores of the main pages on the seeded demo; not part of
# `make test`. Needs Chromium (CHROME_PATH, default /usr/bin/chromium), Node
# and npm; installs the pinned Lighthouse into TOOLS_DIR outside the repo.
# See .ci/lighthouse.sh for the knobs (LH_RUNS, LH_PAGES, LH_STRICT...).
lighthouse:
	bash .ci/lighthouse.sh
