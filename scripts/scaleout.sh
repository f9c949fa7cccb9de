#!/usr/bin/env bash
# A PL/Proxy scale-out on one machine (docs/scale-out.md): a router and three cryptoml nodes, each
# its own socket-only cluster made by scripts/cluster.sh (.pg/<prefix>-router, .pg/<prefix>-node1..3).
#   scaleout.sh start|stop|destroy ROLE|all
#   scaleout.sh env|psql ROLE [psql args]
#   scaleout.sh conninfo ROLE      the libpq conninfo of a role (valid from the router and the nodes)
#   scaleout.sh setup            start all, create the extensions, map the partitions to the nodes
# ROLE: router | node1 | node2 | node3.
# Environment: SCALEOUT_BASE_PORT (default 54340: router, node1, node2, node3 on +0..+3),
# SCALEOUT_PREFIX (default "so": several copies coexist with other prefixes and ports),
# SCALEOUT_PARTITIONS (default 16), SCALEOUT_SYMBOLS (default the six shared symbols),
# SCALEOUT_PLACEMENT (spread: symbol i on partition i, the default; hash: the router's own choice).
# Nodes: database cryptoml, cryptoml and pg_cron preloaded, wal_level = logical (they replicate the
# leader symbols' bars to each other). Router: database cryptoml_router, cryptoml not loaded (the
# router never has cryptoml; CREATE EXTENSION cryptoml_router needs plproxy only).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE_PORT=${SCALEOUT_BASE_PORT:-54340}
PREFIX=${SCALEOUT_PREFIX:-so}
PARTITIONS=${SCALEOUT_PARTITIONS:-16}
SYMBOLS=${SCALEOUT_SYMBOLS:-BTCUSDT ETHUSDT SOLUSDT XRPUSDT ADAUSDT HBARUSDT}
ROLES="router node1 node2 node3"
NODES="node1 node2 node3"
# enough for a full mesh of 3 nodes (each publishes to 2 and subscribes to 2, plus table syncs),
# with room for a 4th node added later and for the cryptoml workers and pg_cron
NODE_CONF="# --- cryptoml scale-out node ---
wal_level = logical
max_replication_slots = 16
max_wal_senders = 16
max_logical_replication_workers = 12
max_sync_workers_per_subscription = 2
max_worker_processes = 40"

usage() { echo "usage: scaleout.sh start|stop|destroy ROLE|all | env|psql ROLE [psql args] | setup" >&2; exit 2; }
die() { echo "scaleout.sh: $*" >&2; exit 1; }
pguser() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

port_of() {
  case "$1" in
    router) echo $((BASE_PORT + 0)) ;; node1) echo $((BASE_PORT + 1)) ;;
    node2) echo $((BASE_PORT + 2)) ;; node3) echo $((BASE_PORT + 3)) ;;
    *) die "unknown role '$1' (router, node1, node2, node3)" ;;
  esac
}
db_of() { if [ "$1" = router ]; then echo cryptoml_router; else echo cryptoml; fi; }
sock_of() { echo "$ROOT/.pg/$PREFIX-$1/run"; }
# conninfo of a node, valid from the router and from every other node (same machine, sockets)
conninfo_of() { echo "host=$(sock_of "$1") port=$(port_of "$1") dbname=$(db_of "$1") user=$(pguser)"; }

cl() {  # cluster.sh command for a role
  local role=$1 cmd=$2; shift 2
  port_of "$role" >/dev/null
  if [ "$role" = router ]; then
    CRYPTOML_PORT=$(port_of router) CRYPTOML_DB=cryptoml_router CRYPTOML_PRELOAD=0 \
      bash "$ROOT/scripts/cluster.sh" "$cmd" "$PREFIX-router" "$@"
  else
    CRYPTOML_PORT=$(port_of "$role") CRYPTOML_DB=cryptoml CRYPTOML_EXTRA_CONF="$NODE_CONF" \
      bash "$ROOT/scripts/cluster.sh" "$cmd" "$PREFIX-$role" "$@"
  fi
}
q() {  # role, psql args: one connection to the role's database
  local role=$1; shift
  psql -X -q -At -v ON_ERROR_STOP=1 -h "$(sock_of "$role")" -p "$(port_of "$role")" -U "$(pguser)" -d "$(db_of "$role")" "$@"
}

