// ChunkCache: decompressed, verified chunks and blocks shared between opens.
//
// An entry is a whole chunk (Repository::Get, kWholeChunk) or one verified
// block of a chunk (ChunkReader::ReadBlock, keyed by its index; a plain
// record is block 0). The open file handle keeps the block it reads until it
// moves on, so reads of any size within a block never re-inflate it. This
// cache additionally keeps recently read entries, up to a byte bound (LRU),
// so that reopening a chunk (or reading it through several names) costs
// nothing, and it holds the blocks read ahead (block_reader.h): their memory
// is within the same bound. The mount's block readers Erase the blocks they
// have served (the kernel's page cache has those; BlockReader::Options::
// release_behind), so blocks stay here mostly until they are served.
//
// Load-once: FindOrLoad makes concurrent readers of one entry wait for one
// load instead of loading it each; LoadIfAbsent (read-ahead) never waits.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs::fs {

class ChunkCache {
 public:
  using Content = std::shared_ptr<const std::string>;
  // Block index of a whole chunk read by Repository::Get.
  static constexpr uint32_t kWholeChunk = UINT32_MAX;
  // An entry: a whole chunk, or block `block` of a chunk stored in blocks of
  // `block_size` raw bytes (part of the key: a chunk stored again in another
  // layout, after damage, never mixes blocks of two layouts).
  struct Key {
    Digest digest;
    uint32_t block = kWholeChunk;
    uint64_t block_size = 0;
    bool operator==(const Key& o) const {
      return block == o.block && block_size == o.block_size && digest == o.digest;
    }
  };
  // Loads an entry: OK and *out set, or the failure.
  using Loader = std::function<Status(Content* out)>;

  explicit ChunkCache(uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // Whole chunks. nullptr if not cached.
  Content Find(const Digest& digest) { return Find(Key{digest, kWholeChunk}); }
  void Insert(const Digest& digest, Content content) { Insert(Key{digest, kWholeChunk}, std::move(content)); }

  // nullptr if not cached.
  Content Find(const Key& key);
  // Keeps `content` (if it fits), evicting the least recently used.
  void Insert(const Key& key, Content content);
  // Drops `key` if cached (holders keep their Content); a load in flight
  // is not affected.
  void Erase(const Key& key);

  // The entry `key`: from the cache; else, when another thread is loading
  // it, that load's result (waiting for it); else the result of `load`, run
  // on this thread (others asking meanwhile wait for it) and cached if OK.
  // A failure is given to the waiters and not cached: the next call loads
  // again. An exception from `load` is passed on (the waiters get an
  // IOError). `load` must not ask this cache for `key`.
  Status FindOrLoad(const Key& key, const Loader& load, Content* out);
  // For read-ahead: runs `load` (and caches its result) only if `key` is
  // neither cached nor being loaded; never waits. True if it ran `load`.
  // Exceptions as FindOrLoad.
  bool LoadIfAbsent(const Key& key, const Loader& load);

  uint64_t capacity() const { return capacity_; }
  uint64_t bytes() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }
  // Threads waiting for a load in flight now (tests await it).
  size_t waiting() const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return DigestHash()(k.digest) ^ ((size_t{k.block} + k.block_size) * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Entry {
    Key key;
    Content content;
  };
  // A load in flight; done, status and content guarded by mu_.
  struct Pending {
    bool done = false;
    Status status;
    Content content;
  };
  Content FindLocked(const Key& key);
  void InsertLocked(const Key& key, Content content);
  // Runs `load` for the claimed `pending` and publishes its result.
  Status RunLoad(const Key& key, const std::shared_ptr<Pending>& pending, const Loader& load, Content* out);
  void Finish(const Key& key, const std::shared_ptr<Pending>& pending, const Status& s, const Content& c);

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;  // a Pending became done
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  std::unordered_map<Key, std::shared_ptr<Pending>, KeyHash> loading_;
  uint64_t bytes_ = 0;
  size_t waiting_ = 0;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace chunkfs::fs
