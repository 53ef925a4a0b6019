//! Small file-system helpers: atomic replace, directory sync.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::SinkError;
use crate::output::Staged;

/// The temporary name used while `path` is being written (same directory, so `rename` is atomic).
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write a file through a temporary name and rename it into place, so that `path` either keeps
/// its old content or gets the complete new one, never a prefix. With `durable`, the file and its
/// directory are synced before returning (survives power loss, not only a killed process).
/// `path` is checked first ([`crate::output::check_file_output`]): a device, FIFO or socket is
/// refused, a symlink is followed to its regular file.
pub(crate) fn write_atomic<F>(path: &Path, durable: bool, fill: F) -> Result<(), SinkError>
where
    F: FnOnce(&mut BufWriter<&File>) -> Result<(), SinkError>,
{
    let (file, staged) = Staged::create(path)?;
    {
        let mut w = BufWriter::new(&file);
        fill(&mut w)?;
        w.flush().map_err(|e| SinkError::io("write", path, e))?;
    }
    staged.commit(durable.then_some(&file))
}

/// `fsync` a directory so that entries created in it (files, subdirectories) are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| SinkError::io("sync directory", dir, e))
}

/// Create `dir` (and parents); a clear error names the directory.
pub(crate) fn create_dir_all(dir: &Path) -> Result<(), SinkError> {
    fs::create_dir_all(dir).map_err(|e| SinkError::io("create directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, true, |w| {
            w.write_all(b"one").unwrap();
            Ok(())
        })
        .unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one");
        let err = write_atomic(&p, false, |w| {
            w.write_all(b"partial").unwrap();
            Err(SinkError::invalid("test", 1, "2"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"one", "old content kept");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temporary file removed");
    }
}
