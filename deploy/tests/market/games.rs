//! Dispute games played move by move on the chain over a real engine trace: a greedy generation
//! of the tiny llama of `assay-convert` (random weights), every output kept. The asserter's trace
//! is the honest one with exactly one element of one op corrupted (`Trace::corrupt`); a validator
//! reveals the honest trace root. Both sides answer every move from their own trace through
//! `assay_protocol::game::Side`, as the services do. Each game must end on that op leaf, cell
//! and element. An element of every op the prover decides, in the llama's generation and in a
//! tiny BERT's embedding job, is then recomputed on chain from the one-step proof; a Context
//! element (a reduction over the KV cache) ends without a verdict.

use assay_convert::random::{tiny_bert, tiny_llama};
use assay_engine::{
    chat::Message,
    job::{JobInput, Model},
    kernels::Scalar,
    model::ModelFile,
    trace::{Keep, Op, Trace},
};
use assay_protocol::{codes::GamePhase, game::Side};
use assay_step::reduce::term_points;

use super::*;

/// The model the games' job runs: the tiny llama of `assay-convert` (the market's model id).
pub(super) fn model_blob() -> Vec<u8> {
    tiny_llama(5).to_blob()
}

/// The generation of the tiny llama both sides ran.
pub(super) fn generation() -> JobInput {
    JobInput::Generate { messages: vec![Message::user("the weather is")], max_tokens: 4, seed: 0 }
}

/// The run both sides made (the tiny llama's `generation()`), and the asserter's copy with one
/// element of the `op` output of step 0, layer 2 (layer 0 for `Embed`, the head for `Logits`)
/// corrupted: `(honest, lie, leaf, element)`.
fn traces(op: Op) -> (Trace, Trace, usize, usize) {
    traces_of(op, &model_blob(), &generation())
}

/// [`traces`] of `input` run on the model `blob`.
fn traces_of(op: Op, blob: &[u8], input: &JobInput) -> (Trace, Trace, usize, usize) {
    traces_at((op, 0, None), blob, input)
}

/// [`traces_of`] with the corrupted op taken from forward step `step` (0 the prefill, `[t, n]`
/// outputs; later steps decode one token).
/// `layer` picks the op's layer where it is not the usual one (the head's `Tokens`).
pub(super) fn traces_at(
    (op, step, layer): (Op, u32, Option<u32>),
    blob: &[u8],
    input: &JobInput,
) -> (Trace, Trace, usize, usize) {
    let model = Model::load(blob).expect("the model loads");
    let (_, honest) = model.run_keeping(&Scalar, input, Keep::All).expect("runs");
    // The embedding is layer 0, the logits the head; every other op is taken from layer 2.
    let in_layer = |l: u32| {
        layer.is_none_or(|want| want == l)
            && match op {
                _ if layer.is_some() => true,
                Op::Embed | Op::Tokens | Op::Output => l == 0,
                Op::Logits | Op::Normalize | Op::Pool => true,
                _ => l == 2,
            }
    };
    // The Output leaf is alone in the last step.
    let leaf = honest
        .info()
        .iter()
        .position(|i| {
            (i.step == step || op == Op::Output) && i.op == op as u32 && in_layer(i.layer)
        })
        .expect("the op's leaf");
    let row = honest.info()[leaf].row_len();
    // Row 1 where there is one (the logits have a single row).
    let first = if honest.info()[leaf].dims[0] > 1 { row } else { 0 };
    // Row 1; for an activation, an element whose gate reads the model's table.
    let in_table = |e: &usize| {
        op != Op::Activation || {
            let gate = honest.data(leaf - 2).expect("kept");
            let g = i32::from_le_bytes(gate[e * 4..e * 4 + 4].try_into().expect("4 bytes"));
            (-32_768..32_768).contains(&g)
        }
    };
    let candidates: Vec<usize> = (first..first + row).filter(in_table).collect();
    let element = candidates[candidates.len() / 2];
    let mut lie = honest.clone();
    assert!(lie.corrupt(leaf, element));
    (honest, lie, leaf, element)
}

async fn play<C: SolCall>(m: &mut Market, who: Address, call: C, step: &str) -> TransactionReceipt {
    let receipt = m.send(m.miner(who), m.game, call, U256::ZERO).await;
    m.gas.add(step, &receipt);
    receipt
}

pub(super) fn hashes(h: Vec<[u8; 32]>) -> Vec<B256> {
    h.into_iter().map(B256::from).collect()
}

/// The output hash the honest side reveals in the games here.
pub(super) fn honest_output() -> B256 {
    keccak256("the honest output")
}

