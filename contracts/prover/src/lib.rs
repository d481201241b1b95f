//! The one-step prover of the Assay dispute game (interface:
//! `contracts/interfaces/IOneStepProver.sol`). `DisputeGame` narrows a dispute to one element
//! (or one term of a reduction) and calls [`OneStepProver::prove`], which recomputes it from the
//! proof's openings with `assay-step`, the engine's own per-element definitions. It holds no
//! state, so it is its own contract: the game keeps its wasm for the game.
//!
//! Layout: `proof` (the proof's openings and the ops' elements), `reduction` (one step of a
//! reduction longer than a row).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

extern crate alloc;

pub mod proof;
pub mod reduction;
pub mod schedule;

use alloc::vec::Vec;

use alloy_primitives::{keccak256, Bytes, B256};
use alloy_sol_types::sol;
use assay_step::{
    commit::{Hash, Keccak, OpLeaf},
    schedule::Next,
};
use stylus_sdk::prelude::*;

sol!(
    #[sol(all_derives)]
    "../interfaces/IOneStepProver.sol"
);

assay_contract_kit::solidity_errors! {
    /// Every revert of the prover, each a named Solidity error.
    pub enum ProverError {
        BadProof(IOneStepProver::BadProof) [],
    }
}

/// What `prove` recomputes (`IOneStepProver.prove`'s `kind`).
pub mod kind {
    /// The disputed element, from its inputs.
    pub const ELEMENT: u8 = 0;
    /// A reduction's element, from the agreed final accumulator.
    pub const FINISH: u8 = 1;
    /// A reduction's accumulator after one term, from the agreed one before it.
    pub const TERM: u8 = 2;
    /// Whether the disputed token was sampled.
    pub const SAMPLED: u8 = 3;
    /// Which header leaf `leaf` must have (`schedule`).
    pub const SCHEDULE: u8 = 4;
}

/// The value of a [`kind::SCHEDULE`] proof when the chain cannot tell what the leaf must be.
pub const UNDECIDED: B256 = B256::repeat_byte(0xff);

/// keccak-256 through the hostio (`alloy_primitives::keccak256` with `native-keccak`).
pub struct HostKeccak;

impl Keccak for HostKeccak {
    fn keccak(&self, parts: &[&[u8]]) -> Hash {
        keccak256(parts.concat()).0
    }
}

/// The prover: no storage.
#[storage]
#[entrypoint]
pub struct OneStepProver {}

#[public]
impl OneStepProver {
    /// Nothing to set up: the prover holds no state.
    #[constructor]
    pub fn constructor(&mut self) {}

    /// The disputed step's value (see the interface).
    ///
    /// # Errors
    /// `BadProof`.
    #[allow(clippy::too_many_arguments)]
    pub fn prove(
        &self,
        kind: u8,
        header: B256,
        leaf: u64,
        row: u64,
        col: u64,
        term: u64,
        agreed: B256,
        claims: [B256; 2],
        trees: [B256; 2],
        height: u8,
        model_id: B256,
        proof: Bytes,
    ) -> Result<B256, ProverError> {
        let agreed_trees = proof::Agreed {
            roots: [trees[0].0, trees[1].0],
            height: u32::from(height),
            model: model_id.0,
        };
        let step = Step { kind, header, leaf, at: (row, col), term, acc: agreed.0, claims };
        value(&step, &agreed_trees, &proof)
            .map(|v| B256::right_padding_from(&v))
            .ok_or(ProverError::BadProof(IOneStepProver::BadProof {}))
    }
}

/// The step in dispute, as the game asks for it.
struct Step {
    kind: u8,
    header: B256,
    leaf: u64,
    at: (u64, u64),
    term: u64,
    acc: Hash,
    claims: [B256; 2],
}

