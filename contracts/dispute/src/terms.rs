//! The phases Reduction and Terms: a disputed element reduced over more than a row is narrowed to
//! one term of its reduction (`reduction`) by a bisection over the running accumulators.

use alloc::vec::Vec;

use alloy_primitives::{
    aliases::{U64, U8},
    keccak256, B256, U256,
};
use assay_step::reduce::{term_points, Kind};
use stylus_sdk::prelude::*;

use crate::{
    moves::Turn,
    state::{phase, step_kind, DEFENDER},
    DisputeGame, IDisputeGame, Result,
};

/// Most terms a side may claim a reduction has (the longest is the 2·W of a softmax row).
pub const MAX_TERMS: u64 = 1 << 32;

/// The hash the defender's posted accumulators are kept as.
fn posted(accs: &[B256]) -> B256 {
    keccak256(accs.iter().flat_map(|a| a.0).collect::<Vec<u8>>())
}

impl DisputeGame {
    pub(crate) fn _open_terms(&mut self, game_id: U256, terms: u64, last: B256) -> Result<()> {
        let turn = self.take_turn(game_id, phase::REDUCTION)?;
        if terms == 0 || terms > MAX_TERMS {
            return Err(Self::bad_opening(game_id, turn.caller));
        }
        self.charge(game_id, &turn);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::TermsOpened { gameId: game_id, side: turn.caller, terms, last },
        );
        let mut g = self.games.setter(game_id);
        if turn.side == DEFENDER {
            g.terms.set(U64::from(terms));
            g.defender_node.set(last);
            return Ok(());
        }
        let (defender_last, terms) = (g.defender_node.get(), terms.max(g.terms.get().to()));
        g.terms.set(U64::from(terms));
        if defender_last == last {
            // Both reduced to the same accumulator: the element is its function.
            g.step_kind.set(U8::from(step_kind::FINISH));
            g.agreed.set(last);
            g.lo.set(U64::from(terms));
            g.hi.set(U64::from(terms));
            g.phase.set(U8::from(phase::STEP));
            return Ok(());
        }
        let kind = Kind::from_code(g.reduction.get().to()).unwrap_or(Kind::Context);
        g.defender_value.set(defender_last);
        g.challenger_value.set(last);
        drop(g);
        self.dispute_terms(game_id, (0, B256::from(kind.init())), terms);
        Ok(())
    }

    pub(crate) fn _bisect_terms(
        &mut self,
        game_id: U256,
        accs: &[B256],
        defender_accs: &[B256],
    ) -> Result<()> {
        let turn: Turn = self.take_turn(game_id, phase::TERMS)?;
        let (lo, hi, defender, defender_hash) = {
            let g = self.games.get(game_id);
            (
                g.lo.get().to::<u64>(),
                g.hi.get().to::<u64>(),
                g.defender.get(),
                g.defender_node.get(),
            )
        };
        let k = 1u64 << self.arity_bits.get().to::<u8>();
        let points: Vec<u64> = term_points(lo, hi, k).collect();
        if accs.len() != points.len() {
            return Err(Self::bad_opening(game_id, turn.caller));
        }
        if turn.side != DEFENDER
            && (defender_accs.len() != points.len() || posted(defender_accs) != defender_hash)
        {
            return Err(Self::bad_opening(game_id, defender));
        }
        self.charge(game_id, &turn);
        assay_contract_kit::emit(
            self.vm(),
            IDisputeGame::TermsBisected {
                gameId: game_id,
                side: turn.caller,
                lo,
                hi,
                accs: accs.to_vec(),
            },
        );
        if turn.side == DEFENDER {
            self.games.setter(game_id).defender_node.set(posted(accs));
            return Ok(());
        }
        // Everything before the first point where the sides differ is agreed; the claims at the
        // first differing point (or still at `hi`) are disputed next.
        let agreed = self.games.get(game_id).agreed.get();
        let differs = defender_accs.iter().zip(accs).position(|(d, c)| d != c);
        let end = differs.unwrap_or(points.len());
        let from = match end.checked_sub(1).and_then(|b| Some((*points.get(b)?, *accs.get(b)?))) {
            Some(before) => before,
            None => (lo, agreed),
        };
        let to = match differs
            .and_then(|m| Some((*points.get(m)?, *defender_accs.get(m)?, *accs.get(m)?)))
        {
            Some((point, defender, challenger)) => {
                let mut g = self.games.setter(game_id);
                g.defender_value.set(defender);
                g.challenger_value.set(challenger);
                point
            }
            None => hi,
        };
        self.dispute_terms(game_id, from, to);
        Ok(())
    }

    /// Disputes the terms `from.0..hi`, from the agreed accumulator `from.1` to the claims at
    /// `hi` (already stored): one term goes to the Step phase, more to the Terms phase.
    fn dispute_terms(&mut self, game_id: U256, (lo, agreed): (u64, B256), hi: u64) {
        let mut g = self.games.setter(game_id);
        g.step_kind.set(U8::from(step_kind::TERM));
        g.lo.set(U64::from(lo));
        g.hi.set(U64::from(hi));
        g.agreed.set(agreed);
        let next = if hi.saturating_sub(lo) == 1 { phase::STEP } else { phase::TERMS };
        g.phase.set(U8::from(next));
    }
}
