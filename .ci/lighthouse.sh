#!/usr/bin/env bash
# Lighthouse (mobile) scores of the pages a visitor, a shopper, a merchant and
# an organizer use most, measured on the seeded demo.
#
#   make lighthouse            # or: bash .ci/lighthouse.sh
#
# What it does:
#   1. installs Lighthouse (pinned, with npm) into TOOLS_DIR, outside the
#      repository, unless that version is already there;
#   2. builds `fair` and starts `fair demo` on a free loopback port with a
#      throw-away data directory (SQLite, in-process Redis);
#   3. signs in as the demo shopper, merchant and organizer through the
#      sign-in form (POST /login) and keeps each session cookie;
#   4. runs Lighthouse with its default mobile emulation on every page, the
#      signed-in ones with the session cookie in --extra-headers, and prints
#      the four category scores per page (the median of LH_RUNS runs);
#   5. stops the demo and removes the data directory.
#
# It is not part of `make test`: the scores depend on the machine and on what
# else runs on it (Lighthouse throttles the CPU 4x on top of the machine's own
# speed), so it reports rather than fails, unless LH_STRICT=1.
#
# Environment:
#   CHROME_PATH   Chromium to drive (default /usr/bin/chromium)
#   TOOLS_DIR     where npm installs Lighthouse (default: tools/ beside the
#                 checkout, e.g. /work/tools for /work/main)
#   LH_RUNS       runs per page; the median counts (default 1)
#   LH_PAGES      space-separated page names to measure (default all)
#   LH_OUT        where the JSON reports go (default a new temp directory)
#   LH_MIN        the score a category should reach (default 95)
#   LH_STRICT=1   exit 1 when any score is below LH_MIN
#   LH_LANG       Accept-Language the pages are asked in (default zh-CN)
#   LH_CPU_SLOWDOWN  Lighthouse's CPU throttling multiplier (default 4, its
#                 own, calibrated for a fast desktop: the table's "bench"
#                 column is Lighthouse's benchmark index of this machine
#                 during each run; 1500+ is what 4x assumes, and a busy
#                 machine scores lower, so its blocking time reads longer)
set -euo pipefail

CALLER="$(pwd)"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

LIGHTHOUSE_VERSION=12.8.2 # the last line that runs on Node 20 (13.x needs Node 22.19)
CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
TOOLS_DIR="${TOOLS_DIR:-$(cd "${REPO}/.." && pwd)/tools}"
LH_RUNS="${LH_RUNS:-1}"
LH_MIN="${LH_MIN:-95}"
LH_LANG="${LH_LANG:-zh-CN}"
LH_CPU_SLOWDOWN="${LH_CPU_SLOWDOWN:-4}"
DEMO_PASSWORD="$(sed -n 's/^const DemoPassword = "\(.*\)"$/\1/p' app/ops/demo.go)"
export CHROME_PATH

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'lighthouse: %s\n' "$*" >&2; exit 1; }

for bin in go node npm curl; do
	command -v "${bin}" >/dev/null 2>&1 || die "${bin} is not on PATH"
