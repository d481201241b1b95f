//! The engine's model format and its commitment.
//!
//! A model is one little-endian blob:
//! `"ASSAYMD1" ‖ header_len u32 ‖ header ‖ tensor data`, where the header is
//! `n_cfg u32 ‖ (name_len u8 ‖ name ‖ value u64)* ‖ n_tensors u32 ‖ (name_len u8 ‖ name ‖ dtype u8 ‖
//! rank u8 ‖ dims u32* ‖ offset u64)*`. Tensor data is contiguous at its offset (from the blob
//! start).
//!
//! The model id commits to the config, the tokenizer and every weight row by row, so a dispute
//! can prove one weight row against it ([`ModelFile::id`], specified in `crates/engine/TRACE.md`).
//! For transport the blob is cut into [`CHUNK_SIZE`] chunks whose hashes ([`chunk_hashes`]) a
//! model directory's manifest lists.

use alloc::{string::String, vec::Vec};

use crate::{
    Error, Result,
    fixed::Multiplier,
    hash::{Hash, cells_root, keccak, merkle_proof, merkle_root},
};

/// Magic bytes at the start of a model blob.
pub const MAGIC: &[u8; 8] = b"ASSAYMD1";
/// Size of a weight chunk (the last chunk may be shorter).
pub const CHUNK_SIZE: usize = 1 << 16;

/// Tensor element types stored in a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum DType {
    /// Signed bytes (weights).
    I8 = 1,
    /// Raw bytes (tokenizer data).
    U8 = 2,
    /// 32-bit signed integers (biases, norms, lookup tables).
    I32 = 5,
    /// Fixed-point multipliers, 5 bytes each.
    Mult = 10,
}

impl DType {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Self::I8,
            2 => Self::U8,
            5 => Self::I32,
            10 => Self::Mult,
            other => return Err(Error::Format(alloc::format!("unknown dtype {other}"))),
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I32 => 4,
            Self::Mult => Multiplier::ENCODED_LEN,
        }
    }
}

/// Chunk hashes of a blob.
pub fn chunk_hashes(blob: &[u8]) -> Vec<Hash> {
    blob.chunks(CHUNK_SIZE).map(keccak).collect()
}

/// The model id of a blob ([`ModelFile::id`]).
///
/// # Errors
/// [`Error::Format`] when the blob does not parse.
pub fn model_id(blob: &[u8]) -> Result<Hash> {
    Ok(ModelFile::parse(blob)?.id())
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    dtype: DType,
    dims: Vec<u32>,
    offset: usize,
}

/// Cells of a model tensor with the paths that prove them against the model id
/// ([`ModelFile::open_cells`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorCells {
    /// The tensor leaf's preimage (`0x21 ‖ name ‖ dtype ‖ dims ‖ cells_root`).
    pub preimage: Vec<u8>,
    /// The leaf's index in the model tree (0 is the config leaf).
    pub index: usize,
    /// Leaves in the model tree.
    pub width: usize,
    /// The leaf's siblings up the model tree (nodes carried up without one have none).
    pub path: Vec<Hash>,
    /// Each cell: its index among the tensor's cells, its bytes, its siblings up the tensor's
    /// cells tree.
    pub cells: Vec<(usize, Vec<u8>, Vec<Hash>)>,
}

/// A parsed view of a model blob.
#[derive(Debug)]
pub struct ModelFile<'a> {
    blob: &'a [u8],
    config: Vec<(String, u64)>,
    tensors: Vec<Entry>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| Error::Format("truncated header".into()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn name(&mut self) -> Result<String> {
        let n = self.u8()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Error::Format("bad name".into()))
    }
}

