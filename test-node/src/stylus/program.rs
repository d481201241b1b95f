//! Activation: validating a program like Nitro's `activate` (feature set, limits, entrypoint,
//! memory), Nitro's activation-gas and data-fee formulas, and the activation record kept in
//! ArbWasm's storage (so snapshots, state dumps and overrides include it).

use alloy_primitives::U256;
use wasmparser::{Parser, Payload, TypeRef, Validator, WasmFeatures};

use super::state::PAGE_LIMIT;
use crate::error::Error;

/// Stylus version activations get (`StylusParams.Version`).
pub const STYLUS_VERSION: u16 = 2;
/// Fixed gas burnt by every activation (Nitro's `ActivateProgram`).
pub const ACTIVATION_FIXED_GAS: u64 = 1_659_168;
/// Minimum price of a byte of compiled code, in wei (`minPrice` of the data pricer).
const DATA_PRICE_WEI: u64 = 82_928_201;

/// Facts about a validated program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramInfo {
    /// Initial memory pages.
    pub footprint: u16,
    /// Gas Nitro's activation formula charges for this program.
    pub activation_gas: u64,
    /// The data fee in wei (at the minimum price).
    pub data_fee: U256,
}

/// Validates `wasm` the way Nitro's activation does.
///
/// # Errors
/// [`Error::Stylus`] naming the first rule the program breaks.
pub fn validate(wasm: &[u8]) -> Result<ProgramInfo, Error> {
    let fail = |msg: String| Err(Error::Stylus(msg));
    let features = WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::FLOATS
        | WasmFeatures::CALL_INDIRECT_OVERLONG;
    Validator::new_with_features(features)
        .validate_all(wasm)
        .map_err(|err| Error::Stylus(format!("invalid wasm: {err}")))?;
    let (mut funcs, mut types, mut data_bytes, mut elem_bytes, mut code_bytes) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut memories = Vec::new();
    let (mut entrypoint, mut pays_for_growth) = (false, false);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|err| Error::Stylus(err.to_string()))? {
            Payload::TypeSection(reader) => types = u64::from(reader.count()),
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(|err| Error::Stylus(err.to_string()))?;
                    if import.module == "vm_hooks" && import.name == "pay_for_memory_grow" {
                        pays_for_growth = true;
                    }
                    if let TypeRef::Memory(memory) = import.ty {
                        memories.push(memory);
                    }
                }
            }
            Payload::FunctionSection(reader) => funcs = u64::from(reader.count()),
            Payload::MemorySection(reader) => {
                for memory in reader {
                    memories.push(memory.map_err(|err| Error::Stylus(err.to_string()))?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(|err| Error::Stylus(err.to_string()))?;
                    entrypoint |= export.name == "user_entrypoint";
                }
            }
            Payload::StartSection { .. } => {
                return fail("programs may not have a start function".into());
            }
            Payload::DataSection(reader) => data_bytes = reader.range().len() as u64,
            Payload::ElementSection(reader) => elem_bytes = reader.range().len() as u64,
            Payload::CodeSectionStart { size, .. } => code_bytes = u64::from(size),
            _ => {}
        }
    }
    if !entrypoint {
        return fail("missing export user_entrypoint".into());
    }
    let [memory] = memories.as_slice() else {
        return fail(format!("programs need exactly one memory, found {}", memories.len()));
    };
    if memory.initial > PAGE_LIMIT {
        return fail(format!(
            "memory of {} pages exceeds the limit of {PAGE_LIMIT}",
            memory.initial
        ));
    }
    if memory.maximum != Some(memory.initial) && !pays_for_growth {
        return fail("missing import vm_hooks.pay_for_memory_grow (missing entrypoint?)".into());
    }
    let wasm_len = wasm.len() as u64;
    let micros = wasm_len * 31_733 / 100_000
        + funcs * 17_263 / 100_000
        + data_bytes * 17_376 / 100_000
        + elem_bytes * 17_376 / 100_000
        + memory.initial * 2_217
        // Nitro counts operators; the code section size is used as a proxy.
        + code_bytes * 535 / 1_000;
    let activation_gas = micros * 2 * 7_000_000 / 500_000;
    let asm_estimate =
        512_000 + funcs * 996_829 / 1_000 + types * 11_416 / 1_000 + wasm_len * 62_628 / 10_000;
    Ok(ProgramInfo {
        footprint: memory.initial as u16,
        activation_gas,
        data_fee: U256::from(asm_estimate) * U256::from(DATA_PRICE_WEI),
    })
}

/// An activation record as stored in ArbWasm's storage under the code hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    /// Stylus version the program was activated for (0: not activated).
    pub version: u16,
    /// Initial memory pages.
    pub footprint: u16,
    /// Block timestamp of activation.
    pub activated_at: u64,
}

impl Record {
    /// Packs the record into a storage word: `version ‖ footprint ‖ activated_at` from the top.
    pub fn encode(self) -> U256 {
        let mut word = [0u8; 32];
        word[..2].copy_from_slice(&self.version.to_be_bytes());
        word[2..4].copy_from_slice(&self.footprint.to_be_bytes());
        word[4..12].copy_from_slice(&self.activated_at.to_be_bytes());
        U256::from_be_bytes(word)
    }

    /// Unpacks a storage word.
    pub fn decode(word: U256) -> Self {
        let word = word.to_be_bytes::<32>();
        Self {
            version: u16::from_be_bytes([word[0], word[1]]),
            footprint: u16::from_be_bytes([word[2], word[3]]),
            activated_at: u64::from_be_bytes(word[4..12].try_into().expect("8 bytes")),
        }
    }

    /// Active for the current Stylus version.
    pub fn is_active(self) -> bool {
        self.version == STYLUS_VERSION
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    #[test]
    fn accepts_a_minimal_program_and_rejects_broken_ones() {
        let ok = wat(r#"(module (memory (export "memory") 1 1)
            (func (export "user_entrypoint") (param i32) (result i32) i32.const 0))"#);
        let info = validate(&ok).unwrap();
        assert_eq!(info.footprint, 1);
        assert!(info.data_fee > U256::ZERO);

        let no_entry = wat(r#"(module (memory (export "memory") 1 1))"#);
        assert!(validate(&no_entry).unwrap_err().to_string().contains("user_entrypoint"));
        let growable = wat(r#"(module (memory (export "memory") 1)
            (func (export "user_entrypoint") (param i32) (result i32) i32.const 0))"#);
        assert!(validate(&growable).unwrap_err().to_string().contains("pay_for_memory_grow"));
        let start = wat(r#"(module (memory (export "memory") 1 1) (func $s) (start $s)
            (func (export "user_entrypoint") (param i32) (result i32) i32.const 0))"#);
        assert!(validate(&start).is_err());
    }

    #[test]
    fn records_round_trip() {
        let record = Record { version: 2, footprint: 17, activated_at: 1_700_000_000 };
        assert_eq!(Record::decode(record.encode()), record);
        assert!(record.is_active());
        assert!(!Record::decode(U256::ZERO).is_active());
    }
}
