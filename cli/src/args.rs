//! The command line: clap's argument types (`flags.rs` turns `render`'s into a spec).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use zoomstack_cli::bench;
use zoomstack_engine::Excerpt;

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

/// `--memory-limit`: a size ([`parse_size`]) above 0 and at most the physical memory (where the
/// system says how much there is).
pub(crate) fn parse_memory_limit(text: &str) -> std::result::Result<u64, String> {
    let bytes = parse_size(text)?;
    if bytes == 0 {
        return Err(
            "expected more than 0 bytes (a limit of 0 refuses every run), e.g. 8GiB".to_string(),
        );
    }
    if let Some(physical) = physical_memory()
        && bytes > physical
    {
        return Err(format!(
            "{} is above this machine's physical memory ({}): expected at most that",
            zoomstack_engine::format_bytes(bytes),
            zoomstack_engine::format_bytes(physical)
        ));
    }
    Ok(bytes)
}

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), where known.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// A byte count: digits with an optional unit (B, kB/MB/GB/TB decimal, KiB/MiB/GiB/TiB or
/// K/M/G/T binary).
pub(crate) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit = unit.trim();
    let whole = || {
        "expected a whole number of bytes with an optional unit, e.g. 20GiB or 500MB".to_string()
    };
    if digits.is_empty() {
        return Err(whole());
    }
    let factor: u64 = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "K" | "k" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown unit {}: expected B, kB, MB, GB, TB, KiB, MiB, GiB, TiB or K, M, G, T",
                Excerpt::around(unit, 0)
            ));
        }
    };
    let n: u64 = digits.parse().map_err(|_| whole())?;
    n.checked_mul(factor)
        .ok_or_else(|| "too large: expected at most 2^64 - 1 bytes".to_string())
}

