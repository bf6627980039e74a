//! The `optgate` binary: command-line parsing and wiring only (see [`optgate::cli`]).

use std::process::ExitCode;

use clap::Parser;

/// PDUs are decoded on one worker thread and freed on another; glibc's
/// malloc takes a lock on the first thread's arena for every such free, and
/// under load those locks are contended (futex calls by the tens of
/// thousands per second). jemalloc frees across threads without that lock
/// (2,500-3,500 futex calls per second under the same load).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    optgate::cli::main(optgate::cli::Cli::parse())
}