impl<'a> ModelFile<'a> {
    /// Parses the header of a blob.
    ///
    /// # Errors
    /// [`Error::Format`] when the magic, header or a tensor extent is invalid.
    pub fn parse(blob: &'a [u8]) -> Result<Self> {
        if blob.len() < 12 || &blob[..8] != MAGIC {
            return Err(Error::Format("not an assay model (bad magic)".into()));
        }
        let mut r = Reader { b: blob, pos: 12 };
        let n_cfg = r.u32()?;
        let mut config = Vec::new();
        for _ in 0..n_cfg {
            let name = r.name()?;
            config.push((name, r.u64()?));
        }
        let n_t = r.u32()?;
        let mut tensors = Vec::new();
        for _ in 0..n_t {
            let name = r.name()?;
            let dtype = DType::from_u8(r.u8()?)?;
            let rank = r.u8()?;
            let dims = (0..rank).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
            let offset = r.u64()? as usize;
            let len = dims.iter().map(|&d| d as usize).product::<usize>() * dtype.size();
            if offset.checked_add(len).is_none_or(|e| e > blob.len()) {
                return Err(Error::Format(alloc::format!("tensor {name} out of bounds")));
            }
            tensors.push(Entry { name, dtype, dims, offset });
        }
        Ok(Self { blob, config, tensors })
    }

    /// The model id: the [`merkle_root`] of the config leaf followed by one leaf per tensor in
    /// header order. The config leaf is `keccak(0x20 ‖ n u32 ‖ (name_len u8 ‖ name ‖ value
    /// u64)*)`; a tensor leaf is `keccak(0x21 ‖ name_len u8 ‖ name ‖ dtype u8 ‖ rank u8 ‖ dims
    /// u32* ‖ cells_root)`, its data cut into cells by rows (see [`crate::hash`]).
    pub fn id(&self) -> Hash {
        merkle_root(&self.leaves())
    }

    /// The leaves of the model tree: the config leaf, then one per tensor in header order.
    fn leaves(&self) -> Vec<Hash> {
        let mut leaves = Vec::with_capacity(1 + self.tensors.len());
        leaves.push(keccak(&self.config_preimage()));
        leaves.extend(self.tensors.iter().map(|e| keccak(&self.tensor_preimage(e))));
        leaves
    }

