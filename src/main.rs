//! The `modelctl` binary: parse arguments, run the command, exit with its code.
//! Errors print as `error: …` with their causes, and exit 2.

use std::process::ExitCode;

use clap::Parser;
use modelctl::cli::{Cli, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
