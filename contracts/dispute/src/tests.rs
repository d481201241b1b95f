#![allow(clippy::arithmetic_side_effects)] // tests compute expectations freely
//! The game's phases against two traces built here with `assay-step`'s commitments (the engine's
//! own definitions); Sampling's side is a mocked `gameEnded`. The whole path from a disputed
//! job to its settlement runs with live contracts in `assay-jobs` and on the test node.

use alloc::vec::Vec;

use alloy_primitives::{address, keccak256, Address, B256, U256};
use alloy_sol_types::{SolCall, SolEvent};
use assay_contract_common::codes::{GameOutcome, GamePhase};
use assay_contract_kit::testing::{contract_handler, MockHost};
use assay_prover::OneStepProver;
use assay_step::commit::{self, Hash, Keccak};

use crate::{DisputeGame, GameError, IDisputeGame, ISampling};

const SAMPLING: Address = address!("0x00000000000000000000000000000000000000a6");
const PROVER: Address = address!("0x00000000000000000000000000000000000000a7");
const ASSERTER: Address = address!("0x00000000000000000000000000000000000000b1");
const VALIDATOR: Address = address!("0x00000000000000000000000000000000000000b2");
const JOB: U256 = U256::from_limbs([7, 0, 0, 0]);
const CLOCK: u64 = 100;
/// What a bonded claim costs (wei).
const BOND: u64 = 7_000;
const GAME: U256 = U256::from_limbs([1, 0, 0, 0]);

struct K;

impl Keccak for K {
    fn keccak(&self, parts: &[&[u8]]) -> Hash {
        keccak256(parts.concat()).0
    }
}

/// One op leaf of a test trace: `[rows, 300]` i32 (two cells a row), every element `fill`.
#[derive(Clone)]
struct Leaf {
    op: u32,
    rows: u32,
    data: Vec<i32>,
}

impl Leaf {
    fn new(op: u32, rows: u32, fill: i32) -> Self {
        Self { op, rows, data: alloc::vec![fill; rows as usize * 300] }
    }

    fn cells(&self) -> Vec<Vec<u8>> {
        self.data
            .chunks(300)
            .flat_map(|row| row.chunks(256))
            .map(|c| c.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect()
    }

    fn cell_hashes(&self) -> Vec<Hash> {
        self.cells().iter().map(|c| commit::cell(&K, c)).collect()
    }

    fn preimage(&self) -> Vec<u8> {
        let mut pre = alloc::vec![0x10];
        for v in [0u32, 1, self.op] {
            pre.extend_from_slice(&v.to_le_bytes());
        }
        pre.extend_from_slice(&[5, 2]);
        for d in [self.rows, 300] {
            pre.extend_from_slice(&d.to_le_bytes());
        }
        let mut hashes = self.cell_hashes();
        let levels = commit::tree_height(hashes.len() as u64);
        pre.extend_from_slice(&commit::fold(&K, &mut hashes, levels).unwrap());
        pre
    }

    fn hash(&self) -> Hash {
        keccak256(self.preimage()).0
    }
}

/// A trace: its leaves, padded with zero leaves to a power of two.
#[derive(Clone)]
struct Trace {
    leaves: Vec<Leaf>,
    output: B256,
}

impl Trace {
    fn honest() -> Self {
        // Op codes no prover decides: these games end on the element without a verdict.
        let leaves = (0..5).map(|i| Leaf::new(30 + i, 3, i as i32)).collect();
        Self { leaves, output: B256::repeat_byte(0x0a) }
    }

    fn height(&self) -> u32 {
        commit::tree_height(self.leaves.len() as u64)
    }

    /// The nodes of level `level` of the tree padded to `height` levels.
    fn level(&self, level: u32, height: u32) -> Vec<Hash> {
        let mut nodes: Vec<Hash> = self.leaves.iter().map(Leaf::hash).collect();
        nodes.resize(1 << height, [0; 32]);
        for _ in 0..level {
            nodes = nodes.chunks(2).map(|p| commit::node(&K, &p[0], &p[1])).collect();
        }
        nodes
    }

    fn tree_root(&self) -> B256 {
        B256::from(self.level(self.height(), self.height())[0])
    }

    fn trace_root(&self) -> B256 {
        let root = self.tree_root().0;
        B256::from(commit::trace_root(&K, self.leaves.len() as u32, &self.output.0, &root))
    }