/// A job asserted with the corrupted trace and challenged: the first validator drawn reveals the
/// honest one, the others agree with the asserter (`others_agree`) or reveal the honest one too,
/// and the games open. Returns the job, the asserter, the validators (the challenger first), the
/// challenger's game and the block it opened in.
pub(super) async fn open_game(
    m: &mut Market,
    honest_trace: &Trace,
    lie_trace: &Trace,
    others_agree: bool,
) -> (U256, Address, Vec<Address>, U256, u64) {
    let (truth, wrong) = (honest_output(), keccak256("the corrupted output"));
    m.traces.insert(truth, B256::from(honest_trace.root(&truth.0)));
    m.traces.insert(wrong, B256::from(lie_trace.root(&wrong.0)));
    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, wrong, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let challenger = validators[0];
    let votes: Vec<(Address, B256)> = validators
        .iter()
        .map(|v| (*v, if *v == challenger || !others_agree { truth } else { wrong }))
        .collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    let step = if others_agree {
        "finalizeChallenge (disputed, 1 game)"
    } else {
        "finalizeChallenge (disputed, a game per validator)"
    };
    let receipt = m.finalize(job, step).await;
    let opened = events::<IDisputeGame::GameOpened>(&receipt, m.game);
    let game = opened.iter().find(|g| g.challenger == challenger).expect("a game").gameId;
    (job, asserter, validators, game, receipt.block_number.expect("mined"))
}

/// A job asserted with the corrupted trace, the first validator drawn revealing the honest one
/// and the others agreeing with the asserter (`others_agree`) or revealing the honest one too;
/// the asserter and the first validator play their game down to the disputed element. Returns
/// the job, the asserter, the validators (the challenger first), the game and the last move's
/// receipt.
async fn narrow(
    m: &mut Market,
    honest_trace: &Trace,
    lie_trace: &Trace,
    others_agree: bool,
) -> (U256, Address, Vec<Address>, U256, TransactionReceipt) {
    let (job, asserter, validators, game, _) =
        open_game(m, honest_trace, lie_trace, others_agree).await;
    let challenger = validators[0];
    let (honest, lie) = (Side::new(honest_trace), Side::new(lie_trace));
    let arity_bits = u32::from(m.view(m.game, IDisputeGame::configCall {}).await.arityBits);

    let (n, root) = lie.root();
    let open = IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
    play(m, asserter, open, "DisputeGame.openRoot").await;
    let (n, root) = honest.root();
    let open = IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
    play(m, challenger, open, "DisputeGame.openRoot").await;

    let (mut rounds, mut leaf) = (0, 0);
    loop {
        let phase = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await.phase;
        let node = m.view(m.game, IDisputeGame::disputedNodeCall { gameId: game }).await;
        let at = (u32::from(node.level), node.index);
        let down = arity_bits.min(at.0);
        if phase == GamePhase::Leaves as u8 {
            let d = hashes(lie.leaf_children(node.width, at, down).expect("a node"));
            let c = hashes(honest.leaf_children(node.width, at, down).expect("a node"));
            let call = IDisputeGame::bisectCall {
                gameId: game,
                children: d.clone(),
                defenderChildren: vec![],
            };
            play(m, asserter, call, "DisputeGame.bisect (leaves)").await;
            let call = IDisputeGame::bisectCall { gameId: game, children: c, defenderChildren: d };
            play(m, challenger, call, "DisputeGame.bisect (leaves, compares)").await;
            rounds += 1;
        } else if phase == GamePhase::Leaf as u8 {
            leaf = node.index;
            let d = lie.leaf_or_none(leaf).expect("kept");
            let c = honest.leaf_or_none(leaf).expect("kept");
            let call = IDisputeGame::openLeafCall {
                gameId: game,
                preimage: d.clone().into(),
                defenderPreimage: vec![].into(),
            };
            play(m, asserter, call, "DisputeGame.openLeaf").await;
            let call = IDisputeGame::openLeafCall {
                gameId: game,
                preimage: c.into(),
                defenderPreimage: d.into(),
            };
            let receipt = play(m, challenger, call, "DisputeGame.openLeaf (compares)").await;
            if m.view(m.game, IDisputeGame::gameCall { gameId: game }).await.phase
                == GamePhase::Step as u8
            {
                // Different headers: the schedule decides.
                return (job, asserter, validators, game, receipt);
            }
        } else if phase == GamePhase::Cells as u8 {
            let d = hashes(lie.cell_children(leaf, at, down).expect("a node"));
            let c = hashes(honest.cell_children(leaf, at, down).expect("a node"));
            let call = IDisputeGame::bisectCall {
                gameId: game,
                children: d.clone(),
                defenderChildren: vec![],
            };
            play(m, asserter, call, "DisputeGame.bisect (cells)").await;
            let call = IDisputeGame::bisectCall { gameId: game, children: c, defenderChildren: d };
            play(m, challenger, call, "DisputeGame.bisect (cells, compares)").await;
            rounds += 1;
        } else {
            assert_eq!(phase, GamePhase::Cell as u8);
            let (d, c) = (
                lie.cell(leaf, node.index).expect("a cell"),
                honest.cell(leaf, node.index).expect("a cell"),
            );
            let call = IDisputeGame::openCellCall {
                gameId: game,
                data: d.clone().into(),
                defenderData: vec![].into(),
            };
            play(m, asserter, call, "DisputeGame.openCell").await;
            let call =
                IDisputeGame::openCellCall { gameId: game, data: c.into(), defenderData: d.into() };
            let receipt = play(m, challenger, call, "DisputeGame.openCell (compares)").await;
            println!(
                "dispute game over a trace of {} leaves (arity 2^{arity_bits}): {rounds} bisection rounds",
                honest_trace.leaves().len()
            );
            return (job, asserter, validators, game, receipt);
        }
    }
}

