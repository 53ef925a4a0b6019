//! The `zoomstack` binary: see `zoomstack --help`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use args::{Cli, ColorWhen, Command, ExecArgs, Global, GuardArgs, Overrides, ShareArgs, ViewArgs};
use clap::{CommandFactory, FromArgMatches};
use flags::render_spec;
use report::{Bar, print_report, progress_bar};
use zoomstack_cli::bench;
use zoomstack_kernel::Backend;
use zoomstack_pipeline::diag::{LocatedError, Source};
use zoomstack_pipeline::spec::{self, Spec};
use zoomstack_pipeline::{Observer, PREVIEW_SPEC, Pipeline, RunError, RunOptions, Share};

/// Set when a sink writes its file to standard output (`--gif -`): messages then go to stderr.
static STDOUT_IS_DATA: AtomicBool = AtomicBool::new(false);

/// Writes to stdout (stderr while stdout carries a sink's data); a closed pipe
/// (`zoomstack describe | head`) ends the process quietly instead of panicking like `print!`
/// does.
fn emit(text: &str) {
    use std::io::Write;
    if STDOUT_IS_DATA.load(Ordering::Relaxed) {
        eprint!("{text}");
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(1);
    }
}

macro_rules! out {
    ($($t:tt)*) => { emit(&format!($($t)*)) };
}

macro_rules! outln {
    () => { emit("\n") };
    ($($t:tt)*) => { emit(&(format!($($t)*) + "\n")) };
}

// After the macros: the modules use `out!`/`outln!`.
mod args;
mod flags;
mod report;
mod signals;
mod verify;

/// How the process ends.
enum Failure {
    /// The user's input is wrong (exit 2).
    User(anyhow::Error),
    /// Something else failed (exit 1).
    Other(anyhow::Error),
    /// A spec error, already rendered with its excerpt (exit 2).
    Spec(LocatedError),
    /// Stopped by SIGINT, SIGTERM or SIGHUP (exit 128 + the signal: 130, 143, 129).
    Interrupted(String),
}

type Result<T, E = Failure> = std::result::Result<T, E>;

fn user(e: impl Into<anyhow::Error>) -> Failure {
    Failure::User(e.into())
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = ColorWhen::from_args(&args).enabled();
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(color)
            .try_init();
    }
    let command = Cli::command().color(if color {
        clap::ColorChoice::Always
    } else {
        clap::ColorChoice::Never
    });
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Spec(e)) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(Failure::User(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::Interrupted(msg)) => {
            eprintln!("zoomstack: {msg}");
            ExitCode::from(signals::received().map_or(130, signals::exit_code))
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let g = cli.global;
    match cli.command.unwrap_or(Command::Preview {
        out: PathBuf::from("zoomstack-out"),
        overrides: Overrides::default(),
        print_spec: false,
        guard: GuardArgs::default_limits(),
        exec: ExecArgs::default_limit(),
    }) {
        Command::Preview {
            out,
            overrides,
            print_spec,
            guard,
            exec,
        } => {
            if print_spec {
                out!("{PREVIEW_SPEC}");
                return Ok(());
            }
            let source = Source::new("<built-in preview>", PREVIEW_SPEC, &overrides.set);
            let spec = parse(&source)?;
            let run = RunArgs {
                share: &ShareArgs::default(),
                guard: &guard,
                exec: &exec,
                preview: true,
            };
            run_spec(&g, &spec, &out, &run)
        }
        Command::Run {
            spec,
            target,
            share,
            guard,
            exec,
        } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            let run = RunArgs {
                share: &share,
                guard: &guard,
                exec: &exec,
                preview: false,
            };
            run_spec(&g, &spec, &target.out, &run)
        }
        Command::Describe { spec, target } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            describe(&spec, &target.out, &GuardArgs::default_limits())
        }
        Command::Verify { store, array } => {
            let bad = verify::verify(&store, &array, threads(&g)?).map_err(|e| {
                match e.downcast_ref::<zoomstack_sinks::SinkError>() {
                    Some(
                        zoomstack_sinks::SinkError::NotAZoomstackStore { .. }
                        | zoomstack_sinks::SinkError::InvalidParameter { .. },
                    ) => Failure::User(e),
                    _ => Failure::Other(e),
                }
            })?;
            if bad > 0 {
                return Err(Failure::Other(anyhow!(
                    "{}: {bad} array(s) with damaged or missing write units",
                    store.display()
                )));
            }
            Ok(())
        }
        Command::Init { spec, target, exec } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            init(&g, &spec, &target.out, &exec)
        }
        Command::Render(args) => {
            let spec = render_spec(&args)?;
            if args.print_spec {
                out!("{}", spec.text);
                return Ok(());
            }
            let source = Source::new("<render flags>", spec.text, &args.target.overrides.set)
                .with_flags(spec.flags);
            let spec = parse(&source)?;
            if args.describe {
                describe(&spec, &args.target.out, &args.guard)
            } else {
                let run = RunArgs {
                    share: &args.share,
                    guard: &args.guard,
                    exec: &args.exec,
                    preview: false,
                };
                run_spec(&g, &spec, &args.target.out, &run)
            }
        }
        Command::Bench {
            levels,
            stride,
            min_time_ms,
        } => run_bench(&g, levels, stride, min_time_ms),
        Command::View(args) => view(&g, &args),
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "zoomstack", &mut out);
            out.flush().map_err(|e| Failure::Other(e.into()))
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            man_page(&Cli::command(), &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::Other(e.into()))
        }
    }
}

