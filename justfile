# Foxhole's recipes. `just` comes from npm: npm install -g rust-just.
# buf, protoc-gen-go, protoc-gen-connect-go and staticcheck are Go tool
# dependencies: buf and staticcheck in tools/go.mod (their requirements would
# otherwise drag the server's own dependencies forward), the protoc plugins
# in go.mod (so generated code matches the runtime it links against).

set shell := ["bash", "-euo", "pipefail", "-c"]

buf := "go tool -modfile=tools/go.mod buf"
staticcheck := "go tool -modfile=tools/go.mod staticcheck"
# The protovalidate rules imported by proto/; the Go package generated from
# the same file is buf.build/gen/go/bufbuild/protovalidate in go.mod.
protovalidate := "github.com/bufbuild/protovalidate@v1.2.2"

default:
    @just --list

# Serve on 127.0.0.1:8080 with the embedded defaults.
run:
    go run ./cmd/foxhole

# Three processes on one data dir (./data-cluster) and one Valkey behind
# HAProxy on 127.0.0.1:8080, acting as one service; Ctrl-C stops them all.
# Installs redis-server and haproxy with apt-get when missing.
cluster:
    deploy/cluster/run.sh

# The same three processes, each on its own data dir (./data-cluster/fox1..3),
# sharing a throwaway PostgreSQL cluster and a MinIO instead: the shape of
# several machines. Needs Debian's postgresql package.
cluster-pg: minio
    deploy/cluster/run.sh --pg

# Run every test, with the race detector: the server's module, then the
# load tool's (bench/, a module of its own so that its plotting stack stays
# out of the server's go.mod; its crowd test runs a real Centrifugo).
test: centrifugo pebble
    PATH="$PATH:$(go env GOPATH)/bin" go test -race -count=1 ./...
    PATH="$PATH:$(go env GOPATH)/bin" go -C bench test -race -count=1 ./...

