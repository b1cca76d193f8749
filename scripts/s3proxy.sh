#!/usr/bin/env bash
# S3Proxy, an S3-compatible server (filesystem backend), on loopback: for development and for the tests of
# KKChat's S3 blob store. Java 17 and Maven are needed; the jars are fetched once from Maven Central into
# ~/.cache/kkchat/s3proxy (override with KKCHAT_CACHE_DIR) and reused.
#
#   bash scripts/s3proxy.sh fetch                                 # fetch the jars (idempotent)
#   bash scripts/s3proxy.sh start [--port 19380] [--dir DIR] [--pid-file FILE]
#   bash scripts/s3proxy.sh stop [--pid-file FILE]                # stops the instance started with that pid file
#   bash scripts/s3proxy.sh env [--port 19380]                    # the KKCHAT_S3_* settings for that instance
#
# Defaults: port 19380, data in ./data/s3proxy, pid file in that directory. Credentials are fixed development
# ones (access key "kkchat", secret "kkchat-dev-secret"); never expose this instance beyond loopback.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE_DIR=${KKCHAT_CACHE_DIR:-$HOME/.cache/kkchat}/s3proxy
VERSION=2.9.0
LIB="$CACHE_DIR/lib-$VERSION"
ACCESS_KEY=kkchat
SECRET_KEY=kkchat-dev-secret

command=${1:-}
[ $# -gt 0 ] && shift
PORT=19380
DIR="$ROOT/data/s3proxy"
PID_FILE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --pid-file) PID_FILE=$2; shift 2 ;;
    *) echo "s3proxy: unknown option '$1'" >&2; exit 2 ;;
  esac
done
PID_FILE=${PID_FILE:-$DIR/s3proxy.pid}

fetch() {
  if [ -f "$LIB/.complete" ]; then return 0; fi
  if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
      echo "==> Installing Java 17 and Maven (apt)" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless maven >/dev/null
    fi
    command -v mvn >/dev/null 2>&1 || { echo "s3proxy: Maven (mvn) is needed to fetch S3Proxy; apt-get install maven" >&2; exit 1; }
    command -v java >/dev/null 2>&1 || { echo "s3proxy: Java 17 is needed; apt-get install openjdk-17-jre-headless" >&2; exit 1; }
  fi
  echo "==> Fetching S3Proxy $VERSION into $LIB (once)" >&2
  mkdir -p "$LIB"
  local log="$CACHE_DIR/fetch.log"
  if ! mvn -B -q -f "$ROOT/scripts/s3proxy/pom.xml" dependency:copy-dependencies -DoutputDirectory="$LIB" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "s3proxy: fetching the jars failed (log: $log)" >&2
    exit 1
  fi
  touch "$LIB/.complete"
}

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  fetch
  if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "s3proxy: already running (pid $(cat "$PID_FILE"))" >&2
    return 0
  fi
  if up "$PORT"; then echo "s3proxy: port $PORT is taken" >&2; exit 1; fi
  mkdir -p "$DIR/buckets"
  cat >"$DIR/s3proxy.properties" <<PROPS
s3proxy.endpoint=http://127.0.0.1:$PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$ACCESS_KEY
s3proxy.credential=$SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$DIR/buckets
PROPS
  nohup java -Xmx256m -Dlogback.configurationFile="$ROOT/scripts/s3proxy/logback.xml" -cp "$LIB/*" \
    org.gaul.s3proxy.Main --properties "$DIR/s3proxy.properties" >"$DIR/s3proxy.log" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 120); do
    if up "$PORT"; then
      echo "s3proxy: listening on http://127.0.0.1:$PORT (pid $(cat "$PID_FILE"), data $DIR/buckets)" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  tail -n 30 "$DIR/s3proxy.log" >&2 || true
  kill "$(cat "$PID_FILE")" 2>/dev/null || true
  rm -f "$PID_FILE"
  echo "s3proxy: did not start" >&2
  exit 1
}

stop() {
  if [ ! -f "$PID_FILE" ]; then echo "s3proxy: not running (no $PID_FILE)" >&2; return 0; fi
  local pid
  pid=$(cat "$PID_FILE")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
}

case "$command" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  env)
    echo "KKCHAT_BLOB_STORE=s3"
    echo "KKCHAT_S3_ENDPOINT=http://127.0.0.1:$PORT"
    echo "KKCHAT_S3_BUCKET=kkchat"
    echo "KKCHAT_S3_REGION=us-east-1"
    echo "KKCHAT_S3_ACCESS_KEY_ID=$ACCESS_KEY"
    echo "KKCHAT_S3_SECRET_ACCESS_KEY=$SECRET_KEY"
    echo "KKCHAT_S3_FORCE_PATH_STYLE=true"
    ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
