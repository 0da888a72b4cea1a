#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for apiwatch.
#
#   infra/scripts/kafka.sh fetch     download the broker jars from Maven Central (idempotent)
#   infra/scripts/kafka.sh start     fetch if needed, format storage once, start, wait until ready
#   infra/scripts/kafka.sh stop      stop the broker started by this script
#   infra/scripts/kafka.sh status    exit 0 if running and answering metadata requests
#   infra/scripts/kafka.sh topics    list topics (extra args are passed to TopicCommand)
#   infra/scripts/kafka.sh tool CLASS [ARGS...]   run any Kafka CLI class on the same classpath
#   infra/scripts/kafka.sh logs      print the tail of the broker log
#   infra/scripts/kafka.sh reset     stop, then delete the data and logs (next start reformats)
#
# Environment:
#   APIWATCH_KAFKA_PORT             client listener port on 127.0.0.1     (default 9092)
#   APIWATCH_KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1    (default client port + 1)
#   APIWATCH_KAFKA_DIR              config, data, logs and pid file       (default /tmp/apiwatch-kafka)
#   APIWATCH_KAFKA_HEAP             broker JVM heap options               (default "-Xms256m -Xmx512m")
#   APIWATCH_KAFKA_START_TIMEOUT    seconds to wait for readiness         (default 90)
#   APIWATCH_KAFKA_LINE             4 (default: Kafka 4.x, infra/kafka/pom.xml) or 3.9
#                                   (infra/kafka/pom-3.9.xml); use its own APIWATCH_KAFKA_DIR
#                                   (or `reset`) when switching lines over existing data
#
# Needs only Java (11+) and Maven (for the first fetch). Progress goes to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_HOME="$(cd "$SCRIPT_DIR/../kafka" && pwd)"
LINE="${APIWATCH_KAFKA_LINE:-4}"
case "$LINE" in
  4) POM="$KAFKA_HOME/pom.xml"; LIB="$KAFKA_HOME/.lib" ;;
  3.9) POM="$KAFKA_HOME/pom-3.9.xml"; LIB="$KAFKA_HOME/.lib-3.9" ;;
  *) printf '[kafka] ERROR: APIWATCH_KAFKA_LINE must be 4 or 3.9 (got "%s")\n' "$LINE" >&2; exit 2 ;;
esac
STAMP="$LIB/.fetched"

PORT="${APIWATCH_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${APIWATCH_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
BASE_DIR="${APIWATCH_KAFKA_DIR:-/tmp/apiwatch-kafka}"
HEAP="${APIWATCH_KAFKA_HEAP:--Xms256m -Xmx512m}"
START_TIMEOUT="${APIWATCH_KAFKA_START_TIMEOUT:-90}"
HOST=127.0.0.1
BOOTSTRAP="$HOST:$PORT"

DATA_DIR="$BASE_DIR/data"
LOG_DIR="$BASE_DIR/logs"
CONFIG="$BASE_DIR/server.properties"
LOG4J="$BASE_DIR/log4j.properties"
TOOLS_LOG4J="$BASE_DIR/tools-log4j.properties"
LOG4J2="$BASE_DIR/log4j2.properties"
TOOLS_LOG4J2="$BASE_DIR/tools-log4j2.properties"
CLIENT_CONFIG="$BASE_DIR/client.properties"
PID_FILE="$BASE_DIR/kafka.pid"
OUT_FILE="$LOG_DIR/kafka.out"
SERVER_LOG="$LOG_DIR/server.log"

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] ERROR: %s\n' "$*" >&2; exit 1; }

need_java() {
  command -v java >/dev/null 2>&1 \
    || die "java not found (Java 11+ needed; on Debian: apt-get install -y openjdk-17-jre-headless)"
}

