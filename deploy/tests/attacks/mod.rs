//! Attacks on the protocol (issue 15), one file each, scripted as the attacker would on the real
//! wasm. They run on the market test's network (`deploy/tests/market`), after its flows, so no
//! attack starts a node of its own.

mod slot_squatting;

pub(crate) use slot_squatting::*;
