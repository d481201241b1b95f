//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]
#![allow(clippy::arithmetic_side_effects)]

use alloy_sol_types::SolInterface;
#[allow(unused_imports)]
use assay_contract_kit::ownable::IOwnable;
use assay_contract_kit::{exported_abi, testing::check_abi};
use assay_registry::{IModelRegistry, ModelRegistry};

#[test]
fn exported_abi_matches_interface() {
    let functions =
        [IModelRegistry::IModelRegistryCalls::selectors().collect::<Vec<_>>(), Vec::new()].concat();
    let errors =
        [IModelRegistry::IModelRegistryErrors::selectors().collect::<Vec<_>>(), Vec::new()]
            .concat();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/ModelRegistry.sol");
    check_abi(&exported_abi!(ModelRegistry), &path, &functions, &errors);
}
