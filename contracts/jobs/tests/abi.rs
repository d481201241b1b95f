//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_contract_kit::ownable::IOwnable;
use assay_jobs::{IJobMarket, JobMarket};

assay_contract_kit::abi_test!(
    JobMarket,
    "JobMarket.sol",
    [IJobMarket::IJobMarketCalls, IOwnable::IOwnableCalls],
    [IJobMarket::IJobMarketErrors, IOwnable::IOwnableErrors]
);