/// The `(leaf, op, cell, element within the cell)` a corruption of `element` of `leaf` is.
fn location(trace: &Trace, leaf: usize, element: usize) -> (u64, u32, u64, u64) {
    let info = &trace.info()[leaf];
    let per_cell = 1024 / info.element_size();
    let per_row = info.row_len().div_ceil(per_cell) as u64;
    let (row, col) = ((element / info.row_len()) as u64, (element % info.row_len()) as u64);
    (leaf as u64, info.op, row * per_row + col / per_cell as u64, col % per_cell as u64)
}

/// A token of the prompt (the tokenizer's output, which the prover does not decide): the game
/// ends on exactly that element, without a verdict; the job is refunded and nobody is slashed.
pub(super) async fn a_game_narrows_a_real_trace_to_the_corrupted_element(m: &mut Market) {
    let (honest, lie, leaf, element) = traces(Op::Tokens);
    let (job, asserter, validators, _, receipt) = narrow(m, &honest, &lie, true).await;
    let challenger = validators[0];
    let step = event::<IDisputeGame::StepDisputed>(&receipt, m.game);
    assert_eq!(
        (step.leaf, step.op, step.cell, u64::from(step.element)),
        location(&honest, leaf, element),
        "the game ends on the corrupted element"
    );
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::NoVerdict as u8);
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    assert_eq!((settled.status, settled.losers), (REJECTED, vec![]));
    assert_eq!(m.job_status(job).await, REJECTED);
    for party in [asserter, challenger] {
        assert_eq!(m.pool(party).await.2, 0, "{party} unfrozen");
    }
    m.traces.clear();
}

/// A Residual element: the honest challenger sends the one-step proof, the chain recomputes the
/// element and the asserter loses (and its other games, against the other honest validators, on
/// time): it is slashed, the job rejected.
pub(super) async fn a_corrupted_residual_is_proven_wrong_on_chain(m: &mut Market) {
    proven_wrong(m, Op::Residual).await;
}

/// A SiLU-gated activation element: the proof also opens the model's `lut.silu` entry against
/// the registered model id.
pub(super) async fn a_corrupted_activation_is_proven_wrong_against_the_model(m: &mut Market) {
    proven_wrong(m, Op::Activation).await;
}

/// FfnDown, then Value, AttnOut, FfnGate and FfnUp elements: the proof opens the layer's input
/// row whole and its weight row, multiplier, block ratios and bias against the model id.
pub(super) async fn a_corrupted_linear_layer_is_proven_wrong_against_its_weights(m: &mut Market) {
    proven_wrong(m, Op::FfnDown).await;
    for op in [Op::Value, Op::AttnOut, Op::FfnGate, Op::FfnUp] {
        proven_wrong(m, op).await;
    }
}

/// An RmsNorm element: the proof opens the input row whole, the layer's gamma entry and the
/// model's config leaf (`eps_q24`, `layers`).
pub(super) async fn a_corrupted_norm_is_proven_wrong_against_the_config(m: &mut Market) {
    proven_wrong(m, Op::RmsNorm).await;
}

/// An Embed element of the llama: the proof opens the row's token id in the `Tokens` leaf just
/// before and the `emb` table's weight and multiplier of that id.
pub(super) async fn a_corrupted_embedding_is_proven_wrong_against_the_table(m: &mut Market) {
    proven_wrong(m, Op::Embed).await;
}

/// A Query and a Key element of the llama's prefill and a Query element of its second decode
/// step: the proof opens the input row, the layer's weights at
/// the element's pair of columns and the `rope.cos`/`rope.sin` entries of the row's position
/// (the prompt's length read from step 0's `Tokens` leaf).
pub(super) async fn corrupted_rotated_projections_are_proven_wrong(m: &mut Market) {
    proven_wrong(m, Op::Query).await;
    proven_wrong(m, Op::Key).await;
    // In a decode step the row's position is the prompt's length plus the step minus one.
    proven_wrong_at(m, Op::Query, 2, &model_blob(), &generation()).await;
}

/// A Logits element of the llama's head: the proof opens the final norm's row whole, the tied
/// `emb.w` row of that token and its `head.m` multiplier.
pub(super) async fn a_corrupted_logit_is_proven_wrong_against_the_head(m: &mut Market) {
    proven_wrong(m, Op::Logits).await;
}

/// Scores elements: in the llama's prefill the element picked (query 0, a later position) is a
/// causal-mask zero, proven by the header and the config alone; in its second decode step the
/// proof opens the query's head slice, the key of the position from the step that wrote it (the
/// prompt's length read from step 0's `Tokens` leaf) and `attn.scale`.
pub(super) async fn corrupted_scores_are_proven_wrong(m: &mut Market) {
    let (honest, _, leaf, element) = traces(Op::Scores);
    let info = &honest.info()[leaf];
    let (row, col) = (element / info.row_len(), element % info.row_len());
    let (heads, p0) = (info.dims[1] as usize, (info.dims[2] - info.dims[0]) as usize);
    assert!(col > p0 + row / heads, "a masked element");
    proven_wrong(m, Op::Scores).await;
    proven_wrong_at(m, Op::Scores, 2, &model_blob(), &generation()).await;
}

