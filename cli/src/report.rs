//! What the binary shows while and after running: the progress bar and the run's summary.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::emit;
use std::time::{Duration, Instant};

use zoomstack_pipeline::spec::Spec;
use zoomstack_pipeline::{Observer, RunOptions, RunReport, resolve};

/// The progress bar: output pixels done over all jobs, with rate and ETA; the job's name and
/// its proven-constant write units (stored without rendering, not part of the pixels) beside.
/// On a stderr that is not a terminal (a batch job's log) the bar is hidden and [`Plain`]
/// writes a line now and then instead.
pub(crate) struct Bar {
    /// The bar itself (hidden unless stderr is a terminal).
    drawn: indicatif::ProgressBar,
    job: std::sync::Mutex<String>,
    plain: Option<Plain>,
}

impl Bar {
    /// The bar for a run: drawn on a terminal stderr, else plain lines every `every` seconds
    /// (none when `quiet` or `every` is 0).
    pub(crate) fn new(quiet: bool, every: f64) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let plain = (!quiet && !terminal && every > 0.0).then(|| Plain {
            every: Duration::from_secs_f64(every),
            start: Instant::now(),
            state: std::sync::Mutex::new(PlainState {
                last: Instant::now(),
                total: 0,
                done: 0,
                since: Instant::now(),
                done_since: 0,
            }),
        });
        Bar {
            drawn: progress_bar(quiet || !terminal),
            job: std::sync::Mutex::default(),
            plain,
        }
    }

    /// Removes the bar from the terminal (the summary follows).
    pub(crate) fn finish(&self) {
        self.drawn.finish_and_clear();
    }

    fn job_name(&self) -> std::sync::MutexGuard<'_, String> {
        self.job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Observer for Bar {
    fn start(&self, total: u64) {
        self.drawn.set_length(total);
        if let Some(p) = &self.plain {
            p.lock().total = total;
        }
    }
    fn job(&self, what: &str) {
        tracing::info!(job = what, "render job starts");
        what.clone_into(&mut self.job_name());
        self.drawn.set_message(what.to_string());
    }
    fn advance(&self, done: u64) {
        self.drawn.set_position(done);
        if let Some(p) = &self.plain {
            p.pixels(done, || self.job_name().clone());
        }
    }
    fn constant_units(&self, stored: u64, total: u64) {
        let message = format!(
            "{}: {stored} of {total} proven-constant write units stored",
            self.job_name()
        );
        if let Some(p) = &self.plain {
            p.constant_unit(&message);
        }
        self.drawn.set_message(message);
    }
}

/// Plain progress lines for a log: at most one per `every`, none in a run shorter than that.
struct Plain {
    every: Duration,
    start: Instant,
    state: std::sync::Mutex<PlainState>,
}

struct PlainState {
    /// When the last line was written (or the run started).
    last: Instant,
    /// Output pixels over all jobs, and those done so far.
    total: u64,
    done: u64,
    /// Where the rate is measured from: the run's start, or the last proven-constant unit
    /// stored (those cost no pixels), and the pixels done then.
    since: Instant,
    done_since: u64,
}

impl Plain {
    fn lock(&self) -> std::sync::MutexGuard<'_, PlainState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `done` of the run's output pixels are finished; `job` names the job (asked for only
    /// when a line is written).
    fn pixels(&self, done: u64, job: impl FnOnce() -> String) {
        let mut s = self.lock();
        s.done = done;
        // A rate over less than one interval (just after constant units) says little.
        if s.last.elapsed() >= self.every && s.since.elapsed() >= self.every {
            s.last = Instant::now();
            let rate = done.saturating_sub(s.done_since) as f64 / s.since.elapsed().as_secs_f64();
            let line = pixel_line(done, s.total, rate, self.start.elapsed(), &job());
            eprintln!("progress: {line}");
        }
    }

    /// A proven-constant write unit is stored: `message` says how many.
    fn constant_unit(&self, message: &str) {
        let mut s = self.lock();
        (s.since, s.done_since) = (Instant::now(), s.done);
        if s.last.elapsed() >= self.every {
            s.last = Instant::now();
            eprintln!("progress: {message}, {} elapsed", hms(self.start.elapsed()));
        }
    }
}

/// `12.3% (4.557e9 of 3.704e10 pixels), 95.2 Mpx/s, ETA 0:41:10, 0:05:02 elapsed - job`: the
/// ETA assumes the rest goes at `rate` (pixels per second).
fn pixel_line(done: u64, total: u64, rate: f64, elapsed: Duration, job: &str) -> String {
    let eta = if rate > 0.0 && total >= done {
        hms(Duration::from_secs_f64((total - done) as f64 / rate))
    } else {
        "unknown".to_string()
    };
    let percent = if total > 0 {
        100.0 * done as f64 / total as f64
    } else {
        0.0
    };
    format!(
        "{percent:.1}% ({done:.3e} of {total:.3e} pixels), {:.1} Mpx/s, ETA {eta}, {} elapsed - {job}",
        rate / 1e6,
        hms(elapsed),
    )
}

/// `h:mm:ss`.
fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn progress_bar(hidden: bool) -> indicatif::ProgressBar {
    if hidden {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_line_says_done_rate_elapsed_and_eta() {
        let line = pixel_line(
            25_000_000,
            100_000_000,
            5e5,
            Duration::from_secs(50),
            "zarr",
        );
        assert_eq!(
            line,
            "25.0% (2.500e7 of 1.000e8 pixels), 0.5 Mpx/s, ETA 0:02:30, 0:00:50 elapsed - zarr"
        );
        assert!(pixel_line(0, 10, 0.0, Duration::from_secs(1), "j").contains("ETA unknown"));
        assert_eq!(hms(Duration::from_secs(3 * 3600 + 7 * 60 + 9)), "3:07:09");
    }
}