    fn tensor_data(&self, e: &Entry) -> &'a [u8] {
        let len = e.dims.iter().map(|&d| d as usize).product::<usize>() * e.dtype.size();
        &self.blob[e.offset..e.offset + len]
    }

    fn tensor_row(e: &Entry) -> usize {
        e.dims.last().map_or(1, |&d| d as usize)
    }

    fn tensor_preimage(&self, e: &Entry) -> Vec<u8> {
        let mut pre = alloc::vec![0x21, e.name.len() as u8];
        pre.extend_from_slice(e.name.as_bytes());
        pre.extend_from_slice(&[e.dtype as u8, e.dims.len() as u8]);
        e.dims.iter().for_each(|d| pre.extend_from_slice(&d.to_le_bytes()));
        pre.extend_from_slice(&cells_root(
            self.tensor_data(e),
            Self::tensor_row(e),
            e.dtype.size(),
        ));
        pre
    }

    /// Cells `cells` of tensor `name` proven against [`ModelFile::id`]: what a one-step proof
    /// opens for a weight row, a scale or a table entry. `None` without such a tensor or cell.
    pub fn open_cells(&self, name: &str, cells: &[usize]) -> Option<TensorCells> {
        let index = self.tensors.iter().position(|e| e.name == name)?;
        let e = &self.tensors[index];
        let (row, size) = (Self::tensor_row(e), e.dtype.size());
        let all: Vec<&[u8]> = crate::hash::cells(self.tensor_data(e), row, size).collect();
        let hashes: Vec<Hash> = all.iter().map(|c| crate::hash::cell_hash(c)).collect();
        let siblings = |proof: Vec<Option<Hash>>| proof.into_iter().flatten().collect();
        let leaves = self.leaves();
        let opened = cells
            .iter()
            .map(|&c| Some((c, all.get(c)?.to_vec(), siblings(merkle_proof(&hashes, c)))))
            .collect::<Option<Vec<_>>>()?;
        Some(TensorCells {
            preimage: self.tensor_preimage(e),
            index: index + 1,
            width: leaves.len(),
            path: siblings(merkle_proof(&leaves, index + 1)),
            cells: opened,
        })
    }

    /// The config leaf's preimage with its path up the model tree (it is leaf 0):
    /// `(preimage, width, path)`, what a one-step proof opens for a config value.
    pub fn open_config(&self) -> (Vec<u8>, usize, Vec<Hash>) {
        let leaves = self.leaves();
        let path = merkle_proof(&leaves, 0).into_iter().flatten().collect();
        (self.config_preimage(), leaves.len(), path)
    }

    fn config_preimage(&self) -> Vec<u8> {
        let mut pre = alloc::vec![0x20];
        pre.extend_from_slice(&(self.config.len() as u32).to_le_bytes());
        for (name, v) in &self.config {
            pre.push(name.len() as u8);
            pre.extend_from_slice(name.as_bytes());
            pre.extend_from_slice(&v.to_le_bytes());
        }
        pre
    }

    /// The dimensions of tensor `name`.
    pub fn dims(&self, name: &str) -> Option<&[u32]> {
        self.tensors.iter().find(|e| e.name == name).map(|e| e.dims.as_slice())
    }

    /// A config value.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing.
    pub fn cfg(&self, name: &str) -> Result<u64> {
        self.config
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| Error::Format(alloc::format!("missing config {name}")))
    }

    /// A config value as `usize`.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing.
    pub fn cfg_usize(&self, name: &str) -> Result<usize> {
        Ok(self.cfg(name)? as usize)
    }

    fn entry(&self, name: &str, dtype: DType, dims: &[usize]) -> Result<&'a [u8]> {
        let e = self
            .tensors
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::Format(alloc::format!("missing tensor {name}")))?;
        let shape_ok =
            e.dims.len() == dims.len() && e.dims.iter().zip(dims).all(|(&a, &b)| a as usize == b);
        if e.dtype != dtype || !shape_ok {
            return Err(Error::Format(alloc::format!("tensor {name} has the wrong type or shape")));
        }
        let len = dims.iter().product::<usize>() * dtype.size();
        Ok(&self.blob[e.offset..e.offset + len])
    }

    /// Any tensor's type, dims and raw little-endian bytes.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing.
    pub fn raw(&self, name: &str) -> Result<(DType, Vec<u32>, &'a [u8])> {
        let e = self
            .tensors
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::Format(alloc::format!("missing tensor {name}")))?;
        let len = e.dims.iter().map(|&d| d as usize).product::<usize>() * e.dtype.size();
        Ok((e.dtype, e.dims.clone(), &self.blob[e.offset..e.offset + len]))
    }

    /// An int8 tensor of the given shape.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing or has another type or shape.
    pub fn i8s(&self, name: &str, dims: &[usize]) -> Result<Vec<i8>> {
        Ok(self.entry(name, DType::I8, dims)?.iter().map(|&b| b as i8).collect())
    }

    /// Raw bytes.
    ///
    /// # Errors
    /// [`Error::Format`] when missing or of another type.
    pub fn bytes(&self, name: &str) -> Result<&'a [u8]> {
        let e = self.tensors.iter().find(|e| e.name == name);
        let len = e.map(|e| e.dims.iter().map(|&d| d as usize).product::<usize>()).unwrap_or(0);
        self.entry(name, DType::U8, &[len])
    }

    /// An i32 tensor of the given shape.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing or has another type or shape.
    pub fn i32s(&self, name: &str, dims: &[usize]) -> Result<Vec<i32>> {
        let b = self.entry(name, DType::I32, dims)?;
        Ok(b.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes"))).collect())
    }

    /// A multiplier vector of length `n`.
    ///
    /// # Errors
    /// [`Error::Format`] when it is missing or has another type or shape.
    pub fn mults(&self, name: &str, n: usize) -> Result<Vec<Multiplier>> {
        let b = self.entry(name, DType::Mult, &[n])?;
        Ok(b.chunks_exact(5)
            .map(|c| Multiplier::from_le_bytes(c.try_into().expect("5 bytes")))
            .collect())
    }
}

/// Builds model blobs (used by the converter and by tests).
#[derive(Debug, Default)]
pub struct ModelWriter {
    config: Vec<(String, u64)>,
    tensors: Vec<(String, DType, Vec<u32>, Vec<u8>)>,
}