/// Copies: the token a decode step reads is the one the step before chose, and a generation's
/// output element `e` is the token step `e` chose (the proof opens that `Tokens` leaf).
pub(super) async fn corrupted_token_copies_are_proven_wrong(m: &mut Market) {
    proven_wrong_at(m, Op::Tokens, 1, &model_blob(), &generation()).await;
    proven_wrong(m, Op::Output).await;
}

/// Reductions longer than a row: the game bisects the running accumulators. A Context element of
/// the prefill whose accumulators the asserter posts honestly goes to the element's last step
/// (the context of the agreed sum); with accumulators wrong from the middle term on, Context
/// (a decode step: values from the steps that wrote them), Softmax (the maximum's pass and the
/// sum's) and the greedy token choice (over the logits) are narrowed to that term, whose
/// one-step proof recomputes the accumulator after it.
pub(super) async fn corrupted_reductions_are_proven_wrong_term_by_term(m: &mut Market) {
    let (blob, input) = (model_blob(), generation());
    // The tiny llama's head.
    const HEAD: u32 = 3;
    proven_wrong_reduced(m, (Op::Context, 0, None), &blob, &input, Accumulators::Honest).await;
    proven_wrong_reduced(m, (Op::Context, 2, None), &blob, &input, Accumulators::WrongFromMiddle)
        .await;
    proven_wrong_reduced(m, (Op::Softmax, 0, None), &blob, &input, Accumulators::WrongFromMiddle)
        .await;
    proven_wrong_reduced(m, (Op::Softmax, 2, None), &blob, &input, Accumulators::Honest).await;
    proven_wrong_reduced(
        m,
        (Op::Tokens, 1, Some(HEAD)),
        &blob,
        &input,
        Accumulators::WrongFromMiddle,
    )
    .await;
}

/// A token sampled from the head's softmax (a job with a seed, which the chain does not know):
/// after the element, the honest side proves that the leaf before the token is a `Softmax`
/// and the game ends without a verdict; the job is refunded and nobody is slashed.
pub(super) async fn a_sampled_token_ends_without_a_verdict(m: &mut Market) {
    let sampled = JobInput::Generate {
        messages: vec![Message::user("the weather is")],
        max_tokens: 4,
        seed: 42,
    };
    let place = (Op::Tokens, 1, Some(3));
    let (honest_trace, lie, leaf, _) = traces_at(place, &model_blob(), &sampled);
    assert_eq!(honest_trace.info()[leaf - 1].op, Op::Softmax as u32, "sampled");
    let (job, asserter, validators, game, _) = narrow(m, &honest_trace, &lie, true).await;
    let challenger = validators[0];
    let state = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await;
    assert_eq!(state.phase, GamePhase::Reduction as u8);
    let blob = model_blob();
    let model = ModelFile::parse(&blob).expect("parses");
    let honest = Side::with_model(&honest_trace, &model);
    let height = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await.height;
    let proof = honest.sampled_proof(leaf as u64, u32::from(height)).expect("sampled");
    let parties = (job, game, asserter, challenger);
    proven_without_a_verdict(m, parties, proof, "DisputeGame.proveStep (sampled token)").await;
}

/// Sends `proof` for the challenger of `game` (of `job`, against `asserter`): the game must end
/// without a verdict, the job be refunded and nobody slashed or left frozen.
async fn proven_without_a_verdict(
    m: &mut Market,
    (job, game, asserter, challenger): (U256, U256, Address, Address),
    proof: Vec<u8>,
    step: &str,
) {
    let prove = IDisputeGame::proveStepCall { gameId: game, proof: proof.into() };
    let receipt = play(m, challenger, prove, step).await;
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::NoVerdict as u8);
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    assert_eq!((settled.status, settled.losers), (REJECTED, vec![]));
    for party in [asserter, challenger] {
        assert_eq!(m.pool(party).await.2, 0, "{party} unfrozen");
    }
    assert_eq!(m.job_status(job).await, REJECTED);
    m.traces.clear();
}

/// Leaves whose headers are not the schedule's (the asserter's trace calls a Scores leaf, and the
/// head's chosen token, Context ones): the openings of the leaf go to the Step phase over its
/// header, the proof opens the three leaves before it, the prompt's `Tokens` and the config, the
/// prover names the schedule's header and the asserter loses.
pub(super) async fn leaves_out_of_schedule_are_proven_wrong(m: &mut Market) {
    leaf_out_of_schedule(m, (Op::Scores, 0, None)).await;
    // After the head's logits the schedule allows a softmax (sampling) or the choice (greedy):
    // the claim that is neither loses to the one that is.
    leaf_out_of_schedule(m, (Op::Tokens, 1, Some(3))).await;
}

