//! [`VideoEncoder`]: RGB frames piped into an `ffmpeg` subprocess that writes a temporary file
//! next to the target (renamed into place when ffmpeg succeeded) or standard output.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;

use super::args::{encoder_name, ffmpeg_args};
use super::{VideoFormat, VideoOptions};
use crate::SinkError;
use crate::output::Staged;

/// The environment variable that names the ffmpeg program to run (default: `ffmpeg` on `PATH`).
pub const FFMPEG_ENV: &str = "ZOOMSTACK_FFMPEG";

/// How much of ffmpeg's standard error is kept for error messages (its end).
const STDERR_TAIL: usize = 4096;

const INSTALL_HINT: &str = "install it with `apt-get install ffmpeg` (Debian/Ubuntu; other \
     systems: https://ffmpeg.org/download.html) or set ZOOMSTACK_FFMPEG to the ffmpeg program";

/// A video being encoded by ffmpeg: push `width x height` RGB frames, then
/// [`VideoEncoder::finish`]. The file appears under its final name only when ffmpeg succeeded;
/// dropped before that, the encoder kills ffmpeg and removes the temporary file.
///
/// ffmpeg reads the frames through a pipe (rawvideo `rgb24`), so memory is a frame plus the
/// encoder's lookahead, whatever the length. Its standard error is drained by a thread that
/// keeps the last 4 KiB for [`SinkError::EncoderFailed`].
#[derive(Debug)]
pub struct VideoEncoder {
    program: PathBuf,
    path: PathBuf,
    format: VideoFormat,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    staged: Option<Staged>,
    frames: u64,
}

impl VideoEncoder {
    /// Starts ffmpeg to write a video of `width x height` frames at `path` (`-`: standard
    /// output) with `options`. The program is `$ZOOMSTACK_FFMPEG` or `ffmpeg` on `PATH`.
    ///
    /// # Errors
    ///
    /// The errors of [`VideoOptions::check`] and of [`crate::check_file_output`];
    /// [`SinkError::EncoderUnavailable`] when ffmpeg cannot be run or lacks the codec's encoder
    /// (the message says how to install it); a file-system error when the temporary file
    /// cannot be created.
    pub fn create(
        path: impl AsRef<Path>,
        width: usize,
        height: usize,
        options: &VideoOptions,
    ) -> Result<VideoEncoder, SinkError> {
        let path = path.as_ref().to_path_buf();
        let format = VideoEncoder::preflight(&path, width, height, options)?;
        let program = ffmpeg_program();
        let staged = if format.stdout {
            crate::output::check_file_output(&path)?;
            None
        } else {
            let (file, staged) = Staged::create(&path)?;
            drop(file);
            Some(staged)
        };
        let args = ffmpeg_args(
            &format,
            options,
            staged.as_ref().map(|s| s.tmp().as_os_str()),
        );
        if format.stdout {
            // Whatever the caller printed must come before the video.
            io::stdout()
                .flush()
                .map_err(|e| SinkError::io("flush", &path, e))?;
        }
        let mut child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(if format.stdout {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C reaches this process, which decides (and kills).
            .process_group(0)
            .spawn()
            .map_err(|e| unavailable(&program, &e))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().map(|err| {
            std::thread::Builder::new()
                .name("ffmpeg-stderr".into())
                .spawn(move || drain_tail(err))
        });
        let stderr = match stderr.transpose() {
            Ok(s) => s,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SinkError::io("start a thread for", &path, e));
            }
        };
        Ok(VideoEncoder {
            program,
            path,
            format,
            child: Some(child),
            stdin,
            stderr,
            staged,
            frames: 0,
        })
    }

    /// The checks of [`VideoEncoder::create`] that write nothing: the options
    /// ([`VideoOptions::check`]) and an ffmpeg that runs and has the codec's encoder. Run it
    /// before rendering, so a missing encoder stops a run before any work.
    ///
    /// # Errors
    ///
    /// The errors of [`VideoOptions::check`]; [`SinkError::EncoderUnavailable`].
    pub fn preflight(
        path: &Path,
        width: usize,
        height: usize,
        options: &VideoOptions,
    ) -> Result<VideoFormat, SinkError> {
        let format = options.check(path, width, height)?;
        check_encoder(
            &ffmpeg_program(),
            encoder_name(format.codec, options.lossless),
        )?;
        Ok(format)
    }

    /// What is being written (container, codec, fps, size, padding).
    pub fn format(&self) -> &VideoFormat {
        &self.format
    }

