//! wasmtime set up for deterministic replay: NaN canonicalisation, relaxed SIMD off (modules that
//! use it fail validation), no threads (wasmtime is built without its `threads` feature, so
//! shared memories do not validate), fuel metering, a memory cap, and a single import that
//! serves model chunks after checking each against the committed chunk hashes.

use std::sync::Arc;

use assay_engine::{
    hash::{Hash, keccak},
    model::CHUNK_SIZE,
    trace::{LeafInfo, decode_leaves},
};
use wasmtime::{
    Caller, Config, Engine, Instance, Linker, Memory, Module, ResourceLimiter, Store, Trap,
    TypedFunc,
};

use crate::{Error, Result};

/// Resource limits of one replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units (about one per wasm instruction).
    pub fuel: u64,
    /// Largest linear memory in bytes.
    pub max_memory: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { fuel: 1 << 42, max_memory: 2 << 30 }
    }
}

/// [`Limits`] as command-line options.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Fuel for the replay (about one unit per wasm instruction); running out is an error.
    #[arg(long, env = "ASSAY_FUEL", default_value_t = Limits::default().fuel)]
    pub fuel: u64,
    /// Largest wasm linear memory, in MiB; exceeding it is an error.
    #[arg(long, env = "ASSAY_MAX_MEMORY_MIB", default_value_t = 2048)]
    pub max_memory_mib: usize,
}

impl LimitArgs {
    /// The limits these options set.
    pub fn limits(&self) -> Limits {
        Limits { fuel: self.fuel, max_memory: self.max_memory_mib << 20 }
    }
}

/// A model blob whose chunk hashes have been checked against its manifest.
#[derive(Debug)]
pub struct ServedModel {
    /// The blob.
    pub blob: Vec<u8>,
    /// Committed chunk hashes.
    pub chunk_hashes: Vec<Hash>,
}

#[derive(Debug)]
struct Host {
    max_memory: usize,
    memory_hit: bool,
    bad_chunk: Option<u32>,
    model: Option<Arc<ServedModel>>,
}

impl ResourceLimiter for Host {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_memory;
        self.memory_hit |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000)
    }
}

/// The compiled engine module.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    module: Module,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// The wasmtime configuration used for every replay.
pub fn config() -> Config {
    let mut c = Config::new();
    c.cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(false)
        .relaxed_simd_deterministic(true)
        .consume_fuel(true);
    c
}

impl Runtime {
    /// Compiles the embedded engine module ([`assay_engine_module::WASM`]).
    ///
    /// # Errors
    /// [`Error::Runtime`] when wasmtime rejects the configuration or the module.
    pub fn new() -> Result<Self> {
        Self::with_module(assay_engine_module::WASM)
    }

    /// Compiles another module (tests use this to check the configuration).
    ///
    /// # Errors
    /// [`Error::Runtime`] when wasmtime rejects the configuration or the module.
    pub fn with_module(wasm: &[u8]) -> Result<Self> {
        let engine = Engine::new(&config()).map_err(rt)?;
        let module = Module::new(&engine, wasm).map_err(|e| Error::Runtime(format!("{e:?}")))?;
        Ok(Self { engine, module })
    }

    /// Instantiates the module with `limits`, serving `model`'s chunks.
    ///
    /// # Errors
    /// [`Error::Runtime`] when instantiation fails.
    pub fn session(&self, limits: Limits, model: Option<Arc<ServedModel>>) -> Result<Session> {
        let host =
            Host { max_memory: limits.max_memory, memory_hit: false, bad_chunk: None, model };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| h);
        store.set_fuel(limits.fuel).map_err(rt)?;
        let mut linker = Linker::new(&self.engine);
        linker.func_wrap("env", "read_chunk", read_chunk).map_err(rt)?;
        let instance = linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| classify(e, &store, limits))?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| Error::Runtime("module exports no memory".into()))?;
        Ok(Session { store, instance, memory, limits })
    }
}

fn read_chunk(mut caller: Caller<'_, Host>, index: u32, dst: u32) -> u32 {
    let Some(model) = caller.data().model.clone() else { return u32::MAX };
    let at = index as usize * CHUNK_SIZE;
    let Some(committed) = model.chunk_hashes.get(index as usize) else { return u32::MAX };
    let chunk = &model.blob[at..(at + CHUNK_SIZE).min(model.blob.len())];
    if keccak(chunk) != *committed {
        caller.data_mut().bad_chunk = Some(index);
        return u32::MAX;
    }
    let Some(mem) = caller.get_export("memory").and_then(|e| e.into_memory()) else {
        return u32::MAX;
    };
    match mem.write(&mut caller, dst as usize, chunk) {
        Ok(()) => chunk.len() as u32,
        Err(_) => u32::MAX,
    }
}