# Copy the protovalidate protos from the Go module cache into .protodeps/.
protodeps:
    #!/usr/bin/env bash
    set -euo pipefail
    dir=$(go mod download -json {{protovalidate}} | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    mkdir -p .protodeps/buf/validate
    install -m 0644 "$dir/proto/protovalidate/buf/validate/validate.proto" .protodeps/buf/validate/validate.proto

# Regenerate gen/ (Go) and web-client/src/gen/ (TypeScript, and the
# descriptors with comments that /docs is built from) from proto/.
gen: gen-go gen-ts

# Regenerate gen/ only: Go generation never needs node.
gen-go: protodeps
    {{buf}} generate

# Regenerate web-client/src/gen/ with web-client's protoc-gen-es.
gen-ts: protodeps web-deps
    {{buf}} generate --template buf.gen.ts.yaml
    {{buf}} build --exclude-imports --as-file-descriptor-set --path proto/foxhole -o web-client/src/gen/descriptors.json

# Fail when gen/ or web-client/src/gen/ is not what proto/ generates.
gen-check: gen
    git diff --exit-code -- gen web-client/src/gen
    test -z "$(git status --porcelain -- gen web-client/src/gen)" || { git status --porcelain -- gen web-client/src/gen; echo "generated code is stale: run just gen"; exit 1; }

# Install web-client's npm dependencies when they are missing.
web-deps:
    test -x web-client/node_modules/.bin/protoc-gen-es -a -x web-client/node_modules/.bin/vite || npm --prefix web-client ci

# Build the web app into web-client/dist/, which the binary embeds.
web: web-deps
    npm --prefix web-client run build

# Fail when the committed web-client/dist/ is not what the sources build.
web-check: web
    git diff --exit-code -- web-client/dist
    test -z "$(git status --porcelain -- web-client/dist)" || { git status --porcelain -- web-client/dist; echo "web-client/dist is stale: run just web"; exit 1; }

# The web app in Debian's Chromium (apt-get install chromium) against a real
# Foxhole; screenshots go to web-client/test-results/.
test-browser: web-deps
    mkdir -p bin
    go build -o bin/foxhole ./cmd/foxhole
    cd web-client && FOXHOLE_BIN=../bin/foxhole node --test --test-concurrency=1 e2e/

# Vite's dev server on 127.0.0.1:5173, proxying the API to a Foxhole
# running on FOXHOLE_URL (default http://127.0.0.1:8080).
web-dev: web-deps
    npm --prefix web-client run dev

# Lint protos (buf STANDARD) and Go (gofmt, go vet, staticcheck).
lint: protodeps
    {{buf}} format --diff --exit-code
    {{buf}} lint
    test -z "$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/'))" || { gofmt -l $(git ls-files '*.go' | grep -v '^gen/'); exit 1; }
    go vet ./...
    {{staticcheck}} ./...
    go -C bench vet ./...
    cd bench && go tool -modfile=../tools/go.mod staticcheck ./...

# Fail when proto/ breaks compatibility with any earlier committed version.
breaking: protodeps
    #!/usr/bin/env bash
    set -euo pipefail
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    {{buf}} build -o "$tmp/current.binpb"
    for rev in $(git log --format=%h -- proto); do
      mkdir -p "$tmp/$rev"
      git archive "$rev" proto | tar -x -C "$tmp/$rev"
      cp -r .protodeps "$tmp/$rev/.protodeps"
      printf 'version: v2\nmodules:\n  - path: proto\n  - path: .protodeps\n' > "$tmp/$rev/buf.yaml"
      {{buf}} build "$tmp/$rev" -o "$tmp/$rev.binpb"
      {{buf}} breaking "$tmp/current.binpb" --against "$tmp/$rev.binpb"
      echo "buf breaking: compatible with $rev"
    done

# Fuzz every decoder of client input for a while each (page tokens, signed
# download queries, file names, X-Forwarded-For, WebSocket frames,
# configuration values). The budget is a count of inputs, not a duration:
# Go 1.26's fuzzing coordinator can report a spurious "context deadline
# exceeded" when a duration runs out under load (go.dev/issue/75804).
fuzz time="50000x":
    #!/usr/bin/env bash
    set -euo pipefail
    for file in $(grep -rl --include='*_test.go' '^func Fuzz' internal cmd); do
      for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
        echo "fuzz $target ($(dirname "$file")) for {{time}}"
        go test -run '^$' -fuzz "^$target\$" -fuzztime {{time}} "./$(dirname "$file")"
      done
    done

# The end-to-end suites (auth, profile, files, realtime, server, app) on a
# throwaway PostgreSQL instead of SQLite; the store's contract suite runs on
# both in `just test` already.
test-postgres:
    FOXHOLE_TEST_DATABASE=postgres go test -race -count=1 ./internal/auth/ ./internal/profile/ ./internal/files/ ./internal/realtime/... ./internal/server/ ./internal/app/

# Stream 1 GiB files up and down on every path and backend; upload 1 GiB
# over tus cut three times, and time tus against PUT /files on the same bytes.
test-large:
    PATH="$PATH:$(go env GOPATH)/bin" FOXHOLE_TEST_LARGE=1 go test -count=1 -timeout 30m -run 'TestLargeFile|TestLargeResumable' -v ./internal/files/

# One short pass over every Go benchmark (small sizes only), so a change
# that breaks one shows up.
bench-smoke:
    go test -short -run '^$' -bench . -benchtime 1x ./...

# Every published figure with its baseline (about six minutes, then the
# crowd's longer run): the load tests, the crowd, their charts and server
# profiles are written into docs/benchmarks.md; the Go benchmarks behind
# its other tables go to bench-results/.
bench: minio
    mkdir -p bin bench-results
    go build -o bin/foxhole ./cmd/foxhole
    go -C bench build -o ../bin/foxhole-bench ./cmd/foxhole-bench
    bin/foxhole-bench -report docs/benchmarks.md -local bin/foxhole
    just bench-profile | tee bench-results/profile.txt
    just bench-files | tee bench-results/files.txt
    just bench-realtime | tee bench-results/realtime.txt
    just bench-sessions | tee bench-results/sessions.txt
    just bench-cache | tee bench-results/cache.txt
    just bench-attacks | tee bench-results/attacks.txt
    just bench-rooms | tee bench-results/rooms.txt
    just bench-valkey
    just bench-crowd

# Delivery, memory per idle session and presence traffic at 1,000 to
# 10,000 sessions, 10 per user, each target on a fresh server (installs
# Centrifugo when missing; docs/benchmarks.md, docs/bench-crowd.png):
# Foxhole with presence on and off against Centrifugo and the bare relay.
bench-crowd: centrifugo
    mkdir -p bin
    go build -o bin/foxhole ./cmd/foxhole
    go -C bench build -o ../bin/foxhole-bench ./cmd/foxhole-bench
    PATH="$PATH:$(go env GOPATH)/bin" bin/foxhole-bench -crowd docs/benchmarks.md -local bin/foxhole

# GetProfile with no cache, the in-process cache and Valkey's client-side
# cache, and fan-out over two processes on Valkey against one (about eight
# minutes; docs/benchmarks.md, raw results in bench-results/valkey/).
bench-valkey:
    command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }
    mkdir -p bin bench-results
    go build -o bin/foxhole ./cmd/foxhole
    go -C bench build -o ../bin/foxhole-bench ./cmd/foxhole-bench
    bench/cmd/foxhole-bench/valkey.sh

