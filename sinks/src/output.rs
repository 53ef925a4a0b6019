//! Where file outputs go, checked before anything is written: a path that exists must be what
//! the sink writes (a regular file, or a directory of frames); a device, FIFO or socket is
//! refused and left untouched; a symlink is followed to the regular file it names (the file is
//! replaced atomically, the link kept) or refused. `-` is standard output for single-file
//! outputs (animations, contact sheets, later video).

use std::fs::{self, File, FileType};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::SinkError;
use crate::fsutil::{create_dir_all, sync_dir, temp_path};

/// The path that means standard output for a single-file output.
pub const STDOUT_PATH: &str = "-";

/// `true` for `-` (standard output). A file literally named `-` is written as `./-`.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT_PATH
}

/// What a directory entry is, in words (`a character device`, `a FIFO`, ...).
fn kind_name(ft: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else if ft.is_symlink() {
        "a symlink"
    } else {
        "not a regular file"
    }
}

fn refuse(path: &Path, what: String, expected: &'static str) -> SinkError {
    SinkError::UnsafeOutput {
        path: path.to_path_buf(),
        what,
        expected,
    }
}

/// Checks that a single-file output may be written at `path` and returns the file to replace:
/// `path` itself (absent, or a regular file), or the regular file a symlink at `path` names.
/// `-` is standard output, accepted unless it is a terminal.
///
/// # Errors
///
/// [`SinkError::UnsafeOutput`] when `path` (or what its symlink names) is a directory, a
/// device, a FIFO or a socket, or a symlink to nothing, or `-` while standard output is a
/// terminal; [`SinkError::Io`] when it cannot be inspected.
pub fn check_file_output(path: &Path) -> Result<PathBuf, SinkError> {
    const EXPECTED: &str = "a regular file or a path that does not exist";
    if is_stdout(path) {
        if io::stdout().is_terminal() {
            return Err(refuse(
                path,
                "standard output, which is a terminal (binary data would garble it)".to_string(),
                "standard output redirected to a file or a pipe",
            ));
        }
        return Ok(path.to_path_buf());
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(e) => return Err(SinkError::io("inspect", path, e)),
    };
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(path.to_path_buf());
    }
    if !ft.is_symlink() {
        return Err(refuse(path, kind_name(ft).to_string(), EXPECTED));
    }
    let target = match fs::canonicalize(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let to = fs::read_link(path).unwrap_or_default();
            return Err(refuse(
                path,
                format!("a symlink to {}, which does not exist", to.display()),
                EXPECTED,
            ));
        }
        Err(e) => return Err(SinkError::io("follow the symlink", path, e)),
    };
    let tft = fs::metadata(&target)
        .map_err(|e| SinkError::io("inspect", &target, e))?
        .file_type();
    if tft.is_file() {
        Ok(target)
    } else {
        Err(refuse(
            path,
            format!(
                "a symlink to {}, which is {}",
                target.display(),
                kind_name(tft)
            ),
            EXPECTED,
        ))
    }
}

/// Checks that `dir` may hold an output's files: absent, a directory, or a symlink to one.
///
/// # Errors
///
/// [`SinkError::UnsafeOutput`] when `dir` is anything else (a regular file, a device, a FIFO,
/// a socket, a symlink to one of them or to nothing); [`SinkError::Io`] when it cannot be
/// inspected.
pub fn check_dir_output(dir: &Path) -> Result<(), SinkError> {
    const EXPECTED: &str = "a directory or a path that does not exist";
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SinkError::io("inspect", dir, e)),
    };
    let ft = meta.file_type();
    if ft.is_dir() {
        return Ok(());
    }
    if !ft.is_symlink() {
        return Err(refuse(dir, kind_name(ft).to_string(), EXPECTED));
    }
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => Err(refuse(
            dir,
            format!("a symlink to {}", kind_name(m.file_type())),
            EXPECTED,
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(refuse(dir, "a symlink to nothing".to_string(), EXPECTED))
        }
        Err(e) => Err(SinkError::io("inspect", dir, e)),
    }
}

/// A file being written under a temporary name next to its target, renamed into place by
/// [`Staged::commit`]; dropped uncommitted, it removes the temporary file and leaves the target
/// as it was.
#[derive(Debug)]
pub(crate) struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    armed: bool,
}

