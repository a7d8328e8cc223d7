#!/usr/bin/env bash
# Starts/stops the REAL services the test suite talks to, without Docker:
#   - PostgreSQL: the machine's own cluster on 127.0.0.1:5432 (checked/started, never stopped)
#   - Kafka:      Apache Kafka (KRaft, single combined broker+controller node) from Maven Central
#   - S3:         S3Proxy (filesystem backend) from Maven Central
#
# Usage: scripts/test-services.sh <command>
#   up        start whatever is not running yet (reuses healthy services); prints export lines on stdout
#   env       print export lines for the running services (exit 1 if one is not up)
#   status    show what is running
#   down      stop Kafka and S3Proxy, delete their per-run data (keeps the jar cache)
#   stop-s3   stop only S3Proxy (keeps port and data)
#   start-s3  start only S3Proxy again, on the same port with the same data
#
# Typical use:  scripts/test-services.sh up >/dev/null && eval "$(scripts/test-services.sh env)"
#
# State lives under <repo>/.services/ (git-ignored):
#   cache/<kafka|s3proxy>/lib   jars copied from the local Maven repo (resolved once)
#   kafka/                      server.properties, data/, kafka.log (WARN+), stdout.log, pid, ports,
#                               tls/ (the broker's self-signed certificate, for the SASL_SSL listener)
#   s3/                         s3proxy.properties, data/ (buckets), s3proxy.log, pid, port
#   env                         the export lines of the last successful up/start-s3
#
# Environment knobs:
#   MAVEN_REPO_LOCAL=/path   passed as -Dmaven.repo.local (e.g. to test with an empty Maven cache)
#   MAVEN_ARGS="..."         extra arguments for mvn (word-split)
#   JAVA_HOME                java to use (default: java on PATH); Java 17+ required
#   KAFKA_READY_TIMEOUT=60   seconds to wait for Kafka;  S3_READY_TIMEOUT=30 for S3Proxy
#   KAFKA_HEAP=512m          S3_HEAP=384m
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
SVC="$ROOT/.services"
CACHE="$SVC/cache"
KDIR="$SVC/kafka"
SDIR="$SVC/s3"
POMS="$ROOT/test/services"

KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-60}"
S3_READY_TIMEOUT="${S3_READY_TIMEOUT:-30}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
S3_HEAP="${S3_HEAP:-384m}"

PG_HOST=127.0.0.1
PG_PORT=5432
PG_ADMIN_URL_VALUE="postgres://postgres@${PG_HOST}:${PG_PORT}/postgres"

KAFKA_SASL_USER="stowage-test"
KAFKA_SASL_PASSWORD="stowage-test-kafka-password-not-for-production"
S3_ACCESS_KEY="stowage-test-access"
S3_SECRET_KEY="stowage-test-secret-key-not-for-production"
S3_REGION="us-east-1"

