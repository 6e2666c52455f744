#!/usr/bin/env bash
# The cluster topology of compose.yaml as local processes on loopback, for tests and trials:
# PostgreSQL (Debian's), an S3-compatible server (moto's standalone server), a Dask scheduler with
# two workers, two API servers (`serve --role api`), a job dispatcher (`serve --role worker`) and
# HAProxy (Debian's) in front of the API servers.
#
#   scripts/cluster.sh up [DIR]      # start everything; prints the load balancer's URL
#   scripts/cluster.sh down [DIR]    # stop everything started in DIR
#   scripts/cluster.sh start-api N [DIR]   # (re)start API server N (1 or 2), e.g. after killing it
#
# CLUSTER_WORKERS (default 2) sets how many Dask workers `up` starts, each one thread, with the
# libraries imported at start (--preload shopfloor.jobs.dask_preload).
#
# DIR (default .cluster) holds every process's data, logs and pid, and cluster.env: the settings of
# the cluster (source it to run `shopfloor` commands or a third API server against it) and the
# ports (LB_URL, API_1_URL, API_2_URL, S3_PORT, SCHEDULER_PORT, PG_PORT). Other SHOPFLOOR_* variables
# set when `up` runs (e.g. SHOPFLOOR_TENANT_MAX_CONCURRENT_JOBS) are kept there for every process.
# Missing Debian packages (postgresql, haproxy) are installed with apt-get when run as root.
set -euo pipefail

