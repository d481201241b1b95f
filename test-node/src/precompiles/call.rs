//! What every precompile handler gets: the call's inputs and its gas meter, and the ways a call
//! ends.

use alloy_primitives::Bytes;
use revm::interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult};

/// A call into an Arbitrum precompile: its inputs and a gas meter.
pub(crate) struct PrecompileCall<'a> {
    pub(crate) inputs: &'a CallInputs,
    pub(crate) input: Bytes,
    pub(crate) gas: Gas,
}

impl PrecompileCall<'_> {
    /// Charges gas; `false` when it runs out.
    pub(crate) fn charge(&mut self, gas: u64) -> bool {
        self.gas.record_regular_cost(gas)
    }

    pub(crate) fn ok(self, output: Vec<u8>) -> InterpreterResult {
        InterpreterResult::new(InstructionResult::Return, output.into(), self.gas)
    }

    pub(crate) fn revert(self, output: Vec<u8>) -> InterpreterResult {
        InterpreterResult::new(InstructionResult::Revert, output.into(), self.gas)
    }

    /// Reverts consuming all gas, as Nitro does for calls that break a method's rules.
    pub(crate) fn fail(mut self) -> InterpreterResult {
        self.gas.spend_all();
        InterpreterResult::new(InstructionResult::Revert, Bytes::new(), self.gas)
    }

    pub(crate) fn out_of_gas(mut self) -> InterpreterResult {
        self.gas.spend_all();
        InterpreterResult::new(InstructionResult::PrecompileOOG, Bytes::new(), self.gas)
    }
}
