//! Before a run creates anything: every check that can refuse it. The memory each job needs
//! (the engine's own checks), the sizes each frame sink accepts, the output paths (no device,
//! FIFO or socket is ever replaced), and the guard on how much the run would write.

use std::fmt;
use std::path::Path;

use zoomstack_engine::{Executor, format_bytes};
use zoomstack_sinks::{
    ApngWriter, ContactSheet, GifWriter, SinkError, StoreValues, VideoEncoder, ZarrSink,
    check_dir_output, check_file_output, is_stdout,
};

use crate::error::RunError;
use crate::jobs::{FrameTarget, Job};
use crate::run::{Pipeline, RunOptions, Share, resolve};
use crate::spec::{AnimationFormat, FrameKind};
use crate::store::{check_store, constant_units};

/// Default of [`Limits::max_files`].
pub const DEFAULT_MAX_FILES: u64 = 10_000;
/// Default of [`Limits::max_bytes`]: 20 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 20 << 30;

/// The guard on what one run may write without an explicit confirmation (the CLI's `--yes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most files (frames, animation files, Zarr write units and their completion markers).
    pub max_files: u64,
    /// Most bytes, counted as the raw uncompressed size (an upper bound of what lands on disk;
    /// a video counts its encoder's generous estimate, [`zoomstack_sinks::VideoFormat::estimated_bytes`]).
    pub max_bytes: u64,
}

impl Default for Limits {
    /// 10000 files, 20 GiB.
    fn default() -> Self {
        Limits {
            max_files: DEFAULT_MAX_FILES,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// What one sink would write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkEstimate {
    /// The sink's label.
    pub sink: String,
    /// Files created or replaced (0 for standard output and for sinks this share skips).
    pub files: u64,
    /// Raw uncompressed bytes: an upper bound (PNG, zstd and GIF compress), except for Zarr
    /// write units proven constant, counted at the size the store gives them, and for a video,
    /// its encoder's estimate ([`zoomstack_sinks::VideoFormat::estimated_bytes`]).
    pub bytes: u64,
    /// Of the Zarr write units counted, those proven constant: stored without rendering, in
    /// their small representation (a shard's one encoded chunk and its index), whose size
    /// [`ZarrSink::constant_unit_bytes`] gives.
    pub constant_units: u64,
    /// `true` when `bytes` is a video encoder's estimate, not a raw size.
    pub encoded: bool,
}

impl fmt::Display for SinkEstimate {
    /// `sink: N files, B` and the proven-constant units, if any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} files, {}",
            self.sink,
            self.files,
            format_bytes(self.bytes)
        )?;
        if self.constant_units > 0 {
            write!(
                f,
                " ({} write units proven constant, stored without rendering)",
                self.constant_units
            )?;
        }
        Ok(())
    }
}

/// What a run would write, sink by sink ([`Pipeline::estimate`]). Counts are upper bounds: a
/// resumed Zarr store rewrites only its missing units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Estimate {
    /// One entry per sink, in spec order.
    pub sinks: Vec<SinkEstimate>,
}

impl Estimate {
    /// Files over all sinks.
    #[must_use]
    pub fn files(&self) -> u64 {
        self.sinks
            .iter()
            .map(|s| s.files)
            .fold(0, u64::saturating_add)
    }

    /// Raw uncompressed bytes over all sinks.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.sinks
            .iter()
            .map(|s| s.bytes)
            .fold(0, u64::saturating_add)
    }

    /// How [`Estimate::bytes`] counts, for messages: raw sizes (an upper bound), the stored
    /// size of proven-constant units and a video encoder's estimate when there are any.
    #[must_use]
    pub fn basis(&self) -> String {
        let mut basis = String::from("raw uncompressed size, an upper bound");
        if self.sinks.iter().any(|s| s.constant_units > 0) {
            basis.push_str("; proven-constant write units at their stored size");
        }
        if self.sinks.iter().any(|s| s.encoded) {
            basis.push_str("; videos estimated from their quality setting");
        }
        basis
    }

    /// `true` when the run would write more files or bytes than `limits` allow.
    #[must_use]
    pub fn exceeds(&self, limits: &Limits) -> bool {
        self.files() > limits.max_files || self.bytes() > limits.max_bytes
    }
}

