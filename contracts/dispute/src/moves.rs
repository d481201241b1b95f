//! The phases of a game: opening, each side's moves with its clock, the comparison after the
//! challenger's move, and the ending.

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U32, U64, U8},
    keccak256, Address, B256, U256,
};
use assay_step::{
    commit::{self, Hash, Keccak, OpLeaf},
    decide::provable,
    reduce::Kind,
};
use stylus_sdk::prelude::*;

use crate::{
    state::{outcome, phase, step_kind, Game, CHALLENGER, DEFENDER},
    DisputeGame, IDisputeGame, Result,
};

/// `IOneStepProver.prove`'s kind that asks whether the disputed token was sampled.
const SAMPLED: u8 = 3;
/// What the prover answers when the chain cannot tell which header a leaf must have.
const UNDECIDED: B256 = B256::repeat_byte(0xff);

/// keccak-256 through the hostio (`alloy_primitives::keccak256` with `native-keccak`).
struct HostKeccak;

impl Keccak for HostKeccak {
    fn keccak(&self, parts: &[&[u8]]) -> Hash {
        keccak256(parts.concat()).0
    }
}

/// `root`, a tree `from` levels high, as the node `to` levels high of the same leaves padded
/// with zero leaves.
fn lift(mut root: Hash, from: u32, to: u32) -> Hash {
    let mut zero = [0u8; 32];
    for level in 0..to {
        if level >= from {
            root = commit::node(&HostKeccak, &root, &zero);
        }
        zero = commit::node(&HostKeccak, &zero, &zero);
    }
    root
}

/// Most cells a disputed leaf may have (2^40 KiB of output): both sides opened the same header,
/// so a larger shape (or one without cells) is nobody's honest trace, and the game ends without
/// a verdict.
const MAX_CELLS: u64 = 1 << 40;

/// A checked move: who makes it, when, and the time its side has left after it.
pub(crate) struct Turn {
    pub(crate) side: u8,
    pub(crate) caller: Address,
    now: u64,
    left: u64,
}

fn hashes(nodes: &[B256]) -> Vec<Hash> {
    nodes.iter().map(|n| n.0).collect()
}

impl DisputeGame {
    /// The side to move loses on time after this.
    pub(crate) fn deadline(g: &stylus_sdk::storage::StorageGuard<'_, Game>, side: u8) -> u64 {
        let left: u64 =
            if side == DEFENDER { g.defender_clock.get() } else { g.challenger_clock.get() }.to();
        g.last_move.get().to::<u64>().saturating_add(left)
    }

    pub(crate) fn _open_game(
        &mut self,
        (job_id, model_id): (U256, B256),
        (defender, defender_output, defender_trace): (Address, B256, B256),
        (challenger, challenger_output, challenger_trace): (Address, B256, B256),
    ) -> Result<U256> {
        let caller = self.vm().msg_sender();
        if caller != self.sampling.get() {
            return Err(IDisputeGame::NotSampling { account: caller }.into());
        }
        self.start_game(
            (job_id, model_id),
            (defender, defender_output, defender_trace),
            (challenger, challenger_output, challenger_trace),
        )
    }