    /// The children a bisection move posts at `(level, index)`, `down` levels below.
    fn children(&self, height: u32, level: u32, index: u64, down: u32) -> Vec<B256> {
        let nodes = self.level(level - down, height);
        let first = (index << down) as usize;
        nodes[first..first + (1 << down)].iter().map(|h| B256::from(*h)).collect()
    }
}

/// The cells tree level `level` of a leaf (odd nodes carried up).
fn cell_level(leaf: &Leaf, level: u32) -> Vec<Hash> {
    let mut nodes = leaf.cell_hashes();
    for _ in 0..level {
        nodes = nodes
            .chunks(2)
            .map(|p| if p.len() == 2 { commit::node(&K, &p[0], &p[1]) } else { p[0] })
            .collect();
    }
    nodes
}

struct Env {
    vm: MockHost,
    game: DisputeGame,
    honest: Trace,
    liar: Trace,
}

impl Env {
    /// The asserter (defender) corrupted element 17 of cell 3 of leaf 3; the validator is
    /// honest. `arity_bits` 1: binary bisection.
    fn new(arity_bits: u8) -> Self {
        let honest = Trace::honest();
        let mut liar = Trace { leaves: honest.leaves.clone(), output: B256::repeat_byte(0x0b) };
        liar.leaves[3].data[300 + 256 + 17] = 99;
        Self::with(arity_bits, honest, liar)
    }

    /// A game of `liar` (the defender's trace) against `honest` (the challenger's), whatever
    /// they hold.
    fn with(arity_bits: u8, honest: Trace, liar: Trace) -> Self {
        let vm = MockHost::default();
        vm.set_block_timestamp(1_000);
        // The one-step prover, live, on its own host.
        vm.route(PROVER, contract_handler::<OneStepProver>(&MockHost::default(), Address::ZERO));
        let mut game = DisputeGame::from(&vm);
        game.constructor(SAMPLING, PROVER, CLOCK, arity_bits, U256::from(BOND)).unwrap();
        vm.set_sender(SAMPLING);
        let id = game
            .open_game(
                JOB,
                lut_model().0,
                ASSERTER,
                liar.output,
                liar.trace_root(),
                VALIDATOR,
                honest.output,
                honest.trace_root(),
            )
            .unwrap();
        assert_eq!(id, GAME);
        Self { vm, game, honest, liar }
    }

    fn expect_report(&self, outcome: GameOutcome) {
        let call =
            ISampling::gameEndedCall { jobId: JOB, challenger: VALIDATOR, outcome: outcome as u8 };
        self.vm.mock_call(SAMPLING, call.abi_encode(), U256::ZERO, Ok(Vec::new()));
    }

    fn as_side(&self, who: Address, at: u64) {
        self.vm.set_sender(who);
        self.vm.set_block_timestamp(at);
    }

    fn phase(&self) -> u8 {
        self.game.game(GAME).3
    }

    fn open_roots(&mut self) {
        self.as_side(ASSERTER, 1_010);
        self.game.open_root(GAME, 5, self.liar.tree_root()).unwrap();
        self.as_side(VALIDATOR, 1_020);
        self.game.open_root(GAME, 5, self.honest.tree_root()).unwrap();
    }

    /// Plays the leaf bisection down to the first differing leaf.
    fn bisect_leaves(&mut self, down: u32) {
        let height = self.honest.height();
        while self.phase() == GamePhase::Leaves as u8 {
            let (level, index, ..) = self.game.disputed_node(GAME);
            let down = down.min(u32::from(level));
            let d = self.liar.children(height, level.into(), index, down);
            let c = self.honest.children(height, level.into(), index, down);
            self.vm.set_sender(ASSERTER);
            self.game.bisect(GAME, d.clone(), Vec::new()).unwrap();
            self.vm.set_sender(VALIDATOR);
            self.game.bisect(GAME, c, d).unwrap();
        }
    }

    /// Plays the cells bisection of the disputed leaf, `lie` the defender's, `truth` the
    /// challenger's, down to the first differing cell.
    fn bisect_cells(&mut self, down: u32, lie: &Leaf, truth: &Leaf) {
        while self.phase() == GamePhase::Cells as u8 {
            let (level, index, ..) = self.game.disputed_node(GAME);
            let down = down.min(level.into());
            let span = |leaf: &Leaf| -> Vec<B256> {
                let nodes = cell_level(leaf, u32::from(level) - down);
                let first = (index << down) as usize;
                let last = nodes.len().min(first + (1 << down));
                nodes[first..last].iter().map(|h| B256::from(*h)).collect()
            };
            self.vm.set_sender(ASSERTER);
            self.game.bisect(GAME, span(lie), Vec::new()).unwrap();
            self.vm.set_sender(VALIDATOR);
            self.game.bisect(GAME, span(truth), span(lie)).unwrap();
        }
    }

