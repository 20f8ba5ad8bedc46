.PHONY: run test lint bench

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
