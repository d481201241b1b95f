//! The running node: the chain behind a mutex, the block feed for subscriptions, and the
//! interval miner.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use alloy_primitives::Address;
use tokio::sync::{broadcast, watch};

use crate::{
    chain::{Block, Chain},
    error::Result,
    genesis::{ANVIL_ACCOUNTS, DEV_ACCOUNT},
    retryables::{RetryableMessage, RetryableSubmission},
    rpc::Filters,
};

/// How many mined blocks a slow subscriber may lag behind.
const FEED_CAPACITY: usize = 1024;

/// Shared handle to the node's state; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    chain: Arc<Mutex<Chain>>,
    feed: broadcast::Sender<Arc<Block>>,
    interval: watch::Sender<Option<Duration>>,
    accounts: Arc<Vec<Address>>,
    filters: Filters,
}

impl Node {
    /// Wraps a chain; `block_time` set means interval mining.
    pub(crate) fn new(
        mut chain: Chain,
        block_time: Option<Duration>,
        anvil_accounts: usize,
    ) -> Self {
        chain.set_automine(block_time.is_none());
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let (interval, _) = watch::channel(block_time);
        let accounts = std::iter::once(DEV_ACCOUNT)
            .chain(ANVIL_ACCOUNTS.iter().take(anvil_accounts).map(|(address, _)| *address))
            .collect();
        Self {
            chain: Arc::new(Mutex::new(chain)),
            feed,
            interval,
            accounts: Arc::new(accounts),
            filters: Filters::default(),
        }
    }

    /// Locks the chain (a panic while holding it is a bug; the lock is taken back regardless).
    pub(crate) fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The unlocked accounts (`eth_accounts`).
    pub(crate) fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// The installed polling filters.
    pub(crate) fn filters(&self) -> &Filters {
        &self.filters
    }

    /// Takes in an L1 message creating a retryable ticket (see `Chain::submit_retryable`) and
    /// announces the block it mined.
    ///
    /// # Errors
    /// As `Chain::submit_retryable`: [`crate::Error::InvalidParams`] for messages the Inbox
    /// would reject, [`crate::Error::Rejected`] when the submission failed on L2.
    pub(crate) fn submit_retryable(
        &self,
        message: &RetryableMessage,
    ) -> Result<RetryableSubmission> {
        let (submission, block) = self.chain().submit_retryable(message)?;
        self.announce(block);
        submission
    }

    /// Announces newly mined blocks to subscribers.
    pub(crate) fn announce(&self, block: Arc<Block>) {
        // No subscribers is fine.
        let _ = self.feed.send(block);
    }

    /// A receiver of mined blocks.
    pub(crate) fn subscribe_blocks(&self) -> broadcast::Receiver<Arc<Block>> {
        self.feed.subscribe()
    }

    /// Switches between interval mining (`Some`) and automine (`None`).
    pub(crate) fn set_interval(&self, interval: Option<Duration>) {
        self.chain().set_automine(interval.is_none());
        self.interval.send_replace(interval);
    }

    /// Mines blocks on the configured interval until the node stops.
    pub(crate) async fn run_miner(self) {
        let mut interval = self.interval.subscribe();
        loop {
            let current = *interval.borrow_and_update();
            match current {
                Some(period) => {
                    tokio::select! {
                        () = tokio::time::sleep(period) => {
                            let block = self.chain().mine(None);
                            self.announce(block);
                        }
                        changed = interval.changed() => if changed.is_err() { return },
                    }
                }
                None => {
                    if interval.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