    fn events<E: SolEvent>(&self) -> Vec<E> {
        self.vm
            .get_emitted_logs()
            .iter()
            .filter(|(topics, _)| topics.first() == Some(&E::SIGNATURE_HASH))
            .map(|(topics, data)| E::decode_raw_log(topics.iter().copied(), data).unwrap())
            .collect()
    }
}

#[test]
fn only_sampling_opens_one_game_per_challenger() {
    let mut env = Env::new(1);
    let open = |g: &mut DisputeGame, challenger| {
        let (zero, one) = (B256::ZERO, B256::repeat_byte(1));
        g.open_game(JOB, zero, ASSERTER, zero, zero, challenger, one, zero)
    };
    assert!(matches!(open(&mut env.game, VALIDATOR), Err(GameError::InvalidParams(_))));
    env.vm.set_sender(ASSERTER);
    assert!(matches!(open(&mut env.game, ASSERTER), Err(GameError::NotSampling(_))));
    let (jobs, defender, challenger, phase, outcome, to_move, deadline) = env.game.game(GAME);
    assert_eq!((jobs, defender, challenger), (JOB, ASSERTER, VALIDATOR));
    assert_eq!((phase, outcome), (GamePhase::Roots as u8, 0));
    assert_eq!((to_move, deadline), (ASSERTER, 1_000 + CLOCK));
    assert_eq!(env.game.game_of(JOB, VALIDATOR), GAME);
    assert_eq!(env.game.config(), (SAMPLING, CLOCK, 1, PROVER));
    let mut bad = DisputeGame::from(&env.vm);
    let refused = |r| matches!(r, Err(GameError::InvalidParams(_)));
    assert!(refused(bad.constructor(SAMPLING, PROVER, CLOCK, 7, U256::from(BOND))));
    assert!(refused(bad.constructor(SAMPLING, Address::ZERO, CLOCK, 1, U256::from(BOND))));
    assert!(refused(bad.constructor(SAMPLING, PROVER, CLOCK, 1, U256::ZERO)));
    assert_eq!(env.game.dispute_bond(), U256::from(BOND));
}

#[test]
fn a_corrupted_element_is_found_by_bisection() {
    for arity_bits in [1, 2, 3] {
        let mut env = Env::new(arity_bits);
        env.open_roots();
        assert_eq!(env.phase(), GamePhase::Leaves as u8);
        assert_eq!(env.game.disputed_node(GAME).4, 8, "five leaves pad to eight");
        env.bisect_leaves(arity_bits.into());
        assert_eq!(env.phase(), GamePhase::Leaf as u8);
        let (level, index, d, c, _) = env.game.disputed_node(GAME);
        assert_eq!((level, index), (0, 3), "the first differing leaf");
        assert_eq!((d.0, c.0), (env.liar.leaves[3].hash(), env.honest.leaves[3].hash()));

        let (lie, truth) = (env.liar.leaves[3].clone(), env.honest.leaves[3].clone());
        env.vm.set_sender(ASSERTER);
        env.game.open_leaf(GAME, lie.preimage().into(), Vec::new().into()).unwrap();
        env.vm.set_sender(VALIDATOR);
        env.game.open_leaf(GAME, truth.preimage().into(), lie.preimage().into()).unwrap();
        // Three rows of two cells: six cells, three levels.
        assert_eq!(env.phase(), GamePhase::Cells as u8);
        assert_eq!(env.game.disputed_node(GAME).4, 6);
        env.bisect_cells(arity_bits.into(), &lie, &truth);
        assert_eq!(env.phase(), GamePhase::Cell as u8);
        assert_eq!(env.game.disputed_node(GAME).1, 3, "row 1, second cell");
        let (lie_cell, true_cell) = (lie.cells()[3].clone(), truth.cells()[3].clone());
        assert_eq!(lie_cell.len(), 44 * 4, "the short end of a row");
        env.vm.set_sender(ASSERTER);
        env.game.open_cell(GAME, lie_cell.clone().into(), Vec::new().into()).unwrap();
        env.expect_report(GameOutcome::NoVerdict);
        env.vm.set_sender(VALIDATOR);
        env.game.open_cell(GAME, true_cell.into(), lie_cell.into()).unwrap();
        let step = &env.events::<IDisputeGame::StepDisputed>()[0];
        assert_eq!((step.leaf, step.op, step.cell, step.element), (3, 33, 3, 17));
        assert_eq!(env.game.game(GAME).3, GamePhase::Ended as u8);
        assert_eq!(env.game.game(GAME).4, GameOutcome::NoVerdict as u8);
    }
}

#[test]
fn moves_must_open_the_movers_own_commitments() {
    let mut env = Env::new(2);
    env.as_side(VALIDATOR, 1_001);
    let early = env.game.open_root(GAME, 5, env.honest.tree_root());
    assert!(matches!(early, Err(GameError::NotYourTurn(_))));
    env.as_side(ASSERTER, 1_002);
    assert!(matches!(env.game.open_root(GAME, 0, B256::ZERO), Err(GameError::BadOpening(_))));
    // The asserter's root must open the trace root it asserted.
    let other = env.game.open_root(GAME, 5, env.honest.tree_root());
    assert!(matches!(other, Err(GameError::BadOpening(_))));
    let bisect = env.game.bisect(GAME, Vec::new(), Vec::new());
    assert!(matches!(bisect, Err(GameError::WrongPhase(_))));
    env.game.open_root(GAME, 5, env.liar.tree_root()).unwrap();
    env.as_side(VALIDATOR, 1_003);
    // The validator's root must open its committed trace root.
    let wrong = env.game.open_root(GAME, 4, env.honest.tree_root());
    assert!(matches!(wrong, Err(GameError::BadOpening(_))));
    env.game.open_root(GAME, 5, env.honest.tree_root()).unwrap();
    let height = env.honest.height();
    let good = env.liar.children(height, 3, 0, 2);
    let mut forged = good.clone();
    forged[1] = B256::repeat_byte(3);
    env.vm.set_sender(ASSERTER);
    assert!(matches!(
        env.game.bisect(GAME, forged.clone(), Vec::new()),
        Err(GameError::BadOpening(_))
    ));
    assert!(matches!(
        env.game.bisect(GAME, good[..3].to_vec(), Vec::new()),
        Err(GameError::BadOpening(_))
    ));
    env.game.bisect(GAME, good.clone(), Vec::new()).unwrap();
    // The challenger cannot pass off other children as the defender's.
    env.vm.set_sender(VALIDATOR);
    let mine = env.honest.children(height, 3, 0, 2);
    let e = env.game.bisect(GAME, mine.clone(), forged).unwrap_err();
    assert!(matches!(e, GameError::BadOpening(IDisputeGame::BadOpening { side: ASSERTER, .. })));
    env.game.bisect(GAME, mine, good).unwrap();
    let (level, index, ..) = env.game.disputed_node(GAME);
    assert_eq!((level, index), (1, 1), "leaves 2 and 3 hold the first difference");
}

#[test]
fn a_side_that_stops_answering_loses_on_time() {
    // The defender never opens its root.
    let mut env = Env::new(1);
    env.vm.set_block_timestamp(1_000 + CLOCK);
    assert!(matches!(env.game.timeout(GAME), Err(GameError::ClockRunning(_))));
    env.as_side(ASSERTER, 1_001 + CLOCK);
    let late = env.game.open_root(GAME, 5, env.liar.tree_root());
    assert!(matches!(late, Err(GameError::ClockExpired(_))));
    env.expect_report(GameOutcome::ChallengerWon);
    env.game.timeout(GAME).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::ChallengerWon as u8);
    assert!(matches!(env.game.timeout(GAME), Err(GameError::WrongPhase(_))));
    assert_eq!(
        env.events::<IDisputeGame::GameEnded>()[0].outcome,
        GameOutcome::ChallengerWon as u8
    );

