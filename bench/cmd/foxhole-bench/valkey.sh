#!/usr/bin/env bash
# The Valkey figures of docs/benchmarks.md ("Several processes on Valkey"),
# in one run, each beside its baseline; raw JSON results and CPU profiles go
# to bench-results/valkey/, a summary to its summary.txt. `just bench-valkey`
# builds the binaries first.
#
#  a. GetProfile, 64 callers, Connect JSON, against three servers measured
#     in turn, several rounds: no cache (FOXHOLE_CACHE_ENTRIES=0), the
#     in-process cache (the default) and Valkey's client-side cache. First
#     with the server (and redis-server) on core 0 and the load tool on
#     core 1, then sharing both cores.
#  b. A broadcast every 100 ms to 2,000 subscribers: on one process (the
#     in-process hub), on one process on Valkey, and split between two
#     processes sharing Valkey and a data dir, the publisher on the first.
set -euo pipefail

out=bench-results/valkey
rounds=${ROUNDS:-4}
subscribers=${SUBSCRIBERS:-2000}
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.pprof
tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  shuf -i 20000-40000 -n 1; }

# valkey NAME CPUS: starts redis-server on a free port; sets vk_NAME to its URL.
valkey() {
  local port; port=$(free_port)
  mkdir -p "$tmp/$1"
  taskset -c "$2" redis-server --bind 127.0.0.1 --port "$port" --dir "$tmp/$1" --save "" --appendonly no \
    --loglevel warning >"$tmp/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  printf -v "vk_$1" '%s' "redis://127.0.0.1:$port/0"
}

# foxhole NAME DATADIR CPUS ENV...: starts bin/foxhole; sets url_NAME and
# pprof_NAME.
foxhole() {
  local name=$1 dir=$2 cpus=$3; shift 3
  local port pport; port=$(free_port); pport=$(free_port)
  env FOXHOLE_ADDR=127.0.0.1:$port FOXHOLE_PPROF_ADDR=127.0.0.1:$pport FOXHOLE_DATA_DIR="$dir" \
    FOXHOLE_LOG_LEVEL=warn FOXHOLE_LOG_FORMAT=json FOXHOLE_AUTH_RATE=0 \
    FOXHOLE_MESSAGE_RATE=100000 FOXHOLE_MESSAGE_BURST=100000 \
    FOXHOLE_MAX_SESSIONS_PER_USER=1000000 FOXHOLE_MAX_SESSIONS_PER_ADDR=1000000 \
    "$@" taskset -c "$cpus" bin/foxhole 2>"$tmp/$name.log" &
  pids+=($!)
  for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
  curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" || { cat "$tmp/$name.log"; exit 1; }
  printf -v "url_$name" '%s' "http://127.0.0.1:$port"
  printf -v "pprof_$name" '%s' "127.0.0.1:$pport"
}

field() { grep -o "\"$2\":[0-9.e+-]*" "$1" | head -1 | cut -d: -f2; }
errors() { grep -o "\"$2\":[0-9]*" "$1" | head -1 | cut -d: -f2 || true; }
# stats FILES...: mean, min and max of rps, and mean p99.
stats() {
  for f in "$@"; do echo "$(field "$f" rps) $(field "$f" p99Ms)"; done |
    awk '{ s+=$1; p+=$2; if (NR==1||$1<lo) lo=$1; if ($1>hi) hi=$1 } END { printf "%.0f %.0f %.0f %.2f\n", s/NR, lo, hi, p/NR }'
}

echo "a. GetProfile, 64 callers, connect-json"
valkey cache 0
foxhole nocache "$tmp/nocache" 0 FOXHOLE_CACHE_ENTRIES=0
foxhole inproc "$tmp/inproc" 0
foxhole valkey "$tmp/valkeyd" 0 FOXHOLE_VALKEY_URL="$vk_cache"
unary() { # MODE FILE [taskset cpus of the tool]
  local url=url_$1 cpus=${3:-0,1}
  taskset -c "$cpus" bin/foxhole-bench -url "${!url}" -scenario profile -protocol connect-json \
    -c 64 -d "${DURATION:-5s}" -warmup 2s -json >"$2"
  echo "  $(basename "$2" .json): $(field "$2" rps) calls/s, p99 $(field "$2" p99Ms) ms"
}
if [ -z "${SKIP_UNARY:-}" ]; then
for r in $(seq "$rounds"); do
  for mode in nocache inproc valkey; do unary "$mode" "$out/pinned-$mode-$r.json" 1; done
