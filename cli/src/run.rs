//! Running a spec (`preview`, `run`, `render`), creating its stores (`init`) and describing it
//! (`describe`): the pipeline, its options from the flags, and its errors as exit codes.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::anyhow;
use zoomstack_pipeline::spec::Spec;
use zoomstack_pipeline::{Observer, Pipeline, RunError, RunOptions, Share};

use crate::args::{ExecArgs, Global, GuardArgs, ShareArgs};
use crate::report::{Bar, print_report};
use crate::share::share;
use crate::{Failure, Result, STDOUT_IS_DATA, backend, emit, signals, threads, user};

fn pipeline(spec: &Spec) -> Result<Pipeline> {
    Pipeline::new(spec.clone()).map_err(classify)
}

fn classify(e: RunError) -> Failure {
    match e {
        RunError::Cancelled { ref kept, .. } => {
            let mut msg = match signals::received() {
                Some(s) => format!("{}: {e}; what is kept:", signals::name(s)),
                None => format!("{e}; what is kept:"),
            };
            for line in kept {
                msg.push_str("\n  ");
                msg.push_str(line);
            }
            Failure::Interrupted(msg)
        }
        RunError::TooMuchOutput { ref estimate, .. } => {
            let mut msg = format!(
                "{e}; nothing was written: pass --yes to write it anyway, raise --max-files / --max-bytes, or select less"
            );
            for s in &estimate.sinks {
                let _ = write!(
                    msg,
                    "\n  {}: {} files, {}",
                    s.sink,
                    s.files,
                    zoomstack_engine::format_bytes(s.bytes)
                );
            }
            Failure::User(anyhow!(msg))
        }
        RunError::Engine {
            error: zoomstack_engine::EngineError::TooLarge { bytes, .. },
            ..
        } => {
            // The executor's limit is the flag's: say how to raise it, to a size that fits.
            let fits = if bytes < 1 << 30 {
                format!("{}MiB", bytes.div_ceil(1 << 20))
            } else {
                format!("{}GiB", bytes.div_ceil(1 << 30))
            };
            Failure::User(anyhow!(
                "{e}; or raise the limit with --memory-limit (e.g. --memory-limit {fits}; default 4GiB)"
            ))
        }
        e if e.is_user_error() => Failure::User(e.into()),
        e => Failure::Other(e.into()),
    }
}

/// `describe` (and `render --describe`): the plans and the estimate of what a run writes, and
/// whether the guard would refuse it.
pub(crate) fn describe(spec: &Spec, out: &Path, guard: &GuardArgs) -> Result<()> {
    let p = pipeline(spec)?;
    out!("{}", p.describe(out));
    let estimate = p.estimate(Share::ALL);
    outln!("Writes: {estimate}");
    let limits = guard.limits();
    if estimate.exceeds(&limits) {
        outln!(
            "Above the guard of {} files / {}: `run` and `render` need --yes (or higher --max-files / --max-bytes)",
            limits.max_files,
            zoomstack_engine::format_bytes(limits.max_bytes)
        );
    }
    Ok(())
}

/// `init`: creates (or checks) the spec's Zarr stores without rendering.
pub(crate) fn init(g: &Global, spec: &Spec, out: &Path, exec: &ExecArgs) -> Result<()> {
    let p = pipeline(spec)?;
    let opts = RunOptions {
        threads: threads(g)?,
        backend: backend(g)?,
        out_dir: out.to_path_buf(),
        share: Share::ALL,
        cancel: Arc::new(AtomicBool::new(false)),
        verify: false,
        guard: None,
        memory_limit: exec.memory_limit,
    };
    let dirs = p.init(&opts).map_err(classify)?;
    if !g.quiet {
        if dirs.is_empty() {
            outln!("no Zarr sinks in this spec: nothing to create");
        }
        for d in dirs {
            outln!("store ready: {}", d.display());
        }
    }
    Ok(())
}

/// The flags of a run besides the global ones.
pub(crate) struct RunArgs<'a> {
    pub(crate) share: &'a ShareArgs,
    pub(crate) guard: &'a GuardArgs,
    pub(crate) exec: &'a ExecArgs,
    /// The preview command (prints the notebook's dask table after the run).
    pub(crate) preview: bool,
}

/// Runs `spec` into `out` behind a progress bar, then prints its report (unless --quiet).
pub(crate) fn run_spec(g: &Global, spec: &Spec, out: &Path, run: &RunArgs<'_>) -> Result<()> {
    let t0 = Instant::now();
    let (share_args, guard, preview) = (run.share, run.guard, run.preview);
    let (share, share_note) = share(share_args)?;
    let p = pipeline(spec)?;
    if spec.sinks.is_empty() {
        return Err(user(anyhow!(
            "the spec has no [[sink]] table: nothing to write (add e.g. [[sink]] kind = \"png\")"
        )));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    signals::stop_runs_on_signals(&cancel);
    if spec
        .sinks
        .iter()
        .any(|s| zoomstack_sinks::is_stdout(&s.path))
    {
        STDOUT_IS_DATA.store(true, Ordering::Relaxed);
    }
    let opts = RunOptions {
        threads: threads(g)?,
        backend: backend(g)?,
        out_dir: out.to_path_buf(),
        share,
        cancel,
        verify: share_args.verify,
        guard: guard.guard(),
        memory_limit: run.exec.memory_limit,
    };
    tracing::info!(backend = %opts.backend.describe(), threads = opts.threads, "run");
    if !g.quiet {
        for w in p.f64_warnings() {
            eprintln!("warning: {w}");
        }
    }
    let bar = Arc::new(Bar::new(g.quiet, g.progress_every));
    let observer: Arc<dyn Observer> = bar.clone();
    let result = p.run(&opts, &observer);
    bar.finish();
    let report = result.map_err(classify)?;
    if !g.quiet {
        if preview {
            // The notebook's `stack[0:20000:500, ::2, ::2]`, as dask would show it.
            if let Some(s) = spec.sinks.first() {
                outln!("stack{}", s.select);
                outln!("{}", s.describe());
            }
        }
        if let Some(note) = share_note {
            outln!("{note}");
        }
        print_report(spec, &report, out, &opts, t0.elapsed());
    }
    Ok(())
}
