// The Repository implementation: header, lock, shards, group commit.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "chunkfs/repository.h"
#include "shard.h"
#include "store_context.h"

namespace chunkfs {

// Rewrites an older header as the current version (before the first
// deletion: an older program must then refuse the repository).
Status UpgradeHeader(Env* env, const std::string& path);
// Takes the owner lock of the repository at `path` (Busy names the holder).
Status LockRepository(Env* env, const std::string& path, std::unique_ptr<FileLock>* lock);
// Opens with `lock` already held (null for read-only). Used by Open and repair.
Status OpenLocked(const std::string& path, const OpenOptions& options, std::unique_ptr<FileLock> lock,
                  std::unique_ptr<Repository>* out);

class RepositoryImpl;

// Where a ChunkReader (OpenChunk) reports a damaged block: the repository
// while it is open, nobody after Close (a reader may outlive it). A chunk
// found damaged is then stored again by the next Put of its content, as
// after a Get that found damage.
// Thread safety: all methods may be called concurrently.
class DamageSink {
 public:
  explicit DamageSink(RepositoryImpl* repo) : repo_(repo) {}
  void Report(const Digest& d);
  void Detach();

 private:
  std::mutex mu_;
  RepositoryImpl* repo_;  // guarded by mu_; null once the repository closed
};

class RepositoryImpl final : public Repository {
 public:
  explicit RepositoryImpl(std::unique_ptr<StoreContext> ctx);
  ~RepositoryImpl() override;

  Status OpenShards(std::unique_ptr<FileLock> lock);

  Status Put(std::string_view data, PutResult* result, const Digest* expected) override;
  Status Get(const Digest& digest, std::string* out) override;
  Status Stat(const Digest& digest, ChunkInfo* info) override;
  Status PutBlocks(const Digest& digest, std::vector<EncodedBlock> blocks, PutResult* result) override;
  Status OpenChunk(const Digest& digest, std::unique_ptr<ChunkReader>* out) override;
  Status Sync() override;
  std::unique_ptr<DigestIterator> NewIterator() override;
  RepoStats GetStats() override;
  Status BeginPrune(PruneToken* token) override;
  Status Prune(const std::vector<Digest>& keep, const PruneOptions& options, PruneResult* result) override;
  Status Touch(const Digest& digest) override;
  Status Compact(const CompactOptions& options, CompactResult* result) override;
  const RepoSettings& settings() const override { return ctx_->settings; }
  const std::string& path() const override { return ctx_->repo; }
  Status GetSpace(SpaceInfo* out) override { return ctx_->env->GetSpace(ctx_->repo, out); }
  Status Close() override;

  Shard& shard(uint8_t i) { return *shards_[i]; }
  // A read found the chunk's stored copy damaged: counted, and marked so
  // that a Put of the same content stores it again.
  void NoteCorruptRead(const Digest& digest);

 private:
  Status SyncShards(bool* publish_pending);
  // Put and PutBlocks (repository_blocks.cc has the blocked half):
  // InvalidArgument if read-only, TooLarge over the maximum chunk size.
  Status Admit(uint64_t raw_size);
  // Gives a record's codec and payload (its pieces may point into *owned).
  using Encoder = std::function<Status(uint8_t* codec, std::string* owned, records::Payload* payload)>;
  // The one append path of Put and PutBlocks: dedup (a dedup hit while a
  // prune token is open is recorded), `encode` outside the shard lock only
  // if the chunk is not stored, the append, the counters.
  Status Store(const Digest& d, uint64_t raw_size, const Encoder& encode, PutResult* result);
  // A plain record of `data` (*payload: data itself when stored raw).
  void EncodePlain(std::string_view data, uint8_t* codec, std::string* owned, std::string_view* payload);
  // A blocked record of `data` (over one block), its blocks encoded on this thread.
  Status EncodeLarge(std::string_view data, uint8_t* codec, std::string* owned, std::string_view* payload);
  // Before the first blocked record: true once the header says version 4
  // (an older program must then refuse the repository), raising an older
  // one under header_mu_. False (logged) if it cannot: the chunk is then
  // stored as a plain record.
  bool BlocksAllowed();
  // Re-finds a chunk whose pack a read-only open found removed (the writer
  // compacted it away): true if *s says so and the chunk is still stored
  // (*loc: where now); *s becomes NotFound if it is not.
  bool RefindAfterCompaction(Status* s, const Digest& d, ChunkLocation* loc);
  // After a Corruption (*s) reading a location the merged index gave: true
  // if the idx files place the chunk elsewhere (*loc: there; read again),
  // false otherwise (*s: NotFound if they do not have it at all).
  bool RefindPastMerged(Status* s, const Digest& d, ChunkLocation* loc);
  // Prune helpers (repository_prune.cc).
  void EndPrune(uint64_t gen);
  Status CheckToken(const PruneToken& t);
  // shard_done(n) after each shard (n = 1..256), for PruneOptions::progress.
  Status PrunePass(const std::vector<Digest>& keep, uint64_t gen, bool dry_run, PruneResult* r,
                   const std::function<void(uint64_t)>& shard_done);
  static Status RefuseMistakes(const std::vector<Digest>& keep, const PruneOptions& o, const PruneResult& r);
  static constexpr size_t kMaxOpenTokens = 64;
  // Shards synced at once by one Sync round (this thread and helpers).
  static constexpr size_t kSyncThreads = 4;

  Status Fail(Status s) {
    if (!s.ok()) ctx_->errors++;
    return s;
  }

  std::unique_ptr<StoreContext> ctx_;
  std::array<std::unique_ptr<Shard>, 256> shards_;
  std::unique_ptr<FileLock> lock_;
  bool closed_ = false;

  // Group commit: ctx_->appends counts records written (under the shard
  // lock); synced_appends_ is the count the last successful Sync covered.
  // Sync holds sync_mu_ while it fsyncs; callers that arrive meanwhile find
  // their records covered and return.
  std::atomic<uint64_t> puts_{0};  // chunks stored by Put (stats)
  std::mutex sync_mu_;
  uint64_t synced_appends_ = 0;
  bool sync_failed_ = false;
  bool publish_pending_ = false;  // some shard's idx is not yet published

  std::atomic<uint64_t> dedup_hits_{0}, syncs_{0}, corrupt_reads_{0};
  const std::shared_ptr<DamageSink> damage_sink_ = std::make_shared<DamageSink>(this);

  // Deletion: tokens of this open (instance_ is random per open, so a token
  // never survives a reopen), one prune and one compaction at a time.
  const uint64_t instance_;
  std::mutex tokens_mu_;
  std::set<uint64_t> tokens_;
  std::mutex prune_mu_, compact_mu_;
  // One header rewrite at a time (a prune's version 2, blocked records' 4).
  std::mutex header_mu_;
  std::atomic<uint64_t> chunks_deleted_{0}, bytes_reclaimed_{0}, compactions_{0}, compaction_copied_{0};
  std::atomic<uint64_t> compaction_running_{0};
};

}  // namespace chunkfs
