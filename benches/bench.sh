#!/usr/bin/env bash
# optgate benchmark: the same load (4 binds x window 100) against
#   (1) the carrier simulator directly,
#   (2) a socat TCP relay in front of the simulator,
#   (2r) the relay in front of a simulator sending every receipt (the
#        physical limit of the receipt workload),
#   (3) optgate (temp config, temp store) in front of the simulator;
# every optgate scenario is printed as a share of its relay run;
# (3a-tls) and (b-tls) repeat the pass-through and consent runs with TLS on
# both sides and report what TLS costs optgate in CPU per message;
# then latency added by optgate at a fixed moderate rate (without and, against
# (2r), with receipts), optgate's CPU time
# per message and peak RSS. (b-pg) and (b+r-pg) repeat (b) and (b+r) with the
# store in PostgreSQL (a throwaway server this script starts on the same
# machine, benches/pg.sh), printed beside the SQLite figures; skipped with
# one line when PostgreSQL is not installed. (b-any) and (b-any-pg) repeat
# (b) with the account on allow_any_sender, where every message's carrier id
# is still written to the id map (in (b) the address routes the receipts);
# (b+r-map) repeats (b+r) on the store (b-any) filled with id map rows, so
# every carrier id is remembered in memory (receipts::MapHorizon).
#
#   benches/bench.sh            full run (release build, 10 s per scenario)
#   benches/bench.sh --smoke    a few seconds (debug build unless PROFILE=release):
#                               checks the runs complete and counts add up; never speed.
# Env: PROFILE=debug|release, OPTGATE_BIN=path (a binary to measure instead of
#      building one, for A/B runs), SIM_BIN=path (the binary whose load generator
#      and simulator are used; default the measured one), DURATION=10s, FIXED_RATE=50000, BINDS=4, WINDOW=100,
#      UP_BINDS=10 (the many-upstream-binds run), MO_RATE=2000/s ((c)'s MOs per
#      carrier bind; 500/s in smoke mode).
set -euo pipefail

MODE=full
[[ "${1:-}" == "--smoke" ]] && MODE=smoke
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ $MODE == smoke ]]; then PROFILE="${PROFILE:-debug}"; else PROFILE="${PROFILE:-release}"; fi
DURATION="${DURATION:-10s}"
FIXED_RATE="${FIXED_RATE:-50000}"
UP_BINDS="${UP_BINDS:-10}"
BINDS="${BINDS:-4}"
WINDOW="${WINDOW:-100}"

die() { echo "bench: $*" >&2; exit 1; }
# shellcheck source=benches/pg.sh
source "$ROOT/benches/pg.sh"

if ! command -v socat >/dev/null; then
    echo "bench: installing socat" >&2
    (apt-get update -qq && apt-get install -y -qq socat) >/dev/null 2>&1 || die "socat missing and could not be installed"
fi

if [[ -n ${OPTGATE_BIN:-} ]]; then
    BIN=$OPTGATE_BIN # A/B runs against another build; nothing is built
else
    if [[ $PROFILE == release ]]; then (cd "$ROOT" && cargo build --release --quiet); else (cd "$ROOT" && cargo build --quiet); fi
    BIN="$ROOT/target/$PROFILE/optgate"
fi
[[ -x $BIN ]] || die "no binary at $BIN"
SIM="${SIM_BIN:-$BIN}" # the load generator and simulator (A/B runs keep them the same)
[[ -x $SIM ]] || die "no binary at $SIM"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT

# Listening ports are taken below the kernel's ephemeral range: a port found
# free with bind(:0) could, before its daemon binds it, become the local port
# of one of the many outgoing connections this script makes. `take_port VAR`
# sets VAR to the next port there that binds now.
PORT_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$PORT_LOW" -gt 11000 ] || die "ip_local_port_range starts at $PORT_LOW: no room below it for listening ports"
PORT_NEXT=$(( ($$ * 7919) % (PORT_LOW - 10000) ))
take_port() {
    local port
    for _ in $(seq 1 500); do
        port=$(( 10000 + PORT_NEXT % (PORT_LOW - 10000) )); PORT_NEXT=$((PORT_NEXT + 1))
        if python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
            printf -v "$1" '%s' "$port"; return 0
        fi
    done
    die "no free port below $PORT_LOW"
}
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "nothing listens on port $1"
}

take_port CARRIER_PORT; take_port RELAY_PORT; take_port GATE_PORT; take_port ADMIN_PORT

