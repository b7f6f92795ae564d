//! The `fbl` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    match fbl::cli::main() {
        Ok(fbl::cli::Outcome::Clean) => ExitCode::from(0),
        Ok(fbl::cli::Outcome::Attention) => ExitCode::from(1),
        Err(error) => {
            eprintln!("fbl: {error:#}");
            if error.downcast_ref::<fbl::store::StoreLocked>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
}