    /// Opens a game: Sampling's (`openGame`), or a bonded claim's on a disputed job.
    pub(crate) fn start_game(
        &mut self,
        (job_id, model_id): (U256, B256),
        (defender, defender_output, defender_trace): (Address, B256, B256),
        (challenger, challenger_output, challenger_trace): (Address, B256, B256),
    ) -> Result<U256> {
        if !self.game_of.getter(job_id).get(challenger).is_zero()
            || defender == challenger
            || defender_output == challenger_output
        {
            return Err(IDisputeGame::InvalidParams {}.into());
        }
        let game_id = self.games_opened.get().saturating_add(U256::from(1u8));
        self.games_opened.set(game_id);
        self.game_of.setter(job_id).insert(challenger, game_id);
        let (clock, now) = (self.clock.get(), self.vm().block_timestamp());
        let mut g = self.games.setter(game_id);
        g.job_id.set(job_id);
        g.model_id.set(model_id);
        g.defender.set(defender);
        g.challenger.set(challenger);
        g.defender_output.set(defender_output);
        g.defender_trace.set(defender_trace);
        g.challenger_output.set(challenger_output);
        g.challenger_trace.set(challenger_trace);
        g.phase.set(U8::from(phase::ROOTS));
        g.turn.set(U8::from(DEFENDER));
        g.defender_clock.set(clock);
        g.challenger_clock.set(clock);
        g.last_move.set(U64::from(now));
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::GameOpened {
                gameId: game_id,
                jobId: job_id,
                defender,
                challenger,
                modelId: model_id,
                clock: clock.to(),
            },
        );
        Ok(game_id)
    }

    /// Checks that the caller is the side to move in `expected` with time left. Nothing is
    /// written until the move is checked: then [`Self::charge`].
    pub(crate) fn take_turn(&self, game_id: U256, expected: u8) -> Result<Turn> {
        let (caller, now) = (self.vm().msg_sender(), self.vm().block_timestamp());
        let g = self.games.get(game_id);
        let current: u8 = g.phase.get().to();
        if current == 0 {
            return Err(IDisputeGame::UnknownGame { gameId: game_id }.into());
        }
        if current != expected {
            return Err(IDisputeGame::WrongPhase { gameId: game_id, phase: current }.into());
        }
        let side: u8 = g.turn.get().to();
        let mover = if side == DEFENDER { g.defender.get() } else { g.challenger.get() };
        if caller != mover {
            return Err(IDisputeGame::NotYourTurn { gameId: game_id, account: caller }.into());
        }
        let deadline = Self::deadline(&g, side);
        if now > deadline {
            return Err(
                IDisputeGame::ClockExpired { gameId: game_id, side: caller, deadline }.into()
            );
        }
        Ok(Turn { side, caller, now, left: deadline.saturating_sub(now) })
    }

    /// Charges the checked move's time to its side's clock and hands the turn over.
    pub(crate) fn charge(&mut self, game_id: U256, turn: &Turn) {
        let mut g = self.games.setter(game_id);
        let left = U64::from(turn.left);
        if turn.side == DEFENDER {
            g.defender_clock.set(left);
        } else {
            g.challenger_clock.set(left);
        }
        g.last_move.set(U64::from(turn.now));
        g.turn.set(U8::from(if turn.side == DEFENDER { CHALLENGER } else { DEFENDER }));
    }

    pub(crate) fn bad_opening(game_id: U256, side: Address) -> crate::GameError {
        IDisputeGame::BadOpening { gameId: game_id, side }.into()
    }

    /// The node in dispute, as `side` claims it.
    pub(crate) fn node_of(&self, game_id: U256, side: u8) -> Hash {
        let g = self.games.get(game_id);
        if side == DEFENDER { g.defender_node.get() } else { g.challenger_node.get() }.0
    }

    /// Disputes node `(level, index)` of a tree of `width` base nodes in `next` phase.
    fn dispute_node(
        &mut self,
        game_id: U256,
        next: u8,
        (level, index, width): (u32, u64, u64),
        (defender, challenger): (Hash, Hash),
    ) {
        let mut g = self.games.setter(game_id);
        g.phase.set(U8::from(next));
        g.level.set(U8::from(level));
        g.index.set(U64::from(index));
        g.width.set(U64::from(width));
        g.defender_node.set(B256::from(defender));
        g.challenger_node.set(B256::from(challenger));
    }

    fn emit_root(&self, game_id: U256, side: Address, n_leaves: u32, tree_root: B256) {
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::RootOpened {
                gameId: game_id,
                side,
                nLeaves: n_leaves,
                treeRoot: tree_root,
            },
        );
    }

    pub(crate) fn _open_root(
        &mut self,
        game_id: U256,
        n_leaves: u32,
        tree_root: B256,
    ) -> Result<()> {
        let turn = self.take_turn(game_id, phase::ROOTS)?;
        let (side, caller) = (turn.side, turn.caller);
        let (output, committed) = {
            let g = self.games.get(game_id);
            if side == DEFENDER {
                (g.defender_output.get(), g.defender_trace.get())
            } else {
                (g.challenger_output.get(), g.challenger_trace.get())
            }
        };
        if n_leaves == 0
            || commit::trace_root(&HostKeccak, n_leaves, &output.0, &tree_root.0) != committed.0
        {
            return Err(Self::bad_opening(game_id, caller));
        }
        self.charge(game_id, &turn);
        self.emit_root(game_id, caller, n_leaves, tree_root);
        if side == DEFENDER {
            let mut g = self.games.setter(game_id);
            g.defender_leaves.set(U32::from(n_leaves));
            g.defender_node.set(tree_root);
            return Ok(());
        }
        let (defender_leaves, defender_root) = {
            let g = self.games.get(game_id);
            (g.defender_leaves.get().to::<u64>(), g.defender_node.get())
        };
        let (d_height, c_height) =
            (commit::tree_height(defender_leaves), commit::tree_height(u64::from(n_leaves)));
        let height = d_height.max(c_height);
        let defender = lift(defender_root.0, d_height, height);
        let challenger = lift(tree_root.0, c_height, height);
        if defender == challenger {
            // Equal leaves, different outputs: at most one output is the hash of the Output
            // leaf (the last), which a proof opening it tells (the defender's burden).
            if defender_leaves != u64::from(n_leaves) {
                return self.end(game_id, outcome::NO_VERDICT);
            }
            return self.dispute_output(game_id, n_leaves, height, defender);
        }
        self.dispute_node(
            game_id,
            phase::LEAVES,
            (height, 0, 1u64 << height),
            (defender, challenger),
        );
        let mut g = self.games.setter(game_id);
        g.height.set(U8::from(height));
        g.defender_tree.set(B256::from(defender));
        g.challenger_tree.set(B256::from(challenger));
        Ok(())
    }

    /// Enters the Step phase over the outputs themselves: the disputed "element" is the output
    /// hash of the agreed trace's last leaf (no header: [`Self::_prove_step`] then reads an
    /// Output-leaf proof, `assay_prover::proof::output_of`).
    fn dispute_output(
        &mut self,
        game_id: U256,
        n_leaves: u32,
        height: u32,
        tree: Hash,
    ) -> Result<()> {
        let last = u64::from(n_leaves.saturating_sub(1));
        let mut g = self.games.setter(game_id);
        let outputs = (g.defender_output.get(), g.challenger_output.get());
        g.height.set(U8::from(height));
        g.defender_tree.set(B256::from(tree));
        g.challenger_tree.set(B256::from(tree));
        g.leaf.set(U64::from(last));
        g.header.set(B256::ZERO);
        g.row.set(U64::ZERO);
        g.col.set(U64::ZERO);
        g.defender_value.set(outputs.0);
        g.challenger_value.set(outputs.1);
        g.phase.set(U8::from(phase::STEP));
        g.turn.set(U8::from(DEFENDER));
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::StepDisputed {
                gameId: game_id,
                leaf: last,
                op: assay_step::op::OUTPUT,
                cell: 0,
                element: 0,
            },
        );
        Ok(())
    }

    pub(crate) fn _bisect(
        &mut self,
        game_id: U256,
        children: &[B256],
        defender_children: &[B256],
    ) -> Result<()> {
        let current: u8 = self.games.get(game_id).phase.get().to();
        let expected = if current == phase::CELLS { phase::CELLS } else { phase::LEAVES };
        let turn = self.take_turn(game_id, expected)?;
        let (side, caller) = (turn.side, turn.caller);
        let (level, index, width, defender) = {
            let g = self.games.get(game_id);
            (
                u32::from(g.level.get().to::<u8>()),
                g.index.get().to::<u64>(),
                g.width.get().to::<u64>(),
                g.defender.get(),
            )
        };
        let down = u32::from(self.arity_bits.get().to::<u8>()).min(level);
        let child_level = level.saturating_sub(down);
        let first = index << down;
        let count = commit::level_width(width, child_level).saturating_sub(first).min(1 << down);
        let folds_to = |nodes: &[B256], node: Hash| {
            nodes.len() as u64 == count
                && commit::fold(&HostKeccak, &mut hashes(nodes), down) == Some(node)
        };
        if !folds_to(children, self.node_of(game_id, side)) {
            return Err(Self::bad_opening(game_id, caller));
        }
        if side == CHALLENGER && !folds_to(defender_children, self.node_of(game_id, DEFENDER)) {
            return Err(Self::bad_opening(game_id, defender));
        }
        self.charge(game_id, &turn);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::Bisected {
                gameId: game_id,
                side: caller,
                phase: expected,
                level: child_level as u8,
                index: first,
                children: children.to_vec(),
            },
        );
        if side == DEFENDER {
            return Ok(());
        }
        // Different nodes fold from different children: the first is the new dispute.
        let Some(j) = defender_children.iter().zip(children).position(|(d, c)| d != c) else {
            return Err(Self::bad_opening(game_id, caller));
        };
        let nodes = (defender_children[j].0, children[j].0);
        let index = first.saturating_add(j as u64);
        let next = match (expected, child_level) {
            (phase::LEAVES, 0) => phase::LEAF,
            (phase::CELLS, 0) => phase::CELL,
            _ => expected,
        };
        self.dispute_node(game_id, next, (child_level, index, width), nodes);
        if next == phase::LEAF {
            // A zero node is a leaf one trace lacks: its side opens nothing, and the schedule
            // decides which length is right.
            self.games.setter(game_id).leaf.set(U64::from(index));
        }
        Ok(())
    }

    pub(crate) fn _open_leaf(
        &mut self,
        game_id: U256,
        preimage: &[u8],
        defender_preimage: &[u8],
    ) -> Result<()> {
        let turn = self.take_turn(game_id, phase::LEAF)?;
        let (side, caller) = (turn.side, turn.caller);
        // A leaf opens its node; a side whose trace has no leaf here (a zero node) opens nothing.
        let opens = |bytes: &[u8], node: Hash| -> Option<Option<OpLeaf>> {
            if node == [0; 32] {
                return bytes.is_empty().then_some(None);
            }
            OpLeaf::parse(bytes).filter(|leaf| leaf.hash(&HostKeccak) == Some(node)).map(Some)
        };
        let mine = opens(preimage, self.node_of(game_id, side))
            .ok_or_else(|| Self::bad_opening(game_id, caller))?;
        let theirs = if side == CHALLENGER {
            let defender = self.games.get(game_id).defender.get();
            Some(
                opens(defender_preimage, self.node_of(game_id, DEFENDER))
                    .ok_or_else(|| Self::bad_opening(game_id, defender))?,
            )
        } else {
            None
        };
        self.charge(game_id, &turn);
        let leaf: u64 = self.games.get(game_id).leaf.get().to();
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::LeafOpened {
                gameId: game_id,
                side: caller,
                leaf,
                preimage: preimage.to_vec().into(),
            },
        );
        let Some(theirs) = theirs else {
            return Ok(());
        };
        let (theirs, mine) = match (theirs, mine) {
            (Some(theirs), Some(mine)) if mine.same_header(&theirs) => (theirs, mine),
            // Different ops, shapes or places, or a leaf one trace lacks: the schedule decides.
            openings => return self.dispute_schedule(game_id, openings),
        };
        let Some((cells, count)) = mine
            .cells()
            .and_then(|c| Some((c, c.count()?)))
            .filter(|(_, n)| (1..=MAX_CELLS).contains(n))
        else {
            // A shape with no cells (or more than the engine's): nothing to narrow to.
            return self.end(game_id, outcome::NO_VERDICT);
        };
        let height = commit::tree_height(count);
        let next = if height == 0 { phase::CELL } else { phase::CELLS };
        self.dispute_node(game_id, next, (height, 0, count), (theirs.cells_root, mine.cells_root));
        let header = OpLeaf { cells_root: [0; 32], ..mine }.hash(&HostKeccak).unwrap_or_default();
        let mut g = self.games.setter(game_id);
        g.header.set(B256::from(header));
        g.op.set(U32::from(mine.op));
        g.row_len.set(U64::from(cells.row_len));
        g.element_size.set(U8::from(cells.size as u8));
        g.decidable.set(provable(&mine));
        g.reduction.set(U8::from(Kind::of(&mine).map_or(0, |k| k as u8)));
        Ok(())
    }

    /// Enters the Step phase over the disputed leaf's header: the one-step prover says which
    /// header the schedule puts there (zero: none), and the side that opened it wins.
    fn dispute_schedule(
        &mut self,
        game_id: U256,
        (defender, challenger): (Option<OpLeaf>, Option<OpLeaf>),
    ) -> Result<()> {
        let header = |leaf: Option<OpLeaf>| {
            leaf.and_then(|l| OpLeaf { cells_root: [0; 32], ..l }.hash(&HostKeccak))
                .map_or(B256::ZERO, B256::from)
        };
        let mut g = self.games.setter(game_id);
        g.defender_value.set(header(defender));
        g.challenger_value.set(header(challenger));
        g.step_kind.set(U8::from(step_kind::SCHEDULE));
        g.phase.set(U8::from(phase::STEP));
        Ok(())
    }

    pub(crate) fn _open_cell(
        &mut self,
        game_id: U256,
        data: &[u8],
        defender_data: &[u8],
    ) -> Result<()> {
        let turn = self.take_turn(game_id, phase::CELL)?;
        let (side, caller) = (turn.side, turn.caller);
        let (index, leaf, (op, decidable), row_len, size, defender) = {
            let g = self.games.get(game_id);
            (
                g.index.get().to::<u64>(),
                g.leaf.get().to::<u64>(),
                (g.op.get().to::<u32>(), g.decidable.get()),
                g.row_len.get().to::<u64>(),
                usize::from(g.element_size.get().to::<u8>()),
                g.defender.get(),
            )
        };
        let cells = commit::Cells { rows: 0, row_len, size };
        let bytes = cells.span(index).2.saturating_mul(size as u64);
        let opens = |data: &[u8], node: Hash| {
            data.len() as u64 == bytes && commit::cell(&HostKeccak, data) == node
        };
        if !opens(data, self.node_of(game_id, side)) {
            return Err(Self::bad_opening(game_id, caller));
        }
        if side == CHALLENGER && !opens(defender_data, self.node_of(game_id, DEFENDER)) {
            return Err(Self::bad_opening(game_id, defender));
        }
        self.charge(game_id, &turn);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::CellOpened {
                gameId: game_id,
                side: caller,
                cell: index,
                data: data.to_vec().into(),
            },
        );
        if side == DEFENDER {
            return Ok(());
        }
        let differs = defender_data.chunks(size).zip(data.chunks(size)).position(|(d, c)| d != c);
        let Some(element) = differs else {
            return Err(Self::bad_opening(game_id, caller));
        };
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::StepDisputed {
                gameId: game_id,
                leaf,
                op,
                cell: index,
                element: element as u32,
            },
        );
        if !decidable {
            // The prompt's tokens (the tokenizer's output): the one-step prover does not decide them.
            return self.end(game_id, outcome::NO_VERDICT);
        }
        let (per_row, per_cell) = (cells.per_row().max(1), cells.per_cell());
        let col = index
            .checked_rem(per_row)
            .unwrap_or_default()
            .saturating_mul(per_cell)
            .saturating_add(element as u64);
        let value = |cell: &[u8]| {
            let at = element.saturating_mul(size);
            B256::right_padding_from(cell.get(at..at.saturating_add(size)).unwrap_or_default())
        };
        let mut g = self.games.setter(game_id);
        g.row.set(U64::from(index.checked_div(per_row).unwrap_or_default()));
        g.col.set(U64::from(col));
        g.defender_value.set(value(defender_data));
        g.challenger_value.set(value(data));
        // A reduction is narrowed to one term first; otherwise the defender proves its value
        // first, and either side may prove at any time.
        let next = if g.reduction.get().is_zero() { phase::STEP } else { phase::REDUCTION };
        g.phase.set(U8::from(next));
        g.turn.set(U8::from(DEFENDER));
        Ok(())
    }

    pub(crate) fn _prove_step(&mut self, game_id: U256, bytes: &[u8]) -> Result<()> {
        let g = self.games.get(game_id);
        let current: u8 = g.phase.get().to();
        if current == 0 {
            return Err(IDisputeGame::UnknownGame { gameId: game_id }.into());
        }
        if current != phase::STEP && current != phase::REDUCTION {
            return Err(IDisputeGame::WrongPhase { gameId: game_id, phase: current }.into());
        }
        let claims = (g.defender_value.get(), g.challenger_value.get());
        let kind: u8 = g.step_kind.get().to();
        drop(g);
        if current == phase::REDUCTION {
            // Only to show that the disputed token was sampled, which nobody decides.
            self._prove(game_id, SAMPLED, bytes)?;
            return self.end(game_id, outcome::NO_VERDICT);
        }
        let correct = self._prove(game_id, kind, bytes)?;
        if kind == step_kind::SCHEDULE && correct == UNDECIDED {
            // What the leaf must be depends on what the chain does not know.
            return self.end(game_id, outcome::NO_VERDICT);
        }
        self.settle_step(game_id, correct, claims)
    }

    /// Ends a game in the Step phase on the proven value `correct` of what both sides claimed.
    pub(crate) fn settle_step(
        &mut self,
        game_id: U256,
        correct: B256,
        claims: (B256, B256),
    ) -> Result<()> {
        let result = match (correct == claims.0, correct == claims.1) {
            (true, _) => outcome::DEFENDER_WON,
            (false, true) => outcome::CHALLENGER_WON,
            (false, false) => outcome::BOTH_WRONG,
        };
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::StepProven { gameId: game_id, value: correct },
        );
        self.end(game_id, result)
    }

    pub(crate) fn _timeout(&mut self, game_id: U256) -> Result<()> {
        let g = self.games.get(game_id);
        let current: u8 = g.phase.get().to();
        if current == 0 {
            return Err(IDisputeGame::UnknownGame { gameId: game_id }.into());
        }
        if current == phase::ENDED {
            return Err(IDisputeGame::WrongPhase { gameId: game_id, phase: current }.into());
        }
        let side: u8 = g.turn.get().to();
        let deadline = Self::deadline(&g, side);
        drop(g);
        if self.vm().block_timestamp() <= deadline {
            return Err(IDisputeGame::ClockRunning { gameId: game_id, deadline }.into());
        }
        let winner = if side == DEFENDER { outcome::CHALLENGER_WON } else { outcome::DEFENDER_WON };
        self.end(game_id, winner)
    }

    /// Records the outcome, then reports it to Sampling (state first: Sampling calls out).
    pub(crate) fn end(&mut self, game_id: U256, result: u8) -> Result<()> {
        let mut g = self.games.setter(game_id);
        g.phase.set(U8::from(phase::ENDED));
        g.outcome.set(U8::from(result));
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::GameEnded { gameId: game_id, outcome: result },
        );
        self.settle_bond(game_id, result);
        self._report(game_id, result)
    }
}
