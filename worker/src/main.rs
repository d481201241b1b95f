//! `worker`: see `assay_worker::cli`.

use assay_worker::cli::{Cli, run};
use clap::Parser;

fn main() -> eyre::Result<()> {
    println!("{}", run(&Cli::parse())?);
    Ok(())
}
