//! Minimal GGUF (v2/v3) reader: metadata, and tensors dequantised to f32 from F32, F16, Q8_0 and
//! Q4_1.

use std::{collections::BTreeMap, path::Path};

use crate::{Error, Result};

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any integer type.
    Int(i64),
    /// f32 or f64.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// String.
    Str(String),
    /// Array.
    Array(Vec<Self>),
}

#[derive(Debug, Clone)]
struct TensorInfo {
    dims: Vec<usize>,
    kind: u32,
    offset: usize,
}

/// A GGUF file held in memory.
#[derive(Debug)]
pub struct Gguf {
    data: Vec<u8>,
    start: usize,
    /// Metadata.
    pub meta: BTreeMap<String, Value>,
    tensors: BTreeMap<String, TensorInfo>,
}

struct R<'a> {
    b: &'a [u8],
    pos: usize,
}

fn bad(m: &str) -> Error {
    Error::Source(format!("gguf: {m}"))
}

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| bad("truncated"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u64()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn value(&mut self, t: u32) -> Result<Value> {
        Ok(match t {
            0 => Value::Int(i64::from(self.take(1)?[0])),
            1 => Value::Int(i64::from(self.take(1)?[0] as i8)),
            2 => Value::Int(i64::from(u16::from_le_bytes(self.take(2)?.try_into().expect("2")))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.take(2)?.try_into().expect("2")))),
            4 => Value::Int(i64::from(self.u32()?)),
            5 => Value::Int(i64::from(self.u32()? as i32)),
            6 => Value::Float(f64::from(f32::from_bits(self.u32()?))),
            7 => Value::Bool(self.take(1)?[0] != 0),
            8 => Value::Str(self.string()?),
            9 => {
                let et = self.u32()?;
                let n = self.u64()? as usize;
                Value::Array((0..n).map(|_| self.value(et)).collect::<Result<_>>()?)
            }
            10 => Value::Int(self.u64()? as i64),
            11 => Value::Int(self.u64()? as i64),
            12 => Value::Float(f64::from_bits(self.u64()?)),
            t => return Err(bad(&format!("unknown metadata type {t}"))),
        })
    }
}

/// IEEE half to f32.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | ((m << shift) & 0x3ff) << 13
        }
        (31, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

impl Gguf {
    /// Reads a GGUF file.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Source`].
    pub fn read(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
        Self::parse(data)
    }

    /// Parses GGUF bytes.
    ///
    /// # Errors
    /// [`Error::Source`] for a malformed file.
    pub fn parse(data: Vec<u8>) -> Result<Self> {
        let mut r = R { b: &data, pos: 0 };
        if r.take(4)? != b"GGUF" {
            return Err(bad("bad magic"));
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(bad(&format!("unsupported version {version}")));
        }
        let (n_t, n_kv) = (r.u64()?, r.u64()?);
        let mut meta = BTreeMap::new();
        for _ in 0..n_kv {
            let k = r.string()?;
            let t = r.u32()?;
            meta.insert(k, r.value(t)?);
        }
        let mut tensors = BTreeMap::new();
        for _ in 0..n_t {
            let name = r.string()?;
            let nd = r.u32()?;
            let dims = (0..nd).map(|_| r.u64().map(|v| v as usize)).collect::<Result<Vec<_>>>()?;
            let kind = r.u32()?;
            let offset = r.u64()? as usize;
            tensors.insert(name, TensorInfo { dims, kind, offset });
        }
        let align = match meta.get("general.alignment") {
            Some(Value::Int(a)) if *a > 0 => *a as usize,
            _ => 32,
        };
        let start = r.pos.next_multiple_of(align);
        Ok(Self { data, start, meta, tensors })
    }

    /// A metadata integer.
    ///
    /// # Errors
    /// [`Error::Source`] when missing or of another type.
    pub fn int(&self, key: &str) -> Result<i64> {
        match self.meta.get(key) {
            Some(Value::Int(v)) => Ok(*v),
            _ => Err(bad(&format!("missing integer {key}"))),
        }
    }

    /// A metadata float.
    ///
    /// # Errors
    /// [`Error::Source`] when missing or of another type.
    pub fn float(&self, key: &str) -> Result<f64> {
        match self.meta.get(key) {
            Some(Value::Float(v)) => Ok(*v),
            _ => Err(bad(&format!("missing float {key}"))),
        }
    }

    /// A metadata string array.
    ///
    /// # Errors
    /// [`Error::Source`] when missing or of another type.
    pub fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.meta.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    if let Value::Str(s) = v {
                        Ok(s.clone())
                    } else {
                        Err(bad(&format!("{key} is not strings")))
                    }
                })
                .collect(),
            _ => Err(bad(&format!("missing array {key}"))),
        }
    }

    /// Whether a tensor exists.
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// A tensor dequantised to f32, with its GGUF dims (innermost first).
    ///
    /// # Errors
    /// [`Error::Source`] when missing, truncated or of an unsupported type.
    pub fn f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let t = self.tensors.get(name).ok_or_else(|| bad(&format!("missing tensor {name}")))?;
        let n: usize = t.dims.iter().product();
        let (block, bytes) = match t.kind {
            0 => (1, 4),
            1 => (1, 2),
            2 => (32, 18),
            3 => (32, 20),
            8 => (32, 34),
            k => return Err(bad(&format!("{name}: unsupported tensor type {k}"))),
        };
        let len = n / block * bytes;
        let at = self.start + t.offset;
        let b = self.data.get(at..at + len).ok_or_else(|| bad(&format!("{name} truncated")))?;
        let h = |c: &[u8], i: usize| f16_to_f32(u16::from_le_bytes([c[i], c[i + 1]]));
        let mut out = Vec::with_capacity(n);
        match t.kind {
            0 => {
                out.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))))
            }
            1 => out.extend(b.chunks_exact(2).map(|c| h(c, 0))),
            2 => {
                for c in b.chunks_exact(18) {
                    let d = h(c, 0);
                    out.extend(c[2..].iter().map(|&q| (f32::from(q & 0xf) - 8.0) * d));
                    let lo = out.len() - 16;
                    out.extend((0..16).map(|j| (f32::from(c[2 + j] >> 4) - 8.0) * d));
                    debug_assert_eq!(out.len() - lo, 32);
                }
            }
            3 => {
                for c in b.chunks_exact(20) {
                    let (d, m) = (h(c, 0), h(c, 2));
                    out.extend(c[4..].iter().map(|&q| f32::from(q & 0xf) * d + m));
                    out.extend(c[4..].iter().map(|&q| f32::from(q >> 4) * d + m));
                }
            }
            _ => {
                for c in b.chunks_exact(34) {
                    let d = h(c, 0);
                    out.extend(c[2..].iter().map(|&q| f32::from(q as i8) * d));
                }
            }
        }
        Ok((out, t.dims.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
    }
}
