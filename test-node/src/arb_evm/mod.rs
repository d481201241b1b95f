//! The node's EVM: revm's mainnet EVM wrapped so that calls into Stylus programs run in
//! wasmtime instead of the interpreter. A Stylus frame runs synchronously inside `frame_init`;
//! its nested calls and creates re-enter revm's frame loop recursively with a fresh frame stack,
//! so EVM -> Stylus -> EVM -> Stylus chains work at any depth.

use std::convert::Infallible;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use revm::{
    Database,
    context::{
        BlockEnv, CfgEnv, Context, ContextSetters, ContextTr, Evm, FrameStack, JournalTr, TxEnv,
    },
    context_interface::result::{EVMError, ResultAndState},
    handler::{
        EthFrame, EvmTr, FrameResult, Handler, ItemOrResult, MainnetHandler,
        evm::{ContextDbError, FrameInitResult},
        instructions::EthInstructions,
    },
    interpreter::{
        CallInputs, CallOutcome, CallScheme, CallValue, Gas, InstructionResult, InterpreterResult,
        SharedMemory,
        interpreter::EthInterpreter,
        interpreter_action::{FrameInit, FrameInput, InterpreterAction},
    },
    primitives::hardfork::SpecId,
};

mod evm_api;

use crate::{
    precompiles::{self, ArbPrecompiles},
    retryables::retry::CurrentRetry,
    stylus::{
        api::{EvmApi, FrameEnv},
        code,
        program::Record,
        runtime::{Outcome, runtime},
        state::HostState,
    },
};

/// The context type of the node's EVM.
pub(crate) type ArbContext<DB> = Context<BlockEnv, TxEnv, CfgEnv, DB>;
type Inner<DB> = Evm<
    ArbContext<DB>,
    (),
    EthInstructions<EthInterpreter, ArbContext<DB>>,
    ArbPrecompiles,
    EthFrame<EthInterpreter>,
>;

/// Gas every Stylus call pays before the program starts (`minInitGas` of Stylus v2).
const MIN_INIT_GAS: u64 = 8_832;
/// Pages Nitro gives for free.
const FREE_PAGES: u64 = 2;
/// Maximum call depth.
const CALL_DEPTH_LIMIT: usize = 1024;

/// revm's EVM plus Stylus.
pub(crate) struct ArbEvm<DB: Database<Error = Infallible>> {
    inner: Inner<DB>,
    /// Acting address of every open frame (None for delegate calls and creates), for
    /// `msg_reentrant`.
    frames: Vec<Option<Address>>,
    /// Memory contexts of the running Stylus frames: nested EVM frames take child contexts of
    /// the shared buffer, so call inputs that point into it stay valid.
    memories: Vec<SharedMemory>,
}

impl<DB: Database<Error = Infallible>> ArbEvm<DB> {
    /// An EVM over `ctx` with the Arbitrum precompiles.
    pub(crate) fn new(ctx: ArbContext<DB>) -> Self {
        let spec = ctx.cfg.spec;
        let inner =
            Evm::new(ctx, EthInstructions::new_mainnet_with_spec(spec), ArbPrecompiles::new(spec));
        Self { inner, frames: Vec::new(), memories: Vec::new() }
    }

    /// Executes `tx` and returns the result with the state changes (not committed).
    ///
    /// # Errors
    /// The transaction is invalid (nonce, funds, gas...).
    pub(crate) fn transact(&mut self, tx: TxEnv) -> Result<ResultAndState, EVMError<Infallible>> {
        self.inner.ctx.set_tx(tx);
        self.frames.clear();
        let result =
            MainnetHandler::<Self, EVMError<Infallible>, EthFrame<EthInterpreter>>::default()
                .run(self);
        let state = self.inner.ctx.journal_mut().finalize();
        result.map(|result| ResultAndState::new(result, state))
    }

    /// Runs the next transactions as the retry `retry` of a ticket (or as plain ones).
    pub(crate) fn set_current_retry(&mut self, retry: Option<CurrentRetry>) {
        self.inner.precompiles.set_current_retry(retry);
    }

    /// The transaction being executed.
    pub(crate) fn tx(&self) -> &TxEnv {
        &self.inner.ctx.tx
    }

    fn journal(&mut self) -> &mut <ArbContext<DB> as ContextTr>::Journal {
        self.inner.ctx.journal_mut()
    }