/// [`leaves_out_of_schedule_are_proven_wrong`] for the leaf at `place`, relabelled `Context`.
async fn leaf_out_of_schedule(m: &mut Market, place: (Op, u32, Option<u32>)) {
    let (honest_trace, _, leaf, _) = traces_at(place, &model_blob(), &generation());
    let mut lie = honest_trace.clone();
    assert!(lie.relabel(leaf, Op::Context));
    let (job, asserter, validators, game, _) = narrow(m, &honest_trace, &lie, true).await;
    let challenger = validators[0];
    let terms = m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
    let element = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
    assert_eq!((terms.kind, element.leaf), (4, leaf as u64));
    let header = |t: &Trace| {
        let info = &t.info()[leaf];
        B256::from(assay_engine::hash::keccak(&info.preimage(&[0; 32])))
    };
    let claims = (element.defenderValue, element.challengerValue);
    assert_eq!(claims, (header(&lie), header(&honest_trace)));
    let blob = model_blob();
    let model = ModelFile::parse(&blob).expect("parses");
    let proof = Side::with_model(&honest_trace, &model)
        .schedule_proof(leaf as u64, u32::from(element.height))
        .expect("a proof");
    let before = m.pool(asserter).await.0;
    let prove = IDisputeGame::proveStepCall { gameId: game, proof: proof.clone().into() };
    let receipt = play(m, challenger, prove, "DisputeGame.proveStep (schedule)").await;
    println!("one-step proof of a leaf's header: {} bytes of calldata", proof.len());
    let proven = event::<IDisputeGame::StepProven>(&receipt, m.game);
    assert_eq!(proven.value, header(&honest_trace));
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::ChallengerWon as u8);
    // The validators that agreed with the asserter lose with it.
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    let mut losers = settled.losers.clone();
    losers.sort();
    let mut want = [&[asserter][..], &validators[1..]].concat();
    want.sort();
    assert_eq!((settled.status, losers), (REJECTED, want));
    assert_eq!(m.pool(asserter).await.0, before - m.params.slash_amount, "slashed");
    assert_eq!(m.job_status(job).await, REJECTED);
    m.traces.clear();
}

/// The prompt's `Tokens` leaf under another header: its length is the tokenizer's, which the
/// chain does not run, so the schedule cannot judge leaf 0 and the game ends without a verdict.
pub(super) async fn a_prompt_header_ends_without_a_verdict(m: &mut Market) {
    let (honest_trace, _, _, _) = traces(Op::Scores);
    let mut lie = honest_trace.clone();
    assert!(lie.relabel(0, Op::Embed));
    let (job, asserter, validators, game, _) = narrow(m, &honest_trace, &lie, true).await;
    let element = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
    let terms = m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
    assert_eq!((element.leaf, terms.kind), (0, 4));
    let blob = model_blob();
    let file = ModelFile::parse(&blob).expect("parses");
    let proof = Side::with_model(&honest_trace, &file).schedule_proof(0, 0).expect("a proof");
    assert!(proof.is_empty(), "nothing to open before leaf 0");
    let parties = (job, game, asserter, validators[0]);
    proven_without_a_verdict(m, parties, proof, "DisputeGame.proveStep (schedule, prompt)").await;
}

/// A generation cut short (three tokens where the job asked for four): after a token that is not
/// the end of turn the next leaf is another step or the output, which only the job's
/// `max_tokens` tells; the prover says so and the game ends without a verdict.
pub(super) async fn a_length_the_chain_cannot_tell_ends_without_a_verdict(m: &mut Market) {
    let model = Model::load(&model_blob()).expect("the model loads");
    let (_, honest_trace) = model.run_keeping(&Scalar, &generation(), Keep::All).expect("runs");
    let short = JobInput::Generate {
        messages: vec![Message::user("the weather is")],
        max_tokens: 3,
        seed: 0,
    };
    let (_, lie) = model.run_keeping(&Scalar, &short, Keep::All).expect("runs");
    let (job, asserter, validators, game, _) = narrow(m, &honest_trace, &lie, true).await;
    let challenger = validators[0];
    let element = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
    let first_output = lie.info().iter().position(|i| i.op == Op::Output as u32).unwrap();
    assert_eq!(element.leaf, first_output as u64, "the liar's output against another step");
    let blob = model_blob();
    let file = ModelFile::parse(&blob).expect("parses");
    let proof = Side::with_model(&honest_trace, &file)
        .schedule_proof(element.leaf, u32::from(element.height))
        .expect("a proof");
    let parties = (job, game, asserter, challenger);
    proven_without_a_verdict(m, parties, proof, "DisputeGame.proveStep (schedule, undecided)")
        .await;
}