"$SIM" sim carrier --listen "127.0.0.1:$CARRIER_PORT" >"$TMP/carrier.log" 2>&1 &
PIDS+=($!)
wait_port "$CARRIER_PORT"
# nodelay on both sides, as optgate and the tools set it: without it
# Nagle holds the relay's small writes (receipt acks) for delayed ACKs.
socat "TCP-LISTEN:$RELAY_PORT,fork,reuseaddr,bind=127.0.0.1,nodelay" "TCP:127.0.0.1:$CARRIER_PORT,nodelay" &
PIDS+=($!)
wait_port "$RELAY_PORT"
# The simulator that sends every receipt, and a relay in front of it (2r).
take_port RCARRIER_PORT; take_port RRELAY_PORT
"$SIM" sim carrier --listen "127.0.0.1:$RCARRIER_PORT" --control off --receipts >"$TMP/rcarrier.log" 2>&1 &
PIDS+=($!)
wait_port "$RCARRIER_PORT"
socat "TCP-LISTEN:$RRELAY_PORT,fork,reuseaddr,bind=127.0.0.1,nodelay" "TCP:127.0.0.1:$RCARRIER_PORT,nodelay" &
PIDS+=($!)
wait_port "$RRELAY_PORT"

# gate_config FILE LISTEN_PORT CARRIER_PORT ADMIN_PORT STORE_DIR: an optgate
# config for one account (pbx, number 14155550100) and BINDS carrier binds.
gate_config() {
    cat >"$1" <<TOML
[server]
listen = "127.0.0.1:$2"
window = $WINDOW
max_connections = 1100

[[server.accounts]]
system_id = "pbx"
password = "secret"
numbers = ["14155550100"]
max_binds = 1100

[upstream]
address = "127.0.0.1:$3"
system_id = "optgate"
password = "secret"
binds = $BINDS
window = $WINDOW

[store]
path = "$5/optgate.db"

[admin]
listen = "127.0.0.1:$4"
TOML
}
gate_config "$TMP/optgate.toml" "$GATE_PORT" "$CARRIER_PORT" "$ADMIN_PORT" "$TMP/store"
RUST_LOG=warn "$BIN" run -c "$TMP/optgate.toml" >"$TMP/optgate.log" 2>&1 &
GATE_PID=$!
PIDS+=($GATE_PID)
wait_port "$GATE_PORT"

# run_load NAME PORT [extra load args...]: runs one load, leaves its RESULT
# line in $TMP/NAME.out, and checks the counts add up.
run_load() {
    local name=$1 port=$2; shift 2
    "$SIM" sim load --target "127.0.0.1:$port" --binds "$BINDS" --window "$WINDOW" "$@" >"$TMP/$name.out" 2>&1 \
        || { cat "$TMP/$name.out" >&2; die "$name: load generator failed"; }
    local line sent ok errors lost
    line=$(grep '^RESULT' "$TMP/$name.out") || die "$name: no RESULT line"
    sent=$(field "$line" sent); ok=$(field "$line" ok); errors=$(field "$line" errors); lost=$(field "$line" lost)
    [[ $sent -gt 0 ]] || die "$name: nothing sent"
    [[ $sent -eq $((ok + errors)) && $lost -eq 0 ]] \
        || die "$name: counts do not add up: $line"
}
field() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" <<<"$1"; }
result() { grep '^RESULT' "$TMP/$1.out"; }

warm() { # warm PORT NAME [load args]: until a small run is all OK (optgate binds upstream asynchronously)
    local port=$1 name=$2; shift 2
    for i in $(seq 1 50); do
        "$SIM" sim load --target "127.0.0.1:$port" --binds 1 --count 100 "$@" >"$TMP/warm_$name.out" 2>&1 || true
        # Most OK (not all: in (c) STOPs refuse some recipients meanwhile).
        local line; line=$(grep '^RESULT' "$TMP/warm_$name.out" || true)
        [[ -n $line && $(field "$line" ok) -ge 90 ]] && return 0
        sleep 0.2
    done
    cat "$TMP/warm_$name.out" >&2; die "$name: optgate never forwarded"
}
warm "$GATE_PORT" gate

if [[ $MODE == smoke ]]; then
    LOAD=(--count 20000 --mix gsm7,ucs2,multipart)
    FIXED=(--rate "2000/s" --count 2000)
else
    LOAD=(--duration "$DURATION")
    FIXED=(--rate "$FIXED_RATE/s" --duration 5s)
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

