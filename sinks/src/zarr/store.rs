//! The storage under a [`super::ZarrSink`]: zarrs' filesystem store, except that writing a key
//! does not `fsync` it (the sink syncs unit files on its own syncer threads, so rendering
//! threads never wait for the disk) and records each written file's length and CRC-32C for its
//! completion marker.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::markers::UnitRecord;
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
    /// What `set` wrote per key, until the sink takes it for the unit's marker.
    written: Mutex<HashMap<String, UnitRecord>>,
}

impl ChunkStore {
    pub(crate) fn new(base: &Path) -> Result<ChunkStore, String> {
        let fs = FilesystemStore::new(base).map_err(|e| e.to_string())?;
        Ok(ChunkStore {
            base: base.to_path_buf(),
            fs,
            written: Mutex::new(HashMap::new()),
        })
    }

    /// The record of what the last `set` of `key` wrote (`None` if nothing was written since
    /// the last call: zarrs erased the key, a unit equal to the fill value).
    pub(crate) fn take_record(&self, key: &StoreKey) -> Option<UnitRecord> {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key.as_str())
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
        fs::write(&path, &value).map_err(io_err)?;
        let record = UnitRecord::of(Some(&value));
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.as_str().to_string(), record);
        Ok(())
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
