//! The `ssfpack` binary: parse arguments, run, print the error chain, exit with a documented code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ssfpack::cli::main()
}
