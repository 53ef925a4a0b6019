//! One writer per store: an OS file lock (`flock`) on the array directory itself, held for the
//! life of a sink. No lock file is left behind (the lock dies with the process, even on
//! `kill -9`).

use std::fs::{File, TryLockError};
use std::path::Path;

use super::Writers;
use crate::SinkError;

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(super) struct StoreLock {
    _dir: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub(super) enum LockRefused {
    /// Another process holds a conflicting lock.
    Busy,
    /// The directory cannot be opened.
    Error(SinkError),
}

/// Takes the lock on `dir` for `writers` without waiting. A file system that does not support
/// `flock` on directories (some network file systems) gives `Ok(None)`: the store is then
/// written without the guard, as before locks existed (documented in docs/contracts.md).
pub(super) fn lock_dir(dir: &Path, writers: Writers) -> Result<Option<StoreLock>, LockRefused> {
    let file = File::open(dir)
        .map_err(|e| LockRefused::Error(SinkError::io("open for locking", dir, e)))?;
    let taken = match writers {
        Writers::Sole => file.try_lock(),
        Writers::Shared => file.try_lock_shared(),
    };
    match taken {
        Ok(()) => Ok(Some(StoreLock { _dir: file })),
        Err(TryLockError::WouldBlock) => Err(LockRefused::Busy),
        Err(TryLockError::Error(_)) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sole_excludes_everyone_shared_excludes_sole() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sole = lock_dir(d, Writers::Sole).unwrap().unwrap();
        assert!(matches!(lock_dir(d, Writers::Sole), Err(LockRefused::Busy)));
        assert!(matches!(
            lock_dir(d, Writers::Shared),
            Err(LockRefused::Busy)
        ));
        drop(sole);
        let a = lock_dir(d, Writers::Shared).unwrap().unwrap();
        let b = lock_dir(d, Writers::Shared).unwrap().unwrap();
        assert!(matches!(lock_dir(d, Writers::Sole), Err(LockRefused::Busy)));
        drop((a, b));
        assert!(lock_dir(d, Writers::Sole).unwrap().is_some());
        assert!(matches!(
            lock_dir(&d.join("missing"), Writers::Sole),
            Err(LockRefused::Error(SinkError::Io { .. }))
        ));
    }
}