/// The asserter claims another output over the honest trace (its leaf tree is the honest one):
/// after the roots the game disputes the output itself, and the opening of the agreed trace's
/// last leaf (the `Output` op, every cell) shows which output is its hash. The asserter loses
/// that game by proof and the others on time; a tampered opening is refused.
pub(super) async fn an_output_that_is_not_its_traces_loses_to_the_output_leaf(m: &mut Market) {
    let model = Model::load(&model_blob()).expect("the model loads");
    let (out, trace) = model.run_keeping(&Scalar, &generation(), Keep::All).expect("runs");
    let (truth, wrong) = (B256::from(out.output_hash), keccak256("another output"));
    m.traces.insert(truth, B256::from(trace.root(&truth.0)));
    m.traces.insert(wrong, B256::from(trace.root(&wrong.0)));

    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, wrong, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let votes: Vec<(Address, B256)> = validators.iter().map(|v| (*v, truth)).collect();
    m.validate(job, onchain_job_key(job), &votes).await;
    let receipt = m.finalize(job, "finalizeChallenge (disputed, a game per validator)").await;
    let challenger = validators[0];
    let opened = events::<IDisputeGame::GameOpened>(&receipt, m.game);
    let game = opened.iter().find(|g| g.challenger == challenger).expect("a game").gameId;

    let (n, root) = Side::new(&trace).root();
    for side in [asserter, challenger] {
        let open = IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
        play(m, side, open, "DisputeGame.openRoot").await;
    }
    let state = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await;
    assert_eq!(state.phase, GamePhase::Step as u8, "equal trees: straight to the output");
    let disputed = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
    let last = u64::from(n) - 1;
    assert_eq!(
        (disputed.leaf, disputed.defenderValue, disputed.challengerValue),
        (last, wrong, truth)
    );

    let proof = Side::new(&trace).output_proof(u32::from(disputed.height)).expect("a proof");
    let mut tampered = proof.clone();
    let at = tampered.len() - 1;
    tampered[at] ^= 1;
    let bad = IDisputeGame::proveStepCall { gameId: game, proof: tampered.into() };
    let e: IDisputeGame::BadProof = m.revert(m.miner(challenger), m.game, bad).await;
    assert_eq!(e.gameId, game);
    let prove = IDisputeGame::proveStepCall { gameId: game, proof: proof.clone().into() };
    let receipt = play(m, challenger, prove, "DisputeGame.proveStep (Output)").await;
    println!("proof of the output leaf: {} bytes of calldata", proof.len());
    assert_eq!(event::<IDisputeGame::StepProven>(&receipt, m.game).value, truth);
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::ChallengerWon as u8);

    let before = m.pool(asserter).await.0;
    m.advance(m.clock + 1).await;
    let mut last_receipt = None;
    for v in &validators[1..] {
        let other = m.view(m.game, IDisputeGame::gameOfCall { jobId: job, challenger: *v }).await;
        last_receipt = Some(m.timeout(other, "DisputeGame.timeout").await);
    }
    let settled = event::<ISampling::DisputeSettled>(&last_receipt.expect("games"), m.sampling);
    assert_eq!((settled.status, settled.losers), (REJECTED, vec![asserter]));
    assert_eq!(m.pool(asserter).await.0, before - m.params.slash_amount, "slashed");
    m.traces.clear();
}

/// LayerNorm, Embed, Query, Value, Residual, (GELU) Activation, Key, AttnOut, FfnUp and FfnDown
/// elements of a BERT embedding job (the tiny BERT of
/// `assay-convert`, registered and served for it): the LayerNorm proof opens the input row, the
/// header two leaves back (which norm), the `ln1` gamma and beta entries and the config leaf;
/// the Embed proof the token id and the word, position and type tables' entries; the Query and
/// Value proofs (plain projections in BERT) the previous block's output row and the layer's
/// weights.
pub(super) async fn corrupted_bert_norms_and_embeddings_are_proven_wrong(m: &mut Market) {
    let blob = tiny_bert(5).to_blob();
    let id = B256::from(ModelFile::parse(&blob).expect("parses").id());
    let register = IModelRegistry::registerModelCall {
        modelId: id,
        engineHash: B256::repeat_byte(0xee),
        pricePerUnit: U256::from(1_000_000_000u64),
    };
    m.send(&m.owner, m.registry, register, U256::ZERO).await;
    for miner in &m.miners {
        let serve = IModelRegistry::serveCall { modelId: id };
        m.send(miner, m.registry, serve, U256::ZERO).await;
    }
    let llama = std::mem::replace(&mut m.model, id);
    let input = JobInput::Embed { text: "the cat sat on the mat".into() };
    proven_wrong_in(m, Op::LayerNorm, &blob, &input).await;
    proven_wrong_in(m, Op::Embed, &blob, &input).await;
    proven_wrong_in(m, Op::Query, &blob, &input).await;
    proven_wrong_in(m, Op::Value, &blob, &input).await;
    proven_wrong_in(m, Op::Residual, &blob, &input).await;
    proven_wrong_in(m, Op::Activation, &blob, &input).await;
    for op in [Op::Key, Op::AttnOut, Op::FfnUp, Op::FfnDown] {
        proven_wrong_in(m, op, &blob, &input).await;
    }
    // The attention scores, the normalised embedding (i16) and the output that copies it.
    for op in [Op::Scores, Op::Normalize, Op::Output] {
        proven_wrong_in(m, op, &blob, &input).await;
    }
    // Reductions: the mean pool over the rows, BERT's softmax and context.
    proven_wrong_reduced(m, (Op::Pool, 0, None), &blob, &input, Accumulators::WrongFromMiddle)
        .await;
    proven_wrong_reduced(m, (Op::Softmax, 0, None), &blob, &input, Accumulators::Honest).await;
    proven_wrong_reduced(m, (Op::Context, 0, None), &blob, &input, Accumulators::WrongFromMiddle)
        .await;
    m.model = llama;
}

