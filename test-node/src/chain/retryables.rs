//! Retryables in blocks: the entry point through which an L1 message creates a ticket (its own
//! block, as a delayed message gets on Nitro), the retries transactions schedule (run right
//! after them, in the same block, in FIFO order), and the reaping of expired tickets at the
//! start of every block (two per block, as Nitro's `StartBlock` does).

use std::{collections::VecDeque, convert::Infallible, sync::Arc};

use alloy_primitives::{B256, Log, TxKind, U256};
use revm::{
    Database, DatabaseCommit,
    context::{Journal, JournalTr, TxEnv, result::ResultAndState},
    database::CacheDB,
    state::EvmState,
};
use tracing::{debug, info, warn};

use super::{
    Chain,
    block::{self, Block, BlockTx, Executed, MinedTx},
};
use crate::{
    arbos::BASE_FEE,
    error::{Error, Result},
    evm::{self, BlockInfo, Db},
    retryables::{
        RetryOutcome, RetryableMessage, RetryableSubmission, ScheduledRedeem,
        retry::{self, CurrentRetry},
        state::TicketStore,
        submit,
        tx::{ArbTx, RetryTx},
    },
};

/// Runs `step` on a fresh journal over `db`, as ArbOS changes state outside the EVM; returns
/// its result, its logs and the state changes (not committed).
fn system_changes<DB, R>(
    db: DB,
    step: impl FnOnce(&mut Journal<DB>) -> R,
) -> (R, Vec<Log>, EvmState)
where
    DB: Database<Error = Infallible>,
{
    let mut journal = Journal::new(db);
    journal.set_spec_id(crate::arb_evm::SPEC);
    let result = step(&mut journal);
    let logs = journal.take_logs();
    (result, logs, journal.finalize())
}

fn base_fee() -> U256 {
    U256::from(BASE_FEE)
}

impl Chain {
    /// Takes in an L1 message creating a retryable ticket: mines a block holding its
    /// `ArbitrumSubmitRetryableTx` and, when the gas bid allows, the auto-redeem right after it.
    /// Returns the block with what the submission did, or [`Error::Rejected`] when it failed on
    /// L2 (its failed receipt is in the block).
    ///
    /// # Errors
    /// [`Error::InvalidParams`] (and no block) for what `Inbox.createRetryableTicket` would
    /// revert on, or a ticket id that was submitted before (a reused `requestId`).
    ///
    /// # Events
    /// `TicketCreated`, `RedeemScheduled` (ArbRetryableTx), then the auto-redeem's own logs.
    pub(crate) fn submit_retryable(
        &mut self,
        message: &RetryableMessage,
    ) -> Result<(Result<RetryableSubmission>, Arc<Block>)> {
        message.check_inbox_rules()?;
        let counted = message.request_id.is_none();
        let request_id = match message.request_id {
            Some(id) => id,
            None => {
                let overlay = CacheDB::new(&self.data.db);
                B256::from(system_changes(overlay, |j| TicketStore::new(j).next_message_number()).0)
            }
        };
        let tx = message.to_submit_tx(self.chain_id, request_id);
        let ticket_id = tx.hash();
        if self.data.tx_index.contains_key(&ticket_id) {
            return Err(Error::InvalidParams(format!(
                "ticket {ticket_id} was submitted before (requestId {request_id} reused)"
            )));
        }

        let timestamp = self.next_timestamp();
        let info = BlockInfo { number: self.latest().number() + 1, timestamp };
        self.reap_expired(timestamp);
        let (outcome, logs, state) = system_changes(&mut self.data.db, |journal| {
            if counted {
                TicketStore::new(journal).next_message_number();
            }
            submit::submit(journal, &tx, timestamp, base_fee())
        });
        self.data.db.commit(state);
        let executed = match &outcome {
            Ok(gas_used) => {
                Executed { success: true, gas_used: *gas_used, logs, ..Executed::default() }
            }
            Err(err) => {
                warn!(%ticket_id, %err, "retryable submission failed");
                Executed::default()
            }
        };
        let mined =
            MinedTx::new(BlockTx::Arbitrum(ArbTx::SubmitRetryable(tx)), ticket_id, executed);
        let mut txs = Vec::new();
        self.append_with_retries(&mut txs, mined, info);
        let auto_redeem = txs.iter().find_map(|mined| match &mined.tx {
            BlockTx::Arbitrum(ArbTx::Retry(retry)) if retry.ticket_id == ticket_id => {
                Some(RetryOutcome {
                    retry_tx_hash: mined.hash,
                    success: mined.success,
                    gas_used: mined.gas_used,
                })
            }
            _ => None,
        });
        let block = self.seal_block(txs, Some(timestamp));
        let submission = match outcome {
            Ok(_) => {
                let redeemed = auto_redeem.map(|retry| retry.success);
                info!(%ticket_id, block = block.number(), ?redeemed, "retryable submitted");
                Ok(RetryableSubmission { ticket_id, block_number: block.number(), auto_redeem })
            }
            Err(err) => {
                Err(Error::Rejected(format!("retryable submission {ticket_id} failed: {err}")))
            }
        };
        Ok((submission, block))
    }

