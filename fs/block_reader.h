// BlockReader: one open chunk read block by block (issue 9; docs/MOUNT.md
// "Reading large chunks").
//
// A read(off, size) needs only the blocks it covers: each is taken from the
// shared ChunkCache (keyed by digest and block index) or read from the
// ChunkReader (inflated and verified there), once however many readers ask
// at the same time (ChunkCache::FindOrLoad). When a read follows the
// previous one (the same or the next block), the next `readahead_blocks`
// blocks are loaded into the cache on the WorkerPool, so that they are
// verified before the kernel asks; their memory is within the cache's byte
// bound, and read-ahead is off when that bound cannot hold them beside the
// block being read.
//
// A damaged block fails the reads that touch it (its status; never wrong
// bytes) and is not cached; the other blocks still read. The ChunkReader
// keeps the chunk's pack, so a chunk pruned or compacted while open keeps
// reading.
//
// Lifetime: held by shared_ptr (the open file and each read-ahead task);
// Close() stops the read-ahead of a released file (and, with
// release_behind, drops the blocks it loaded from the cache). Thread safety:
// all methods may be called concurrently. Different blocks load at the same
// time (a read and the read-ahead, or two of the kernel's requests: the
// ChunkReader's ReadBlock is thread-safe), each block once (the cache).
// Locks: mu_ (the read position) is never held while a block loads or while
// waiting for a load in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "block_buffers.h"
#include "chunk_cache.h"
#include "chunkfs/blocks.h"
#include "chunkfs/digest.h"
#include "chunkfs/status.h"
#include "worker_pool.h"

namespace chunkfs::fs {

class BlockReader : public std::enable_shared_from_this<BlockReader> {
 public:
  struct Options {
    uint32_t readahead_blocks = 2;  // blocks loaded ahead of a sequential reader (0: none)
    // Where block buffers come from (reused without page faults); nullptr:
    // a fresh buffer each. Outlives the reader.
    BlockBuffers* buffers = nullptr;
    // Blocks this reader loaded leave the cache once a sequential read is
    // two blocks past them, and at Close(): the kernel's page cache holds
    // what was served (the mount opens chunks with keep_cache), so the
    // cache holds mostly blocks not yet served, and their buffers come
    // back to `buffers` for the next blocks. Off: they stay until evicted.
    bool release_behind = false;
  };
  // Counted for /.stats and tests; may be shared by many readers.
  struct Counters {
    std::atomic<uint64_t> block_loads{0};      // blocks read from the ChunkReader (by reads or read-ahead)
    std::atomic<uint64_t> readahead_loads{0};  // of which read ahead
  };

  // `pool` nullptr: no read-ahead. `cache`, `pool` and `counters` outlive
  // the reader's tasks (the pool is joined before they go).
  static std::shared_ptr<BlockReader> Make(const Digest& digest, std::unique_ptr<ChunkReader> reader,
                                           ChunkCache* cache, WorkerPool* pool, Counters* counters,
                                           Options options);

  uint64_t size() const { return size_; }

  // Reads [off, off + size) clipped to the chunk's end (nothing at or past
  // it). On OK, *out views either a block kept alive by *holder or the bytes
  // copied into *owned (a read across blocks). A failure names the block.
  Status Read(uint64_t off, size_t size, ChunkCache::Content* holder, std::string* owned, std::string_view* out);

  // No more read-ahead (the file was released); tasks in flight finish.
  void Close();

 private:
  BlockReader(const Digest& digest, std::unique_ptr<ChunkReader> reader, ChunkCache* cache, WorkerPool* pool,
              Counters* counters, Options options);

  uint64_t BlockLen(uint32_t i) const;
  // Block i through the cache (loading it once).
  Status GetBlock(uint32_t i, ChunkCache::Content* out);
  // Reads and checks block i from the ChunkReader (the cache's loader).
  Status LoadBlock(uint32_t i, ChunkCache::Content* out);
  // After blocks first..last were read (`block`: the last): remember the
  // position, and queue read-ahead if the read followed the previous one.
  void Advance(uint32_t first, uint32_t last, ChunkCache::Content block);
  // The read-ahead task: loads blocks up to ahead_target_. Never throws.
  void ReadAhead() noexcept;
  // REQUIRES: mu_. After a sequential read up to block `last`: moves the
  // read-ahead target; true if a ReadAhead task must be submitted.
  bool QueueReadAheadLocked(uint32_t last);
  // REQUIRES: mu_. Appends to *keys the blocks below `below` this reader
  // loaded and has not released yet (release_behind).
  void TakeMineBelowLocked(uint32_t below, std::vector<ChunkCache::Key>* keys);
  void EraseFromCache(const std::vector<ChunkCache::Key>& keys);
  // After read-ahead loaded block i: drops it if the file was released
  // meanwhile (release_behind).
  void DropIfClosed(uint32_t i);

  const Digest digest_;
  ChunkCache* const cache_;
  WorkerPool* const pool_;
  Counters* const counters_;
  uint32_t readahead_blocks_;
  BlockBuffers* const buffers_;
  const bool release_behind_;
  const uint64_t size_;
  const uint64_t block_size_;
  const uint32_t block_count_;

  const std::unique_ptr<ChunkReader> reader_;  // ReadBlock is thread-safe

  std::mutex mu_;
  ChunkCache::Content last_;         // the block read last (kept while reading within it)
  uint32_t last_index_ = UINT32_MAX;  // its index; UINT32_MAX before the first read
  uint32_t ahead_next_ = 0;          // the next block read-ahead looks at
  uint32_t ahead_target_ = 0;        // read ahead up to this block (inclusive), if above ahead_next_ - 1
  bool ahead_running_ = false;       // a ReadAhead task is queued or running
  bool closed_ = false;
  std::vector<bool> mine_;           // release_behind: blocks loaded by this reader, in the cache
  uint32_t released_below_ = 0;      // mine_ is clear below this block
};

}  // namespace chunkfs::fs
