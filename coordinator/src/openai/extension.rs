//! What both the whole and the streamed completion add to the OpenAI shapes: the `assay`
//! extension (job, receipt, hashes) and the finish reason.

use serde_json::{Value, json};

use crate::{job::JobRow, scheduler::Asserted};

/// The `assay` object of a response: the job, its receipt and where to follow it.
pub(super) fn assay_extension(job: &JobRow, a: &Asserted) -> Value {
    let r = &a.receipt.receipt;
    json!({
        "job_id": job.id,
        "job_key": job.job_key,
        "model_id": job.model_id,
        "input_root": r.input_root,
        "output_hash": r.output_hash,
        "trace_root": r.trace_root,
        "worker": r.worker,
        "receipt": a.receipt,
        "status_url": format!("/v1/jobs/{}", job.id),
    })
}

/// `"length"` when the generation used every token it was allowed, else `"stop"`.
pub(super) fn finish_reason(a: &Asserted, max_tokens: u32) -> &'static str {
    if a.output.tokens.len() >= max_tokens as usize { "length" } else { "stop" }
}