async fn proven_wrong(m: &mut Market, op: Op) {
    proven_wrong_in(m, op, &model_blob(), &generation()).await;
}

async fn proven_wrong_in(m: &mut Market, op: Op, blob: &[u8], input: &JobInput) {
    proven_wrong_at(m, op, 0, blob, input).await;
}

/// [`proven_wrong_in`] with the corrupted op taken from forward step `step`.
async fn proven_wrong_at(m: &mut Market, op: Op, step: u32, blob: &[u8], input: &JobInput) {
    proven_wrong_reduced(m, (op, step, None), blob, input, Accumulators::Honest).await;
}

/// How the asserter answers a reduction's phases: with the honest accumulators (its lie is only
/// in the element, so the game goes to the element's last step), or with accumulators that
/// are wrong from the middle term on (the game bisects them down to that term).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accumulators {
    Honest,
    WrongFromMiddle,
}

/// Plays the phases Reduction and Terms of `game` over element `at` of `leaf` (the asserter
/// with `lie`'s accumulators, the challenger with `honest`'s); returns the honest accumulators.
async fn reduce_terms(
    m: &mut Market,
    (game, asserter, challenger): (U256, Address, Address),
    (honest, lie): (&Side<'_>, &Side<'_>),
    (leaf, at): (u64, (u64, u64)),
    accumulators: Accumulators,
) -> Vec<[u8; 32]> {
    let truth = honest.accumulators(leaf, at).expect("accumulators");
    let mut claimed = lie.accumulators(leaf, at).expect("accumulators");
    if accumulators == Accumulators::WrongFromMiddle {
        claimed.iter_mut().skip(truth.len() / 2).for_each(|acc| acc[4] ^= 1);
    }
    let terms = (truth.len() - 1) as u64;
    let open = |acc: &[[u8; 32]]| IDisputeGame::openTermsCall {
        gameId: game,
        terms,
        last: B256::from(*acc.last().expect("one")),
    };
    play(m, asserter, open(&claimed), "DisputeGame.openTerms").await;
    play(m, challenger, open(&truth), "DisputeGame.openTerms (compares)").await;
    let k = 1u64 << m.view(m.game, IDisputeGame::configCall {}).await.arityBits;
    let mut rounds = 0;
    while m.view(m.game, IDisputeGame::gameCall { gameId: game }).await.phase
        == GamePhase::Terms as u8
    {
        let state = m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
        let at = |accs: &[[u8; 32]]| -> Vec<B256> {
            term_points(state.lo, state.hi, k).map(|p| B256::from(accs[p as usize])).collect()
        };
        let (d, c) = (at(&claimed), at(&truth));
        let call =
            IDisputeGame::bisectTermsCall { gameId: game, accs: d.clone(), defenderAccs: vec![] };
        play(m, asserter, call, "DisputeGame.bisectTerms").await;
        if rounds == 0 {
            // The defender's accumulators passed back must be the ones it posted.
            let mut forged = d.clone();
            forged[0] =
                B256::from(truth[term_points(state.lo, state.hi, k).next().unwrap() as usize]);
            if forged != d {
                let call = IDisputeGame::bisectTermsCall {
                    gameId: game,
                    accs: c.clone(),
                    defenderAccs: forged,
                };
                let e: IDisputeGame::BadOpening = m.revert(m.miner(challenger), m.game, call).await;
                assert_eq!((e.gameId, e.side), (game, asserter));
            }
        }
        let call = IDisputeGame::bisectTermsCall { gameId: game, accs: c, defenderAccs: d };
        play(m, challenger, call, "DisputeGame.bisectTerms (compares)").await;
        rounds += 1;
    }
    println!("a reduction of {terms} terms: {rounds} bisection rounds over its accumulators");
    truth
}

