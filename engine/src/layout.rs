//! [`StoreLayout`]: how a stored array is cut into chunks and shards, and so which write unit
//! one writer owns. The one place of this rule for every store (CLI, Python, pyramid levels).

use crate::error::{EngineError, Result};
use crate::plan::clamp_chunks;

/// Chunks (clamped to the array), optional shards (whole chunks), and the write unit: the
/// shard when sharded, else the chunk. Exactly one writer writes each unit (zarrs has no
/// locking), so a plan for a store is tiled by [`StoreLayout::unit`].
///
/// ```
/// use zoomstack_engine::StoreLayout;
/// // The notebook's chunks in shards of 8 levels x the whole frame.
/// let l = StoreLayout::new([120000, 512, 512], [1, 256, 256], Some([8, 512, 512])).unwrap();
/// assert_eq!(l.unit(), [8, 512, 512]);
/// assert_eq!(l.chunks_per_shard(), Some([8, 2, 2]));
/// // A shard covering a whole axis is that axis rounded up to whole chunks.
/// let l = StoreLayout::new([40, 100, 100], [1, 64, 64], Some([8, 512, 512])).unwrap();
/// assert_eq!(l.shard(), Some([8, 128, 128]));
/// assert!(StoreLayout::new([40, 512, 512], [1, 256, 256], Some([8, 300, 512])).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreLayout {
    chunks: [usize; 3],
    shard: Option<[usize; 3]>,
}

impl StoreLayout {
    /// The layout of an array of `shape` with `chunks` (clamped to the shape) and, if given,
    /// shards of `shard`: on an axis the shard covers entirely, the axis rounded up to whole
    /// chunks; elsewhere the shard itself, which must hold whole chunks.
    ///
    /// # Errors
    ///
    /// [`EngineError::ZeroChunk`] for a chunk or shard size of 0, [`EngineError::BadShard`]
    /// for a shard smaller than its axis that is not a multiple of the chunk.
    pub fn new(shape: [u64; 3], chunks: [usize; 3], shard: Option<[usize; 3]>) -> Result<Self> {
        for (k, &c) in chunks.iter().chain(shard.iter().flatten()).enumerate() {
            if c == 0 {
                return Err(EngineError::ZeroChunk {
                    axis: crate::AXES[k % 3],
                });
            }
        }
        let chunks = clamp_chunks(chunks, shape);
        let shard = match shard {
            None => None,
            Some(s) => {
                let mut out = [0; 3];
                for k in 0..3 {
                    let axis = usize::try_from(shape[k].max(1)).unwrap_or(usize::MAX);
                    out[k] = if s[k] >= axis {
                        axis.div_ceil(chunks[k]).saturating_mul(chunks[k])
                    } else if s[k] % chunks[k] == 0 {
                        s[k]
                    } else {
                        return Err(EngineError::BadShard {
                            shard: s,
                            chunks,
                            axis: crate::AXES[k],
                        });
                    };
                }
                Some(out)
            }
        };
        Ok(StoreLayout { chunks, shard })
    }

    /// The layout of another level of the same pyramid, of `shape` with `chunks` (clamped):
    /// the same number of chunks per shard as this one (so a shard shrinks with its chunks).
    #[must_use]
    pub fn pyramid_level(&self, shape: [u64; 3], chunks: [usize; 3]) -> StoreLayout {
        let chunks = clamp_chunks(chunks, shape);
        let shard = self
            .chunks_per_shard()
            .map(|n| [0, 1, 2].map(|k| n[k].saturating_mul(chunks[k])));
        StoreLayout { chunks, shard }
    }

    /// Chunk shape (the inner chunk when sharded).
    #[must_use]
    pub const fn chunks(&self) -> [usize; 3] {
        self.chunks
    }

    /// Shard shape, if sharded.
    #[must_use]
    pub const fn shard(&self) -> Option<[usize; 3]> {
        self.shard
    }

    /// The write unit: the shard when sharded, else the chunk.
    #[must_use]
    pub fn unit(&self) -> [usize; 3] {
        self.shard.unwrap_or(self.chunks)
    }

    /// Chunks per shard along each axis, if sharded.
    #[must_use]
    pub fn chunks_per_shard(&self) -> Option<[usize; 3]> {
        self.shard.map(|s| [0, 1, 2].map(|k| s[k] / self.chunks[k]))
    }
}