echo "== (1) load -> simulator"; run_load direct "$CARRIER_PORT" "${LOAD[@]}"; result direct
echo "== (2) load -> socat relay -> simulator"; run_load relay "$RELAY_PORT" "${LOAD[@]}"; result relay
echo "== (2r) load -> socat relay -> simulator sending every receipt"
# relay_receipts NAME: one (2r) run, every submit's receipt checked for.
relay_receipts() {
    run_load "$1" "$RRELAY_PORT" "${LOAD[@]}" --recipients 1000 --registered-delivery; result "$1"
    local line; line=$(result "$1")
    [[ $(field "$line" receipts) -eq $(field "$line" ok) ]] || die "(2r): a receipt per submit expected: $line"
}
relay_receipts relay_r
echo "== (3) load -> optgate -> simulator"
T0=$(cpu_ticks "$GATE_PID")
run_load gate "$GATE_PORT" "${LOAD[@]}"
T1=$(cpu_ticks "$GATE_PID")
result gate
echo "== latency at a fixed rate (${FIXED[*]})"
run_load direct_fixed "$CARRIER_PORT" "${FIXED[@]}"; result direct_fixed
run_load gate_fixed "$GATE_PORT" "${FIXED[@]}"; result gate_fixed
HWM_KB=$(awk '/VmHWM/ {print $2}' "/proc/$GATE_PID/status")


# ---- many upstream binds -----------------------------------------------------
# The pass-through daemon again, restarted with UP_BINDS carrier binds.
kill "$GATE_PID" 2>/dev/null || true
wait "$GATE_PID" 2>/dev/null || true
sed -i "s/^binds = $BINDS\$/binds = $UP_BINDS/" "$TMP/optgate.toml"
RUST_LOG=warn "$BIN" run -c "$TMP/optgate.toml" >"$TMP/optgate_up.log" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
wait_port "$GATE_PORT"
warm "$GATE_PORT" up
sleep 0.5 # let every carrier bind come up
if [[ $MODE == smoke ]]; then IDLE_BINDS=${IDLE_BINDS:-200}; else IDLE_BINDS=${IDLE_BINDS:-1000}; fi
echo "== RSS with $IDLE_BINDS idle platform binds"
ulimit -n 4096 2>/dev/null || true
RSS_BEFORE=$(awk '/VmRSS/ {print $2}' "/proc/$UP_PID/status")
python3 - "$GATE_PORT" "$IDLE_BINDS" "$UP_PID" >"$TMP/idle.out" <<'PY' || die "idle binds failed"
import socket, struct, sys, time
port, n, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = b"pbx\0secret\0\0" + bytes([0x34, 0, 0]) + b"\0"
pdu = struct.pack(">IIII", 16 + len(body), 0x00000009, 0, 1) + body
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(pdu)
    socks.append(s)
for s in socks:
    hdr = b""
    while len(hdr) < 16:
        chunk = s.recv(16 - len(hdr))
        if not chunk:
            sys.exit("connection closed before bind_transceiver_resp")
        hdr += chunk
    length, cid, status, _ = struct.unpack(">IIII", hdr)
    if cid != 0x80000009 or status != 0:
        sys.exit(f"bind refused: command 0x{cid:08x} status 0x{status:x}")
    s.recv(length - 16)
time.sleep(1)
rss = [l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]
print(f"IDLE binds={n} rss_kb={rss}")
PY
IDLE_LINE=$(grep '^IDLE' "$TMP/idle.out"); echo "$IDLE_LINE (before: $RSS_BEFORE kB)"
echo "== (e) load -> optgate with $UP_BINDS carrier binds -> simulator"
run_load upbinds "$GATE_PORT" "${LOAD[@]}"; result upbinds
kill "$UP_PID" 2>/dev/null || true

# ---- consent scenarios ------------------------------------------------------
# (b) every sender in an approved campaign, its recipients active (a consent
#     decision on every message), receipts asked for (the id map is written);
#     the simulator sends no receipts, as in (a);
# (b+r) (b) with the simulator sending every receipt, which optgate stores
#     and delivers;
# (c) (b+r) plus MOs from the simulator, 5% of them STOP, during the run;
# (d) 4 binds x window 1 (latency-bound) against (b)'s set-up.
take_port GATE2_PORT; take_port ADMIN2_PORT
gate_config "$TMP/consent.toml" "$GATE2_PORT" "$CARRIER_PORT" "$ADMIN2_PORT" "$TMP/store2"
cat >>"$TMP/consent.toml" <<TOML

