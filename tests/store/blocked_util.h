// Helpers of the blocked-record tests (blocked_record_test.cc,
// blocked_damage_test.cc, blocked_compat_test.cc): repositories that take
// 16 MiB chunks, reading a chunk through OpenChunk, and record surgery in a
// .dat (docs/FORMAT.md "Blocked records").
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chunkfs/blocks.h"
#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs::blocktest {

inline constexpr uint32_t kMaxChunk = 16u << 20;
inline constexpr size_t kRecordHeader = 48;

inline RepoSettings BigSettings(uint8_t codec = 0) {
  RepoSettings s = testutil::SmallSettings(64ull << 20, kMaxChunk);
  s.codec = codec;
  return s;
}

// Every block through OpenChunk, joined; fails the test on any error.
inline std::string ReadAllBlocks(Repository* repo, const Digest& d) {
  std::unique_ptr<ChunkReader> r;
  Status s = repo->OpenChunk(d, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return "";
  std::string all, block;
  for (uint32_t i = 0; i < r->block_count(); ++i) {
    s = r->ReadBlock(i, &block);
    EXPECT_TRUE(s.ok()) << "block " << i << ": " << s.ToString();
    EXPECT_TRUE(i + 1 == r->block_count() ? block.size() <= r->block_size() : block.size() == r->block_size());
    all += block;
  }
  EXPECT_EQ(all.size(), r->size());
  return all;
}

// Every block of `r` must read and match `data` (the chunk's content).
inline void ExpectBlocks(ChunkReader* r, const std::string& data) {
  std::string got;
  for (uint32_t i = 0; i < r->block_count(); ++i) {
    ASSERT_TRUE(r->ReadBlock(i, &got).ok()) << "block " << i;
    EXPECT_EQ(got, data.substr(size_t{i} * r->block_size(), r->block_size())) << "block " << i;
  }
}

// Prunes every chunk but `keep` (sorted), forced; the number deleted.
inline uint64_t PruneAllBut(Repository* repo, const std::vector<Digest>& keep) {
  PruneOptions po;
  po.force = true;
  PruneResult pr;
  Status s = repo->Prune(keep, po, &pr);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return pr.chunks_deleted;
}

inline uint8_t CodecOf(Repository* repo, const Digest& d) {
  ChunkInfo info;
  EXPECT_TRUE(repo->Stat(d, &info).ok());
  return info.codec;
}

// The only .dat holding `d`'s record, and the record's offset in it.
inline std::string DatOf(const std::string& repo, const Digest& d, uint64_t* record) {
  const std::string digest(reinterpret_cast<const char*>(d.bytes.data()), Digest::kSize);
  for (const auto& dat : testutil::AllPackFiles(repo, ".dat")) {
    std::string b = testutil::ReadFileOrDie(dat);
    if (b.find(digest) == std::string::npos) continue;
    *record = testutil::FindUnique(b, digest) - 16;
    return dat;
  }
  ADD_FAILURE() << "no pack holds " << d.ToHex();
  return "";
}

inline void PutLE32(std::string* s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetLE32(const std::string& s, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[off + i]);
  return v;
}
inline uint32_t Crc(std::string_view s) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}
// Rewrites the CRC of the record at `rec` after its bytes were changed, so
// that only the block hashes (or the table) can tell.
inline void FixRecordCrc(std::string* dat, uint64_t rec) {
  const uint32_t stored = GetLE32(*dat, rec + 12);
  PutLE32(dat, rec + kRecordHeader + stored, Crc(std::string_view(*dat).substr(rec, kRecordHeader + stored)));
}
// Flips a byte inside block `block` of chunk `d` (content `data`, stored
// raw: found by its bytes); with fix_record_crc the record's CRC is made to
// match, so that only the block's hash can tell.
inline void DamageRawBlock(const std::string& repo, const Digest& d, const std::string& data, uint32_t block,
                           bool fix_record_crc) {
  uint64_t rec = 0;
  const std::string dat = DatOf(repo, d, &rec);
  std::string b = testutil::ReadFileOrDie(dat);
  b[testutil::FindUnique(b, data.substr(size_t{block} * kBlockSize, 64)) + 500] ^= 0x10;
  if (fix_record_crc) FixRecordCrc(&b, rec);
  testutil::WriteFileOrDie(dat, b);
}

// Rewrites the block table's CRC (table of `count` blocks at `table`).
inline void FixTableCrc(std::string* s, size_t table, uint32_t count) {
  const size_t n = 8 + 44 * size_t{count};
  PutLE32(s, table + n, Crc(std::string_view(*s).substr(table, n)));
}

}  // namespace chunkfs::blocktest