cmd=${1:-}
if [ "$cmd" = start-api ]; then API_N=${2:-}; shift; fi
DIR=$(realpath -m "${2:-.cluster}")
WORKERS=${CLUSTER_WORKERS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
BIN=$(dirname "$PY")

log() { printf 'cluster: %s\n' "$*" >&2; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

need() {  # need PACKAGE FINDER: run FINDER, installing the Debian package first if it finds nothing
    local found; found=$($2 || true)
    if [ -z "$found" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
            log "$1 is not installed and cannot be installed here (needs root and apt-get)"; exit 1
        fi
        log "installing Debian's $1"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >"$DIR/apt-$1.log" 2>&1 \
            || { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >>"$DIR/apt-$1.log" 2>&1; } \
            || { log "apt-get install $1 failed, see $DIR/apt-$1.log"; exit 1; }
        found=$($2)
    fi
    echo "$found"
}
pg_bin() { local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1); [ -n "$d" ] && echo "$d" && return; command -v initdb >/dev/null && dirname "$(command -v initdb)"; }
haproxy_bin() { command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start() {  # start NAME COMMAND...: a background process with its log and pid in DIR
    local name=$1; shift
    setsid "$@" >"$DIR/$name.log" 2>&1 < /dev/null &
    echo $! >"$DIR/$name.pid"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
    local what=$1 seconds=$2; shift 2
    for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    log "$what did not come up in ${seconds}s; logs in $DIR"; exit 1
}
http_ok() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
port_open() { "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1"; }

up() {
    [ -e "$DIR/cluster.env" ] && { log "already up in $DIR (scripts/cluster.sh down $DIR first)"; exit 1; }
    mkdir -p "$DIR"
    local pgbin haproxy
    pgbin=$(need postgresql pg_bin)
    haproxy=$(need haproxy haproxy_bin)
    PG_PORT=$(free_port); S3_PORT=$(free_port); SCHEDULER_PORT=$(free_port)
    API_1_PORT=$(free_port); API_2_PORT=$(free_port); LB_PORT=$(free_port)

    # PostgreSQL: a throw-away cluster. initdb refuses root, so as root it runs as postgres, in a
    # folder of its own under /tmp (DIR may sit where that user cannot reach).
    local pg; pg=$(mktemp -d /tmp/shopfloor-cluster-pg.XXXXXX)
    echo "$pg" >"$DIR/pg.dir"
    [ "$(id -u)" = 0 ] && chown postgres "$pg"
    as_pg "$pgbin/initdb" -D "$pg/data" -U postgres -A trust >"$DIR/initdb.log" 2>&1
    as_pg "$pgbin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
        -o "-p $PG_PORT -k $pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres shopfloor

    # S3: moto's standalone server, one bucket
    start s3 "$PY" -m moto.server -H 127.0.0.1 -p "$S3_PORT"
    wait_for "the S3 server" 30 port_open "$S3_PORT"
    "$PY" - "$S3_PORT" <<'PYEOF'
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="cluster", aws_secret_access_key="cluster-secret").create_bucket(Bucket="shopfloor")
PYEOF

    local secret master
    secret=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(32))')
    master=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')
    cat >"$DIR/cluster.env" <<ENV
export SHOPFLOOR_MODE=production
export SHOPFLOOR_SECRET_KEY=$secret
export SHOPFLOOR_MASTER_KEY=$master
export SHOPFLOOR_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/shopfloor
export SHOPFLOOR_ARTIFACTS_URL=s3://shopfloor/artifacts
export SHOPFLOOR_S3_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export SHOPFLOOR_S3_REGION=us-east-1
export SHOPFLOOR_S3_ACCESS_KEY_ID=cluster
export SHOPFLOOR_S3_SECRET_ACCESS_KEY=cluster-secret
export SHOPFLOOR_DASK_SCHEDULER=tcp://127.0.0.1:$SCHEDULER_PORT
export SHOPFLOOR_LOG_FORMAT=json
export SHOPFLOOR_URL=http://127.0.0.1:$LB_PORT
export LB_URL=http://127.0.0.1:$LB_PORT
export API_1_URL=http://127.0.0.1:$API_1_PORT
export API_2_URL=http://127.0.0.1:$API_2_PORT
export PG_PORT=$PG_PORT S3_PORT=$S3_PORT SCHEDULER_PORT=$SCHEDULER_PORT
export API_1_PORT=$API_1_PORT API_2_PORT=$API_2_PORT LB_PORT=$LB_PORT
ENV
    # Other SHOPFLOOR_* settings given to `up` hold for every process, restarts included.
    local name
    for name in $(compgen -e | grep '^SHOPFLOOR_' || true); do
        grep -q "^export $name=" "$DIR/cluster.env" || printf 'export %s=%q\n' "$name" "${!name}" >>"$DIR/cluster.env"
    done
    # shellcheck disable=SC1091
    set -a; . "$DIR/cluster.env"; set +a

    # the registry schema once, before any server starts
    "$PY" -c 'from shopfloor.settings import Settings; from shopfloor.registry.migrate import upgrade; upgrade(Settings().resolved_database_url)'

    start scheduler "$PY" -m distributed.cli.dask_scheduler --host 127.0.0.1 --port "$SCHEDULER_PORT" \
        --dashboard-address 127.0.0.1:0
    wait_for "the Dask scheduler" 60 port_open "$SCHEDULER_PORT"
    for i in $(seq "$WORKERS"); do
        mkdir -p "$DIR/worker-$i"
        SHOPFLOOR_HOME=$DIR/worker-$i SHOPFLOOR_JOB_THREADS=1 start "worker-$i" "$PY" -m distributed.cli.dask_worker \
            "tcp://127.0.0.1:$SCHEDULER_PORT" --host 127.0.0.1 --nworkers 1 --nthreads 1 --preload shopfloor.jobs.dask_preload \
            --name "worker-$i" --local-directory "$DIR/worker-$i" --dashboard-address 127.0.0.1:0
    done
    start_api 1
    start_api 2
    mkdir -p "$DIR/dispatcher"
    SHOPFLOOR_HOME=$DIR/dispatcher start dispatcher "$BIN/shopfloor" serve --role worker

    cat >"$DIR/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
    option http-keep-alive
frontend shopfloor
    bind 127.0.0.1:$LB_PORT
    acl repeatable method GET HEAD PUT OPTIONS
    acl repeatable path_end /predict /explain
    http-request disable-l7-retry if !repeatable
    use_backend live if { nbsrv(api) eq 0 }
    default_backend api
backend api
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    timeout check 3s
    default-server inter 500ms fall 2 rise 1
    server api-1 127.0.0.1:$API_1_PORT check
    server api-2 127.0.0.1:$API_2_PORT check
backend live
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    timeout check 3s
    default-server inter 500ms fall 2 rise 1
    server api-1 127.0.0.1:$API_1_PORT check
    server api-2 127.0.0.1:$API_2_PORT check
CFG
    start lb "$haproxy" -W -db -f "$DIR/haproxy.cfg"
    wait_for "API server 1" 90 http_ok "$API_1_URL/readyz"
    wait_for "API server 2" 90 http_ok "$API_2_URL/readyz"
    wait_for "the load balancer" 30 http_ok "$LB_URL/readyz"
    log "up: $LB_URL (settings in $DIR/cluster.env)"
    echo "$LB_URL"
}

start_api() {  # start_api N: API server N on its port, with the cluster's settings
    local port_var="API_${1}_PORT"
    mkdir -p "$DIR/api-$1"
    SHOPFLOOR_HOME=$DIR/api-$1 start "api-$1" "$BIN/shopfloor" serve --role api --port "${!port_var}"
}

restart_api() {
    case "$API_N" in 1|2) ;; *) echo "usage: scripts/cluster.sh start-api 1|2 [DIR]" >&2; exit 2 ;; esac
    [ -e "$DIR/cluster.env" ] || { log "no cluster in $DIR"; exit 1; }
    set -a; . "$DIR/cluster.env"; set +a
    local pid; pid=$(cat "$DIR/api-$API_N.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then log "API server $API_N is running"; exit 1; fi
    start_api "$API_N"
    local url_var="API_${API_N}_URL"
    wait_for "API server $API_N" 90 http_ok "${!url_var}/readyz"
}

down() {
    [ -d "$DIR" ] || { log "nothing in $DIR"; return 0; }
    local pids=()
    for f in "$DIR"/*.pid; do
        [ -e "$f" ] || continue
        local pid; pid=$(cat "$f")
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    done
    for _ in $(seq 100); do
        local alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break; sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    rm -f "$DIR"/*.pid
    if [ -s "$DIR/pg.dir" ]; then
        local pgbin pg; pgbin=$(pg_bin); pg=$(cat "$DIR/pg.dir")
        as_pg "$pgbin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1 || true
        case "$pg" in /tmp/shopfloor-cluster-pg.*) rm -rf "$pg" ;; esac
    fi
    rm -rf "$DIR"
    log "down"
}

case "$cmd" in
    up) up ;;
    down) down ;;
    start-api) restart_api ;;
    *) echo "usage: scripts/cluster.sh up|down|start-api N [DIR]" >&2; exit 2 ;;
esac