/// The step's value from `bytes`, `None` for a proof that does not show it.
fn value(step: &Step, agreed: &proof::Agreed, bytes: &[u8]) -> Option<Vec<u8>> {
    if step.kind == kind::SCHEDULE {
        return scheduled(step, agreed, bytes).map(|h| h.to_vec());
    }
    if step.header.is_zero() {
        // Equal trees, different outputs: the Output leaf's hash decides.
        return (step.kind == kind::ELEMENT)
            .then(|| proof::output_of(&HostKeccak, bytes, agreed, step.leaf))
            .flatten()
            .map(|h| h.to_vec());
    }
    // The proof opens the disputed leaf's header first (any cells root), then its inputs.
    let (head_len, rest) = bytes.split_at_checked(2)?;
    let head_len = usize::from(u16::from_le_bytes([head_len[0], head_len[1]]));
    let (head, inputs) = rest.split_at_checked(head_len)?;
    let header = OpLeaf::parse(head).filter(|h| {
        OpLeaf { cells_root: [0; 32], ..*h }.hash(&HostKeccak) == Some(step.header.0)
    })?;
    let target = proof::Target { leaf: step.leaf, header, row: step.at.0, col: step.at.1 };
    let opened = proof::open(&HostKeccak, inputs, agreed, &target)?;
    match step.kind {
        kind::ELEMENT => proof::recompute(&target, &opened),
        kind::FINISH => reduction::finish(&target, &step.acc, &opened),
        kind::TERM => reduction::term(&target, step.term, &step.acc, &opened).map(|s| s.to_vec()),
        kind::SAMPLED => reduction::sampled(&target, &opened).then(|| alloc::vec![1]),
        _ => None,
    }
}

/// The header leaf `leaf` must have (its hash over a zero cells root), zero when the trace must
/// have ended before it, [`UNDECIDED`] when the chain cannot tell. The proof opens leaves
/// `leaf − 1`, `leaf − 2`, `leaf − 3` (those that exist; `leaf − 1` with its cell when it is the
/// head's chosen token), then leaf 0 when it is not among them (headers only), then the config.
fn scheduled(step: &Step, agreed: &proof::Agreed, bytes: &[u8]) -> Option<B256> {
    let leaf = step.leaf;
    if leaf == 0 {
        // The prompt's tokens: the tokenizer's output.
        return bytes.is_empty().then_some(UNDECIDED);
    }
    let none =
        OpLeaf { step: 0, layer: 0, op: 0, dtype: 0, rank: 0, dims: [0; 8], cells_root: [0; 32] };
    let target = proof::Target { leaf, header: none, row: 0, col: 0 };
    let opened = proof::open(&HostKeccak, bytes, agreed, &target)?;
    let config = opened.config.as_ref()?;
    let back_count = usize::try_from(leaf.min(3)).ok()?;
    let with_prompt = leaf > 3;
    let want = back_count.checked_add(usize::from(with_prompt))?;
    (opened.leaves.len() == want && opened.model.is_empty()).then_some(())?;
    let (back, rest) = opened.leaves.split_at(back_count);
    for (k, l) in back.iter().enumerate() {
        (l.index.checked_add(k as u64)?.checked_add(1)? == leaf).then_some(())?;
        (k == 0 || l.cells.opened.is_empty()).then_some(())?;
    }
    let prompt = match rest {
        [p] => (p.index == 0 && p.cells.opened.is_empty()).then_some(p)?,
        _ => back.last()?,
    };
    (prompt.index == 0 && prompt.leaf.op == assay_step::op::TOKENS).then_some(())?;
    let chosen =
        back[0].cells.element(0, 0).and_then(|b| Some(u32::from_le_bytes(b.try_into().ok()?)));
    let headers: Vec<OpLeaf> = back.iter().map(|l| l.leaf).collect();
    let shape = schedule::shape(config)?;
    let hash = |h: OpLeaf| h.hash(&HostKeccak).map(B256::from);
    Some(match assay_step::schedule::next(&shape, &prompt.leaf, &headers, chosen)? {
        Next::Leaf(h) => hash(h)?,
        Next::End => B256::ZERO,
        Next::Either(a, b) => {
            // The claim that is a candidate wins; two candidates cannot be told apart.
            let (a, b) = (hash(a)?, hash(b)?);
            let [defender, challenger] = step.claims;
            match ([a, b].contains(&defender), [a, b].contains(&challenger)) {
                (true, true) => UNDECIDED,
                (true, false) => defender,
                (false, true) => challenger,
                (false, false) => a,
            }
        }
        Next::Undecided => UNDECIDED,
    })
}
