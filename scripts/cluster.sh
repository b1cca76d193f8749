#!/usr/bin/env bash
# A KKChat cluster on this machine, for a newcomer or a benchmark: Kafka (KRaft), S3Proxy, N nodes and nginx in
# front, all on loopback, using the machine's PostgreSQL and Redis.
#
#   bash scripts/cluster.sh start [--nodes N] [--database-url URL]   # build if needed, start everything, wait
#   bash scripts/cluster.sh status                                   # each part: running or not
#   bash scripts/cluster.sh stop                                     # stop everything it started (by PID)
#
# Ports: nginx 19080 (open http://127.0.0.1:19080), nodes 19081.., Kafka 19092/19093 (scripts/kafka.sh), S3Proxy
# 19380 (scripts/s3proxy.sh): the blob store every node shares (KKCHAT_BLOB_STORE=s3), so a file uploaded through
# one node downloads through any other.
# Database: postgres://postgres@127.0.0.1:5432/kkchat_cluster, created when missing (--database-url for another;
# every node shares it). Redis: redis://127.0.0.1:6379 under the key prefix kkchat-cluster: (KKCHAT_REDIS_URL and
# KKCHAT_REDIS_PREFIX to change them).
# State, logs and PIDs: data/cluster/. Every node runs every role; see README "Running a cluster" for roles.
# The nodes get this script's environment (any KKCHAT_* setting) and KKCHAT_NODE_ARGS as extra node flags.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE="$ROOT/data/cluster"
NODES=3
NGINX_PORT=19080
FIRST_NODE_PORT=19081
DATABASE_URL="postgres://postgres@127.0.0.1:5432/kkchat_cluster"
REDIS_URL="${KKCHAT_REDIS_URL:-redis://127.0.0.1:6379}"
KAFKA_PORT=19092
S3_PORT=19380

die() {
  echo "cluster: $*" >&2
  exit 1
}

command="${1:-}"
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) NODES=$2; shift 2 ;;
    --database-url) DATABASE_URL=$2; shift 2 ;;
    *) die "unknown option '$1' (see: bash scripts/cluster.sh --help)" ;;
  esac
done
[[ "$NODES" =~ ^[1-9][0-9]?$ ]] || die "--nodes must be 1 to 99"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz" 2>/dev/null; }

ensure_database() {
  bash scripts/db-services.sh >/dev/null || true
  case "$DATABASE_URL" in
    postgres://postgres@127.0.0.1:5432/kkchat_cluster)
      if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'kkchat_cluster'" | grep -q 1; then
        createdb -h 127.0.0.1 -U postgres kkchat_cluster
        echo "    created the PostgreSQL database kkchat_cluster"
      fi
      ;;
  esac
}

ensure_redis() {
  (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && return 0
  command -v redis-server >/dev/null 2>&1 || die "Redis is not running on 127.0.0.1:6379 and redis-server is not installed (apt-get install redis-server)"
  echo "==> Starting the machine's Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

# S3Proxy (filesystem backend under data/cluster/s3proxy): one blob store for every node; each node's own
# KKCHAT_DATA_DIR would keep a file only on the node that took the upload.
start_s3proxy() {
  if ! alive "$STATE/s3proxy.pid"; then
    bash scripts/s3proxy.sh start --port "$S3_PORT" --dir "$STATE/s3proxy" --pid-file "$STATE/s3proxy.pid" ||
      die "S3Proxy did not start on 127.0.0.1:$S3_PORT (log: $STATE/s3proxy/s3proxy.log)"
  fi
  # The bucket, before the nodes start (each creates it when missing, and two at once would race). 409: it exists.
  local settings code
  settings=$(bash scripts/s3proxy.sh env --port "$S3_PORT")
  setting() { sed -n "s/^$1=//p" <<<"$settings"; }
  # SigV4 with the SHA-256 of the empty body, which S3 wants in x-amz-content-sha256.
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PUT --aws-sigv4 "aws:amz:$(setting KKCHAT_S3_REGION):s3" \
    -H "x-amz-content-sha256: $(printf '' | sha256sum | cut -d' ' -f1)" \
    --user "$(setting KKCHAT_S3_ACCESS_KEY_ID):$(setting KKCHAT_S3_SECRET_ACCESS_KEY)" \
    "$(setting KKCHAT_S3_ENDPOINT)/$(setting KKCHAT_S3_BUCKET)") || true
  case "$code" in
    200 | 409) ;;
    *) die "S3Proxy did not create the bucket (HTTP $code; log: $STATE/s3proxy/s3proxy.log)" ;;
  esac
}

