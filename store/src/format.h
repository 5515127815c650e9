// On-disk format constants and little-endian encoding helpers.
// The byte-by-byte layout is specified in docs/FORMAT.md; keep both in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "chunkfs/codec.h"

namespace chunkfs::format {

// ---- Repository header: REPO/chunkfs.repo (two identical 64-byte copies) ----
inline constexpr char kRepoMagic[8] = {'C', 'H', 'U', 'N', 'K', 'F', 'S', 'R'};
// Version 2 added the per-shard deletion log (deleted.log): a version-1
// program would ignore it and serve deleted chunks, so a repository is
// written as version 2 from its first deletion on. Version 1 is read.
inline constexpr uint32_t kRepoVersion = 2;
// Version 3: records may use codec 2 (zstd), which a version-2 program
// would take for damage (and cut off as a torn tail). Written only while
// the header's codec is zstd or once a writer has used zstd (an open that
// overrides the codec); a zlib repository stays version 2. The highest
// version this program reads is kRepoVersionMax.
inline constexpr uint32_t kRepoVersionZstd = 3;
// Version 4: records may use codec 3 (blocks, docs/FORMAT.md "Blocked
// records"), which a version-3 program would take for damage. Written by
// Create when chunks may exceed one block, and by a writer before its first
// blocked record.
inline constexpr uint32_t kRepoVersionBlocks = 4;
inline constexpr uint32_t kRepoVersionMax = 4;
inline constexpr size_t kRepoHeaderSize = 64;
// offsets
inline constexpr size_t kRepoVersionOff = 8;
inline constexpr size_t kRepoFlagsOff = 12;
inline constexpr size_t kRepoPackLimitOff = 16;
inline constexpr size_t kRepoMaxChunkOff = 24;
inline constexpr size_t kRepoLevelOff = 28;
inline constexpr size_t kRepoCodecOff = 32;  // u8: 0 (older headers) = zlib, 1 zlib, 2 zstd
inline constexpr size_t kRepoCrcOff = 60;

// ---- Pack (.dat) header (32 bytes) ----
inline constexpr char kPackMagic[8] = {'C', 'H', 'U', 'N', 'K', 'P', 'A', 'K'};
inline constexpr uint32_t kPackVersion = 1;
inline constexpr size_t kPackHeaderSize = 32;

// ---- Pack record: header (48) + payload + crc32 (4) ----
inline constexpr uint32_t kRecordMagic = 0x52434643;  // bytes "CFCR"
inline constexpr size_t kRecordHeaderSize = 48;
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + 4;
inline constexpr uint32_t kMaxRecordPayload = 1u << 30;  // sanity bound when scanning

// ---- Pack trailer (32 bytes), appended when the pack is sealed ----
inline constexpr char kTrailerMagic[8] = {'C', 'H', 'U', 'N', 'K', 'E', 'N', 'D'};
inline constexpr size_t kTrailerSize = 32;

// ---- Idx file: header (48) + fanout (1024) + entries (56 each) + crc32 (4) ----
inline constexpr char kIdxMagic[8] = {'C', 'H', 'U', 'N', 'K', 'I', 'D', 'X'};
inline constexpr uint32_t kIdxVersion = 1;
inline constexpr uint32_t kIdxFlagSealed = 1;
inline constexpr size_t kIdxHeaderSize = 48;
inline constexpr size_t kIdxFanoutSize = 256 * 4;
inline constexpr size_t kIdxEntrySize = 56;
inline constexpr size_t kIdxFixedSize = kIdxHeaderSize + kIdxFanoutSize + 4;

// Codecs (one byte per record).
inline constexpr uint8_t kCodecRaw = 0;
using chunkfs::kCodecZlib;  // 1: payload is a zlib stream (chunkfs/codec.h)
using chunkfs::kCodecZstd;  // 2: payload is one standard zstd frame
// 3: payload is a block table and independently encoded blocks (version 4).
inline constexpr uint8_t kCodecBlocks = 3;
// Block table (docs/FORMAT.md "Blocked records"): u32 block_size, u32
// block_count, entries (44 each), u32 CRC-32 of the table before it.
inline constexpr size_t kBlockTableHeaderSize = 8;
inline constexpr size_t kBlockEntrySize = 44;  // u8 codec, u8[3] 0, u32 raw_len, u32 stored_len, sha256[32]

// ---- little-endian helpers ----
inline void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
inline void AppendU32(std::string* s, uint32_t v) {
  char b[4];
  PutU32(b, v);
  s->append(b, 4);
}
inline void AppendU64(std::string* s, uint64_t v) {
  char b[8];
  PutU64(b, v);
  s->append(b, 8);
}

// Deletion log (shards/XX/deleted.log): a header, then fixed-size entries.
inline constexpr char kDelMagic[] = "CHUNKFSD";  // 8 bytes, no NUL
inline constexpr uint32_t kDelVersion = 1;
inline constexpr size_t kDelHeaderSize = 32;   // magic, version, shard, reserved, crc
inline constexpr size_t kDelEntrySize = 56;    // kind, reserved, pack id, offset, digest, crc
inline constexpr uint8_t kDelRecord = 1;       // one record (pack id, offset) is deleted
inline constexpr uint8_t kDelPack = 2;         // the whole pack is dead (compacted away)

// Merged index (shards/XX/merged.midx, docs/FORMAT.md "Merged index"): a
// cache over the shard's sealed packs. Header (64), pack table (40 each),
// fanout (1024), bucket CRCs (1024), meta CRC (4), Bloom filter (64 per
// block) + CRC (4), entries (56 each).
inline constexpr char kMidxMagic[8] = {'C', 'H', 'U', 'N', 'K', 'M', 'I', 'X'};
inline constexpr uint32_t kMidxVersion = 1;
inline constexpr size_t kMidxHeaderSize = 64;
inline constexpr size_t kMidxPackSize = 40;
inline constexpr size_t kMidxEntrySize = 56;

// CRC-32 (zlib's crc32, the ISO-HDLC polynomial).
uint32_t Crc32(std::string_view data, uint32_t crc = 0);
// The CRC-32 of A followed by B, from crc_a, crc_b and B's length (zlib's
// crc32_combine): a running CRC extended without reading B again.
uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

}  // namespace chunkfs::format
