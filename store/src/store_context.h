// State shared by the repository and its shards: immutable after Open except
// for the atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "chunkfs/env.h"
#include "chunkfs/repository.h"

namespace chunkfs {

struct StoreContext {
  Env* env = nullptr;
  std::string repo;
  RepoSettings settings;  // effective (header plus per-open overrides)
  bool read_only = false;
  std::function<void(const std::string&)> log;
  // Next pack id to allocate: one more than any id found on disk, so ids
  // never repeat (REQUIRES: only the lock holder allocates).
  std::atomic<uint64_t> next_pack_id{1};
  std::atomic<uint64_t> errors{0};
  // Records appended, counted under the shard lock at the append, so that a
  // dedup hit on a record not yet synced always sees it (group commit).
  std::atomic<uint64_t> appends{0};

  void Log(const std::string& msg) const {
    if (log) log(msg);
  }
};

}  // namespace chunkfs
