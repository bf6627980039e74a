//! The `optgate` binary: command-line parsing and wiring only (see [`optgate::cli`]).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    optgate::cli::main(optgate::cli::Cli::parse())
}