    // The challenger answers once, then stops; each side's clock counts only its own moves.
    let mut env = Env::new(1);
    env.as_side(ASSERTER, 1_060);
    env.game.open_root(GAME, 5, env.liar.tree_root()).unwrap();
    env.as_side(VALIDATOR, 1_090);
    env.game.open_root(GAME, 5, env.honest.tree_root()).unwrap();
    env.as_side(ASSERTER, 1_120);
    let height = env.honest.height();
    env.game.bisect(GAME, env.liar.children(height, 3, 0, 1), Vec::new()).unwrap();
    // Asserter used 60 + 30 s; the validator 30 s so far, 70 s left from 1 120.
    let (.., to_move, deadline) = env.game.game(GAME);
    assert_eq!((to_move, deadline), (VALIDATOR, 1_190));
    env.vm.set_block_timestamp(1_191);
    env.expect_report(GameOutcome::DefenderWon);
    env.game.timeout(GAME).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::DefenderWon as u8);
}

#[test]
fn a_leaf_one_trace_lacks_or_another_op_goes_to_the_schedule() {
    // The liar's trace stops after four leaves: leaf 4 is padding on its side.
    let honest = Trace::honest();
    let liar = Trace { leaves: honest.leaves[..4].to_vec(), output: B256::repeat_byte(0x0b) };
    let mut env = Env::with(3, honest, liar);
    env.as_side(ASSERTER, 1_001);
    env.game.open_root(GAME, 4, env.liar.tree_root()).unwrap();
    env.as_side(VALIDATOR, 1_002);
    env.game.open_root(GAME, 5, env.honest.tree_root()).unwrap();
    let d = env.liar.children(3, 3, 0, 3);
    env.vm.set_sender(ASSERTER);
    env.game.bisect(GAME, d.clone(), Vec::new()).unwrap();
    env.vm.set_sender(VALIDATOR);
    env.game.bisect(GAME, env.honest.children(3, 3, 0, 3), d).unwrap();
    assert_eq!((env.phase(), env.game.disputed_node(GAME).1), (GamePhase::Leaf as u8, 4));
    // The side without the leaf opens nothing, and only nothing opens its (zero) node.
    let truth = env.honest.leaves[4].preimage();
    env.vm.set_sender(ASSERTER);
    let forged = env.game.open_leaf(GAME, truth.clone().into(), Vec::new().into());
    assert!(matches!(forged, Err(GameError::BadOpening(_))));
    env.game.open_leaf(GAME, Vec::new().into(), Vec::new().into()).unwrap();
    env.vm.set_sender(VALIDATOR);
    let empty = env.game.open_leaf(GAME, Vec::new().into(), Vec::new().into());
    assert!(matches!(empty, Err(GameError::BadOpening(_))), "a leaf's node needs its leaf");
    env.game.open_leaf(GAME, truth.into(), Vec::new().into()).unwrap();
    let header = |l: &Leaf| {
        let parsed = commit::OpLeaf::parse(&l.preimage()).unwrap();
        B256::from(commit::OpLeaf { cells_root: [0; 32], ..parsed }.hash(&K).unwrap())
    };
    let (_, _, _, d_claim, c_claim, _) = env.game.disputed_element(GAME);
    assert_eq!((d_claim, c_claim), (B256::ZERO, header(&env.honest.leaves[4])));
    assert_eq!((env.phase(), env.game.disputed_terms(GAME).0), (GamePhase::Step as u8, 4));

    // Leaf 2 claims another op.
    let honest = Trace::honest();
    let mut liar = Trace { leaves: honest.leaves.clone(), output: B256::repeat_byte(0x0b) };
    liar.leaves[2].op = 40;
    let mut env = Env::with(3, honest, liar);
    env.open_roots();
    env.bisect_leaves(3);
    let (lie, truth) = (env.liar.leaves[2].preimage(), env.honest.leaves[2].preimage());
    env.vm.set_sender(ASSERTER);
    let theirs = env.game.open_leaf(GAME, truth.clone().into(), Vec::new().into());
    assert!(matches!(theirs, Err(GameError::BadOpening(_))), "only its own leaf opens its node");
    env.game.open_leaf(GAME, lie.clone().into(), Vec::new().into()).unwrap();
    env.vm.set_sender(VALIDATOR);
    env.game.open_leaf(GAME, truth.into(), lie.into()).unwrap();
    let (_, _, _, d_claim, c_claim, _) = env.game.disputed_element(GAME);
    assert_eq!((d_claim, c_claim), (header(&env.liar.leaves[2]), header(&env.honest.leaves[2])));
    assert_eq!((env.phase(), env.game.disputed_terms(GAME).0), (GamePhase::Step as u8, 4));
}

