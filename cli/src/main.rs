//! The `zoomstack` binary: see `zoomstack --help`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use zoomstack_cli::bench;
use zoomstack_kernel::Backend;
use zoomstack_pipeline::diag::{LocatedError, Source};
use zoomstack_pipeline::spec::{self, Spec};
use zoomstack_pipeline::{
    Observer, PREVIEW_SPEC, Pipeline, RunError, RunOptions, RunReport, Share, resolve,
};

/// Writes to stdout; a closed pipe (`zoomstack describe | head`) ends the process quietly
/// instead of panicking like `print!` does.
fn emit(text: &str) {
    use std::io::Write;
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

const AFTER_HELP: &str = "\
Examples:
  zoomstack                                   the notebook's preview into ./zoomstack-out/
  zoomstack run examples/full-stack.toml      run a pipeline spec file
  zoomstack describe examples/pyramid.toml    show the plans and sizes, render nothing
  zoomstack render --levels 0:120000 --zarr out.zarr
  zoomstack bench                             kernel throughput per backend
  zoomstack view                              scrub through the stack in the browser

Exit codes: 0 success, 1 failure, 2 usage or input error, 130 interrupted (Ctrl-C).
Environment: ZOOMSTACK_KERNEL (kernel backend), RUST_LOG (log filter, e.g. RUST_LOG=debug),
SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, JOB_COMPLETION_INDEX/ZOOMSTACK_COUNT (job arrays).";

/// Zoom stacks of the Mandelbrot set, rendered exactly and streamed to Zarr, PNG, GIF/APNG and
/// contact sheets.
///
/// With no command, renders the notebook's preview `stack[0:20000:500, ::2, ::2]` (40 frames of
/// 256 x 256) to PNG frames, an animated GIF and a contact sheet under ./zoomstack-out/.
#[derive(Parser, Debug)]
#[command(name = "zoomstack", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    global: Global,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    /// Kernel backend: auto, scalar, f64x4 or f64x8 (all give identical counts).
    #[arg(long, global = true, env = "ZOOMSTACK_KERNEL", value_name = "NAME")]
    kernel: Option<String>,
    /// No progress bar and no summary (errors are still printed).
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Render the notebook's preview (the default command).
    ///
    /// Runs the built-in spec (examples/preview.toml): stack[0:20000:500, ::2, ::2] as PNG
    /// frames (frames/level-NNNNNN.png), an animated GIF (preview.gif) and a contact sheet
    /// (contact-sheet.png), all from one render.
    #[command(
        after_help = "Examples:\n  zoomstack preview\n  zoomstack preview --out /tmp/preview --set 'sink.2.colormap=\"viridis\"'"
    )]
    Preview {
        /// Output directory.
        #[arg(long, default_value = "zoomstack-out", value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        overrides: Overrides,
        /// Print the built-in spec and exit.
        #[arg(long)]
        print_spec: bool,
    },
    /// Run a pipeline spec file: one [stack] table and any number of [[sink]] tables.
    ///
    /// Sinks: zarr (Zarr v3 store, optionally sharded, OME-Zarr pyramid), png (one 8-bit PNG
    /// per level), png16 (16-bit raw counts), animation (GIF or APNG), contact-sheet. Each sink
    /// has its own select (numpy slicing), downsample and chunks. Zarr stores are resumable:
    /// re-running the same command continues an interrupted run.
    ///
    /// Job arrays: run `zoomstack init SPEC` once, then `zoomstack run SPEC --index I --count N`
    /// in N processes (or let Slurm / Kubernetes set SLURM_ARRAY_TASK_ID and
    /// SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX and ZOOMSTACK_COUNT): each renders the
    /// Zarr write units k with k % N == I. Frame sinks run in share 0 only.
    #[command(
        after_help = "Examples:\n  zoomstack run examples/full-stack.toml\n  zoomstack run examples/full-stack.toml --set stack.levels=64 --out /tmp/small\n  zoomstack init examples/full-stack.toml && zoomstack run examples/full-stack.toml --index 0 --count 16"
    )]
    Run {
        /// The spec file (TOML).
        spec: PathBuf,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        share: ShareArgs,
    },
    /// Show what a spec renders: each sink's plan before and after optimization, its
    /// dask-style table (bytes, shape, chunks, pixels rendered) and the shared renders.
    /// Renders nothing.
    #[command(after_help = "Example:\n  zoomstack describe examples/full-stack.toml")]
    Describe {
        /// The spec file (TOML).
        spec: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Create (or check) the Zarr stores of a spec without rendering: run once before
    /// starting the shares of a job array.
    #[command(
        after_help = "Example:\n  zoomstack init examples/full-stack.toml\n  sbatch --array=0-15 --wrap 'zoomstack run examples/full-stack.toml'"
    )]
    Init {
        /// The spec file (TOML).
        spec: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// An ad-hoc pipeline from flags, without a spec file (same names as the spec's keys).
    ///
    /// Builds a spec with one sink per output flag (--zarr, --png, --png16, --gif, --apng,
    /// --sheet), all with the same select, and runs it. --print-spec shows that spec.
    #[command(
        after_help = "Examples:\n  zoomstack render --levels 0:120000 --zarr out.zarr --shards 8,512,512\n  zoomstack render --select '[0:20000:500, ::2, ::2]' --png frames --gif zoom.gif\n  zoomstack render --levels 0:1000:10 --downsample 4 --sheet sheet.png --colormap viridis --print-spec"
    )]
    Render(Box<RenderArgs>),
    /// Scrub through the stack in the browser: a local web server with a level slider, play
    /// button, colormaps, and the exact escape count and coordinate under the cursor.
    ///
    /// Renders levels on demand (any of the stack's levels, in milliseconds) and keeps recent
    /// ones in memory. With a spec file, shows its [stack] and the selection of its first sink
    /// (or --select). Listens on loopback only unless --host says otherwise; every request is
    /// checked against the limits below.
    #[command(
        after_help = "Examples:\n  zoomstack view\n  zoomstack view examples/preview.toml --port 8080 --open\n  zoomstack view --select '[100000:120000:10]'\n  zoomstack view --set stack.max_iter=1000 --set stack.height=1024 --set stack.width=1024"
    )]
    View(Box<ViewArgs>),
    /// Kernel throughput per backend (pixel-iterations per second) against the scalar
    /// reference, on a standard level mix; a few seconds.
    #[command(
        after_help = "Example:\n  zoomstack bench\n  zoomstack bench --levels 0,60000 --stride 1"
    )]
    Bench {
        /// Levels rendered (comma-separated).
        #[arg(long, value_delimiter = ',', default_values_t = bench::STANDARD_LEVELS)]
        levels: Vec<u64>,
        /// Render every STRIDE-th row and column of each 512 x 512 level.
        #[arg(long, default_value_t = 2)]
        stride: usize,
        /// Minimum measuring time per backend, in milliseconds.
        #[arg(long, default_value_t = 300)]
        min_time_ms: u64,
    },
}

