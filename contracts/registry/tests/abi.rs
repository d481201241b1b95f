//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_registry::{IModelRegistry, ModelRegistry};

assay_contract_kit::abi_test!(
    ModelRegistry,
    "ModelRegistry.sol",
    [IModelRegistry::IModelRegistryCalls],
    [IModelRegistry::IModelRegistryErrors]
);
