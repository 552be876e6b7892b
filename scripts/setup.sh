#!/usr/bin/env bash
# The test set-up (`npm run setup`, run by `npm test` before anything else): installs what the
# test suite uses when it is missing and starts each server whose port does not answer, so that
# `npm test` passes on a fresh machine with nothing prepared. Quick when everything is there: one
# `dpkg -s` and one port probe per item.
#
# Servers start on loopback only, with their data under a throw-away directory
# ($HERALD_SERVICES_DIR, default /tmp/herald-services), and keep running after the tests (CI and
# later runs reuse them). Ports are overridable; the tests read the same variables:
#   HERALD_RABBITMQ_PORT (5672)  HERALD_POSTGRES_PORT (5432)  HERALD_NATS_PORT (4222)
#   HERALD_REDIS_PORT (6379)  HERALD_AWS_PORT (4566: moto_server, the AWS SNS/SQS emulator)
# Apache Kafka (broker, tools, Java client) is fetched once from Maven Central into
# $HERALD_KAFKA_DIR (default ~/.cache/herald/kafka); tests start their own brokers from it.
# confluent-kafka (a current librdkafka: Debian's python3-confluent-kafka is 1.7) and aiokafka are
# installed once from PyPI into a virtualenv at $HERALD_PYTHON_DIR (default ~/.cache/herald/python),
# with moto (whose moto_server emulates AWS SNS and SQS for @herald/transport-aws; in memory only)
# and prometheus-client (its parser checks the /metrics tests' expositions).
# Without root nothing is installed: the script lists exactly what to install, and fails.
set -euo pipefail

SERVICES_DIR=${HERALD_SERVICES_DIR:-/tmp/herald-services}
RABBITMQ_PORT=${HERALD_RABBITMQ_PORT:-5672}
POSTGRES_PORT=${HERALD_POSTGRES_PORT:-5432}
NATS_PORT=${HERALD_NATS_PORT:-4222}
REDIS_PORT=${HERALD_REDIS_PORT:-6379}
AWS_PORT=${HERALD_AWS_PORT:-4566}
# How long one server may take to answer after it was started (RabbitMQ is the slow one: ~10 s).
KAFKA_DIR=${HERALD_KAFKA_DIR:-$HOME/.cache/herald/kafka}
START_TIMEOUT_S=${HERALD_SETUP_START_TIMEOUT_S:-90}
PYTHON_DIR=${HERALD_PYTHON_DIR:-$HOME/.cache/herald/python}
# PyPI clients the kafka-server tests run (test/python/pypi_clients.py); pinned, so the stamp below
# changes (and the virtualenv is rebuilt) when a version here does.
PYPI_PACKAGES=(
  confluent-kafka==2.16.1
  aiokafka==0.14.0
  'moto[server]==5.2.5'
  prometheus-client==0.23.1
)

# Debian packages the suite uses: the four servers, and real peers nobody here wrote
# (librdkafka's kcat, kafka-python, confluent-kafka, pika) plus tmux for the terminal test, and
# python3-venv for the PyPI clients' virtualenv, a JDK (javac, for the Java client check), Maven
# (which fetches Apache Kafka) and Chromium (the console's browser test drives it with
# playwright-core: no browser download).
APT_PACKAGES=(
  rabbitmq-server
  postgresql
  nats-server
  redis-server
  kcat
  python3-kafka
  python3-pika
  python3-confluent-kafka
  python3-venv
  openjdk-17-jdk-headless
  maven
  tmux
  chromium
)

say() { printf 'setup: %s\n' "$*"; }
fail() {
  printf 'setup: %s\n' "$*" >&2
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  local name=$1 port=$2 log=$3
  local deadline=$((SECONDS + START_TIMEOUT_S))
  while ((SECONDS < deadline)); do
    port_open "$port" && {
      say "$name is up on 127.0.0.1:$port"
      return
    }
    sleep 0.5
  done
  [ -f "$log" ] && tail -n 20 "$log" >&2
  fail "$name did not answer on 127.0.0.1:$port within ${START_TIMEOUT_S} s (log: $log)"
}

