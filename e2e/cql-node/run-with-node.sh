#!/usr/bin/env bash
# Runs a command with a Cassandra node up on loopback, its address in
# NUBO_TEST_CQL, and stops the node however the command ends. The node's
# jars are kept under target/ so later runs skip the download.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lib="${CQL_NODE_LIB:-$root/target/cql-node-lib}"
if [ ! -d "$lib" ]; then
  mkdir -p "$root/target"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib.partial"
  mv "$lib.partial" "$lib"
fi
dir=$(mktemp -d)
trap '"$here/cql-node.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
node=$(CQL_NODE_LIB="$lib" "$here/cql-node.sh" start "$dir" | tail -n 1)
echo "cql node at $node" >&2
NUBO_TEST_CQL="$node" "$@"
