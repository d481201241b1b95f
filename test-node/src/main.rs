//! `test-node`: runs the Assay Arbitrum dev chain until Ctrl-C.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use assay_test_node::{Config, config};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A Docker-free Arbitrum dev chain (revm + wasmtime), drop-in for Nitro's dev node.
#[derive(Debug, Parser)]
#[command(name = "test-node", version)]
struct Args {
    /// Port for HTTP and WebSocket JSON-RPC.
    #[arg(long, env = "TEST_NODE_PORT", default_value_t = config::DEFAULT_PORT, help_heading = "Server")]
    port: u16,
    /// Address to bind.
    #[arg(long, env = "TEST_NODE_HOST", default_value = "127.0.0.1", help_heading = "Server")]
    host: IpAddr,
    /// Chain id.
    #[arg(long, default_value_t = config::DEFAULT_CHAIN_ID, help_heading = "Chain")]
    chain_id: u64,
    /// Mine a block every this many seconds instead of one per transaction.
    #[arg(long, help_heading = "Chain")]
    block_time: Option<f64>,
    /// Load state from this file at start (if present) and save it there at exit.
    #[arg(long, help_heading = "Chain")]
    state: Option<PathBuf>,
    /// How many of anvil's ten well-known accounts to fund.
    #[arg(long, default_value_t = 10, help_heading = "Chain")]
    accounts: usize,
}

#[tokio::main]
async fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut config = Config::default()
        .with_host(args.host)
        .with_port(args.port)
        .with_chain_id(args.chain_id)
        .with_accounts(args.accounts);
    if let Some(seconds) = args.block_time {
        config = config.with_block_time(Duration::from_secs_f64(seconds));
    }
    if let Some(path) = args.state {
        config = config.with_state_file(path);
    }
    let chain_id = config.chain_id;
    let handle = assay_test_node::spawn(config).await?;
    println!("test-node ready: {} chain id {chain_id}", handle.url());
    tokio::signal::ctrl_c().await?;
    handle.stop().await?;
    Ok(())
}