install_missing() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then
    fail "missing Debian packages: ${missing[*]}. Install them as root, then run npm test again:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  say "installing ${missing[*]} (apt-get)"
  # Servers must not be started by the packages' maintainer scripts: this script starts them
  # itself, on loopback, with throw-away data. 101 = "action forbidden" to invoke-rc.d.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" -eq 1 ] && rm -f "$policy"
  say "installed ${missing[*]}"
}

# A directory a server's own user owns, under the throw-away root.
owned_dir() {
  local dir=$1 user=$2
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown -R "$user:$user" "$dir"
  return 0
}

as_user() {
  local user=$1
  shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

start_rabbitmq() {
  port_open "$RABBITMQ_PORT" && return
  local base=$SERVICES_DIR/rabbitmq
  owned_dir "$base" rabbitmq
  say "starting RabbitMQ on 127.0.0.1:$RABBITMQ_PORT (data in $base)"
  # The distribution port (Erlang's, for rabbitmqctl) sits 20000 above the AMQP port, as by default.
  as_user rabbitmq env HOME=/var/lib/rabbitmq \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBITMQ_PORT" \
    RABBITMQ_DIST_PORT=$((RABBITMQ_PORT + 20000)) \
    RABBITMQ_MNESIA_BASE="$base/mnesia" RABBITMQ_LOG_BASE="$base/log" \
    RABBITMQ_PID_FILE="$base/rabbitmq.pid" \
    /usr/lib/rabbitmq/bin/rabbitmq-server -detached
  wait_for_port RabbitMQ "$RABBITMQ_PORT" "$base/log/rabbit@$(hostname -s).log"
}

start_postgresql() {
  port_open "$POSTGRES_PORT" && return
  local version bin data=$SERVICES_DIR/postgresql
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  [ -n "$version" ] || fail "no PostgreSQL under /usr/lib/postgresql; install the postgresql package"
  bin=/usr/lib/postgresql/$version/bin
  owned_dir "$SERVICES_DIR/postgresql" postgres
  if [ ! -f "$data/PG_VERSION" ]; then
    say "creating a PostgreSQL $version cluster in $data (trust on loopback)"
    as_user postgres "$bin/initdb" -D "$data" -U postgres --auth=trust --no-sync >/dev/null
  fi
  say "starting PostgreSQL $version on 127.0.0.1:$POSTGRES_PORT"
  as_user postgres "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t "$START_TIMEOUT_S" \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $data" start >/dev/null
  wait_for_port PostgreSQL "$POSTGRES_PORT" "$data/server.log"
  # The tests' database (postgres://postgres@127.0.0.1:PORT/test).
  if ! as_user postgres psql -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres -tAc \
    "select 1 from pg_database where datname = 'test'" | grep -q 1; then
    as_user postgres createdb -h 127.0.0.1 -p "$POSTGRES_PORT" -U postgres test
    say "created database test"
  fi
}

start_nats() {
  port_open "$NATS_PORT" && return
  local dir=$SERVICES_DIR/nats
  mkdir -p "$dir"
  say "starting NATS with JetStream on 127.0.0.1:$NATS_PORT (data in $dir)"
  setsid nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$dir/jetstream" -l "$dir/server.log" \
    </dev/null >/dev/null 2>&1 &
  wait_for_port NATS "$NATS_PORT" "$dir/server.log"
}

start_redis() {
  port_open "$REDIS_PORT" && return
  local dir=$SERVICES_DIR/redis
  mkdir -p "$dir"
  say "starting Redis on 127.0.0.1:$REDIS_PORT (data in $dir)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" \
    --logfile "$dir/server.log" --save '' --appendonly no >/dev/null
  wait_for_port Redis "$REDIS_PORT" "$dir/server.log"
}

# moto_server: an in-memory emulator of the AWS APIs (SNS and SQS here), from the PyPI virtualenv.
# Its state dies with it; no real AWS account is reachable from the test machines.
start_moto() {
  port_open "$AWS_PORT" && return
  local dir=$SERVICES_DIR/moto
  mkdir -p "$dir"
  say "starting moto_server (AWS SNS/SQS emulator) on 127.0.0.1:$AWS_PORT"
  # The venv was built under another path (see install_pypi_clients): its bin/ scripts have stale
  # shebangs, so the server runs through the venv's python. scripts/moto-server.py is moto.server
  # with one fix: an SQS receive takes a message atomically, as SQS does (the file says why).
  setsid "$PYTHON_DIR/bin/python" "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto-server.py" -H 127.0.0.1 -p "$AWS_PORT" \
    </dev/null >"$dir/server.log" 2>&1 &
  wait_for_port moto_server "$AWS_PORT" "$dir/server.log"
}

# Collects the jars named by scripts/kafka/pom.xml into $KAFKA_DIR/libs, once per pom version.
fetch_kafka() {
  local pom here stamp
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  pom=$here/kafka/pom.xml
  stamp=$(cat "$pom" "$here/kafka/log4j2.properties" | sha256sum | cut -c1-16)
  [ "$(cat "$KAFKA_DIR/.fetched" 2>/dev/null)" = "$stamp" ] && return
  command -v mvn >/dev/null || fail "Maven (mvn) is needed to fetch Apache Kafka; install the maven package"
  command -v java >/dev/null || fail "Java 17 is needed to run Apache Kafka; install openjdk-17-jre-headless"
  say "fetching Apache Kafka from Maven Central into $KAFKA_DIR"
  rm -rf "$KAFKA_DIR.partial"
  mkdir -p "$KAFKA_DIR.partial"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_DIR.partial/libs" >"$KAFKA_DIR.partial/maven.log" 2>&1 ||
    { tail -n 20 "$KAFKA_DIR.partial/maven.log" >&2; fail "fetching Apache Kafka failed (log above)"; }
  cp "$here/kafka/log4j2.properties" "$KAFKA_DIR.partial/"
  echo "$stamp" >"$KAFKA_DIR.partial/.fetched"
  rm -rf "$KAFKA_DIR"
  mv "$KAFKA_DIR.partial" "$KAFKA_DIR"
  say "Apache Kafka is in $KAFKA_DIR ($(ls "$KAFKA_DIR/libs" | wc -l) jars)"
}

# Installs PYPI_PACKAGES into a fresh virtualenv at $PYTHON_DIR, once per package list.
install_pypi_clients() {
  local stamp
  stamp=$(printf '%s\n' "${PYPI_PACKAGES[@]}" | sha256sum | cut -c1-16)
  [ "$(cat "$PYTHON_DIR/.installed" 2>/dev/null)" = "$stamp" ] && return
  command -v python3 >/dev/null || fail "Python 3 is needed for the PyPI Kafka clients; install python3"
  say "installing ${PYPI_PACKAGES[*]} from PyPI into $PYTHON_DIR"
  rm -rf "$PYTHON_DIR.partial"
  python3 -m venv "$PYTHON_DIR.partial" >/dev/null 2>&1 ||
    fail "python3 -m venv failed; install the python3-venv package"
  "$PYTHON_DIR.partial/bin/python" -m pip install -q --disable-pip-version-check "${PYPI_PACKAGES[@]}" \
    >"$PYTHON_DIR.partial/pip.log" 2>&1 ||
    { tail -n 20 "$PYTHON_DIR.partial/pip.log" >&2; fail "installing ${PYPI_PACKAGES[*]} failed (log above)"; }
  echo "$stamp" >"$PYTHON_DIR.partial/.installed"
  rm -rf "$PYTHON_DIR"
  mv "$PYTHON_DIR.partial" "$PYTHON_DIR"
  say "PyPI Kafka clients are in $PYTHON_DIR"
}

# franz-go (packages/kafka-server/test/go) needs the Go toolchain its go.mod names; Debian's golang
# package is older, so it is not installed here: only reported.
check_go() {
  local wanted
  wanted=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../packages/kafka-server/test/go/go.mod")
  if ! command -v go >/dev/null; then
    say "warning: no Go toolchain; the franz-go test needs Go $wanted or later (https://go.dev/dl/)"
  fi
}

install_missing
fetch_kafka
install_pypi_clients
check_go
mkdir -p "$SERVICES_DIR"
start_rabbitmq
start_postgresql
start_nats
start_redis
start_moto
say "ready (RabbitMQ :$RABBITMQ_PORT, PostgreSQL :$POSTGRES_PORT, NATS :$NATS_PORT, Redis :$REDIS_PORT, moto :$AWS_PORT)"