# The file benchmarks in full, with their baselines (docs/benchmarks.md).
bench-files: minio
    go test -run '^$' -bench 'Upload|Download|RawDisk|MinIOClient' -benchtime 3x -count 1 ./internal/files/

# Realtime fan-out to 1,000 and 10,000 subscribers (docs/benchmarks.md).
bench-realtime:
    go test -run '^$' -bench Fanout -benchtime 30x -count 1 ./internal/realtime/

# Write system calls per delivery in a burst, and the memory of an idle
# session, per transport (docs/benchmarks.md).
bench-sessions:
    go test -run '^$' -bench Burst -benchtime 20x -count 1 ./internal/realtime/
    go test -run '^$' -bench IdleSessions -benchtime 1x -count 1 ./internal/realtime/

# GetProfile's cache traffic with 200,000 users on a 100,000-entry cache:
# the old scan-evicting design against otter, in one run (docs/benchmarks.md).
bench-cache:
    go test -run '^$' -bench GetProfileTraffic -count 3 ./internal/inmem/

# Rooms, each beside its baseline in the same run, on SQLite and PostgreSQL
# (fsync on): a 50-message history page, newest and deep, in a room of
# 10,000, 100,000 and 1,000,000 messages, 16 readers while messages are
# written, against the same read on the events primary key (and the same
# pages with ListMessages over Connect on a real server on SQLite, at 10,000
# and 1,000,000); the replay of
# a resume for a user in 0, 50 and 500 rooms; then delivery to a room of
# 5,000 members all online against a lobby broadcast to the same sessions
# (docs/benchmarks.md).
bench-rooms:
    go test -run '^$' -bench 'History$' -benchtime 3000x -count 1 -timeout 60m ./internal/store/
    go test -run '^$' -bench HistorySizes -benchtime 6000x -count 1 -timeout 60m ./internal/store/
    go test -run '^$' -bench ReplayRooms -benchtime 20x -count 1 ./internal/store/
    go test -run '^$' -bench ListMessages -benchtime 2000x -count 1 -timeout 30m ./internal/realtime/
    go test -run '^$' -bench RoomFanout -benchtime 60x -count 1 -timeout 30m ./internal/realtime/

# Peak memory of a server process under each attack (docs/benchmarks.md).
bench-attacks:
    go test -count=1 -run TestAttacksKeepMemoryBounded -v ./internal/server/ | grep -E 'RSS|^(ok|FAIL|---)'

# GetProfile over every protocol on a real server (docs/benchmarks.md).
bench-profile:
    go test -run '^$' -bench GetProfile -benchtime 20000x -count 1 ./internal/profile/