#[derive(Args, Debug, Clone, Default)]
struct Overrides {
    /// Override a spec value: KEY=VALUE with a dotted key and a TOML value, e.g.
    /// stack.levels=64 or 'sink.0.select="[:8]"' (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Args, Debug, Clone)]
struct Target {
    /// Relative sink paths are resolved against this directory.
    #[arg(long, default_value = ".", value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
}

#[derive(Args, Debug, Clone, Default)]
struct ShareArgs {
    /// This process's share of the Zarr write units (0-based; default from SLURM_ARRAY_TASK_ID
    /// or JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I")]
    index: Option<u64>,
    /// Number of shares (default from SLURM_ARRAY_TASK_COUNT or ZOOMSTACK_COUNT).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

#[derive(Args, Debug, Clone)]
struct RenderArgs {
    /// Levels to render (numpy slice of the level axis), e.g. 0:120000 or 0:20000:500.
    #[arg(long, value_name = "SLICE", allow_hyphen_values = true)]
    levels: Option<String>,
    /// Full selection (numpy basic slicing on level, y, x), e.g. '[0:20000:500, ::2, ::2]'.
    #[arg(
        long,
        value_name = "SELECT",
        conflicts_with = "levels",
        allow_hyphen_values = true
    )]
    select: Option<String>,
    /// Chunk (tile) shape L,Y,X.
    #[arg(long, value_name = "L,Y,X")]
    chunks: Option<String>,
    /// Downsample y and x by K (or FY,FX) after the select.
    #[arg(long, value_name = "K|FY,FX")]
    downsample: Option<String>,
    /// Downsampling mode: mean or stride.
    #[arg(long, value_name = "MODE", requires = "downsample")]
    downsample_mode: Option<String>,
    /// Write a Zarr v3 store.
    #[arg(long, value_name = "PATH")]
    zarr: Option<String>,
    /// Zarr shard shape L,Y,X (a multiple of the chunks).
    #[arg(long, value_name = "L,Y,X", requires = "zarr")]
    shards: Option<String>,
    /// Zarr compression: zstd or none.
    #[arg(long, value_name = "CODEC", requires = "zarr")]
    compression: Option<String>,
    /// zstd level (-7..=22).
    #[arg(long, value_name = "N", requires = "zarr", allow_hyphen_values = true)]
    compression_level: Option<i64>,
    /// Write OME-Zarr 0.5 metadata (a multiscale group).
    #[arg(long, requires = "zarr")]
    ome: bool,
    /// Extra OME-Zarr pyramid levels (stride 2, 4, ...); implies --ome.
    #[arg(long, value_name = "N", requires = "zarr")]
    pyramid_levels: Option<u64>,
    /// Write one 8-bit PNG per level into DIR.
    #[arg(long, value_name = "DIR")]
    png: Option<String>,
    /// Write one 16-bit PNG of raw counts per level into DIR.
    #[arg(long, value_name = "DIR")]
    png16: Option<String>,
    /// Write an animated GIF.
    #[arg(long, value_name = "FILE")]
    gif: Option<String>,
    /// Write an animated PNG.
    #[arg(long, value_name = "FILE")]
    apng: Option<String>,
    /// Write a contact sheet (one PNG grid of all frames).
    #[arg(long, value_name = "FILE")]
    sheet: Option<String>,
    /// Colormap of image outputs: gray, rainbow, viridis, magma, inferno, plasma, cividis.
    #[arg(long, value_name = "NAME")]
    colormap: Option<String>,
    /// Scaling of image outputs: fixed (the notebook's to_uint8) or per-frame.
    #[arg(long, value_name = "MODE")]
    scaling: Option<String>,
    /// Animation frame delay in milliseconds.
    #[arg(long, value_name = "MS")]
    delay_ms: Option<u64>,
    /// Number of levels of the stack (default 120000).
    #[arg(long, value_name = "N")]
    stack_levels: Option<u64>,
    /// Frame height of the stack (default 512).
    #[arg(long, value_name = "PX")]
    height: Option<u64>,
    /// Frame width of the stack (default 512).
    #[arg(long, value_name = "PX")]
    width: Option<u64>,
    /// Iteration limit (default 256).
    #[arg(long, value_name = "N")]
    max_iter: Option<u64>,
    /// Print the spec these flags make and exit.
    #[arg(long)]
    print_spec: bool,
    /// Describe instead of rendering.
    #[arg(long)]
    describe: bool,
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    share: ShareArgs,
}

