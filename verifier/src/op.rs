//! `verifier replay-op`: re-executes one op from its committed inputs.
//!
//! The description is JSON:
//! `{"op": "linear", "trace_op": 4, "model": "<dir>", "args": [...]}` where each argument is an
//! inline tensor `{"dims": [..], "data": [..]}`, a model tensor `{"tensor": "l0.q.w"}` (read from
//! the model directory, which is checked against its root), or a scalar `{"u64": n}`. Ops and
//! their arguments are listed in `assay_engine::ops`; the names are `gemm_i8`, `linear`,
//! `layer_norm`, `rms_norm`, `softmax`, `lut` and `residual`.

use std::path::PathBuf;

use alloy_primitives::B256;
use assay_engine::{
    model::{DType, ModelFile},
    ops::{self, OpBuilder},
};
use assay_protocol::model_dir::ModelDir;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    runtime::{Limits, Runtime},
};

/// One argument of an op.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Arg {
    /// A tensor given inline.
    Inline {
        /// Shape.
        dims: Vec<u32>,
        /// Values (their type follows from the op).
        data: Vec<i64>,
    },
    /// A tensor of the model.
    Tensor {
        /// Name in the model blob.
        tensor: String,
    },
    /// A scalar.
    Scalar {
        /// Value.
        u64: u64,
    },
}

/// An op description.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct OpDesc {
    /// Op name.
    pub op: String,
    /// Trace op tag the output leaf is hashed under (`assay_engine::trace::Op`).
    #[serde(default)]
    pub trace_op: u32,
    /// Model directory for `tensor` arguments.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// Arguments.
    pub args: Vec<Arg>,
}

/// What `verifier replay-op` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OpReport {
    /// Op name.
    pub op: String,
    /// Trace leaf of the output.
    pub leaf: B256,
    /// Output shape.
    pub dims: Vec<u32>,
    /// Output values.
    pub data: Vec<i64>,
}

fn signature(op: &str) -> Option<(u32, &'static [DType])> {
    use DType::{I8, I32, Mult};
    Some(match op {
        "gemm_i8" => (ops::GEMM_I8, &[I8, I8]),
        "linear" => (ops::LINEAR, &[I32, I8, Mult, I32, I32]),
        "layer_norm" => (ops::LAYER_NORM, &[I32, I32, I32]),
        "rms_norm" => (ops::RMS_NORM, &[I32, I32]),
        "softmax" => (ops::SOFTMAX, &[I32, I32]),
        "lut" => (ops::LUT, &[I32, I32]),
        "residual" => (ops::RESIDUAL, &[I32, I32]),
        _ => return None,
    })
}

fn inline(dtype: DType, data: &[i64]) -> Result<Vec<u8>> {
    let range = |lo: i64, hi: i64| data.iter().all(|v| (lo..=hi).contains(v));
    match dtype {
        DType::I8 if range(-128, 127) => Ok(data.iter().map(|&v| v as i8 as u8).collect()),
        DType::I32 if range(i64::from(i32::MIN), i64::from(i32::MAX)) => {
            Ok(data.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect())
        }
        DType::Mult => {
            Err(Error::BadOp("multipliers must come from the model ({\"tensor\": ..})".into()))
        }
        _ => Err(Error::BadOp(format!("inline values out of range for {dtype:?}"))),
    }
}

/// Encodes an op description for the engine module.
///
/// # Errors
/// [`Error::UnknownOp`], [`Error::BadOp`] for wrong arguments, [`Error::Model`] for a bad model
/// directory.
pub fn encode(desc: &OpDesc) -> Result<Vec<u8>> {
    let (kind, sig) = signature(&desc.op).ok_or_else(|| Error::UnknownOp(desc.op.clone()))?;
    let model = desc.model.as_ref().map(|d| ModelDir::open(d)).transpose()?;
    let file = model
        .as_ref()
        .map(|m| ModelFile::parse(&m.blob))
        .transpose()
        .map_err(|e| Error::BadOp(e.to_string()))?;
    let mut b = OpBuilder::new(kind, desc.trace_op);
    let mut tensors = desc.args.iter().filter(|a| !matches!(a, Arg::Scalar { .. }));
    for &dtype in sig {
        b = match tensors.next() {
            Some(Arg::Inline { dims, data }) => {
                if dims.iter().map(|&d| d as usize).product::<usize>() != data.len() {
                    return Err(Error::BadOp("inline tensor size does not match its dims".into()));
                }
                b.tensor(dims, &inline(dtype, data)?)
            }
            Some(Arg::Tensor { tensor }) => {
                let f = file
                    .as_ref()
                    .ok_or_else(|| Error::BadOp(format!("{tensor}: no model directory given")))?;
                let (dt, dims, bytes) = f.raw(tensor).map_err(|e| Error::BadOp(e.to_string()))?;
                if dt != dtype {
                    return Err(Error::BadOp(format!(
                        "{tensor} is {dt:?}, the op needs {dtype:?}"
                    )));
                }
                b.tensor(&dims, bytes)
            }
            _ => {
                return Err(Error::BadOp(format!(
                    "{} needs {} tensor arguments",
                    desc.op,
                    sig.len()
                )));
            }
        };
    }
    for a in &desc.args {
        if let Arg::Scalar { u64 } = a {
            b = b.u64(*u64);
        }
    }
    Ok(b.finish())
}

/// Decodes the module's op result (`leaf ‖ dtype ‖ rank ‖ dims ‖ data`).
///
/// # Errors
/// [`Error::Runtime`] for a malformed result.
pub fn decode(op: &str, r: &[u8]) -> Result<OpReport> {
    let bad = || Error::Runtime("malformed op result".into());
    let (leaf, rest) = r.split_at_checked(32).ok_or_else(bad)?;
    let (&[dtype, rank], rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    let (dims_b, data_b) = rest.split_at_checked(4 * rank as usize).ok_or_else(bad)?;
    let dims: Vec<u32> =
        dims_b.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().expect("4"))).collect();
    let data: Vec<i64> = match dtype {
        4 => data_b
            .chunks_exact(2)
            .map(|c| i64::from(u16::from_le_bytes(c.try_into().expect("2"))))
            .collect(),
        5 => data_b
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        _ => return Err(bad()),
    };
    Ok(OpReport { op: op.into(), leaf: B256::from_slice(leaf), dims, data })
}

/// Replays one op in the engine module.
///
/// # Errors
/// As [`encode`], and the runtime's errors.
pub fn replay_op(rt: &Runtime, desc: &OpDesc, limits: Limits) -> Result<OpReport> {
    let bytes = encode(desc)?;
    let mut s = rt.session(limits, None)?;
    decode(&desc.op, &s.run_op(&bytes)?)
}
