//! Which elements of an engine trace the dispute game's one-step prover decides
//! (`contracts/prover`): the game ends without a verdict on the others.

use crate::{commit::OpLeaf, op, reduce::Kind};

/// Whether the prover decides the elements of leaf `header`: every op's but the prompt's tokens
/// (and a sampled token's, which a proof shows in the game: `IOneStepProver`'s kind 3).
pub fn provable(header: &OpLeaf) -> bool {
    if Kind::of(header).is_some() {
        return true;
    }
    let code = header.op;
    let linear = op::LINEAR_INPUTS.iter().any(|(c, ..)| *c == code);
    let i32_op = matches!(
        code,
        op::EMBED
            | op::RESIDUAL
            | op::ACTIVATION
            | op::RMS_NORM
            | op::LAYER_NORM
            | op::LOGITS
            | op::SCORES
    );
    match (code, header.dtype) {
        (_, op::DTYPE_I32) => linear || i32_op,
        (op::NORMALIZE, op::DTYPE_I16) | (op::OUTPUT, op::DTYPE_I16 | op::DTYPE_U32) => true,
        (op::TOKENS, op::DTYPE_U32) => header.layer == 0 && header.step >= 1,
        _ => false,
    }
}
