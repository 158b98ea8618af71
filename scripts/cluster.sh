#!/usr/bin/env bash
# A local ClickHouse cluster for tests and demos: ZooKeeper (Debian's `zookeeper`) and two
# shards × two replicas of Debian's clickhouse-server, all on loopback ports, each with its own
# config, data dir and PID file.
#
#   scripts/cluster.sh start DIR     start everything; writes DIR/cluster.env (ports)
#   scripts/cluster.sh stop DIR      stop everything started in DIR (by PID)
#   scripts/cluster.sh stop-node DIR NAME / start-node DIR NAME   (NAME: s1r1 s1r2 s2r1 s2r2)
#
# The cluster is called `mesure`; macros {shard} and {replica} are set per node.
set -euo pipefail
cd "$(dirname "$0")/.."
cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || { sed -n '2,12p' "$0" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nodes="s1r1 s1r2 s2r1 s2r2"

install() {
  local need=()
  [ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
  [ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

start_zookeeper() {
  mkdir -p "$dir/zookeeper/data"
  cat >"$dir/zookeeper/zoo.cfg" <<CFG
tickTime=2000
dataDir=$dir/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
CFG
  java -Xmx256m -cp "/usr/share/java/zookeeper.jar:/usr/share/java/*" -Dzookeeper.log.dir="$dir/zookeeper" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zookeeper/zoo.cfg" >"$dir/zookeeper/out.log" 2>&1 &
  echo $! >"$dir/zookeeper/zookeeper.pid"
  for _ in $(seq 1 100); do
    if [ "$(echo ruok | timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT; cat >&3; cat <&3" 2>/dev/null)" = imok ]; then
      return 0
    fi
    sleep 0.2
  done
  echo "zookeeper did not start; see $dir/zookeeper/out.log" >&2
  return 1
}

node_config() {
  local name=$1 shard=${1:1:1} replica=${1:3:1}
  local xml="$dir/$name.extra.xml"
  cat >"$xml" <<XML
    <zookeeper><node><host>127.0.0.1</host><port>$ZK_PORT</port></node></zookeeper>
    <macros><shard>0$shard</shard><replica>r$replica</replica></macros>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
    <remote_servers>
      <mesure>
        <shard><internal_replication>true</internal_replication>
          <replica><host>127.0.0.1</host><port>$S1R1_TCP</port></replica>
          <replica><host>127.0.0.1</host><port>$S1R2_TCP</port></replica>
        </shard>
        <shard><internal_replication>true</internal_replication>
          <replica><host>127.0.0.1</host><port>$S2R1_TCP</port></replica>
          <replica><host>127.0.0.1</host><port>$S2R2_TCP</port></replica>
        </shard>
      </mesure>
    </remote_servers>
XML
  echo "$xml"
}

start_node() {
  local name=$1 upper
  upper=$(echo "$name" | tr a-z A-Z)
  local http_var="${upper}_HTTP" tcp_var="${upper}_TCP" inter_var="${upper}_INTER"
  CLICKHOUSE_EXTRA_CONFIG=$(node_config "$name") \
    scripts/clickhouse.sh start "$dir/$name" "${!http_var}" "${!tcp_var}" "${!inter_var}"
}

case "$cmd" in
  start)
    install
    mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
    {
      echo "ZK_PORT=$(free_port)"
      for n in $nodes; do
        u=$(echo "$n" | tr a-z A-Z)
        echo "${u}_HTTP=$(free_port)"; echo "${u}_TCP=$(free_port)"; echo "${u}_INTER=$(free_port)"
      done
    } >"$dir/cluster.env"
    # shellcheck disable=SC1091
    . "$dir/cluster.env"
    start_zookeeper
    for n in $nodes; do start_node "$n"; done
    ;;
  stop)
    dir=$(cd "$dir" && pwd)
    for n in $nodes; do scripts/clickhouse.sh stop "$dir/$n" || true; done
    if [ -f "$dir/zookeeper/zookeeper.pid" ]; then
      kill "$(cat "$dir/zookeeper/zookeeper.pid")" 2>/dev/null || true
      rm -f "$dir/zookeeper/zookeeper.pid"
    fi
    ;;
  stop-node) dir=$(cd "$dir" && pwd); scripts/clickhouse.sh stop "$dir/$3" ;;
  start-node) dir=$(cd "$dir" && pwd); . "$dir/cluster.env"; start_node "$3" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
