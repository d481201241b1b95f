//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]
#![allow(clippy::arithmetic_side_effects)]

use alloy_sol_types::SolInterface;
#[allow(unused_imports)]
use assay_contract_kit::ownable::IOwnable;
use assay_contract_kit::{exported_abi, testing::check_abi};
use assay_jobs::{IJobMarket, JobMarket};

#[test]
fn exported_abi_matches_interface() {
    let functions = [
        IJobMarket::IJobMarketCalls::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableCalls::selectors().collect(),
    ]
    .concat();
    let errors = [
        IJobMarket::IJobMarketErrors::selectors().collect::<Vec<_>>(),
        IOwnable::IOwnableErrors::selectors().collect(),
    ]
    .concat();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/JobMarket.sol");
    check_abi(&exported_abi!(JobMarket), &path, &functions, &errors);
}