done
[[ -x ${CHROME_PATH} ]] || die "no Chromium at ${CHROME_PATH} (set CHROME_PATH)"
[[ -n ${DEMO_PASSWORD} ]] || die "cannot read DemoPassword from app/ops/demo.go"
case "${TOOLS_DIR}" in "${REPO}" | "${REPO}"/*) die "TOOLS_DIR must be outside the repository" ;; esac

# ------------------------------------------------------------ Lighthouse
LH="${TOOLS_DIR}/node_modules/.bin/lighthouse"
installed="$(node -p "require('${TOOLS_DIR}/node_modules/lighthouse/package.json').version" 2>/dev/null || true)"
if [[ ${installed} != "${LIGHTHOUSE_VERSION}" ]]; then
	log "installing lighthouse@${LIGHTHOUSE_VERSION} into ${TOOLS_DIR}"
	mkdir -p "${TOOLS_DIR}"
	[[ -f ${TOOLS_DIR}/package.json ]] || printf '{"private":true}\n' >"${TOOLS_DIR}/package.json"
	npm install --prefix "${TOOLS_DIR}" --no-audit --no-fund --save-exact "lighthouse@${LIGHTHOUSE_VERSION}" >&2
fi
[[ -x ${LH} ]] || die "lighthouse did not install into ${TOOLS_DIR}"

# ------------------------------------------------------------ the demo
WORK="$(mktemp -d "${TMPDIR:-/tmp}/miaohui-lighthouse.XXXXXX")"
OUT="${LH_OUT:-${WORK}/reports}"
[[ ${OUT} == /* ]] || OUT="${CALLER}/${OUT}"
mkdir -p "${OUT}"
DEMO_PID=""
cleanup() {
	if [[ -n ${DEMO_PID} ]] && kill -0 "${DEMO_PID}" 2>/dev/null; then
		kill "${DEMO_PID}" 2>/dev/null || true
		wait "${DEMO_PID}" 2>/dev/null || true
	fi
	# Keep the reports when they live in the temp directory.
	if [[ ${OUT} == "${WORK}/reports" ]]; then
		find "${WORK}" -mindepth 1 -maxdepth 1 ! -name reports -exec rm -rf {} +
	else
		rm -rf "${WORK}"
	fi
}
trap cleanup EXIT

log "building fair"
go build -o "${WORK}/fair" ./app/cmd/fair

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	shuf -i 20000-60000 -n 1)"
BASE="http://127.0.0.1:${PORT}"
log "starting fair demo at ${BASE} (data in ${WORK}/data; log ${WORK}/demo.log)"
mkdir -p "${WORK}/data"
FAIR_HTTP_ADDR="127.0.0.1:${PORT}" FAIR_DATA_DIR="${WORK}/data" "${WORK}/fair" demo >"${WORK}/demo.log" 2>&1 &
DEMO_PID=$!
# Seeding the demo takes a minute on a busy machine; the server listens after.
for _ in $(seq 1 300); do
	curl -fsS -o /dev/null "${BASE}/" 2>/dev/null && break
	kill -0 "${DEMO_PID}" 2>/dev/null || { cat "${WORK}/demo.log" >&2; die "fair demo exited"; }
	sleep 1
done
curl -fsS -o /dev/null "${BASE}/" || die "fair demo did not answer at ${BASE} within 5 minutes"

# signin EMAIL prints the session cookie ("fair_session=...") of the account.
signin() {
	local cookie
	cookie="$(curl -sS -o /dev/null -D - --data-urlencode "email=$1" --data-urlencode "password=${DEMO_PASSWORD}" "${BASE}/login" |
		tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \(fair_session=[^;]*\).*/\1/p')"
	[[ -n ${cookie} ]] || die "cannot sign in as $1"
	printf '%s' "${cookie}"
}
# first PATTERN PAGE [COOKIE] prints the first link on PAGE matching PATTERN.
first() {
	local link
	link="$(curl -fsS ${3:+-H "Cookie: $3"} "${BASE}$2" | grep -o "href=\"$1[^\"?#]*\"" | head -n 1 | sed 's/^href="//; s/"$//')"
	[[ -n ${link} ]] || die "no link like $1 on $2"
	printf '%s' "${link}"
}

SHOPPER="$(signin shopper@demo.miaohui.cn)"
MERCHANT="$(signin merchant@demo.miaohui.cn)"
ORGANIZER="$(signin organizer@demo.miaohui.cn)"
FAIR=/fairs/taizhou-temple-fair
STALL="$(first /stalls/ "${FAIR}")"
PRODUCT="$(first /products/ "${FAIR}")"
FLASH="$(first /flash-sales/ "${FAIR}/flash-sales")"
MY_STALL="$(first /merchant/stalls/ /merchant "${MERCHANT}")"

# name | path | cookie (empty: signed out)
PAGES=(
	"home|/|"
	"fair|${FAIR}|"
	"stall|${STALL}|"
	"product|${PRODUCT}|"
	"flash-sale|${FLASH}|"
	"cart|/cart|${SHOPPER}"
	"orders|/orders|${SHOPPER}"
	"pass|${FAIR}/pass|${SHOPPER}"
	"merchant|/merchant|${MERCHANT}"
	"stall-dashboard|${MY_STALL}/dashboard|${MERCHANT}"
	"organizer|/organizer|${ORGANIZER}"
	"fair-dashboard|/organizer${FAIR}/dashboard|${ORGANIZER}"
)

