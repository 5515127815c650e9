// The Repository implementation: header, lock, shards, group commit.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chunkfs/repository.h"
#include "shard.h"
#include "store_context.h"

namespace chunkfs {

// Takes the owner lock of the repository at `path` (Busy names the holder).
Status LockRepository(Env* env, const std::string& path, std::unique_ptr<FileLock>* lock);
// Opens with `lock` already held (null for read-only). Used by Open and repair.
Status OpenLocked(const std::string& path, const OpenOptions& options, std::unique_ptr<FileLock> lock,
                  std::unique_ptr<Repository>* out);

class RepositoryImpl final : public Repository {
 public:
  explicit RepositoryImpl(std::unique_ptr<StoreContext> ctx);
  ~RepositoryImpl() override;

  Status OpenShards(std::unique_ptr<FileLock> lock);

  Status Put(std::string_view data, PutResult* result, const Digest* expected) override;
  Status Get(const Digest& digest, std::string* out) override;
  Status Stat(const Digest& digest, ChunkInfo* info) override;
  Status Sync() override;
  std::unique_ptr<DigestIterator> NewIterator() override;
  RepoStats GetStats() override;
  const RepoSettings& settings() const override { return ctx_->settings; }
  const std::string& path() const override { return ctx_->repo; }
  Status Close() override;

  Shard& shard(uint8_t i) { return *shards_[i]; }

 private:
  Status SyncShards(bool* publish_pending);
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
};

}  // namespace chunkfs
