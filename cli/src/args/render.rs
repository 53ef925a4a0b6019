//! `render`'s flags: the selection, each output (Zarr, images, video), the stack and the run.

use clap::Args;

use super::{ExecArgs, GuardArgs, ShareArgs, Target};

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