# ------------------------------------------------------------ measure
log "lighthouse ${LIGHTHOUSE_VERSION}, ${LH_RUNS} run(s) per page, CPU ${LH_CPU_SLOWDOWN}x; reports in ${OUT}"
: >"${OUT}/pages.txt"
for entry in "${PAGES[@]}"; do
	IFS='|' read -r name path cookie <<<"${entry}"
	if [[ -n ${LH_PAGES:-} && " ${LH_PAGES} " != *" ${name} "* ]]; then
		continue
	fi
	status="$(curl -sS -o /dev/null -w '%{http_code}' ${cookie:+-H "Cookie: ${cookie}"} "${BASE}${path}")"
	[[ ${status} == 200 ]] || die "${name} (${path}) answers ${status}, want 200"
	echo "${name}" >>"${OUT}/pages.txt"
	headers="{\"Accept-Language\":\"${LH_LANG}\"${cookie:+,\"Cookie\":\"${cookie}\"}}"
	for run in $(seq 1 "${LH_RUNS}"); do
		report="${OUT}/${name}.${run}.json"
		# A loaded machine now and then loses a trace (NO_NAVSTART...):
		# try a run up to three times, then go on without it.
		for attempt in 1 2 3; do
			log "${name} ${path} (run ${run}, attempt ${attempt})"
			if "${LH}" "${BASE}${path}" \
				--quiet \
				--output=json --output-path="${report}" \
				--only-categories=performance,accessibility,best-practices,seo \
				--extra-headers="${headers}" \
				--throttling.cpuSlowdownMultiplier="${LH_CPU_SLOWDOWN}" \
				--chrome-flags="--headless --no-sandbox --disable-gpu --disable-dev-shm-usage" &&
				node -e 'const r = require(process.argv[1]); process.exit(r.runtimeError || r.categories.performance.score === null ? 1 : 0)' "${report}"; then
				break
			fi
			rm -f "${report}"
			log "lighthouse failed on ${name} (attempt ${attempt})"
		done
	done
	ls "${OUT}/${name}".*.json >/dev/null 2>&1 || log "no report for ${name}: every attempt failed"
done

# ------------------------------------------------------------ the table
node - "${OUT}" "${LH_MIN}" "${LH_STRICT:-0}" <<'JS'
const fs = require("fs"), path = require("path");
const [dir, min, strict] = [process.argv[2], Number(process.argv[3]), process.argv[4] === "1"];
const cats = ["performance", "accessibility", "best-practices", "seo"];
const byPage = new Map();
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
  const name = f.replace(/\.\d+\.json$/, "");
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  if (!byPage.has(name)) byPage.set(name, []);
  byPage.get(name).push(r);
}
const order = fs.readFileSync(path.join(dir, "pages.txt"), "utf8").split("\n").filter(Boolean);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
let low = 0;
const rows = [["page", "perf", "a11y", "best", "seo", "bench", "path"]];
const notes = [];
for (const name of order) {
  const runs = byPage.get(name);
  if (!runs) { low++; rows.push([name, "-", "-", "-", "-", "-", "(every run failed)"]); continue; }
  const row = [name];
  for (const c of cats) {
    const s = median(runs.map((r) => Math.round((r.categories[c]?.score ?? 0) * 100)));
    if (s < min) low++;
    row.push(s < min ? `${s}*` : String(s));
  }
  row.push(String(Math.round(median(runs.map((r) => r.environment.benchmarkIndex)))));
  row.push(new URL(runs[0].finalDisplayedUrl || runs[0].finalUrl).pathname);
  rows.push(row);
  // What cost points, from the first run: failing audits that weigh.
  const r = runs[0];
  for (const c of cats) {
    const cat = r.categories[c];
    if (!cat || cat.score === 1) continue;
    const failing = cat.auditRefs.filter((a) => a.weight > 0 && r.audits[a.id].score !== null && r.audits[a.id].score < 0.9)
      .map((a) => `${a.id}${r.audits[a.id].displayValue ? ` (${r.audits[a.id].displayValue})` : ""}`);
    if (failing.length) notes.push(`${name} ${c}: ${failing.join(", ")}`);
  }
}
const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((v, i) => (i === 0 || i === 6 ? v.padEnd(w[i]) : v.padStart(w[i]))).join("  ").trimEnd());
console.log(`\n* below ${min}.  bench: Lighthouse's benchmark index of the machine during the run (median).  Reports: ${dir}`);
if (notes.length) console.log("\nwhat costs points (failing audits):\n  " + notes.join("\n  "));
if (strict && low) process.exit(1);
JS
