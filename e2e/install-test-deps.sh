#!/usr/bin/env bash
# Installs what the test suite needs beyond Rust: the interpreters of the
# python and nodejs function runtimes, on the PATH execution environments
# see (/usr/local/bin:/usr/bin:/bin), Java with Maven for the CQL node, curl
# for the README walkthrough, the build tools of AWS's runtime interface
# clients, the AWS CLI, boto3 and moto's server and the Cognito clients
# pycognito and pyotp (from PyPI, into a virtual environment under
# target/test-tools), and the Cognito clients of JavaScript (Amplify JS,
# amazon-cognito-identity-js, otplib: from npm, into
# target/test-tools/auth-clients), and the cdn's redis-server, varnishd
# and wrk. Uses apt when run as root on Debian;
# otherwise says exactly what to install.
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
# The README walkthrough runs curl, and the AWS CLI's virtual environment
# needs ensurepip (Debian's python3-venv).
command -v curl > /dev/null || missing+=(curl)
python3 -c 'import ensurepip' 2> /dev/null || missing+=(python3-venv)
# The walkthrough runs in a private network namespace, whose loopback `ip`
# brings up, so a port held on the host cannot get in its way.
PATH=$PATH:/usr/sbin:/sbin command -v ip > /dev/null || missing+=(iproute2)
# The runtime interface client suite (e2e/runtime-clients.sh) installs
# awslambdaric with the environments' python3 and its pip, and builds
# aws-lambda-ric, whose install compiles curl (autoreconf: autoconf,
# automake, libtool) and aws-lambda-cpp (cmake, g++), then a node-gyp addon
# against node's own headers; the Go client needs the go toolchain.
PATH=$runtime_path python3 -m pip --version > /dev/null 2>&1 || missing+=(python3-pip)
for tool in autoconf automake cmake g++; do
  command -v $tool > /dev/null || missing+=("$tool")
done
command -v libtoolize > /dev/null || missing+=(libtool)
node_prefix=$(PATH=$runtime_path command -v node | xargs -r dirname | xargs -r dirname)
if [ -z "$node_prefix" ] || [ ! -f "$node_prefix/include/node/node_api.h" ]; then
  missing+=(libnode-dev)
fi
# The dns suite queries nubo with dig as well as with hickory's resolver.
command -v dig > /dev/null || missing+=(bind9-dnsutils)
# The DNS differential test runs NSD beside nubo on the same zone.
PATH=$PATH:/usr/sbin command -v nsd > /dev/null || missing+=(nsd)
# The cdn's shared tier is Redis (its tests start redis-server); its
# benchmark runs wrk against nubo and Varnish side by side.
PATH=$PATH:/usr/sbin command -v redis-server > /dev/null || missing+=(redis-server)
PATH=$PATH:/usr/sbin command -v varnishd > /dev/null || missing+=(varnish)
command -v wrk > /dev/null || missing+=(wrk)
command -v go > /dev/null || echo "go is missing: the Go runtime client test needs it (https://go.dev/doc/install)" >&2

repo="$(cd "$(dirname "$0")/.." && pwd)"

# The AWS CLI (v1, from PyPI) and boto3, the second SDK the suite drives
# nubo with, moto's server (the S3 differential test's peer and, with its
# Cognito extras, the auth benchmark's), and pycognito
# with pyotp, the Python clients of the auth suite's SRP and TOTP sign-ins,
# and cryptography, the RSA signer botocore's CloudFrontSigner is given for
# the cdn's signed URLs and cookies (e2e/fixtures/cdn/sign.py), and
# websockets, the Python client of the gateway's WebSocket suite; pinned to
# a major line, refreshed when the venv is made or lacks one.
install_python_clients() {
  local venv="$repo/target/test-tools/venv"
  if [ -x "$venv/bin/aws" ] && [ -x "$venv/bin/moto_server" ] \
    && "$venv/bin/python" -c 'import boto3, pycognito, pyotp, joserfc, cryptography, websockets' 2> /dev/null; then
    return 0
  fi
  echo "installing the AWS CLI, boto3, moto's server, pycognito and pyotp into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'awscli>=1.36,<2' 'boto3>=1.35,<2' 'moto[server,cognitoidp]>=5.1,<6' \
    'pycognito>=2024.5,<2025' 'pyotp>=2.9,<3' 'cryptography>=42,<51' \
    'websockets>=13,<16'
}

# The JavaScript clients of the auth suite (e2e/fixtures/auth/clients:
# Amplify JS v6, amazon-cognito-identity-js, otplib), installed where the
# suite looks for them; skipped while the installed package.json is the
# fixture's and its packages are there.
install_node_clients() {
  local fixture="$repo/e2e/fixtures/auth/clients/package.json"
  local tools="$repo/target/test-tools/auth-clients"
  if cmp -s "$fixture" "$tools/package.json" \
    && [ -f "$tools/node_modules/aws-amplify/package.json" ] \
    && [ -f "$tools/node_modules/amazon-cognito-identity-js/package.json" ] \
    && [ -f "$tools/node_modules/otplib/package.json" ]; then
    return 0
  fi
  echo "installing Amplify JS, amazon-cognito-identity-js and otplib into $tools" >&2
  mkdir -p "$tools"
  cp "$fixture" "$tools/package.json"
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error)
}

# Mangum, the ASGI adapter the gateway event suite deploys a python web
# handler with (e2e/tests/gateway_events.rs): installed as a function
# package's files, beside which the suite puts its app.
install_python_handlers() {
  local handlers="$repo/target/test-tools/python-handlers/mangum"
  if [ -d "$handlers/mangum" ]; then
    return 0
  fi
  echo "installing mangum into $handlers" >&2
  "$repo/target/test-tools/venv/bin/pip" install --quiet --disable-pip-version-check --target "$handlers" 'mangum>=0.17,<1'
}

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get > /dev/null; then
    echo "installing ${missing[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "the test suite needs these Debian packages (or their equivalents in $runtime_path): ${missing[*]}" >&2
    exit 1
  fi
fi
install_python_clients
install_python_handlers
install_node_clients
