// The merged index of a shard (shards/XX/merged.midx, docs/FORMAT.md
// "Merged index"): one sorted table over the records of many sealed packs,
// with a fanout table and a persisted Bloom filter, so that finding a chunk
// costs one binary search however many packs the shard has, and opening a
// shard reads neither the packs' idx files nor their entries.
//
// It is a cache: every pack idx stays on disk and authoritative. A missing,
// damaged or stale merged index is ignored and rebuilt, never trusted
// unchecked: Load checks the header, the pack table, the fanout and the
// filter (small); the entries are checked a fanout bucket at a time (CRC,
// order, bounds) on the first lookup that touches the bucket.
//
// Thread safety: immutable once loaded, except the per-bucket "checked"
// marks, which are atomics; any thread may call any method.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/env.h"
#include "chunkfs/status.h"
#include "idx.h"

namespace chunkfs {

class MergedIndex {
 public:
  // A sealed pack the index covers (what its trailer and idx say).
  struct Pack {
    uint64_t id = 0;
    uint64_t data_end = 0;   // the trailer's data_end (the .dat is data_end + 32 bytes)
    uint32_t data_crc = 0;   // the trailer's pack_crc
    uint32_t count = 0;      // records in its idx
    uint64_t raw_bytes = 0, stored_bytes = 0;  // sums over its idx entries
  };
  struct Entry {
    IdxEntry entry;
    uint32_t slot = 0;  // index into packs()
  };

  // REQUIRES: entries sorted by (digest ascending, pack id descending), each
  // digest at most once per pack, every slot < packs.size(). InvalidArgument
  // otherwise.
  static Status Encode(uint8_t shard, const std::vector<Pack>& packs, const std::vector<Entry>& entries,
                       std::string* out);
  // Checks everything but the entries (those are checked per bucket on
  // first use). Corruption (with the reason) if a check fails;
  // NotSupported for another version.
  static Status Load(std::unique_ptr<MappedFile> file, uint8_t shard, std::unique_ptr<MergedIndex>* out);

  const std::vector<Pack>& packs() const { return packs_; }
  // The slot of pack `id` in packs(), or -1.
  int64_t SlotOf(uint64_t id) const;
  uint64_t count() const { return count_; }
  // The persisted Bloom filter over every entry's digest.
  bool MayContain(const Digest& d) const;
  // The entries of digest `d` are [*begin, *end), newest pack first. Checks
  // d's bucket first (once): Corruption if it is damaged, and damaged()
  // is true from then on.
  Status Range(const Digest& d, uint64_t* begin, uint64_t* end) const;
  // REQUIRES: i in a range returned by Range, or VerifyAll() succeeded.
  Entry At(uint64_t i) const;
  // Checks every bucket (check, and before the entries are reused by a
  // rebuild).
  Status VerifyAll() const;
  bool damaged() const { return damaged_.load(std::memory_order_relaxed); }
  // An entry led to a record that is not the one it names (the index's
  // checksums were good, its content wrong): damaged() from now on, and
  // the next rebuild takes nothing from this index.
  void MarkDamaged() const { damaged_.store(true, std::memory_order_relaxed); }
  size_t file_size() const { return size_; }

 private:
  MergedIndex() = default;
  Status CheckBucket(unsigned b) const;
  uint64_t BucketBegin(unsigned b) const;
  uint64_t BucketEnd(unsigned b) const;

  std::unique_ptr<MappedFile> file_;
  const char* data_ = nullptr;
  size_t size_ = 0;
  uint8_t shard_ = 0;
  std::vector<Pack> packs_;
  uint64_t count_ = 0;
  const char* fanout_ = nullptr;
  const char* bucket_crcs_ = nullptr;
  const char* filter_ = nullptr;
  size_t filter_blocks_ = 0;
  const char* entries_ = nullptr;
  // Per bucket: 0 unchecked, 1 good, 2 damaged.
  mutable std::atomic<uint8_t> checked_[256] = {};
  mutable std::atomic<bool> damaged_{false};
};

}  // namespace chunkfs
