// A blocked Bloom filter over digests: ~10 bits per chunk, one cache line
// touched per lookup, ~1-2% false positives. A shard keeps one over all its
// packs so that a lookup of an absent chunk (the common case while ingesting)
// usually costs one probe, however many packs the shard has.
//
// Thread safety: none; the shard's lock guards it.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "chunkfs/digest.h"

namespace chunkfs {

class DigestFilter {
 public:
  // Sized for `expected` digests (at least 1024).
  void Reset(uint64_t expected) {
    capacity_ = expected < 1024 ? 1024 : expected;
    blocks_.assign((capacity_ * kBitsPerKey + 511) / 512, Block{});
    count_ = 0;
  }
  bool NeedsGrow() const { return count_ >= capacity_; }
  uint64_t capacity() const { return capacity_; }

  void Add(const Digest& d) {
    Block& b = blocks_[BlockOf(d)];
    uint64_t h = Second(d);
    for (int i = 0; i < kProbes; ++i, h >>= 9) b.w[(h >> 6) & 7] |= uint64_t{1} << (h & 63);
    count_++;
  }
  bool MayContain(const Digest& d) const {
    if (blocks_.empty()) return false;
    const Block& b = blocks_[BlockOf(d)];
    uint64_t h = Second(d);
    for (int i = 0; i < kProbes; ++i, h >>= 9) {
      if (!(b.w[(h >> 6) & 7] & (uint64_t{1} << (h & 63)))) return false;
    }
    return true;
  }

 private:
  static constexpr uint64_t kBitsPerKey = 10;
  static constexpr int kProbes = 6;  // 6 x 9 bits of the second hash word
  struct alignas(64) Block {
    uint64_t w[8] = {};
  };
  // The digest is a uniform hash already: its words serve as hash values.
  static uint64_t Word(const Digest& d, int i) {
    uint64_t v;
    std::memcpy(&v, d.bytes.data() + 8 * i, 8);
    return v;
  }
  size_t BlockOf(const Digest& d) const { return Word(d, 1) % blocks_.size(); }
  static uint64_t Second(const Digest& d) { return Word(d, 2); }

  std::vector<Block> blocks_;
  uint64_t capacity_ = 0, count_ = 0;
};

}  // namespace chunkfs
