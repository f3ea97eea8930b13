#!/usr/bin/env bash
# Builds the deployment package of one runtime interface client fixture
# (e2e/fixtures/functions/<client>-runtime-client) as a user builds a custom
# runtime's zip for provided.al2023, and prints the package's directory:
#
#   python  awslambdaric from PyPI, `pip install --target` into the package
#   node    aws-lambda-ric from npm (its install compiles curl and
#           aws-lambda-cpp with autotools, cmake and g++, then a node-gyp
#           addon), into the package's node_modules
#   go      a static `bootstrap` built against github.com/aws/aws-lambda-go
#
# (The Rust client is a workspace member: the test builds it with cargo.)
#
# Usage: e2e/runtime-clients.sh python|node|go [OUT]
# OUT defaults to target/test-tools/runtime-clients. A package is rebuilt
# only when its fixture's files or the tools that build it change, so a
# second run takes no time. Nothing is written into the source tree.
set -euo pipefail

client=${1:?usage: $0 python|node|go [OUT]}
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-${CARGO_TARGET_DIR:-$here/../target}/test-tools/runtime-clients}
source_dir=$here/fixtures/functions/$client-runtime-client
[ -d "$source_dir" ] || { echo "no fixture $source_dir" >&2; exit 2; }
mkdir -p "$out/$client"
work=$(cd "$out/$client" && pwd)
package=$work/package
# Execution environments run interpreters found on this PATH (functions'
# `environment_path`), from the host's read-only /usr: the package's native
# modules must be built for those interpreters, not for whatever python or
# node comes first on the caller's PATH.
runtime_path=/usr/local/bin:/usr/bin:/bin

# One build of a client at a time, whichever test or shell asks.
exec 9> "$work/lock"
flock 9

# The fixture's own files, relative to it, NUL-separated: not what a local
# run of its language left beside them.
fixture_files() {
  (cd "$source_dir" && find . -type f -not -path '*/__pycache__/*' -not -path './node_modules/*' -print0 | LC_ALL=C sort -z)
}

copy_fixture() {
  (cd "$source_dir" && fixture_files | xargs -0 cp -p --parents -t "$staging")
}

# What a package is built from: the fixture's files, this recipe and the
# tools' versions.
fingerprint() {
  {
    (cd "$source_dir" && fixture_files | xargs -0 sha256sum)
    sha256sum < "$here/$(basename "$0")"
    "$@"
  } | sha256sum | cut -d' ' -f1
}

tool_versions() {
  case $client in
    python) PATH=$runtime_path python3 --version ;;
    node) PATH=$runtime_path node --version; npm --version ;;
    go) go version ;;
  esac
}

key=$(fingerprint tool_versions)
if [ -f "$work/stamp" ] && [ "$(cat "$work/stamp")" = "$key" ] && [ -d "$package" ]; then
  echo "$package"
  exit 0
fi

staging=$work/staging
rm -rf "$staging" "$work/stamp"
mkdir -p "$staging"
started=$SECONDS
case $client in
  python)
    python=$(PATH=$runtime_path command -v python3) || { echo "no python3 in $runtime_path" >&2; exit 1; }
    copy_fixture
    "$python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
      --target "$staging" -r "$source_dir/requirements.txt" >&2
    rm "$staging/requirements.txt"
    ;;
  node)
    node=$(PATH=$runtime_path command -v node) || { echo "no node in $runtime_path" >&2; exit 1; }
    # node-gyp would download node's headers; they come with node instead
    # (nodesource's package and Debian's libnode-dev put them in
    # <prefix>/include/node), as this machine reaches no download site.
    prefix=$(cd "$(dirname "$node")/.." && pwd)
    [ -f "$prefix/include/node/node_api.h" ] || {
      echo "node's headers are missing from $prefix/include/node (Debian: libnode-dev)" >&2
      exit 1
    }
    build=$work/build
    mkdir -p "$build"
    cp "$source_dir/package.json" "$build/"
    (cd "$build" && PATH="$(dirname "$node"):$PATH" npm_config_nodedir=$prefix \
      npm install --no-audit --no-fund --no-package-lock --omit=dev --loglevel=error >&2)
    copy_fixture
    # The install leaves the sources and objects of curl and aws-lambda-cpp
    # (about 150 MB) in the client's directory, and node-gyp among its
    # dependencies; what runs is the client's bin/, and dist/ with the
    # addon linked statically against both.
    client_dir=$build/node_modules/aws-lambda-ric
    [ -f "$client_dir/dist/rapid-client.node" ] || { echo "aws-lambda-ric built no addon" >&2; exit 1; }
    mkdir -p "$staging/node_modules/aws-lambda-ric"
    cp -pr "$client_dir/package.json" "$client_dir/bin" "$client_dir/dist" "$staging/node_modules/aws-lambda-ric/"
    ;;
  go)
    # lambda.norpc: the client speaks only the Runtime API, as
    # provided.al2023 functions must, without the legacy go1.x RPC server.
    (cd "$source_dir" && CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -trimpath -o "$staging/bootstrap" .) >&2
    ;;
  *)
    echo "unknown client $client (python, node or go)" >&2
    exit 2
    ;;
esac
rm -rf "$package"
mv "$staging" "$package"
echo "$key" > "$work/stamp"
echo "built the $client runtime client package in $((SECONDS - started)) s" >&2
echo "$package"
