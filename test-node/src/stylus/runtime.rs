//! The wasmtime side: one engine with fuel metering, the linked `vm_hooks`, a cache of compiled
//! programs by code hash, and running a program's `user_entrypoint`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use alloy_primitives::B256;
use tracing::debug;
use wasmtime::{Config, Engine, InstancePre, Linker, Module, OperatorCost, Store, Trap};

use super::{
    host,
    memory::{FUEL_PER_GAS, INK_PER_FUEL},
    state::{ExitEarly, HostState},
};
use crate::error::Error;

/// Fuel per operator, from Nitro's `pricing_v1` ink costs divided by [`INK_PER_FUEL`] for the
/// operators whose price is far from the default (one fuel): calls, branches, memory access,
/// division, `select` and `memory.grow`. Other operators cost wasmtime's default.
fn operator_costs() -> OperatorCost {
    let fuel = |ink: u64| u8::try_from(ink.div_ceil(INK_PER_FUEL)).unwrap_or(u8::MAX);
    let mut cost = OperatorCost::new();
    cost.Call = fuel(3_800);
    cost.CallIndirect = fuel(13_610);
    (cost.Br, cost.BrIf, cost.If, cost.BrTable) = (fuel(765), fuel(765), fuel(765), fuel(2_400));
    (cost.LocalGet, cost.LocalSet, cost.LocalTee) = (fuel(75), fuel(75), fuel(75));
    (cost.GlobalGet, cost.GlobalSet) = (fuel(300), fuel(990));
    (cost.I32Load, cost.I64Load, cost.I32Load8U, cost.I32Load8S) =
        (fuel(670), fuel(680), fuel(670), fuel(670));
    (cost.I32Store, cost.I64Store, cost.I32Store8) = (fuel(825), fuel(950), fuel(825));
    (cost.I32DivS, cost.I32DivU, cost.I32RemS, cost.I32RemU) =
        (fuel(1_120), fuel(1_120), fuel(1_120), fuel(1_120));
    (cost.I64DivS, cost.I64DivU, cost.I64RemS, cost.I64RemU) =
        (fuel(1_270), fuel(1_270), fuel(1_270), fuel(1_270));
    cost.Select = fuel(1_250);
    cost.MemoryGrow = fuel(8_050);
    cost
}

/// How a program run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Status 0: the output is the return data.
    Success,
    /// Non-zero status: the output is the revert data.
    Revert,
    /// Trap, panic or host error: reverts with empty data, gas left is returned.
    Failure,
    /// Ran out of ink: all gas is consumed.
    OutOfInk,
}

/// The result of one program run.
#[derive(Debug)]
pub(crate) struct RunResult {
    pub(crate) outcome: Outcome,
    pub(crate) output: Vec<u8>,
    pub(crate) gas_left: u64,
}

/// Engine, linker and compiled-program cache shared by all calls.
pub(crate) struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    programs: Mutex<HashMap<B256, Arc<InstancePre<HostState>>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// The process-wide runtime.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().expect("the Stylus engine configuration is valid"))
}

impl Runtime {
    fn new() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .operator_cost(operator_costs())
            .wasm_simd(false)
            .wasm_relaxed_simd(false)
            .wasm_tail_call(false)
            .wasm_multi_memory(false)
            .wasm_memory64(false)
            .max_wasm_stack(1 << 20)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        host::link(&mut linker)?;
        Ok(Self { engine, linker, programs: Mutex::new(HashMap::new()) })
    }

    /// Compiles and links a program, failing like activation does for unknown imports or wrong
    /// signatures. Cached by code hash.
    ///
    /// # Errors
    /// [`Error::Stylus`] when the wasm does not compile or link.
    pub(crate) fn prepare(
        &self,
        codehash: B256,
        wasm: &[u8],
    ) -> Result<Arc<InstancePre<HostState>>, Error> {
        if let Some(pre) = self.cached(codehash) {
            return Ok(pre);
        }
        let module = Module::new(&self.engine, wasm)
            .map_err(|err| Error::Stylus(format!("compile: {err}")))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|err| Error::Stylus(format!("link: {err}")))?;
        let pre = Arc::new(pre);
        self.programs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(codehash, Arc::clone(&pre));
        Ok(pre)
    }

    /// A program compiled earlier.
    pub(crate) fn cached(&self, codehash: B256) -> Option<Arc<InstancePre<HostState>>> {
        self.programs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&codehash)
            .cloned()
    }

    /// Runs `user_entrypoint(args.len())` with `gas`.
    pub(crate) fn run(
        &self,
        program: &InstancePre<HostState>,
        state: HostState,
        gas: u64,
    ) -> RunResult {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        if store.set_fuel(gas.saturating_mul(FUEL_PER_GAS)).is_err() {
            return RunResult { outcome: Outcome::Failure, output: Vec::new(), gas_left: gas };
        }
        let args_len = store.data().args.len() as u32;
        let result = program
            .instantiate(&mut store)
            .and_then(|instance| instance.get_typed_func::<u32, u32>(&mut store, "user_entrypoint"))
            .and_then(|entry| entry.call(&mut store, args_len));
        let mut gas_left = store.get_fuel().unwrap_or(0) / FUEL_PER_GAS;
        let grown = host::memory_gas(store.data().limits.grown_pages);
        let output = std::mem::take(&mut store.data_mut().outs);
        let outcome = match result {
            Ok(0) => Outcome::Success,
            Ok(_) => Outcome::Revert,
            Err(err) => match (err.downcast_ref::<ExitEarly>(), err.downcast_ref::<Trap>()) {
                (Some(ExitEarly(0)), _) => Outcome::Success,
                (Some(_), _) => Outcome::Revert,
                (None, Some(Trap::OutOfFuel)) => Outcome::OutOfInk,
                _ => {
                    debug!(%err, "stylus program failed");
                    Outcome::Failure
                }
            },
        };
        if grown > gas_left {
            return RunResult { outcome: Outcome::OutOfInk, output: Vec::new(), gas_left: 0 };
        }
        gas_left -= grown;
        match outcome {
            Outcome::OutOfInk => RunResult { outcome, output: Vec::new(), gas_left: 0 },
            Outcome::Failure => RunResult { outcome, output: Vec::new(), gas_left },
            _ => RunResult { outcome, output, gas_left },
        }
    }
}