impl Staged {
    /// Checks `path` ([`check_file_output`]), creates its parent directories and the
    /// temporary file, returned open for writing.
    pub(crate) fn create(path: &Path) -> Result<(File, Staged), SinkError> {
        let target = check_file_output(path)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_dir_all(dir)?;
        }
        let tmp = temp_path(&target);
        let file = File::create(&tmp).map_err(|e| SinkError::io("create file", &tmp, e))?;
        Ok((
            file,
            Staged {
                tmp,
                target,
                armed: true,
            },
        ))
    }

    /// The temporary file (for a writer that opens it itself, such as an ffmpeg subprocess).
    pub(crate) fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Moves the file into place. With `durable` (the file, still open), syncs it and then its
    /// directory.
    pub(crate) fn commit(mut self, durable: Option<&File>) -> Result<(), SinkError> {
        if let Some(file) = durable {
            file.sync_all()
                .map_err(|e| SinkError::io("sync", &self.tmp, e))?;
        }
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| SinkError::io("rename into place", &self.target, e))?;
        self.armed = false;
        if durable.is_some()
            && let Some(dir) = self.target.parent()
        {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A single-file output (an animation, a contact sheet, later a video): a checked file written
/// under a temporary name and renamed into place by [`FileOutput::commit`], or standard output
/// for `-`. [`FileOutput::create`] returns the writer and the commit handle apart, so an encoder
/// that consumes its writer (png's `Writer::finish`) can still be committed after it.
///
/// ```
/// use std::io::Write;
/// use zoomstack_sinks::FileOutput;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("out.gif");
/// let (mut w, out) = FileOutput::create(&path, "GIF")?;
/// w.write_all(b"GIF89a")?;
/// drop(w);
/// assert!(!path.exists(), "under its final name only once committed");
/// out.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"GIF89a");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    staged: Option<Staged>,
}

/// The writer of a [`FileOutput`] (unbuffered: wrap it in a `BufWriter`).
#[derive(Debug)]
pub struct OutputWriter(Inner);

#[derive(Debug)]
enum Inner {
    Stdout(io::Stdout),
    File(File),
}

impl FileOutput {
    /// Opens the output at `path` (`-`: standard output) for a `format` (`"GIF"`, ...; named
    /// in errors). Dropping the returned [`FileOutput`] without committing removes the
    /// temporary file.
    ///
    /// # Errors
    ///
    /// The errors of [`check_file_output`]; [`SinkError::UnsafeOutput`] when `-` is given and
    /// standard output is a terminal (binary data would garble it); a file-system error when
    /// the temporary file cannot be created.
    pub fn create(path: &Path, format: &str) -> Result<(OutputWriter, FileOutput), SinkError> {
        if is_stdout(path) {
            let out = io::stdout();
            if out.is_terminal() {
                return Err(refuse(
                    path,
                    format!("standard output, which is a terminal ({format} data would garble it)"),
                    "standard output redirected to a file or a pipe",
                ));
            }
            return Ok((
                OutputWriter(Inner::Stdout(out)),
                FileOutput {
                    path: path.to_path_buf(),
                    staged: None,
                },
            ));
        }
        let (file, staged) = Staged::create(path)?;
        Ok((
            OutputWriter(Inner::File(file)),
            FileOutput {
                path: path.to_path_buf(),
                staged: Some(staged),
            },
        ))
    }

    /// The path given (`-` for standard output).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `true` when writing to standard output.
    pub fn is_stdout(&self) -> bool {
        self.staged.is_none()
    }