start_node() {
  local i=$1 port=$((FIRST_NODE_PORT + $1 - 1))
  local pid_file="$STATE/node-$i.pid"
  if alive "$pid_file"; then return 0; fi
  mkdir -p "$STATE/node-$i"
  local s3_env=()
  mapfile -t s3_env < <(bash scripts/s3proxy.sh env --port "$S3_PORT")
  # setsid: the nodes outlive this script and do not get the terminal's Ctrl-C.
  setsid env "${s3_env[@]}" \
    KKCHAT_HOST=127.0.0.1 KKCHAT_PORT="$port" KKCHAT_NODE_ID="node-$i" KKCHAT_DATA_DIR="$STATE/node-$i" \
    KKCHAT_DATABASE_URL="$DATABASE_URL" KKCHAT_KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
    KKCHAT_REDIS_URL="$REDIS_URL" KKCHAT_REDIS_PREFIX="${KKCHAT_REDIS_PREFIX:-kkchat-cluster:}" \
    KKCHAT_JWT_SECRET="$(cat "$STATE/jwt-secret")" KKCHAT_TRUST_PROXY=127.0.0.1 \
    KKCHAT_ALLOWED_ORIGINS="http://127.0.0.1:$NGINX_PORT,http://localhost:$NGINX_PORT" \
    node ${KKCHAT_NODE_ARGS:-} packages/server/dist/main.js >>"$STATE/node-$i.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
}

start() {
  mkdir -p "$STATE"
  echo "$NODES" >"$STATE/nodes"
  echo "==> Building (scripts/setup.sh)"
  bash scripts/setup.sh >/dev/null
  ensure_database
  ensure_redis
  echo "==> Kafka (scripts/kafka.sh, 127.0.0.1:$KAFKA_PORT)"
  if ! bash scripts/kafka.sh status >/dev/null 2>&1; then
    bash scripts/kafka.sh start >/dev/null
    touch "$STATE/started-kafka"
  fi
  echo "==> S3Proxy (scripts/s3proxy.sh, 127.0.0.1:$S3_PORT, the nodes' shared blob store)"
  start_s3proxy
  [ -f "$STATE/jwt-secret" ] || { head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$STATE/jwt-secret"; chmod 600 "$STATE/jwt-secret"; }
  echo "==> $NODES nodes on 127.0.0.1:$FIRST_NODE_PORT-$((FIRST_NODE_PORT + NODES - 1))"
  local i ports=()
  for i in $(seq 1 "$NODES"); do
    start_node "$i"
    ports+=($((FIRST_NODE_PORT + i - 1)))
  done
  for i in $(seq 1 "$NODES"); do
    local port=$((FIRST_NODE_PORT + i - 1)) waited=0
    until healthy "$port"; do
      alive "$STATE/node-$i.pid" || { tail -n 20 "$STATE/node-$i.log" >&2; die "node $i exited (log: $STATE/node-$i.log)"; }
      waited=$((waited + 1))
      [ $waited -lt 600 ] || die "node $i did not answer /healthz within 60 s (log: $STATE/node-$i.log)"
      sleep 0.1
    done
  done
  echo "==> nginx on 127.0.0.1:$NGINX_PORT (deploy/nginx/kkchat.conf)"
  local list
  list=$(IFS=,; echo "${ports[*]}")
  bash scripts/nginx.sh render --dir "$STATE/nginx" --listen "$NGINX_PORT" --gateways "$list" --apis "$list"
  bash scripts/nginx.sh start --dir "$STATE/nginx" >/dev/null
  echo "KKChat cluster is up: http://127.0.0.1:$NGINX_PORT ($NODES nodes; logs in $STATE)"
}

status() {
  local nodes=$NODES code=0
  [ -f "$STATE/nodes" ] && nodes=$(cat "$STATE/nodes")
  bash scripts/kafka.sh status || code=3
  local i
  for i in $(seq 1 "$nodes"); do
    local port=$((FIRST_NODE_PORT + i - 1))
    if alive "$STATE/node-$i.pid" && healthy "$port"; then
      echo "node-$i: running (pid $(cat "$STATE/node-$i.pid")) on 127.0.0.1:$port"
    else
      echo "node-$i: stopped"
      code=3
    fi
  done
  if alive "$STATE/s3proxy.pid"; then
    echo "s3proxy: running (pid $(cat "$STATE/s3proxy.pid")) on 127.0.0.1:$S3_PORT"
  else
    echo "s3proxy: stopped"
    code=3
  fi
  if alive "$STATE/nginx/nginx.pid"; then
    echo "nginx: running (pid $(cat "$STATE/nginx/nginx.pid")) on 127.0.0.1:$NGINX_PORT"
  else
    echo "nginx: stopped"
    code=3
  fi
  return $code
}

stop() {
  [ -d "$STATE/nginx" ] && bash scripts/nginx.sh stop --dir "$STATE/nginx" >/dev/null
  local pid_file pids=()
  for pid_file in "$STATE"/node-*.pid; do
    [ -f "$pid_file" ] || continue
    if alive "$pid_file"; then
      kill -TERM "$(cat "$pid_file")"
      pids+=("$(cat "$pid_file")")
    fi
    rm -f "$pid_file"
  done
  local pid
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  [ -f "$STATE/s3proxy.pid" ] && bash scripts/s3proxy.sh stop --pid-file "$STATE/s3proxy.pid"
  if [ -f "$STATE/started-kafka" ]; then
    bash scripts/kafka.sh stop >/dev/null
    rm -f "$STATE/started-kafka"
  fi
  echo "KKChat cluster stopped"
}

case "$command" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
esac
