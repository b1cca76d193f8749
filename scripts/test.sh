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

# PostgreSQL and MariaDB for the data-layer tests (they fail, naming the start command, when these are down).
if ! bash scripts/db-services.sh; then
  echo "test: a database server is down (see above); the tests that need it will fail" >&2
fi

# Type errors count too: vitest strips types without checking them, so the tests and the web app's templates
# are type-checked here. A failed check counts as one failure and the tests still run.
echo "==> Type-checking (npm run typecheck)"
if ! npm run --silent typecheck; then
  echo "test: the type check failed (see above); it counts as one failure" >&2
  setup_failed=1
fi

RESULTS=.vitest-results.json
rm -f "$RESULTS"

echo "==> Running tests (vitest run${*:+ $*})"
set +e
npx --no-install vitest run \
  --reporter=default --reporter=json --outputFile.json="$RESULTS" \
  "$@"
status=$?
set -e

node scripts/test-summary.mjs "$RESULTS" "$status" "$setup_failed"
