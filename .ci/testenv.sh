#!/usr/bin/env bash
# Full test run: installs missing service binaries, starts throw-away
# PostgreSQL, Redis and stripe-mock instances on free loopback ports, runs the
# Go test suites against them and tears everything down again on exit.
#
# Environment overrides (local use):
#   GO_TEST_FLAGS  extra flags appended to every `go test` (e.g. "-run X -v")
#   SKIP_BROWSER=1 skip the headless Chromium suite
#   FUZZTIME       how long each fuzz target runs (default 5s)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STRIPE_MOCK_VERSION=v0.203.0
PG_BIN_DIR=/usr/lib/postgresql/15/bin

log() { printf '%s\n' "$*"; }
die() { printf 'testenv: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- privileges
if [[ ${EUID} -eq 0 ]]; then
	SUDO=()
else
	command -v sudo >/dev/null 2>&1 || die "not root and sudo is missing"
	SUDO=(sudo)
fi

# Run a command as the postgres OS user (PostgreSQL refuses to run as root).
as_pg() {
	if [[ ${EUID} -eq 0 ]]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# ------------------------------------------------------------------ installs
command -v go >/dev/null 2>&1 || die "go is not on PATH"
GOBIN_DIR="$(go env GOBIN)"
[[ -n ${GOBIN_DIR} ]] || GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="${GOBIN_DIR}:${PATH}"
[[ -d ${PG_BIN_DIR} ]] && export PATH="${PG_BIN_DIR}:${PATH}"

apt_pkgs=()
command -v redis-server >/dev/null 2>&1 || apt_pkgs+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || apt_pkgs+=(redis-tools)
command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
# Chinese text in the browser (without it every 汉字 renders as a box).
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || apt_pkgs+=(fonts-noto-cjk)
if [[ ! -x ${PG_BIN_DIR}/initdb || ! -x ${PG_BIN_DIR}/pg_ctl || ! -x ${PG_BIN_DIR}/postgres ]]; then
	apt_pkgs+=(postgresql)
fi
command -v psql >/dev/null 2>&1 || apt_pkgs+=(postgresql-client)
if ((${#apt_pkgs[@]} > 0)); then
	log "== installing with apt: ${apt_pkgs[*]}"
	"${SUDO[@]}" apt-get update
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_pkgs[@]}"
	[[ -d ${PG_BIN_DIR} ]] && export PATH="${PG_BIN_DIR}:${PATH}"
	# The postgresql package starts a cluster of its own on port 5432; we use
	# our own instance, so stop the packaged one if it was just started.
	if [[ " ${apt_pkgs[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null 2>&1; then
		"${SUDO[@]}" pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
	fi
fi
if ! command -v stripe-mock >/dev/null 2>&1; then
	log "== installing stripe-mock ${STRIPE_MOCK_VERSION}"
	go install "github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}"
fi
for bin in initdb pg_ctl postgres psql redis-server redis-cli stripe-mock; do
	command -v "${bin}" >/dev/null 2>&1 || die "${bin} not found after install"
done
if [[ ${SKIP_BROWSER:-} != 1 ]]; then
	command -v chromium >/dev/null 2>&1 || die "chromium not found after install"
fi

# ------------------------------------------------------------ temp + cleanup
TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/miaohui-test.XXXXXX")"
chmod 755 "${TMP_ROOT}" # postgres must be able to traverse it
PG_DATA="${TMP_ROOT}/pg"
PG_STARTED=0
REDIS_PORT=""
STRIPE_PID=""

cleanup() {
	local rc=$?
	set +e
	trap '' INT TERM HUP
	if [[ -n ${STRIPE_PID} ]]; then
		kill "${STRIPE_PID}" 2>/dev/null
		wait "${STRIPE_PID}" 2>/dev/null
	fi
	if [[ -n ${REDIS_PORT} ]]; then
		redis-cli -h 127.0.0.1 -p "${REDIS_PORT}" shutdown nosave >/dev/null 2>&1
		if [[ -s ${TMP_ROOT}/redis.pid ]]; then
			local rpid i
			rpid="$(cat "${TMP_ROOT}/redis.pid" 2>/dev/null)"
			for ((i = 0; i < 50; i++)); do
				kill -0 "${rpid}" 2>/dev/null || break
				sleep 0.1
			done
			kill -9 "${rpid}" 2>/dev/null
		fi
	fi
	if [[ ${PG_STARTED} == 1 ]]; then
		if ! as_pg pg_ctl -D "${PG_DATA}" -m fast -t 30 -w stop >/dev/null 2>&1; then
			if [[ -s ${PG_DATA}/postmaster.pid ]]; then
				kill -9 "$(head -n1 "${PG_DATA}/postmaster.pid")" 2>/dev/null
			fi
		fi
	fi
	rm -rf "${TMP_ROOT}"
	exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ------------------------------------------------------------- free ports
free_ports() { # prints N distinct free loopback TCP ports, one per line
	if command -v python3 >/dev/null 2>&1; then
		python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
    s.close()
PY
	else
		local n=0 p seen=" "
		while ((n < $1)); do
			p=$((20000 + RANDOM % 40000))
			[[ ${seen} == *" ${p} "* ]] && continue
			if ! (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then
				echo "${p}"
				seen+="${p} "
				n=$((n + 1))
			fi
		done
	fi
}

wait_port() { # wait_port PORT SECONDS
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

mapfile -t PORTS < <(free_ports 3)
((${#PORTS[@]} == 3)) || die "could not pick free ports"
PG_PORT=${PORTS[0]}
REDIS_PORT_PICK=${PORTS[1]}
STRIPE_PORT=${PORTS[2]}

# ----------------------------------------------------------------- PostgreSQL
log "== starting PostgreSQL on 127.0.0.1:${PG_PORT}"
mkdir -p "${PG_DATA}"
[[ ${EUID} -eq 0 ]] && chown postgres: "${PG_DATA}"
chmod 700 "${PG_DATA}"
# C.UTF-8 so that pg_trgm and case folding treat non-ASCII letters as letters.
PG_LOCALE=C
if locale -a 2>/dev/null | grep -qixE 'C\.utf-?8'; then
	PG_LOCALE=C.UTF-8
fi
PG_STARTED=1 # from here on cleanup tries to stop it (harmless if not running)
(
	cd "${TMP_ROOT}" # the postgres user may not be able to read the caller's cwd
	as_pg initdb -D "${PG_DATA}" -A trust -U postgres --no-sync -E UTF8 \
		--locale="${PG_LOCALE}" >"${TMP_ROOT}/initdb.log" 2>&1 ||
		{ cat "${TMP_ROOT}/initdb.log" >&2; exit 1; }
	as_pg pg_ctl -D "${PG_DATA}" \
		-o "-h 127.0.0.1 -p ${PG_PORT} -k ${PG_DATA} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		-l "${PG_DATA}/log" -w -t 60 start >/dev/null ||
		{ cat "${PG_DATA}/log" >&2; exit 1; }
) || die "PostgreSQL failed to start"
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT}" -U postgres -d postgres \
	-c 'CREATE DATABASE fair_test'
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PG_PORT}" -U postgres -d fair_test \
	-c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT}/fair_test?sslmode=disable"

# ---------------------------------------------------------------------- Redis
log "== starting Redis on 127.0.0.1:${REDIS_PORT_PICK}"
REDIS_PORT=${REDIS_PORT_PICK}
redis-server --port "${REDIS_PORT}" --bind 127.0.0.1 --daemonize yes \
	--save '' --appendonly no --databases 4096 --dir "${TMP_ROOT}" \
	--pidfile "${TMP_ROOT}/redis.pid" --logfile "${TMP_ROOT}/redis.log" </dev/null
redis_ok=0
for ((i = 0; i < 100; i++)); do
	if [[ $(redis-cli -h 127.0.0.1 -p "${REDIS_PORT}" ping 2>/dev/null) == PONG ]]; then
		redis_ok=1
		break
	fi
	sleep 0.1
done
((redis_ok)) || { cat "${TMP_ROOT}/redis.log" >&2; die "Redis did not answer PING"; }
REDIS_URL="redis://127.0.0.1:${REDIS_PORT}/0"

# ---------------------------------------------------------------- stripe-mock
log "== starting stripe-mock on 127.0.0.1:${STRIPE_PORT}"
stripe-mock -http-addr "127.0.0.1:${STRIPE_PORT}" -https-addr "127.0.0.1:" </dev/null >"${TMP_ROOT}/stripe-mock.log" 2>&1 &
STRIPE_PID=$!
wait_port "${STRIPE_PORT}" 30 || { cat "${TMP_ROOT}/stripe-mock.log" >&2; die "stripe-mock did not start"; }
STRIPE_URL="http://127.0.0.1:${STRIPE_PORT}"

# ---------------------------------------------------------------------- tests
read -r -a EXTRA_FLAGS <<<"${GO_TEST_FLAGS:-}"

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

step() { # step BANNER CMD...
	local banner=$1 start rc=0
	shift
	log ""
	log "${banner}"
	start=${SECONDS}
	"$@" || rc=$?
	log "-- ${banner#== }: $( ((rc == 0)) && echo ok || echo "FAILED (exit ${rc})") in $(fmt_secs $((SECONDS - start)))"
	return "${rc}"
}

TOTAL_START=${SECONDS}

step "== go test (SQLite, in-process Redis)" \
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL -u TEST_CHROMIUM \
	TEST_STRIPE_MOCK_URL="${STRIPE_URL}" \
	go test -race -count=1 -timeout 20m "${EXTRA_FLAGS[@]}" ./...

step "== go test (PostgreSQL, Redis)" \
	env -u TEST_CHROMIUM \
	TEST_DATABASE_URL="${DATABASE_URL}" TEST_REDIS_URL="${REDIS_URL}" \
	TEST_STRIPE_MOCK_URL="${STRIPE_URL}" \
	go test -race -count=1 -timeout 20m "${EXTRA_FLAGS[@]}" ./...

# The audit's counts: its tests ran in both suites above, where go test keeps
# a passing package quiet; this prints what the authorization matrix and the
# bad-input sweep tried (a few seconds on SQLite).
audit_report() {
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL -u TEST_CHROMIUM TEST_STRIPE_MOCK_URL="${STRIPE_URL}" \
		go test -count=1 -run '^TestAudit' -v ./app 2>&1 | grep -E '^audit |^(ok|FAIL|--- FAIL)'
}
step "== audit (authorization matrix, bad-input sweep)" audit_report

# Every fuzz target for a short while (SQLite, in-process Redis): the seeds
# already ran above; this explores a little around them.
step "== fuzz (FUZZTIME=${FUZZTIME:-5s} per target)" \
	env -u TEST_DATABASE_URL -u TEST_REDIS_URL -u TEST_CHROMIUM \
	make --no-print-directory fuzz FUZZTIME="${FUZZTIME:-5s}"

if [[ ${SKIP_BROWSER:-} == 1 ]]; then
	log ""
	log "== browser tests skipped (SKIP_BROWSER=1)"
else
	step "== browser tests (headless Chromium)" \
		env -u TEST_DATABASE_URL -u TEST_REDIS_URL \
		TEST_CHROMIUM="$(command -v chromium)" TEST_STRIPE_MOCK_URL="${STRIPE_URL}" \
		go test -count=1 -timeout 15m -tags browser -run Browser "${EXTRA_FLAGS[@]}" ./...
fi

log ""
log "-- total test time $(fmt_secs $((SECONDS - TOTAL_START)))"
echo "make test: all suites passed"
