//! The chain client: one provider, one optional signing key, views and simulated sends.

use std::{sync::Arc, time::Duration};

use alloy_network::{EthereumWallet, TransactionBuilder};
use alloy_primitives::{Address, B256, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder, transport::TransportError};
use alloy_rpc_types_eth::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent};
use assay_protocol::deployment::{Deployment, DeploymentError};
use tokio::sync::Mutex;

use crate::{Key, Revert};

/// Blocks per `eth_getLogs` request of [`Client::logs`]: public RPC endpoints refuse wide
/// ranges.
pub const LOG_RANGE: u64 = 50_000;

/// How long [`Client::send`] waits for a receipt by default.
pub const DEFAULT_MINED_WITHIN: Duration = Duration::from_secs(120);

/// Why a chain call failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC URL does not parse.
    #[error("RPC URL {url:?} is not a URL: {detail}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        detail: String,
    },
    /// The node did not answer `eth_chainId`.
    #[error("cannot reach the chain at {url}: {detail}")]
    Connect {
        /// The URL.
        url: String,
        /// The transport's error.
        detail: String,
    },
    /// The node serves another chain than the deployment file names.
    #[error("the RPC serves chain {rpc}, the deployment file is for chain {deployment}")]
    WrongChain {
        /// The node's chain id.
        rpc: u64,
        /// The deployment file's.
        deployment: u64,
    },
    /// The call reverted (in simulation, before anything was signed).
    #[error("{call} reverted: {revert}")]
    Reverted {
        /// The call's Solidity signature.
        call: &'static str,
        /// The named error.
        revert: Box<Revert>,
    },
    /// The node refused the request or could not be reached.
    #[error("{call}: {detail}")]
    Rpc {
        /// The call's Solidity signature or the RPC method.
        call: &'static str,
        /// The transport's error.
        detail: String,
    },
    /// The call returned data that does not decode as its declared return values.
    #[error("{call} returned data that does not decode: {source}")]
    Decode {
        /// The call's Solidity signature.
        call: &'static str,
        /// The decoder's error.
        source: alloy_sol_types::Error,
    },
    /// The transaction was sent but no receipt came within the deadline (a node that lost it,
    /// or a nonce gap); its nonce is read again from the chain for the next send.
    #[error("{call}: transaction {tx} was not mined within {} s", within.as_secs())]
    NotMined {
        /// The call's Solidity signature.
        call: &'static str,
        /// The transaction hash.
        tx: B256,
        /// The deadline.
        within: Duration,
    },
    /// The transaction was mined but reverted (the state changed after the simulation).
    #[error("{call}: transaction {tx} reverted on chain")]
    FailedOnChain {
        /// The call's Solidity signature.
        call: &'static str,
        /// The transaction hash.
        tx: B256,
    },
    /// A contract returned a status, state or role code this build does not know.
    #[error(transparent)]
    UnknownCode(#[from] assay_protocol::codes::UnknownCode),
    /// A mined transaction lacks the event its call always logs.
    #[error("{call}: the receipt has no {event} event")]
    MissingEvent {
        /// The call's Solidity signature.
        call: &'static str,
        /// The event's signature.
        event: &'static str,
    },
    /// This client has no key to sign with.
    #[error("{0}: this client has no signing key")]
    NoKey(&'static str),
    /// The deployment file lacks a contract.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
}

impl ChainError {
    /// The named revert, when the call reverted.
    pub fn revert(&self) -> Option<&Revert> {
        match self {
            Self::Reverted { revert, .. } => Some(revert),
            _ => None,
        }
    }

    /// Whether the call reverted with Solidity error `E` (e.g.
    /// `e.is_revert::<ISampling::RevealNotOpen>()`).
    pub fn is_revert<E: alloy_sol_types::SolError>(&self) -> bool {
        self.revert().is_some_and(Revert::is::<E>)
    }

    /// Maps a transport error of `call`: revert data to [`ChainError::Reverted`], anything else
    /// to [`ChainError::Rpc`].
    pub fn from_transport(call: &'static str, err: &TransportError) -> Self {
        match err.as_error_resp().and_then(|payload| payload.as_revert_data()) {
            Some(data) => Self::Reverted { call, revert: Box::new(Revert::decode(&data)) },
            None => Self::Rpc { call, detail: err.to_string() },
        }
    }
}

/// A client of one chain: a provider and, for transactions, a signing key.
///
/// Sends from one client may run at once: nonces come from one local counter, read from the
/// chain's pending count on first use and again after any send that failed.
#[derive(Clone)]
pub struct Client {
    provider: DynProvider,
    url: String,
    chain_id: u64,
    from: Option<Address>,
    mined_within: Duration,
    /// The next nonce of `from` (`None`: read it from the chain).
    nonce: Arc<Mutex<Option<u64>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("chain_id", &self.chain_id)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of chain `chain_id` at `rpc_url`, without a request; with `key`, transactions
    /// are signed by it. Use [`Client::connect`] to read the chain id from the node instead.
    ///
    /// # Errors
    /// [`ChainError::BadUrl`].
    pub fn new(rpc_url: &str, chain_id: u64, key: Option<&Key>) -> Result<Self, ChainError> {
        let parsed = rpc_url
            .parse()
            .map_err(|e| ChainError::BadUrl { url: rpc_url.into(), detail: format!("{e}") })?;
        let builder = ProviderBuilder::new()
            .disable_recommended_fillers()
            .with_gas_estimation()
            .with_chain_id(chain_id);
        let provider = match key {
            Some(key) => builder
                .wallet(EthereumWallet::from(key.signer().clone()))
                .connect_http(parsed)
                .erased(),
            None => builder.connect_http(parsed).erased(),
        };
        Ok(Self {
            provider,
            url: rpc_url.into(),
            chain_id,
            from: key.map(Key::address),
            mined_within: DEFAULT_MINED_WITHIN,
            nonce: Arc::new(Mutex::new(None)),
        })
    }

    /// Connects to the node at `rpc_url` and reads its chain id; with `key`, transactions are
    /// signed by it.
    ///
    /// # Errors
    /// [`ChainError::BadUrl`], or [`ChainError::Connect`] when the node does not answer.
    pub async fn connect(rpc_url: &str, key: Option<&Key>) -> Result<Self, ChainError> {
        let read_only = Self::new(rpc_url, 0, None)?;
        let chain_id = read_only
            .provider
            .get_chain_id()
            .await
            .map_err(|e| ChainError::Connect { url: rpc_url.into(), detail: e.to_string() })?;
        Self::new(rpc_url, chain_id, key)
    }

    /// Connects and checks the node serves the chain `deployment` names.
    ///
    /// # Errors
    /// As [`Client::connect`], and [`ChainError::WrongChain`].
    pub async fn connect_to(
        rpc_url: &str,
        deployment: &Deployment,
        key: Option<&Key>,
    ) -> Result<Self, ChainError> {
        let client = Self::connect(rpc_url, key).await?;
        if client.chain_id != deployment.chain_id {
            return Err(ChainError::WrongChain {
                rpc: client.chain_id,
                deployment: deployment.chain_id,
            });
        }
        Ok(client)
    }

    /// Sets how long [`Client::send`] waits for a receipt.
    pub fn mined_within(mut self, deadline: Duration) -> Self {
        self.mined_within = deadline;
        self
    }

    /// The provider, for what the typed calls do not cover (logs, blocks, balances).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The chain id the node reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The signing key's address (`None` for a read-only client).
    pub fn address(&self) -> Option<Address> {
        self.from
    }

    /// A view call to `to`, decoded.
    ///
    /// # Errors
    /// [`ChainError::Reverted`], [`ChainError::Rpc`] or [`ChainError::Decode`].
    pub async fn view<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ChainError> {
        let mut tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        if let Some(from) = self.from {
            tx = tx.with_from(from);
        }
        let out = self
            .provider
            .call(tx)
            .await
            .map_err(|e| ChainError::from_transport(C::SIGNATURE, &e))?;
        C::abi_decode_returns(&out)
            .map_err(|source| ChainError::Decode { call: C::SIGNATURE, source })
    }

    /// Sends `call` to `to` with `value` wei: simulates it first (a revert comes back named and
    /// costs nothing), signs it with the next nonce, and waits for its receipt at most
    /// [`Client::mined_within`].
    ///
    /// # Errors
    /// [`ChainError::NoKey`], [`ChainError::Reverted`] (in simulation),
    /// [`ChainError::Rpc`], [`ChainError::NotMined`], [`ChainError::FailedOnChain`].
    pub async fn send<C: SolCall>(
        &self,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<TransactionReceipt, ChainError> {
        let from = self.from.ok_or(ChainError::NoKey(C::SIGNATURE))?;
        let tx = TransactionRequest::default()
            .with_from(from)
            .with_to(to)
            .with_input(call.abi_encode())
            .with_value(value);
        self.provider
            .call(tx.clone())
            .await
            .map_err(|e| ChainError::from_transport(C::SIGNATURE, &e))?;
        self.send_request(C::SIGNATURE, tx).await
    }

    /// Signs and sends a prepared transaction from this client's key (no simulation: the
    /// caller has done its own, e.g. with state overrides), and waits for its receipt.
    ///
    /// # Errors
    /// As [`Client::send`], without the simulation's revert.
    pub async fn send_request(
        &self,
        call: &'static str,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, ChainError> {
        let from = self.from.ok_or(ChainError::NoKey(call))?;
        let pending =
            {
                let mut next = self.nonce.lock().await;
                let nonce =
                    match *next {
                        Some(n) => n,
                        None => self.provider.get_transaction_count(from).pending().await.map_err(
                            |e| ChainError::from_transport("eth_getTransactionCount", &e),
                        )?,
                    };
                match self.provider.send_transaction(tx.with_from(from).with_nonce(nonce)).await {
                    Ok(pending) => {
                        *next = Some(nonce + 1);
                        pending
                    }
                    Err(e) => {
                        *next = None;
                        return Err(ChainError::from_transport(call, &e));
                    }
                }
            };
        let tx = *pending.tx_hash();
        let receipt = match pending.with_timeout(Some(self.mined_within)).get_receipt().await {
            Ok(receipt) => receipt,
            Err(alloy_provider::PendingTransactionError::TxWatcher(_)) => {
                // A transaction lost with its node leaves a gap: read the nonce again.
                *self.nonce.lock().await = None;
                return Err(ChainError::NotMined { call, tx, within: self.mined_within });
            }
            Err(e) => return Err(ChainError::Rpc { call, detail: e.to_string() }),
        };
        if !receipt.status() {
            return Err(ChainError::FailedOnChain { call, tx });
        }
        Ok(receipt)
    }

    /// The latest block's number.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider
            .get_block_number()
            .await
            .map_err(|e| ChainError::Rpc { call: "eth_blockNumber", detail: e.to_string() })
    }

    /// The latest block's timestamp: the chain's clock, which contract deadlines are read
    /// against.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn latest_timestamp(&self) -> Result<u64, ChainError> {
        let rpc = |detail: String| ChainError::Rpc { call: "eth_getBlockByNumber", detail };
        let block = self
            .provider
            .get_block_by_number(alloy_rpc_types_eth::BlockNumberOrTag::Latest)
            .await
            .map_err(|e| rpc(e.to_string()))?
            .ok_or_else(|| rpc("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// The logs matching `filter` in blocks `from..=to`, asked for in ranges of
    /// [`LOG_RANGE`] blocks (nodes cap the range of one `eth_getLogs`); `what` names them in
    /// errors.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn logs(
        &self,
        filter: &Filter,
        from: u64,
        to: u64,
        what: &str,
    ) -> Result<Vec<Log>, ChainError> {
        let mut logs = Vec::new();
        let mut start = from;
        while start <= to {
            let end = start.saturating_add(LOG_RANGE - 1).min(to);
            let range = filter.clone().from_block(start).to_block(end);
            let found = self.provider.get_logs(&range).await.map_err(|e| ChainError::Rpc {
                call: "eth_getLogs",
                detail: format!("{what} {start}..={end}: {e}"),
            })?;
            logs.extend(found);
            start = end + 1;
        }
        Ok(logs)
    }

    /// The first event `E` that `emitter` logged in `receipt`.
    pub fn event<E: SolEvent>(receipt: &TransactionReceipt, emitter: Address) -> Option<E> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == emitter)
            .find_map(|log| E::decode_log_data(log.data()).ok())
    }
}
