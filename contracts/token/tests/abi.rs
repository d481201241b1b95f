//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]
#![allow(clippy::arithmetic_side_effects)]

use alloy_sol_types::SolInterface;
use assay_contract_kit::{exported_abi, ownable::IOwnable, testing::check_abi};
use assay_token::{AssayToken, IAssayToken};

#[test]
fn exported_abi_matches_interface() {
    let functions = [
        IAssayToken::IAssayTokenCalls::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableCalls::selectors().collect(),
    ]
    .concat();
    let errors = [
        IAssayToken::IAssayTokenErrors::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableErrors::selectors().collect(),
    ]
    .concat();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/AssayToken.sol");
    check_abi(&exported_abi!(AssayToken), &path, &functions, &errors);
}
