# PostgreSQL for benches/bench.sh (sourced): a throwaway cluster from
# Debian's `postgresql` package in a temp dir, like tests/common/postgres.rs:
# initdb + pg_ctl on a loopback port below the ephemeral range, its Unix
# socket in the same dir, stopped by pg_stop. As root the cluster belongs to
# the `postgres` user (the server refuses to run as root).
#
#   pg_bin                 sets PG_BIN (dir of initdb/pg_ctl) or returns 1
#   pg_start PORT          initdb into a new temp dir (PG_DIR; its own, as the
#                          server user may not enter the script's) + start;
#                          PG_URL is the URL of database optgate
#   pg_stop                stops the cluster started by pg_start, removes PG_DIR
#   pg_psql SQL...         runs psql on database optgate over the socket

pg_bin() {
    local d initdb
    if initdb=$(command -v initdb 2>/dev/null); then
        d=$(dirname "$(readlink -f "$initdb")")
        [[ -x $d/pg_ctl ]] && { PG_BIN=$d; return 0; }
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $d/initdb && -x $d/pg_ctl ]] && { PG_BIN=$d; return 0; }
    done
    return 1
}

# pg_as CMD...: runs a server command as the cluster's owner.
pg_as() {
    if [[ $(id -u) -eq 0 ]]; then
        local user=postgres
        id -u postgres >/dev/null 2>&1 || user=nobody
        setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups env HOME="$PG_DIR" "$@"
    else
        "$@"
    fi
}

pg_start() {
    PG_PORT=$1
    PG_DIR=$(mktemp -d -t optgate-bench-pg-XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then
        local user=postgres
        id -u postgres >/dev/null 2>&1 || user=nobody
        chown "$user" "$PG_DIR"
    fi
    (cd "$PG_DIR" && pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U optgate --auth=trust --no-sync \
        -E UTF8 --locale=C >"$PG_DIR/initdb.log" 2>&1) || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    # The same durability as SQLite's default (`durability = "full"` makes
    # optgate commit with synchronous_commit = on; fsync stays on).
    (cd "$PG_DIR" && pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=40" start >/dev/null) \
        || { cat "$PG_DIR/server.log" >&2; return 1; }
    pg_as "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U optgate -d postgres -qAt \
        -c "CREATE DATABASE optgate" >/dev/null || return 1
    PG_URL="postgres://optgate@127.0.0.1:$PG_PORT/optgate?connect_timeout=10"
}

pg_psql() {
    pg_as "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U optgate -d optgate -qAt "$@"
}

pg_stop() {
    [[ -n ${PG_DIR:-} && -d $PG_DIR ]] || return 0
    if [[ -d $PG_DIR/data ]]; then
        (cd "$PG_DIR" && pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1) || true
    fi
    rm -rf "$PG_DIR"
    PG_DIR=
}