impl fmt::Display for Estimate {
    /// `about N files, at most B raw` and one indented line per sink.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files, at most {} ({})",
            self.files(),
            format_bytes(self.bytes()),
            self.basis()
        )?;
        for s in &self.sinks {
            write!(f, "\n  {s}")?;
        }
        Ok(())
    }
}

/// Files and bytes one frame sink writes for `frames` frames of `height x width` pixels: raw
/// bytes (an upper bound) for images, the encoder's estimate for a video.
fn frame_sink_estimate(t: &FrameTarget, frames: u64, height: u64, width: u64) -> (u64, u64) {
    let raw = frames.saturating_mul(height.saturating_mul(width));
    let (files, bytes) = match &t.kind {
        FrameKind::Png { colouring, .. } => (
            frames,
            raw.saturating_mul(if colouring.colormap().is_gray() { 1 } else { 3 }),
        ),
        FrameKind::Png16 { .. } => (frames, raw.saturating_mul(2)),
        // A GIF and an APNG of counts hold palette indices; an APNG of smooth colours RGB.
        FrameKind::Animation { format, options } => {
            let c = options.colouring;
            let rgb = *format == AnimationFormat::Apng && c.is_smooth() && !c.colormap().is_gray();
            (1, raw.saturating_mul(if rgb { 3 } else { 1 }))
        }
        FrameKind::ContactSheet(_) => (1, raw.saturating_mul(3)),
        FrameKind::Video(v) => {
            let bytes = v
                .options
                .check(&t.path, width as usize, height as usize)
                .map_or(raw.saturating_mul(3), |f| {
                    f.estimated_bytes(&v.options, frames)
                });
            (1, bytes)
        }
    };
    let files = if is_stdout(&t.path) { 0 } else { files };
    (files, bytes)
}

impl Pipeline {
    /// What a run of `share` would write: per sink, files (a PNG per frame, one file per
    /// animation or sheet, two per Zarr write unit: the unit and its completion marker) and
    /// raw uncompressed bytes (an upper bound), except that Zarr write units proven constant
    /// count the bytes the store writes for them ([`ZarrSink::constant_unit_bytes`]) and a
    /// video its encoder's estimate from its quality setting. Frame sinks count only in share
    /// 0. Finding the proven-constant units runs the kernel's proof search once per stack and
    /// process (exact contract only).
    #[must_use]
    pub fn estimate(&self, share: Share) -> Estimate {
        let mut sinks: Vec<Option<SinkEstimate>> = vec![None; self.spec().sinks.len()];
        for job in self.jobs() {
            match job {
                Job::Frames(f) => {
                    let [n, h, w] = f.plan.shape();
                    for t in &f.sinks {
                        let (files, bytes) = if share.count > 1 && share.index != 0 {
                            (0, 0)
                        } else {
                            frame_sink_estimate(t, n, h, w)
                        };
                        sinks[t.who.index] = Some(SinkEstimate {
                            sink: t.who.label.clone(),
                            files,
                            bytes,
                            constant_units: 0,
                            encoded: matches!(t.kind, FrameKind::Video(_)),
                        });
                    }
                }
                Job::Zarr(z) => {
                    let (mut files, mut bytes, mut constant_total) = (0u64, 0u64, 0u64);
                    for d in &z.datasets {
                        let units = d.plan.num_tiles();
                        let mine = share.owned_in(0..units);
                        files = files.saturating_add(mine.saturating_mul(2));
                        // At most a whole unit's bytes per unit owned (edge units are smaller).
                        let unit_bytes = d
                            .plan
                            .chunks()
                            .iter()
                            .fold(d.desc.values.bytes(), |b, &c| b.saturating_mul(c as u64));
                        // Proven-constant units at the size the store gives them.
                        let (constant, constant_bytes) = match constant_units(d) {
                            Some(c) => {
                                let n = share.owned_in(c.tiles());
                                let each = ZarrSink::constant_unit_bytes(
                                    &d.desc,
                                    z.spec.compression,
                                    c.count(),
                                )
                                .unwrap_or(unit_bytes);
                                (n, n.saturating_mul(each))
                            }
                            None => (0, 0),
                        };
                        let raw = mine
                            .saturating_sub(constant)
                            .saturating_mul(unit_bytes)
                            .min(d.desc.bytes());
                        bytes = bytes.saturating_add(raw).saturating_add(constant_bytes);
                        constant_total = constant_total.saturating_add(constant);
                    }
                    sinks[z.who.index] = Some(SinkEstimate {
                        sink: z.who.label.clone(),
                        files,
                        bytes,
                        constant_units: constant_total,
                        encoded: false,
                    });
                }
            }
        }
        Estimate {
            sinks: sinks.into_iter().flatten().collect(),
        }
    }