/// The end of a llama block: `Residual, RmsNorm, FfnGate, FfnUp, Activation, FfnDown, Residual`,
/// the last the first plus the `FfnDown`, as `[3, 300]` i32 outputs.
fn llama_block() -> Trace {
    use assay_step::op;
    let stream = Leaf { op: op::RESIDUAL, rows: 3, data: (0..900).map(|i| i * 7 - 3000).collect() };
    let down = Leaf { op: op::FFN_DOWN, rows: 3, data: (0..900).map(|i| 5 - i * 3).collect() };
    let sum = Leaf {
        op: op::RESIDUAL,
        rows: 3,
        data: stream.data.iter().zip(&down.data).map(|(a, b)| op::residual(*a, *b)).collect(),
    };
    let mut leaves = alloc::vec![stream];
    for code in [op::RMS_NORM, op::FFN_GATE, op::FFN_UP, op::ACTIVATION] {
        leaves.push(Leaf::new(code, 3, code as i32));
    }
    leaves.extend([down, sum]);
    Trace { leaves, output: B256::repeat_byte(0x0a) }
}

impl Trace {
    /// The siblings of leaf `i` in the tree padded to `height` levels, bottom up.
    fn path(&self, i: usize, height: u32) -> Vec<Hash> {
        (0..height).map(|l| self.level(l, height)[(i >> l) ^ 1]).collect()
    }

