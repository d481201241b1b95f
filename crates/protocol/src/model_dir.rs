//! Model directories and their identity: `model.bin` (the blob, cut into chunks of
//! [`CHUNK_SIZE`]) and `manifest.json` (format, config, chunk hashes and the model id). The blob
//! alone determines everything; the manifest names what the blob is committed to, so a reader can
//! tell a wrong model from a tampered chunk. The model id is the blob's row-by-row commitment
//! ([`ModelFile::id`]); the chunk hashes only check the transport.

use std::path::{Path, PathBuf};

use alloy_primitives::B256;
use assay_engine::model::{CHUNK_SIZE, ModelFile, chunk_hashes};
use serde::{Deserialize, Serialize};

/// File name of the blob in a model directory.
pub const BLOB: &str = "model.bin";
/// File name of the manifest in a model directory.
pub const MANIFEST: &str = "manifest.json";
/// Format tag in the manifest.
pub const FORMAT: &str = "assay-model-2";

/// Why a model directory cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum ModelDirError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The manifest is not valid JSON of a model manifest.
    #[error("{path}: {reason}")]
    Malformed {
        /// The manifest file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The manifest names a format or chunk size this build does not read.
    #[error("unsupported model format {format} / chunk size {chunk_size}")]
    Unsupported {
        /// The manifest's format.
        format: String,
        /// The manifest's chunk size.
        chunk_size: usize,
    },
    /// A chunk of `model.bin` does not match the hash its manifest commits to.
    #[error("chunk {index} of model.bin does not match its committed hash (tampered or corrupt)")]
    TamperedChunk {
        /// Index of the first bad chunk.
        index: usize,
    },
    /// The blob does not give the manifest's model id.
    #[error("model root mismatch: expected {expected}, got {actual}")]
    RootMismatch {
        /// The manifest's model id.
        expected: B256,
        /// The id of the blob.
        actual: B256,
    },
    /// The engine cannot parse the blob.
    #[error(transparent)]
    Blob(#[from] assay_engine::Error),
}

/// The manifest of a model directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ModelManifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Model id ([`ModelFile::id`] of the blob).
    pub model_id: B256,
    /// Chunk size in bytes.
    pub chunk_size: usize,
    /// Blob length in bytes.
    pub len: usize,
    /// Keccak hash of each chunk.
    pub chunks: Vec<B256>,
    /// The config values from the blob header.
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// A model directory read from disk and checked against its manifest.
#[derive(Debug)]
pub struct ModelDir {
    /// The manifest.
    pub manifest: ModelManifest,
    /// The model id the manifest commits to.
    pub model_id: B256,
    /// The blob.
    pub blob: Vec<u8>,
    /// Hashes of the blob's chunks as read.
    pub chunk_hashes: Vec<[u8; 32]>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelDirError + '_ {
    move |source| ModelDirError::Io { path: path.display().to_string(), source }
}

impl ModelDir {
    /// Writes a model directory for `blob`, recording the config values `config_names` from its
    /// header, and returns its manifest.
    ///
    /// # Errors
    /// [`ModelDirError::Io`] on write failures, [`ModelDirError::Blob`] if the blob does not
    /// parse.
    pub fn write(
        out: &Path,
        blob: &[u8],
        config_names: &[&str],
    ) -> Result<ModelManifest, ModelDirError> {
        let file = ModelFile::parse(blob)?;
        let mut config = serde_json::Map::new();
        for name in config_names {
            config.insert((*name).into(), file.cfg(name)?.into());
        }
        let hashes = chunk_hashes(blob);
        let manifest = ModelManifest {
            format: FORMAT.into(),
            model_id: B256::from(file.id()),
            chunk_size: CHUNK_SIZE,
            len: blob.len(),
            chunks: hashes.iter().copied().map(B256::from).collect(),
            config,
        };
        std::fs::create_dir_all(out).map_err(io(out))?;
        let write = |p: PathBuf, bytes: &[u8]| std::fs::write(&p, bytes).map_err(io(&p));
        write(out.join(BLOB), blob)?;
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
        write(out.join(MANIFEST), (json + "\n").as_bytes())?;
        Ok(manifest)
    }

    /// Reads a model directory and checks every chunk against the manifest.
    ///
    /// # Errors
    /// [`ModelDirError::Io`] when a file cannot be read, [`ModelDirError::Malformed`] or
    /// [`ModelDirError::Unsupported`] for a manifest this build cannot use,
    /// [`ModelDirError::TamperedChunk`] when a chunk does not hash to the manifest's value,
    /// [`ModelDirError::Blob`] when the blob does not parse, and [`ModelDirError::RootMismatch`]
    /// when the blob does not give the manifest's model id.
    pub fn open(dir: &Path) -> Result<Self, ModelDirError> {
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&mpath).map_err(io(&mpath))?;
        let manifest: ModelManifest = serde_json::from_str(&text).map_err(|e| {
            ModelDirError::Malformed { path: mpath.display().to_string(), reason: e.to_string() }
        })?;
        if manifest.format != FORMAT || manifest.chunk_size != CHUNK_SIZE {
            return Err(ModelDirError::Unsupported {
                format: manifest.format,
                chunk_size: manifest.chunk_size,
            });
        }
        let committed: Vec<[u8; 32]> = manifest.chunks.iter().map(|c| c.0).collect();
        let bpath = dir.join(BLOB);
        let blob = std::fs::read(&bpath).map_err(io(&bpath))?;
        let hashes = chunk_hashes(&blob);
        if hashes.len() != committed.len() {
            return Err(ModelDirError::TamperedChunk { index: hashes.len().min(committed.len()) });
        }
        if let Some(index) = hashes.iter().zip(&committed).position(|(a, b)| a != b) {
            return Err(ModelDirError::TamperedChunk { index });
        }
        let id = B256::from(ModelFile::parse(&blob)?.id());
        if id != manifest.model_id {
            return Err(ModelDirError::RootMismatch { expected: manifest.model_id, actual: id });
        }
        Ok(Self { model_id: manifest.model_id, manifest, blob, chunk_hashes: hashes })
    }
}
