// The payload of a blocked record (codec 3, docs/FORMAT.md "Blocked
// records"): a block table, then the stored bytes of each block in order.
// Pure functions over bytes, no I/O. Thread safety: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/blocks.h"
#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs::blocks {

// One row of the table, with where the block lies.
struct BlockEntry {
  uint8_t codec = 0;           // 0 raw, 1 zlib, 2 zstd (never 3)
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;
  Digest hash;                 // SHA-256 of the block's raw bytes
  uint64_t raw_offset = 0;     // of the block in the chunk
  uint64_t stored_offset = 0;  // of its stored bytes in the payload (the table comes first)
};

struct BlockTable {
  uint32_t block_size = 0;  // raw bytes of every block but the last
  std::vector<BlockEntry> blocks;
};

// Bytes of the table of a record of `count` blocks (its CRC included).
uint64_t TableSize(uint64_t count);

// Checks blocks handed to PutBlocks: each 1..kBlockSize raw bytes, all but
// the last exactly kBlockSize, a known codec with bytes that fit it (raw:
// raw_len bytes; compressed: at least one byte). *raw_size gets the chunk's
// size. InvalidArgument naming the block otherwise (NotSupported for a
// codec this build lacks).
Status CheckBlocks(const std::vector<EncodedBlock>& blocks, uint64_t* raw_size);

// The payload of a blocked record of `blocks` (REQUIRES: CheckBlocks OK).
std::string EncodePayload(const std::vector<EncodedBlock>& blocks);
// Its first part, the table; the blocks' bytes follow it in order.
std::string EncodeTable(const std::vector<EncodedBlock>& blocks);

// The size of the table that starts `prefix` (at least its first 8 bytes),
// from its block count; Corruption if it cannot fit a payload of
// `stored_len` bytes (a truncated table).
Status TableSizeOf(std::string_view prefix, uint32_t stored_len, uint64_t* size);

// Parses and checks the table at the start of `bytes` (a payload, or a
// prefix of one holding the whole table) of a record of `raw_len` raw and
// `stored_len` stored bytes: its CRC, block size and count, every entry,
// and that the blocks' lengths add up to the record's. Corruption naming
// the fault otherwise.
Status DecodeTable(std::string_view bytes, uint32_t raw_len, uint32_t stored_len, BlockTable* t);

// Decodes block i of `t` from its stored bytes and verifies its SHA-256:
// Corruption naming the block (never wrong bytes); NotSupported for a codec
// this build lacks.
Status DecodeBlock(const BlockTable& t, uint32_t i, std::string_view stored, std::string* raw);

// Verifies block i of a raw block read straight into *raw (codec 0: the
// stored bytes are the raw bytes, no copy): its length and SHA-256.
// Corruption naming the block, *raw cleared, if either is wrong.
Status VerifyBlock(const BlockTable& t, uint32_t i, std::string* raw);

// The whole chunk from a blocked payload, every block verified (what
// codec::Decode does for codec 3).
Status DecodePayload(std::string_view stored, uint32_t raw_len, std::string* raw);

}  // namespace chunkfs::blocks
