//! The engine's tokenizers against their references, read from the models' own files:
//! Hugging Face `tokenizers` on all-MiniLM-L6-v2's `tokenizer.json` (module `minilm`) and
//! llama.cpp on SmolLM2's GGUF (module `smollm2`), both with the feature `reference`. Dev
//! tooling only: nothing here is part of a job's definition.

#[cfg(feature = "reference")]
pub mod minilm;
#[cfg(feature = "reference")]
pub mod smollm2;
