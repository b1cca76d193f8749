#!/usr/bin/env bash
# Installs what KKChat needs and builds it. Safe to run again: each step is skipped when already done.
#
#   bash scripts/setup.sh                 # Node dependencies + build
#   bash scripts/setup.sh --with-browser  # also Chromium, for the browser tests
#   bash scripts/setup.sh --verbose       # show the full output of every step
#
# Runs as root on Debian; as another user it uses sudo for apt when sudo is available.
# Output is quiet: one line per step. Full logs of a failed step are printed, with a hint.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

WITH_BROWSER=0
VERBOSE=0
for arg in "$@"; do
  case "$arg" in
    --with-browser) WITH_BROWSER=1 ;;
    --verbose) VERBOSE=1 ;;
    -h | --help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup: unknown option '$arg' (known: --with-browser, --verbose)" >&2
      exit 2
      ;;
  esac
done

NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail() {
  # fail "what went wrong" "hint" [log file]
  printf '\nsetup: FAILED: %s\n' "$1" >&2
  if [ -n "${3:-}" ] && [ -s "$3" ]; then
    printf -- '---- last lines of %s ----\n' "$3" >&2
    tail -n 60 "$3" >&2
    printf -- '---- end of log ----\n' >&2
  fi
  [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2
  exit 1
}

LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kkchat-setup.XXXXXX")
trap 'rm -rf "$LOG_DIR"' EXIT

# Runs a command with its output in a log file (or on the terminal with --verbose); on failure prints the
# log's tail and the hint.
run_logged() {
  local name=$1 hint=$2
  shift 2
  local log="$LOG_DIR/$name.log" started=$SECONDS
  if [ "$VERBOSE" -eq 1 ]; then
    "$@" || fail "'$*' exited with an error" "$hint"
  elif ! "$@" >"$log" 2>&1; then
    fail "'$*' exited with an error (after $((SECONDS - started))s)" "$hint" "$log"
  fi
  if [ $((SECONDS - started)) -ge 5 ]; then note "($name took $((SECONDS - started))s)"; fi
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

can_apt() {
  command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }
}

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    note "apt-get update"
    run_logged apt-update "check the network and /etc/apt/sources.list" $SUDO apt-get update
    APT_UPDATED=1
  fi
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    fail "need to install: $*" "this is not a Debian-like system; install these packages yourself and run setup again"
  fi
  if ! can_apt; then
    fail "need to install: $*" "run as root, or install sudo, or install these packages yourself (apt-get install $*)"
  fi
  apt_update_once
  note "apt-get install $*"
  run_logged apt-install "see the apt output above" \
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# --- Node.js ------------------------------------------------------------------------------------
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e "const [a,b]=process.versions.node.split('.').map(Number);process.exit(a>${NODE_MIN_MAJOR}||(a===${NODE_MIN_MAJOR}&&b>=${NODE_MIN_MINOR})?0:1)"
}

step "Checking Node.js (>= ${NODE_MIN_MAJOR}.${NODE_MIN_MINOR})"
if ! node_ok; then
  # Debian's own nodejs package is recent enough from Debian 13 on; older releases need another source.
  candidate=""
  if can_apt; then
    apt_update_once
    candidate=$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  if [ -n "$candidate" ] && [ "$candidate" != "(none)" ] &&
    dpkg --compare-versions "$candidate" ge "${NODE_MIN_MAJOR}.${NODE_MIN_MINOR}"; then
    note "installing Debian's nodejs $candidate"
    # libnode-dev holds the headers under /usr/include/node that native addons compile against.
    apt_install nodejs npm libnode-dev
  fi
  node_ok || fail "Node.js ${NODE_MIN_MAJOR}.${NODE_MIN_MINOR} or newer is required (found: $(node -v 2>/dev/null || echo none))" \
    "install Node.js 20 LTS (Debian 13's nodejs package, or a Node.js 20 package for your release) and run setup again"
fi
command -v npm >/dev/null 2>&1 || fail "npm is missing" "install npm (Debian: apt-get install npm) and run setup again"
note "node $(node -v), npm $(npm -v)"

# Native addons (better-sqlite3) compile with node-gyp against the headers of the installed Node.
# Point node-gyp at them so that it never downloads headers.
if [ -d /usr/include/node ]; then
  export npm_config_nodedir=/usr
fi

# --- Optional: Chromium for the browser tests --------------------------------------------------
if [ "$WITH_BROWSER" -eq 1 ]; then
  step "Checking Chromium"
  if [ -x /usr/bin/chromium ]; then
    note "found /usr/bin/chromium"
  else
    note "installing Debian's chromium (this takes a minute)"
    apt_install chromium
    [ -x /usr/bin/chromium ] || fail "chromium was installed but /usr/bin/chromium is missing" "check 'dpkg -L chromium'"
  fi
  # The browser tests take screenshots in Chinese too; without a CJK font they show empty boxes.
  if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    note "installing a Chinese font for the browser tests"
    apt_install fonts-wqy-microhei
  fi
fi

# --- Dependencies --------------------------------------------------------------------------------
step "Installing Node dependencies"
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
  [ package-lock.json -nt node_modules/.package-lock.json ]; then
  missing=()
  for tool in make g++ python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    note "installing the C++ toolchain for native modules (missing: ${missing[*]})"
    apt_install build-essential python3
  fi
  if [ ! -d /usr/include/node ]; then
    note "warning: /usr/include/node not found; node-gyp may try to download Node's headers"
  fi
  note "npm ci (compiling the SQLite driver takes a minute or two)"
  # build_from_source: better-sqlite3 compiles here instead of first trying to download a prebuilt binary.
  run_logged npm-ci \
    "if package-lock.json is out of date, run 'npm install' and commit the lockfile; a native build error needs g++, make and python3" \
    env npm_config_build_from_source=better-sqlite3 npm ci --no-audit --no-fund
else
  note "node_modules is up to date with package-lock.json"
fi

# --- Build ----------------------------------------------------------------------------------------
# tsc -b is incremental by itself. The web build takes longer, so it is skipped when its output is newer than
# every source it is built from (the server restarts in a second or two instead of rebuilding each time).
web_up_to_date() {
  local out=packages/web/dist/index.html
  [ -f "$out" ] || return 1
  [ -z "$(find packages/web packages/client/src packages/protocol/src package-lock.json \
    -path packages/web/dist -prune -o -path '*/node_modules' -prune -o -type f -newer "$out" -print -quit)" ]
}

step "Building"
run_logged build-ts "the TypeScript build failed; the errors are in the log above ('npx tsc -b packages/server packages/client' reproduces it)" \
  npx --no-install tsc -b packages/server packages/client
if web_up_to_date; then
  note "web app is up to date"
else
  run_logged build-web "the web build failed; the errors are in the log above ('npm run build -w @kkchat/web' reproduces it)" \
    npm run build -w @kkchat/web
fi
note "built packages/server/dist and the web app"

step "Setup done"
