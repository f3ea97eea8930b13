#!/usr/bin/env bash
# Runs one Apache Cassandra node on loopback for the CQL engine tests: it
# speaks the same native protocol as ScyllaDB (LWT included) and comes from
# Maven Central as plain jars, so no Docker and no other download is needed.
#
#   cql-node.sh start DIR   prints 127.0.0.1:PORT (the CQL port) last
#   cql-node.sh stop DIR
#
# Environment:
#   CQL_NODE_LIB      a directory that already holds the jars (from
#                     `mvn dependency:copy-dependencies` on the pom beside
#                     this script); otherwise they are fetched into DIR/lib.
#   CQL_NODE_TIMEOUT  seconds to wait for the CQL port (default 120).
#   CQL_NODE_HEAP     maximum heap (default 1g).
#   JAVA_HOME         the JDK to use (17); otherwise `java` on the PATH.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
java_bin=${JAVA_HOME:+$JAVA_HOME/bin/}java

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}

die() {
  echo "cql-node: $*" >&2
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

# A port nothing listens on. Drawn below the kernel's ephemeral range
# (32768+) so that an outgoing connection cannot be holding it already.
free_port() {
  local p taken
  for _ in $(seq 200); do
    p=$((10000 + RANDOM % 22000))
    for taken in "$@"; do
      [ "$p" = "$taken" ] && continue 2
    done
    port_open "$p" || { echo "$p"; return 0; }
  done
  die "found no free port"
}

# kill -0 also succeeds on a zombie, which an exited node stays until its
# parent reaps it.
alive() {
  kill -0 "$1" 2> /dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2> /dev/null
}

# The pid in DIR/pid if that process is still this DIR's node: a stale
# file must not make us signal an unrelated process that reused the pid.
running_pid() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 1
  pid=$(cat "$dir/pid")
  [ -n "$pid" ] && alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qF "$dir/cassandra.yaml" || return 1
  echo "$pid"
}

ensure_lib() {
  local dir=$1
  if [ -n "${CQL_NODE_LIB:-}" ]; then
    compgen -G "$CQL_NODE_LIB/cassandra-all-*.jar" > /dev/null \
      || die "CQL_NODE_LIB=$CQL_NODE_LIB holds no cassandra-all jar"
    (cd "$CQL_NODE_LIB" && pwd)
    return
  fi
  if ! compgen -G "$dir/lib/cassandra-all-*.jar" > /dev/null; then
    echo "cql-node: fetching Cassandra's jars into $dir/lib" >&2
    # Fetched beside and renamed at the end, so an interrupted download is
    # never mistaken for a complete one.
    rm -rf "$dir/lib.partial"
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$dir/lib.partial" >&2
    rm -rf "$dir/lib"
    mv "$dir/lib.partial" "$dir/lib"
  fi
  echo "$dir/lib"
}

write_config() {
  local dir=$1 native=$2 storage=$3
  cat > "$dir/cassandra.yaml" << EOF
cluster_name: cql-node
# One token at 0: a single node owns the whole ring, and token-dependent
# behaviour is the same from run to run.
num_tokens: 1
initial_token: 0
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $storage
native_transport_port: $native
start_native_transport: true
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$storage"
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
role_manager: CassandraRoleManager
network_authorizer: AllowAllNetworkAuthorizer
commitlog_sync: periodic
commitlog_sync_period: 10000ms
data_file_directories:
  - $dir/data
commitlog_directory: $dir/commitlog
saved_caches_directory: $dir/saved_caches
hints_directory: $dir/hints
cdc_raw_directory: $dir/cdc_raw
# A fresh node with no older sstables to read: use 5.0's own formats.
storage_compatibility_mode: NONE
# Tests drop and truncate tables often; snapshots would only cost time and disk.
auto_snapshot: false
EOF
  # Without a configuration logback logs everything at DEBUG.
  cat > "$dir/logback.xml" << 'EOF'
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="STDOUT"/></root>
</configuration>
EOF
}

