#!/usr/bin/env bash
# A private ClickHouse server for development, tests and CI.
#
#   scripts/clickhouse.sh install                      install Debian's clickhouse-server if missing
#   scripts/clickhouse.sh start DIR [HTTP_PORT] [TCP_PORT] [INTERSERVER_PORT]
#                                                      start one instance with its data in DIR
#                                                      ($CLICKHOUSE_EXTRA_CONFIG: a file of XML
#                                                      added to its config, e.g. for a cluster;
#                                                      CLICKHOUSE_LOG_QUERIES=1: log every query's
#                                                      text to system.query_log, as current
#                                                      releases do by default: a test uses it)
#   scripts/clickhouse.sh stop DIR                     stop the instance started in DIR (by PID)
#
# The instance listens on 127.0.0.1 only, keeps its data, logs and PID file under DIR, and keeps
# ClickHouse's own logs small: the server log is capped, and query_log, query_thread_log,
# part_log, text_log and trace_log are not configured (so not written: queries for an erasure
# carry a visitor id, and we do not want them in a system table).
set -euo pipefail

cmd=${1:-}
server=${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}

install_server() {
  if [ -x "$server" ]; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing clickhouse-server (Debian package)" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server >/dev/null
}

write_config() {
  local dir=$1 http=$2 tcp=$3 inter=$4
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/log"
  cat >"$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/clickhouse-server.log</log>
        <errorlog>$dir/log/clickhouse-server.err.log</errorlog>
        <size>10M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http</http_port>
    <tcp_port>$tcp</tcp_port>
    <interserver_http_port>$inter</interserver_http_port>
    <max_connections>512</max_connections>
    <keep_alive_timeout>30</keep_alive_timeout>
    <max_concurrent_queries>200</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <!-- Deliberately absent: query_log, query_thread_log, part_log, text_log, trace_log. -->
$(if [ "${CLICKHOUSE_LOG_QUERIES:-0}" = 1 ]; then echo "    <query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>500</flush_interval_milliseconds></query_log>"; fi)
$(if [ -n "${CLICKHOUSE_EXTRA_CONFIG:-}" ]; then cat "$CLICKHOUSE_EXTRA_CONFIG"; fi)
</yandex>
XML
  cat >"$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <log_queries>${CLICKHOUSE_LOG_QUERIES:-0}</log_queries>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() {
  local dir=${1:?usage: start DIR [HTTP_PORT] [TCP_PORT] [INTERSERVER_PORT]}
  local http=${2:-8123} tcp=${3:-9000}
  # The replication port, unused by a single node but always bound: a free one, not tcp + N
  # (that lands among the ephemeral ports of busy test runs).
  local inter=${4:-$(free_port)}
  install_server
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/clickhouse.pid" ] && kill -0 "$(cat "$dir/clickhouse.pid")" 2>/dev/null; then
    echo "already running in $dir (pid $(cat "$dir/clickhouse.pid"))" >&2
    return 0
  fi
  write_config "$dir" "$http" "$tcp" "$inter"
  # Started in the background and tracked by our own PID file, so a test or a developer can
  # stop exactly this instance.
  "$server" --config-file="$dir/config.xml" >"$dir/log/stdout.log" 2>&1 &
  echo $! >"$dir/clickhouse.pid"
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$http/ping" >/dev/null 2>&1; then
      echo "clickhouse ready: http://127.0.0.1:$http (pid $(cat "$dir/clickhouse.pid"))" >&2
      return 0
    fi
    if ! kill -0 "$(cat "$dir/clickhouse.pid")" 2>/dev/null; then
      echo "clickhouse-server exited; see $dir/log" >&2
      tail -20 "$dir/log/clickhouse-server.err.log" "$dir/log/stdout.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  echo "clickhouse did not answer on port $http within 30 s" >&2
  return 1
}

stop_server() {
  local dir=${1:?usage: stop DIR}
  local pidfile="$dir/clickhouse.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
}

case "$cmd" in
  install) install_server ;;
  start) shift; start_server "$@" ;;
  stop) shift; stop_server "$@" ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
