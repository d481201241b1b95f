//! Whole-job replay: check the model directory against the job's model id, serve its chunks to
//! the engine module, run the job and report the output hash and trace root.

use std::{path::Path, sync::Arc};

use assay_convert::{
    dir::{ModelDir, hex32},
    record::JobRecord,
};
use assay_engine::job::JobOutput;
use assay_engine_module::engine_hash;
use serde::Serialize;

use crate::{
    Error, Result,
    runtime::{Limits, Runtime, ServedModel},
};

/// What `verifier replay` prints.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReplayReport {
    /// Hash of the engine module that replayed the job.
    pub engine: String,
    /// Model id.
    pub model_id: String,
    /// Output hash of the replay.
    pub output_hash: String,
    /// Trace root of the replay.
    pub trace_root: String,
    /// Whether both equal the job record's claims.
    pub matches: bool,
    /// Fuel the replay consumed.
    pub fuel_used: u64,
}

/// Opens a model directory and checks it holds the model the job names.
///
/// # Errors
/// [`Error::Model`] for unreadable or tampered directories, [`Error::WrongModel`] for another
/// model.
pub fn open_model(dir: &Path, model_id: &str) -> Result<ModelDir> {
    let m = ModelDir::open(dir)?;
    if !hex32(&m.model_id).eq_ignore_ascii_case(model_id) {
        return Err(Error::WrongModel { expected: model_id.into(), actual: hex32(&m.model_id) });
    }
    Ok(m)
}

/// Replays a job in the engine module and returns the decoded output and fuel used.
///
/// # Errors
/// As [`open_model`], and the runtime's errors.
pub fn replay_output(
    rt: &Runtime,
    record: &JobRecord,
    dir: &Path,
    limits: Limits,
) -> Result<(JobOutput, u64)> {
    let model = open_model(dir, &record.model_id)?;
    let served = Arc::new(ServedModel { blob: model.blob, chunk_hashes: model.chunk_hashes });
    let mut s = rt.session(limits, Some(served))?;
    s.load_model()?;
    let out = s.run_job(&record.input.to_input().encode())?;
    let out = JobOutput::decode(&out).map_err(|e| Error::Runtime(e.to_string()))?;
    Ok((out, s.fuel_used()))
}

/// Replays a job record against a model directory.
///
/// # Errors
/// As [`replay_output`].
pub fn replay(
    rt: &Runtime,
    record: &JobRecord,
    dir: &Path,
    limits: Limits,
) -> Result<ReplayReport> {
    let (out, fuel_used) = replay_output(rt, record, dir, limits)?;
    let (output_hash, trace_root) = (hex32(&out.output_hash), hex32(&out.trace_root));
    Ok(ReplayReport {
        engine: hex32(&engine_hash()),
        model_id: record.model_id.clone(),
        matches: output_hash.eq_ignore_ascii_case(&record.output_hash)
            && trace_root.eq_ignore_ascii_case(&record.trace_root),
        output_hash,
        trace_root,
        fuel_used,
    })
}
