// Repository: a sharded, content-addressed chunk store on disk.
//
//   REPO/chunkfs.repo               header: magic, format version, settings
//   REPO/lock                       flock'ed by the owning (writing) process
//   REPO/shards/XX/pack-N.dat|.idx  per shard (XX = first digest byte in hex)
//
// 256 shards by the first digest byte, each with its own reader/writer lock:
// writes to one shard are serialised, reads run in parallel, and different
// shards never wait on each other. See docs/FORMAT.md and docs/ARCHITECTURE.md.
//
// Thread safety: all methods may be called concurrently from any thread.
// A writable Repository is the only writer of its directory (it holds the
// lock file); any number of read-only Repository objects may read beside it,
// in this process or others.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chunkfs/digest.h"
#include "chunkfs/env.h"
#include "chunkfs/status.h"

namespace chunkfs {

// Settings fixed when a repository is created and stored in its header.
struct RepoSettings {
  // A pack is sealed once its .dat reaches this size.
  uint64_t pack_size_limit = 64ull << 20;
  // Largest chunk accepted (uncompressed bytes).
  uint32_t max_chunk_size = 16u << 20;
  // zlib level 1..9 (0: store every chunk raw).
  int compression_level = 1;
};

struct OpenOptions {
  Env* env = nullptr;  // nullptr: Env::Default()
  // Read-only: takes no lock, writes nothing, runs no recovery; sees chunks
  // the writer has published in an idx: at a seal, at Close(), and at a
  // Sync() (at most once a second per shard; a later Sync publishes what an
  // earlier one left). Packs without an idx are scanned.
  bool read_only = false;
  // Overrides for this open only (0 / -1: use the header's value).
  uint32_t max_chunk_size = 0;
  int compression_level = -1;
  // Pack files kept open for reads at most (a least-recently-used cache,
  // like LevelDB's max_open_files); 0: derived from RLIMIT_NOFILE (see
  // RaiseOpenFileLimit). A writer also keeps one pack per shard open.
  size_t max_open_files = 0;
  // Receives one line per recovery action and ignored stray file.
  std::function<void(const std::string&)> log;
};

struct ChunkInfo {
  uint64_t raw_size = 0;     // uncompressed bytes
  uint64_t stored_size = 0;  // bytes of payload on disk
  uint8_t codec = 0;         // 0 raw, 1 zlib
};

struct PutResult {
  Digest digest;
  bool was_new = false;  // false: already stored, nothing written (dedup)
};

struct RepoStats {
  uint64_t chunks = 0;
  uint64_t bytes_raw = 0;
  uint64_t bytes_stored = 0;
  uint64_t packs_sealed = 0;
  uint64_t packs_open = 0;
  uint64_t puts = 0;          // chunks written since open
  uint64_t dedup_hits = 0;    // puts of content already stored, since open
  uint64_t syncs = 0;         // group-commit rounds since open
  uint64_t corrupt_reads = 0; // Gets that found damage, since open
  uint64_t errors = 0;        // failed operations since open
};

// Iterates over all digests in ascending order. Holds at most one shard's
// digests in memory at a time. Sees a snapshot per shard.
class DigestIterator {
 public:
  virtual ~DigestIterator() = default;
  virtual bool Valid() const = 0;
  virtual const Digest& digest() const = 0;
  virtual void Next() = 0;
  // Positions at the first digest >= target.
  virtual void Seek(const Digest& target) = 0;
  virtual void SeekToFirst() = 0;
  // Not OK if reading an index failed; iteration then stops.
  virtual Status status() const = 0;
};

// Raises the soft RLIMIT_NOFILE of the process to its hard limit (as a
// program serving many packs should at start); *soft gets the new soft
// limit. Call before opening a repository so that max_open_files 0 sees it.
Status RaiseOpenFileLimit(uint64_t* soft);

class Repository {
 public:
  // Creates a new, empty repository at `path` (created if missing; must be
  // empty if it exists). Refuses to touch a non-empty directory.
  static Status Create(const std::string& path, const RepoSettings& settings, Env* env = nullptr);
  // Opens an existing repository; a writable open takes the lock and recovers
  // unsealed packs (torn tails cut, idx rebuilt).
  static Status Open(const std::string& path, const OpenOptions& options,
                     std::unique_ptr<Repository>* out);

  virtual ~Repository() = default;

  // Stores `data` (dedup: already-stored content writes nothing). If
  // `expected` is given and the content does not hash to it, returns
  // Corruption and stores nothing. The chunk is readable on return and
  // durable after the next Sync().
  virtual Status Put(std::string_view data, PutResult* result, const Digest* expected = nullptr) = 0;
  // Returns the chunk's bytes, verified against `digest` (Corruption, never
  // wrong bytes).
  virtual Status Get(const Digest& digest, std::string* out) = 0;
  // NotFound if absent. Does not read the payload.
  virtual Status Stat(const Digest& digest, ChunkInfo* info) = 0;
  bool Contains(const Digest& digest) {
    ChunkInfo info;
    return Stat(digest, &info).ok();
  }
  // Makes every chunk Put before this call durable; OK only if they all are.
  // Concurrent callers share one round of fsyncs (group commit); the dirty
  // shards are synced in parallel, and lookups and reads never wait for it.
  // If a chunk Put earlier was lost before it became durable (a failed
  // fsync whose records could not be written again), every Sync fails until
  // that chunk is Put again.
  virtual Status Sync() = 0;
  virtual std::unique_ptr<DigestIterator> NewIterator() = 0;
  virtual RepoStats GetStats() = 0;
  virtual const RepoSettings& settings() const = 0;
  virtual const std::string& path() const = 0;
  // Syncs and releases the lock. Called by the destructor if not called.
  virtual Status Close() = 0;
};

}  // namespace chunkfs
