//! `coordinator`: parses flags and runs [`assay_coordinator::spawn`] until Ctrl-C or SIGTERM.

use assay_coordinator::cli::Args;
use clap::Parser;
use eyre::WrapErr;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let config = Args::parse().into_config()?;
    let handle = assay_coordinator::spawn(config).await.wrap_err("coordinator failed to start")?;
    println!("coordinator listening on {}", handle.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    handle.shutdown().await;
    Ok(())
}