    /// Every check that can refuse a run of `opts`, without creating anything: the share, the
    /// engine's memory check of every job ([`Executor::check_tiles`],
    /// [`Executor::check_frames`]), the sizes frame sinks accept, the output paths (a device,
    /// FIFO, socket or dangling symlink is refused) and, with [`RunOptions::guard`], the
    /// amount written. [`Pipeline::run`] calls it before its first job. Returns the estimate.
    ///
    /// # Errors
    ///
    /// [`RunError::Usage`] for a spec without sinks or an invalid share, [`RunError::Engine`]
    /// for a job above the memory limit, [`RunError::Sink`] for a size a sink cannot write or
    /// an output path it must not replace, [`RunError::TooMuchOutput`] above the guard.
    pub fn preflight(&self, opts: &RunOptions) -> Result<Estimate, RunError> {
        if self.spec().sinks.is_empty() {
            return Err(RunError::Usage(
                "the spec has no [[sink]] table: nothing to write (add e.g. [[sink]] kind = \"png\")"
                    .to_string(),
            ));
        }
        let share = opts.share;
        if share.count == 0 || share.index >= share.count {
            return Err(RunError::Usage(format!(
                "share index {} must be below the share count {}",
                share.index, share.count
            )));
        }
        let exec = Executor::new(opts.threads).with_memory_limit(opts.memory_limit);
        for job in self.jobs() {
            match job {
                Job::Frames(f) => {
                    if share.count > 1 && share.index != 0 {
                        continue;
                    }
                    let names: Vec<&str> = f.sinks.iter().map(|t| t.who.label.as_str()).collect();
                    exec.check_frames(&f.plan)
                        .map_err(|e| RunError::engine(&names.join(", "), e))?;
                    for t in &f.sinks {
                        check_frame_target(t, &f.plan.shape(), &opts.out_dir).map_err(|e| {
                            RunError::Sink {
                                sink: t.who.label.clone(),
                                error: e,
                            }
                        })?;
                    }
                }
                Job::Zarr(z) => {
                    for d in &z.datasets {
                        match d.desc.values {
                            StoreValues::Counts => exec.check_tiles_of::<u16>(&d.plan),
                            StoreValues::Smooth => exec.check_tiles_of::<f32>(&d.plan),
                        }
                        .map_err(|e| RunError::engine(&z.who.label, e))?;
                    }
                    check_dir_output(&resolve(&opts.out_dir, &z.path)).map_err(|e| {
                        RunError::Sink {
                            sink: z.who.label.clone(),
                            error: e,
                        }
                    })?;
                    check_store(z, opts, share.count > 1)?;
                }
            }
        }
        let estimate = self.estimate(share);
        if let Some(limits) = opts.guard
            && estimate.exceeds(&limits)
        {
            return Err(RunError::TooMuchOutput { estimate, limits });
        }
        Ok(estimate)
    }
}

