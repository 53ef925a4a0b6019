//! The command line: clap's argument types (`flags.rs` turns `render`'s into a spec). `render`'s
//! own flags are in `args/render.rs`, the parsing of byte sizes in `args/size.rs`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use zoomstack_cli::bench;

mod render;
mod size;

pub(crate) use render::RenderArgs;
use size::{parse_memory_limit, parse_size};

pub(crate) const AFTER_HELP: &str = "\
Examples:
  zoomstack                                   the notebook's preview into ./zoomstack-out/
  zoomstack run examples/full-stack.toml      run a pipeline spec file
  zoomstack describe examples/pyramid.toml    show the plans and sizes, render nothing
  zoomstack render --levels 0:120000 --zarr out.zarr --yes
  zoomstack bench                             kernel throughput per backend
  zoomstack view                              scrub through the stack in the browser

Exit codes: 0 success, 1 failure, 2 usage or input error (also: a run refused before it
created anything), 130/143/129 stopped by SIGINT (Ctrl-C)/SIGTERM/SIGHUP. A first signal stops
after the tiles in flight (temp files removed, Zarr stores resumable), a second aborts at once.
Guard: a run that would write more than 10000 files or 20 GiB (raw) shows its estimate and is
refused unless --yes is given (limits: --max-files, --max-bytes). Memory: a run whose tiles in
flight need more than 4 GiB is refused before it starts (--memory-limit raises it).
Standard output: --gif -, --apng - and --sheet - (path = \"-\" in a spec) write the file to stdout;
the summary then goes to stderr.
Environment: ZOOMSTACK_KERNEL (kernel backend), RUST_LOG (log filter, e.g. RUST_LOG=debug),
SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, JOB_COMPLETION_INDEX/ZOOMSTACK_COUNT (job arrays).";

/// Zoom stacks of the Mandelbrot set, rendered exactly and streamed to Zarr, PNG, GIF/APNG and
/// contact sheets.
///
/// With no command, renders the notebook's preview `stack[0:20000:500, ::2, ::2]` (40 frames of
/// 256 x 256) to PNG frames, an animated GIF and a contact sheet under ./zoomstack-out/.
#[derive(Parser, Debug)]
#[command(name = "zoomstack", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) global: Global,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Global {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Kernel backend: auto, scalar, f64x4 or f64x8 (all give identical counts).
    #[arg(long, global = true, env = "ZOOMSTACK_KERNEL", value_name = "NAME")]
    pub(crate) kernel: Option<String>,
    /// No progress bar and no summary (errors are still printed).
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,
    /// When stderr is not a terminal (a batch job's log), write a plain progress line every
    /// SECONDS instead of the bar: done, rate, elapsed, ETA (0: none).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30.0,
          value_parser = parse_seconds)]
    pub(crate) progress_every: f64,
    /// Colour in logs (`RUST_LOG`) and help: auto (when stderr is a terminal and `NO_COLOR` is
    /// unset), always or never.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub(crate) color: ColorWhen,
}

