//! The storage under a [`super::ZarrSink`]: zarrs' filesystem store, except that writing a key
//! does not `fsync` it. The sink syncs chunk files on its own syncer threads before creating
//! their markers, so rendering threads never wait for the disk.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zarrs::filesystem::FilesystemStore;
use zarrs::storage::byte_range::ByteRangeIterator;
use zarrs::storage::{
    Bytes, MaybeBytesIterator, OffsetBytesIterator, ReadableStorageTraits, StorageError, StoreKey,
    StorePrefix, WritableStorageTraits,
};

/// A filesystem store whose `set` writes without syncing (reads, erases and partial writes are
/// zarrs' [`FilesystemStore`]).
#[derive(Debug)]
pub(crate) struct ChunkStore {
    base: PathBuf,
    fs: FilesystemStore,
}

impl ChunkStore {
    pub(crate) fn new(base: &Path) -> Result<ChunkStore, String> {
        let fs = FilesystemStore::new(base).map_err(|e| e.to_string())?;
        Ok(ChunkStore {
            base: base.to_path_buf(),
            fs,
        })
    }

    /// The file of `key`.
    pub(crate) fn path(&self, key: &StoreKey) -> PathBuf {
        self.base.join(key.as_str())
    }
}

fn io_err(e: io::Error) -> StorageError {
    StorageError::IOError(Arc::new(e))
}

impl ReadableStorageTraits for ChunkStore {
    fn get_partial_many<'a>(
        &'a self,
        key: &StoreKey,
        byte_ranges: ByteRangeIterator<'a>,
    ) -> Result<MaybeBytesIterator<'a>, StorageError> {
        self.fs.get_partial_many(key, byte_ranges)
    }

    fn size_key(&self, key: &StoreKey) -> Result<Option<u64>, StorageError> {
        self.fs.size_key(key)
    }

    fn supports_get_partial(&self) -> bool {
        self.fs.supports_get_partial()
    }
}

impl WritableStorageTraits for ChunkStore {
    fn set(&self, key: &StoreKey, value: Bytes) -> Result<(), StorageError> {
        let path = self.path(key);
        if let Some(parent) = path.parent()
            && !parent.is_dir()
        {
            fs::create_dir_all(parent).map_err(io_err)?;
        }
        fs::write(&path, &value).map_err(io_err)
    }

    fn set_partial_many(
        &self,
        key: &StoreKey,
        offset_values: OffsetBytesIterator,
    ) -> Result<(), StorageError> {
        self.fs.set_partial_many(key, offset_values)
    }

    fn erase(&self, key: &StoreKey) -> Result<(), StorageError> {
        self.fs.erase(key)
    }

    fn erase_prefix(&self, prefix: &StorePrefix) -> Result<(), StorageError> {
        self.fs.erase_prefix(prefix)
    }

    fn supports_set_partial(&self) -> bool {
        false
    }
}
