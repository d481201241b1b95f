//! # assay-test-node
//!
//! A Docker-free Arbitrum dev chain for tests and local development: Ethereum JSON-RPC over HTTP
//! and WebSocket on Nitro's dev-node defaults (127.0.0.1:8547, chain id 412346), EVM execution
//! by revm, Stylus programs by wasmtime through Nitro's `vm_hooks` ABI, the Arbitrum precompiles
//! tools use, genesis accounts like Nitro's dev node plus anvil's, and anvil's cheat methods.
//! What is faithful to Nitro and what is approximated is listed in the crate README.
//!
//! Layout:
//! - [`config`]: [`Config`] with Nitro-like defaults and `with_*` builders.
//! - `arbos`: what ArbOS is on this node (precompile addresses, the network fee account, the
//!   version, the base fee), below everything that speaks to it.
//! - `genesis`: funded accounts, the CREATE2 factory and the StylusDeployer.
//! - `evm`, `arb_evm`, `tx`: one transaction on revm (with Stylus frames run by wasmtime);
//!   decoding and signer recovery.
//! - [`stylus`]: program format, activation, runtime and host ABI; [`precompiles`]: ArbSys,
//!   ArbWasm, ArbRetryableTx and friends; [`retryables`]: tickets, their transactions and the
//!   entry point for L1 messages ([`NodeHandle::submit_retryable`]).
//! - `chain`: state, blocks, mining, calls, cheats, snapshots, state dumps.
//! - `rpc`: the tagged request enum, its dispatch, and the HTTP/WebSocket server.
//! - [`spawn`]: start a node in-process (tests use [`Config::test`] for a free port).

mod arb_evm;
mod arbos;
mod chain;
pub mod config;
mod error;
mod evm;
pub mod genesis;
mod node;
pub mod precompiles;
pub mod retryables;
mod rpc;
pub mod stylus;
mod tx;

use std::{net::SocketAddr, path::PathBuf};

pub use arbos::BASE_FEE;
pub use config::Config;
pub use error::{Error, Result};
pub use evm::COINBASE;
pub use retryables::{RetryOutcome, RetryableMessage, RetryableSubmission};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tracing::info;

use crate::{
    chain::{Chain, StateDump},
    node::Node,
};

/// A running node. Dropping it stops the server; [`NodeHandle::stop`] also saves the state file.
#[derive(Debug)]
pub struct NodeHandle {
    addr: SocketAddr,
    node: Node,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    miner: JoinHandle<()>,
    state_file: Option<PathBuf>,
}

impl NodeHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTP JSON-RPC URL, e.g. `http://127.0.0.1:8547`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The WebSocket URL (same port).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Takes in an L1 message creating a retryable ticket, as if `Inbox.createRetryableTicket`
    /// had been called on L1 (the same as the `testnode_submitRetryable` RPC method): mines a
    /// block holding the `ArbitrumSubmitRetryableTx` (whose hash is the ticket id) and, when
    /// the gas limit and bid allow, the auto-redeem right after it.
    ///
    /// # Errors
    /// [`Error::InvalidParams`] for messages `createRetryableTicket` would revert on (too
    /// little deposit or submission cost, a gas limit above 2^64 - 1, the gas-estimation values
    /// of 1) or a reused `request_id`; [`Error::Rejected`] when the submission failed on L2.
    ///
    /// # Events
    /// `TicketCreated(ticketId)` and `RedeemScheduled(...)` from ArbRetryableTx (0x6e), then
    /// the auto-redeem's logs.
    pub fn submit_retryable(&self, message: &RetryableMessage) -> Result<RetryableSubmission> {
        self.node.submit_retryable(message)
    }

    /// Stops the server and writes the state file when one is configured.
    ///
    /// # Errors
    /// [`Error::Io`] when the state file cannot be written.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.miner.abort();
        // Open WebSockets would hold graceful shutdown forever: give connections a moment.
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.server).await.is_err()
        {
            self.server.abort();
        }
        if let Some(path) = &self.state_file {
            let json = self.node.chain().dump_state().to_json();
            tokio::fs::write(path, json).await?;
            info!(path = %path.display(), "state saved");
        }
        Ok(())
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.miner.abort();
        self.server.abort();
    }
}

/// Starts a node: builds genesis (or loads `config.state_file`), binds the listener and serves
/// JSON-RPC on the current tokio runtime.
///
/// # Errors
/// [`Error::Io`] when the address cannot be bound or the state file cannot be read;
/// [`Error::InvalidState`] when the state file is malformed.
pub async fn spawn(config: Config) -> Result<NodeHandle> {
    let mut chain = Chain::new(config.chain_id, config.accounts.min(genesis::ANVIL_ACCOUNTS.len()));
    if let Some(path) = &config.state_file
        && tokio::fs::try_exists(path).await?
    {
        let bytes = tokio::fs::read(path).await?;
        chain.load_state(StateDump::from_json(&bytes)?)?;
        info!(path = %path.display(), "state loaded");
    }
    let node = Node::new(chain, config.block_time, config.accounts);
    let listener = TcpListener::bind((config.host, config.port)).await?;
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let app = rpc::router(node.clone());
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        if let Err(err) = serve.await {
            tracing::error!(%err, "server stopped");
        }
    });
    let miner = tokio::spawn(node.clone().run_miner());
    if config.print_banner {
        print_accounts(config.accounts);
    }
    info!(url = %format!("http://{addr}"), chain_id = config.chain_id, "test-node listening");
    Ok(NodeHandle {
        addr,
        node,
        shutdown: Some(shutdown),
        server,
        miner,
        state_file: config.state_file,
    })
}

fn print_accounts(anvil_accounts: usize) {
    println!("Available accounts and private keys");
    println!("(dev) {} {}", genesis::DEV_ACCOUNT, genesis::DEV_KEY);
    for (i, (address, key)) in genesis::ANVIL_ACCOUNTS.iter().take(anvil_accounts).enumerate() {
        println!("({i}) {address} {key} (10000 ETH)");
    }
    println!("CREATE2 factory  {}", genesis::CREATE2_FACTORY);
    println!("StylusDeployer   {}", genesis::STYLUS_DEPLOYER);
}
