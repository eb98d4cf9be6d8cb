#!/usr/bin/env bash
# Regenerates tests/golden/requests and tests/golden/batches from real clients.
#
# Starts the fake broker (fake_broker.py serve) on loopback, drives every
# client against it (kcat, confluent-kafka-python, kafka-python at several
# protocol levels, KafkaJS, @platformatic/kafka), selects the committed set
# (fake_broker.py select)
# and re-checks it (fake_broker.py check). Run by hand, as root on a Debian 12
# machine, from anywhere:
#
#   bash tests/golden/capture/capture_all.sh
#
# Environment: PORT (default 19092), RAW_DIR (default a new /tmp directory;
# it keeps every frame received, the broker log and each client's output).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GOLDEN=$(dirname "$HERE")
REPO=$(cd "$GOLDEN/../.." && pwd)
PY=/usr/bin/python3
PORT=${PORT:-19092}
RAW=${RAW_DIR:-$(mktemp -d /tmp/strata-golden.XXXXXX)}
B=127.0.0.1:$PORT
mkdir -p "$RAW/logs"

# --- what the clients need: Debian packages, and KafkaJS from npm ---------------
need=()
command -v kcat >/dev/null || need+=(kcat)
for mod in kafka:python3-kafka confluent_kafka:python3-confluent-kafka lz4:python3-lz4 \
           snappy:python3-snappy zstandard:python3-zstandard xxhash:python3-xxhash; do
  $PY -c "import ${mod%%:*}" 2>/dev/null || need+=("${mod#*:}")
done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "capture_all: installing ${need[*]}"
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [[ ! -d "$REPO/tests/integration/node_modules/kafkajs" ||
      ! -d "$REPO/tests/integration/node_modules/@platformatic/kafka" ]]; then
  (cd "$REPO/tests/integration" && npm install --no-audit --no-fund)
fi

# --- the fake broker -------------------------------------------------------------
rm -f "$RAW/port" "$RAW/label" "$RAW/profile"
$PY "$HERE/fake_broker.py" serve --port "$PORT" --raw-dir "$RAW" --ready-file "$RAW/port" \
  2> "$RAW/broker.log" &
broker_pid=$!
trap 'kill "$broker_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [[ -f "$RAW/port" ]] && break; sleep 0.1; done
[[ -f "$RAW/port" ]] || { cat "$RAW/broker.log"; echo "capture_all: broker did not start"; exit 1; }
echo "capture_all: fake broker on $B, raw capture in $RAW"

label() { echo "$1" > "$RAW/label"; echo "capture_all: == $1"; }
profile() { echo "$1" > "$RAW/profile"; }   # "" or a name in fake_broker.BROKER_PROFILES
run() {  # run NAME CMD...: bounded in time, output kept in $RAW/logs
  local name=$1; shift
  if ! timeout 120 "$@" > "$RAW/logs/$name.log" 2>&1; then
    cat "$RAW/logs/$name.log"; echo "capture_all: $name failed"; exit 1
  fi
}
kcat_input() {  # kcat_input CLIENT CODEC FILE: key:value lines from payload.py
  (cd "$HERE" && $PY -c 'import sys, payload
for i in range(payload.RECORDS):
    print("%s:%s" % (payload.key(i), payload.value(sys.argv[1], sys.argv[2], i)))' "$1" "$2") > "$3"
}

# --- kcat (librdkafka 2.0.2) -------------------------------------------------------
label kcat; profile ""
run kcat-L kcat -b "$B" -L
for z in none gzip snappy lz4 zstd; do
  kcat_input kcat "$z" "$RAW/kcat-$z.txt"
  run "kcat-P-$z" kcat -b "$B" -P -t golden-kcat -p 0 -K: -z "$z" -X linger.ms=100 \
    -H source=kcat -H trace-id=golden -l "$RAW/kcat-$z.txt"
done
run kcat-C kcat -b "$B" -C -t golden-kcat -p 0 -o beginning -e -q
run kcat-Q kcat -b "$B" -Q -t "golden-kcat:0:$(( $(date +%s) * 1000 - 60000 ))"
run kcat-G kcat -b "$B" -G golden-kcat-group -o beginning -e -q golden-kcat

# The same library against a broker that advertises only Kafka 0.10.0's versions:
# ApiVersions v0 retry, Produce v2 with magic-1 message sets, the v0 group APIs.
label kcat-0.10.0; profile 0.10.0
run kcat010-L kcat -b "$B" -L
for z in none gzip snappy lz4; do
  kcat_input kcat-0.10.0 "$z" "$RAW/kcat010-$z.txt"
  run "kcat010-P-$z" kcat -b "$B" -P -t golden-kcat-0.10.0 -p 0 -K: -z "$z" -X linger.ms=100 \
    -l "$RAW/kcat010-$z.txt"
done
run kcat010-C kcat -b "$B" -C -t golden-kcat-0.10.0 -p 0 -o beginning -e -q
run kcat010-G kcat -b "$B" -G golden-kcat-0.10.0-group -o beginning -e -q golden-kcat-0.10.0
profile ""

# --- confluent-kafka-python (librdkafka 2.0.2) -------------------------------------
label confluent-kafka-python
run confluent bash -c "cd '$HERE' && $PY drive_confluent.py '$B'"

# --- kafka-python 2.0.2: negotiated, then pinned to old brokers' versions ------------
label kafka-python
run kafka-python bash -c "cd '$HERE' && $PY drive_kafka_python.py '$B' kafka-python"
for v in 0.10.0 0.9 0.8.2; do
  label "kafka-python-$v"
  run "kafka-python-$v" bash -c "cd '$HERE' && $PY drive_kafka_python.py '$B' kafka-python-$v $v"
done

# --- KafkaJS 2.2.4 ---------------------------------------------------------------------
label kafkajs
run kafkajs env NODE_PATH="$REPO/tests/integration/node_modules" KAFKAJS_NO_PARTITIONER_WARNING=1 \
  node "$HERE/drive_kafkajs.js" "$B"
cat "$RAW/logs/kafkajs.log" | grep -E 'skipping|done' || true

# --- @platformatic/kafka 1.35 (flexible versions only; KIP-848 consumer too) ----------
label platformatic-kafka
run platformatic env NODE_PATH="$REPO/tests/integration/node_modules" \
  node "$HERE/drive_platformatic.js" "$B"
cat "$RAW/logs/platformatic.log" | grep -E 'skipping|done' || true

label idle
kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true
trap - EXIT

# --- select the committed set and check it -------------------------------------------
$PY "$HERE/fake_broker.py" select --raw-dir "$RAW" --out "$GOLDEN" > "$RAW/select.log"
$PY "$HERE/fake_broker.py" check "$GOLDEN"
if grep -q '"decoded": false\|reencode_mismatch\|records_error' "$RAW/index.jsonl"; then
  echo "capture_all: some frames did not decode or re-encode; see $RAW/index.jsonl"; exit 1
fi
echo "capture_all: done; raw capture kept in $RAW"
