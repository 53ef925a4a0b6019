//! The `zoomstack` binary: see `zoomstack --help`.
//!
//! Here: parsing the command line, dispatching its command, exit codes, and what the commands
//! share (the spec's source, `--kernel`, `--threads`). The commands themselves: `run.rs`
//! (`preview`, `run`, `render`, `init`, `describe`), `view.rs`, `verify.rs`; `bench` and `man`
//! are short enough to stay here.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, anyhow};
use args::{Cli, ColorWhen, Command, ExecArgs, Global, GuardArgs, Overrides, ShareArgs};
use clap::{CommandFactory, FromArgMatches};
use flags::render_spec;
use run::{RunArgs, describe, init, run_spec};
use zoomstack_cli::bench;
use zoomstack_kernel::Backend;
use zoomstack_pipeline::PREVIEW_SPEC;
use zoomstack_pipeline::diag::{LocatedError, Source};
use zoomstack_pipeline::spec::{self, Spec};

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
mod run;
mod share;
mod signals;
mod verify;
mod view;

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
        Command::View(args) => view::view(&g, &args),
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
