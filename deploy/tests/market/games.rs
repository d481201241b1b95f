//! A dispute game played move by move on the chain over a real engine trace: a greedy generation
//! of the tiny llama of `assay-convert` (random weights), every output kept. The asserter's trace
//! is the honest one with exactly one element of one op corrupted (`Trace::corrupt`); a validator
//! reveals the honest trace root. Both sides answer every move from their own trace through
//! `assay_protocol::game::Side`, as the services will. The game must end on that op leaf, cell and
//! element.

use assay_convert::random::tiny_llama;
use assay_engine::{
    chat::Message,
    job::{JobInput, Model},
    kernels::Scalar,
    trace::{Keep, Op, Trace},
};
use assay_protocol::{codes::GamePhase, game::Side};

use super::*;

/// The generation both sides ran, and the asserter's corrupted copy with what was corrupted:
/// `(honest, lie, leaf, element)`.
fn traces() -> (Trace, Trace, usize, usize) {
    let model = Model::load(&tiny_llama(5).to_blob()).expect("tiny llama loads");
    let input = JobInput::Generate {
        messages: vec![Message::user("the weather is")],
        max_tokens: 4,
        seed: 0,
    };
    let (_, honest) = model.run_keeping(&Scalar, &input, Keep::All).expect("runs");
    // The prefill's second feed-forward up-projection: a [t, f] output with several cells a row.
    let leaf = honest
        .info()
        .iter()
        .position(|i| (i.step, i.layer, i.op) == (0, 2, Op::FfnUp as u32))
        .expect("an FfnUp leaf");
    let f = honest.info()[leaf].row_len();
    let element = f + 300; // row 1, second cell
    let mut lie = honest.clone();
    assert!(lie.corrupt(leaf, element));
    (honest, lie, leaf, element)
}

async fn play<C: SolCall>(m: &mut Market, who: Address, call: C, step: &str) -> TransactionReceipt {
    let receipt = m.send(m.miner(who), m.game, call, U256::ZERO).await;
    m.gas.add(step, &receipt);
    receipt
}

pub(super) async fn a_game_narrows_a_real_trace_to_the_corrupted_element(m: &mut Market) {
    let (honest_trace, lie_trace, corrupted_leaf, corrupted_element) = traces();
    let (honest, lie) = (Side::new(&honest_trace), Side::new(&lie_trace));
    let (truth, wrong) = (keccak256("the honest output"), keccak256("the corrupted output"));
    m.traces.insert(truth, B256::from(honest_trace.root(&truth.0)));
    m.traces.insert(wrong, B256::from(lie_trace.root(&wrong.0)));

    let (job, asserter) = m.submit_and_assign().await;
    let seed = m.assert_result(job, asserter, wrong, B256::ZERO).await;
    let validators = m.draw_challenge(job, asserter, seed, false).await;
    let challenger = validators[0];
    let votes = [(challenger, truth), (validators[1], wrong), (validators[2], wrong)];
    m.validate(job, onchain_job_key(job), &votes).await;
    let receipt = m.finalize(job, "finalizeChallenge (disputed, 1 game)").await;
    let game = event::<IDisputeGame::GameOpened>(&receipt, m.game).gameId;
    let arity_bits = u32::from(m.view(m.game, IDisputeGame::configCall {}).await.arityBits);
    let phase = |g: IDisputeGame::gameReturn| g.phase;

    let (n, root) = lie.root();
    let open = IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
    play(m, asserter, open, "DisputeGame.openRoot").await;
    let (n, root) = honest.root();
    let open = IDisputeGame::openRootCall { gameId: game, nLeaves: n, treeRoot: root.into() };
    play(m, challenger, open, "DisputeGame.openRoot").await;

    let mut rounds = 0;
    let mut leaf = 0;
    loop {
        let current = phase(m.view(m.game, IDisputeGame::gameCall { gameId: game }).await);
        let node = m.view(m.game, IDisputeGame::disputedNodeCall { gameId: game }).await;
        let at = (u32::from(node.level), node.index);
        let down = arity_bits.min(at.0);
        let hashes = |h: Vec<[u8; 32]>| -> Vec<B256> { h.into_iter().map(B256::from).collect() };
        if current == GamePhase::Leaves as u8 {
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
        } else if current == GamePhase::Leaf as u8 {
            leaf = node.index;
            let d = lie.leaf_preimage(leaf).expect("kept");
            let c = honest.leaf_preimage(leaf).expect("kept");
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
            play(m, challenger, call, "DisputeGame.openLeaf (compares)").await;
        } else if current == GamePhase::Cells as u8 {
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
            assert_eq!(current, GamePhase::Cell as u8);
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
            let receipt =
                play(m, challenger, call, "DisputeGame.openCell (compares, ends: no verdict yet)")
                    .await;
            let step = event::<IDisputeGame::StepDisputed>(&receipt, m.game);
            let info = &honest_trace.info()[corrupted_leaf];
            let per_row = info.row_len().div_ceil(256) as u64;
            let (row, col) = (
                (corrupted_element / info.row_len()) as u64,
                (corrupted_element % info.row_len()) as u64,
            );
            assert_eq!(
                (step.leaf, step.op, step.cell, u64::from(step.element)),
                (corrupted_leaf as u64, Op::FfnUp as u32, row * per_row + col / 256, col % 256),
                "the game ends on the corrupted element"
            );
            let ended = event::<IDisputeGame::GameEnded>(&receipt, m.game);
            assert_eq!(ended.outcome, GameOutcome::NoVerdict as u8);
            let settled = event::<ISampling::DisputeSettled>(&receipt, m.sampling);
            assert_eq!((settled.status, settled.losers), (REJECTED, vec![]));
            break;
        }
    }
    println!(
        "dispute game over a trace of {} leaves (arity 2^{arity_bits}): {rounds} bisection rounds",
        honest_trace.leaves().len()
    );
    assert_eq!(m.job_status(job).await, REJECTED);
    for party in [asserter, challenger] {
        assert_eq!(m.pool(party).await.2, 0, "{party} unfrozen");
    }
    m.traces.clear();
}