[[campaigns]]
id = "bench"
brand = "Bench"
numbers = ["14155550100"]
outbound_unknown = "require_opt_in"
attachment = "none"
TOML
RECIPIENTS=1000
{ echo "recipient,status,sender"; for i in $(seq 0 $((RECIPIENTS - 1))); do echo "$((15550000000 + i)),active,14155550100"; done; } >"$TMP/active.csv"
mkdir -p "$TMP/store2"
"$BIN" consent import -c "$TMP/consent.toml" --campaign bench "$TMP/active.csv" >/dev/null
# start_consent_gate CARRIER_PORT LOGNAME: (re)starts the consent daemon
# (config $CONSENT_TOML) against that simulator; sets GATE2_PID.
GATE2_PID=
CONSENT_TOML="$TMP/consent.toml"
start_consent_gate() {
    if [[ -n $GATE2_PID ]]; then kill "$GATE2_PID" 2>/dev/null || true; wait "$GATE2_PID" 2>/dev/null || true; fi
    sed -i "s/^address = \"127.0.0.1:[0-9]*\"/address = \"127.0.0.1:$1\"/" "$CONSENT_TOML"
    RUST_LOG=warn "$BIN" run -c "$CONSENT_TOML" >"$TMP/$2.log" 2>&1 &
    GATE2_PID=$!
    PIDS+=($GATE2_PID)
    wait_port "$GATE2_PORT"
    warm "$GATE2_PORT" "$2" --recipients "$RECIPIENTS"
}
# consent_run NAME: (b)'s load against the consent daemon, its RESULT line
# kept as NAME; optgate's CPU ticks meanwhile in RUN_TICKS.
consent_run() {
    local t0; t0=$(cpu_ticks "$GATE2_PID")
    run_load "$1" "$GATE2_PORT" "${LOAD[@]}" --recipients "$RECIPIENTS" --registered-delivery
    RUN_TICKS=$(( $(cpu_ticks "$GATE2_PID") - t0 ))
    result "$1"
}
start_consent_gate "$CARRIER_PORT" optgate2
echo "== (b) load -> optgate with consent on every message -> simulator"
consent_run consent; CONSENT_TICKS=$RUN_TICKS
echo "== (d) 4 binds x window 1 with consent"
"$SIM" sim load --target "127.0.0.1:$GATE2_PORT" --binds "$BINDS" --window 1 "${LOAD[@]}" --recipients "$RECIPIENTS" >"$TMP/w1.out" 2>&1 || die "window-1 run failed"
grep '^RESULT' "$TMP/w1.out"
# (b-any): (b) with the account on allow_any_sender, so every message's id
# map row is written (receipts could not be routed by address): the cost
# (b) no longer pays. any_config SRC DST adds the flag to a consent config.
any_config() { sed 's/^max_binds = 1100$/max_binds = 1100\nallow_any_sender = true/' "$1" >"$2"; grep -q '^allow_any_sender = true' "$2" || die "no allow_any_sender in $2"; }
any_config "$TMP/consent.toml" "$TMP/consent_any.toml"
echo "== (b-any) as (b), the account with allow_any_sender (id map written)"
CONSENT_TOML="$TMP/consent_any.toml"; start_consent_gate "$CARRIER_PORT" optgate_any
consent_run consent_any; ANY_TICKS=$RUN_TICKS; CONSENT_TOML="$TMP/consent.toml"
# (b+r) runs on a store of its own: (b-any) left an id map row for each of
# its messages in store2, and a daemon started on such a store remembers
# every message's carrier id in memory until those rows expire (see
# receipts::MapHorizon), a cost a deployment whose receipts all go by
# address does not pay. That case is measured too, as (b+r-map), below.
sed "s|$TMP/store2/|$TMP/store_r/|" "$TMP/consent.toml" >"$TMP/consent_r.toml"
grep -q "$TMP/store_r/" "$TMP/consent_r.toml" || die "(b+r) store not written"
mkdir -p "$TMP/store_r"
"$BIN" consent import -c "$TMP/consent_r.toml" --campaign bench "$TMP/active.csv" >/dev/null
# The relay's own figure varies by 15 % and more from minute to minute on a
# shared machine: the receipt runs' shares are taken of the mean of three
# relay runs, (2r) at the start and these two around the receipt runs.
echo "== (2r) again, right before the receipt runs"
relay_receipts relay_r2
echo "== (b+r) as (b), the simulator sending every receipt (durability = \"full\"), a store without id map rows"
CONSENT_TOML="$TMP/consent_r.toml"
start_consent_gate "$RCARRIER_PORT" optgate_r
consent_run receipts
# The added latency with receipts on: the same fixed rate through the
# receipt relay (2r) and through optgate with consent and receipts.
echo "== latency at a fixed rate with receipts (${FIXED[*]})"
# Three relay/optgate pairs, alternated: one 5-s p99 on a shared 2-core
# machine spreads over a factor of two from run to run; the summary gives
# each pair and the median of the three.
for i in 1 2 3; do
    run_load "relay_r_fixed$i" "$RRELAY_PORT" "${FIXED[@]}" --recipients "$RECIPIENTS" --registered-delivery; result "relay_r_fixed$i"
    run_load "gate_r_fixed$i" "$GATE2_PORT" "${FIXED[@]}" --recipients "$RECIPIENTS" --registered-delivery; result "gate_r_fixed$i"
