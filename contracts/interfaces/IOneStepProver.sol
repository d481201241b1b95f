// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.23;

/// The one-step prover of Assay's dispute game (`IDisputeGame.proveStep` calls it): recomputes one
/// element of an engine trace, or one step of a reduction longer than a row, from inputs opened
/// against the agreed trace and the job's model id (`crates/engine/TRACE.md`; the proof's byte
/// layout is in `contracts/prover/src/proof.rs`) with `assay-step`, the engine's own per-element
/// definitions. Stateless: a view anyone may call, so a player can check a proof before it sends
/// it.
interface IOneStepProver {
    /// The proof is malformed, opens leaves the agreed trees do not hold or tensors the model id
    /// does not, or does not open the inputs the disputed step reads.
    error BadProof();

    /// The disputed step's value, little endian and zero-padded: for `kind` 0 the element
    /// `(row, col)` of leaf `leaf` (whose header hashes to `header`: the leaf hash over a zero
    /// cells root; a zero `header` asks for the output hash the agreed trace's last leaf `leaf`
    /// commits to), 1 that element from the reduction's final accumulator `agreed`, 2 the
    /// reduction's accumulator after term `term` from `agreed`, the one before it; 3 returns 1
    /// when the proof shows that the disputed token was sampled (the leaf before it is a
    /// Softmax); 4 the header leaf `leaf` must have (its hash over a zero cells root; zero when
    /// the trace must have ended), from the leaves before it and the config: where that depends
    /// on what the chain does not know (the job's seed or `max_tokens`) and the schedule allows
    /// two headers, the one of the two `claims` (defender's, challenger's) that is a candidate,
    /// and 0xff…ff when both or no side's claim can be judged (the prompt's tokens). `trees` are
    /// both sides' leaf-tree roots lifted to `height` levels (the leaves before `leaf` are the
    /// same under both), `modelId` the job's model.
    function prove(uint8 kind, bytes32 header, uint64 leaf, uint64 row, uint64 col, uint64 term, bytes32 agreed, bytes32[2] calldata claims, bytes32[2] calldata trees, uint8 height, bytes32 modelId, bytes calldata proof) external view returns (bytes32 value);
}