start_one() {
  local role=$1 db
  cl "$role" start
  db=$(db_of "$role")
  psql -X -q -At -v ON_ERROR_STOP=1 -h "$(sock_of "$role")" -p "$(port_of "$role")" -U "$(pguser)" -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 ||
    psql -X -q -v ON_ERROR_STOP=1 -h "$(sock_of "$role")" -p "$(port_of "$role")" -U "$(pguser)" -d postgres \
      -c "CREATE DATABASE $db" >/dev/null
  if [ "$role" != router ]; then
    [ "$(q "$role" -c "SHOW wal_level")" = logical ] ||
      die "$role: wal_level is not logical (a cluster made before scaleout.sh: scaleout.sh destroy $role)"
  fi
}

each() {  # command, ROLE|all
  local cmd=$1 target=$2 r
  if [ "$target" = all ]; then
    # nodes first when starting (the router connects to them), last when stopping
    if [ "$cmd" = start ]; then for r in $NODES router; do start_one "$r"; done
    else for r in router $NODES; do cl "$r" "$cmd"; done; fi
  elif [ "$cmd" = start ]; then start_one "$target"
  else cl "$target" "$cmd"; fi
}

setup() {
  local r i s sym_json
  each start all
  for r in $NODES; do
    q "$r" -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml CASCADE"
  done
  q router -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS cryptoml_router CASCADE" ||
    die "CREATE EXTENSION cryptoml_router failed on the router (is it installed? make install)"
  # ml_cluster_init sets the number of partitions once; a rerun of setup leaves it as it is
  if [ "$(q router -c "SELECT count(*) FROM cryptoml_router.partitions")" = 0 ]; then
    q router -c "SELECT ml_cluster_init($PARTITIONS)" >/dev/null
  fi
  for r in $NODES; do
    if [ "$(q router -c "SELECT count(*) FROM cryptoml_router.nodes WHERE name = '$r'")" = 0 ]; then
      q router -c "SELECT ml_cluster_add_node('$r', \$\$$(conninfo_of "$r")\$\$)" >/dev/null
    fi
  done
  # partitions round-robin over the nodes in node_no order: partition p on node (p mod 3) + 1;
  # only the unassigned ones (a rerun keeps the partitions where they are)
  q router -c "SELECT ml_cluster_assign(p.partition, n.name)
                 FROM cryptoml_router.partitions p
                 JOIN (SELECT name, row_number() OVER (ORDER BY node_no) - 1 AS k, count(*) OVER () AS m
                         FROM cryptoml_router.nodes) n ON n.k = p.partition % n.m
                WHERE p.node IS NULL ORDER BY p.partition" >/dev/null
  # SCALEOUT_PLACEMENT=spread (default): the i-th symbol on partition i (so round-robin over the
  # nodes: 6 symbols, 2 per node); hash: where ml_config_set('symbols') puts new symbols
  if [ "${SCALEOUT_PLACEMENT:-spread}" = spread ]; then
    i=0
    for s in $SYMBOLS; do
      if [ "$(q router -c "SELECT count(*) FROM cryptoml_router.symbol_map WHERE symbol = '$s'")" = 0 ]; then
        q router -c "SELECT ml_cluster_add_symbol('$s', $((i % PARTITIONS)))" >/dev/null
      fi
      i=$((i + 1))
    done
  fi
  sym_json="[$(printf '"%s", ' $SYMBOLS | sed 's/, $//')]"
  q router -c "SELECT ml_config_set('symbols', '$sym_json')" >/dev/null
  q router -c "SELECT ml_cluster_replicate()" >/dev/null
  echo "scale-out $PREFIX ready: router port $(port_of router) (database cryptoml_router), nodes on ports $(port_of node1)-$(port_of node3); symbols:"
  q router -c "SELECT string_agg(m.symbol || ' -> partition ' || m.partition || ' on ' || p.node, E'\n' ORDER BY m.symbol)
                 FROM cryptoml_router.symbol_map m JOIN cryptoml_router.partitions p USING (partition)"
}

cmd=${1:-}; [ -n "$cmd" ] || usage
case "$cmd" in
  start|stop|destroy)
    [ $# -ge 2 ] || usage
    each "$cmd" "$2" ;;
  env)
    [ $# -ge 2 ] || usage
    port_of "$2" >/dev/null
    echo "export PGHOST='$(sock_of "$2")' PGPORT=$(port_of "$2") PGUSER=$(pguser) PGDATABASE=$(db_of "$2") CRYPTOML_SERVER_LOG='$ROOT/.pg/$PREFIX-$2/server.log'" ;;
  psql)
    [ $# -ge 2 ] || usage
    role=$2; shift 2
    port_of "$role" >/dev/null
    exec psql -h "$(sock_of "$role")" -p "$(port_of "$role")" -U "$(pguser)" -d "$(db_of "$role")" "$@" ;;
  conninfo)
    [ $# -ge 2 ] || usage
    conninfo_of "$2" ;;
  setup) setup ;;
  *) usage ;;
esac