    /// Appends `first` to a block being built, then runs the retries it scheduled and the ones
    /// those scheduled, in FIFO order (Nitro's scheduled transactions).
    pub(super) fn append_with_retries(
        &mut self,
        txs: &mut Vec<MinedTx>,
        first: MinedTx,
        info: BlockInfo,
    ) {
        let mut scheduled: VecDeque<_> = ScheduledRedeem::from_logs(&first.logs).into();
        block::append(txs, first);
        while let Some(redeem) = scheduled.pop_front() {
            if let Some(retry) = self.execute_retry(redeem, info) {
                scheduled.extend(ScheduledRedeem::from_logs(&retry.logs));
                block::append(txs, retry);
            }
        }
    }

    /// Executes the `ArbitrumRetryTx` of a scheduled redeem and commits it; `None` when the
    /// ticket is gone by now or the retry is invalid (Nitro leaves those out of the block).
    fn execute_retry(&mut self, redeem: ScheduledRedeem, info: BlockInfo) -> Option<MinedTx> {
        let now = info.timestamp;
        let overlay = CacheDB::new(&self.data.db);
        let ticket = system_changes(overlay, |j| TicketStore::new(j).open(redeem.ticket_id, now)).0;
        let Some(ticket) = ticket else {
            debug!(ticket = %redeem.ticket_id, "retryable was deleted before its retry");
            return None;
        };
        let tx = RetryTx {
            chain_id: self.chain_id,
            nonce: redeem.sequence,
            from: ticket.from,
            gas_fee_cap: base_fee(),
            gas: redeem.donated_gas,
            to: ticket.to,
            value: ticket.callvalue,
            data: ticket.calldata,
            ticket_id: redeem.ticket_id,
            refund_to: redeem.gas_donor,
            max_refund: redeem.max_refund,
            submission_fee_refund: redeem.submission_fee_refund,
        };
        let hash = tx.hash();

        let mut overlay = CacheDB::new(&self.data.db);
        let (started, _, pre_state) =
            system_changes(&mut overlay, |j| retry::start(j, &tx, now, base_fee()));
        if let Err(err) = started {
            warn!(%hash, %err, "retry failed to start");
            return Some(MinedTx::new(
                BlockTx::Arbitrum(ArbTx::Retry(tx)),
                hash,
                Executed::default(),
            ));
        }
        overlay.commit(pre_state.clone());
        let nonce =
            overlay.basic(tx.from).unwrap_or_else(|never| match never {}).unwrap_or_default().nonce;
        let env = TxEnv {
            caller: tx.from,
            gas_limit: tx.gas,
            gas_price: u128::from(BASE_FEE),
            kind: tx.to.map_or(TxKind::Create, TxKind::Call),
            value: tx.value,
            data: tx.data.clone(),
            nonce,
            chain_id: Some(self.chain_id),
            ..TxEnv::default()
        };
        let mut cfg = evm::tx_cfg(self.chain_id);
        cfg.disable_eip3607 = true;
        let current = CurrentRetry { ticket_id: tx.ticket_id, refund_to: tx.refund_to };
        let executed = evm::transact_as(&mut overlay, info, cfg, env, Some(current));
        let ResultAndState { result, state } = match executed {
            Ok(executed) => executed,
            Err(err) => {
                warn!(%hash, %err, "invalid retry left out of the block");
                return None;
            }
        };
        self.data.db.commit(pre_state);
        self.data.db.commit(state);
        let (success, gas_used) = (result.is_success(), result.tx_gas_used());
        let mut logs = result.into_logs();
        let (_, end_logs, end_state) = system_changes(&mut self.data.db, |j| {
            retry::end(j, &tx, gas_used, success, base_fee());
        });
        self.data.db.commit(end_state);
        logs.extend(end_logs);
        debug!(%hash, ticket = %tx.ticket_id, success, gas_used, "retry executed");
        let contract_address = tx.to.is_none().then(|| tx.from.create(nonce));
        let executed = Executed { success, gas_used, logs, contract_address };
        Some(MinedTx::new(BlockTx::Arbitrum(ArbTx::Retry(tx)), hash, executed))
    }

    /// Reaps expired tickets at the start of a block at time `now` (up to two, like Nitro);
    /// returns the state from before when anything changed, for a caller that may abandon
    /// the block.
    pub(super) fn reap_expired(&mut self, now: u64) -> Option<Db> {
        let overlay = CacheDB::new(&self.data.db);
        let (changed, _, state) = system_changes(overlay, |journal| {
            let mut store = TicketStore::new(journal);
            let first = store.reap_one(now);
            store.reap_one(now) || first
        });
        if !changed {
            return None;
        }
        let before = self.data.db.clone();
        self.data.db.commit(state);
        debug!(now, "reaped expired retryables");
        Some(before)
    }
}
