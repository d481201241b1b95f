//! Whole-job replay: check the model directory against the job's model id, serve its chunks to
//! the engine module, run the job and report the output hash and trace root.

use std::{path::Path, sync::Arc};

use alloy_primitives::B256;
use assay_engine::{
    job::JobOutput,
    trace::{LeafInfo, Op},
};
use assay_engine_module::engine_hash;
use assay_protocol::{job::JobFile, model_dir::ModelDir};
use serde::Serialize;

use crate::{
    Error, Result,
    runtime::{Limits, Runtime, ServedModel, Session},
};

/// What `verifier replay` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    /// Hash of the engine module that replayed the job.
    pub engine: B256,
    /// Model id.
    pub model_id: B256,
    /// Output hash of the replay.
    pub output_hash: B256,
    /// Trace root of the replay.
    pub trace_root: B256,
    /// Whether both equal the job file's claims.
    pub matches: bool,
    /// Fuel the replay consumed.
    pub fuel_used: u64,
    /// The trace's leaves, when asked for (`--leaves`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaves: Option<Vec<Leaf>>,
}

/// One trace leaf, as `verifier replay --leaves` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Leaf {
    /// Position in the trace.
    pub index: usize,
    /// Forward step.
    pub step: u32,
    /// Layer within the step (0 the embedding, `L + 1` the head).
    pub layer: u32,
    /// Op kind (`trace::Op` name, or its code when unknown).
    pub op: String,
    /// Element type (`i8`, `u16`, `i32`, ...).
    pub dtype: &'static str,
    /// Shape.
    pub dims: Vec<u32>,
    /// The leaf hash.
    pub leaf: B256,
}

impl Leaf {
    pub(crate) fn new(index: usize, info: &LeafInfo, leaf: [u8; 32]) -> Self {
        let op = Op::from_code(info.op).map_or_else(|| info.op.to_string(), |op| format!("{op:?}"));
        let dtype = match info.dtype {
            1 => "i8",
            2 => "u8",
            3 => "i16",
            4 => "u16",
            5 => "i32",
            6 => "u32",
            7 => "i64",
            _ => "unknown",
        };
        let (step, layer, dims) = (info.step, info.layer, info.dims.clone());
        Self { index, step, layer, op, dtype, dims, leaf: B256::from(leaf) }
    }
}

/// Opens a model directory and checks it holds the model the job names.
///
/// # Errors
/// [`Error::Model`] for unreadable or tampered directories, [`Error::WrongModel`] for another
/// model.
pub fn open_model(dir: &Path, model_id: B256) -> Result<ModelDir> {
    let m = ModelDir::open(dir)?;
    if m.model_id != model_id {
        return Err(Error::WrongModel { expected: model_id, actual: m.model_id });
    }
    Ok(m)
}

/// Runs a job in a fresh session of the engine module, keeping the outputs of leaves `keep`.
fn run(
    rt: &Runtime,
    record: &JobFile,
    dir: &Path,
    limits: Limits,
    keep: &[u32],
) -> Result<(JobOutput, Session)> {
    let model = open_model(dir, record.model_id)?;
    let served = Arc::new(ServedModel { blob: model.blob, chunk_hashes: model.chunk_hashes });
    let mut s = rt.session(limits, Some(served))?;
    s.load_model()?;
    for &leaf in keep {
        s.keep_leaf(leaf)?;
    }
    let out = s.run_job(&record.input.to_input().encode())?;
    let out = JobOutput::decode(&out).map_err(|e| Error::Runtime(e.to_string()))?;
    Ok((out, s))
}

/// Replays a job in the engine module and returns the decoded output and fuel used.
///
/// # Errors
/// As [`open_model`], and the runtime's errors.
pub fn replay_output(
    rt: &Runtime,
    record: &JobFile,
    dir: &Path,
    limits: Limits,
) -> Result<(JobOutput, u64)> {
    let (out, s) = run(rt, record, dir, limits, &[])?;
    Ok((out, s.fuel_used()))
}

/// Replays a job and returns the outputs of trace leaves `leaves` (little endian, in the order
/// asked): the rows a one-step proof opens, from the wasm engine.
///
/// # Errors
/// As [`replay_output`]; [`Error::Engine`] for an index past the trace's end.
pub fn leaf_data(
    rt: &Runtime,
    record: &JobFile,
    dir: &Path,
    limits: Limits,
    leaves: &[u32],
) -> Result<Vec<Vec<u8>>> {
    let (_, mut s) = run(rt, record, dir, limits, leaves)?;
    leaves.iter().map(|&leaf| s.leaf_data(leaf)).collect()
}

/// Replays a job and returns its trace's leaves: what each is, and its hash.
///
/// # Errors
/// As [`replay_output`].
pub fn trace_leaves(
    rt: &Runtime,
    record: &JobFile,
    dir: &Path,
    limits: Limits,
) -> Result<Vec<(LeafInfo, [u8; 32])>> {
    let (_, mut session) = run(rt, record, dir, limits, &[])?;
    session.leaves()
}

/// Replays a job file against a model directory; with `leaves`, the report lists the trace's
/// leaves too.
///
/// # Errors
/// As [`replay_output`].
pub fn replay(
    rt: &Runtime,
    record: &JobFile,
    dir: &Path,
    limits: Limits,
    leaves: bool,
) -> Result<ReplayReport> {
    let (out, mut session) = run(rt, record, dir, limits, &[])?;
    let (output_hash, trace_root) = (B256::from(out.output_hash), B256::from(out.trace_root));
    let leaves = if leaves {
        let all = session.leaves()?;
        Some(all.iter().enumerate().map(|(i, (info, leaf))| Leaf::new(i, info, *leaf)).collect())
    } else {
        None
    };
    Ok(ReplayReport {
        engine: B256::from(engine_hash()),
        model_id: record.model_id,
        matches: output_hash == record.output_hash && trace_root == record.trace_root,
        output_hash,
        trace_root,
        fuel_used: session.fuel_used(),
        leaves,
    })
}
