//! `verifier`: see `assay_verifier::cli`. Exit status: 0 replay matched (or other command done),
//! 1 error, 3 replay disagreed with the record.

use std::process::ExitCode;

use assay_verifier::cli::{Cli, run};
use clap::Parser;

fn main() -> ExitCode {
    match run(&Cli::parse()) {
        Ok(out) => {
            println!("{}", out.json);
            if out.matched { ExitCode::SUCCESS } else { ExitCode::from(3) }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