#[derive(Args, Debug, Clone)]
struct ViewArgs {
    /// A spec file (TOML) whose [stack] to show (default: the notebook's stack).
    spec: Option<PathBuf>,
    /// The part of the stack on the slider, numpy syntax [levels, rows, cols] (default: the
    /// spec's first sink's select, or the whole stack).
    #[arg(long, value_name = "SELECT", allow_hyphen_values = true)]
    select: Option<String>,
    /// Address to listen on. Anything but loopback lets other machines in.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    host: std::net::IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Largest frame one request may render, in pixels (after its stride).
    #[arg(long, default_value_t = 2048 * 2048, value_name = "N")]
    max_pixels: u64,
    /// Memory for recently rendered levels, in MiB.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    cache_mib: usize,
    /// Show every STRIDE-th row and column unless the page asks otherwise (default: 1, or the
    /// smallest stride giving frames of at most 1024 x 1024 pixels for larger levels).
    #[arg(long)]
    stride: Option<usize>,
    /// Open the page in the default browser (xdg-open / open / start).
    #[arg(long)]
    open: bool,
    #[command(flatten)]
    overrides: Overrides,
}

/// How the process ends.
enum Failure {
    /// The user's input is wrong (exit 2).
    User(anyhow::Error),
    /// Something else failed (exit 1).
    Other(anyhow::Error),
    /// A spec error, already rendered with its excerpt (exit 2).
    Spec(LocatedError),
    /// Ctrl-C (exit 130).
    Interrupted(String),
}

type Result<T, E = Failure> = std::result::Result<T, E>;

fn user(e: impl Into<anyhow::Error>) -> Failure {
    Failure::User(e.into())
}