/// When to write ANSI colour codes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColorWhen {
    /// When stderr is a terminal and `NO_COLOR` is unset or empty.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    /// Whether to colour output written to stderr.
    pub(crate) fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }

    /// The `--color` of the raw command line (before clap parses it, which colours its own
    /// help and errors): the last `--color WHEN` or `--color=WHEN`, else `auto`.
    pub(crate) fn from_args(args: &[std::ffi::OsString]) -> ColorWhen {
        let mut when = ColorWhen::Auto;
        let mut it = args.iter().map(|a| a.to_string_lossy());
        while let Some(a) = it.next() {
            let value = if a == "--color" {
                it.next().map(std::borrow::Cow::into_owned)
            } else {
                a.strip_prefix("--color=").map(str::to_string)
            };
            match value.as_deref() {
                Some("always") => when = ColorWhen::Always,
                Some("never") => when = ColorWhen::Never,
                Some("auto") => when = ColorWhen::Auto,
                _ => {}
            }
        }
        when
    }
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Render the notebook's preview (the default command).
    ///
    /// Runs the built-in spec (examples/preview.toml): stack[0:20000:500, `::2`, `::2`] as PNG
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
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        exec: ExecArgs,
    },
    /// Run a pipeline spec file: one [stack] table and any number of [[sink]] tables.
    ///
    /// Sinks: zarr (Zarr v3 store, optionally sharded, OME-Zarr pyramid), png (one 8-bit PNG
    /// per level), png16 (16-bit raw counts), animation (GIF or APNG), contact-sheet. Each sink
    /// has its own select (numpy slicing), downsample and chunks. Zarr stores are resumable:
    /// re-running the same command continues an interrupted run.
    ///
    /// Job arrays: run `zoomstack init SPEC` once, then `zoomstack run SPEC --index I --count N`
    /// in N processes (or let Slurm / Kubernetes set `SLURM_ARRAY_TASK_ID` and
    /// `SLURM_ARRAY_TASK_COUNT`, or `JOB_COMPLETION_INDEX` and `ZOOMSTACK_COUNT)`: each renders the
    /// Zarr write units k with k % N == I. Frame sinks run in share 0 only.
    #[command(
        after_help = "Examples:\n  zoomstack run examples/full-stack.toml --yes\n  zoomstack run examples/full-stack.toml --set stack.levels=64 --out /tmp/small\n  zoomstack init examples/full-stack.toml && zoomstack run examples/full-stack.toml --index 0 --count 16"
    )]
    Run {
        /// The spec file (TOML).
        spec: PathBuf,
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        share: ShareArgs,
        #[command(flatten)]
        guard: GuardArgs,
        #[command(flatten)]
        exec: ExecArgs,
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
        #[command(flatten)]
        exec: ExecArgs,
    },
    /// An ad-hoc pipeline from flags, without a spec file (same names as the spec's keys).
    ///
    /// Builds a spec with one sink per output flag (--zarr, --png, --png16, --gif, --apng,
    /// --sheet), all with the same select, and runs it. --print-spec shows that spec.
    #[command(
        after_help = "Examples:\n  zoomstack render --levels 0:120000 --zarr out.zarr --shards 8,512,512 --yes\n  zoomstack render --levels 0:200 --height 128 --width 128 --gif - > zoom.gif\n  zoomstack render --select '[0:20000:500, ::2, ::2]' --png frames --gif zoom.gif\n  zoomstack render --levels 0:1000:10 --downsample 4 --sheet sheet.png --colormap viridis --print-spec"
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
    /// Check a Zarr store: re-read every write unit and report the missing and damaged ones.
    ///
    /// A unit is intact when its completion marker exists, its file holds exactly the bytes the
    /// marker records (length and CRC-32C) and it decodes (each chunk's crc32c and the
    /// compression). Exit 0 when every unit is intact, 1 with a list otherwise (rewrite the
    /// damaged units with the command that wrote the store plus --verify). Reads only.
    #[command(
        after_help = "Examples:\n  zoomstack verify out/stack.zarr\n  zoomstack verify pyramid.zarr --array levels"
    )]
    Verify {
        /// The store directory (an array, or an OME-Zarr pyramid written by zoomstack).
        store: PathBuf,
        /// Path of the array inside the store (the spec's `array` key; default: the root).
        #[arg(long, value_name = "PATH", default_value = "")]
        array: String,
    },
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
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    #[command(
        after_help = "Examples:\n  zoomstack completions bash > ~/.local/share/bash-completion/completions/zoomstack\n  zoomstack completions zsh > ~/.zfunc/_zoomstack\n  zoomstack completions fish > ~/.config/fish/completions/zoomstack.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of zoomstack and its commands.
    #[command(after_help = "Example:\n  zoomstack man | man -l -")]
    Man,
}

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// Override a spec value: KEY=VALUE with a dotted key and a TOML value, e.g.
    /// stack.levels=64 or 'sink.0.select="[:8]"' (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct Target {
    /// Relative sink paths are resolved against this directory.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct ShareArgs {
    /// This process's share of the Zarr write units (0-based; default from `SLURM_ARRAY_TASK_ID`
    /// or `JOB_COMPLETION_INDEX`).
    #[arg(long, value_name = "I")]
    pub(crate) index: Option<u64>,
    /// Number of shares (default from `SLURM_ARRAY_TASK_COUNT` or `ZOOMSTACK_COUNT`).
    #[arg(long, value_name = "N")]
    pub(crate) count: Option<u64>,
    /// Before resuming an existing Zarr store, re-read every written unit (length, checksum,
    /// decoding; as `zoomstack verify` does) and render the damaged ones again. Without it a
    /// resume checks the lengths its markers record.
    #[arg(long)]
    pub(crate) verify: bool,
}

