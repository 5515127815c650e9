// Compactor: the mount's background compaction (docs/MOUNT.md "Background
// compaction").
//
// A thread that gives back the space of deleted chunks: after a prune
// (Kick), and every interval if the dead bytes grew since its last round
// (a prune made while unmounted, say). A round calls Repository::Compact
// with the byte rate limit, at most `batch_bytes` copied per call, until
// nothing is left to copy or Stop(); so Stop waits for one batch at most.
// Memory: the store's (one record in flight plus one shard's entry lists).
// Never throws: a failure (a Status, or an exception such as bad_alloc) is
// counted and logged, and the round is tried again at the next interval;
// the mount keeps serving.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "chunkfs/repository.h"

namespace chunkfs::fs {

struct CompactorConfig {
  uint64_t bytes_per_second = 64ull << 20;  // 0: no limit
  uint64_t interval_ms = 60000;
  uint64_t batch_bytes = 64ull << 20;  // copied per Compact call at most (then Stop is looked at)
};

class Compactor {
 public:
  using Logger = std::function<void(const std::string&)>;

  // `repo` must outlive the thread (Stop before closing it).
  Compactor(Repository* repo, const CompactorConfig& config, Logger log);
  ~Compactor();
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  void Start();
  // Stops the thread after the batch in progress. Idempotent.
  void Stop();
  // Asks for a round now (after a prune).
  void Kick();

  const CompactorConfig& config() const { return config_; }
  uint64_t rounds() const { return rounds_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  void Loop();
  // One round; false if it failed.
  bool Round() noexcept;
  bool Stopping();

  Repository* const repo_;
  const CompactorConfig config_;
  const Logger log_;

  std::mutex mu_;  // guards stop_, kicked_
  std::condition_variable cv_;
  bool stop_ = false;
  bool kicked_ = false;
  std::thread thread_;

  uint64_t dead_left_ = 0;  // dead bytes the last successful round left (thread only)
  std::atomic<uint64_t> rounds_{0};
  std::atomic<uint64_t> failures_{0};
};

}  // namespace chunkfs::fs