#[derive(Args, Debug, Clone)]
#[allow(clippy::struct_excessive_bools)] // clap flags: each bool is one switch
pub(crate) struct RenderArgs {
    /// Levels to render (numpy slice of the level axis), e.g. 0:120000 or 0:20000:500.
    #[arg(
        long,
        value_name = "SLICE",
        allow_hyphen_values = true,
        help_heading = "Selection"
    )]
    pub(crate) levels: Option<String>,
    /// Full selection (numpy basic slicing on level, y, x), e.g. '[0:20000:500, `::2`, `::2`]'.
    #[arg(
        long,
        value_name = "SELECT",
        conflicts_with = "levels",
        allow_hyphen_values = true,
        help_heading = "Selection"
    )]
    pub(crate) select: Option<String>,
    /// Chunk (tile) shape L,Y,X.
    #[arg(long, value_name = "L,Y,X", help_heading = "Selection")]
    pub(crate) chunks: Option<String>,
    /// Downsample y and x by K (or FY,FX) after the select.
    #[arg(long, value_name = "K|FY,FX", help_heading = "Selection")]
    pub(crate) downsample: Option<String>,
    /// Downsampling mode: mean or stride.
    #[arg(
        long,
        value_name = "MODE",
        requires = "downsample",
        help_heading = "Selection"
    )]
    pub(crate) downsample_mode: Option<String>,
    /// Write a Zarr v3 store.
    #[arg(long, value_name = "PATH", help_heading = "Zarr output")]
    pub(crate) zarr: Option<String>,
    /// Zarr shard shape L,Y,X (a multiple of the chunks).
    #[arg(
        long,
        value_name = "L,Y,X",
        requires = "zarr",
        help_heading = "Zarr output"
    )]
    pub(crate) shards: Option<String>,
    /// Zarr compression: zstd or none.
    #[arg(
        long,
        value_name = "CODEC",
        requires = "zarr",
        help_heading = "Zarr output"
    )]
    pub(crate) compression: Option<String>,
    /// zstd level (-7..=22).
    #[arg(
        long,
        value_name = "N",
        requires = "zarr",
        allow_hyphen_values = true,
        help_heading = "Zarr output"
    )]
    pub(crate) compression_level: Option<i64>,
    /// What the Zarr array stores: counts (uint16, the default) or smooth (float32 smooth
    /// escape values, array `smooth`; numpy arithmetic only).
    #[arg(
        long,
        value_name = "counts|smooth",
        requires = "zarr",
        help_heading = "Zarr output"
    )]
    pub(crate) values: Option<String>,
    /// Write OME-Zarr 0.5 metadata (a multiscale group).
    #[arg(long, requires = "zarr", help_heading = "Zarr output")]
    pub(crate) ome: bool,
    /// Extra OME-Zarr pyramid levels (stride 2, 4, ...); implies --ome.
    #[arg(
        long,
        value_name = "N",
        requires = "zarr",
        help_heading = "Zarr output"
    )]
    pub(crate) pyramid_levels: Option<u64>,
    /// Write one 8-bit PNG per level into DIR.
    #[arg(long, value_name = "DIR", help_heading = "Image outputs")]
    pub(crate) png: Option<String>,
    /// Write one 16-bit PNG of raw counts per level into DIR.
    #[arg(long, value_name = "DIR", help_heading = "Image outputs")]
    pub(crate) png16: Option<String>,
    /// Write an animated GIF.
    #[arg(long, value_name = "FILE", help_heading = "Image outputs")]
    pub(crate) gif: Option<String>,
    /// Write an animated PNG.
    #[arg(long, value_name = "FILE", help_heading = "Image outputs")]
    pub(crate) apng: Option<String>,
    /// Write a contact sheet (one PNG grid of all frames).
    #[arg(long, value_name = "FILE", help_heading = "Image outputs")]
    pub(crate) sheet: Option<String>,
    /// Write a video (MP4/H.264 for .mp4, WebM/VP9 for .webm, Matroska for .mkv, raw .y4m; "-":
    /// fragmented MP4 on stdout). Needs ffmpeg. Colours from smooth values unless --colour counts.
    #[arg(long, value_name = "FILE", help_heading = "Video output")]
    pub(crate) video: Option<String>,
    /// Video frame rate (default 30).
    #[arg(
        long,
        value_name = "FPS",
        requires = "video",
        allow_hyphen_values = true,
        help_heading = "Video output"
    )]
    pub(crate) fps: Option<f64>,
    /// Video length in seconds: frames at evenly spaced fractional levels over --levels A:B
    /// (default: the whole stack), instead of one frame per selected level.
    #[arg(
        long,
        value_name = "SECONDS",
        requires = "video",
        allow_hyphen_values = true,
        help_heading = "Video output"
    )]
    pub(crate) duration: Option<f64>,
    /// Video codec: h264, vp9, av1 or ffv1 (default: from the file extension).
    #[arg(
        long,
        value_name = "NAME",
        requires = "video",
        help_heading = "Video output"
    )]
    pub(crate) codec: Option<String>,
    /// Video quality as a constant-rate factor (lower is better; codec default if not given).
    #[arg(
        long,
        value_name = "N",
        requires = "video",
        help_heading = "Video output"
    )]
    pub(crate) crf: Option<u64>,
    /// Exact RGB video (FFV1 in .mkv, RGB H.264, VP9 lossless); browsers play none of these.
    #[arg(long, requires = "video", help_heading = "Video output")]
    pub(crate) lossless: bool,
    /// Colours from "counts" (the notebook's bands) or "smooth" (continuous escape values) for
    /// PNG frames, GIF/APNG, contact sheets and video (default: counts, but smooth for video).
    /// A smooth GIF shows each value's nearest colormap entry (its palette).
    #[arg(long, value_name = "FROM", help_heading = "Image outputs")]
    pub(crate) colour: Option<String>,
    /// Iterations per colour cycle with smooth colours (the colormap repeats; e.g. 64 with
    /// --colormap twilight).
    #[arg(
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Image outputs"
    )]
    pub(crate) cycle: Option<f64>,
    /// Colormap of image outputs: gray, rainbow, viridis, magma, inferno, plasma, cividis, twilight (cyclic).
    #[arg(long, value_name = "NAME", help_heading = "Image outputs")]
    pub(crate) colormap: Option<String>,
    /// Scaling of image outputs: fixed (the notebook's `to_uint8`) or per-frame.
    #[arg(long, value_name = "MODE", help_heading = "Image outputs")]
    pub(crate) scaling: Option<String>,
    /// Animation frame delay in milliseconds.
    #[arg(long, value_name = "MS", help_heading = "Image outputs")]
    pub(crate) delay_ms: Option<u64>,
    /// Number of levels of the stack (default 120000).
    #[arg(long, value_name = "N", help_heading = "Stack")]
    pub(crate) stack_levels: Option<u64>,
    /// Frame height of the stack (default 512).
    #[arg(long, value_name = "PX", help_heading = "Stack")]
    pub(crate) height: Option<u64>,
    /// Frame width of the stack (default 512).
    #[arg(long, value_name = "PX", help_heading = "Stack")]
    pub(crate) width: Option<u64>,
    /// Centre of every frame, RE,IM, e.g. -0.743645857047151,0.13182592380533 (default: the
    /// notebook's). Decimals of any length: taken exactly with --arithmetic exact, rounded to
    /// the nearest f64 (as Python's `float()` does) in numpy mode.
    #[arg(
        long,
        value_name = "RE,IM",
        allow_hyphen_values = true,
        help_heading = "Stack"
    )]
    pub(crate) center: Option<String>,
    /// Height of level 0 in the complex plane (default 3.0); a decimal, as --center.
    #[arg(
        long,
        value_name = "X",
        allow_hyphen_values = true,
        help_heading = "Stack"
    )]
    pub(crate) scale0: Option<String>,
    /// Zoom factor from one level to the next (default 1.00025); a decimal, as --center.
    #[arg(
        long,
        value_name = "X",
        allow_hyphen_values = true,
        help_heading = "Stack"
    )]
    pub(crate) zoom_per_level: Option<String>,
    /// Iteration limit (default 256).
    #[arg(long, value_name = "N", help_heading = "Stack")]
    pub(crate) max_iter: Option<u64>,
    /// Arithmetic contract: numpy (the notebook's f64 counts, bit for bit; the default) or
    /// exact (the true counts at any depth; slower, and constant deep frames are proven).
    #[arg(long, value_name = "MODE", help_heading = "Stack")]
    pub(crate) arithmetic: Option<String>,
    /// Print the spec these flags make and exit.
    #[arg(long)]
    pub(crate) print_spec: bool,
    /// Describe instead of rendering.
    #[arg(long)]
    pub(crate) describe: bool,
    #[command(flatten, next_help_heading = "Run")]
    pub(crate) target: Target,
    #[command(flatten, next_help_heading = "Run")]
    pub(crate) exec: ExecArgs,
    #[command(flatten, next_help_heading = "Job arrays")]
    pub(crate) share: ShareArgs,
    #[command(flatten, next_help_heading = "Guard")]
    pub(crate) guard: GuardArgs,
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
