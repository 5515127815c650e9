// ChunkCache: decompressed, verified chunks shared between opens.
//
// A chunk is read from the store (decompressed and checked against its
// digest) once per open at most: the open file handle keeps the bytes until
// release, so sequential reads of any size never re-inflate it. This cache
// additionally keeps recently read chunks, up to a byte bound (LRU), so that
// reopening a chunk (or reading it through several names) costs nothing.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chunkfs/digest.h"

namespace chunkfs::fs {

class ChunkCache {
 public:
  using Content = std::shared_ptr<const std::string>;

  explicit ChunkCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // nullptr if not cached.
  Content Find(const Digest& digest);
  // Keeps `content` (if it fits), evicting the least recently used.
  void Insert(const Digest& digest, Content content);

  uint64_t bytes() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    Digest digest;
    Content content;
  };
  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<Digest, std::list<Entry>::iterator, DigestHash> index_;
  uint64_t bytes_ = 0;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace chunkfs::fs
