//! Whole-job replay: check the model directory against the job's model id, serve its chunks to
//! the engine module, run the job and report the output hash and trace root.

use std::{path::Path, sync::Arc};

use alloy_primitives::B256;
use assay_engine::job::JobOutput;
use assay_engine_module::engine_hash;
use assay_protocol::{job::JobFile, model_dir::ModelDir};
use serde::Serialize;

use crate::{
    Error, Result,
    runtime::{Limits, Runtime, ServedModel},
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
    let model = open_model(dir, record.model_id)?;
    let served = Arc::new(ServedModel { blob: model.blob, chunk_hashes: model.chunk_hashes });
    let mut s = rt.session(limits, Some(served))?;
    s.load_model()?;
    let out = s.run_job(&record.input.to_input().encode())?;
    let out = JobOutput::decode(&out).map_err(|e| Error::Runtime(e.to_string()))?;
    Ok((out, s.fuel_used()))
}

/// Replays a job file against a model directory.
///
/// # Errors
/// As [`replay_output`].
pub fn replay(rt: &Runtime, record: &JobFile, dir: &Path, limits: Limits) -> Result<ReplayReport> {
    let (out, fuel_used) = replay_output(rt, record, dir, limits)?;
    let (output_hash, trace_root) = (B256::from(out.output_hash), B256::from(out.trace_root));
    Ok(ReplayReport {
        engine: B256::from(engine_hash()),
        model_id: record.model_id,
        matches: output_hash == record.output_hash && trace_root == record.trace_root,
        output_hash,
        trace_root,
        fuel_used,
    })
}
