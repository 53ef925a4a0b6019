//! What the binary shows while and after running: the progress bar and the run's summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::emit;
use std::time::Duration;

use zoomstack_pipeline::spec::Spec;
use zoomstack_pipeline::{Observer, RunOptions, RunReport, resolve};

/// The progress bar: output pixels done over all jobs, with rate and ETA; the job's name and
/// its proven-constant write units (stored without rendering, not part of the pixels) beside.
pub(crate) struct Bar {
    bar: indicatif::ProgressBar,
    job: std::sync::Mutex<String>,
}

impl Bar {
    pub(crate) fn new(bar: indicatif::ProgressBar) -> Bar {
        Bar {
            bar,
            job: std::sync::Mutex::default(),
        }
    }
}

impl Observer for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn job(&self, what: &str) {
        tracing::info!(job = what, "render job starts");
        what.clone_into(
            &mut self
                .job
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        self.bar.set_message(what.to_string());
    }
    fn advance(&self, done: u64) {
        self.bar.set_position(done);
    }
    fn constant_units(&self, stored: u64, total: u64) {
        let job = self
            .job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.bar.set_message(format!(
            "{job}: {stored} of {total} proven-constant write units stored"
        ));
    }
}

pub(crate) fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(0),
        indicatif::ProgressDrawTarget::stderr_with_hz(10),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{elapsed_precise} [{bar:24}] {percent:>3}% {rate} ETA {eta:<4} {wide_msg}",
    ) {
        let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:>7.1} Mpx/s", s.per_sec() / 1e6);
        };
        bar.set_style(style.with_key("rate", rate).progress_chars("=> "));
    }
    bar
}

pub(crate) fn print_report(
    spec: &Spec,
    report: &RunReport,
    out: &Path,
    opts: &RunOptions,
    wall: Duration,
) {
    for (o, s) in report.sinks.iter().zip(&spec.sinks) {
        let path = resolve(out, &s.path);
        if !o.ran {
            outln!("{}: skipped (frame sinks run in share 0)", o.sink);
            continue;
        }
        if !o.zarr.is_empty() {
            let total: u64 = o.zarr.iter().map(|r| r.units_total).sum();
            let done: u64 = o.zarr.iter().map(|r| r.units_done).sum();
            let written: u64 = o.zarr.iter().map(|r| r.units_written).sum();
            let complete = o.zarr.iter().all(|r| r.complete);
            let damaged: u64 = o.zarr.iter().map(|r| r.units_damaged).sum();
            let damaged = if damaged > 0 {
                format!(", {damaged} of them found damaged")
            } else {
                String::new()
            };
            outln!(
                "{}: {} write units done of {total} ({written} written now{damaged}){}",
                o.sink,
                done,
                if complete {
                    ", complete"
                } else {
                    ", not complete yet (other shares or a re-run will finish it)"
                }
            );
            continue;
        }
        match o.paths.len() {
            0 => outln!("{}: nothing written", o.sink),
            1 if zoomstack_sinks::is_stdout(&o.paths[0]) => {
                outln!("{}: wrote standard output", o.sink);
            }
            1 => outln!("{}: wrote {}", o.sink, o.paths[0].display()),
            n => {
                let name = |p: &PathBuf| {
                    p.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                outln!(
                    "{}: wrote {n} files in {}/ ({} .. {})",
                    o.sink,
                    path.display(),
                    name(&o.paths[0]),
                    name(&o.paths[n - 1])
                );
            }
        }
    }
    let rate = report.pixels_rendered as f64 / report.seconds.max(1e-9);
    outln!(
        "rendered {} pixels in {:.3} s ({:.1} Mpx/s, kernel {}, {} threads); total {:.3} s",
        report.pixels_rendered,
        report.seconds,
        rate / 1e6,
        opts.backend.name(),
        if opts.threads == 0 {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        } else {
            opts.threads
        },
        wall.as_secs_f64()
    );
}
