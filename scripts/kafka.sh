#!/usr/bin/env bash
# A single-broker Apache Kafka cluster (KRaft: broker and controller in one JVM, no ZooKeeper) on loopback,
# for development and tests. The jars come from Maven (scripts/kafka/pom.xml) into ~/.cache/kkchat/kafka.
#
#   bash scripts/kafka.sh fetch                  # download the broker's jars once (idempotent)
#   bash scripts/kafka.sh start [options]        # start in the background, wait until it serves, print its PID
#   bash scripts/kafka.sh stop [options]         # stop the broker of that directory (by its PID)
#   bash scripts/kafka.sh status [options]       # "running (pid N) on 127.0.0.1:PORT" or "stopped"; exit 0/3
#
# Options (or environment):
#   --dir DIR               broker directory: config, data, log, PID  (KKCHAT_KAFKA_DIR, ~/.cache/kkchat/kafka/broker)
#   --port PORT             client port                                 (KKCHAT_KAFKA_PORT, 19092)
#   --controller-port PORT  KRaft controller port                       (KKCHAT_KAFKA_CONTROLLER_PORT, 19093)
#   --partitions N          partitions of topics created without a count (8)
#
# The directory belongs to this script: `start` creates and formats it on first use, `stop` leaves the data in
# place (a restart keeps the topics and their messages); remove the directory to start afresh.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
POM="$ROOT/scripts/kafka/pom.xml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
CACHE="${KKCHAT_CACHE_DIR:-$HOME/.cache/kkchat}/kafka/$KAFKA_VERSION"
LIBS="$CACHE/libs"

DIR="${KKCHAT_KAFKA_DIR:-$HOME/.cache/kkchat/kafka/broker}"
PORT="${KKCHAT_KAFKA_PORT:-19092}"
CONTROLLER_PORT="${KKCHAT_KAFKA_CONTROLLER_PORT:-19093}"
PARTITIONS=8
HEAP="${KKCHAT_KAFKA_HEAP:-512m}"

die() {
  echo "kafka: $*" >&2
  exit 1
}

command="${1:-}"
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --controller-port) CONTROLLER_PORT=$2; shift 2 ;;
    --partitions) PARTITIONS=$2; shift 2 ;;
    -h | --help) command=help; shift ;;
    *) die "unknown option '$1' (see: bash scripts/kafka.sh --help)" ;;
  esac
done
mkdir -p "$(dirname "$DIR")"
DIR=$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")
PID_FILE="$DIR/broker.pid"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else "$@"; fi; }

# Java 17 and Maven: on the development machines and in CI already; installed from Debian when missing.
ensure_tools() {
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "need ${missing[*]}: install Java 17 and Maven and run again"
  echo "==> Installing ${missing[*]}"
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The jars, copied once per pom content; a marker holding the pom's hash says the copy is complete.
fetch() {
  local stamp="$CACHE/.pom-sha256" want
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d "$LIBS" ]; then return 0; fi
  ensure_tools
  echo "==> Fetching Apache Kafka $KAFKA_VERSION (broker jars, once) into $LIBS"
  rm -rf "$LIBS.partial"
  mkdir -p "$CACHE"
  local log="$CACHE/fetch.log"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.partial" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "fetching the Kafka jars failed (log: $log)"
  fi
  rm -rf "$LIBS"
  mv "$LIBS.partial" "$LIBS"
  echo "$want" >"$stamp"
}

running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka.Kafka' || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

java_run() {
  java -Xms128m "-Xmx$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    "-Dlog4j2.configurationFile=$DIR/log4j2.properties" -cp "$LIBS/*" "$@"
}

write_config() {
  mkdir -p "$DIR/data"
  cat >"$DIR/server.properties" <<EOF
# Written by scripts/kafka.sh; rewritten at each start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=$PARTITIONS
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
EOF
  cat >"$DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $DIR/broker.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = warn
logger.apache.name = org.apache.kafka
logger.apache.level = warn
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
EOF
}

start() {
  local pid
  if pid=$(running_pid); then
    echo "$pid"
    return 0
  fi
  fetch
  port_open "$PORT" && die "port $PORT is in use by another process"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT is in use by another process"
  write_config
  if [ ! -f "$DIR/data/meta.properties" ]; then
    local cluster_id
    cluster_id=$(java_run kafka.tools.StorageTool random-uuid)
    java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$DIR/server.properties" >"$DIR/format.log" 2>&1 ||
      { cat "$DIR/format.log" >&2; die "formatting $DIR/data failed"; }
  fi
  : >"$DIR/broker.log"
  # setsid: the broker does not share the caller's process group, so a terminal's Ctrl-C does not reach it.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" java -Xms128m "-Xmx$HEAP" -XX:+UseSerialGC \
    -XX:TieredStopAtLevel=1 -Djava.awt.headless=true "-Dlog4j2.configurationFile=$DIR/log4j2.properties" \
    -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" >"$DIR/stdout.log" 2>&1 </dev/null &
  local waited=0
  while [ $waited -lt 600 ]; do
    if pid=$(running_pid) && grep -q 'Kafka Server started' "$DIR/broker.log" 2>/dev/null && port_open "$PORT"; then
      echo "$pid"
      return 0
    fi
    if [ -f "$PID_FILE" ] && ! running_pid >/dev/null && [ $waited -gt 10 ]; then break; fi
    sleep 0.1
    waited=$((waited + 1))
  done
  tail -n 30 "$DIR/stdout.log" "$DIR/broker.log" >&2 || true
  [ -f "$PID_FILE" ] && kill -9 "$(cat "$PID_FILE")" 2>/dev/null || true
  die "the broker did not start within 60 s (logs in $DIR)"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    echo "stopped"
    return 0
  fi
  kill "$pid"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$PID_FILE"
  echo "stopped"
}

case "$command" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status)
    if pid=$(running_pid); then
      port=$(sed -n "s/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1://p" "$DIR/server.properties" 2>/dev/null)
      echo "running (pid $pid) on 127.0.0.1:${port:-$PORT}, directory $DIR"
    else
      echo "stopped"
      exit 3
    fi
    ;;
  help | "") sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$command' (start, stop, status, fetch)" ;;
esac
