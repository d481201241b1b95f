//! Node configuration: defaults match Nitro's `--dev` node (port 8547, chain id 412346).

use std::{net::IpAddr, path::PathBuf, time::Duration};

/// Chain id of Nitro's dev node.
pub const DEFAULT_CHAIN_ID: u64 = 412_346;
/// HTTP (and WebSocket) port of Nitro's dev node.
pub const DEFAULT_PORT: u16 = 8547;

/// How the node starts: where it listens, which chain it claims to be, how it mines.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free port.
    pub port: u16,
    /// Chain id reported by `eth_chainId` and enforced on EIP-155 transactions.
    pub chain_id: u64,
    /// `None` mines one block per transaction; `Some(d)` mines a block every `d`.
    pub block_time: Option<Duration>,
    /// File the state is loaded from at start and written to at shutdown.
    pub state_file: Option<PathBuf>,
    /// How many of anvil's well-known accounts are funded (at most 10).
    pub accounts: usize,
    /// Print the anvil-like account listing at start-up.
    pub print_banner: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: DEFAULT_PORT,
            chain_id: DEFAULT_CHAIN_ID,
            block_time: None,
            state_file: None,
            accounts: 10,
            print_banner: true,
        }
    }
}

impl Config {
    /// A configuration for tests: 127.0.0.1 on a free port, no banner.
    pub fn test() -> Self {
        Self { port: 0, print_banner: false, ..Self::default() }
    }

    /// Sets the port (0 = any free port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the bind address.
    pub fn with_host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Sets the chain id.
    pub fn with_chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = chain_id;
        self
    }

    /// Mines on an interval instead of per transaction.
    pub fn with_block_time(mut self, block_time: Duration) -> Self {
        self.block_time = Some(block_time);
        self
    }

    /// Loads state from `path` at start (when it exists) and writes it there at shutdown.
    pub fn with_state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Sets how many of anvil's ten well-known accounts are funded.
    pub fn with_accounts(mut self, accounts: usize) -> Self {
        self.accounts = accounts;
        self
    }
}
