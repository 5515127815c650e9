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
#include <vector>

#include "chunkfs/blocks.h"
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
  // Codec of new chunks (chunkfs/codec.h): kCodecZlib or kCodecZstd; 0 at
  // Create means DefaultCodec(). Read back as the header's (zlib for
  // headers written before codecs were a setting).
  uint8_t codec = 0;
  // The format version read from the header (docs/FORMAT.md); ignored by
  // Create, which writes the current one.
  uint32_t format_version = 0;
  // Create only: -1 makes the repository private to its owner (folders
  // 0700, files 0600); a group id shares it with that group (folders 02750,
  // files 0640). Not in the header: the setgid bit of the repository's
  // folders records it (Env::SetDirAccess, docs/MOUNT.md "Permissions").
  int64_t group = -1;
};

struct OpenOptions {
  Env* env = nullptr;  // nullptr: Env::Default()
  // Kept alive as long as the repository (an Env from EnvForRepository,
  // chunkfs/repo_env.h). With env nullptr and a "rados:" path, Open makes
  // one itself (the cluster found from the environment).
  std::shared_ptr<Env> env_owner;
  // Read-only: takes no lock, writes nothing, runs no recovery; sees chunks
  // the writer has published in an idx: at a seal, at Close(), and at a
  // Sync() (at most once a second per shard; a later Sync publishes what an
  // earlier one left). Packs without an idx are scanned.
  bool read_only = false;
  // Overrides for this open only (0 / -1: use the header's value).
  uint32_t max_chunk_size = 0;
  int compression_level = -1;
  uint8_t codec = 0;  // kCodecZlib / kCodecZstd (chunkfs/codec.h); 0: the header's
  // Pack files kept open for reads at most (a least-recently-used cache,
  // like LevelDB's max_open_files); 0: derived from RLIMIT_NOFILE (see
  // RaiseOpenFileLimit). A writer also keeps one pack per shard open.
  size_t max_open_files = 0;
  // Receives one line per recovery action and ignored stray file.
  std::function<void(const std::string&)> log;
  // Per-shard merged index (docs/FORMAT.md "Merged index"): read at open,
  // used for lookups, and (writer) rebuilt as packs are sealed or compacted.
  // false: the older path (every idx loaded and walked at open, one search
  // per pack); for benchmarks and tests only.
  bool merged_index = true;
  // Tests only: called by Put and PutBlocks between finding a chunk already
  // stored (a dedup hit) and checking that hit against prunes, so that a
  // test can run a whole prune in between. Empty: nothing.
  std::function<void(const Digest&)> test_after_dedup_lookup;
};

struct ChunkInfo {
  uint64_t raw_size = 0;     // uncompressed bytes
  uint64_t stored_size = 0;  // bytes of payload on disk
  uint8_t codec = 0;         // 0 raw, 1 zlib, 2 zstd
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
  // Deletion and compaction (docs/FORMAT.md "Deletions").
  uint64_t chunks_deleted = 0;      // by prunes since open
  uint64_t dead_bytes = 0;          // stored bytes of deleted records waiting for compaction
  uint64_t bytes_reclaimed = 0;     // pack bytes removed by compaction since open
  uint64_t compactions = 0;         // packs written by compaction since open
  uint64_t compaction_running = 0;  // 1 while a Compact is in progress
  uint64_t compaction_bytes_copied = 0;  // live bytes copied by compaction since open
};

// A point in time for a prune (Repository::BeginPrune): a prune with it
// deletes nothing stored, stored again (a dedup hit) or touched after it was
// taken. Valid only for the open Repository that issued it (a token from
// before a remount is refused), until a prune uses it.
struct PruneToken {
  uint64_t instance = 0;    // random, chosen when the repository was opened
  uint64_t generation = 0;  // 1, 2, ... within that open
  std::string ToString() const;  // "<16 hex>-<decimal>"
  static bool Parse(std::string_view text, PruneToken* out);
};

