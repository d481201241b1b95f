//! The exported ABI matches the committed copy and the hand-written interface.
#![cfg(feature = "export-abi")]

use assay_dispute::{DisputeGame, IDisputeGame};

assay_contract_kit::abi_test!(
    DisputeGame,
    "DisputeGame.sol",
    [IDisputeGame::IDisputeGameCalls],
    [IDisputeGame::IDisputeGameErrors]
);
