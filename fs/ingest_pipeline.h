// IngestPipeline: the work of storing a large upload, done while it is
// written (issue 9, docs/MOUNT.md "Memory").
//
// An Upload feeds it every change of its content. Bytes that arrive in
// sequence (each write starting where the written prefix ends) are hashed
// at once (incremental SHA-256), and every full block of kBlockSize raw
// bytes of that prefix is copied and encoded (EncodeBlock, through an
// injectable function) on a WorkerPool while the writer goes on. Finish()
// then only does the tail: it hashes what was not hashed, encodes the
// blocks that are missing (in parallel on the pool), waits for the pending
// ones and hands out the digest and the blocks for Repository::PutBlocks.
//
// Anything out of sequence falls back to the commit, keeping the state
// correct rather than clever:
// - a write, failed write or truncation touching the hashed prefix resets
//   the running hash (Finish hashes the content from the start);
// - a write, failed write or truncation touching an encoded (or pending)
//   block discards that block's encoding (Finish encodes it again from the
//   final content);
// - a write beyond the written prefix (a hole) stages nothing: its blocks
//   are encoded by Finish.
//
// Memory: the block being assembled and each encoded block hold bytes of
// the shared WriteBudget (the uploads' budget: kBlockSize while staged or
// encoding, the encoded size once done). When the budget says no, that
// block is not staged and Finish encodes it from the content. Blocks that
// Finish encodes are not counted (the commit holds a CommitGate slot, whose
// bound covers them, as it covered the whole chunk before).
//
// Thread safety: the methods are called by the owning Upload under its
// lock (one caller at a time); encoding tasks on the pool touch only the
// shared slot state, under its own mutex. The destructor waits for the
// pending tasks (they release budget bytes), so the budget must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/blocks.h"
#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs::fs {

class BlockBuffers;
class WorkerPool;
class WriteBudget;

class IngestPipeline {
 public:
  // Encodes one block (EncodeBlock with the repository's codec and level).
  // Called on pool threads, concurrently.
  using EncodeFn = std::function<Status(std::string_view raw, EncodedBlock* out)>;
  // Gives n content bytes at offset: *view points into stable content (the
  // upload's buffer) or into *owned. 0 or an errno.
  using ContentFn = std::function<int(uint64_t offset, size_t n, std::string* owned, std::string_view* view)>;

  // `pool` nullptr: every block is encoded by Finish on the caller's thread.
  // `buffers`: where the blocks being assembled come from (reused, so their
  // pages are not faulted in again for every block); nullptr: fresh ones.
  IngestPipeline(WorkerPool* pool, WriteBudget* budget, EncodeFn encode, BlockBuffers* buffers = nullptr);
  ~IngestPipeline();
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  // `data` was written at `offset`.
  void Wrote(uint64_t offset, std::string_view data);
  // Bytes in [begin, end) changed in an unknown way (a write that failed
  // part way).
  void Invalidate(uint64_t begin, uint64_t end);
  // The content was truncated (or extended with zeros) to `size`.
  void Truncated(uint64_t size);

  // The digest and the encoded blocks of the content, which has `size`
  // bytes and is read through `content`. 0 or an errno (a failed encode:
  // its Status's errno, EIO if none). Blocks given out are no longer held;
  // the running hash goes on (a later append continues it).
  int Finish(uint64_t size, const ContentFn& content, Digest* digest, std::vector<EncodedBlock>* blocks);

  // For tests and /.stats-like checks.
  uint64_t hashed() const { return hashed_; }
  uint64_t written_prefix() const { return frontier_; }
  uint64_t blocks_encoded_ahead() const;  // encoded or pending now
  uint64_t budget_held() const;           // bytes of the budget held now

 private:
  struct State;
  class Hash;

  void ResetHash();
  void WaitPending();
  // Discards the encodings of blocks overlapping [begin, end) and the
  // staged bytes there, and resets the hash if it covers any of it.
  void Touch(uint64_t begin, uint64_t end);
  // Appends the in-sequence part of a write to the stage, submitting
  // each block it fills.
  void Stage(uint64_t offset, std::string_view data);
  void DropStage();
  // Queues the encoding of block i from `raw` (owned by the task), which
  // holds `reserved` budget bytes.
  void Submit(uint64_t i, std::shared_ptr<std::string> raw, std::string_view view, uint64_t reserved);

  WorkerPool* const pool_;
  WriteBudget* const budget_;
  BlockBuffers* const buffers_;
  const EncodeFn encode_;
  std::shared_ptr<State> state_;
  std::unique_ptr<Hash> hash_;
  uint64_t hashed_ = 0;    // the hash covers content [0, hashed_)
  uint64_t frontier_ = 0;  // content [0, frontier_) was all written
  // The block being assembled: content [stage_block_ * kBlockSize, frontier_),
  // if staging_ (it holds kBlockSize budget bytes then).
  bool staging_ = false;
  uint64_t stage_block_ = 0;
  std::shared_ptr<std::string> stage_;
};

}  // namespace chunkfs::fs
