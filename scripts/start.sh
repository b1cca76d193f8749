#!/usr/bin/env bash
# Installs and builds KKChat if needed, then runs the server in the foreground.
# The server serves the web app; by default at http://localhost:8080 (see .env.example for settings).
#
#   bash scripts/start.sh
#   KKCHAT_PORT=9000 bash scripts/start.sh
set -euo pipefail

cd "$(dirname "$0")/.."

bash scripts/setup.sh

MAIN=packages/server/dist/main.js
if [ ! -f "$MAIN" ]; then
  echo "start: $MAIN is missing after the build" >&2
  echo "hint: run 'npm run build' and look for errors" >&2
  exit 1
fi

echo "==> Starting KKChat on http://localhost:${KKCHAT_PORT:-8080} (Ctrl-C stops it)"
exec node "$MAIN"
