//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_contract_kit::ownable::IOwnable;
use assay_sampling::{ISampling, Sampling};

assay_contract_kit::abi_test!(
    Sampling,
    "Sampling.sol",
    [ISampling::ISamplingCalls, IOwnable::IOwnableCalls],
    [ISampling::ISamplingErrors, IOwnable::IOwnableErrors]
);