    /// Runs a nested frame to completion on a fresh frame stack.
    fn run_nested(&mut self, depth: usize, frame_input: FrameInput) -> Option<FrameResult> {
        let memory = match self.memories.last_mut() {
            Some(parent) => parent.new_child_context(),
            None => SharedMemory::new(),
        };
        let init = FrameInit { depth, memory, frame_input };
        let saved = std::mem::replace(&mut self.inner.frame_stack, FrameStack::new());
        let depth = self.frames.len();
        let mut handler =
            MainnetHandler::<Self, EVMError<Infallible>, EthFrame<EthInterpreter>>::default();
        let result = handler.run_exec_loop(self, init);
        self.frames.truncate(depth);
        self.inner.frame_stack = saved;
        if let Some(parent) = self.memories.last_mut() {
            parent.free_child_context();
        }
        result.ok()
    }

    /// Runs a call into a Stylus program.
    fn call_stylus(&mut self, depth: usize, inputs: &CallInputs) -> CallOutcome {
        let gas_limit = inputs.gas_limit;
        let finish = |result: InstructionResult, output: Bytes, gas_left: u64| {
            let mut gas = Gas::new(gas_limit);
            gas.set_remaining(gas_left);
            CallOutcome::new(
                InterpreterResult::new(result, output, gas),
                inputs.return_memory_offset.clone(),
            )
        };
        if depth > CALL_DEPTH_LIMIT {
            return finish(InstructionResult::CallTooDeep, Bytes::new(), gas_limit);
        }
        let checkpoint = self.journal().checkpoint();
        if let CallValue::Transfer(value) = inputs.value {
            let failed = self
                .journal()
                .transfer(inputs.caller, inputs.target_address, value)
                .unwrap_or_else(|never| match never {});
            if let Some(error) = failed {
                self.journal().checkpoint_revert(checkpoint);
                return finish(error.into(), Bytes::new(), gas_limit);
            }
        }
        let (codehash, bytecode) = &inputs.known_bytecode;
        let code = bytecode.original_bytes();
        let codehash = if codehash.is_zero() { keccak256(&code) } else { *codehash };
        let record = self.program_record(codehash);
        if !record.is_active() {
            self.journal().checkpoint_revert(checkpoint);
            return finish(
                InstructionResult::Revert,
                precompiles::program_not_activated(),
                gas_limit,
            );
        }
        let program = match self.program(codehash, &code) {
            Ok(program) => program,
            Err(_) => {
                self.journal().checkpoint_revert(checkpoint);
                return finish(InstructionResult::Revert, Bytes::new(), gas_limit);
            }
        };
        let init_gas =
            MIN_INIT_GAS + u64::from(record.footprint).saturating_sub(FREE_PAGES) * 1_000;
        if init_gas > gas_limit {
            self.journal().checkpoint_revert(checkpoint);
            return finish(InstructionResult::OutOfGas, Bytes::new(), 0);
        }
        let delegate = matches!(inputs.scheme, CallScheme::DelegateCall | CallScheme::CallCode);
        let acting = inputs.target_address;
        let reentrant = !delegate && self.frames.contains(&Some(acting));
        let frame = FrameEnv {
            acting,
            caller: inputs.caller,
            value: inputs.value.get(),
            is_static: inputs.is_static,
            reentrant,
            depth,
        };
        let args = inputs.input.bytes(&self.inner.ctx);
        self.frames.push((!delegate).then_some(acting));
        let api: *mut (dyn EvmApi + '_) = self as &mut dyn EvmApi;
        // SAFETY: only the lifetime is erased. The pointer is used by host functions while
        // `run` below executes, during which `self` is exclusively borrowed by this call, and
        // the store holding it is dropped before `run` returns.
        let api: *mut (dyn EvmApi + 'static) = unsafe { std::mem::transmute(api) };
        let result =
            runtime().run(&program, HostState::new(api, frame, args), gas_limit - init_gas);
        self.frames.pop();
        let (status, output) = match result.outcome {
            Outcome::Success => (InstructionResult::Return, result.output),
            Outcome::Revert | Outcome::Failure => (InstructionResult::Revert, result.output),
            Outcome::OutOfInk => (InstructionResult::OutOfGas, Vec::new()),
        };
        if status == InstructionResult::Return {
            self.journal().checkpoint_commit();
        } else {
            self.journal().checkpoint_revert(checkpoint);
        }
        finish(status, output.into(), result.gas_left)
    }

    /// The compiled program for `code`, compiled now (from its fragments for a root) when the
    /// cache lacks it, e.g. after a restart from a state file.
    fn program(
        &mut self,
        codehash: B256,
        code: &[u8],
    ) -> Result<std::sync::Arc<wasmtime::InstancePre<HostState>>, crate::Error> {
        if let Some(program) = runtime().cached(codehash) {
            return Ok(program);
        }
        let journal = self.journal();
        let fragment = |address| {
            journal
                .code(address)
                .map(|code| code.data.to_vec())
                .unwrap_or_else(|never| match never {})
        };
        let wasm = code::wasm_of(code, fragment)?;
        runtime().prepare(codehash, &wasm)
    }

    fn program_record(&mut self, codehash: B256) -> Record {
        let slot = U256::from_be_bytes(codehash.0);
        // The journal reads storage only of accounts it has loaded.
        self.journal().load_account(precompiles::ARB_WASM).unwrap_or_else(|never| match never {});
        let word = self
            .journal()
            .sload(precompiles::ARB_WASM, slot)
            .unwrap_or_else(|never| match never {});
        Record::decode(word.data)
    }
}

impl<DB: Database<Error = Infallible>> EvmTr for ArbEvm<DB> {
    type Context = ArbContext<DB>;
    type Instructions = EthInstructions<EthInterpreter, ArbContext<DB>>;
    type Precompiles = ArbPrecompiles;
    type Frame = EthFrame<EthInterpreter>;

    fn all(
        &self,
    ) -> (&Self::Context, &Self::Instructions, &Self::Precompiles, &FrameStack<Self::Frame>) {
        self.inner.all()
    }

    fn all_mut(
        &mut self,
    ) -> (
        &mut Self::Context,
        &mut Self::Instructions,
        &mut Self::Precompiles,
        &mut FrameStack<Self::Frame>,
    ) {
        self.inner.all_mut()
    }

    fn frame_init(
        &mut self,
        init: FrameInit,
    ) -> Result<FrameInitResult<'_, Self::Frame>, ContextDbError<Self::Context>> {
        if let FrameInput::Call(inputs) = &init.frame_input
            && code::is_stylus(inputs.known_bytecode.1.original_byte_slice())
        {
            let inputs = inputs.clone();
            self.memories.push(init.memory);
            let outcome = self.call_stylus(init.depth, &inputs);
            self.memories.pop();
            return Ok(ItemOrResult::Result(FrameResult::Call(outcome)));
        }
        let acting = match &init.frame_input {
            FrameInput::Call(inputs)
                if matches!(inputs.scheme, CallScheme::Call | CallScheme::StaticCall) =>
            {
                Some(inputs.target_address)
            }
            _ => None,
        };
        let frames = &mut self.frames;
        let result = self.inner.frame_init(init)?;
        if let ItemOrResult::Item(_) = &result {
            frames.push(acting);
        }
        Ok(result)
    }

    fn frame_run(
        &mut self,
    ) -> Result<revm::handler::FrameInitOrResult<Self::Frame>, ContextDbError<Self::Context>> {
        // EIP-3541 as Nitro applies it: code starting with 0xEF may be created only when it is
        // a Stylus program, fragment or root. revm's check is lifted for exactly those returns.
        let frame = self.inner.frame_stack.get();
        let context = &mut self.inner.ctx;
        let instructions = &mut self.inner.instruction;
        let action = frame.interpreter.run_plain(
            instructions.instruction_table(),
            instructions.gas_table(),
            context,
        );
        let stylus_create = matches!(frame.data, revm::handler::FrameData::Create(_))
            && matches!(&action, InterpreterAction::Return(result)
                if result.output.first() == Some(&0xef) && code::allowed_ef_code(&result.output));
        context.cfg.disable_eip3541 = stylus_create;
        let result = frame.process_next_action(context, action).inspect(|next| {
            if next.is_result() {
                frame.set_finished(true);
            }
        });
        context.cfg.disable_eip3541 = false;
        result
    }

    fn frame_return_result(
        &mut self,
        result: FrameResult,
    ) -> Result<Option<FrameResult>, ContextDbError<Self::Context>> {
        if self.inner.frame_stack.index().is_some() && self.inner.frame_stack.get().is_finished() {
            self.frames.pop();
        }
        self.inner.frame_return_result(result)
    }
}

/// The spec the node runs (Arbitrum follows Ethereum's Prague rules here).
pub(crate) const SPEC: SpecId = SpecId::PRAGUE;