launch() {
  local dir=$1 lib=$2 jmx=$3
  local jamm
  jamm=$(compgen -G "$lib/jamm-*.jar" | head -n 1) || die "no jamm jar in $lib"
  local opts=(
    -Xms512m "-Xmx${CQL_NODE_HEAP:-1g}" -Xss512k
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxGCPauseMillis=300
    # A node out of memory may have lost writes; better gone than wrong.
    -XX:+ExitOnOutOfMemoryError
    -XX:+UseThreadPriorities -XX:+PerfDisableSharedMem
    -ea -da:net.openhft...
    -Djava.net.preferIPv4Stack=true
    # Cassandra measures memtable sizes through this agent.
    "-javaagent:$jamm"
    # From Cassandra's conf/jvm17-server.options: the JDK internals it uses.
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
    # Where Cassandra finds its settings, and to keep logging to stdout.
    "-Dcassandra.config=file://$dir/cassandra.yaml"
    "-Dlogback.configurationFile=file://$dir/logback.xml"
    -Dcassandra-foreground=yes
    "-Dcassandra.storagedir=$dir"
    "-Dcassandra.triggers_dir=$dir/triggers"
    # JMX on loopback only, so nodetool can reach the node when debugging.
    "-Dcassandra.jmx.local.port=$jmx"
    # A lone node has no peers to wait for: skip the gossip and ring waits.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=0
    -Dcassandra.superuser_setup_delay_ms=0
  )
  # The node must outlive this script, and must not hold its stdout: callers
  # read the address with $(...), which waits for every writer to close.
  nohup "$java_bin" "${opts[@]}" -cp "$lib/*" \
    org.apache.cassandra.service.CassandraDaemon \
    > "$dir/node.log" 2>&1 < /dev/null &
  echo $! > "$dir/pid"
}

start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  running_pid "$dir" > /dev/null && die "a node is already running in $dir (pid $(cat "$dir/pid"))"
  command -v "$java_bin" > /dev/null || die "java not found (install a JDK 17 or set JAVA_HOME)"
  local lib
  lib=$(ensure_lib "$dir")
  mkdir -p "$dir"/{data,commitlog,saved_caches,hints,cdc_raw,triggers}

  local timeout=${CQL_NODE_TIMEOUT:-120} attempt native storage jmx pid deadline
  # Ports are only probed, not reserved, so another process may take one
  # before Cassandra binds it; a fresh set of ports usually fixes that.
  for attempt in 1 2 3; do
    native=$(free_port)
    storage=$(free_port "$native")
    jmx=$(free_port "$native" "$storage")
    write_config "$dir" "$native" "$storage"
    echo "native_transport_port=$native storage_port=$storage jmx_port=$jmx" > "$dir/ports"
    launch "$dir" "$lib" "$jmx"
    pid=$(cat "$dir/pid")
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
      alive "$pid" || break
      if grep -q "Starting listening for CQL clients" "$dir/node.log" && port_open "$native"; then
        echo "127.0.0.1:$native"
        return 0
      fi
      sleep 0.5
    done
    if [ $attempt -lt 3 ] && grep -q "Address already in use" "$dir/node.log"; then
      stop "$dir" > /dev/null 2>&1 || true
      echo "cql-node: a port was taken meanwhile; retrying with other ports" >&2
      continue
    fi
    break
  done

  {
    if alive "$pid"; then
      echo "cql-node: the CQL port $native did not open within ${timeout}s; last lines of $dir/node.log:"
    else
      echo "cql-node: the node exited during start-up; last lines of $dir/node.log:"
    fi
    tail -n 60 "$dir/node.log"
  } >&2
  stop "$dir" > /dev/null 2>&1 || true
  exit 1
}

stop() {
  local dir=$1 pid
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  if pid=$(running_pid "$dir"); then
    # TERM lets Cassandra close its files cleanly; KILL only if it hangs.
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 300); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -KILL "$pid" 2> /dev/null || true
      while alive "$pid"; do sleep 0.1; done
    fi
  fi
  rm -f "$dir/pid"
}

[ $# -eq 2 ] || usage
case $1 in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
