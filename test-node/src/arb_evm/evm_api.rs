//! [`EvmApi`] for the node's EVM: what Stylus host functions reach, from storage and logs to
//! nested calls and creates that re-enter revm's frame loop.

use std::convert::Infallible;

use alloy_primitives::{Address, B256, Bytes, Log, U256};
use revm::{
    Database,
    context::JournalTr,
    context_interface::{Block as _, Transaction as _},
    handler::FrameResult,
    interpreter::{
        CallInput, CallInputs, CallScheme, CallValue, CreateInputs, InterpreterResult,
        interpreter_action::FrameInput,
    },
};

use super::ArbEvm;
use crate::stylus::api::{BlockValues, CallKind, EvmApi, FrameEnv, SubcallResult};

impl<DB: Database<Error = Infallible>> EvmApi for ArbEvm<DB> {
    fn sload(&mut self, address: Address, key: U256) -> (U256, bool) {
        let load = self.journal().sload(address, key).unwrap_or_else(|never| match never {});
        (load.data, load.is_cold)
    }

    fn sstore(&mut self, address: Address, key: U256, value: U256) -> u64 {
        let load =
            self.journal().sstore(address, key, value).unwrap_or_else(|never| match never {});
        let store = &load.data;
        let base = if store.new_value == store.present_value {
            100
        } else if store.original_value == store.present_value {
            if store.original_value.is_zero() { 20_000 } else { 2_900 }
        } else {
            100
        };
        base + if load.is_cold { 2_100 } else { 0 }
    }

    fn tload(&mut self, address: Address, key: U256) -> U256 {
        self.journal().tload(address, key)
    }

    fn tstore(&mut self, address: Address, key: U256, value: U256) {
        self.journal().tstore(address, key, value);
    }

    fn log(&mut self, log: Log) {
        self.journal().log(log);
    }

    fn balance(&mut self, address: Address) -> (U256, bool) {
        let account = self.journal().load_account(address).unwrap_or_else(|never| match never {});
        (account.data.info.balance, account.is_cold)
    }

    fn code(&mut self, address: Address) -> (Bytes, bool) {
        let code = self.journal().code(address).unwrap_or_else(|never| match never {});
        (code.data, code.is_cold)
    }

    fn code_hash(&mut self, address: Address) -> (B256, bool) {
        let hash = self.journal().code_hash(address).unwrap_or_else(|never| match never {});
        (hash.data, hash.is_cold)
    }

    fn is_empty(&mut self, address: Address) -> bool {
        let account = self.journal().load_account(address).unwrap_or_else(|never| match never {});
        account.data.is_empty()
    }

    fn block(&self) -> BlockValues {
        let ctx = &self.inner.ctx;
        let basefee = ctx.block.basefee();
        BlockValues {
            basefee: U256::from(basefee),
            chain_id: ctx.cfg.chain_id,
            coinbase: ctx.block.beneficiary(),
            gas_limit: ctx.block.gas_limit(),
            number: ctx.block.number().saturating_to(),
            timestamp: ctx.block.timestamp().saturating_to(),
            gas_price: U256::from(ctx.tx.effective_gas_price(u128::from(basefee))),
            origin: ctx.tx.caller(),
        }
    }

    fn call(
        &mut self,
        frame: &FrameEnv,
        kind: CallKind,
        target: Address,
        input: Bytes,
        value: U256,
        gas: u64,
    ) -> SubcallResult {
        let account =
            self.journal().load_account_with_code(target).unwrap_or_else(|never| match never {});
        let known_bytecode =
            (account.data.info.code_hash, account.data.info.code.clone().unwrap_or_default());
        let (target_address, caller, call_value, scheme, is_static) = match kind {
            CallKind::Call => (
                target,
                frame.acting,
                CallValue::Transfer(value),
                CallScheme::Call,
                frame.is_static,
            ),
            CallKind::Delegate => (
                frame.acting,
                frame.caller,
                CallValue::Apparent(frame.value),
                CallScheme::DelegateCall,
                frame.is_static,
            ),
            CallKind::Static => (
                target,
                frame.acting,
                CallValue::Transfer(U256::ZERO),
                CallScheme::StaticCall,
                true,
            ),
        };
        let inputs = CallInputs {
            input: CallInput::Bytes(input),
            return_memory_offset: 0..0,
            gas_limit: gas,
            reservoir: 0,
            bytecode_address: target,
            known_bytecode,
            target_address,
            caller,
            value: call_value,
            scheme,
            is_static,
            charged_new_account_state_gas: false,
        };
        match self.run_nested(frame.depth + 1, FrameInput::Call(Box::new(inputs))) {
            Some(FrameResult::Call(outcome)) => subcall(&outcome.result, None),
            _ => SubcallResult::default(),
        }
    }

    fn create(
        &mut self,
        frame: &FrameEnv,
        code: Bytes,
        value: U256,
        salt: Option<B256>,
        gas: u64,
    ) -> SubcallResult {
        let scheme = match salt {
            Some(salt) => revm::context_interface::CreateScheme::Create2 { salt: salt.into() },
            None => revm::context_interface::CreateScheme::Create,
        };
        let inputs = CreateInputs::new(frame.acting, scheme, value, code, gas, 0);
        match self.run_nested(frame.depth + 1, FrameInput::Create(Box::new(inputs))) {
            Some(FrameResult::Create(outcome)) => subcall(&outcome.result, outcome.address),
            _ => SubcallResult::default(),
        }
    }
}

fn subcall(result: &InterpreterResult, created: Option<Address>) -> SubcallResult {
    let success = result.result.is_ok();
    let output =
        if success || result.result.is_revert() { result.output.clone() } else { Bytes::new() };
    SubcallResult {
        success,
        output,
        gas_left: result.gas.remaining(),
        created: created.filter(|_| success),
    }
}
