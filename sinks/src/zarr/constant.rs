//! Constant write units: a shard whose every chunk holds one value (a frame proven constant in
//! the exact contract) is stored as that chunk's encoding once, with every entry of the shard
//! index pointing at it. A reader (zarrs, zarr-python) fetches each chunk by its index entry's
//! byte range, so it reads the same bytes for every chunk and decodes the right values; the
//! shard costs one encoded chunk plus 16 bytes per chunk of index, not an encoding per chunk.
//! The sharding spec places no rule against entries sharing a byte range.
//!
//! The chunk is encoded with the codecs the store's own `zarr.json` names (so a resumed store
//! written with other compression stays consistent). Codecs this module does not know, or an
//! index that is not `[bytes (little endian), crc32c]` at the end, leave it unusable: such a
//! store's constant units are rendered and encoded chunk by chunk, as any unit.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::Value;
use zarrs::array::codec::{Crc32cCodec, ZstdCodec};
use zarrs::array::{BytesToBytesCodecTraits, CodecOptions};

use super::StoredElement;
use crate::SinkError;

/// Encodes one chunk whose every element is one value, with a chain of codecs `[bytes (little
/// endian), bytes-to-bytes codecs...]` (a shard's inner chain, or an unsharded array's own).
struct ConstantChunk {
    /// Elements per chunk.
    chunk_len: usize,
    codecs: Vec<Arc<dyn BytesToBytesCodecTraits>>,
}

impl ConstantChunk {
    /// The encoder for `chain` (a codec list of a `zarr.json`), `None` for codecs this module
    /// does not write.
    fn for_chain(chain: &Value, chunk_len: usize) -> Option<ConstantChunk> {
        let chain = chain.as_array()?;
        if !is_little_bytes(chain.first()?) {
            return None;
        }
        let codecs = chain[1..].iter().map(bytes_codec).collect::<Option<_>>()?;
        Some(ConstantChunk { chunk_len, codecs })
    }

    /// The encoded bytes of a chunk of `value`s.
    fn encode<T: StoredElement>(
        &self,
        value: T,
        options: &CodecOptions,
    ) -> Result<Vec<u8>, SinkError> {
        let mut raw = Vec::with_capacity(self.chunk_len * T::BYTES as usize);
        for _ in 0..self.chunk_len {
            value.push_le_bytes(&mut raw);
        }
        let mut chunk: Cow<'_, [u8]> = Cow::Owned(raw);
        for codec in &self.codecs {
            chunk = Cow::Owned(
                codec
                    .encode(chunk, options)
                    .map_err(|e| {
                        SinkError::invalid("constant chunk encoding", e, "a codec that encodes")
                    })?
                    .into_owned(),
            );
        }
        Ok(chunk.into_owned())
    }
}

/// Encodes constant shards for one array: its inner chunk shape and codec chain.
pub(crate) struct ConstantShards {
    chunk: ConstantChunk,
    /// Inner chunks per shard.
    chunks_per_shard: usize,
}

impl std::fmt::Debug for ConstantShards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConstantShards")
            .field("chunk_len", &self.chunk.chunk_len)
            .field("chunks_per_shard", &self.chunks_per_shard)
            .field("codecs", &self.chunk.codecs.len())
            .finish()
    }
}

impl ConstantShards {
    /// The encoder for an array with metadata `meta` (its `zarr.json` as JSON) and
    /// shards of `shard` elements per axis; `None` when the array is not sharded or its codecs
    /// are not the ones this module writes.
    pub(crate) fn for_array(meta: &Value, shard: [usize; 3]) -> Option<ConstantShards> {
        let codecs = meta["codecs"].as_array()?;
        let [sharding] = codecs.as_slice() else {
            return None;
        };
        if sharding["name"] != "sharding_indexed" {
            return None;
        }
        let conf = &sharding["configuration"];
        let inner: Vec<usize> = conf["chunk_shape"]
            .as_array()?
            .iter()
            .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
            .collect::<Option<_>>()?;
        let [cl, cy, cx] = inner[..] else {
            return None;
        };
        if cl == 0 || cy == 0 || cx == 0 || shard[0] % cl + shard[1] % cy + shard[2] % cx != 0 {
            return None;
        }
        let index_ok = conf["index_location"].as_str().unwrap_or("end") == "end"
            && is_little_bytes(&conf["index_codecs"][0])
            && conf["index_codecs"][1]["name"] == "crc32c"
            && conf["index_codecs"].as_array().map(Vec::len) == Some(2);
        if !index_ok {
            return None;
        }
        Some(ConstantShards {
            chunk: ConstantChunk::for_chain(&conf["codecs"], cl * cy * cx)?,
            chunks_per_shard: (shard[0] / cl) * (shard[1] / cy) * (shard[2] / cx),
        })
    }

    /// The bytes of a shard whose every element is `value` (of the array's element type).
    pub(crate) fn encode<T: StoredElement>(
        &self,
        value: T,
        options: &CodecOptions,
    ) -> Result<Vec<u8>, SinkError> {
        let mut out = self.chunk.encode(value, options)?;
        let nbytes = out.len() as u64;
        let mut index = Vec::with_capacity(self.chunks_per_shard * 16 + 4);
        for _ in 0..self.chunks_per_shard {
            // Every chunk: offset 0, the one encoded chunk's length.
            index.extend_from_slice(&0u64.to_le_bytes());
            index.extend_from_slice(&nbytes.to_le_bytes());
        }
        let crc = crc32c::crc32c(&index);
        index.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&index);
        Ok(out)
    }
}

/// The bytes one write unit whose every element is `value` takes in an array of metadata
/// `meta` (a `zarr.json` as JSON) with write units of `unit` elements per axis, sharded
/// (`sharded`) or not, as [`super::ZarrSink::write_constant_tile`] stores it: a sharded unit
/// as its constant shard, an unsharded one as its one encoded chunk. `None` for codecs this
/// module does not know (such units are encoded by zarrs, chunk by chunk).
pub(crate) fn constant_unit_len<T: StoredElement>(
    meta: &Value,
    unit: [usize; 3],
    sharded: bool,
    value: T,
    options: &CodecOptions,
) -> Option<Result<u64, SinkError>> {
    let bytes = if sharded {
        ConstantShards::for_array(meta, unit)?.encode(value, options)
    } else {
        ConstantChunk::for_chain(&meta["codecs"], unit.iter().product())?.encode(value, options)
    };
    Some(bytes.map(|b| b.len() as u64))
}

fn is_little_bytes(codec: &Value) -> bool {
    codec["name"] == "bytes"
        && matches!(
            codec["configuration"]["endian"].as_str(),
            Some("little") | None
        )
}

/// The bytes-to-bytes codecs the sink writes (`options::Compression`), from their metadata.
fn bytes_codec(codec: &Value) -> Option<Arc<dyn BytesToBytesCodecTraits>> {
    match codec["name"].as_str()? {
        "zstd" => {
            let conf = &codec["configuration"];
            let level = i32::try_from(conf["level"].as_i64()?).ok()?;
            let checksum = conf["checksum"].as_bool().unwrap_or(false);
            Some(Arc::new(ZstdCodec::new(level, checksum)))
        }
        "crc32c" => Some(Arc::new(Crc32cCodec::new())),
        _ => None,
    }
}
