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
    /// The model directory could not be written.
    #[error(transparent)]
    ModelDir(#[from] assay_protocol::model_dir::ModelDirError),
}

/// Converter result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