done
HWM_R_KB=$(awk '/VmHWM/ {print $2}' "/proc/$GATE2_PID/status")
echo "== (b+r-normal) as (b+r), [store] durability = \"normal\""
sed "s|^path = \"$TMP/store_r/optgate.db\"|&\ndurability = \"normal\"|" "$TMP/consent_r.toml" >"$TMP/consent_normal.toml"
grep -q '^durability = "normal"' "$TMP/consent_normal.toml" || die "durability not written"
CONSENT_TOML="$TMP/consent_normal.toml"
start_consent_gate "$RCARRIER_PORT" optgate_rn
consent_run receipts_normal
echo "== (b+r-map) as (b+r), on (b-any)'s store: id map rows there, so every carrier id is remembered"
CONSENT_TOML="$TMP/consent.toml"
start_consent_gate "$RCARRIER_PORT" optgate_rm
consent_run receipts_map
HWM_RM_KB=$(awk '/VmHWM/ {print $2}' "/proc/$GATE2_PID/status")
echo "== (2r) again, right after the receipt runs"
relay_receipts relay_r3
# ---- PostgreSQL --------------------------------------------------------------
# (b-pg) and (b+r-pg): (b) and (b+r) with the same daemon config, the store
# in a PostgreSQL cluster started here (benches/pg.sh: initdb into a temp dir,
# fsync on; the default `durability = "full"` commits with synchronous_commit
# on, as SQLite's FULL), right after (b+r) so the pairs run close together.
PG_SKIP=
if pg_bin; then
    take_port PG_PORT
    pg_start "$PG_PORT" || die "PostgreSQL did not start"
    CONSENT_TOML="$TMP/consent_pg.toml"
    sed -e "s|^path = \"$TMP/store2/optgate.db\"|path = \"$TMP/store_pg/optgate.db\"\nbackend = \"postgres\"\nurl = \"$PG_URL\"|" \
        "$TMP/consent.toml" >"$CONSENT_TOML"
    grep -q '^backend = "postgres"' "$CONSENT_TOML" || die "PostgreSQL config not written"
    mkdir -p "$TMP/store_pg"
    "$BIN" consent import -c "$CONSENT_TOML" --campaign bench "$TMP/active.csv" >/dev/null
    start_consent_gate "$CARRIER_PORT" optgate_pg
    # Smoke: fewer messages (a debug build's PostgreSQL client is slow;
    # CI time), the same checks.
    SQLITE_LOAD=("${LOAD[@]}")
    [[ $MODE == smoke ]] && LOAD=(--count 5000 --mix gsm7,ucs2,multipart)
    echo "== (b-pg) as (b), the store in PostgreSQL"
    consent_run consent_pg; PG_TICKS=$RUN_TICKS
    echo "== (b-any-pg) as (b-any), the store in PostgreSQL"
    any_config "$TMP/consent_pg.toml" "$TMP/consent_any_pg.toml"
    CONSENT_TOML="$TMP/consent_any_pg.toml"; start_consent_gate "$CARRIER_PORT" optgate_any_pg
    consent_run consent_any_pg; CONSENT_TOML="$TMP/consent_pg.toml"
    echo "== (b+r-pg) as (b+r), the store in PostgreSQL"
    start_consent_gate "$RCARRIER_PORT" optgate_pg_r
    consent_run receipts_pg
    LOAD=("${SQLITE_LOAD[@]}")
    CONSENT_TOML="$TMP/consent.toml"
else
    PG_SKIP="PostgreSQL server binaries (initdb, pg_ctl) not found: (b-pg) and (b+r-pg) skipped (apt-get install postgresql)"
    echo "== $PG_SKIP"
fi

echo "== (c) (b+r) plus MOs (5% STOP) from the simulator during the run"
take_port MO_CARRIER_PORT
# The smoke run's debug build keeps up with fewer MOs: at 2,000/s per carrier
# bind it fell behind on a busy machine, until its first submits timed out.
if [[ $MODE == smoke ]]; then MO_RATE="${MO_RATE:-500/s}"; fi
"$SIM" sim carrier --listen "127.0.0.1:$MO_CARRIER_PORT" --receipts --mo-rate "${MO_RATE:-2000/s}" --mo-stop-share 0.05 \
    --mo-from 15550000000 --mo-senders "$RECIPIENTS" --mo-to 14155550100 >"$TMP/mocarrier.log" 2>&1 &
PIDS+=($!)
wait_port "$MO_CARRIER_PORT"
start_consent_gate "$MO_CARRIER_PORT" optgate3
"$SIM" sim load --target "127.0.0.1:$GATE2_PORT" --binds "$BINDS" --window "$WINDOW" "${LOAD[@]}" --recipients "$RECIPIENTS" --registered-delivery >"$TMP/mo.out" 2>&1 || die "MO run failed"
grep '^RESULT' "$TMP/mo.out"
MOLINE=$(grep '^RESULT' "$TMP/mo.out")
[[ $(field "$MOLINE" sent) -eq $(( $(field "$MOLINE" ok) + $(field "$MOLINE" errors) )) ]] || die "(c): counts do not add up: $MOLINE"

