#!/usr/bin/env bash
# Installs Binaryen's wasm-opt at the version contracts/Stylus.toml pins (npm package `binaryen`,
# which needs node and npm) into DIR, unless it is there already, and prints the lines to eval:
#   eval "$(bash contracts/install-wasm-opt.sh DIR)"
# `deploy` runs $ASSAY_WASM_OPT; `cargo stylus deploy` looks for wasm-opt on PATH.
set -euo pipefail
dir="${1:?usage: install-wasm-opt.sh DIR}"
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's/^version = "\([0-9]*\)"$/\1/p' "$here/Stylus.toml")"
[ -n "$version" ] || { echo "no [wasm-opt] version in $here/Stylus.toml" >&2; exit 1; }
bin="$dir/node_modules/.bin"
if ! "$bin/wasm-opt" --version 2>/dev/null | grep -q "version $version\b"; then
  command -v npm >/dev/null || { echo "npm is required to install Binaryen $version's wasm-opt" >&2; exit 1; }
  echo "installing binaryen@$version.0.0 from npm into $dir" >&2
  npm install --prefix "$dir" --no-save --no-audit --no-fund --silent "binaryen@$version.0.0" >&2
fi
dir="$(cd "$dir" && pwd)"
echo "export ASSAY_WASM_OPT=\"$dir/node_modules/.bin/wasm-opt\""
echo "export PATH=\"$dir/node_modules/.bin:\$PATH\""
