//! SIGINT (Ctrl-C), SIGTERM and SIGHUP (what Slurm, Kubernetes and a closed terminal send) stop
//! a run cleanly: the first one raises the run's cancel flag (the tiles in flight finish, temp
//! files are removed, a Zarr store stays resumable), a second one aborts at once. The process
//! then exits with 128 + the signal's number: 130, 143 or 129.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first stop signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal's name (`SIGTERM`).
pub(crate) fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The exit code of a run stopped by `signal`: 128 + its number, as shells report it.
pub(crate) fn exit_code(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(130)
}

/// The first stop signal received, if any.
pub(crate) fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Raise `cancel` on the first SIGINT, SIGTERM or SIGHUP; exit at once on a second one.
pub(crate) fn stop_runs_on_signals(cancel: &Arc<AtomicBool>) {
    let flag = cancel.clone();
    watch(move |signal| {
        let first = RECEIVED
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if !first || flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nzoomstack: {} again: aborted", name(signal));
            std::process::exit(i32::from(exit_code(signal)));
        }
        eprintln!(
            "\nzoomstack: {}: stopping after the tiles in flight (send it again to abort at once)",
            name(signal)
        );
    });
}

/// Exit 0 on SIGINT, SIGTERM or SIGHUP (the viewer: nothing to clean up).
pub(crate) fn exit_on_signals() {
    watch(|_| std::process::exit(0));
}

/// Runs `on_signal` on a watcher thread for each SIGINT, SIGTERM and SIGHUP.
fn watch(on_signal: impl Fn(i32) + Send + 'static) {
    match Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(mut signals) => {
            let spawned = std::thread::Builder::new()
                .name("zoomstack-signals".to_string())
                .spawn(move || {
                    for signal in signals.forever() {
                        on_signal(signal);
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("cannot start the signal watcher: {e}");
            }
        }
        Err(e) => tracing::warn!("cannot install the signal handlers: {e}"),
    }
}
