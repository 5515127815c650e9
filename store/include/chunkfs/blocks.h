// Large chunks as independently compressed blocks (docs/FORMAT.md "Blocked
// records"). A chunk larger than kBlockSize is stored as one record whose
// payload is a block table followed by its blocks; each block is compressed
// on its own and carries the SHA-256 of its raw bytes, so a read of block N
// needs only block N and can be verified alone. Small chunks stay one plain
// record (one block, verified by the chunk's digest).
//
// Thread safety: EncodeBlock is a pure function, callable from any thread
// (the mount's worker pool). A ChunkReader's ReadBlock may be called from
// several threads at once (for different blocks or the same).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs {

// Raw bytes of every block of a blocked record but the last.
inline constexpr uint32_t kBlockSize = 1u << 20;

// One block, ready for a blocked record.
struct EncodedBlock {
  uint8_t codec = 0;     // 0 raw, kCodecZlib, kCodecZstd (chunkfs/codec.h)
  uint32_t raw_len = 0;  // 1..kBlockSize
  Digest hash;           // SHA-256 of the raw bytes
  std::string bytes;     // what is stored: the raw bytes if codec is 0
  // CRC-32 (zlib's) of `bytes`, set by EncodeBlock on its thread so that
  // PutBlocks need not read the bytes again; PutBlocks computes it when
  // absent. Like `hash`, it is trusted: change `bytes` and drop both.
  std::optional<uint32_t> crc;
};

// Hashes `raw` (1..kBlockSize bytes) and compresses it with `codec` at
// `level` (chunkfs/codec.h); keeps it raw when level is 0 or compression
// saves nothing. InvalidArgument for an empty or oversized block,
// NotSupported for a codec this build lacks.
Status EncodeBlock(std::string_view raw, uint8_t codec, int level, EncodedBlock* out);

// Reads one stored chunk block by block. For a plain record (a small chunk,
// or any chunk written before blocked records existed) there is one block,
// the whole chunk, verified against the chunk's digest.
class ChunkReader {
 public:
  virtual ~ChunkReader() = default;
  virtual uint64_t size() const = 0;          // raw bytes of the whole chunk
  virtual uint32_t block_count() const = 0;   // >= 1
  // Raw bytes in every block but the last (the whole size for one block).
  virtual uint64_t block_size() const = 0;
  // The raw bytes of block i (REQUIRES: i < block_count()), verified against
  // its hash: Corruption, never wrong bytes. Reads only that block's bytes
  // from the pack.
  virtual Status ReadBlock(uint32_t i, std::string* out) = 0;
};

}  // namespace chunkfs
