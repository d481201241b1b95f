//! Minimal safetensors reader: the JSON header and F32 tensors.

use std::{collections::BTreeMap, path::Path};

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Deserialize)]
struct Info {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

/// A safetensors file held in memory.
#[derive(Debug)]
pub struct SafeTensors {
    data: Vec<u8>,
    start: usize,
    infos: BTreeMap<String, Info>,
}

impl SafeTensors {
    /// Reads and parses a file.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Source`] when it is malformed.
    pub fn read(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        Self::parse(data)
    }

    /// Parses the bytes of a file.
    ///
    /// # Errors
    /// [`Error::Source`] when they are malformed.
    pub fn parse(data: Vec<u8>) -> Result<Self> {
        let bad = |m: &str| Error::Source(format!("safetensors: {m}"));
        let n = u64::from_le_bytes(
            data.get(..8).ok_or_else(|| bad("short file"))?.try_into().expect("8"),
        );
        let start = 8usize
            .checked_add(n as usize)
            .filter(|&s| s <= data.len())
            .ok_or_else(|| bad("header length"))?;
        let mut raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&data[8..start]).map_err(|e| bad(&e.to_string()))?;
        raw.remove("__metadata__");
        let mut infos = BTreeMap::new();
        for (k, v) in raw {
            let info: Info = serde_json::from_value(v).map_err(|e| bad(&e.to_string()))?;
            if start + info.data_offsets[1] > data.len()
                || info.data_offsets[0] > info.data_offsets[1]
            {
                return Err(bad(&format!("tensor {k} out of bounds")));
            }
            infos.insert(k, info);
        }
        Ok(Self { data, start, infos })
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.infos.contains_key(name)
    }

    /// An F32 tensor and its shape.
    ///
    /// # Errors
    /// [`Error::Source`] when it is missing or not F32.
    pub fn f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let info =
            self.infos.get(name).ok_or_else(|| Error::Source(format!("missing tensor {name}")))?;
        if info.dtype != "F32" {
            return Err(Error::Source(format!("tensor {name} is {}, expected F32", info.dtype)));
        }
        let bytes =
            &self.data[self.start + info.data_offsets[0]..self.start + info.data_offsets[1]];
        let v: Vec<f32> =
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect();
        if v.len() != info.shape.iter().product::<usize>() {
            return Err(Error::Source(format!("tensor {name} size does not match its shape")));
        }
        Ok((v, info.shape.clone()))
    }
}