/// The man page of `cmd` followed by one section per subcommand (`zoomstack-run`, ...).
fn man_page(cmd: &clap::Command, out: &mut impl std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("zoomstack-{}", sub.get_name());
        let sub = sub
            .clone()
            .bin_name(&name)
            .version(env!("CARGO_PKG_VERSION"));
        clap_mangen::Man::new(sub).title(name).render(out)?;
    }
    Ok(())
}

fn view(g: &Global, args: &ViewArgs) -> Result<()> {
    let source = match &args.spec {
        Some(path) => read_source(path, &args.overrides)?,
        None => Source::new("<notebook stack>", "[stack]\n", &args.overrides.set),
    };
    let spec = parse(&source)?;
    let select = args
        .select
        .clone()
        .or_else(|| spec.sinks.first().map(|s| s.select.clone()))
        .unwrap_or_else(|| "[:, :, :]".to_string());
    let view = zoomstack_view::View::from_select(spec.stack, &select).map_err(user)?;
    let stride = args.stride.unwrap_or_else(|| {
        view.stride_for(args.max_pixels.min(zoomstack_view::DEFAULT_FRAME_PIXELS))
    });
    let limits = zoomstack_view::Limits {
        max_frame_pixels: args.max_pixels,
        default_stride: stride,
        cache_bytes: args.cache_mib.saturating_mul(1 << 20),
        ..zoomstack_view::Limits::default()
    };
    let options = zoomstack_view::ServerOptions {
        host: args.host,
        port: args.port,
        threads: threads(g)?,
        backend: backend(g)?,
        limits,
    };
    let (levels, rows, cols) = (view.levels.count, view.rows.count, view.cols.count);
    let server = zoomstack_view::ViewServer::start(view, options).map_err(|e| match e {
        zoomstack_view::ViewError::Bind { .. } => Failure::Other(anyhow!(
            "{e} (pick another port with --port, or --port 0 for any free one)"
        )),
        e => user(e),
    })?;
    // The URL goes to stdout (scripts read it); the rest to stderr.
    outln!("{}", server.url());
    if !g.quiet {
        eprintln!(
            "zoomstack view: {select}: {levels} levels of {rows} x {cols} on the slider; \
             open the URL above in a browser. Ctrl-C stops."
        );
    }
    if args.open {
        open_in_browser(&server.url());
    }
    signals::exit_on_signals();
    server.wait();
    Ok(())
}

/// Best effort: a missing opener is reported, not fatal (the URL is printed anyway).
fn open_in_browser(url: &str) {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    let spawned = std::process::Command::new(program)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = spawned {
        eprintln!("zoomstack view: cannot open a browser with {program}: {e}; open the URL above");
    }
}

fn read_source(path: &Path, overrides: &Overrides) -> Result<Source> {
    let text = std::fs::read(path)
        .with_context(|| format!("cannot read spec file {}", path.display()))
        .map_err(user)?;
    let text = String::from_utf8(text)
        .map_err(|e| anyhow!("spec file {} is not UTF-8 text: {e}", path.display()))
        .map_err(user)?;
    Ok(Source::new(
        path.display().to_string(),
        text,
        &overrides.set,
    ))
}

fn parse(source: &Source) -> Result<Spec> {
    spec::parse(source).map_err(|e| Failure::Spec(e.located(source)))
}

fn backend(g: &Global) -> Result<Backend> {
    match &g.kernel {
        Some(name) => name
            .parse::<Backend>()
            .map_err(|e| user(anyhow!("--kernel / ZOOMSTACK_KERNEL: {e}"))),
        None => Ok(Backend::fastest()),
    }
}

