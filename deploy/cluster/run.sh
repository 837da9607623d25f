#!/usr/bin/env bash
# Runs several Foxhole processes as one service on this machine: a Valkey
# (redis-server, persistence off, in a temporary directory), three Foxhole
# processes on 127.0.0.1:8081..8083 sharing one data dir and that Valkey,
# and HAProxy on 127.0.0.1:8080 in front of them (deploy/cluster/haproxy.cfg).
# Ctrl-C stops everything. Run it from the repository root (`just cluster`).
#
# With --pg (`just cluster-pg`) the processes share no data dir: each has its
# own (./data-cluster/fox1..3), and they share a throwaway PostgreSQL cluster
# (initdb in the temporary directory, as the postgres user when run as root;
# fsync on, Debian's defaults) for the database and a MinIO (the `minio`
# binary, `just minio`) for files, as on several machines. Both are removed
# when it stops.
set -euo pipefail

pg=false
[ "${1:-}" = --pg ] && pg=true

data=${FOXHOLE_CLUSTER_DATA:-./data-cluster}
valkey_port=${FOXHOLE_CLUSTER_VALKEY_PORT:-6380}

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v haproxy >/dev/null || need+=(haproxy)
if ((${#need[@]})); then
  echo "installing ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

if $pg; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  pg_bin=${FOXHOLE_TEST_POSTGRES:-$pg_bin}
  [ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server binaries: apt-get install postgresql" >&2; exit 1; }
  command -v minio >/dev/null || { echo "no minio binary: just minio" >&2; exit 1; }
fi

mkdir -p bin "$data"
go build -o bin/foxhole ./cmd/foxhole

tmp=$(mktemp -d)
pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping"
  # Foxhole first (it drains on SIGTERM), then the balancer and Valkey.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # PostgreSQL runs under runuser when started as root: signal the server.
  [ -f "$tmp/pg/postmaster.pid" ] && kill -TERM "$(head -1 "$tmp/pg/postmaster.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
  exit
}
trap stop INT TERM EXIT

# prefixed NAME CMD...: runs CMD in the background, each line of its output
# prefixed with NAME; its pid goes to pids.
prefixed() {
  local name=$1; shift
  "$@" > >(sed -u "s/^/$name | /") 2>&1 &
  pids+=($!)
}

ready() { # URL: wait up to 30 s for a 200 from the process started last
  for _ in $(seq 300); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "it stopped" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 not ready after 30s" >&2
  return 1
}

prefixed valkey redis-server --bind 127.0.0.1 --port "$valkey_port" --dir "$tmp" \
  --save "" --appendonly no --loglevel warning
for _ in $(seq 100); do
  redis-cli -p "$valkey_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done

export FOXHOLE_DATA_DIR=$data
if $pg; then
  pg_port=${FOXHOLE_CLUSTER_PG_PORT:-5433}
  minio_port=${FOXHOLE_CLUSTER_MINIO_PORT:-9100}
  as=()
  if [ "$(id -u)" = 0 ]; then # PostgreSQL will not run as root
    chown postgres: "$tmp"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  prefixed postgres "${as[@]}" "$pg_bin/postgres" -D "$tmp/pg" -c listen_addresses=127.0.0.1 \
    -c port="$pg_port" -c unix_socket_directories="$tmp"
  for _ in $(seq 300); do
    "$pg_bin/pg_isready" -q -U postgres -h 127.0.0.1 -p "$pg_port" && break
    sleep 0.1
  done
  MINIO_ROOT_USER=foxhole MINIO_ROOT_PASSWORD=foxhole-cluster MINIO_BROWSER=off MINIO_UPDATE=off HOME="$tmp" \
    prefixed minio minio server --quiet --address 127.0.0.1:"$minio_port" \
    --console-address 127.0.0.1:$((minio_port + 1)) "$tmp/minio"
  ready "http://127.0.0.1:$minio_port/minio/health/cluster"
  export FOXHOLE_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
  export FOXHOLE_S3_ENDPOINT=127.0.0.1:$minio_port FOXHOLE_S3_ACCESS_KEY=foxhole \
    FOXHOLE_S3_SECRET_KEY=foxhole-cluster FOXHOLE_S3_BUCKET=foxhole
  # No shared data dir: the processes share the token signing key instead.
  FOXHOLE_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
  export FOXHOLE_JWT_SECRET
fi
export FOXHOLE_VALKEY_URL=redis://127.0.0.1:$valkey_port/0
export FOXHOLE_TRUSTED_PROXIES=127.0.0.1/32
export FOXHOLE_PUBLIC_URL=http://127.0.0.1:8080
export FOXHOLE_LOG_FORMAT=${FOXHOLE_LOG_FORMAT:-console}
# One after another: the first creates the database and the signing key.
for i in 1 2 3; do
  $pg && FOXHOLE_DATA_DIR=$data/fox$i
  FOXHOLE_ADDR=127.0.0.1:808$i prefixed "fox$i" bin/foxhole
  ready "http://127.0.0.1:808$i/readyz"
done

valkey_pid=${pids[0]}
prefixed haproxy haproxy -db -f deploy/cluster/haproxy.cfg
haproxy_pid=${pids[-1]}
ready http://127.0.0.1:8080/readyz

cat <<MSG

Foxhole: three processes (127.0.0.1:8081..8083) behind HAProxy on
http://127.0.0.1:8080, sharing $( $pg && echo "PostgreSQL on 127.0.0.1:$pg_port, MinIO on
127.0.0.1:$minio_port" || echo "$data") and Valkey on 127.0.0.1:$valkey_port.
Each answer names its process in the X-Foxhole-Backend header. Ctrl-C stops
everything; stopping one Foxhole process (kill its pid) leaves the others
serving.

MSG
# A Foxhole process may be stopped (kill its pid) to watch the others take
# over; the service ends when Valkey or the balancer does.
wait -n "$valkey_pid" "$haproxy_pid" || true
echo "Valkey or HAProxy ended: stopping the rest"
