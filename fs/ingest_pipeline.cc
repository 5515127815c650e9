#include "ingest_pipeline.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>

#include "block_buffers.h"
#include "upload.h"
#include "worker_pool.h"

namespace chunkfs::fs {

namespace {
constexpr uint64_t kB = chunkfs::kBlockSize;

int ErrnoOf(const Status& s) {
  int err = s.ToErrno();
  return err ? err : EIO;
}
}  // namespace

// A running SHA-256 that can give the digest so far and go on (EVP, so that
// the state can be copied: Sha256Hasher's Finish ends it).
class IngestPipeline::Hash {
 public:
  Hash() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
  }
  ~Hash() { EVP_MD_CTX_free(ctx_); }
  Hash(const Hash&) = delete;
  Hash& operator=(const Hash&) = delete;
  void Update(std::string_view data) {
    if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
  }
  Digest Current() const {
    Digest d;
    EVP_MD_CTX* copy = EVP_MD_CTX_new();
    unsigned len = 0;
    bool ok = copy != nullptr && EVP_MD_CTX_copy_ex(copy, ctx_) == 1 &&
              EVP_DigestFinal_ex(copy, d.bytes.data(), &len) == 1 && len == Digest::kSize;
    EVP_MD_CTX_free(copy);
    if (!ok) throw std::runtime_error("EVP_DigestFinal_ex failed");
    return d;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The encodings of the blocks, shared with the tasks on the pool.
struct IngestPipeline::State {
  enum class Slot : uint8_t { kNone, kPending, kDone };
  struct Block {
    Slot slot = Slot::kNone;
    uint64_t gen = 0;       // bumped when an encoding is discarded: a pending task's result is then dropped
    uint64_t reserved = 0;  // budget bytes held by the encoding (kDone)
    EncodedBlock block;
  };
  explicit State(WriteBudget* b) : budget(b) {}

  WriteBudget* const budget;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Block> blocks;  // by block number; guarded by mu
  uint64_t pending = 0;       // tasks queued or running; guarded by mu
  uint64_t held = 0;          // budget bytes held by slots and tasks; guarded by mu

  Block& At(uint64_t i) {  // REQUIRES: mu held
    if (blocks.size() <= i) blocks.resize(i + 1);
    return blocks[i];
  }
  // Drops block i's encoding (REQUIRES: mu held).
  void DiscardLocked(uint64_t i) {
    if (i >= blocks.size()) return;
    Block& b = blocks[i];
    if (b.slot == Slot::kPending) b.gen++;  // the task gives its bytes back
    if (b.slot == Slot::kDone) {
      budget->Release(b.reserved);
      held -= b.reserved;
      b.reserved = 0;
      b.block = EncodedBlock();
    }
    b.slot = Slot::kNone;
  }
  // A task's end: keeps the result if block i still wants it.
  void Done(uint64_t i, uint64_t gen, uint64_t reserved, Status s, EncodedBlock&& out) {
    std::lock_guard<std::mutex> l(mu);
    Block& b = blocks[i];
    uint64_t release = reserved;
    if (b.gen == gen && b.slot == Slot::kPending) {
      b.slot = Slot::kNone;  // a failure: Finish encodes it again (and reports a second failure)
      if (s.ok()) {
        b.slot = Slot::kDone;
        b.reserved = std::min<uint64_t>(reserved, out.bytes.size());
        release = reserved - b.reserved;
        b.block = std::move(out);
      }
    }
    if (release > 0) {
      budget->Release(release);
      held -= release;
    }
    pending--;
    cv.notify_all();
  }
};

IngestPipeline::IngestPipeline(WorkerPool* pool, WriteBudget* budget, EncodeFn encode, BlockBuffers* buffers)
    : pool_(pool), budget_(budget), buffers_(buffers), encode_(std::move(encode)), state_(std::make_shared<State>(budget)),
      hash_(std::make_unique<Hash>()) {}

IngestPipeline::~IngestPipeline() {
  DropStage();
  WaitPending();
  std::lock_guard<std::mutex> l(state_->mu);
  for (uint64_t i = 0; i < state_->blocks.size(); i++) state_->DiscardLocked(i);
}

uint64_t IngestPipeline::blocks_encoded_ahead() const {
  std::lock_guard<std::mutex> l(state_->mu);
  uint64_t n = 0;
  for (const auto& b : state_->blocks) n += b.slot != State::Slot::kNone;
  return n;
}

uint64_t IngestPipeline::budget_held() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->held + (staging_ ? kB : 0);
}

void IngestPipeline::WaitPending() {
  std::unique_lock<std::mutex> l(state_->mu);
  state_->cv.wait(l, [this] { return state_->pending == 0; });
}

void IngestPipeline::ResetHash() {
  hash_ = std::make_unique<Hash>();
  hashed_ = 0;
}

void IngestPipeline::DropStage() {
  if (!staging_) return;
  staging_ = false;
  stage_.reset();
  budget_->Release(kB);
}

void IngestPipeline::Touch(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  if (begin < hashed_) ResetHash();
  std::lock_guard<std::mutex> l(state_->mu);
  for (uint64_t i = begin / kB; i <= (end - 1) / kB && i < state_->blocks.size(); i++) state_->DiscardLocked(i);
}

void IngestPipeline::Submit(uint64_t i, std::shared_ptr<std::string> raw, std::string_view view, uint64_t reserved) {
  uint64_t gen;
  {
    std::lock_guard<std::mutex> l(state_->mu);
    State::Block& b = state_->At(i);
    state_->DiscardLocked(i);
    b.slot = State::Slot::kPending;
    gen = b.gen;
    state_->pending++;
    state_->held += reserved;
  }
  // `raw` keeps `view` alive (null: it points into content that stays put
  // until the task is waited for, in Finish).
  auto task = [state = state_, encode = encode_, raw = std::move(raw), view, i, gen, reserved] {
    EncodedBlock out;
    Status s;
    try {
      s = encode(view, &out);
    } catch (const std::bad_alloc&) {
      s = Status::IOError("encoding a block: out of memory", ENOMEM);
    }
    state->Done(i, gen, reserved, std::move(s), std::move(out));
  };
  if (pool_ != nullptr) {
    pool_->Submit(std::move(task));
  } else {
    task();
  }
}

void IngestPipeline::Stage(uint64_t offset, std::string_view data) {
  const uint64_t end = offset + data.size();
  if (offset > frontier_ || end <= frontier_) return;
  for (uint64_t pos = frontier_; pos < end;) {
    const uint64_t blk = pos / kB;
    const uint64_t blk_end = (blk + 1) * kB;
    if (pos == blk * kB && budget_->TryAcquire(kB)) {  // a block starts: stage it if the budget allows
      try {
        stage_ = buffers_ ? buffers_->Get() : std::make_shared<std::string>();
        stage_->reserve(kB);
        staging_ = true;
        stage_block_ = blk;
      } catch (const std::bad_alloc&) {
        stage_.reset();
        budget_->Release(kB);
      }
    }
    const uint64_t take = std::min(end, blk_end) - pos;
    if (staging_) stage_->append(data.data() + (pos - offset), take);
    pos += take;
    if (pos == blk_end && staging_) {
      staging_ = false;  // its budget bytes go with it
      std::string_view view(*stage_);
      Submit(blk, std::move(stage_), view, kB);
    }
  }
  frontier_ = end;
}

void IngestPipeline::Wrote(uint64_t offset, std::string_view data) {
  if (data.empty()) return;
  const uint64_t end = offset + data.size();
  Touch(offset, end);
  if (offset == hashed_) {
    hash_->Update(data);
    hashed_ = end;
  }
  if (staging_) {  // overwrites of the staged bytes go into the stage
    const uint64_t s0 = stage_block_ * kB;
    const uint64_t lo = std::max(offset, s0), hi = std::min(end, frontier_);
    if (lo < hi) std::memcpy(stage_->data() + (lo - s0), data.data() + (lo - offset), hi - lo);
  }
  Stage(offset, data);
}

void IngestPipeline::Invalidate(uint64_t begin, uint64_t end) {
  Touch(begin, end);
  if (staging_ && begin < frontier_ && end > stage_block_ * kB) DropStage();
}

void IngestPipeline::Truncated(uint64_t size) {
  if (size < hashed_) ResetHash();
  {
    std::lock_guard<std::mutex> l(state_->mu);
    for (uint64_t i = size / kB; i < state_->blocks.size(); i++) state_->DiscardLocked(i);  // now partial or gone
  }
  if (size >= frontier_) return;  // zeros beyond the written prefix are not counted as written
  frontier_ = size;
  if (!staging_) return;
  if (size >= stage_block_ * kB) {
    stage_->resize(size - stage_block_ * kB);
  } else {
    DropStage();
  }
}

int IngestPipeline::Finish(uint64_t size, const ContentFn& content, Digest* digest,
                           std::vector<EncodedBlock>* blocks) {
  const uint64_t n = (size + kB - 1) / kB;
  // Hash what is not hashed yet; queue the blocks nobody encoded.
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t b0 = i * kB, len = std::min(kB, size - b0);
    const bool need_hash = hashed_ < b0 + len;
    bool missing;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      missing = state_->At(i).slot == State::Slot::kNone;
    }
    if (!need_hash && !missing) continue;
    auto owned = std::make_shared<std::string>();
    std::string_view view;
    if (int err = content(b0, len, owned.get(), &view)) {
      WaitPending();  // the queued tasks may point into the content
      return err;
    }
    if (need_hash) {  // hashed_ >= b0: the blocks before were hashed
      hash_->Update(view.substr(hashed_ - b0));
      hashed_ = b0 + len;
    }
    if (missing) Submit(i, view.data() == owned->data() ? std::move(owned) : nullptr, view, 0);
  }
  WaitPending();
  // A block whose encoding failed on the pool is encoded once more here.
  blocks->clear();
  blocks->reserve(n);
  for (uint64_t i = 0; i < n; i++) {
    const uint64_t b0 = i * kB, len = std::min(kB, size - b0);
    EncodedBlock b;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      State::Block& s = state_->blocks[i];
      if (s.slot == State::Slot::kDone && s.block.raw_len == len) b = std::move(s.block);
      state_->DiscardLocked(i);
    }
    if (b.raw_len != len) {
      std::string owned;
      std::string_view view;
      if (int err = content(b0, len, &owned, &view)) return err;
      if (Status s = encode_(view, &b); !s.ok()) return ErrnoOf(s);
    }
    blocks->push_back(std::move(b));
  }
  *digest = hash_->Current();
  return 0;
}

}  // namespace chunkfs::fs
