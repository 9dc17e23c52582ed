//! The `ssfpack` binary: parse arguments, run, print the error chain, exit with a documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ssfpack::cli::main()
}

/// mimalloc instead of glibc's malloc: `serve` allocates a fragment-sized buffer (~300 KiB) per
/// request, which glibc serves with fresh `mmap`ed, page-faulted memory each time; with mimalloc
/// `bench/origin.sh` went from 0.40-0.45× nginx's requests/s to 0.56-0.62× (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