# ---------------------------------------------------------------- helpers
log() { printf '[test-services] %s\n' "$*" >&2; }
die() { printf '[test-services] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

tail_log() { # file [lines]
  local f="$1" n="${2:-40}"
  if [[ -s "$f" ]]; then
    printf '[test-services] ---- last %s lines of %s ----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf '[test-services] ---- end of %s ----\n' "$f" >&2
  else
    log "(log $f is empty or missing)"
  fi
}

JAVA=""
need_java() {
  [[ -n "$JAVA" ]] && return 0
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    JAVA="$JAVA_HOME/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA="$(command -v java)"
  else
    die "java not found (need a Java 17+ runtime on PATH or JAVA_HOME; e.g. apt-get install openjdk-17-jre-headless)"
  fi
  local v major
  v="$("$JAVA" -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')"
  major="${v%%.*}"
  [[ "$major" == "1" ]] && major="$(echo "$v" | cut -d. -f2)"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot parse java version from '$JAVA -version' (got '$v')"
  ((major >= 17)) || die "Java 17+ required for Kafka 4.x / S3Proxy 4.x, but $JAVA is version $v"
}

need_mvn() {
  command -v mvn >/dev/null 2>&1 || die "mvn not found (Apache Maven is needed once to fetch the service jars from Maven Central; e.g. apt-get install maven)"
}

file_hash() { sha256sum "$1" | cut -d' ' -f1; }

# resolve_lib <name>: make sure $CACHE/<name>/lib holds the runtime jars of test/services/<name>/pom.xml
resolve_lib() {
  local name="$1" pom="$POMS/$1/pom.xml" dir="$CACHE/$1"
  local lib="$dir/lib" marker="$dir/lib/.complete"
  [[ -f "$pom" ]] || die "missing $pom"
  local want
  want="$(file_hash "$pom")"
  if [[ -f "$marker" && "$(cat "$marker")" == "$want" ]]; then
    return 0
  fi
  need_mvn
  mkdir -p "$dir"
  local tmp="$dir/lib.tmp.$$" mlog="$dir/mvn.log" t0
  rm -rf "$tmp"
  t0="$(now)"
  local -a args=(-B -q -f "$pom")
  [[ -n "${MAVEN_REPO_LOCAL:-}" ]] && args+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
  # shellcheck disable=SC2206
  [[ -n "${MAVEN_ARGS:-}" ]] && args+=(${MAVEN_ARGS})
  args+=(dependency:copy-dependencies "-DoutputDirectory=$tmp" -DincludeScope=runtime)
  log "resolving $name jars with Maven (mvn ${args[*]}) ..."
  if ! mvn "${args[@]}" </dev/null >"$mlog" 2>&1; then
    tail_log "$mlog" 60
    rm -rf "$tmp"
    die "Maven could not resolve the $name jars (pom: $pom, log: $mlog)"
  fi
  compgen -G "$tmp/*.jar" >/dev/null || die "Maven produced no jars for $name (log: $mlog)"
  rm -rf "$lib"
  mv "$tmp" "$lib"
  echo "$want" >"$marker"
  local jars=("$lib"/*.jar)
  log "$name jars resolved in $(elapsed "$t0")s (${#jars[@]} jars, $(du -sh "$lib" | cut -f1))"
}

free_port() { # prints a currently free TCP port on 127.0.0.1 (excluding any given as args)
  local p i
  for i in $(seq 1 50); do
    if command -v python3 >/dev/null 2>&1; then
      p="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
    else
      p=$((20000 + RANDOM % 12000))
      port_open "$p" && continue
    fi
    [[ "$p" == 9092 ]] && continue
    if [[ " $* " != *" $p "* ]]; then
      echo "$p"
      return 0
    fi
  done
  die "could not find a free TCP port"
}

port_open() { # is something listening on 127.0.0.1:$1 ?
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# our_pid <dir> <marker>: prints the pid from <dir>/pid if that process is alive and is ours
our_pid() {
  local pf="$1/pid" pid
  [[ -f "$pf" ]] || return 1
  pid="$(cat "$pf" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  local cl
  cl="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cl" == *"$2"* ]] || return 1
  echo "$pid"
}

# stop_pid <pid> <label> <timeout>: TERM, wait, then KILL
stop_pid() {
  local pid="$1" label="$2" to="$3" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < to * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$label (pid $pid) stopped"; return 0; }
    sleep 0.1
  done
  log "$label (pid $pid) did not stop within ${to}s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "WARNING: $label (pid $pid) still alive after SIGKILL"
}

# spawn <dir> <logfile> cmd...: start cmd detached (own session, no stdin), pid -> <dir>/pid
spawn() {
  local dir="$1" out="$2"
  shift 2
  rm -f "$dir/pid"
  # bash writes its own pid and then execs the command, so the pid file holds the JVM's pid
  # shellcheck disable=SC2016 # expanded by the inner bash
  # (fd 9 is the lock of this script: the service must not inherit it)
  setsid nohup bash -c 'echo $$ >"$0"; exec "$@"' "$dir/pid" "$@" </dev/null >>"$out" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$dir/pid" ]] && return 0
    sleep 0.1
  done
  die "could not start $* (no pid file)"
}

# ---------------------------------------------------------------- PostgreSQL
pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 >/dev/null 2>&1; }

ensure_pg() {
  command -v pg_isready >/dev/null 2>&1 || die "pg_isready not found (install postgresql-client); PostgreSQL is expected on $PG_HOST:$PG_PORT"
  local t0
  t0="$(now)"
  if pg_up; then
    log "postgres already answering at $PG_HOST:$PG_PORT"
  else
    log "postgres not answering at $PG_HOST:$PG_PORT; starting local cluster 15/main"
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster --skip-systemctl-redirect 15 main start </dev/null >&2 || log "pg_ctlcluster start returned non-zero (maybe already starting)"
    else
      die "pg_ctlcluster not found; start PostgreSQL on $PG_HOST:$PG_PORT yourself"
    fi
    local i
    for ((i = 0; i < 300; i++)); do
      pg_up && break
      sleep 0.1
    done
    pg_up || {
      tail_log "/var/log/postgresql/postgresql-15-main.log" 30
      die "postgres did not come up on $PG_HOST:$PG_PORT within 30s"
    }
    log "postgres ready in $(elapsed "$t0")s at $PG_HOST:$PG_PORT"
  fi
  if command -v psql >/dev/null 2>&1; then
    local who
    who="$(psql "$PG_ADMIN_URL_VALUE" -XAtc 'select current_user' </dev/null 2>&1)" ||
      die "cannot connect as $PG_ADMIN_URL_VALUE: $who"
    [[ "$who" == "postgres" ]] || die "unexpected current_user '$who' for $PG_ADMIN_URL_VALUE"
  fi
}

# ---------------------------------------------------------------- Kafka
KAFKA_MARK="-Dstowage.test-service=kafka@$SVC"

kafka_pid() { our_pid "$KDIR" "$KAFKA_MARK"; }

kafka_healthy() {
  local port
  kafka_pid >/dev/null || return 1
  port="$(cat "$KDIR/port" 2>/dev/null)" || return 1
  # A broker started before the SASL listeners existed is restarted with them.
  [[ -f "$KDIR/sasl-tls.port" ]] || return 1
  grep -qF 'Kafka Server started' "$KDIR/kafka.log" 2>/dev/null || return 1
  port_open "$port"
}

# jar_version <lib dir> <prefix> <suffix>: version part of the first <prefix>VERSION<suffix> jar
jar_version() {
  local f
  for f in "$1/$2"*"$3"; do
    [[ -e "$f" ]] || continue
    f="${f##*/}"
    f="${f#"$2"}"
    echo "${f%"$3"}"
    return 0
  done
}

kafka_version() { jar_version "$CACHE/kafka/lib" kafka_2.13- .jar; }

ensure_kafka() {
  if kafka_healthy; then
    log "kafka already running (pid $(kafka_pid)) at 127.0.0.1:$(cat "$KDIR/port") - reusing it"
    return 0
  fi
  local stale
  if stale="$(kafka_pid)"; then
    log "kafka pid $stale is alive but not healthy; restarting it"
    stop_pid "$stale" kafka 15
  fi
  need_java
  resolve_lib kafka
  local lib="$CACHE/kafka/lib" t0 bport cport sport tport cid
  t0="$(now)"
  rm -rf "$KDIR"
  mkdir -p "$KDIR/data" "$KDIR/tls"
  bport="$(free_port)"
  cport="$(free_port "$bport")"
  sport="$(free_port "$bport" "$cport")"
  tport="$(free_port "$bport" "$cport" "$sport")"
  # The SASL_SSL listener's certificate, for 127.0.0.1, self-signed: clients trust it through
  # KAFKA_TLS_CA_FILE. Kafka reads an unencrypted PKCS#8 key and its certificate from one file.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$KDIR/tls/key.pem" -out "$KDIR/tls/ca.pem" \
    >"$KDIR/tls/openssl.log" 2>&1 || {
    tail_log "$KDIR/tls/openssl.log"
    die "could not make the Kafka test certificate (openssl)"
  }
  cat "$KDIR/tls/key.pem" "$KDIR/tls/ca.pem" >"$KDIR/tls/broker.pem"
  # cluster id: 16 random bytes, base64url without padding (must not start with '-')
  cid="-"
  while [[ "$cid" == -* ]]; do
    cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  cat >"$KDIR/server.properties" <<EOF
# generated by scripts/test-services.sh - single-node KRaft (broker+controller) for tests
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$tport
advertised.listeners=PLAINTEXT://127.0.0.1:$bport,SASL_PLAINTEXT://127.0.0.1:$sport,SASL_SSL://127.0.0.1:$tport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
# What managed brokers ask of clients: SASL (PLAIN or SCRAM; SCRAM users are made at format time),
# with TLS on the second listener.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KDIR/tls/broker.pem
log.dirs=$KDIR/data
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
EOF
  echo "$bport" >"$KDIR/port"
  echo "$cport" >"$KDIR/controller.port"
  echo "$sport" >"$KDIR/sasl.port"
  echo "$tport" >"$KDIR/sasl-tls.port"
  echo "$cid" >"$KDIR/cluster.id"
  local -a jvm=(-Dlog4j2.configurationFile="$POMS/kafka/log4j2.properties" -Dkafka.logs.dir="$KDIR" -Djava.awt.headless=true)
  if ! "$JAVA" "${jvm[@]}" -Xmx256m -cp "$lib/*" kafka.tools.StorageTool format \
    -t "$cid" -c "$KDIR/server.properties" --ignore-formatted \
    --add-scram "SCRAM-SHA-256=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=$KAFKA_SASL_USER,password=$KAFKA_SASL_PASSWORD]" </dev/null >"$KDIR/format.log" 2>&1; then
    tail_log "$KDIR/format.log"
    die "kafka storage format failed"
  fi
  spawn "$KDIR" "$KDIR/stdout.log" "$JAVA" "$KAFKA_MARK" "-Xms128m" "-Xmx$KAFKA_HEAP" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError "${jvm[@]}" \
    -cp "$lib/*" kafka.Kafka "$KDIR/server.properties"
  local pid i
  pid="$(cat "$KDIR/pid")"
  for ((i = 0; i < KAFKA_READY_TIMEOUT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$KDIR/stdout.log"
      tail_log "$KDIR/kafka.log"
      die "kafka exited during startup"
    fi
    if grep -qF 'Kafka Server started' "$KDIR/kafka.log" 2>/dev/null && port_open "$bport"; then
      log "kafka $(kafka_version) ready in $(elapsed "$t0")s at 127.0.0.1:$bport (pid $pid, controller port $cport)"
      return 0
    fi
    sleep 0.1
  done
  tail_log "$KDIR/stdout.log"
  tail_log "$KDIR/kafka.log"
  stop_pid "$pid" kafka 5
  die "kafka did not become ready within ${KAFKA_READY_TIMEOUT}s"
}

stop_kafka() {
  local pid
  if pid="$(kafka_pid)"; then
    stop_pid "$pid" kafka 20
  else
    log "kafka not running"
  fi
}

# ---------------------------------------------------------------- S3 (S3Proxy)
S3_MARK="-Dstowage.test-service=s3proxy@$SVC"

s3_pid() { our_pid "$SDIR" "$S3_MARK"; }

http_answers() { # any HTTP status (S3Proxy answers 403 to an anonymous GET /)
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true)"
  [[ -n "$code" && "$code" != "000" ]]
}

s3_healthy() {
  local port
  s3_pid >/dev/null || return 1
  port="$(cat "$SDIR/port" 2>/dev/null)" || return 1
  http_answers "http://127.0.0.1:$port/"
}

s3_version() { jar_version "$CACHE/s3proxy/lib" s3proxy- -jar-with-dependencies.jar; }

# ensure_s3 <mode>: mode "up" may move to a new port if the saved one is taken; "start" must keep it
ensure_s3() {
  local mode="$1"
  command -v curl >/dev/null 2>&1 || die "curl not found (needed to probe S3Proxy)"
  if s3_healthy; then
    log "s3 already running (pid $(s3_pid)) at http://127.0.0.1:$(cat "$SDIR/port") - reusing it"
    return 0
  fi
  local stale
  if stale="$(s3_pid)"; then
    log "s3 pid $stale is alive but not answering; restarting it"
    stop_pid "$stale" s3proxy 10
  fi
  need_java
  resolve_lib s3proxy
  local lib="$CACHE/s3proxy/lib" t0 port=""
  t0="$(now)"
  mkdir -p "$SDIR/data"
  [[ -f "$SDIR/port" ]] && port="$(cat "$SDIR/port")"
  if [[ -n "$port" ]] && port_open "$port"; then
    # TIME_WAIT does not make port_open succeed; something is really listening there
    if [[ "$mode" == start ]]; then
      die "cannot restart s3 on its port $port: something else is listening there"
    fi
    log "saved s3 port $port is taken by another process; picking a new one"
    port=""
  fi
  [[ -n "$port" ]] || port="$(free_port "$(cat "$KDIR/port" 2>/dev/null || true)" "$(cat "$KDIR/controller.port" 2>/dev/null || true)")"
  echo "$port" >"$SDIR/port"
  cat >"$SDIR/s3proxy.properties" <<EOF
# generated by scripts/test-services.sh - S3Proxy for tests (path-style, filesystem backend)
s3proxy.endpoint=http://127.0.0.1:$port
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY
s3proxy.credential=$S3_SECRET_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$SDIR/data
EOF
  {
    echo
    echo "==== $(date -u +%FT%TZ) starting s3proxy on port $port"
  } >>"$SDIR/s3proxy.log"
  # S3Proxy logs through logback; LOG_LEVEL is read by its bundled logback.xml
  spawn "$SDIR" "$SDIR/s3proxy.log" env "LOG_LEVEL=${S3PROXY_LOG_LEVEL:-info}" "$JAVA" "$S3_MARK" "-Xmx$S3_HEAP" \
    -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlogback.statusListenerClass=ch.qos.logback.core.status.NopStatusListener \
    -cp "$lib/*" org.gaul.s3proxy.Main --properties "$SDIR/s3proxy.properties"
  local pid i
  pid="$(cat "$SDIR/pid")"
  for ((i = 0; i < S3_READY_TIMEOUT * 10; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$SDIR/s3proxy.log"
      die "s3proxy exited during startup"
    fi
    if http_answers "http://127.0.0.1:$port/"; then
      log "s3 (s3proxy $(s3_version)) ready in $(elapsed "$t0")s at http://127.0.0.1:$port (pid $pid)"
      return 0
    fi
    sleep 0.1
  done
  tail_log "$SDIR/s3proxy.log"
  stop_pid "$pid" s3proxy 5
  die "s3proxy did not become ready within ${S3_READY_TIMEOUT}s"
}

stop_s3() {
  local pid
  if pid="$(s3_pid)"; then
    stop_pid "$pid" s3proxy 10
  else
    log "s3 not running"
  fi
}

# ---------------------------------------------------------------- env
# print_env: export lines for healthy services; returns 1 (after printing the rest) if one is down
print_env() {
  local missing=()
  if kafka_healthy; then
    echo "export KAFKA_BROKERS=127.0.0.1:$(cat "$KDIR/port")"
    echo "export KAFKA_TEST_SASL_BROKERS=127.0.0.1:$(cat "$KDIR/sasl.port")"
    echo "export KAFKA_TEST_SASL_TLS_BROKERS=127.0.0.1:$(cat "$KDIR/sasl-tls.port")"
    echo "export KAFKA_TEST_TLS_CA_FILE=$KDIR/tls/ca.pem"
    echo "export KAFKA_TEST_SASL_USERNAME=$KAFKA_SASL_USER"
    echo "export KAFKA_TEST_SASL_PASSWORD=$KAFKA_SASL_PASSWORD"
  else
    missing+=(kafka)
  fi
  if s3_healthy; then
    echo "export S3_TEST_ENDPOINT=http://127.0.0.1:$(cat "$SDIR/port")"
    echo "export S3_TEST_ACCESS_KEY=$S3_ACCESS_KEY"
    echo "export S3_TEST_SECRET_KEY=$S3_SECRET_KEY"
    echo "export S3_TEST_REGION=$S3_REGION"
  else
    missing+=(s3)
  fi
  if command -v pg_isready >/dev/null 2>&1 && pg_up; then
    echo "export PG_ADMIN_URL=$PG_ADMIN_URL_VALUE"
  else
    missing+=(postgres)
  fi
  if ((${#missing[@]})); then
    printf '[test-services] ERROR: not running: %s (run: scripts/test-services.sh up)\n' "${missing[*]}" >&2
    return 1
  fi
}

write_env_file() {
  mkdir -p "$SVC"
  print_env >"$SVC/env.tmp" 2>/dev/null || true
  mv "$SVC/env.tmp" "$SVC/env"
}

# ---------------------------------------------------------------- commands
lock() {
  mkdir -p "$SVC"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$SVC/.lock"
    flock -w 180 9 || die "another test-services.sh is still running (lock $SVC/.lock)"
  fi
}

cmd_up() {
  local t0
  t0="$(now)"
  lock
  ensure_pg
  ensure_kafka
  ensure_s3 up
  write_env_file
  log "all services up in $(elapsed "$t0")s (env: $SVC/env)"
  print_env
}

cmd_down() {
  local t0
  t0="$(now)"
  lock
  stop_kafka
  stop_s3
  rm -rf "$KDIR" "$SDIR" "$SVC/env"
  log "down in $(elapsed "$t0")s (postgres left running; jar cache kept in $CACHE)"
}

cmd_stop_s3() {
  local t0
  t0="$(now)"
  lock
  stop_s3
  write_env_file
  log "s3 stopped in $(elapsed "$t0")s (port $(cat "$SDIR/port" 2>/dev/null || echo '?') and data kept)"
}

cmd_start_s3() {
  local t0
  t0="$(now)"
  lock
  ensure_s3 start
  write_env_file
  log "start-s3 done in $(elapsed "$t0")s"
}

cmd_status() {
  if kafka_healthy; then
    echo "kafka:    up   127.0.0.1:$(cat "$KDIR/port") pid $(kafka_pid) ($(kafka_version))"
  else
    echo "kafka:    down"
  fi
  if s3_healthy; then
    echo "s3:       up   http://127.0.0.1:$(cat "$SDIR/port") pid $(s3_pid) (s3proxy $(s3_version))"
  else
    echo "s3:       down"
  fi
  if command -v pg_isready >/dev/null 2>&1 && pg_up; then
    echo "postgres: up   $PG_HOST:$PG_PORT"
  else
    echo "postgres: down"
  fi
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) print_env ;;
  status) cmd_status ;;
  stop-s3) cmd_stop_s3 ;;
  start-s3) cmd_start_s3 ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