/// The checks a frame sink's writer makes when it opens, made without opening it.
fn check_frame_target(t: &FrameTarget, shape: &[u64; 3], out_dir: &Path) -> Result<(), SinkError> {
    let path = resolve(out_dir, &t.path);
    let [n, h, w] = *shape;
    let (h, w) = (
        usize::try_from(h).unwrap_or(usize::MAX),
        usize::try_from(w).unwrap_or(usize::MAX),
    );
    match &t.kind {
        FrameKind::Png { colouring, .. } => {
            colouring.validate()?;
            check_dir_output(&path)
        }
        FrameKind::Video(v) => {
            VideoEncoder::preflight(&path, w, h, &v.options)?;
            check_file_output(&path).map(|_| ())
        }
        FrameKind::Png16 { .. } => check_dir_output(&path),
        FrameKind::Animation { format, options } => {
            match format {
                AnimationFormat::Gif => GifWriter::check(w, h, options).map(|_| ())?,
                AnimationFormat::Apng => ApngWriter::check(w, h, n, options).map(|_| ())?,
            }
            check_file_output(&path).map(|_| ())
        }
        // Creating a sheet checks its options and path and writes nothing until `finish`.
        FrameKind::ContactSheet(o) => ContactSheet::new(&path, *o).map(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::parse_str;

    fn pipeline(text: &str) -> Pipeline {
        Pipeline::new(parse_str("t.toml", text).unwrap()).unwrap()
    }

    #[test]
    fn estimates_count_frames_units_and_markers() {
        let p = pipeline(
            r#"
            [stack]
            levels = 100
            height = 32
            width = 32
            [[sink]]
            kind = "png"
            select = "[::10]"
            colormap = "viridis"
            [[sink]]
            kind = "animation"
            path = "a.gif"
            select = "[::10]"
            [[sink]]
            kind = "zarr"
            select = "[::10]"
            shards = [4, 32, 32]
            "#,
        );
        let e = p.estimate(Share::ALL);
        let files: Vec<u64> = e.sinks.iter().map(|s| s.files).collect();
        let bytes: Vec<u64> = e.sinks.iter().map(|s| s.bytes).collect();
        // 10 frames: 10 RGB PNGs, 1 GIF, 3 shards + 3 markers.
        assert_eq!(files, [10, 1, 6]);
        assert_eq!(bytes, [10 * 1024 * 3, 10 * 1024, 10 * 1024 * 2]);
        assert!(e.exceeds(&Limits {
            max_files: 16,
            max_bytes: u64::MAX
        }));
        assert!(!e.exceeds(&Limits {
            max_files: 17,
            max_bytes: e.bytes()
        }));
        // Share 1 of 2: no frame sinks; shards 1 of 0, 1, 2.
        let e = p.estimate(Share { index: 1, count: 2 });
        let files: Vec<u64> = e.sinks.iter().map(|s| s.files).collect();
        assert_eq!(files, [0, 0, 2]);
        let text = e.to_string();
        assert!(
            text.contains("(zarr -> zoomstack.zarr): 2 files, 8.00 kiB"),
            "{text}"
        );
    }

    #[test]
    fn a_film_is_estimated_from_its_quality_not_as_raw_frames() {
        // The README's film: 3600 frames of 1080p. Raw RGB is 20.9 GiB, above the default
        // 20 GiB guard; H.264 at CRF 18 is estimated at one bit a pixel (0.87 GiB).
        let film = |extra: &str| {
            pipeline(&format!(
                r#"
                [stack]
                height = 1080
                width = 1920
                [[sink]]
                kind = "video"
                fps = 60
                duration = 60
                levels = [0, 119999]
                {extra}
                "#
            ))
        };
        let e = film("path = \"film.mp4\"").estimate(Share::ALL);
        assert_eq!(e.sinks[0].files, 1);
        let pixels = 3600 * 1920 * 1080u64;
        assert!(e.bytes() >= pixels / 8 && e.bytes() < pixels / 4, "{e}");
        assert!(!e.exceeds(&Limits::default()), "{e}");
        // Lossless counts raw frames, which the default guard refuses.
        let e = film("lossless = true\npath = \"film.mkv\"").estimate(Share::ALL);
        assert_eq!(e.bytes(), pixels * 3);
        assert!(e.exceeds(&Limits::default()), "{e}");
    }

    #[test]
    fn the_guard_and_the_memory_check_refuse_before_anything_exists() {
        let dir = tempfile::tempdir().unwrap();
        let p = pipeline(
            "[stack]\nlevels = 100\nheight = 8\nwidth = 8\n[[sink]]\nkind = \"png\"\n[[sink]]\nkind = \"zarr\"\n",
        );
        let opts = RunOptions {
            out_dir: dir.path().to_path_buf(),
            guard: Some(Limits {
                max_files: 99,
                ..Limits::default()
            }),
            ..RunOptions::default()
        };
        let err = p.preflight(&opts).unwrap_err();
        assert!(matches!(err, RunError::TooMuchOutput { .. }), "{err}");
        assert!(err.is_user_error());
        assert!(err.to_string().contains("300 files"), "{err}");
        let big = pipeline(
            "[stack]\nlevels = 100\n[[sink]]\nkind = \"png\"\n[[sink]]\nkind = \"zarr\"\nchunks = [100, 512, 512]\n",
        );
        let opts = RunOptions {
            out_dir: dir.path().to_path_buf(),
            threads: 128,
            ..RunOptions::default()
        };
        let err = big.preflight(&opts).unwrap_err();
        assert!(err.to_string().contains("memory limit"), "{err}");
        assert!(err.is_user_error());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
