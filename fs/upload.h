// Upload: the content of an /incoming file between open() and the commit.
//
// Content lives in memory while the shared WriteBudget allows it and spills
// to an unnamed temporary file (Env::NewTempFile: O_TMPFILE) in REPO/tmp when
// it does not, so memory for writes in flight stays under the budget however
// many writers there are (docs/MOUNT.md, "Memory"). Writes may land at any
// offset, holes read as zeros, and truncation works in both modes. All spill
// I/O goes through the Env, so tests inject its errors (FaultEnv).
//
// Commit() is idempotent: it stores the content through the given function
// only if it changed since the last commit, and otherwise returns the last
// result again (a dup'ed or forked descriptor is flushed several times).
// In memory, the store is handed a view of the buffer (no copy); a spilled
// upload is read back into one buffer while it holds a CommitGate slot, so
// at most CommitGate::slots() such buffers exist at once.
//
// With an IngestPipeline (ingest_pipeline.h), content of at least kBlockSize
// bytes is hashed and encoded in blocks as it is written, and Commit() hands
// the store the digest and the blocks (PutBlocksFn) instead of the bytes.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "grow_buffer.h"
#include "chunkfs/env.h"
#include "chunkfs/status.h"
#include "ingest_pipeline.h"

namespace chunkfs::fs {

// Bytes of memory that uploads may hold, shared by all of them.
class WriteBudget {
 public:
  explicit WriteBudget(uint64_t limit) : limit_(limit) {}
  // Raises the limit to `limit` if that is higher (at start-up, once the
  // repository's max_chunk is known).
  void RaiseLimit(uint64_t limit);
  bool TryAcquire(uint64_t n);
  void Release(uint64_t n);
  uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  uint64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // Content versions, increasing over all uploads (so that the newest commit
  // of a name wins, whichever upload made it).
  uint64_t NextVersion() { return version_.fetch_add(1, std::memory_order_relaxed) + 1; }

 private:
  std::atomic<uint64_t> limit_;
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> version_{0};
};

// Bounds how many large commits run at once. Hashing, compressing and
// storing a chunk is CPU-bound, so about one per core keeps the cores busy;
// each also holds up to a chunk of memory (a spilled upload read back, the
// store's buffers), so the bound is also the memory bound of commits
// (docs/MOUNT.md, "Memory"). Commits smaller than kMinBytes pass freely.
//
// Thread safety: all methods may be called concurrently.
class CommitGate {
 public:
  static constexpr uint64_t kMinBytes = 1 << 20;
  // `slots` 0: one per core (std::thread::hardware_concurrency(), at least 1).
  explicit CommitGate(unsigned slots = 0);
  CommitGate(const CommitGate&) = delete;
  CommitGate& operator=(const CommitGate&) = delete;

  // Holds a slot for a commit of `bytes` (none if below kMinBytes) from
  // construction to destruction, waiting for one if all are taken.
  class Pass {
   public:
    Pass(CommitGate* gate, uint64_t bytes);
    ~Pass();
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    CommitGate* gate_ = nullptr;  // null: no slot held
  };

  unsigned slots() const { return slots_; }
  unsigned in_use() const;
  uint64_t waits() const { return waits_.load(std::memory_order_relaxed); }  // commits that waited
  uint64_t peak() const { return peak_.load(std::memory_order_relaxed); }     // most slots in use at once

 private:
  void Acquire();
  void Release();

  const unsigned slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  unsigned in_use_ = 0;  // guarded by mu_
  std::atomic<uint64_t> waits_{0};
  std::atomic<uint64_t> peak_{0};
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
  // content spills, through `env` (nullptr: Env::Default()).
  // `pipeline` (optional, made with the same budget): see above.
  Upload(WriteBudget* budget, std::string tmp_dir, uint64_t max_size, Env* env = nullptr,
         std::unique_ptr<IngestPipeline> pipeline = nullptr);
  ~Upload();
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  // Sets the initial content (a committed name opened for writing without
  // O_TRUNC starts from the chunk's bytes). Call once, before anything else.
  int SetInitialContent(std::string content);

  // All return 0 or an errno. A write that fails (EFBIG beyond max_size:
  // nothing written; ENOSPC, EIO... of the spill file: maybe part written)
  // makes every later Commit() fail with its errno, so that nothing partial
  // is ever stored; a successful truncation clears that. A truncation beyond
  // max_size is EFBIG and changes nothing.
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
  // Commit(), in which case the last outcome (of storing, or of reading the
  // spill file back) is returned again. Returns 0 or an errno; on success
  // *result describes the stored chunk. With a `gate`, a commit of at least
  // CommitGate::kMinBytes holds one of its slots while it reads and stores.
  using PutFn = std::function<int(std::string_view content, CommitResult* result)>;
  // Stores content given as its digest and encoded blocks (used instead of
  // PutFn when the upload has a pipeline and at least kBlockSize bytes).
  // May return kPutWhole: the store cannot take blocks, use PutFn.
  using PutBlocksFn = std::function<int(const Digest& digest, std::vector<EncodedBlock> blocks, CommitResult* result)>;
  static constexpr int kPutWhole = -1;
  int Commit(const PutFn& put, CommitResult* result, bool* did_put = nullptr,
             CommitGate* gate = nullptr, const PutBlocksFn* put_blocks = nullptr);

  // The pipeline, or nullptr (for tests).
  const IngestPipeline* pipeline() const { return pipeline_.get(); }

 private:
  int EnsureCapacityLocked(uint64_t needed);
  int SpillLocked();
  int WriteLocked(uint64_t offset, std::string_view data);
  // Stores the spilled content (read into one buffer) through `put`.
  int PutSpilledLocked(uint64_t size, const PutFn& put, CommitResult* res);
  // Finishes the pipeline's work and stores the blocks through `put_blocks`.
  int PutPipelinedLocked(uint64_t size, const PutBlocksFn& put_blocks, CommitResult* res);

  WriteBudget* const budget_;
  const std::string tmp_dir_;
  const uint64_t max_size_;
  Env* const env_;

  mutable std::mutex mu_;
  GrowBuffer mem_;            // in-memory content (its capacity is what the budget holds)
  uint64_t reserved_ = 0;     // bytes of the budget held
  std::unique_ptr<TempFile> spill_;  // once spilled
  std::atomic<uint64_t> size_{0};
  std::atomic<bool> spilled_{false};
  int poisoned_ = 0;          // the errno of a failed write, until a truncation
  // Written under mu_, readable without it (dirty() is called under the
  // inode table's lock, which must never wait for a commit).
  std::atomic<uint64_t> version_;                // content version (from budget_->NextVersion())
  std::atomic<uint64_t> attempted_version_{0};  // version the last Commit() stored (or failed to)
  int last_err_ = 0;
  CommitResult last_;
  // Fed every change of the content, under mu_ (nullptr: none).
  const std::unique_ptr<IngestPipeline> pipeline_;
};

}  // namespace chunkfs::fs