fn threads(g: &Global) -> Result<usize> {
    match g.threads {
        Some(0) => Err(user(anyhow!(
            "--threads must be at least 1 (omit it for one thread per core)"
        ))),
        Some(n) if n > 4096 => Err(user(anyhow!("--threads {n}: expected at most 4096"))),
        Some(n) => Ok(n),
        None => Ok(0),
    }
}

fn env_u64(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
            user(anyhow!(
                "environment variable {name}={} is not a non-negative integer",
                zoomstack_engine::Excerpt::around(&v, 0)
            ))
        }),
        Err(_) => Ok(None),
    }
}

/// The share from flags, then Slurm, then Kubernetes Indexed Jobs.
fn share(args: &ShareArgs) -> Result<(Share, Option<String>)> {
    let (index, index_src) = match args.index {
        Some(i) => (Some(i), "--index".to_string()),
        None => match env_u64("SLURM_ARRAY_TASK_ID")? {
            Some(id) => {
                let min = env_u64("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let step = env_u64("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                if id < min || (id - min) % step != 0 {
                    return Err(user(anyhow!(
                        "SLURM_ARRAY_TASK_ID={id} does not fit SLURM_ARRAY_TASK_MIN={min} and SLURM_ARRAY_TASK_STEP={step}"
                    )));
                }
                (Some((id - min) / step), "SLURM_ARRAY_TASK_ID".to_string())
            }
            None => (
                env_u64("JOB_COMPLETION_INDEX")?,
                "JOB_COMPLETION_INDEX".to_string(),
            ),
        },
    };
    let count = match args.count {
        Some(n) => Some(n),
        None => match env_u64("SLURM_ARRAY_TASK_COUNT")? {
            Some(n) if index_src == "SLURM_ARRAY_TASK_ID" || args.index.is_some() => Some(n),
            _ => env_u64("ZOOMSTACK_COUNT")?,
        },
    };
    match (index, count) {
        (None, None) => Ok((Share::ALL, None)),
        (Some(_), None) => Err(user(anyhow!(
            "the share index is set ({index_src}) but not the number of shares: pass --count N (or set ZOOMSTACK_COUNT)"
        ))),
        (None, Some(n)) => Err(user(anyhow!(
            "--count {n} needs --index I (or SLURM_ARRAY_TASK_ID / JOB_COMPLETION_INDEX)"
        ))),
        (Some(_), Some(0)) => Err(user(anyhow!("the number of shares must be at least 1"))),
        (Some(i), Some(n)) if i >= n => Err(user(anyhow!(
            "share index {i} ({index_src}) must be below the number of shares {n}"
        ))),
        (Some(i), Some(n)) => Ok((
            Share { index: i, count: n },
            Some(format!("share {i} of {n} (index from {index_src})")),
        )),
    }
}

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

fn describe(spec: &Spec, out: &Path, guard: &GuardArgs) -> Result<()> {
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

fn init(g: &Global, spec: &Spec, out: &Path, exec: &ExecArgs) -> Result<()> {
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
struct RunArgs<'a> {
    share: &'a ShareArgs,
    guard: &'a GuardArgs,
    exec: &'a ExecArgs,
    /// The preview command (prints the notebook's dask table after the run).
    preview: bool,
}

fn run_spec(g: &Global, spec: &Spec, out: &Path, run: &RunArgs<'_>) -> Result<()> {
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
    let bar = progress_bar(g.quiet);
    let observer: Arc<dyn Observer> = Arc::new(Bar::new(bar.clone()));
    let result = p.run(&opts, &observer);
    bar.finish_and_clear();
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

fn run_bench(g: &Global, levels: Vec<u64>, stride: usize, min_time_ms: u64) -> Result<()> {
    if stride == 0 {
        return Err(user(anyhow!("--stride must be at least 1")));
    }
    if levels.is_empty() {
        return Err(user(anyhow!("--levels needs at least one level")));
    }
    if min_time_ms > 60_000 {
        return Err(user(anyhow!(
            "--min-time-ms {min_time_ms}: expected at most 60000"
        )));
    }
    let cfg = bench::BenchConfig {
        levels,
        stride,
        min_time: Duration::from_millis(min_time_ms),
        threads: threads(g)?,
        ..bench::BenchConfig::default()
    };
    let report = bench::run(&cfg).map_err(user)?;
    outln!("{report}");
    Ok(())
}
