//! The converter's error type, below every other module: they all return it, and the crate
//! root's functions too.

/// Converter errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// The source weights are malformed or unsupported.
    #[error("source weights: {0}")]
    Source(String),
    /// The engine rejected the model.
    #[error(transparent)]
    Engine(#[from] assay_engine::Error),
    /// candle failed in a reference forward pass (feature `candle-reference`).
    #[cfg(feature = "candle-reference")]
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// A chunk of `model.bin` does not match the hash its manifest commits to.
    #[error("chunk {index} of model.bin does not match its committed hash (tampered or corrupt)")]
    TamperedChunk {
        /// Index of the first bad chunk.
        index: usize,
    },
    /// The chunk hashes do not give the expected model root.
    #[error("model root mismatch: expected {expected}, got {actual}")]
    RootMismatch {
        /// The expected root.
        expected: String,
        /// The computed root.
        actual: String,
    },
}

/// Converter result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
