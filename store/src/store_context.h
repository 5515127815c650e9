// State shared by the repository and its shards: immutable after Open except
// for the atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "chunkfs/env.h"
#include "chunkfs/repository.h"
#include "file_cache.h"

namespace chunkfs {

struct StoreContext {
  std::shared_ptr<Env> env_owner;  // first: destroyed last (OpenOptions::env_owner)
  Env* env = nullptr;
  std::string repo;
  RepoSettings settings;  // effective (header plus per-open overrides)
  // The header's format version; raised by the first deletion.
  std::atomic<uint32_t> format_version{0};
  bool read_only = false;
  bool merged_index = true;  // OpenOptions::merged_index
  std::function<void(const std::string&)> log;
  // Next pack id to allocate: one more than any id found on disk, so ids
  // never repeat (REQUIRES: only the lock holder allocates).
  std::atomic<uint64_t> next_pack_id{1};
  std::atomic<uint64_t> errors{0};
  // Records appended, counted under the shard lock at the append, so that a
  // dedup hit on a record not yet synced always sees it (group commit).
  std::atomic<uint64_t> appends{0};

  // Prune tokens: the generation of the newest token, and how many are
  // open. While any is open, every store, dedup hit and touch records the
  // current generation for its digest (Shard::used_gen_).
  std::atomic<uint64_t> prune_gen{0};
  std::atomic<int> tokens_open{0};
  // Moves after every change of tokens_open (under the repository's token
  // lock): a dedup hit compares it before and after its lookup to learn
  // whether a token was opened or closed meanwhile (RepositoryImpl::Store).
  std::atomic<uint64_t> token_events{0};
  std::function<void(const Digest&)> test_after_dedup_lookup;  // OpenOptions'; empty: none

  // Open pack files for reads, bounded (OpenOptions::max_open_files).
  std::unique_ptr<FileCache> files;

  void Log(const std::string& msg) const {
    if (log) log(msg);
  }

  // Chunks whose record was dropped before it became durable (its pack
  // failed to sync and the record could not be read back to be written
  // again). While any is left, every Sync fails: a Sync that returned OK
  // would acknowledge a chunk that is gone. Storing the chunk again (a Put
  // of the same content) clears it. Thread safety: any thread.
  void NoteLost(const Digest& d) {
    std::lock_guard<std::mutex> l(lost_mu_);
    lost_.insert(d);
  }
  void ClearLost(const Digest& d) {
    std::lock_guard<std::mutex> l(lost_mu_);
    lost_.erase(d);
  }
  // True if a chunk is lost; *first gets one of them.
  bool AnyLost(Digest* first) const {
    std::lock_guard<std::mutex> l(lost_mu_);
    if (lost_.empty()) return false;
    *first = *lost_.begin();
    return true;
  }

 private:
  mutable std::mutex lost_mu_;
  std::set<Digest> lost_;
};

}  // namespace chunkfs
