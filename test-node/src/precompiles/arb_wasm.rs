//! ArbWasm (0x71): activation of Stylus programs (validation, compilation, the data fee paid
//! with refund of the excess, the `ProgramActivated` event) and the version and parameter
//! getters cargo-stylus and the StylusDeployer read.

use std::convert::Infallible;

use alloy_primitives::{Address, B256, Bytes, Log, U256, keccak256};
use alloy_sol_types::{SolCall, SolError, SolEvent, SolInterface, sol};
use revm::{
    context::{Block, ContextTr, JournalTr},
    database::Database,
    interpreter::InterpreterResult,
};

use super::call::PrecompileCall;
use crate::{
    arbos::{ARB_WASM, NETWORK_FEE_ACCOUNT},
    stylus::{
        code,
        program::{self, ACTIVATION_FIXED_GAS, Record, STYLUS_VERSION},
        runtime::runtime,
    },
};

sol! {
    interface ArbWasm {
        function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
        function stylusVersion() external view returns (uint16);
        function codehashVersion(bytes32 codehash) external view returns (uint16);
        function programVersion(address program) external view returns (uint16);
        function programMemoryFootprint(address program) external view returns (uint16);
        function programInitGas(address program) external view returns (uint64 gas, uint64 gasWhenCached);
        function programTimeLeft(address program) external view returns (uint64);
        function inkPrice() external view returns (uint32);
        function maxStackDepth() external view returns (uint32);
        function freePages() external view returns (uint16);
        function pageGas() external view returns (uint16);
        function pageRamp() external view returns (uint64);
        function pageLimit() external view returns (uint16);
        function minInitGas() external view returns (uint64 gas, uint64 cached);
        function initCostScalar() external view returns (uint64);
        function expiryDays() external view returns (uint16);
        function keepaliveDays() external view returns (uint16);
        function blockCacheSize() external view returns (uint16);
        function activationGas() external view returns (uint64);
    }
    event ProgramActivated(bytes32 indexed codehash, bytes32 moduleHash, address program, uint256 dataFee, uint16 version);
    error ProgramNotWasm();
    error ProgramUpToDate();
    error ProgramInsufficientValue(uint256 have, uint256 want);
    /// ArbWasm's `ProgramNotActivated()`.
    error ProgramNotActivated();
}

/// ABI data of `ProgramNotActivated()`.
pub(crate) fn program_not_activated() -> Bytes {
    ProgramNotActivated {}.abi_encode().into()
}

/// Seconds in Nitro's program expiry (365 days).
const EXPIRY_SECONDS: u64 = 365 * 24 * 3600;

fn db<T>(result: Result<T, Infallible>) -> T {
    result.unwrap_or_else(|never| match never {})
}

fn record<CTX: ContextTr<Db: Database<Error = Infallible>>>(
    ctx: &mut CTX,
    codehash: B256,
) -> Record {
    // The journal reads storage only of accounts it has loaded.
    db(ctx.journal_mut().load_account(ARB_WASM));
    Record::decode(db(ctx.journal_mut().sload(ARB_WASM, U256::from_be_bytes(codehash.0))).data)
}

fn codehash_of<CTX: ContextTr<Db: Database<Error = Infallible>>>(
    ctx: &mut CTX,
    program: Address,
) -> B256 {
    keccak256(db(ctx.journal_mut().code(program)).data)
}