    /// An opening of leaf `i`: with the cell holding `(row, col)`, or the header only.
    fn opening(&self, i: usize, height: u32, at: Option<(usize, usize)>) -> Vec<u8> {
        let leaf = &self.leaves[i];
        let pre = leaf.preimage();
        let path = self.path(i, height);
        let mut out = (i as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&(pre.len() as u16).to_le_bytes());
        out.extend_from_slice(&pre);
        out.push(path.len() as u8);
        path.iter().for_each(|h| out.extend_from_slice(h));
        let Some((row, col)) = at else {
            out.push(0);
            return out;
        };
        let cell = row * 2 + col / 256;
        let bytes = &leaf.cells()[cell];
        out.push(1);
        out.extend_from_slice(&(cell as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(bytes);
        let mut siblings = Vec::new();
        let (mut index, mut level) = (cell, 0);
        loop {
            let nodes = cell_level(leaf, level);
            if nodes.len() == 1 {
                break;
            }
            if let Some(s) = nodes.get(index ^ 1) {
                siblings.push(*s);
            }
            index /= 2;
            level += 1;
        }
        out.push(siblings.len() as u8);
        siblings.iter().for_each(|h| out.extend_from_slice(h));
        out
    }

    /// The one-step proof of `Residual` leaf 6's element `(row, col)`: its header, the delta
    /// (leaf 5), the stream (leaf 0) and the leaf after the stream.
    fn residual_proof(&self, height: u32, row: usize, col: usize, stream: usize) -> Vec<u8> {
        let head = self.leaves[6].preimage();
        let mut out = (head.len() as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&head);
        out.push(3);
        out.extend(self.opening(5, height, Some((row, col))));
        out.extend(self.opening(stream, height, Some((row, col))));
        out.extend(self.opening(stream + 1, height, None));
        out
    }
}

/// Plays the game down to the Step phase, each side answering from its trace.
fn narrow(mut env: Env, arity_bits: u8) -> Env {
    let (d, c) = (&env.liar, &env.honest);
    let (dn, cn) = (d.leaves.len() as u32, c.leaves.len() as u32);
    let (droot, croot) = (d.tree_root(), c.tree_root());
    env.as_side(ASSERTER, 1_001);
    env.game.open_root(GAME, dn, droot).unwrap();
    env.as_side(VALIDATOR, 1_002);
    env.game.open_root(GAME, cn, croot).unwrap();
    env.bisect_leaves(arity_bits.into());
    let leaf = env.game.disputed_node(GAME).1 as usize;
    let (lie, truth) = (env.liar.leaves[leaf].clone(), env.honest.leaves[leaf].clone());
    env.vm.set_sender(ASSERTER);
    env.game.open_leaf(GAME, lie.preimage().into(), Vec::new().into()).unwrap();
    env.vm.set_sender(VALIDATOR);
    env.game.open_leaf(GAME, truth.preimage().into(), lie.preimage().into()).unwrap();
    env.bisect_cells(arity_bits.into(), &lie, &truth);
    let cell = env.game.disputed_node(GAME).1 as usize;
    let (d, c) = (lie.cells()[cell].clone(), truth.cells()[cell].clone());
    env.vm.set_sender(ASSERTER);
    env.game.open_cell(GAME, d.clone().into(), Vec::new().into()).unwrap();
    env.vm.set_sender(VALIDATOR);
    env.game.open_cell(GAME, c.into(), d.into()).unwrap();
    env
}

#[test]
fn a_corrupted_residual_is_recomputed_on_chain_and_its_claimant_loses() {
    let honest = llama_block();
    let mut liar = Trace { leaves: honest.leaves.clone(), output: B256::repeat_byte(0x0b) };
    // Row 2, column 290: the second cell of the row.
    liar.leaves[6].data[600 + 290] += 1;
    let mut env = narrow(Env::with(2, llama_block(), liar), 2);
    assert_eq!(env.phase(), GamePhase::Step as u8);
    let step = &env.events::<IDisputeGame::StepDisputed>()[0];
    assert_eq!((step.leaf, step.op, step.cell, step.element), (6, 12, 5, 34));
    let height = honest.height();

    // Proofs that do not open the op's inputs are refused by name.
    let wrong_stream = honest.residual_proof(height, 2, 290, 1);
    assert!(matches!(env.game.prove_step(GAME, wrong_stream.into()), Err(GameError::BadProof(_))));
    let wrong_element = honest.residual_proof(height, 1, 290, 0);
    assert!(matches!(env.game.prove_step(GAME, wrong_element.into()), Err(GameError::BadProof(_))));
    let mut forged = honest.clone();
    forged.leaves[5].data[600 + 290] += 1; // a delta the agreed trees do not hold
    let forged = forged.residual_proof(height, 2, 290, 0);
    assert!(matches!(env.game.prove_step(GAME, forged.into()), Err(GameError::BadProof(_))));

    // Anyone may prove: the recomputed value is the challenger's.
    env.vm.set_sender(address!("0x00000000000000000000000000000000000000e1"));
    env.expect_report(GameOutcome::ChallengerWon);
    env.game.prove_step(GAME, honest.residual_proof(height, 2, 290, 0).into()).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::ChallengerWon as u8);
    let value = env.events::<IDisputeGame::StepProven>()[0].value;
    assert_eq!(value[..4], honest.leaves[6].data[600 + 290].to_le_bytes());
    assert!(matches!(
        env.game.prove_step(GAME, honest.residual_proof(height, 2, 290, 0).into()),
        Err(GameError::WrongPhase(_))
    ));
}

#[test]
fn an_honest_residual_defends_itself_and_a_silent_defender_loses() {
    // The validator lies this time: the defender's proof wins.
    let honest = llama_block();
    let mut liar = Trace { leaves: honest.leaves.clone(), output: B256::repeat_byte(0x0b) };
    liar.leaves[6].data[5] -= 9;
    // `Env::with(arity, challenger's trace, defender's trace)`: here the challenger lies.
    let mut env = narrow(Env::with(3, liar, honest.clone()), 3);
    env.expect_report(GameOutcome::DefenderWon);
    env.game.prove_step(GAME, honest.residual_proof(honest.height(), 0, 5, 0).into()).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::DefenderWon as u8);

    // Nobody proves: the defender carries the burden and loses on time.
    let mut liar = Trace { leaves: honest.leaves, output: B256::repeat_byte(0x0b) };
    liar.leaves[6].data[5] -= 9;
    let mut env = narrow(Env::with(1, llama_block(), liar), 1);
    let deadline = env.game.game(GAME).6;
    env.vm.set_block_timestamp(deadline + 1);
    env.expect_report(GameOutcome::ChallengerWon);
    env.game.timeout(GAME).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::ChallengerWon as u8);
}

