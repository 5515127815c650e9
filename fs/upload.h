// Upload: the content of an /incoming file between open() and the commit.
//
// Content lives in memory while the shared WriteBudget allows it and spills
// to an unnamed temporary file (O_TMPFILE) in REPO/tmp when it does not, so
// memory for writes in flight stays under the budget however many writers
// there are (docs/MOUNT.md, "Memory"). Writes may land at any offset, holes
// read as zeros, and truncation works in both modes.
//
// Commit() is idempotent: it stores the content through the given function
// only if it changed since the last commit, and otherwise returns the last
// result again (a dup'ed or forked descriptor is flushed several times).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs::fs {

// Bytes of memory that uploads may hold, shared by all of them.
class WriteBudget {
 public:
  explicit WriteBudget(uint64_t limit) : limit_(limit) {}
  bool TryAcquire(uint64_t n);
  void Release(uint64_t n);
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_; }
  // Content versions, increasing over all uploads (so that the newest commit
  // of a name wins, whichever upload made it).
  uint64_t NextVersion() { return version_.fetch_add(1, std::memory_order_relaxed) + 1; }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> version_{0};
};

struct CommitResult {
  Digest digest;
  uint64_t size = 0;
  bool was_new = false;
  uint64_t version = 0;  // the Upload version that was stored
};

class Upload {
 public:
  // `max_size`: the largest content allowed (EFBIG beyond it). `tmp_dir`: where
  // content spills.
  Upload(WriteBudget* budget, std::string tmp_dir, uint64_t max_size);
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // Sets the initial content (a committed name opened for writing without
  // O_TRUNC starts from the chunk's bytes). Call once, before anything else.
  int SetInitialContent(std::string content);

  // All return 0 or an errno. A write or truncation beyond max_size returns
  // EFBIG, changes nothing and makes every later Commit() fail with EFBIG
  // (nothing partial is ever stored); a truncation to a valid size clears it.
  int Write(uint64_t offset, std::string_view data);
  int Truncate(uint64_t size);
  // Reads up to n bytes at offset (fewer at the end).
  int Read(uint64_t offset, size_t n, std::string* out);

  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  bool spilled() const { return spilled_.load(std::memory_order_relaxed); }
  // True if the content changed since the last commit attempt, successful
  // or not (or no commit was ever attempted).
  bool dirty() const;
  // Content version: incremented by each change.
  uint64_t version() const;

  // Stores the content through `put` unless it is unchanged since the last
  // Commit(), in which case the last outcome is returned again. Returns 0 or
  // an errno; on success *result describes the stored chunk.
  using PutFn = std::function<int(std::string_view content, CommitResult* result)>;
  int Commit(const PutFn& put, CommitResult* result, bool* did_put = nullptr);

 private:
  int EnsureCapacityLocked(uint64_t needed);
  int SpillLocked();
  int SpillTruncateLocked(uint64_t size);

  WriteBudget* const budget_;
  const std::string tmp_dir_;
  const uint64_t max_size_;

  mutable std::mutex mu_;
  std::vector<char> mem_;     // in-memory content (its capacity is what the budget holds)
  uint64_t reserved_ = 0;     // bytes of the budget held
  int fd_ = -1;               // spill file, once spilled
  std::atomic<uint64_t> size_{0};
  std::atomic<bool> spilled_{false};
  int poisoned_ = 0;          // EFBIG after an oversized write
  // Written under mu_, readable without it (dirty() is called under the
  // inode table's lock, which must never wait for a commit).
  std::atomic<uint64_t> version_;                // content version (from budget_->NextVersion())
  std::atomic<uint64_t> attempted_version_{0};  // version the last Commit() stored (or failed to)
  int last_err_ = 0;
  CommitResult last_;
};

}  // namespace chunkfs::fs
