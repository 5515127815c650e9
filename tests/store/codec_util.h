// Helpers of the codec tests (codec_test.cc, codec_zstd_test.cc,
// codec_nozstd_test.cc): the repository header's bytes, as docs/FORMAT.md
// describes them, and the chunks of the fixtures.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs::codectest {

// One byte of both header copies at `off`, or the u32 at `off` of copy 0/1.
inline uint8_t HeaderByte(const std::string& repo, size_t off, int copy = 0) {
  return static_cast<uint8_t>(testutil::ReadFileOrDie(repo + "/chunkfs.repo").at(copy * 64 + off));
}
inline uint32_t HeaderVersion(const std::string& repo, int copy = 0) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | HeaderByte(repo, 8 + i, copy);
  return v;
}
// Sets byte `off` of both copies and fixes their CRC-32 (offset 60).
inline void PatchHeaderByte(const std::string& repo, size_t off, uint8_t value) {
  std::string h = testutil::ReadFileOrDie(repo + "/chunkfs.repo");
  for (size_t base : {size_t{0}, size_t{64}}) {
    h[base + off] = static_cast<char>(value);
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(&h[base]), 60));
    for (int i = 0; i < 4; ++i) h[base + 60 + i] = static_cast<char>(crc >> (8 * i));
  }
  testutil::WriteFileOrDie(repo + "/chunkfs.repo", h);
}

inline std::string FixtureDir(const char* name) { return std::string(CHUNKFS_FIXTURES_DIR) + "/" + name; }

// Every chunk the repository lists, read back: the count read, and every
// read must succeed and hash to its name (Get verifies; this checks again).
inline size_t ReadAllChunks(Repository* repo) {
  size_t n = 0;
  auto it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string got;
    Status s = repo->Get(it->digest(), &got);
    EXPECT_TRUE(s.ok()) << it->digest().ToHex() << ": " << s.ToString();
    EXPECT_EQ(Sha256(got), it->digest());
    n++;
  }
  EXPECT_TRUE(it->status().ok());
  return n;
}

// The codec each listed chunk is stored with: counts by codec byte.
inline std::vector<size_t> CodecCounts(Repository* repo) {
  std::vector<size_t> counts(3, 0);
  auto it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ChunkInfo info;
    EXPECT_TRUE(repo->Stat(it->digest(), &info).ok());
    if (info.codec < counts.size()) counts[info.codec]++;
  }
  return counts;
}

}  // namespace chunkfs::codectest