/// The table the activation tests read: entry `j` is `3j - 70 000`.
fn lut() -> Vec<i32> {
    (0..65_536).map(|j| 3 * j - 70_000).collect()
}

/// A model of a config leaf and one tensor, `lut.silu` `[65536]` i32: `(model id, config leaf,
/// tensor preimage, the table's 256 cells)`.
fn lut_model() -> (B256, Hash, Vec<u8>, Vec<Vec<u8>>) {
    let cells: Vec<Vec<u8>> =
        lut().chunks(256).map(|c| c.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let mut hashes: Vec<Hash> = cells.iter().map(|c| commit::cell(&K, c)).collect();
    let cells_root = commit::fold(&K, &mut hashes, 8).unwrap();
    let mut pre = alloc::vec![0x21, 8];
    pre.extend_from_slice(b"lut.silu");
    pre.extend_from_slice(&[5, 1]);
    pre.extend_from_slice(&65_536u32.to_le_bytes());
    pre.extend_from_slice(&cells_root);
    let config = keccak256(b"config").0;
    let id = commit::node(&K, &config, &keccak256(&pre).0);
    (B256::from(id), config, pre, cells)
}

/// The model opening of table entry `entry`.
fn lut_opening(entry: usize) -> Vec<u8> {
    let (_, config, pre, cells) = lut_model();
    let mut out = (pre.len() as u16).to_le_bytes().to_vec();
    out.extend_from_slice(&pre);
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&2u32.to_le_bytes());
    out.push(1);
    out.extend_from_slice(&config);
    let cell = entry / 256;
    out.push(1);
    out.extend_from_slice(&(cell as u64).to_le_bytes());
    out.extend_from_slice(&(cells[cell].len() as u16).to_le_bytes());
    out.extend_from_slice(&cells[cell]);
    let mut level: Vec<Hash> = cells.iter().map(|c| commit::cell(&K, c)).collect();
    let mut index = cell;
    out.push(8);
    while level.len() > 1 {
        out.extend_from_slice(&level[index ^ 1]);
        level = level.chunks(2).map(|p| commit::node(&K, &p[0], &p[1])).collect();
        index /= 2;
    }
    out
}

/// A llama feed-forward: `…, FfnGate, FfnUp, Activation` with `[3, 300]` outputs, the
/// activation `gated(lut[gate + 32768], up)`.
fn llama_ffn() -> Trace {
    use assay_step::{attention::gated, nonlin::lut_act, op};
    let table = lut();
    let gate: Vec<i32> = (0..900).map(|i| i * 61 - 30_000).collect();
    let up: Vec<i32> = (0..900).map(|i| 4096 - i * 5).collect();
    let act: Vec<i32> = gate.iter().zip(&up).map(|(g, u)| gated(lut_act(&table, *g), *u)).collect();
    let mut leaves = alloc::vec![Leaf::new(op::RMS_NORM, 3, 1)];
    for (code, data) in [(op::FFN_GATE, gate), (op::FFN_UP, up), (op::ACTIVATION, act)] {
        leaves.push(Leaf { op: code, rows: 3, data });
    }
    Trace { leaves, output: B256::repeat_byte(0x0a) }
}

#[test]
fn a_corrupted_activation_is_recomputed_from_the_models_table() {
    let honest = llama_ffn();
    let mut liar = honest.clone();
    liar.output = B256::repeat_byte(0x0b);
    // Row 1, column 20: gate 320 * 61 - 30 000 = -10 480, inside the table.
    liar.leaves[3].data[320] ^= 4;
    let mut env = narrow(Env::with(1, llama_ffn(), liar), 1);
    assert_eq!(env.phase(), GamePhase::Step as u8);
    let height = honest.height();
    let proof = |with_table: Option<usize>| {
        let head = honest.leaves[3].preimage();
        let mut out = (head.len() as u16).to_le_bytes().to_vec();
        out.extend_from_slice(&head);
        out.push(2);
        out.extend(honest.opening(1, height, Some((1, 20))));
        out.extend(honest.opening(2, height, Some((1, 20))));
        if let Some(entry) = with_table {
            out.extend(lut_opening(entry));
        }
        out
    };
    let entry = (-10_480 + 32_768) as usize;
    // Without the table cell, or with another cell: refused.
    assert!(matches!(env.game.prove_step(GAME, proof(None).into()), Err(GameError::BadProof(_))));
    let wrong = proof(Some(entry + 256)); // the next cell of the table
    assert!(matches!(env.game.prove_step(GAME, wrong.into()), Err(GameError::BadProof(_))));
    env.expect_report(GameOutcome::ChallengerWon);
    env.game.prove_step(GAME, proof(Some(entry)).into()).unwrap();
    let value = env.events::<IDisputeGame::StepProven>()[0].value;
    assert_eq!(value[..4], honest.leaves[3].data[320].to_le_bytes());
    assert_eq!(env.game.game(GAME).4, GameOutcome::ChallengerWon as u8);
}