fn main() -> ExitCode {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    let cli = match Cli::try_parse() {
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
            ExitCode::from(130)
        }
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let g = cli.global;
    match cli.command.unwrap_or(Command::Preview {
        out: PathBuf::from("zoomstack-out"),
        overrides: Overrides::default(),
        print_spec: false,
    }) {
        Command::Preview {
            out,
            overrides,
            print_spec,
        } => {
            if print_spec {
                out!("{PREVIEW_SPEC}");
                return Ok(());
            }
            let source = Source::new("<built-in preview>", PREVIEW_SPEC, &overrides.set);
            let spec = parse(&source)?;
            run_spec(&g, &spec, &out, ShareArgs::default(), true)
        }
        Command::Run {
            spec,
            target,
            share,
        } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            run_spec(&g, &spec, &target.out, share, false)
        }
        Command::Describe { spec, target } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            describe(&spec, &target.out)
        }
        Command::Init { spec, target } => {
            let source = read_source(&spec, &target.overrides)?;
            let spec = parse(&source)?;
            init(&g, &spec, &target.out)
        }
        Command::Render(args) => {
            let text = render_spec(&args)?;
            if args.print_spec {
                out!("{text}");
                return Ok(());
            }
            let source = Source::new("<render flags>", text, &args.target.overrides.set);
            let spec = parse(&source)?;
            if args.describe {
                describe(&spec, &args.target.out)
            } else {
                run_spec(&g, &spec, &args.target.out, args.share.clone(), false)
            }
        }
        Command::Bench {
            levels,
            stride,
            min_time_ms,
        } => run_bench(&g, levels, stride, min_time_ms),
        Command::View(args) => view(&g, &args),
    }
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
    let _ = ctrlc::set_handler(|| std::process::exit(0));
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
                "environment variable {name}={v:?} is not a non-negative integer"
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
        RunError::Cancelled { .. } => Failure::Interrupted(format!(
            "{e}; everything written so far is kept: run the same command again to resume"
        )),
        e if e.is_user_error() => Failure::User(e.into()),
        e => Failure::Other(e.into()),
    }
}

fn describe(spec: &Spec, out: &Path) -> Result<()> {
    out!("{}", pipeline(spec)?.describe(out));
    Ok(())
}

fn init(g: &Global, spec: &Spec, out: &Path) -> Result<()> {
    let p = pipeline(spec)?;
    let opts = RunOptions {
        threads: threads(g)?,
        backend: backend(g)?,
        out_dir: out.to_path_buf(),
        share: Share::ALL,
        cancel: Arc::new(AtomicBool::new(false)),
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

/// The progress bar: output pixels done over all jobs, with rate and ETA.
struct Bar(indicatif::ProgressBar);

impl Observer for Bar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn job(&self, what: &str) {
        tracing::info!(job = what, "render job starts");
        self.0.set_message(what.to_string());
    }
    fn advance(&self, done: u64) {
        self.0.set_position(done);
    }
}

fn progress_bar(quiet: bool) -> indicatif::ProgressBar {
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

fn install_ctrlc(cancel: &Arc<AtomicBool>) {
    let flag = cancel.clone();
    let result = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\nzoomstack: aborted");
            std::process::exit(130);
        }
        eprintln!(
            "\nzoomstack: interrupted: finishing the tiles in flight (Ctrl-C again to abort at once)"
        );
    });
    if let Err(e) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
}

fn run_spec(
    g: &Global,
    spec: &Spec,
    out: &Path,
    share_args: ShareArgs,
    preview: bool,
) -> Result<()> {
    let t0 = Instant::now();
    let (share, share_note) = share(&share_args)?;
    let p = pipeline(spec)?;
    if spec.sinks.is_empty() {
        return Err(user(anyhow!(
            "the spec has no [[sink]] table: nothing to write (add e.g. [[sink]] kind = \"png\")"
        )));
    }
    let cancel = Arc::new(AtomicBool::new(false));
    install_ctrlc(&cancel);
    let opts = RunOptions {
        threads: threads(g)?,
        backend: backend(g)?,
        out_dir: out.to_path_buf(),
        share,
        cancel,
    };
    tracing::info!(backend = %opts.backend.describe(), threads = opts.threads, "run");
    let bar = progress_bar(g.quiet);
    let observer: Arc<dyn Observer> = Arc::new(Bar(bar.clone()));
    let result = p.run(&opts, &observer);
    bar.finish_and_clear();
    let report = result.map_err(classify)?;
    if !g.quiet {
        if preview {
            // The notebook's `stack[0:20000:500, ::2, ::2]`, as dask would show it.
            if let Some(s) = spec.sinks.first() {
                outln!("stack{}", s.select);
                outln!("{}", s.array.describe());
            }
        }
        if let Some(note) = share_note {
            outln!("{note}");
        }
        print_report(spec, &report, out, &opts, t0.elapsed());
    }
    Ok(())
}