/// Serves a call to ArbWasm.
pub(super) fn run<CTX>(ctx: &mut CTX, mut call: PrecompileCall<'_>) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    use ArbWasm::ArbWasmCalls as C;
    let Ok(decoded) = C::abi_decode(&call.input) else {
        return call.revert(Vec::new());
    };
    if !call.charge(800) {
        return call.out_of_gas();
    }
    let active_version = |ctx: &mut CTX, codehash: B256| {
        let record = record(ctx, codehash);
        record.is_active().then_some(record)
    };
    match decoded {
        C::activateProgram(args) => activate(ctx, call, args.program),
        C::stylusVersion(_) => {
            call.ok(ArbWasm::stylusVersionCall::abi_encode_returns(&STYLUS_VERSION))
        }
        C::codehashVersion(args) => match active_version(ctx, args.codehash) {
            Some(r) => call.ok(ArbWasm::codehashVersionCall::abi_encode_returns(&r.version)),
            None => call.revert(ProgramNotActivated {}.abi_encode()),
        },
        C::programVersion(args) => {
            let codehash = codehash_of(ctx, args.program);
            match active_version(ctx, codehash) {
                Some(r) => call.ok(ArbWasm::programVersionCall::abi_encode_returns(&r.version)),
                None => call.revert(ProgramNotActivated {}.abi_encode()),
            }
        }
        C::programMemoryFootprint(args) => {
            let codehash = codehash_of(ctx, args.program);
            match active_version(ctx, codehash) {
                Some(r) => {
                    call.ok(ArbWasm::programMemoryFootprintCall::abi_encode_returns(&r.footprint))
                }
                None => call.revert(ProgramNotActivated {}.abi_encode()),
            }
        }
        C::programInitGas(args) => {
            let codehash = codehash_of(ctx, args.program);
            match active_version(ctx, codehash) {
                Some(_) => call.ok(ArbWasm::programInitGasCall::abi_encode_returns(
                    &ArbWasm::programInitGasReturn { gas: 8_832, gasWhenCached: 352 },
                )),
                None => call.revert(ProgramNotActivated {}.abi_encode()),
            }
        }
        C::programTimeLeft(args) => {
            let codehash = codehash_of(ctx, args.program);
            match active_version(ctx, codehash) {
                Some(r) => {
                    let now: u64 = ctx.block().timestamp().saturating_to();
                    let left = (r.activated_at + EXPIRY_SECONDS).saturating_sub(now);
                    call.ok(ArbWasm::programTimeLeftCall::abi_encode_returns(&left))
                }
                None => call.revert(ProgramNotActivated {}.abi_encode()),
            }
        }
        C::inkPrice(_) => call.ok(ArbWasm::inkPriceCall::abi_encode_returns(&10_000)),
        C::maxStackDepth(_) => call.ok(ArbWasm::maxStackDepthCall::abi_encode_returns(&22_000)),
        C::freePages(_) => call.ok(ArbWasm::freePagesCall::abi_encode_returns(&2)),
        C::pageGas(_) => call.ok(ArbWasm::pageGasCall::abi_encode_returns(&1_000)),
        C::pageRamp(_) => call.ok(ArbWasm::pageRampCall::abi_encode_returns(&620_674_314)),
        C::pageLimit(_) => call.ok(ArbWasm::pageLimitCall::abi_encode_returns(&128)),
        C::minInitGas(_) => {
            call.ok(ArbWasm::minInitGasCall::abi_encode_returns(&ArbWasm::minInitGasReturn {
                gas: 8_832,
                cached: 352,
            }))
        }
        C::initCostScalar(_) => call.ok(ArbWasm::initCostScalarCall::abi_encode_returns(&100)),
        C::expiryDays(_) => call.ok(ArbWasm::expiryDaysCall::abi_encode_returns(&365)),
        C::keepaliveDays(_) => call.ok(ArbWasm::keepaliveDaysCall::abi_encode_returns(&31)),
        C::blockCacheSize(_) => call.ok(ArbWasm::blockCacheSizeCall::abi_encode_returns(&32)),
        C::activationGas(_) => call.ok(ArbWasm::activationGasCall::abi_encode_returns(&0)),
    }
}

/// `activateProgram(program)`, following Nitro's order of checks.
fn activate<CTX>(ctx: &mut CTX, mut call: PrecompileCall<'_>, program: Address) -> InterpreterResult
where
    CTX: ContextTr<Db: Database<Error = Infallible>>,
{
    if !call.charge(ACTIVATION_FIXED_GAS) {
        return call.out_of_gas();
    }
    let code = db(ctx.journal_mut().code(program)).data;
    let codehash = keccak256(&code);
    if record(ctx, codehash).is_active() {
        return call.revert(ProgramUpToDate {}.abi_encode());
    }
    if !code::is_stylus(&code) {
        return call.revert(ProgramNotWasm {}.abi_encode());
    }
    let journal = ctx.journal_mut();
    let fragment = |address| db(journal.code(address)).data.to_vec();
    let checked = code::wasm_of(&code, fragment).and_then(|wasm| {
        let info = program::validate(&wasm)?;
        runtime().prepare(codehash, &wasm)?;
        Ok((info, keccak256(&wasm)))
    });
    let (info, module_hash) = match checked {
        Ok(checked) => checked,
        Err(err) => {
            return call.revert(alloy_sol_types::Revert::from(err.to_string()).abi_encode());
        }
    };
    if !call.charge(info.activation_gas) {
        return call.out_of_gas();
    }
    let value = call.inputs.value.get();
    if value < info.data_fee {
        return call
            .revert(ProgramInsufficientValue { have: value, want: info.data_fee }.abi_encode());
    }
    let now: u64 = ctx.block().timestamp().saturating_to();
    let record = Record { version: STYLUS_VERSION, footprint: info.footprint, activated_at: now };
    let journal = ctx.journal_mut();
    db(journal.sstore(ARB_WASM, U256::from_be_bytes(codehash.0), record.encode()));
    // The call already moved `value` to ArbWasm: keep the fee, refund the rest to the caller.
    let fee_failed = db(journal.transfer(ARB_WASM, NETWORK_FEE_ACCOUNT, info.data_fee)).is_some();
    let refund_failed =
        db(journal.transfer(ARB_WASM, call.inputs.caller, value - info.data_fee)).is_some();
    if fee_failed || refund_failed {
        return call.revert(Vec::new());
    }
    let event = ProgramActivated {
        codehash,
        moduleHash: module_hash,
        program,
        dataFee: info.data_fee,
        version: STYLUS_VERSION,
    };
    journal.log(Log { address: ARB_WASM, data: event.encode_log_data() });
    call.ok(ArbWasm::activateProgramCall::abi_encode_returns(&ArbWasm::activateProgramReturn {
        version: STYLUS_VERSION,
        dataFee: info.data_fee,
    }))
}