# ---- TLS on both sides ---------------------------------------------------------
# (3a-tls) and (b-tls): (3a) and (b) again with the load generator connecting
# to optgate's TLS listener and optgate binding to a simulator that listens
# over TLS (certificates from `optgate sim certs`: a private CA and a
# localhost certificate). The difference in optgate's CPU time per message
# against (3a) and (b) is what TLS costs it (both sides: decrypting submits
# and encrypting their responses towards the platform, the reverse towards
# the carrier).
"$SIM" sim certs --dir "$TMP/certs" >/dev/null || die "sim certs failed"
TLS_LOAD=(--tls-ca "$TMP/certs/ca.pem" --tls-name localhost)
take_port TCARRIER_PORT
"$SIM" sim carrier --listen "127.0.0.1:$TCARRIER_PORT" --control off \
    --tls-cert "$TMP/certs/server.pem" --tls-key "$TMP/certs/server.key" >"$TMP/tcarrier.log" 2>&1 &
PIDS+=($!)
wait_port "$TCARRIER_PORT"
# tls_sections FILE TLS_LISTEN_PORT: turns a config's listener and upstream to TLS.
tls_sections() {
    cat >>"$1" <<TOML

[server.tls]
listen = "127.0.0.1:$2"
cert = "$TMP/certs/server.pem"
key = "$TMP/certs/server.key"

[upstream.tls]
enabled = true
ca = "$TMP/certs/ca.pem"
server_name = "localhost"
TOML
}
if [[ -n $GATE2_PID ]]; then kill "$GATE2_PID" 2>/dev/null || true; wait "$GATE2_PID" 2>/dev/null || true; GATE2_PID=; fi

echo "== (3a-tls) load -TLS-> optgate -TLS-> simulator"
take_port TGATE_PORT; take_port TGATE_TLS_PORT; take_port TADMIN_PORT
gate_config "$TMP/tls.toml" "$TGATE_PORT" "$TCARRIER_PORT" "$TADMIN_PORT" "$TMP/store_tls"
tls_sections "$TMP/tls.toml" "$TGATE_TLS_PORT"
RUST_LOG=warn "$BIN" run -c "$TMP/tls.toml" >"$TMP/optgate_tls.log" 2>&1 &
TGATE_PID=$!
PIDS+=($TGATE_PID)
wait_port "$TGATE_TLS_PORT"
warm "$TGATE_TLS_PORT" tls "${TLS_LOAD[@]}"
S0=$(cpu_ticks "$TGATE_PID")
run_load gate_tls "$TGATE_TLS_PORT" "${LOAD[@]}" "${TLS_LOAD[@]}"
S1=$(cpu_ticks "$TGATE_PID")
result gate_tls
kill "$TGATE_PID" 2>/dev/null || true; wait "$TGATE_PID" 2>/dev/null || true

echo "== (b-tls) load -TLS-> optgate with consent on every message -TLS-> simulator"
take_port BGATE_PORT; take_port BGATE_TLS_PORT; take_port BADMIN_PORT
sed -e "s|^listen = \"127.0.0.1:$GATE2_PORT\"|listen = \"127.0.0.1:$BGATE_PORT\"|" \
    -e "s|^address = \"127.0.0.1:[0-9]*\"|address = \"127.0.0.1:$TCARRIER_PORT\"|" \
    -e "s|^listen = \"127.0.0.1:$ADMIN2_PORT\"|listen = \"127.0.0.1:$BADMIN_PORT\"|" \
    -e "s|$TMP/store2/|$TMP/store_btls/|" "$TMP/consent.toml" >"$TMP/consent_tls.toml"
tls_sections "$TMP/consent_tls.toml" "$BGATE_TLS_PORT"
mkdir -p "$TMP/store_btls"
"$BIN" consent import -c "$TMP/consent_tls.toml" --campaign bench "$TMP/active.csv" >/dev/null
RUST_LOG=warn "$BIN" run -c "$TMP/consent_tls.toml" >"$TMP/optgate_btls.log" 2>&1 &
BGATE_PID=$!
PIDS+=($BGATE_PID)
wait_port "$BGATE_TLS_PORT"
warm "$BGATE_TLS_PORT" btls --recipients "$RECIPIENTS" "${TLS_LOAD[@]}"
B0=$(cpu_ticks "$BGATE_PID")
run_load consent_tls "$BGATE_TLS_PORT" "${LOAD[@]}" --recipients "$RECIPIENTS" --registered-delivery "${TLS_LOAD[@]}"
B1=$(cpu_ticks "$BGATE_PID")
result consent_tls
kill "$BGATE_PID" 2>/dev/null || true

