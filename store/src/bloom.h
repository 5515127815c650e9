// A blocked Bloom filter over digests: ~10 bits per chunk, one cache line
// touched per lookup, ~1-2% false positives. A shard keeps one over all its
// packs so that a lookup of an absent chunk (the common case while ingesting)
// usually costs one probe, however many packs the shard has.
//
// Thread safety: none; the shard's lock guards it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
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
    return Probe(reinterpret_cast<const char*>(blocks_.data()), blocks_.size(), d);
  }

  // ---- the persisted form (docs/FORMAT.md "Merged index": the filter) ----
  // kBlockBytes bytes per block: 8 words, each a little-endian u64.
  static constexpr size_t kBlockBytes = 64;
  size_t block_count() const { return blocks_.size(); }
  // Appends the blocks in the persisted form.
  void AppendTo(std::string* out) const {
    out->append(reinterpret_cast<const char*>(blocks_.data()), blocks_.size() * kBlockBytes);
  }
  // Whether `d` may be in a filter persisted at `blocks` (n blocks, as
  // AppendTo wrote them; any alignment). No filter (n == 0): false.
  static bool Probe(const char* blocks, size_t n, const Digest& d) {
    if (n == 0) return false;
    const char* b = blocks + (Word(d, 1) % n) * kBlockBytes;
    uint64_t h = Second(d);
    for (int i = 0; i < kProbes; ++i, h >>= 9) {
      uint64_t w;
      std::memcpy(&w, b + 8 * ((h >> 6) & 7), 8);
      if (!(w & (uint64_t{1} << (h & 63)))) return false;
    }
    return true;
  }

 private:
  static constexpr uint64_t kBitsPerKey = 10;
  static constexpr int kProbes = 6;  // 6 x 9 bits of the second hash word
  struct alignas(64) Block {
    uint64_t w[8] = {};
  };
  // The persisted form is the in-memory one: words little-endian.
  static_assert(std::endian::native == std::endian::little && sizeof(Block) == kBlockBytes);
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
