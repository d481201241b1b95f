//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_prover::{IOneStepProver, OneStepProver};

assay_contract_kit::abi_test!(
    OneStepProver,
    "OneStepProver.sol",
    [IOneStepProver::IOneStepProverCalls],
    [IOneStepProver::IOneStepProverErrors]
);
