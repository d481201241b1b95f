//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_contract_kit::ownable::IOwnable;
use assay_staking::{IStaking, Staking};

assay_contract_kit::abi_test!(
    Staking,
    "Staking.sol",
    [IStaking::IStakingCalls, IOwnable::IOwnableCalls],
    [IStaking::IStakingErrors, IOwnable::IOwnableErrors]
);
