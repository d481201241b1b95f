//! `worker`: see `assay_worker::cli`.

use std::process::ExitCode;

use assay_worker::cli::{Cli, run};
use clap::Parser;

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
