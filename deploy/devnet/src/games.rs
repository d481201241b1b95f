//! The dispute games played on chain, read back from `DisputeGame`'s and `Sampling`'s logs for
//! the demo's report: who played, how many moves, where each game ended, the gas it cost and
//! who was slashed.

use std::{collections::BTreeSet, fmt};

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, Log};
use alloy_sol_types::SolEvent;
use assay_chain::{ChainError, Client};
use assay_engine::trace::Op;
use assay_protocol::{
    bindings::{IDisputeGame, ISampling},
    codes::GameOutcome,
};

/// Where a game narrowed to: the op leaf, its op, the cell and the element in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The op leaf.
    pub leaf: u64,
    /// The op's name (`Op`), or its code when unknown.
    pub op: String,
    /// The cell of the leaf's output.
    pub cell: u64,
    /// The element in the cell.
    pub element: u32,
}

/// One game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameLine {
    /// The game.
    pub game_id: U256,
    /// The disputed job (a `JobMarket` job id).
    pub job_id: U256,
    /// The asserter.
    pub defender: Address,
    /// The dissenting validator.
    pub challenger: Address,
    /// Transactions after the opening (moves, the proof, a timeout).
    pub moves: usize,
    /// Their gas.
    pub gas: u64,
    /// Chain seconds from the opening to the last move.
    pub seconds: u64,
    /// The element the game narrowed to, if it got there.
    pub step: Option<Step>,
    /// Whether a one-step proof decided it (else a clock, or no verdict).
    pub proven: bool,
    /// How it ended (`None` while it runs).
    pub outcome: Option<GameOutcome>,
    /// Who the job's settlement slashed, once every game of the job ended.
    pub slashed: Vec<Address>,
}

/// Every game `game` opened, with its moves, ending and the settlement's losers.
///
/// # Errors
/// [`ChainError`] for a failed RPC call.
pub async fn played(
    chain: &Client,
    game: Address,
    sampling: Address,
) -> Result<Vec<GameLine>, ChainError> {
    let head = chain.block_number().await?;
    let all = |signature| Filter::new().address(game).event_signature(signature);
    let opened =
        chain.logs(&all(IDisputeGame::GameOpened::SIGNATURE_HASH), 0, head, "games").await?;
    let mut lines = Vec::new();
    for log in &opened {
        let Ok(o) = log.log_decode::<IDisputeGame::GameOpened>() else { continue };
        let o = o.inner.data;
        let filter = Filter::new().address(game).topic1(B256::from(o.gameId));
        let logs = chain.logs(&filter, 0, head, "game moves").await?;
        let txs: BTreeSet<B256> = logs
            .iter()
            .filter_map(|l| l.transaction_hash)
            .filter(|tx| Some(*tx) != log.transaction_hash)
            .collect();
        let last_block = logs.iter().filter_map(|l| l.block_number).max();
        let seconds = match (log.block_number, last_block) {
            (Some(first), Some(last)) => {
                timestamp(chain, last).await?.saturating_sub(timestamp(chain, first).await?)
            }
            _ => 0,
        };
        let mut gas = 0;
        for tx in &txs {
            let receipt = chain.provider().get_transaction_receipt(*tx).await.map_err(|e| {
                ChainError::Rpc { call: "eth_getTransactionReceipt", detail: e.to_string() }
            })?;
            gas += receipt.map_or(0, |r| r.gas_used);
        }
        let step = decoded::<IDisputeGame::StepDisputed>(&logs).next().map(|s| Step {
            leaf: s.leaf,
            op: Op::from_code(s.op).map_or_else(|| s.op.to_string(), |op| format!("{op:?}")),
            cell: s.cell,
            element: s.element,
        });
        let outcome = decoded::<IDisputeGame::GameEnded>(&logs)
            .next()
            .and_then(|e| GameOutcome::try_from(e.outcome).ok());
        let settled = Filter::new()
            .address(sampling)
            .event_signature(ISampling::DisputeSettled::SIGNATURE_HASH)
            .topic1(B256::from(o.jobId));
        let settled = chain.logs(&settled, 0, head, "settlements").await?;
        lines.push(GameLine {
            game_id: o.gameId,
            job_id: o.jobId,
            defender: o.defender,
            challenger: o.challenger,
            moves: txs.len(),
            gas,
            seconds,
            proven: decoded::<IDisputeGame::StepProven>(&logs).next().is_some(),
            step,
            outcome,
            slashed: decoded::<ISampling::DisputeSettled>(&settled)
                .next()
                .map(|s| s.losers)
                .unwrap_or_default(),
        });
    }
    Ok(lines)
}

async fn timestamp(chain: &Client, block: u64) -> Result<u64, ChainError> {
    let rpc = |detail: String| ChainError::Rpc { call: "eth_getBlockByNumber", detail };
    let found = chain.provider().get_block_by_number(block.into()).await;
    Ok(found
        .map_err(|e| rpc(e.to_string()))?
        .ok_or_else(|| rpc(format!("no block {block}")))?
        .header
        .timestamp)
}

fn decoded<E: SolEvent>(logs: &[Log]) -> impl Iterator<Item = E> + '_ {
    logs.iter().filter_map(|l| l.log_decode::<E>().ok()).map(|l| l.inner.data)
}

impl fmt::Display for GameLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "game {} (job {}): {} defends, {} challenges; {} moves in {} s, {} gas",
            self.game_id,
            self.job_id,
            self.defender,
            self.challenger,
            self.moves,
            self.seconds,
            self.gas
        )?;
        if let Some(s) = &self.step {
            write!(
                f,
                "; narrowed to leaf {} ({}), cell {}, element {}",
                s.leaf, s.op, s.cell, s.element
            )?;
        }
        match self.outcome {
            None => write!(f, "; still running")?,
            Some(GameOutcome::NoVerdict) => {
                write!(f, "; no verdict (the prover does not decide this step)")?;
            }
            Some(outcome) => {
                let how = if self.proven { "by a one-step proof" } else { "on time" };
                write!(f, "; {outcome:?} {how}")?;
            }
        }
        if !self.slashed.is_empty() {
            let slashed: Vec<String> = self.slashed.iter().map(Address::to_string).collect();
            write!(f, "; slashed {}", slashed.join(", "))?;
        }
        Ok(())
    }
}
