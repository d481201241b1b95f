#!/usr/bin/env bash
# The GPU check of the exact GEMM route (README "Engine figures"): builds the worker with
# `--features cuda`, checks the int8 GEMMs through candle's f32 matmul against the engine's integer
# kernels on random and adversarial shapes (fails on any mismatch), and prints their throughput
# against candle's bf16 matmul. Needs an NVIDIA GPU, the CUDA toolkit (nvcc, for candle's kernels)
# and the root toolchain (rust-toolchain.toml). Usage:
#   bash worker/scripts/gpu-check.sh [OUT_DIR]     # the figures also go to OUT_DIR/gpu-check.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-.}}"
mkdir -p "$out"
log="$out/gpu-check.txt"
: >"$log"
say() { echo "$*" | tee -a "$log"; }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$log"
command -v nvcc >/dev/null || { say "gpu-check: nvcc not found (install the CUDA toolkit)"; exit 2; }
command -v cargo >/dev/null || { say "gpu-check: cargo not found (install rustup; the toolchain is pinned)"; exit 2; }
say "nvcc: $(nvcc --version | tail -1)"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
start=$(date +%s)
cargo build --release -p assay-worker --features cuda --example gpu_gemm 2>&1 | tail -3 | tee -a "$log"
say "build: $(( $(date +%s) - start )) s"
"$CARGO_TARGET_DIR/release/examples/gpu_gemm" 2>&1 | tee -a "$log"