impl ModelWriter {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a config value.
    pub fn cfg(&mut self, name: &str, v: u64) -> &mut Self {
        self.config.push((name.into(), v));
        self
    }

    /// Adds int8 data.
    pub fn i8s(&mut self, name: &str, dims: &[u32], data: &[i8]) -> &mut Self {
        self.tensors.push((
            name.into(),
            DType::I8,
            dims.to_vec(),
            data.iter().map(|&v| v as u8).collect(),
        ));
        self
    }

    /// Adds raw bytes.
    pub fn bytes(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.tensors.push((name.into(), DType::U8, alloc::vec![data.len() as u32], data.to_vec()));
        self
    }

    /// Adds i32 data.
    pub fn i32s(&mut self, name: &str, dims: &[u32], data: &[i32]) -> &mut Self {
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.push((name.into(), DType::I32, dims.to_vec(), bytes));
        self
    }

    /// Adds multipliers.
    pub fn mults(&mut self, name: &str, data: &[Multiplier]) -> &mut Self {
        let bytes = data.iter().flat_map(|m| m.to_le_bytes()).collect();
        self.tensors.push((name.into(), DType::Mult, alloc::vec![data.len() as u32], bytes));
        self
    }

    /// Serialises the blob.
    pub fn finish(&self) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(&(self.config.len() as u32).to_le_bytes());
        for (n, v) in &self.config {
            h.push(n.len() as u8);
            h.extend_from_slice(n.as_bytes());
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&(self.tensors.len() as u32).to_le_bytes());
        let mut entry_len = 0;
        for (n, _, dims, _) in &self.tensors {
            entry_len += 1 + n.len() + 2 + 4 * dims.len() + 8;
        }
        let mut offset = (12 + h.len() + entry_len).next_multiple_of(8);
        let mut data = Vec::new();
        for (n, dt, dims, bytes) in &self.tensors {
            h.push(n.len() as u8);
            h.extend_from_slice(n.as_bytes());
            h.push(*dt as u8);
            h.push(dims.len() as u8);
            for d in dims {
                h.extend_from_slice(&d.to_le_bytes());
            }
            h.extend_from_slice(&(offset as u64).to_le_bytes());
            let padded = bytes.len().next_multiple_of(8);
            data.extend_from_slice(bytes);
            data.resize(data.len() + padded - bytes.len(), 0);
            offset += padded;
        }
        let mut blob = Vec::with_capacity(offset);
        blob.extend_from_slice(MAGIC);
        blob.extend_from_slice(&(h.len() as u32).to_le_bytes());
        blob.extend_from_slice(&h);
        blob.resize(blob.len().next_multiple_of(8), 0);
        blob.extend_from_slice(&data);
        blob
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_id_changes_with_any_byte() {
        let mut w = ModelWriter::new();
        w.cfg("hidden", 4).i8s("w", &[2, 2], &[1, -2, 3, -4]).i32s("b", &[2], &[7, -8]);
        w.mults("m", &[Multiplier { m0: 1 << 30, shift: -3 }]).bytes("vocab", b"a\nb");
        let blob = w.finish();
        let m = ModelFile::parse(&blob).expect("parse");
        assert_eq!(m.cfg("hidden").expect("cfg"), 4);
        assert_eq!(m.i8s("w", &[2, 2]).expect("w"), [1, -2, 3, -4]);
        assert_eq!(m.i32s("b", &[2]).expect("b"), [7, -8]);
        assert_eq!(m.mults("m", 1).expect("m")[0].shift, -3);
        assert_eq!(m.bytes("vocab").expect("v"), b"a\nb");
        assert!(m.i8s("w", &[4]).is_err());
        assert!(m.i32s("nope", &[1]).is_err());
        let id = model_id(&blob).expect("id");
        let mut bad = blob.clone();
        let at = m.tensors.iter().find(|e| e.name == "vocab").expect("vocab").offset + 2;
        bad[at] ^= 1;
        assert_ne!(model_id(&bad).expect("id"), id);
        let mut w2 = ModelWriter::new();
        w2.cfg("hidden", 5).i8s("w", &[2, 2], &[1, -2, 3, -4]).i32s("b", &[2], &[7, -8]);
        w2.mults("m", &[Multiplier { m0: 1 << 30, shift: -3 }]).bytes("vocab", b"a\nb");
        assert_ne!(model_id(&w2.finish()).expect("id"), id, "the config is committed");
        // The id is the tree of the config leaf and one leaf per tensor over its rows.
        let w_leaf = {
            let mut pre = alloc::vec![0x21, 1, b'w', 1, 2, 2, 0, 0, 0, 2, 0, 0, 0];
            let rows = [crate::hash::cell_hash(&[1, 0xfe]), crate::hash::cell_hash(&[3, 0xfc])];
            pre.extend_from_slice(&merkle_root(&rows));
            keccak(&pre)
        };
        let mut leaves: Vec<Hash> = Vec::new();
        leaves.push(keccak(&[&[0x20, 1, 0, 0, 0, 6][..], b"hidden", &4u64.to_le_bytes()].concat()));
        leaves.push(w_leaf);
        let b_leaf = {
            let mut pre = alloc::vec![0x21, 1, b'b', 5, 1, 2, 0, 0, 0];
            pre.extend_from_slice(&crate::hash::cell_hash(&[7, 0, 0, 0, 0xf8, 0xff, 0xff, 0xff]));
            keccak(&pre)
        };
        leaves.push(b_leaf);
        assert_eq!(merkle_root(&leaves[..3]), merkle_root(&[leaves[0], w_leaf, b_leaf]));
        let tensor_leaves: Vec<Hash> = m
            .tensors
            .iter()
            .map(|e| {
                let mut pre = alloc::vec![0x21, e.name.len() as u8];
                pre.extend_from_slice(e.name.as_bytes());
                pre.extend_from_slice(&[e.dtype as u8, e.dims.len() as u8]);
                e.dims.iter().for_each(|d| pre.extend_from_slice(&d.to_le_bytes()));
                let len = e.dims.iter().map(|&d| d as usize).product::<usize>() * e.dtype.size();
                let row = *e.dims.last().expect("dims") as usize;
                pre.extend_from_slice(&cells_root(
                    &blob[e.offset..e.offset + len],
                    row,
                    e.dtype.size(),
                ));
                keccak(&pre)
            })
            .collect();
        assert_eq!(&tensor_leaves[..2], &[w_leaf, b_leaf]);
        assert_eq!(id, merkle_root(&[&leaves[..1], &tensor_leaves[..]].concat()));

        // A cell opened against the id: its leaf up the model tree, the cell under its root.
        let opened = m.open_cells("b", &[0]).expect("tensor b");
        assert_eq!((opened.index, opened.width), (2, 1 + m.tensors.len()));
        assert_eq!(keccak(&opened.preimage), b_leaf);
        let all = [&leaves[..1], &tensor_leaves[..]].concat();
        assert_eq!(crate::hash::merkle_verify(b_leaf, 2, &merkle_proof(&all, 2)), id);
        let carried = merkle_proof(&all, 2);
        assert_eq!(opened.path, carried.iter().flatten().copied().collect::<Vec<_>>());
        let cells_root: Hash = opened.preimage[opened.preimage.len() - 32..].try_into().unwrap();
        let (cell, bytes, path) = &opened.cells[0];
        assert!(*cell == 0 && path.is_empty(), "one cell");
        assert_eq!(crate::hash::cell_hash(bytes), cells_root);
        assert_eq!(m.dims("w"), Some(&[2u32, 2][..]));
        let (config, width, config_path) = m.open_config();
        assert_eq!((keccak(&config), width), (leaves[0], 1 + m.tensors.len()));
        let carried = merkle_proof(&all, 0);
        assert_eq!(config_path, carried.iter().flatten().copied().collect::<Vec<_>>());
        assert!(m.open_cells("b", &[99]).is_none() && m.open_cells("nope", &[0]).is_none());
    }
}