TP1=$(field "$(result direct)" throughput); TP2=$(field "$(result relay)" throughput); TP3=$(field "$(result gate)" throughput)
GATE_OK=$(field "$(result gate)" ok)
D50=$(field "$(result direct_fixed)" p50_us); D99=$(field "$(result direct_fixed)" p99_us)
G50=$(field "$(result gate_fixed)" p50_us); G99=$(field "$(result gate_fixed)" p99_us)

echo
echo "== summary ($(nproc) cores, $PROFILE build, $BINDS binds x window $WINDOW)"
printf '%-38s %12s msg/s\n' "(1) load -> simulator" "$TP1"
printf '%-38s %12s msg/s\n' "(2) load -> socat -> simulator" "$TP2"
TP2R1=$(field "$(result relay_r)" throughput); TP2R2=$(field "$(result relay_r2)" throughput); TP2R3=$(field "$(result relay_r3)" throughput)
TP2R=$(( (TP2R1 + TP2R2 + TP2R3) / 3 ))
printf '%-38s %12s msg/s (mean of %s, %s, %s)\n' "(2r) relay, every receipt returned" "$TP2R" "$TP2R1" "$TP2R2" "$TP2R3"
printf '%-38s %12s msg/s\n' "(3) load -> optgate -> simulator" "$TP3"
awk -v a="$TP3" -v b="$TP2" 'BEGIN { printf "%-38s %12.2f\n", "optgate / relay throughput", (b > 0 ? a / b : 0) }'
printf '%-38s p50 %s us, p99 %s us\n' "latency direct at fixed rate" "$D50" "$D99"
printf '%-38s p50 %s us, p99 %s us\n' "latency via optgate at fixed rate" "$G50" "$G99"
printf '%-38s p50 %s us, p99 %s us\n' "added by optgate" "$((G50 - D50))" "$((G99 - D99))"
awk -v t="$((T1 - T0))" -v hz="$HZ" -v n="$GATE_OK" \
    'BEGIN { printf "%-38s %12.2f us/msg\n", "optgate CPU time (user+sys)", (n > 0 ? t / hz / n * 1e6 : 0) }'
printf '%-38s %12s MiB\n' "optgate peak RSS (VmHWM)" "$((HWM_KB / 1024))"
TPB=$(field "$(result consent)" throughput); CONSENT_OK=$(field "$(result consent)" ok)
printf '%-38s %12s MiB (%s MiB before)\n' "RSS with $IDLE_BINDS idle platform binds" "$(( $(field "$IDLE_LINE" rss_kb) / 1024 ))" "$((RSS_BEFORE / 1024))"
printf '%-38s %12s msg/s\n' "(e) optgate, $UP_BINDS carrier binds" "$(field "$(result upbinds)" throughput)"
printf '%-38s %12s msg/s\n' "(b) consent on every message" "$TPB"
awk -v t="$CONSENT_TICKS" -v hz="$HZ" -v n="$CONSENT_OK" \
    'BEGIN { printf "%-38s %12.2f us/msg\n", "(b) optgate CPU time (user+sys)", (n > 0 ? t / hz / n * 1e6 : 0) }'
printf '%-38s %12s msg/s, %s us/msg CPU\n' "(b-any) allow_any_sender, id map" "$(field "$(result consent_any)" throughput)" \
    "$(awk -v t="$ANY_TICKS" -v hz="$HZ" -v n="$(field "$(result consent_any)" ok)" 'BEGIN { printf "%.2f", (n > 0 ? t / hz / n * 1e6 : 0) }')"
# receipts_line NAME LABEL: throughput, share of the receipt relay (2r),
# receipts delivered within the run.
receipts_line() {
    local l; l=$(result "$1")
    awk -v l="$2" -v t="$(field "$l" throughput)" -v r="$TP2R" -v ok="$(field "$l" ok)" -v rc="$(field "$l" receipts)" \
        'BEGIN { printf "%-38s %12s msg/s, %.3f of (2r), %.2f %% of receipts delivered in the run\n", l, t, (r > 0 ? t / r : 0), (ok > 0 ? 100 * rc / ok : 0) }'
}
receipts_line receipts "(b+r) receipts, durability full"
receipts_line receipts_normal "(b+r) receipts, durability normal"
receipts_line receipts_map "(b+r-map) every carrier id remembered"
ADD50=(); ADD99=()
for i in 1 2 3; do
    RD50=$(field "$(result "relay_r_fixed$i")" p50_us); RD99=$(field "$(result "relay_r_fixed$i")" p99_us)
    RG50=$(field "$(result "gate_r_fixed$i")" p50_us); RG99=$(field "$(result "gate_r_fixed$i")" p99_us)
    printf '%-38s p50 %s us, p99 %s us (relay %s / %s us)\n' "fixed rate with receipts, optgate #$i" "$RG50" "$RG99" "$RD50" "$RD99"
    ADD50+=($((RG50 - RD50))); ADD99+=($((RG99 - RD99)))
