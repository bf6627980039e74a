#!/usr/bin/env bash
# Several instances on one PostgreSQL (README "Running several instances"):
# the same consent load (every sender in an approved campaign, its 1000
# recipients active: a consent decision on every message; receipts asked
# for and sent by the simulator, so optgate maps ids and stores and delivers
# every receipt) against
#   (1) one instance on PostgreSQL,
#   (2) two instances on the same database, one load generator each,
# on this one machine (the server, the simulator, the instances and the load
# generators share its cores). Reports aggregate and per-instance
# throughput and the database's transactions per message (pg_stat_database
# xact_commit delta / messages); then runs the cross-instance STOP
# propagation test (tests/multi_instance.rs) and prints its p50/p99.
#
#   benches/multi.sh               release build, 10 s per scenario
#   benches/multi.sh --smoke       debug build unless PROFILE=release, 3 s:
#                                  checks the runs complete; never speed.
# Env: PROFILE=debug|release, DURATION=10s, BINDS=4, WINDOW=100.
set -euo pipefail

MODE=full
[[ "${1:-}" == "--smoke" ]] && MODE=smoke
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $MODE == smoke ]]; then PROFILE="${PROFILE:-debug}"; DURATION="${DURATION:-3s}"; else PROFILE="${PROFILE:-release}"; DURATION="${DURATION:-10s}"; fi
BINDS="${BINDS:-4}"
WINDOW="${WINDOW:-100}"
RECIPIENTS=1000

die() { echo "multi bench: $*" >&2; exit 1; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $PGBIN/initdb ]] || die "PostgreSQL server binaries missing: apt-get install -y postgresql"

if [[ $PROFILE == release ]]; then (cd "$ROOT" && cargo build --release --quiet); else (cd "$ROOT" && cargo build --quiet); fi
BIN="$ROOT/target/$PROFILE/optgate"
[[ -x $BIN ]] || die "no binary at $BIN"

