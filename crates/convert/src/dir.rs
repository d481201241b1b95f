//! Model directories: `model.bin` (the blob, cut into chunks of
//! [`CHUNK_SIZE`](assay_engine::model::CHUNK_SIZE)) and `manifest.json` (format, architecture,
//! config, chunk hashes and the model id). The blob alone determines everything; the manifest
//! names what the blob is committed to, so a reader can tell a wrong model from a tampered chunk.

use std::path::{Path, PathBuf};

use assay_engine::{
    hash::{Hash, merkle_root},
    model::{CHUNK_SIZE, ModelFile, chunk_hashes},
};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// File name of the blob in a model directory.
pub const BLOB: &str = "model.bin";
/// File name of the manifest in a model directory.
pub const MANIFEST: &str = "manifest.json";
/// Format tag in the manifest.
pub const FORMAT: &str = "assay-model-1";

/// The manifest of a model directory.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Model id (Merkle root of the chunk hashes), `0x`-prefixed hex.
    pub model_id: String,
    /// Chunk size in bytes.
    pub chunk_size: usize,
    /// Blob length in bytes.
    pub len: usize,
    /// Keccak hash of each chunk, hex.
    pub chunks: Vec<String>,
    /// The config values from the blob header.
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// Hex with a `0x` prefix.
pub fn hex32(h: &Hash) -> String {
    format!("0x{}", hex::encode(h))
}

/// Parses [`hex32`] output.
///
/// # Errors
/// [`Error::Source`] for anything but 32 bytes of hex.
pub fn parse_hex32(s: &str) -> Result<Hash> {
    let b = hex::decode(s.trim_start_matches("0x"))
        .map_err(|e| Error::Source(format!("bad hash {s}: {e}")))?;
    b.try_into().map_err(|_| Error::Source(format!("bad hash {s}: not 32 bytes")))
}

/// Writes a model directory for `blob` and returns its manifest.
///
/// # Errors
/// [`Error::Io`] on write failures, [`Error::Engine`] if the blob does not parse.
pub fn write(out: &Path, blob: &[u8], config_names: &[&str]) -> Result<Manifest> {
    let file = ModelFile::parse(blob)?;
    let mut config = serde_json::Map::new();
    for name in config_names {
        config.insert((*name).into(), file.cfg(name)?.into());
    }
    let hashes = chunk_hashes(blob);
    let manifest = Manifest {
        format: FORMAT.into(),
        model_id: hex32(&merkle_root(&hashes)),
        chunk_size: CHUNK_SIZE,
        len: blob.len(),
        chunks: hashes.iter().map(hex32).collect(),
        config,
    };
    std::fs::create_dir_all(out).map_err(|e| Error::Io(out.display().to_string(), e))?;
    let io =
        |p: PathBuf, r: std::io::Result<()>| r.map_err(|e| Error::Io(p.display().to_string(), e));
    io(out.join(BLOB), std::fs::write(out.join(BLOB), blob))?;
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    io(out.join(MANIFEST), std::fs::write(out.join(MANIFEST), json + "\n"))?;
    Ok(manifest)
}

/// A model directory read from disk and checked against its manifest.
#[derive(Debug)]
pub struct ModelDir {
    /// The manifest.
    pub manifest: Manifest,
    /// The model id the manifest commits to.
    pub model_id: Hash,
    /// The blob.
    pub blob: Vec<u8>,
    /// Hashes of the blob's chunks as read.
    pub chunk_hashes: Vec<Hash>,
}

impl ModelDir {
    /// Reads a model directory and checks every chunk against the manifest.
    ///
    /// # Errors
    /// [`Error::Io`] when a file cannot be read, [`Error::Source`] for a malformed manifest,
    /// [`Error::TamperedChunk`] when a chunk does not hash to the manifest's value, and
    /// [`Error::RootMismatch`] when the manifest's chunk hashes do not give its model id.
    pub fn open(dir: &Path) -> Result<Self> {
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&mpath)
            .map_err(|e| Error::Io(mpath.display().to_string(), e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::Source(format!("{}: {e}", mpath.display())))?;
        if manifest.format != FORMAT || manifest.chunk_size != CHUNK_SIZE {
            return Err(Error::Source(format!(
                "unsupported model format {} / chunk size {}",
                manifest.format, manifest.chunk_size
            )));
        }
        let model_id = parse_hex32(&manifest.model_id)?;
        let committed =
            manifest.chunks.iter().map(|c| parse_hex32(c)).collect::<Result<Vec<_>>>()?;
        if merkle_root(&committed) != model_id {
            return Err(Error::RootMismatch {
                expected: manifest.model_id,
                actual: hex32(&merkle_root(&committed)),
            });
        }
        let bpath = dir.join(BLOB);
        let blob = std::fs::read(&bpath).map_err(|e| Error::Io(bpath.display().to_string(), e))?;
        let hashes = chunk_hashes(&blob);
        if hashes.len() != committed.len() {
            return Err(Error::TamperedChunk { index: hashes.len().min(committed.len()) });
        }
        if let Some(index) = hashes.iter().zip(&committed).position(|(a, b)| a != b) {
            return Err(Error::TamperedChunk { index });
        }
        Ok(Self { manifest, model_id, blob, chunk_hashes: hashes })
    }
}
