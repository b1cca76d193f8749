#!/usr/bin/env bash
# The one test command: installs and builds what is needed, runs every test project, prints a summary.
#
#   bash scripts/test.sh                      # all projects: unit, integration, web, e2e
#   bash scripts/test.sh --project unit       # extra arguments go to vitest
#   bash scripts/test.sh packages/protocol    # a path filter
#
# The last line is always "N passed, N failed" (", N skipped" when some were skipped).
# Exits non-zero when a test failed, a test file failed to load, the runner crashed, setup failed, or no test ran.
set -uo pipefail

cd "$(dirname "$0")/.."

# A failed setup counts as one failure. When the dependencies are installed (only the build failed), the tests
# still run, so that one run shows everything that is broken.
setup_failed=0
if ! bash scripts/setup.sh --with-browser; then
  setup_failed=1
  if [ ! -x node_modules/.bin/vitest ]; then
    echo "test: setup failed before the test runner was installed; no tests were run" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "test: setup failed (see above); running the tests anyway, the failed setup counts as one failure" >&2
fi

# PostgreSQL, MariaDB and Redis for the data-layer and Redis tests (they fail, naming the start command, when
# these are down).
if ! bash scripts/db-services.sh; then
  echo "test: a database or Redis server is down (see above); the tests that need it will fail" >&2
fi

# Apache Kafka's jars for the cluster tests (each such test starts its own broker): fetched once into
# ~/.cache/kkchat/kafka, Java 17 and Maven installed from Debian when missing. A failure counts as one.
echo "==> Checking the Kafka broker (scripts/kafka.sh fetch) and nginx (scripts/nginx.sh install)"
if ! bash scripts/kafka.sh fetch; then
  echo "test: the Kafka broker could not be fetched (see above); the cluster tests will fail" >&2
  setup_failed=1
fi
if ! bash scripts/nginx.sh install; then
  echo "test: nginx could not be installed (see above); the cluster end-to-end test will fail" >&2
  setup_failed=1
fi

# S3Proxy for the S3 blob store tests: its jars are fetched from Maven Central once into ~/.cache/kkchat.
if ! bash scripts/s3proxy.sh fetch; then
  echo "test: S3Proxy could not be fetched (see above); the S3 tests will fail" >&2
fi

# Type errors count too: vitest strips types without checking them, so the tests and the web app's templates
# are type-checked here. A failed check counts as one failure and the tests still run.
echo "==> Type-checking (npm run typecheck)"
if ! npm run --silent typecheck; then
  echo "test: the type check failed (see above); it counts as one failure" >&2
  setup_failed=1
fi

RESULTS=.vitest-results.json
E2E_RESULTS=.vitest-results-e2e.json
rm -f "$RESULTS" "$E2E_RESULTS"

run_vitest() {
  # run_vitest <results file> [vitest args...]; prints nothing itself, returns vitest's exit code
  local out=$1
  shift
  npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$out" "$@"
}

# Browser tests run in a private network namespace when this machine allows one (root and unshare): only a
# loopback interface exists there, so the browsers, their WebRTC media and the servers they talk to cannot use any
# other address. Elsewhere they run like the other projects.
in_private_network() {
  if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
    unshare -n true 2>/dev/null; then
    unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    "$@"
  fi
}

set +e
if [ $# -gt 0 ]; then
  echo "==> Running tests (vitest run $*)"
  run_vitest "$RESULTS" "$@"
  runs=("$RESULTS=$?")
else
  echo "==> Running tests (unit, integration, web)"
  run_vitest "$RESULTS" --project unit --project integration --project web
  runs=("$RESULTS=$?")
  echo "==> Running browser tests (e2e)"
  in_private_network npx --no-install vitest run --reporter=default --reporter=json \
    --outputFile.json="$E2E_RESULTS" --project e2e
  runs+=("$E2E_RESULTS=$?")
fi
set -e

node scripts/test-summary.mjs "$setup_failed" "${runs[@]}"