/// [`proven_wrong_at`] for the corrupted op, step and layer `place`, the asserter answering a
/// reduction's phases with `accumulators`.
async fn proven_wrong_reduced(
    m: &mut Market,
    place: (Op, u32, Option<u32>),
    blob: &[u8],
    input: &JobInput,
    accumulators: Accumulators,
) {
    let model = ModelFile::parse(blob).expect("parses");
    assert_eq!(B256::from(model.id()), m.model, "the job's model");
    let (honest_trace, lie, leaf, element) = traces_at(place, blob, input);
    let op = place.0;
    let (job, asserter, validators, game, receipt) = narrow(m, &honest_trace, &lie, false).await;
    let challenger = validators[0];
    let step = event::<IDisputeGame::StepDisputed>(&receipt, m.game);
    assert_eq!(
        (step.leaf, step.op, step.cell, u64::from(step.element)),
        location(&honest_trace, leaf, element)
    );
    let disputed = m.view(m.game, IDisputeGame::disputedElementCall { gameId: game }).await;
    let (row, col) = (disputed.row, disputed.col);
    let width = honest_trace.info()[leaf].row_len();
    assert_eq!((row, col), ((element / width) as u64, (element % width) as u64));
    let (honest, height) = (Side::with_model(&honest_trace, &model), u32::from(disputed.height));
    let phase = m.view(m.game, IDisputeGame::gameCall { gameId: game }).await.phase;
    // A reduction's element: the one-step proof recomputes the element or an accumulator.
    let mut accumulator = None;
    let proof = if phase == GamePhase::Reduction as u8 {
        let liar = Side::with_model(&lie, &model);
        let (sides, at) = ((&honest, &liar), (disputed.leaf, (row, col)));
        let truth = reduce_terms(m, (game, asserter, challenger), sides, at, accumulators).await;
        let terms = m.view(m.game, IDisputeGame::disputedTermsCall { gameId: game }).await;
        if accumulators == Accumulators::Honest {
            assert_eq!((terms.kind, terms.agreed), (1, B256::from(*truth.last().unwrap())));
            honest.finish_proof(disputed.leaf, (row, col), height)
        } else {
            // The first wrong accumulator is the middle one.
            let agreed = B256::from(truth[terms.lo as usize]);
            assert_eq!((terms.kind, terms.hi), (2, truth.len() as u64 / 2));
            assert_eq!((terms.lo + 1, terms.agreed), (terms.hi, agreed));
            accumulator = Some(truth[terms.hi as usize]);
            honest.term_proof(disputed.leaf, (row, col), terms.lo, height)
        }
    } else {
        assert_eq!(phase, GamePhase::Step as u8);
        honest.step_proof(disputed.leaf, (row, col), height)
    }
    .expect("a proof");
    let mut tampered = proof.clone();
    let last = tampered.len() - 40;
    tampered[last] ^= 1;
    let bad = IDisputeGame::proveStepCall { gameId: game, proof: tampered.into() };
    let e: IDisputeGame::BadProof = m.revert(m.miner(challenger), m.game, bad).await;
    assert_eq!(e.gameId, game);
    if op == Op::FfnDown {
        // Another layer's weights are genuine model cells of the same shape: only the prover's
        // choice of tensor by the disputed leaf's layer refuses them.
        let other = honest_trace
            .info()
            .iter()
            .position(|i| (i.step, i.layer, i.op) == (0, 1, Op::FfnDown as u32))
            .expect("layer 1's FfnDown") as u64;
        let theirs = Side::with_model(&honest_trace, &model)
            .step_proof(other, (row, col), u32::from(disputed.height))
            .expect("a proof");
        let (mine, their_weights) = (split_proof(&proof), split_proof(&theirs));
        assert!(!mine.1.is_empty() && mine.1 != their_weights.1, "the splice swaps weights");
        let spliced = [mine.0, their_weights.1].concat();
        let bad = IDisputeGame::proveStepCall { gameId: game, proof: spliced.into() };
        let e: IDisputeGame::BadProof = m.revert(m.miner(challenger), m.game, bad).await;
        assert_eq!(e.gameId, game);
    }

    let before = m.pool(asserter).await.0;
    let prove = IDisputeGame::proveStepCall { gameId: game, proof: proof.clone().into() };
    let step = format!("DisputeGame.proveStep ({op:?})");
    let receipt = play(m, challenger, prove, &step).await;
    println!("one-step proof of a {op:?} element: {} bytes of calldata", proof.len());
    let proven = event::<IDisputeGame::StepProven>(&receipt, m.game);
    let (data, size) =
        (honest_trace.data(leaf).expect("kept"), honest_trace.info()[leaf].element_size());
    match accumulator {
        Some(acc) => assert_eq!(proven.value, B256::from(acc)),
        None => {
            assert_eq!(proven.value[..size], data[element * size..(element + 1) * size]);
            assert!(proven.value[size..].iter().all(|b| *b == 0));
        }
    }
    let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
    assert_eq!(ended.outcome, GameOutcome::ChallengerWon as u8);
    // The other honest validators' games: the asserter stopped playing.
    let mut others = Vec::new();
    for v in &validators[1..] {
        others.push(m.view(m.game, IDisputeGame::gameOfCall { jobId: job, challenger: *v }).await);
    }
    let receipt = if others.is_empty() {
        receipt
    } else {
        m.advance(m.clock + 1).await;
        let mut last = None;
        for g in others {
            last = Some(m.timeout(g, "DisputeGame.timeout").await);
        }
        last.expect("a game")
    };
    let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
    assert_eq!((settled.status, settled.losers), (REJECTED, vec![asserter]));
    assert_eq!(m.pool(asserter).await.0, before - m.params.slash_amount, "slashed");
    assert_eq!(m.job_status(job).await, REJECTED);
    m.traces.clear();
}

/// A one-step proof split after its leaf openings: `(header and leaves, model openings)`
/// (`contracts/dispute/src/proof.rs`).
fn split_proof(proof: &[u8]) -> (&[u8], &[u8]) {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([proof[at], proof[at + 1]]));
    let mut at = 2 + u16_at(0);
    let leaves = proof[at];
    at += 1;
    for _ in 0..leaves {
        at += 8;
        at += 2 + u16_at(at);
        at += 1 + 32 * usize::from(proof[at]);
        let cells = proof[at];
        at += 1;
        for _ in 0..cells {
            at += 8;
            at += 2 + u16_at(at);
            at += 1 + 32 * usize::from(proof[at]);
        }
    }
    proof.split_at(at)
}