fn print_report(spec: &Spec, report: &RunReport, out: &Path, opts: &RunOptions, wall: Duration) {
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
            outln!(
                "{}: {} write units done of {total} ({written} written now){}",
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
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            opts.threads
        },
        wall.as_secs_f64()
    );
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

/// The spec text the `render` flags describe.
fn render_spec(a: &RenderArgs) -> Result<String> {
    fn q(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }
    fn list(flag: &str, s: &str, n: usize) -> Result<String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() != n || parts.iter().any(|p| p.parse::<u64>().is_err()) {
            return Err(user(anyhow!(
                "{flag} {s:?}: expected {n} comma-separated non-negative integers"
            )));
        }
        Ok(format!("[{}]", parts.join(", ")))
    }
    let mut t = String::from("[stack]\n");
    for (k, v) in [
        ("levels", a.stack_levels),
        ("height", a.height),
        ("width", a.width),
        ("max_iter", a.max_iter),
    ] {
        if let Some(v) = v {
            t += &format!("{k} = {v}\n");
        }
    }
    let select = match (&a.select, &a.levels) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(l)) => Some(format!("[{l}, :, :]")),
        (None, None) => None,
    };
    let mut common = String::new();
    if let Some(s) = &select {
        common += &format!("select = {}\n", q(s));
    }
    if let Some(c) = &a.chunks {
        common += &format!("chunks = {}\n", list("--chunks", c, 3)?);
    }
    if let Some(d) = &a.downsample {
        let factors = if d.contains(',') {
            list("--downsample", d, 2)?
        } else {
            let k: u64 = d
                .trim()
                .parse()
                .map_err(|_| user(anyhow!("--downsample {d:?}: expected K or FY,FX")))?;
            format!("[{k}, {k}]")
        };
        let mode = a.downsample_mode.as_deref().unwrap_or("mean");
        common += &format!(
            "downsample = {{ factors = {factors}, mode = {} }}\n",
            q(mode)
        );
    }
    let mut image = String::new();
    if let Some(c) = &a.colormap {
        image += &format!("colormap = {}\n", q(c));
    }
    if let Some(s) = &a.scaling {
        image += &format!("scaling = {}\n", q(s));
    }
    let mut n = 0;
    if let Some(p) = &a.zarr {
        n += 1;
        t += &format!("\n[[sink]]\nkind = \"zarr\"\npath = {}\n{common}", q(p));
        if let Some(s) = &a.shards {
            t += &format!("shards = {}\n", list("--shards", s, 3)?);
        }
        if let Some(c) = &a.compression {
            t += &format!("compression = {}\n", q(c));
        }
        if let Some(l) = a.compression_level {
            t += &format!("compression_level = {l}\n");
        }
        if a.ome || a.pyramid_levels.is_some_and(|p| p > 0) {
            t += "ome = true\n";
        }
        if let Some(p) = a.pyramid_levels {
            t += &format!("pyramid_levels = {p}\n");
        }
    }
    for (kind, path, opts) in [
        ("png", &a.png, image.clone()),
        ("png16", &a.png16, String::new()),
        ("contact-sheet", &a.sheet, image.clone()),
    ] {
        if let Some(p) = path {
            n += 1;
            t += &format!(
                "\n[[sink]]\nkind = \"{kind}\"\npath = {}\n{common}{opts}",
                q(p)
            );
        }
    }
    for (format, path) in [("gif", &a.gif), ("apng", &a.apng)] {
        if let Some(p) = path {
            n += 1;
            t += &format!(
                "\n[[sink]]\nkind = \"animation\"\nformat = \"{format}\"\npath = {}\n{common}{image}",
                q(p)
            );
            if let Some(d) = a.delay_ms {
                t += &format!("delay_ms = {d}\n");
            }
        }
    }
    if n == 0 {
        return Err(user(anyhow!(
            "render needs at least one output: --zarr PATH, --png DIR, --png16 DIR, --gif FILE, --apng FILE or --sheet FILE"
        )));
    }
    Ok(t)
}