done
for r in $(seq 2); do
  for mode in nocache inproc valkey; do unary "$mode" "$out/shared-$mode-$r.json"; done
done
# CPU profiles of the server under the same pinned load, for the record.
for mode in inproc valkey; do
  pp=pprof_$mode
  curl -fs -o "$out/$mode.cpu.pprof" "http://${!pp}/debug/pprof/profile?seconds=4" &
  unary "$mode" "$out/profiled-$mode.json" 1
  wait $!
done
fi

echo "b. broadcast every 100 ms to $subscribers subscribers"
# One Valkey per deployment: processes on one Valkey (and one prefix) must
# share their data dir.
valkey hub1 0,1
valkey hub2 0,1
foxhole one "$tmp/one" 0,1
foxhole onevk "$tmp/onevk" 0,1 FOXHOLE_VALKEY_URL="$vk_hub1"
foxhole twoa "$tmp/two" 0,1 FOXHOLE_VALKEY_URL="$vk_hub2"
foxhole twob "$tmp/two" 0,1 FOXHOLE_VALKEY_URL="$vk_hub2"
fanout() { # NAME URLS TRANSPORT ROUND
  local f=$out/fanout-$1-$3-$4.json
  bin/foxhole-bench -url "$2" -scenario "$3" -subscribers "$subscribers" -every 100ms -d 10s -json >"$f"
  echo "  $1 $3: p50 $(field "$f" p50Ms) ms, p99 $(field "$f" p99Ms) ms, delivered $(field "$f" requests), lost $(errors "$f" lost), duplicate $(errors "$f" duplicate)"
}
for r in $(seq 2); do
  for transport in stream ws; do
    fanout one "$url_one" "$transport" "$r"
    fanout one-valkey "$url_onevk" "$transport" "$r"
    fanout two-valkey "$url_twoa,$url_twob" "$transport" "$r"
  done
done

{
  echo "GetProfile at 64 callers, calls/s: mean (min to max), mean p99 ms"
  for layout in pinned shared; do
    for mode in nocache inproc valkey; do
      read -r mean lo hi p99 < <(stats "$out/$layout-$mode-"*.json)
      printf "%-7s %-8s %6s (%s to %s)  p99 %s\n" "$layout" "$mode" "$mean" "$lo" "$hi" "$p99"
      printf -v "mean_${layout}_$mode" '%s' "$mean"
    done
    awk -v v="$(eval echo \$mean_${layout}_valkey)" -v i="$(eval echo \$mean_${layout}_inproc)" -v n="$(eval echo \$mean_${layout}_nocache)" \
      -v l="$layout" 'BEGIN { printf "%-7s valkey/in-process %.3f, no-cache/in-process %.3f, valkey/no-cache %.3f\n", l, v/i, n/i, v/n }'
  done
  echo
  echo "Fan-out to $subscribers subscribers, a broadcast every 100 ms for 10 s"
  for f in "$out"/fanout-*.json; do
    printf "%-28s p50 %7s  p99 %7s  delivered %7s  lost %s  duplicate %s\n" "$(basename "$f" .json)" \
      "$(field "$f" p50Ms)" "$(field "$f" p99Ms)" "$(field "$f" requests)" "$(errors "$f" lost)" "$(errors "$f" duplicate)"
  done
  echo
  for mode in inproc valkey; do
    echo "CPU profile, $mode (top 25 cumulative):"
    go tool pprof -top -cum -nodecount 25 bin/foxhole "$out/$mode.cpu.pprof" 2>/dev/null | tail -n 26
  done
} | tee "$out/summary.txt"
