#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: the interpreters of the
# python and nodejs function runtimes, on the PATH execution environments
# see (/usr/local/bin:/usr/bin:/bin), and Java with Maven for the CQL node.
# Uses apt when run as root on Debian; otherwise says exactly what to install.
set -euo pipefail

runtime_path=/usr/local/bin:/usr/bin:/bin
missing=()
command -v cargo > /dev/null || { echo "cargo is missing: install Rust with rustup" >&2; exit 1; }
PATH=$runtime_path command -v python3 > /dev/null || missing+=(python3)
PATH=$runtime_path command -v node > /dev/null || missing+=(nodejs)
# dynalite, the differential peer, comes from the npm registry.
command -v npm > /dev/null || missing+=(npm)
command -v make > /dev/null || missing+=(make)
# The CQL engine suite runs a Cassandra node: a JDK (11 or 17) and Maven.
command -v java > /dev/null || missing+=(default-jre-headless)
command -v mvn > /dev/null || missing+=(maven)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  exit 0
fi
echo "the test suite needs these Debian packages (or their equivalents in $runtime_path): ${missing[*]}" >&2
exit 1