    /// Moves the file into place (standard output: nothing to do). Call it after the writer
    /// was flushed and dropped.
    ///
    /// # Errors
    ///
    /// A file-system error when the file cannot be renamed into place.
    pub fn commit(self) -> Result<PathBuf, SinkError> {
        if let Some(s) = self.staged {
            s.commit(None)?;
        }
        Ok(self.path)
    }
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Inner::Stdout(s) => s.write(buf),
            Inner::File(f) => f.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            Inner::Stdout(s) => s.write_all(buf),
            Inner::File(f) => f.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Inner::Stdout(s) => s.flush(),
            Inner::File(f) => f.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_and_absent_paths_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.gif");
        assert_eq!(check_file_output(&p).unwrap(), p);
        fs::write(&p, b"old").unwrap();
        assert_eq!(check_file_output(&p).unwrap(), p);
        assert!(check_dir_output(&dir.path().join("frames")).is_ok());
        assert!(check_dir_output(dir.path()).is_ok());
        let err = check_dir_output(&p).unwrap_err().to_string();
        assert!(err.contains("is a regular file"), "{err}");
        let err = check_file_output(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_to_regular_files_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.gif");
        fs::write(&target, b"old").unwrap();
        let link = dir.path().join("link.gif");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (mut w, out) = FileOutput::create(&link, "GIF").unwrap();
        w.write_all(b"new").unwrap();
        drop(w);
        out.commit().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp file left"
        );

        let dangling = dir.path().join("dangling.gif");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        let err = FileOutput::create(&dangling, "GIF")
            .unwrap_err()
            .to_string();
        assert!(err.contains("which does not exist"), "{err}");
        let to_dir = dir.path().join("to-dir");
        std::os::unix::fs::symlink(dir.path(), &to_dir).unwrap();
        let err = check_file_output(&to_dir).unwrap_err().to_string();
        assert!(err.contains("which is a directory"), "{err}");
        assert!(check_dir_output(&to_dir).is_ok());
        let err = check_dir_output(&link).unwrap_err().to_string();
        assert!(err.contains("a symlink to a regular file"), "{err}");
    }

    /// Makes a FIFO and (as root) a character device `c 1 3` (`/dev/null`'s numbers) in `dir`.
    #[cfg(unix)]
    fn special_nodes(dir: &Path) -> Vec<(PathBuf, &'static str)> {
        use std::process::Command;
        let fifo = dir.join("fifo");
        let ok = Command::new("mkfifo").arg(&fifo).status();
        assert!(ok.is_ok_and(|s| s.success()), "mkfifo failed");
        let mut nodes = vec![(fifo, "a FIFO (named pipe)")];
        let dev = dir.join("null");
        let made = Command::new("mknod")
            .arg(&dev)
            .args(["c", "1", "3"])
            .stderr(std::process::Stdio::null())
            .status();
        if made.is_ok_and(|s| s.success()) {
            nodes.push((dev, "a character device"));
        } else {
            eprintln!("skipping the character device: mknod failed (not root?)");
        }
        nodes
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_and_left_intact() {
        use crate::{AnimationOptions, ApngWriter, ContactSheet, GifWriter, PngFrameWriter};
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        for (node, what) in special_nodes(dir.path()) {
            let name = node.file_name().unwrap().to_string_lossy();
            let link = dir.path().join(format!("link-to-{name}"));
            std::os::unix::fs::symlink(&node, &link).unwrap();
            let errors = [
                GifWriter::create(&node, 4, 4, AnimationOptions::default()).map(|_| ()),
                ApngWriter::create(&node, 4, 4, 1, AnimationOptions::default()).map(|_| ()),
                ContactSheet::new(&node, crate::ContactSheetOptions::default()).map(|_| ()),
                PngFrameWriter::new(&node, crate::PngFrameOptions::counts16(4)).map(|_| ()),
                GifWriter::create(&link, 4, 4, AnimationOptions::default()).map(|_| ()),
                PngFrameWriter::new(&link, crate::PngFrameOptions::counts16(4)).map(|_| ()),
            ];
            for e in errors {
                let e = e.unwrap_err();
                assert!(matches!(e, SinkError::UnsafeOutput { .. }), "{e:?}");
                assert!(e.to_string().contains(what), "{e}");
            }
            let ft = fs::symlink_metadata(&node).unwrap().file_type();
            assert!(
                ft.is_fifo() || ft.is_char_device(),
                "{} replaced",
                node.display()
            );
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
        }
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
    }

    #[test]
    fn an_uncommitted_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.png");
        let (mut w, out) = FileOutput::create(&p, "APNG").unwrap();
        w.write_all(b"partial").unwrap();
        drop((w, out));
        assert!(!p.exists());
        assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 0);
    }
}