    /// The encoded size when it differs from the frames' (odd sides padded to even for 4:2:0
    /// chroma, black on the right and bottom), so the caller can say so.
    pub fn padded(&self) -> Option<(usize, usize)> {
        self.format.padded
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Sends one frame: `width * height * 3` bytes, row-major RGB.
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] for data of another length (nothing sent);
    /// [`SinkError::EncoderFailed`] when ffmpeg stopped reading (it failed: its standard error
    /// is in the message). After that error the encoder is stopped and leaves no file.
    pub fn push_rgb(&mut self, rgb: &[u8]) -> Result<(), SinkError> {
        let (w, h) = self.format.size;
        if rgb.len() != w * h * 3 {
            return Err(SinkError::invalid(
                "video frame data length",
                rgb.len(),
                format!("expected {w} x {h} x 3 = {} bytes (RGB)", w * h * 3),
            ));
        }
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(SinkError::invalid(
                "video encoder state",
                "stopped",
                "no frame after an encoder error",
            ));
        };
        if let Err(e) = stdin.write_all(rgb) {
            return Err(self.stop(&format!("it stopped reading frames: {e}")));
        }
        self.frames += 1;
        Ok(())
    }

    /// Closes ffmpeg's input, waits for it, and moves the file into place (synced).
    /// Returns the path given (`-` for standard output).
    ///
    /// # Errors
    ///
    /// [`SinkError::InvalidParameter`] when no frame was pushed; [`SinkError::EncoderFailed`]
    /// when ffmpeg exits unsuccessfully; a file-system error when the file cannot be synced or
    /// renamed. The target is left as it was in every case.
    pub fn finish(mut self) -> Result<PathBuf, SinkError> {
        if self.frames == 0 {
            return Err(SinkError::invalid(
                "video frame count",
                0,
                "expected at least 1 frame",
            ));
        }
        drop(self.stdin.take());
        let status = self.wait()?;
        if !status.success() {
            return Err(self.failed(&status.to_string()));
        }
        if let Some(staged) = self.staged.take() {
            let file =
                File::open(staged.tmp()).map_err(|e| SinkError::io("open", staged.tmp(), e))?;
            staged.commit(Some(&file))?;
        }
        Ok(self.path.clone())
    }

    fn wait(&mut self) -> Result<ExitStatus, SinkError> {
        let Some(mut child) = self.child.take() else {
            return Err(SinkError::invalid(
                "video encoder state",
                "stopped",
                "a running encoder",
            ));
        };
        child
            .wait()
            .map_err(|e| SinkError::io("wait for ffmpeg writing", &self.path, e))
    }

    /// ffmpeg failed while being fed: wait for it (it has exited or is exiting) and describe
    /// it.
    fn stop(&mut self, why: &str) -> SinkError {
        drop(self.stdin.take());
        let status = match self.wait() {
            Ok(s) => format!("{why}; {s}"),
            Err(e) => format!("{why}; {e}"),
        };
        self.failed(&status)
    }

    /// The error for a failed ffmpeg; the temporary file is removed at once.
    fn failed(&mut self, status: &str) -> SinkError {
        drop(self.staged.take());
        let tail = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        SinkError::EncoderFailed {
            program: self.program.clone(),
            path: self.path.clone(),
            status: status.into(),
            stderr: String::from_utf8_lossy(&tail).trim_end().into(),
        }
    }
}

impl Drop for VideoEncoder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // `staged` (if still held) removes the temporary file.
    }
}

/// `$ZOOMSTACK_FFMPEG`, else `ffmpeg` (looked up on `PATH` when started).
fn ffmpeg_program() -> PathBuf {
    std::env::var_os(FFMPEG_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("ffmpeg"), PathBuf::from)
}

fn unavailable(program: &Path, err: &io::Error) -> SinkError {
    SinkError::EncoderUnavailable {
        program: program.to_path_buf(),
        problem: format!("ffmpeg not found or not runnable ({err})"),
        hint: INSTALL_HINT.to_string(),
    }
}

/// Runs `ffmpeg -encoders` and checks that `encoder` is listed (nothing to check for raw
/// video; the run also shows that ffmpeg starts at all).
fn check_encoder(program: &Path, encoder: Option<&str>) -> Result<(), SinkError> {
    let out = Command::new(program)
        .args(["-hide_banner", "-encoders"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| unavailable(program, &e))?;
    if !out.status.success() {
        return Err(SinkError::EncoderUnavailable {
            program: program.to_path_buf(),
            problem: format!("`ffmpeg -encoders` failed ({})", out.status),
            hint: INSTALL_HINT.to_string(),
        });
    }
    let Some(encoder) = encoder else {
        return Ok(());
    };
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(encoder));
    if listed {
        Ok(())
    } else {
        Err(SinkError::EncoderUnavailable {
            program: program.to_path_buf(),
            problem: format!("this ffmpeg has no {encoder} encoder"),
            hint: format!(
                "install an ffmpeg built with it (Debian/Ubuntu's `apt-get install ffmpeg` has \
                 libx264, libvpx-vp9, libsvtav1 and ffv1), or choose another codec; {FFMPEG_ENV} \
                 names the program to run"
            ),
        })
    }
}

/// Reads `r` to its end, keeping the last [`STDERR_TAIL`] bytes.
fn drain_tail(mut r: impl Read) -> Vec<u8> {
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    let mut buf = [0u8; 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                for &b in &buf[..n] {
                    if tail.len() == STDERR_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(b);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    tail.into()
}