/// A game narrowed to a `Context` element (a reduction): the phases over its accumulators.
fn reduction_game() -> Env {
    let mut honest = Trace::honest();
    honest.leaves[3].op = assay_step::op::CONTEXT;
    let mut liar = Trace { leaves: honest.leaves.clone(), output: B256::repeat_byte(0x0b) };
    liar.leaves[3].data[300 + 256 + 17] = 99;
    narrow(Env::with(1, honest, liar), 1)
}

#[test]
fn reduction_moves_are_checked_and_narrow_to_one_term() {
    let mut env = reduction_game();
    assert_eq!(env.phase(), GamePhase::Reduction as u8);
    let acc = |v: u8| B256::repeat_byte(v);
    let refused = |r: Result<(), GameError>| matches!(r, Err(GameError::BadOpening(_)));
    // The defender moves first; a count of no terms or more than 2^32 opens nothing.
    env.vm.set_sender(VALIDATOR);
    let early = env.game.open_terms(GAME, 10, acc(1));
    assert!(matches!(early, Err(GameError::NotYourTurn(_))));
    env.vm.set_sender(ASSERTER);
    assert!(refused(env.game.open_terms(GAME, 0, acc(1))));
    assert!(refused(env.game.open_terms(GAME, (1 << 32) + 1, acc(1))));
    env.game.open_terms(GAME, 9, acc(1)).unwrap();
    env.vm.set_sender(VALIDATOR);
    env.game.open_terms(GAME, 10, acc(2)).unwrap();
    // Different final accumulators: the terms 0..10 (the larger count) from the initial sum.
    assert_eq!(env.phase(), GamePhase::Terms as u8);
    let init = B256::from(assay_step::reduce::sum_state(0));
    assert_eq!(env.game.disputed_terms(GAME), (2, 10, 0, 10, init));
    // Arity 2: one accumulator, after term 5.
    env.vm.set_sender(ASSERTER);
    assert!(refused(env.game.bisect_terms(GAME, vec![acc(3), acc(4)], Vec::new())));
    env.game.bisect_terms(GAME, vec![acc(3)], Vec::new()).unwrap();
    env.vm.set_sender(VALIDATOR);
    let forged = env.game.bisect_terms(GAME, vec![acc(3)], vec![acc(9)]);
    assert!(matches!(forged, Err(GameError::BadOpening(e)) if e.side == ASSERTER));
    // Agreed after term 5: the dispute is in 5..10, the claims still the final ones.
    env.game.bisect_terms(GAME, vec![acc(3)], vec![acc(3)]).unwrap();
    assert_eq!(env.game.disputed_terms(GAME), (2, 10, 5, 10, acc(3)));
    for (lo, hi) in [(5, 7), (5, 6)] {
        // The defender's accumulator after term `hi` differs: the dispute is in lo..hi.
        env.vm.set_sender(ASSERTER);
        env.game.bisect_terms(GAME, vec![acc(7)], Vec::new()).unwrap();
        env.vm.set_sender(VALIDATOR);
        env.game.bisect_terms(GAME, vec![acc(8)], vec![acc(7)]).unwrap();
        assert_eq!(env.game.disputed_terms(GAME), (2, 10, lo, hi, acc(3)));
    }
    // One term left: the Step phase, the claims the accumulators after it.
    assert_eq!(env.phase(), GamePhase::Step as u8);
    let (.., defender, challenger, _) = env.game.disputed_element(GAME);
    assert_eq!((defender, challenger), (acc(7), acc(8)));
    let late = env.game.bisect_terms(GAME, vec![acc(3)], Vec::new());
    assert!(matches!(late, Err(GameError::WrongPhase(_))));
}

#[test]
fn equal_final_accumulators_go_to_the_element_and_a_silent_side_loses_on_time() {
    let mut env = reduction_game();
    let last = B256::from(assay_step::reduce::sum_state(77));
    env.as_side(ASSERTER, 1_100);
    env.game.open_terms(GAME, 4, last).unwrap();
    env.as_side(VALIDATOR, 1_101);
    env.game.open_terms(GAME, 4, last).unwrap();
    assert_eq!(env.phase(), GamePhase::Step as u8);
    assert_eq!(env.game.disputed_terms(GAME), (1, 4, 4, 4, last));

    // The same game again, where the defender never opens its terms: it loses on time.
    let mut env = reduction_game();
    let (_, _, _, _, _, to_move, deadline) = env.game.game(GAME);
    assert_eq!(to_move, ASSERTER);
    env.as_side(VALIDATOR, deadline);
    assert!(matches!(env.game.timeout(GAME), Err(GameError::ClockRunning(_))));
    env.expect_report(GameOutcome::ChallengerWon);
    env.as_side(VALIDATOR, deadline + 1);
    env.game.timeout(GAME).unwrap();
    assert_eq!(env.game.game(GAME).4, GameOutcome::ChallengerWon as u8);
}