TMP="$(mktemp -d)"
chmod 755 "$TMP"
PIDS=()
PG_UP=
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n $PG_UP ]] && as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# The server refuses to run as root: run it as postgres (or nobody) then.
as_pg() {
    if [[ $(id -u) == 0 ]]; then
        local u=postgres; id postgres >/dev/null 2>&1 || u=nobody
        runuser -u "$u" -- "$@"
    else
        "$@"
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

# ---- PostgreSQL ----------------------------------------------------------
PG_PORT=$(free_port)
mkdir -p "$TMP/pg"
[[ $(id -u) == 0 ]] && chown "$(id -u postgres 2>/dev/null || echo 65534)" "$TMP/pg"
as_pg "$PGBIN/initdb" -D "$TMP/pg" -U optgate --auth=trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg/log" -w \
    -o "-p $PG_PORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
PG_UP=1
psql_q() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U optgate -d "$1" -Atc "$2"; }
psql_q postgres "CREATE DATABASE optgate" >/dev/null
URL="postgres://optgate@127.0.0.1:$PG_PORT/optgate"
xacts() { psql_q postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = 'optgate'"; }

# ---- simulator and instances ----------------------------------------------
CARRIER_PORT=$(free_port)
"$BIN" sim carrier --listen "127.0.0.1:$CARRIER_PORT" --receipts >"$TMP/carrier.log" 2>&1 &
PIDS+=($!)
wait_port "$CARRIER_PORT"

# instance_config NAME SMPP_PORT ADMIN_PORT
instance_config() {
    cat >"$TMP/$1.toml" <<TOML
[server]
listen = "127.0.0.1:$2"
window = $WINDOW

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
max_binds = 100

[upstream]
address = "127.0.0.1:$CARRIER_PORT"
system_id = "optgate"
password = "secret"
binds = $BINDS
window = $WINDOW

[store]
backend = "postgres"
url = "$URL"
instance = "$1"

[admin]
listen = "127.0.0.1:$3"

[[campaigns]]
id = "bench"
brand = "Bench"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
attachment = "none"
TOML
}

# start_instance NAME: sets PORT_<NAME>, PID_<NAME>
start_instance() {
    local smpp admin
    smpp=$(free_port); admin=$(free_port)
    instance_config "$1" "$smpp" "$admin"
    RUST_LOG=warn "$BIN" run -c "$TMP/$1.toml" >"$TMP/$1.log" 2>&1 &
    PIDS+=($!)
    printf -v "PID_$1" '%s' "$!"
    printf -v "PORT_$1" '%s' "$smpp"
    wait_port "$smpp"
}

field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
# load NAME PORT: one load generator run; its RESULT line in $TMP/NAME.out
load() {
    "$BIN" sim load --target "127.0.0.1:$2" --binds "$BINDS" --window "$WINDOW" \
        --duration "$DURATION" --recipients "$RECIPIENTS" --registered-delivery >"$TMP/$1.out" 2>&1 \
        || { cat "$TMP/$1.out" >&2; die "$1: load generator failed"; }
    grep -q '^RESULT' "$TMP/$1.out" || die "$1: no RESULT line"
}
warm() { # until a small run is all OK (binds come up asynchronously)
    for _ in $(seq 1 100); do
        "$BIN" sim load --target "127.0.0.1:$1" --binds 1 --count 100 --recipients "$RECIPIENTS" >"$TMP/warm.out" 2>&1 || true
        local line; line=$(grep '^RESULT' "$TMP/warm.out" || true)
        [[ -n $line && $(field "$line" ok) -ge 100 ]] && return 0
        sleep 0.2
    done
    cat "$TMP/warm.out" >&2; die "instance on port $1 never forwarded"
}

start_instance gw_a
# The recipients opted in (the schema exists once an instance started).
{ echo "recipient,status,sender"; for i in $(seq 0 $((RECIPIENTS - 1))); do echo "$((15550000000 + i)),active,14155550100"; done; } >"$TMP/active.csv"
"$BIN" consent import -c "$TMP/gw_a.toml" --campaign bench "$TMP/active.csv" >/dev/null
warm "$PORT_gw_a"

echo "== (1) one instance on PostgreSQL, consent on every message, receipts on"
X0=$(xacts)
load one "$PORT_gw_a"
X1=$(xacts)
L1=$(grep '^RESULT' "$TMP/one.out"); echo "$L1"
OK1=$(field "$L1" ok)

start_instance gw_b
warm "$PORT_gw_b"
sleep 1 # let the receipts of the warm-up drain
echo "== (2) two instances on the same database, one load generator each"
X2=$(xacts)
load two_a "$PORT_gw_a" &
LA=$!
load two_b "$PORT_gw_b" &
LB=$!
wait "$LA" || die "load on gw_a failed"
wait "$LB" || die "load on gw_b failed"
X3=$(xacts)
LA_LINE=$(grep '^RESULT' "$TMP/two_a.out"); LB_LINE=$(grep '^RESULT' "$TMP/two_b.out")
echo "gw_a: $LA_LINE"
echo "gw_b: $LB_LINE"
OKA=$(field "$LA_LINE" ok); OKB=$(field "$LB_LINE" ok)
secs=${DURATION%s}
echo
echo "== summary ($PROFILE build, $DURATION per run, $BINDS binds x window $WINDOW per load generator)"
awk -v ok1="$OK1" -v x1="$((X1 - X0))" -v oka="$OKA" -v okb="$OKB" -v x2="$((X3 - X2))" -v s="$secs" 'BEGIN {
    printf "one instance : %8.0f msg/s                          %.2f transactions per message\n", ok1 / s, x1 / (ok1 > 0 ? ok1 : 1);
    printf "two instances: %8.0f msg/s aggregate (%.0f + %.0f)   %.2f transactions per message\n", (oka + okb) / s, oka / s, okb / s, x2 / ((oka + okb) > 0 ? oka + okb : 1);
}'
grep -c "ERROR" "$TMP"/gw_*.log | sed 's/^/errors logged: /' || true

echo "== cross-instance STOP propagation (tests/multi_instance.rs)"
(cd "$ROOT" && cargo test --quiet --test multi_instance a_stop_on_one_instance_stops_the_others -- --nocapture 2>/dev/null \
    | grep "cross-instance STOP propagation") || echo "(propagation test did not run)"
