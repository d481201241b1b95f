//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_contract_kit::ownable::IOwnable;
use assay_token::{AssayToken, IAssayToken};

assay_contract_kit::abi_test!(
    AssayToken,
    "AssayToken.sol",
    [IAssayToken::IAssayTokenCalls, IOwnable::IOwnableCalls],
    [IAssayToken::IAssayTokenErrors, IOwnable::IOwnableErrors]
);