# Register and SendMessage per second on SQLite and on PostgreSQL, in one run,
# then the store's reads under writes with one pool or a separate reader pool
# (docs/scaling.md). PostgreSQL is a throwaway cluster on this machine, durable
# like a production one (fsync on, Debian's defaults), stopped and removed after.
bench-postgres:
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p bin
    go build -o bin/foxhole ./cmd/foxhole
    go -C bench build -o ../bin/foxhole-bench ./cmd/foxhole-bench
    pgbin=${FOXHOLE_TEST_POSTGRES:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
    dir=$(mktemp -d /tmp/foxhole-bench-pg-XXXXXX)
    as=(); if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
    trap '"${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" stop -m fast >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
    "${as[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --locale=C --encoding=UTF8 >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as[@]}" "$pgbin/postgres" -D "$dir/data" -c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories="$dir" >"$dir/log" 2>&1 &
    until "$pgbin/pg_isready" -q -h 127.0.0.1 -p $port; do sleep 0.1; done
    for scenario in register message; do
      for db in sqlite postgres; do
        url=""
        if [ $db = postgres ]; then
          name="bench_${scenario}"; "$pgbin/psql" -q -h 127.0.0.1 -p $port -U postgres -c "CREATE DATABASE $name"
          url="postgres://postgres@127.0.0.1:$port/$name?sslmode=disable"
        fi
        echo "== $scenario on $db"
        FOXHOLE_DATABASE_URL=$url FOXHOLE_ALLOW_SINGLE_PROCESS=1 bin/foxhole-bench -local bin/foxhole -scenario $scenario -protocol connect -c 64 -d 10s
      done
    done
    echo "== reads under writes, one pool or a reader pool"
    go test -count=1 -run '^$' -bench ReadsUnderWrites -benchtime 30000x ./internal/store/

# The MinIO server the tests start (built from the Go module proxy, once).
minio:
    command -v minio >/dev/null || go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c

# Versioned binaries of foxhole and foxholectl for linux and darwin on amd64
# and arm64 in dist/, one tarball per platform (with the README and the
# systemd units) and SHA256SUMS: plain `go build`, static (no cgo: SQLite is
# pure Go), -trimpath, the version stamped in (`foxhole version`).
# `just release v1.2.0`; `just release v1.2.0 linux/amd64` for one platform.
release version=`git describe --tags --always --dirty` platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64":
    #!/usr/bin/env bash
    set -euo pipefail
    rm -rf dist && mkdir -p dist
    pkg=foxhole.dev/foxhole/internal/buildinfo
    ldflags="-s -w -X $pkg.version={{version}} -X $pkg.commit=$(git rev-parse HEAD)$(git diff --quiet HEAD || echo -modified) -X $pkg.built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for platform in {{platforms}}; do
      os=${platform%/*} arch=${platform#*/}
      name=foxhole_{{version}}_${os}_${arch}
      mkdir -p dist/$name
      for cmd in foxhole foxholectl; do
        CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o dist/$name/$cmd ./cmd/$cmd
      done
      cp README.md deploy/systemd/foxhole.service deploy/systemd/foxhole-backup.service deploy/systemd/foxhole-backup.timer dist/$name/
      tar -C dist -czf dist/$name.tar.gz $name
      rm -rf dist/$name
      echo "dist/$name.tar.gz"
    done
    cd dist && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

# Let's Encrypt's ACME test server, which the TLS tests obtain real
# certificates from (built from the Go module proxy, once).
pebble:
    PATH="$PATH:$(go env GOPATH)/bin" command -v pebble >/dev/null || go install github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3

# Built from the Go module proxy once, into $(go env GOPATH)/bin: the
# Centrifugo that the crowd benchmark and its test run against.
centrifugo:
    PATH="$PATH:$(go env GOPATH)/bin" command -v centrifugo >/dev/null || go install github.com/centrifugal/centrifugo/v6@v6.9.1

# Everything CI checks.
ci: minio pebble lint gen-check web-check breaking test test-postgres test-browser test-large fuzz bench-smoke
    go test ./...