/// The guard on how much one run writes.
#[derive(Args, Debug, Clone)]
pub(crate) struct GuardArgs {
    /// Write even when the run's estimate is above --max-files or --max-bytes.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Most files a run writes without --yes (PNG frames, animation files, Zarr write units
    /// and their markers).
    #[arg(long, value_name = "N", default_value_t = zoomstack_pipeline::DEFAULT_MAX_FILES)]
    pub(crate) max_files: u64,
    /// Most bytes a run writes without --yes, counted raw (uncompressed, an upper bound; a
    /// video by an estimate from its CRF or bitrate):
    /// e.g. 500MB, 20GiB, 1T (K/M/G/T are binary).
    #[arg(long, value_name = "SIZE", default_value = "20GiB", value_parser = parse_size)]
    pub(crate) max_bytes: u64,
}

impl GuardArgs {
    /// No --yes, the default limits (what clap gives without the flags).
    pub(crate) fn default_limits() -> GuardArgs {
        GuardArgs {
            yes: false,
            max_files: zoomstack_pipeline::DEFAULT_MAX_FILES,
            max_bytes: zoomstack_pipeline::DEFAULT_MAX_BYTES,
        }
    }

    /// The limits a run is held to (`None` with --yes).
    pub(crate) fn guard(&self) -> Option<zoomstack_pipeline::Limits> {
        (!self.yes).then_some(self.limits())
    }

    /// The limits, --yes or not.
    pub(crate) fn limits(&self) -> zoomstack_pipeline::Limits {
        zoomstack_pipeline::Limits {
            max_files: self.max_files,
            max_bytes: self.max_bytes,
        }
    }
}

/// How a run's executor may use memory.
#[derive(Args, Debug, Clone)]
pub(crate) struct ExecArgs {
    /// Most memory the buffers in flight may take: the tiles being rendered (one per thread;
    /// a Zarr write unit each) and the frames held in order. A run above it is refused before
    /// anything is created. Same units as --max-bytes, e.g. 8GiB; more than 0 and at most the
    /// machine's physical memory.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_memory_limit)]
    pub(crate) memory_limit: u64,
}

impl ExecArgs {
    /// The default limit (what clap gives without the flag).
    pub(crate) fn default_limit() -> ExecArgs {
        ExecArgs {
            memory_limit: zoomstack_engine::DEFAULT_MEMORY_LIMIT,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub(crate) struct ViewArgs {
    /// A spec file (TOML) whose [stack] to show (default: the notebook's stack).
    pub(crate) spec: Option<PathBuf>,
    /// The part of the stack on the slider, numpy syntax [levels, rows, cols] (default: the
    /// spec's first sink's select, or the whole stack).
    #[arg(long, value_name = "SELECT", allow_hyphen_values = true)]
    pub(crate) select: Option<String>,
    /// Address to listen on. Anything but loopback lets other machines in.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub(crate) host: std::net::IpAddr,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub(crate) port: u16,
    /// Largest frame one request may render, in pixels (after its stride).
    #[arg(long, default_value_t = 2048 * 2048, value_name = "N")]
    pub(crate) max_pixels: u64,
    /// Memory for recently rendered levels, in MiB.
    #[arg(long, default_value_t = 128, value_name = "MIB")]
    pub(crate) cache_mib: usize,
    /// Show every STRIDE-th row and column unless the page asks otherwise (default: 1, or the
    /// smallest stride giving frames of at most 1024 x 1024 pixels for larger levels).
    #[arg(long)]
    pub(crate) stride: Option<usize>,
    /// Open the page in the default browser (xdg-open / open / start).
    #[arg(long)]
    pub(crate) open: bool,
    #[command(flatten)]
    pub(crate) overrides: Overrides,
}

/// `--progress-every`: a finite number of seconds, not negative.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number of seconds (expected a finite number >= 0, e.g. 30 or 0.5)"
        )),
    }
}