fn rt(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

fn classify(e: wasmtime::Error, store: &Store<Host>, limits: Limits) -> Error {
    if store.data().memory_hit {
        Error::OutOfMemory(limits.max_memory)
    } else if let Some(i) = store.data().bad_chunk {
        Error::ChunkMismatch(i)
    } else if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        Error::OutOfFuel(limits.fuel)
    } else {
        Error::Runtime(format!("{e:?}"))
    }
}

/// One instance of the engine module.
pub struct Session {
    store: Store<Host>,
    instance: Instance,
    memory: Memory,
    limits: Limits,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("limits", &self.limits).finish_non_exhaustive()
    }
}

impl Session {
    fn func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
    ) -> Result<TypedFunc<P, R>> {
        self.instance.get_typed_func(&mut self.store, name).map_err(rt)
    }

    fn call2(&mut self, name: &str, a: u32, b: u32) -> Result<Vec<u8>> {
        let f = self.func::<(u32, u32), i32>(name)?;
        let status = f.call(&mut self.store, (a, b));
        self.result(status)
    }

    fn result(&mut self, status: wasmtime::Result<i32>) -> Result<Vec<u8>> {
        let status = match status {
            Ok(s) => s,
            Err(e) => return Err(classify(e, &self.store, self.limits)),
        };
        if let Some(i) = self.store.data().bad_chunk {
            return Err(Error::ChunkMismatch(i));
        }
        let ptr = self.func::<(), u32>("result_ptr")?.call(&mut self.store, ()).map_err(rt)?;
        let len = self.func::<(), u32>("result_len")?.call(&mut self.store, ()).map_err(rt)?;
        let mut out = vec![0u8; len as usize];
        self.memory.read(&self.store, ptr as usize, &mut out).map_err(rt)?;
        match status {
            0 => Ok(out),
            4 => Err(Error::UnknownOp(String::from_utf8_lossy(&out).into_owned())),
            s => Err(Error::Engine {
                status: s,
                message: String::from_utf8_lossy(&out).into_owned(),
            }),
        }
    }

    fn with_input(&mut self, name: &str, input: &[u8]) -> Result<Vec<u8>> {
        let alloc = self.func::<u32, u32>("alloc")?;
        let ptr = alloc
            .call(&mut self.store, input.len() as u32)
            .map_err(|e| classify(e, &self.store, self.limits))?;
        self.memory.write(&mut self.store, ptr as usize, input).map_err(rt)?;
        self.call2(name, ptr, input.len() as u32)
    }

    /// Pulls every chunk of the served model into the module and loads it.
    ///
    /// # Errors
    /// [`Error::ChunkMismatch`] for a chunk that fails its hash, [`Error::Engine`] when the engine
    /// rejects the model, and the resource errors.
    pub fn load_model(&mut self) -> Result<()> {
        let (n, len) = match &self.store.data().model {
            Some(m) => (m.chunk_hashes.len() as u32, m.blob.len() as u32),
            None => (0, 0),
        };
        self.call2("load_model", n, len).map(drop)
    }

    /// Runs an encoded job input and returns the encoded output.
    ///
    /// # Errors
    /// [`Error::Engine`] for rejected inputs, and the resource errors.
    pub fn run_job(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.with_input("run_job", input)
    }

    /// The trace leaves of the last job this session ran, in order.
    ///
    /// # Errors
    /// [`Error::Runtime`] when the module returns a malformed list, and the resource errors.
    pub fn leaves(&mut self) -> Result<Vec<(LeafInfo, Hash)>> {
        let f = self.func::<(), i32>("leaves")?;
        let status = f.call(&mut self.store, ());
        let bytes = self.result(status)?;
        decode_leaves(&bytes).map_err(|e| Error::Runtime(e.to_string()))
    }

    /// Makes the next job keep leaf `index`'s output ([`Self::leaf_data`]).
    ///
    /// # Errors
    /// The resource errors.
    pub fn keep_leaf(&mut self, index: u32) -> Result<()> {
        let f = self.func::<u32, i32>("keep_leaf")?;
        let status = f.call(&mut self.store, index);
        self.result(status).map(drop)
    }

    /// The little-endian output of leaf `index` of the last job, which must have been kept.
    ///
    /// # Errors
    /// [`Error::Engine`] when it was not kept, and the resource errors.
    pub fn leaf_data(&mut self, index: u32) -> Result<Vec<u8>> {
        let f = self.func::<u32, i32>("leaf_data")?;
        let status = f.call(&mut self.store, index);
        self.result(status)
    }

    /// Runs an encoded op and returns its leaf and output.
    ///
    /// # Errors
    /// [`Error::UnknownOp`], [`Error::Engine`] for malformed ops, and the resource errors.
    pub fn run_op(&mut self, op: &[u8]) -> Result<Vec<u8>> {
        self.with_input("run_op", op)
    }

    /// Fuel consumed so far.
    pub fn fuel_used(&self) -> u64 {
        self.limits.fuel - self.store.get_fuel().unwrap_or(0)
    }
}
