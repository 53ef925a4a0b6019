//! Options and reports of a store: compression, what to do with an existing array, counters.

use std::path::PathBuf;
use std::sync::Arc;

use crate::SinkError;

/// Compression of the chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Raw little-endian bytes.
    None,
    /// zstd at `level` (-7..=22; 3 is zstd's default, 0 means default too).
    Zstd {
        /// Compression level.
        level: i32,
    },
    /// Blosc with zstd at `level` (0..=9) and byte shuffle (needs this crate's `blosc` feature).
    #[cfg(feature = "blosc")]
    BloscZstd {
        /// Compression level.
        level: u8,
    },
}

impl Default for Compression {
    /// zstd level 3.
    fn default() -> Self {
        Compression::Zstd { level: 3 }
    }
}

impl Compression {
    /// The bytes-to-bytes codecs of a new store's chunks: the compression, then a `crc32c`
    /// checksum of the compressed bytes, which zarrs and zarr-python verify on every read.
    pub(super) fn codecs(
        self,
    ) -> Result<Vec<Arc<dyn zarrs::array::BytesToBytesCodecTraits>>, SinkError> {
        let mut codecs = self.compression_codecs()?;
        codecs.push(Arc::new(zarrs::array::codec::Crc32cCodec::new()));
        Ok(codecs)
    }

    fn compression_codecs(
        self,
    ) -> Result<Vec<Arc<dyn zarrs::array::BytesToBytesCodecTraits>>, SinkError> {
        match self {
            Compression::None => Ok(vec![]),
            Compression::Zstd { level } => {
                if !(-7..=22).contains(&level) {
                    return Err(SinkError::invalid("zstd level", level, "expected -7..=22"));
                }
                Ok(vec![Arc::new(zarrs::array::codec::ZstdCodec::new(
                    level, false,
                ))])
            }
            #[cfg(feature = "blosc")]
            Compression::BloscZstd { level } => {
                use zarrs::array::codec::{
                    BloscCodec, BloscCompressionLevel, BloscCompressor, BloscShuffleMode,
                };
                let clevel = BloscCompressionLevel::try_from(level)
                    .map_err(|_| SinkError::invalid("blosc level", level, "expected 0..=9"))?;
                let codec = BloscCodec::new(
                    BloscCompressor::Zstd,
                    clevel,
                    None,
                    BloscShuffleMode::Shuffle,
                    Some(2),
                )
                .map_err(|e| SinkError::invalid("blosc codec", level, e))?;
                Ok(vec![Arc::new(codec)])
            }
        }
    }
}

/// What to do when the path already holds a zoomstack array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum IfExists {
    /// Resume it if its parameters match (else [`SinkError::ParameterMismatch`]).
    #[default]
    Resume,
    /// Fail with [`SinkError::AlreadyExists`].
    Fail,
    /// Delete the existing zoomstack array (never anything that is not one) and start afresh.
    Replace,
}

impl std::str::FromStr for IfExists {
    type Err = String;
    /// `resume`, `fail` or `replace`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "resume" => Ok(IfExists::Resume),
            "fail" => Ok(IfExists::Fail),
            "replace" => Ok(IfExists::Replace),
            other => Err(format!(
                "unknown if_exists {other:?}: expected \"resume\" (continue a store written with the same parameters), \"fail\" or \"replace\""
            )),
        }
    }
}

/// Who else may write the array while this sink has it open. The sink holds an OS file lock
/// (`flock`) on the array directory for its lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Writers {
    /// This process is the only writer (exclusive lock): any other writer is refused, and this
    /// sink is refused while any other holds the store.
    #[default]
    Sole,
    /// One of several writers of disjoint units (a share of a job array, a Dask task; shared
    /// lock): the array must exist already, and a [`Writers::Sole`] writer is refused meanwhile.
    Shared,
}

/// Options of a Zarr store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZarrOptions {
    /// Path of the array inside the store (`""` = the store root). Intermediate groups are
    /// created.
    pub array_path: String,
    /// Chunk compression.
    pub compression: Compression,
    /// Behaviour on an existing array.
    pub if_exists: IfExists,
    /// Sole writer or one of several.
    pub writers: Writers,
    /// On resume, re-read and check every unit that has a marker (as [`super::verify_store`]
    /// does) and rewrite the damaged ones; without it only the lengths recorded by the markers
    /// are checked (one `stat` per unit).
    pub verify: bool,
}

impl Default for ZarrOptions {
    /// Root array, zstd level 3, resume, sole writer, lengths checked.
    fn default() -> Self {
        ZarrOptions {
            array_path: String::new(),
            compression: Compression::default(),
            if_exists: IfExists::Resume,
            writers: Writers::Sole,
            verify: false,
        }
    }
}

/// Outcome of [`ZarrSink::finish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZarrReport {
    /// The array directory.
    pub array_dir: PathBuf,
    /// Write units of the array.
    pub units_total: u64,
    /// Units with a marker now.
    pub units_done: u64,
    /// Units that already had a marker when the store was opened (skipped).
    pub units_skipped: u64,
    /// Units written by this run.
    pub units_written: u64,
    /// Units that had a marker but were found damaged when the store was opened (a file
    /// missing or of another length than its marker records, or with `verify` a checksum or
    /// decoding failure): they are rendered again.
    pub units_damaged: u64,
    /// Raw bytes (`u16`, including edge padding) encoded by this run.
    pub raw_bytes_written: u64,
    /// `true` when every unit is written and the store says `complete: true`.
    pub complete: bool,
}

/// Progress counters of a [`ZarrSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZarrProgress {
    /// Write units of the array.
    pub units_total: u64,
    /// Units with a marker.
    pub units_done: u64,
    /// Units written by this run.
    pub units_written: u64,
}
