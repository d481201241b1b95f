//! `assay-engine-wasm`: the WASM module the verifier replays. A thin ABI over `assay-engine`,
//! built for `wasm32-unknown-unknown`; its keccak hash identifies the engine version.
//!
//! ABI (all integers little-endian, pointers into the module's memory):
//! - import `env.read_chunk(index: u32, dst: u32) -> u32`: the host writes model chunk `index`
//!   (checked against the model root) at `dst` and returns its length, or `u32::MAX` for an index
//!   past the end.
//! - `alloc(len) -> ptr`: a buffer for the host to write an input into (freed by the next call).
//! - `load_model(n_chunks, len) -> status`: pulls every chunk and parses the model.
//! - `run_job(ptr, len) -> status`: runs an encoded `JobInput`; the result is an encoded
//!   `JobOutput`.
//! - `leaves() -> status`: the result is the last job's trace leaves, encoded by
//!   `Trace::encode_leaves` (empty list before any job).
//! - `keep_leaf(index) -> status`: the next job keeps leaf `index`'s output (what a one-step
//!   proof opens); `leaf_data(index) -> status`: the result is that output of the last job,
//!   little endian (status 2 when it was not kept).
//! - `run_op(ptr, len) -> status`: runs one encoded op (see `assay_engine::ops`, no model needed);
//!   the result is its leaf hash followed by its output.
//! - `result_ptr()`, `result_len()`: the last result, or the error message when status is not 0.
//!
//! Status codes: 0 ok, 1 model format error, 2 invalid input, 3 no model loaded, 4 unknown op.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Mutex,
};

use assay_engine::{
    Error,
    job::{JobInput, Model},
    kernels::Scalar,
    model::CHUNK_SIZE,
    ops,
    trace::Keep,
};

struct State {
    model: Option<Model>,
    input: Vec<u8>,
    result: Vec<u8>,
    leaves: Vec<u8>,
    keep: BTreeSet<usize>,
    kept: BTreeMap<usize, Vec<u8>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    model: None,
    input: Vec::new(),
    result: Vec::new(),
    leaves: Vec::new(),
    keep: BTreeSet::new(),
    kept: BTreeMap::new(),
});

#[cfg(target_arch = "wasm32")]
#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn read_chunk(index: u32, dst: u32) -> u32;
}

/// Native builds have no host; reading a chunk reports the end of the model.
#[cfg(not(target_arch = "wasm32"))]
unsafe fn read_chunk(_index: u32, _dst: u32) -> u32 {
    u32::MAX
}

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn finish(st: &mut State, r: Result<Vec<u8>, Error>) -> i32 {
    match r {
        Ok(v) => {
            st.result = v;
            0
        }
        Err(e) => {
            st.result = e.to_string().into_bytes();
            match e {
                Error::Format(_) => 1,
                Error::Input(_) => 2,
                Error::NoModel => 3,
                Error::UnknownOp(_) => 4,
            }
        }
    }
}

/// Allocates an input buffer of `len` bytes and returns its address.
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: u32) -> u32 {
    let mut st = state();
    st.input = vec![0; len as usize];
    st.input.as_mut_ptr() as usize as u32
}

/// Reads `n_chunks` chunks (`len` bytes in all) from the host and loads the model.
#[unsafe(no_mangle)]
pub extern "C" fn load_model(n_chunks: u32, len: u32) -> i32 {
    let mut blob = vec![0u8; len as usize];
    let mut filled = 0usize;
    for i in 0..n_chunks {
        let at = i as usize * CHUNK_SIZE;
        let want = CHUNK_SIZE.min(blob.len().saturating_sub(at));
        if want == 0 {
            break;
        }
        let dst = blob[at..].as_mut_ptr() as usize as u32;
        // SAFETY: `dst` points at `want = min(CHUNK_SIZE, len - at)` writable bytes of `blob`,
        // which is what the host writes for chunk `i` of a model of `len` bytes.
        let n = unsafe { read_chunk(i, dst) };
        if n as usize != want {
            break;
        }
        filled += want;
    }
    let mut st = state();
    let r = if filled == blob.len() {
        Model::load(&blob).map(|m| {
            st.model = Some(m);
            Vec::new()
        })
    } else {
        Err(Error::Format(format!("host served {filled} of {len} model bytes")))
    };
    finish(&mut st, r)
}

/// Runs the encoded job input written at `ptr`.
#[unsafe(no_mangle)]
pub extern "C" fn run_job(ptr: u32, len: u32) -> i32 {
    let mut st = state();
    let r = input(&st, ptr, len).and_then(|bytes| {
        let job = JobInput::decode(&bytes)?;
        let model = st.model.as_ref().ok_or(Error::NoModel)?;
        model.run_keeping(&Scalar, &job, Keep::Leaves(st.keep.clone()))
    });
    let keep = std::mem::take(&mut st.keep);
    (st.leaves, st.kept) = match &r {
        Ok((_, trace)) => (
            trace.encode_leaves(),
            keep.into_iter().filter_map(|i| Some((i, trace.data(i)?.to_vec()))).collect(),
        ),
        Err(_) => (Vec::new(), BTreeMap::new()),
    };
    finish(&mut st, r.map(|(out, _)| out.encode()))
}

/// Keeps leaf `index`'s output in the next job.
#[unsafe(no_mangle)]
pub extern "C" fn keep_leaf(index: u32) -> i32 {
    let mut st = state();
    st.keep.insert(index as usize);
    finish(&mut st, Ok(Vec::new()))
}

/// Makes the output the last job kept for leaf `index` the result.
#[unsafe(no_mangle)]
pub extern "C" fn leaf_data(index: u32) -> i32 {
    let mut st = state();
    let data = st.kept.get(&(index as usize)).cloned();
    let r = data.ok_or_else(|| Error::Input(format!("leaf {index} was not kept")));
    finish(&mut st, r)
}

/// Makes the last job's trace leaves the result.
#[unsafe(no_mangle)]
pub extern "C" fn leaves() -> i32 {
    let mut st = state();
    let leaves = if st.leaves.is_empty() { 0u32.to_le_bytes().to_vec() } else { st.leaves.clone() };
    finish(&mut st, Ok(leaves))
}

/// Runs the encoded op written at `ptr`.
#[unsafe(no_mangle)]
pub extern "C" fn run_op(ptr: u32, len: u32) -> i32 {
    let mut st = state();
    let r = input(&st, ptr, len).and_then(|bytes| ops::run(&bytes));
    finish(&mut st, r)
}

fn input(st: &State, ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
    let base = st.input.as_ptr() as usize as u32;
    if ptr != base || len as usize > st.input.len() {
        return Err(Error::Input("input must be written to the buffer from alloc".into()));
    }
    Ok(st.input[..len as usize].to_vec())
}

/// Address of the last result.
#[unsafe(no_mangle)]
pub extern "C" fn result_ptr() -> u32 {
    state().result.as_ptr() as usize as u32
}

/// Length of the last result.
#[unsafe(no_mangle)]
pub extern "C" fn result_len() -> u32 {
    state().result.len() as u32
}
