#!/usr/bin/env bash
# A three-node Strata cluster on this machine, every node broker and
# controller (config/cluster-node-{1,2,3}.yaml), everything it writes under
# one directory: `make cluster` / `make cluster-down` run this.
#
#   scripts/cluster.sh up      format (first time only) and start the nodes, wait
#                              until all three serve, print the bootstrap string
#   scripts/cluster.sh down    stop them (SIGTERM, a clean shutdown); data stays
#   scripts/cluster.sh status  which nodes run
#
# Environment: STRATA_CLUSTER_DIR (default ./cluster: node-N/ data, node-N.log,
# node-N.pid, cluster.id, bootstrap), STRATA_CLUSTER_PORT (default 9092: the
# brokers listen on it and the next two ports, the controllers 100 above,
# the HTTP listeners (metrics, health) 1011 below: 8081-8083 by default),
# STRATAD and STRATA (default build/src/stratad, build/src/strata).
set -euo pipefail

source_dir=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "${STRATA_CLUSTER_DIR:-cluster}"
dir=$(cd "${STRATA_CLUSTER_DIR:-cluster}" && pwd)
base_port=${STRATA_CLUSTER_PORT:-9092}
stratad=$(realpath "${STRATAD:-$source_dir/build/src/stratad}")
strata=$(realpath "${STRATA:-$source_dir/build/src/strata}")
nodes=(1 2 3)

broker_port() { echo $((base_port + $1 - 1)); }
controller_port() { echo $((base_port + 100 + $1 - 1)); }
http_port() { echo $((base_port - 1011 + $1 - 1)); }
bootstrap() {
  local list=""
  for n in "${nodes[@]}"; do list+="${list:+,}localhost:$(broker_port "$n")"; done
  echo "$list"
}
voters() {
  local list=""
  for n in "${nodes[@]}"; do list+="${list:+,}$n@localhost:$(controller_port "$n")"; done
  echo "$list"
}
running_pid() {  # the node's pid if it runs
  local pid
  pid=$(cat "$dir/node-$1.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$stratad"* ]] && echo "$pid"
}

# The example configuration files, with the ports and directories of this
# cluster as STRATA_* overrides (so the files stay the one source of truth).
node_env() {
  local n=$1
  echo "STRATA_LISTENERS=PLAINTEXT://localhost:$(broker_port "$n"),CONTROLLER://localhost:$(controller_port "$n")"
  echo "STRATA_ADVERTISED_LISTENERS=PLAINTEXT://localhost:$(broker_port "$n")"
  echo "STRATA_CONTROLLER_QUORUM_VOTERS=$(voters)"
  echo "STRATA_HTTP_LISTENERS=http://localhost:$(http_port "$n")"
  echo "STRATA_LOG_DIRS=$dir/node-$n/data"
}
with_node_env() {
  local n=$1; shift
  local vars
  mapfile -t vars < <(node_env "$n")
  env "${vars[@]}" "$@"
}

brokers_registered() {
  "$strata" -b "$(bootstrap)" cluster info 2>/dev/null | awk '/^Brokers:/ {print $2}'
}

up() {
  [[ -x "$stratad" && -x "$strata" ]] || { echo "cluster: build stratad and strata first (make cluster does)" >&2; exit 1; }
  local started_ms=$(($(date +%s%N) / 1000000))
  [[ -f "$dir/cluster.id" ]] || "$stratad" random-uuid >"$dir/cluster.id"
  local cluster_id
  cluster_id=$(cat "$dir/cluster.id")
  for n in "${nodes[@]}"; do
    if running_pid "$n" >/dev/null; then
      echo "node $n already runs (pid $(running_pid "$n"))"
      continue
    fi
    with_node_env "$n" "$stratad" format -t "$cluster_id" -c "$source_dir/config/cluster-node-$n.yaml" \
      --ignore-formatted >>"$dir/node-$n.log" 2>&1 \
      || { echo "cluster: formatting node $n failed:" >&2; tail -5 "$dir/node-$n.log" >&2; exit 1; }
    # setsid: the nodes outlive this script and a Ctrl-C in its terminal.
    local vars
    mapfile -t vars < <(node_env "$n")
    env "${vars[@]}" setsid "$stratad" -c "$source_dir/config/cluster-node-$n.yaml" \
      >>"$dir/node-$n.log" 2>&1 </dev/null &
    echo $! >"$dir/node-$n.pid"
  done
  local deadline=$((SECONDS + ${STRATA_CLUSTER_TIMEOUT:-60}))
  until [[ "$(brokers_registered)" == "${#nodes[@]}" ]]; do
    for n in "${nodes[@]}"; do
      running_pid "$n" >/dev/null || { echo "cluster: node $n exited; $dir/node-$n.log says:" >&2
                                       tail -5 "$dir/node-$n.log" >&2; exit 1; }
    done
    if ((SECONDS > deadline)); then
      echo "cluster: not all ${#nodes[@]} brokers registered after ${STRATA_CLUSTER_TIMEOUT:-60}s; logs in $dir" >&2
      exit 1
    fi
    sleep 0.2
  done
  bootstrap >"$dir/bootstrap"
  local elapsed_ms=$(($(date +%s%N) / 1000000 - started_ms))
  printf 'cluster: %d nodes serving after %d.%03ds; data and logs in %s\n' "${#nodes[@]}" \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) "$dir"
  echo "bootstrap servers: $(bootstrap)"
  echo "  try: $strata -b $(bootstrap) cluster info      stop: make cluster-down"
}

down() {
  local pids=()
  for n in "${nodes[@]}"; do
    if pid=$(running_pid "$n"); then
      kill -TERM "$pid"
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 30))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS > deadline)); then
        echo "cluster: pid $pid still runs after 30s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      fi
      sleep 0.1
    done
  done
  rm -f "$dir"/node-*.pid
  echo "cluster: stopped ${#pids[@]} nodes (data kept in $dir; rm -rf it to start afresh)"
}

status() {
  for n in "${nodes[@]}"; do
    if pid=$(running_pid "$n"); then
      echo "node $n: running (pid $pid), localhost:$(broker_port "$n"), http://localhost:$(http_port "$n")/metrics"
    else echo "node $n: stopped"; fi
  done
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
