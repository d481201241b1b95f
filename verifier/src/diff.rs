//! `verifier diff`: where the traces of two job records first part, replayed in the engine
//! module: the first leaf that differs, and when both are the same op and shape, the first
//! element of its output that differs, with both values (`crates/engine/TRACE.md` for the
//! leaves). Two records of the same job under the same engine are identical; records that differ
//! (another input, another model, a claim built on a corrupted trace replayed as its own job)
//! show where their computations diverge.

use std::path::Path;

use assay_engine::trace::LeafInfo;
use assay_protocol::job::JobFile;
use serde::Serialize;

use crate::{
    Result,
    replay::{self, Leaf},
    runtime::{Limits, Runtime},
};

/// What `verifier diff` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DiffReport {
    /// Whether the two traces are the same, leaf for leaf.
    pub identical: bool,
    /// Leaves in each trace.
    pub leaves: (usize, usize),
    /// Where they first differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<Divergence>,
}

/// The first difference between two traces.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Divergence {
    /// Only one trace has a leaf here (`a` or `b`): the other ended.
    Missing {
        /// The leaf's position.
        leaf: usize,
        /// `a` or `b`: the trace that has it.
        only_in: &'static str,
        /// Its header.
        header: Leaf,
    },
    /// The leaves are different ops, places or shapes.
    Header {
        /// Their position.
        leaf: usize,
        /// The first record's.
        a: Leaf,
        /// The second record's.
        b: Leaf,
    },
    /// The same op and shape with another output: its first differing element.
    Element {
        /// The leaf (both records' headers are this one, up to the output).
        header: Leaf,
        /// The element's index in the output (row-major).
        element: usize,
        /// Its row and column (`dims` without the last dimension flattened).
        row: usize,
        /// Its column (within the last dimension).
        col: usize,
        /// The first record's value.
        a: i64,
        /// The second record's value.
        b: i64,
    },
}

/// Replays `a` against model directory `dir_a` and `b` against `dir_b`, and finds where their
/// traces first differ.
///
/// # Errors
/// As [`replay::replay`].
pub fn diff(
    rt: &Runtime,
    (a, dir_a): (&JobFile, &Path),
    (b, dir_b): (&JobFile, &Path),
    limits: Limits,
) -> Result<DiffReport> {
    let leaves_a = replay::trace_leaves(rt, a, dir_a, limits)?;
    let leaves_b = replay::trace_leaves(rt, b, dir_b, limits)?;
    let leaves = (leaves_a.len(), leaves_b.len());
    let first = (0..leaves.0.max(leaves.1)).find(|&i| leaves_a.get(i) != leaves_b.get(i));
    let Some(i) = first else {
        return Ok(DiffReport { identical: true, leaves, first: None });
    };
    let header =
        |list: &[(LeafInfo, [u8; 32])]| list.get(i).map(|(info, h)| Leaf::new(i, info, *h));
    let first = match (header(&leaves_a), header(&leaves_b)) {
        (Some(header), None) => Divergence::Missing { leaf: i, only_in: "a", header },
        (None, Some(header)) => Divergence::Missing { leaf: i, only_in: "b", header },
        (Some(ha), Some(hb)) if leaves_a[i].0 != leaves_b[i].0 => {
            Divergence::Header { leaf: i, a: ha, b: hb }
        }
        (Some(header), Some(_)) => {
            let index =
                u32::try_from(i).map_err(|_| crate::Error::BadOp("trace too long".into()))?;
            let data_a = replay::leaf_data(rt, a, dir_a, limits, &[index])?.remove(0);
            let data_b = replay::leaf_data(rt, b, dir_b, limits, &[index])?.remove(0);
            let info = &leaves_a[i].0;
            let size = info.element_size();
            let differs = data_a.chunks(size).zip(data_b.chunks(size)).position(|(x, y)| x != y);
            let element = differs.unwrap_or(0);
            let value =
                |data: &[u8]| decode(info.dtype, &data[element * size..(element + 1) * size]);
            let row_len = info.row_len().max(1);
            Divergence::Element {
                header,
                element,
                row: element / row_len,
                col: element % row_len,
                a: value(&data_a),
                b: value(&data_b),
            }
        }
        (None, None) => unreachable!("index below one trace's length"),
    };
    Ok(DiffReport { identical: false, leaves, first: Some(first) })
}

/// One element's value from its little-endian bytes, by the leaf's element type.
fn decode(dtype: u8, bytes: &[u8]) -> i64 {
    let word = |n: usize| {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&bytes[..n]);
        b
    };
    match dtype {
        1 => i64::from(bytes[0] as i8),
        2 => i64::from(bytes[0]),
        3 => i64::from(i16::from_le_bytes([bytes[0], bytes[1]])),
        4 => i64::from(u16::from_le_bytes([bytes[0], bytes[1]])),
        5 => i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        6 => i64::from(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])),
        _ => i64::from_le_bytes(word(bytes.len().min(8))),
    }
}
