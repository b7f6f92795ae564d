//! The `fbl` binary: parse the command line, run, map the outcome to an exit code.

use std::process::ExitCode;

/// mimalloc instead of the C library's allocator: parsing a report makes hundreds of small
/// allocations, and glibc's malloc took a seventh of the ingest time (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    match fbl::cli::main() {
        Ok(fbl::cli::Outcome::Clean) => ExitCode::from(0),
        Ok(fbl::cli::Outcome::Attention) => ExitCode::from(1),
        Err(error) if is_closed_pipe(&error) => ExitCode::from(141),
        Err(error)
            if error
                .downcast_ref::<fbl::store::StoreLocked>()
                .is_some_and(|locked| locked.quiet) =>
        {
            ExitCode::from(3)
        }
        Err(error) => {
            eprintln!("fbl: {error:#}");
            if let Some(hint) = fbl::store::write_refused(&error) {
                eprintln!("fbl: {hint}");
            }
            if fbl::cli::mta_requested() {
                ExitCode::from(fbl::cli::EX_TEMPFAIL)
            } else if error.downcast_ref::<fbl::store::StoreLocked>().is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// Whether an error is standard output's reader having gone away.
fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                .is_some_and(|kind| kind == std::io::ErrorKind::BrokenPipe)
    })
}

/// `fbl parse ... | head` closes the pipe early. Rust ignores SIGPIPE, so printing then panics;
/// end quietly with the status a shell gives a process killed by SIGPIPE (128 + 13) instead.
/// Any other failure to print (`> /dev/full`, a full disk) is a fatal error like the rest
/// (exit 2, one line), not a panic. Work not yet committed is redone by the next run, as
/// after any crash.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        // Standard error cannot be written (a cron log on a full disk): nothing more can be
        // said, so end as a fatal error without trying to print the panic.
        if message.starts_with("failed printing to stderr") {
            std::process::exit(2);
        }
        if let Some(reason) = message.strip_prefix("failed printing to stdout") {
            if reason.contains("Broken pipe") {
                std::process::exit(141);
            }
            let reason = reason.trim_start_matches(':').trim();
            eprintln!("fbl: cannot write to standard output: {reason}");
            std::process::exit(2);
        }
        default(info);
    }));
}