struct PruneOptions {
  const PruneToken* since = nullptr;  // nullptr: a token taken when the prune starts
  bool dry_run = false;               // count only; nothing changes
  // Refused (InvalidArgument, nothing deleted) unless force: an empty keep
  // list, or a prune that would delete more than this share of the chunks.
  double max_delete_share = 0.5;
  bool force = false;
  // Called on the caller's thread after each shard of each pass with
  // (shards done, shards to do): 256 for a dry run, 512 for a prune (a
  // counting pass, then the deleting one). For chunkctl's progress line.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct PruneResult {
  uint64_t chunks_before = 0;
  uint64_t chunks_deleted = 0;        // (would be, with dry_run)
  uint64_t bytes_deleted = 0;         // uncompressed bytes of those chunks
  uint64_t stored_bytes_deleted = 0;  // their bytes on disk, given back by compaction
  uint64_t protected_chunks = 0;      // not kept, but stored or touched since the token
  uint64_t keep_missing = 0;          // keep-list digests that are not stored
  std::vector<Digest> missing;        // the first 100 of them, in order
};

struct CompactOptions {
  // A sealed pack is rewritten once this share of its bytes is dead; a pack
  // with nothing live is simply removed.
  double min_dead_share = 0.10;
  // Sealed packs smaller than this (0: a quarter of the pack size) are
  // merged when a shard has two or more.
  uint64_t small_pack_bytes = 0;
  // Copy at most this many bytes a second (0: no limit) and stop after
  // max_bytes copied (0: no limit).
  uint64_t bytes_per_second = 0;
  uint64_t max_bytes = 0;
  // Called on the caller's thread after each shard with (shards done, 256).
  std::function<void(uint64_t, uint64_t)> progress;
};

struct CompactResult {
  uint64_t packs_removed = 0;
  uint64_t packs_written = 0;
  uint64_t bytes_copied = 0;     // live record bytes copied
  uint64_t bytes_reclaimed = 0;  // pack bytes removed less pack bytes written
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
  // Stores a chunk given as its encoded blocks (EncodeBlock, in order: every
  // block but the last holds kBlockSize raw bytes) whose whole content
  // hashes to `digest`; the caller computed `digest` and the block hashes
  // from the bytes (the store does not re-read them). One block is stored
  // as a plain record, several as a blocked record. Dedup, readability and
  // durability as Put.
  virtual Status PutBlocks(const Digest& digest, std::vector<EncodedBlock> blocks, PutResult* result) = 0;
  // Opens a stored chunk for reading block by block (NotFound if absent).
  // The reader stays valid after a prune or compaction of the chunk
  // (it keeps the pack open) and reads nothing until ReadBlock.
  virtual Status OpenChunk(const Digest& digest, std::unique_ptr<ChunkReader>* out) = 0;

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

  // Deletion (SPEC §7, docs/RELIABILITY.md). Writable repositories only.
  // Takes a token (see PruneToken).
  virtual Status BeginPrune(PruneToken* token) = 0;
  // Deletes every chunk whose digest is not in `keep` (REQUIRES: sorted
  // ascending; duplicates allowed) and was not stored, stored again or
  // touched since the token. Each chunk is checked and deleted atomically
  // with respect to a Put of the same content. Durable on return: a deleted
  // chunk is NotFound at once and after any crash; a crash before the
  // return leaves each chunk deleted or whole. Uses up the token.
  virtual Status Prune(const std::vector<Digest>& keep, const PruneOptions& options, PruneResult* result) = 0;
  // Marks a stored chunk as in use (protects it from prunes whose token is
  // older). NotFound if it is not stored.
  virtual Status Touch(const Digest& digest) = 0;
  // Gives back the space of deleted chunks: packs with nothing live are
  // removed, packs over the dead threshold (and small sealed packs) are
  // rewritten with their live records only; the new pack and its idx are
  // durable before the old pack goes. One pack in flight at a time.
  virtual Status Compact(const CompactOptions& options, CompactResult* result) = 0;
  virtual RepoStats GetStats() = 0;
  virtual const RepoSettings& settings() const = 0;
  virtual const std::string& path() const = 0;
  // The capacity of what holds the repository (its folder's file system, or
  // the RADOS pool's share of the cluster), for df on the mount.
  virtual Status GetSpace(SpaceInfo* out) {
    (void)out;
    return Status::NotSupported("space of " + path());
  }
  // Syncs and releases the lock. Called by the destructor if not called.
  virtual Status Close() = 0;
};

}  // namespace chunkfs
