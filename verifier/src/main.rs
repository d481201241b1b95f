//! `verifier`: see `assay_verifier::cli`.

use assay_verifier::cli::{Cli, run};
use clap::Parser;

fn main() -> eyre::Result<()> {
    let out = run(&Cli::parse())?;
    println!("{}", out.json);
    if !out.matched {
        std::process::exit(3);
    }
    Ok(())
}