done
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
printf '%-38s p50 %s us, p99 %s us (median of 3; p99 each: %s)\n' "added by optgate with receipts" \
    "$(median3 "${ADD50[@]}")" "$(median3 "${ADD99[@]}")" "${ADD99[*]}"
printf '%-38s %12s MiB\n' "optgate peak RSS after (b+r) full" "$((HWM_R_KB / 1024))"
printf '%-38s %12s MiB\n' "optgate peak RSS after (b+r-map)" "$((HWM_RM_KB / 1024))"
printf '%-38s %s\n' "(d) 4 x window 1 with consent" "$(grep '^RESULT' "$TMP/w1.out")"
printf '%-38s %s\n' "(c) with MOs, 5% STOP" "$MOLINE"
if [[ -z $PG_SKIP ]]; then
    # side_by_side LABEL SQLITE_RESULT PG_RESULT: throughputs and their ratio.
    side_by_side() {
        local a b; a=$(field "$(result "$2")" throughput); b=$(field "$(result "$3")" throughput)
        awk -v l="$1" -v a="$a" -v b="$b" \
            'BEGIN { printf "%-38s %12s %12s %9.2f\n", l, a, b, (a > 0 ? b / a : 0) }'
    }
    printf '%-38s %12s %12s %9s\n' "store backends (msg/s)" "SQLite" "PostgreSQL" "PG/SQLite"
    side_by_side "(b) consent on every message" consent consent_pg
    side_by_side "(b+r) as (b), receipts delivered" receipts receipts_pg
    side_by_side "(b-any) allow_any_sender, id map" consent_any consent_any_pg
    awk -v t="$PG_TICKS" -v hz="$HZ" -v n="$(field "$(result consent_pg)" ok)" \
        'BEGIN { printf "%-38s %12.2f us/msg (PostgreSQL server CPU not included)\n", "(b-pg) optgate CPU time (user+sys)", (n > 0 ? t / hz / n * 1e6 : 0) }'
else
    echo "$PG_SKIP"
fi
# us_per_msg TICKS OK: CPU microseconds per answered message.
us_per_msg() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? t / hz / n * 1e6 : 0) }'; }
PLAIN_A=$(us_per_msg "$((T1 - T0))" "$GATE_OK"); TLS_A=$(us_per_msg "$((S1 - S0))" "$(field "$(result gate_tls)" ok)")
PLAIN_B=$(us_per_msg "$CONSENT_TICKS" "$CONSENT_OK"); TLS_B=$(us_per_msg "$((B1 - B0))" "$(field "$(result consent_tls)" ok)")
printf '%-38s %12s msg/s, %s us/msg CPU (plain %s msg/s, %s us/msg)\n' "(3a-tls) pass-through, TLS both sides" \
    "$(field "$(result gate_tls)" throughput)" "$TLS_A" "$TP3" "$PLAIN_A"
printf '%-38s %12s msg/s, %s us/msg CPU (plain %s msg/s, %s us/msg)\n' "(b-tls) consent, TLS both sides" \
    "$(field "$(result consent_tls)" throughput)" "$TLS_B" "$TPB" "$PLAIN_B"
awk -v a="$TLS_A" -v b="$PLAIN_A" -v c="$TLS_B" -v d="$PLAIN_B" \
    'BEGIN { printf "%-38s %+12.2f us/msg (3a), %+.2f us/msg (b)\n", "TLS CPU cost in optgate", a - b, c - d }'
# share NAME LABEL RELAY_THROUGHPUT: a scenario as a share of its relay run.
share() { awk -v l="$2" -v a="$(field "$(result "$1")" throughput)" -v b="$3" 'BEGIN { printf "  %-36s %6.3f\n", l, (b > 0 ? a / b : 0) }'; }
echo "share of the matching relay run (throughput / relay throughput; (2r): the mean of its three runs):"
share gate "(3a) pass-through / (2)" "$TP2"
share upbinds "(e) 10 carrier binds / (2)" "$TP2"
share consent "(b) consent / (2)" "$TP2"
share receipts "(b+r) full / (2r)" "$TP2R"
share receipts_normal "(b+r) normal / (2r)" "$TP2R"
share receipts_map "(b+r-map) / (2r)" "$TP2R"
[[ -z $PG_SKIP ]] && share receipts_pg "(b+r-pg) / (2r)" "$TP2R"
[[ $MODE == smoke ]] && echo "smoke: all runs completed and counts add up"
exit 0
