//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]
#![allow(clippy::arithmetic_side_effects)]

use alloy_sol_types::SolInterface;
#[allow(unused_imports)]
use assay_contract_kit::ownable::IOwnable;
use assay_contract_kit::{exported_abi, testing::check_abi};
use assay_staking::{IStaking, Staking};

#[test]
fn exported_abi_matches_interface() {
    let functions = [
        IStaking::IStakingCalls::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableCalls::selectors().collect(),
    ]
    .concat();
    let errors = [
        IStaking::IStakingErrors::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableErrors::selectors().collect(),
    ]
    .concat();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/Staking.sol");
    check_abi(&exported_abi!(Staking), &path, &functions, &errors);
}