jars_present() {
  [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(pom_hash)" ]] \
    && compgen -G "$LIB/kafka_2.13-*.jar" >/dev/null
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

cmd_fetch() {
  if jars_present; then
    log "jars already present in $LIB ($(kafka_version)); skipping fetch"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (on Debian: apt-get install -y maven)"
  need_java
  local tmp="$KAFKA_HOME/.lib.tmp.$$" out="$KAFKA_HOME/.lib.tmp.$$.log" t0=$SECONDS
  rm -rf "$tmp"
  log "fetching the Kafka broker and its dependencies from Maven Central (mvn)..."
  # Fetch into a temp folder and swap it in only on success, so an interrupted or
  # version-changing fetch never leaves a half-filled or mixed classpath behind.
  if ! mvn -q -B -f "$POM" package "-Dkafka.lib.dir=$tmp" >"$out" 2>&1; then
    tail -n 40 "$out" >&2 || true
    rm -rf "$tmp" "$out"
    die "mvn failed to fetch the Kafka jars (see output above)"
  fi
  rm -f "$out"
  compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || { rm -rf "$tmp"; die "mvn ran but no kafka_2.13 jar was copied"; }
  pom_hash >"$tmp/.fetched"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars ($(kafka_version)) in $((SECONDS - t0))s"
}

kafka_version() {
  local j
  j="$(compgen -G "$LIB/kafka_2.13-*.jar" | head -n1 || true)"
  j="${j##*/kafka_2.13-}"
  printf 'Kafka %s' "${j%.jar}"
}

# Kafka 4 logs through log4j2, 3.x through reload4j (log4j 1.x configuration syntax).
if [[ "$LINE" == 3.9 ]]; then
  TOOLS_LOG_OPT="-Dlog4j.configuration=file:$TOOLS_LOG4J"
  BROKER_LOG_OPT="-Dlog4j.configuration=file:$LOG4J"
else
  TOOLS_LOG_OPT="-Dlog4j2.configurationFile=$TOOLS_LOG4J2"
  BROKER_LOG_OPT="-Dlog4j2.configurationFile=$LOG4J2"
fi

# Run a Kafka CLI class on the fetched classpath, quietly (tools log WARN+ to stderr).
TOOL_JVM=(-Xms64m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
  "$TOOLS_LOG_OPT")
run_tool() {
  local cls="$1"; shift
  write_tools_log4j
  java "${TOOL_JVM[@]}" -cp "$LIB/*" "$cls" "$@"
}

write_tools_log4j() {
  mkdir -p "$BASE_DIR"
  if [[ ! -f "$TOOLS_LOG4J2" ]]; then
    cat >"$TOOLS_LOG4J2" <<'EOF'
status = warn
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = STDERR
EOF
  fi
  [[ -f "$TOOLS_LOG4J" ]] && return 0
  cat >"$TOOLS_LOG4J" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  cat >"$CONFIG" <<EOF
# Generated by infra/scripts/kafka.sh on each start; edits are overwritten.
# Single-node KRaft: this process is both the broker and the (only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA_DIR

# Single-node settings.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.partitions=4
auto.create.topics.enable=true
delete.topic.enable=true

# Small machine (2 cores).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=300000
EOF
  cat >"$LOG4J" <<'EOF'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=50MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.zookeeper=WARN
EOF
  cat >"$LOG4J2" <<'EOF'
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.clients.name = org.apache.kafka.clients
logger.clients.level = warn
EOF
  write_client_config
}

# Short admin-client timeouts so a health probe fails fast instead of retrying for 60 s.
write_client_config() {
  mkdir -p "$BASE_DIR"
  cat >"$CLIENT_CONFIG" <<'EOF'
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

# pid of the broker started by this script, if it is still alive (guards against pid reuse).
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
  printf '%s\n' "$pid"
}

port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# A real metadata round trip: list topics through the admin client.
metadata_ok() {
  [[ -f "$CLIENT_CONFIG" ]] || write_client_config
  write_tools_log4j
  timeout 30 java "${TOOL_JVM[@]}" -cp "$LIB/*" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$BOOTSTRAP" --command-config "$CLIENT_CONFIG" --list >/dev/null 2>&1
}

# Byte offset of server.log when this start began, so a failure shows only this run's lines.
SERVER_LOG_OFFSET=0

show_log_tail() {
  if [[ -s "$OUT_FILE" ]]; then
    printf '[kafka] ---- last lines of %s ----\n' "$OUT_FILE" >&2
    tail -n 40 "$OUT_FILE" >&2 || true
  fi
  if [[ -s "$SERVER_LOG" ]]; then
    local size
    size="$(stat -c %s "$SERVER_LOG")"
    ((size >= SERVER_LOG_OFFSET)) || SERVER_LOG_OFFSET=0 # rotated meanwhile
    if ((size > SERVER_LOG_OFFSET)); then
      printf '[kafka] ---- last lines of %s ----\n' "$SERVER_LOG" >&2
      tail -c "+$((SERVER_LOG_OFFSET + 1))" "$SERVER_LOG" | tail -n 40 >&2 || true
    fi
  fi
}

formatted() { [[ -f "$DATA_DIR/meta.properties" ]]; }

format_storage() {
  local cid
  cid="$(run_tool kafka.tools.StorageTool random-uuid)" || die "could not generate a cluster id"
  log "formatting storage in $DATA_DIR (cluster id $cid)"
  run_tool kafka.tools.StorageTool format -t "$cid" -c "$CONFIG" >"$LOG_DIR/format.log" 2>&1 || {
    cat "$LOG_DIR/format.log" >&2
    die "kafka storage format failed"
  }
}

with_lock() {
  mkdir -p "$BASE_DIR"
  exec 9>"$BASE_DIR/.lock"
  if ! flock -n 9; then
    log "another kafka.sh is busy with $BASE_DIR; waiting for it (up to 180s)..."
    flock -w 180 9 || die "timed out waiting for the lock $BASE_DIR/.lock"
  fi
}

cmd_start() {
  with_lock
  local pid
  need_java
  # The probes below run Kafka's own tools from this checkout's jars, so fetch them first, even
  # when a broker (started from another checkout) is already running.
  cmd_fetch
  if pid="$(running_pid)"; then
    if metadata_ok; then
      log "already running (pid $pid) and healthy on $BOOTSTRAP"
      return 0
    fi
    log "running (pid $pid) but not answering yet; waiting"
    wait_ready "$pid"
    return 0
  fi
  rm -f "$PID_FILE"
  if port_open "$PORT"; then
    if metadata_ok; then
      log "a Kafka broker not started by this script already answers on $BOOTSTRAP; using it"
      return 0
    fi
    die "port $PORT on $HOST is in use by something that is not a working Kafka broker"
  fi
  port_open "$CONTROLLER_PORT" && die "controller port $CONTROLLER_PORT on $HOST is already in use (set APIWATCH_KAFKA_CONTROLLER_PORT)"

  write_config
  formatted || format_storage

  log "starting $(kafka_version) on $BOOTSTRAP (controller $HOST:$CONTROLLER_PORT, dir $BASE_DIR)"
  : >"$OUT_FILE"
  SERVER_LOG_OFFSET="$(stat -c %s "$SERVER_LOG" 2>/dev/null || echo 0)"
  # setsid: own session, so the broker outlives the calling shell/job; the inner shell
  # writes its own pid then execs java, so the pid file holds the JVM's pid.
  # shellcheck disable=SC2086,SC2016
  nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
    java $HEAP -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$LOG_DIR" "$BROKER_LOG_OPT" \
    -cp "$LIB/*" kafka.Kafka "$CONFIG" </dev/null >>"$OUT_FILE" 2>&1 9>&- &

  for _ in $(seq 1 50); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "broker did not start (no pid written)"
  wait_ready "$pid"
}

wait_ready() {
  local pid="$1" t0=$SECONDS deadline=$((SECONDS + START_TIMEOUT))
  log "waiting for the broker (pid $pid) to accept connections and serve metadata (timeout ${START_TIMEOUT}s)..."
  while ! port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail; rm -f "$PID_FILE"
      die "broker process exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail
      log "stopping the half-started broker (pid $pid)"
      stop_pid "$pid"
      die "port $PORT not open after ${START_TIMEOUT}s (raise APIWATCH_KAFKA_START_TIMEOUT if the machine is slow)"
    fi
    sleep 0.5
  done
  while ! metadata_ok; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail; rm -f "$PID_FILE"
      die "broker process exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail
      log "stopping the half-started broker (pid $pid)"
      stop_pid "$pid"
      die "metadata request still failing after ${START_TIMEOUT}s (raise APIWATCH_KAFKA_START_TIMEOUT if the machine is slow)"
    fi
    sleep 1
  done
  log "ready on $BOOTSTRAP (pid $pid) after $((SECONDS - t0))s; logs in $LOG_DIR"
}

# SIGTERM (controlled shutdown), wait up to 60 s, then SIGKILL.
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "still alive after 60s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
  fi
  rm -f "$PID_FILE"
}

cmd_stop() {
  with_lock
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running (no live broker from $PID_FILE)"
    return 0
  fi
  log "stopping broker (pid $pid)..."
  stop_pid "$pid"
  log "stopped"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    if metadata_ok; then
      log "running (pid $pid), healthy on $BOOTSTRAP"
      return 0
    fi
    log "running (pid $pid) but not answering metadata requests on $BOOTSTRAP"
    return 1
  fi
  if port_open "$PORT" && metadata_ok; then
    log "not started by this script, but a Kafka broker answers on $BOOTSTRAP"
    return 0
  fi
  log "not running"
  return 1
}

cmd_topics() {
  jars_present || die "jars not fetched yet; run '$0 fetch' or '$0 start'"
  port_open "$PORT" || die "no broker listening on $BOOTSTRAP; run '$0 start'"
  [[ -f "$CLIENT_CONFIG" ]] || write_client_config
  if (($# == 0)); then set -- --list; fi
  run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" \
    --command-config "$CLIENT_CONFIG" "$@"
}

cmd_tool() {
  (($# >= 1)) || die "usage: $0 tool CLASS [ARGS...]  (e.g. kafka.tools.ConsoleProducer, org.apache.kafka.tools.consumer.ConsoleConsumer)"
  jars_present || die "jars not fetched yet; run '$0 fetch' or '$0 start'"
  run_tool "$@"
}

cmd_logs() {
  show_log_tail
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA_DIR and $LOG_DIR"
  rm -rf "$DATA_DIR" "$LOG_DIR"
  rm -f "$CONFIG" "$LOG4J" "$TOOLS_LOG4J" "$LOG4J2" "$TOOLS_LOG4J2" "$CLIENT_CONFIG"
}

usage() {
  sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
}

main() {
  local sub="${1:-}"
  (($# > 0)) && shift
  case "$sub" in
    fetch) cmd_fetch "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    topics) cmd_topics "$@" ;;
    tool) cmd_tool "$@" ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset "$@" ;;
    -h | --help | help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
