#include "upload.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <thread>

namespace chunkfs::fs {

namespace {
constexpr uint64_t kMinAlloc = 64 << 10;

// The errno of a failed Env call (EIO if it carries none).
int ErrnoOf(const Status& s) {
  int err = s.ToErrno();
  return err ? err : EIO;
}
}  // namespace

void WriteBudget::RaiseLimit(uint64_t limit) {
  uint64_t cur = limit_.load(std::memory_order_relaxed);
  while (cur < limit && !limit_.compare_exchange_weak(cur, limit, std::memory_order_relaxed)) {
  }
}

bool WriteBudget::TryAcquire(uint64_t n) {
  uint64_t cur = used_.load(std::memory_order_relaxed);
  while (true) {
    const uint64_t limit = limit_.load(std::memory_order_relaxed);
    if (n > limit || cur > limit - n) return false;
    if (used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) return true;
  }
}

void WriteBudget::Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

// ------------------------------------------------------------ CommitGate

CommitGate::CommitGate(unsigned slots)
    : slots_(slots != 0 ? slots : std::max(1u, std::thread::hardware_concurrency())) {}

unsigned CommitGate::in_use() const {
  std::lock_guard<std::mutex> l(mu_);
  return in_use_;
}

void CommitGate::Acquire() {
  std::unique_lock<std::mutex> l(mu_);
  if (in_use_ >= slots_) {
    waits_.fetch_add(1, std::memory_order_relaxed);
    cv_.wait(l, [this] { return in_use_ < slots_; });
  }
  ++in_use_;
  if (in_use_ > peak_.load(std::memory_order_relaxed)) peak_.store(in_use_, std::memory_order_relaxed);
}

void CommitGate::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    --in_use_;
  }
  cv_.notify_one();
}

CommitGate::Pass::Pass(CommitGate* gate, uint64_t bytes) {
  if (gate == nullptr || bytes < kMinBytes) return;
  gate->Acquire();
  gate_ = gate;
}

CommitGate::Pass::~Pass() {
  if (gate_ != nullptr) gate_->Release();
}

// ---------------------------------------------------------------- Upload

Upload::Upload(WriteBudget* budget, std::string tmp_dir, uint64_t max_size, Env* env,
               std::unique_ptr<IngestPipeline> pipeline)
    : budget_(budget),
      tmp_dir_(std::move(tmp_dir)),
      max_size_(max_size),
      env_(env != nullptr ? env : Env::Default()),
      version_(budget->NextVersion()),
      pipeline_(std::move(pipeline)) {}

Upload::~Upload() {
  if (reserved_ > 0) budget_->Release(reserved_);
}

bool Upload::dirty() const { return version_.load() != attempted_version_.load(); }

uint64_t Upload::version() const { return version_.load(); }

// Moves the content to a new temporary file; on failure nothing changes.
int Upload::SpillLocked() {
  std::unique_ptr<TempFile> file;
  if (Status s = env_->NewTempFile(tmp_dir_, &file); !s.ok()) return ErrnoOf(s);
  uint64_t n = size_.load();
  if (n > 0) {
    if (Status s = file->Write(0, std::string_view(mem_.data(), n)); !s.ok()) return ErrnoOf(s);
  }
  spill_ = std::move(file);
  mem_.Release();
  budget_->Release(reserved_);
  reserved_ = 0;
  spilled_.store(true);
  return 0;
}

// Makes mem_ able to hold `needed` bytes, within the budget, or spills.
int Upload::EnsureCapacityLocked(uint64_t needed) {
  if (spill_ || needed <= mem_.capacity()) return 0;
  uint64_t cap = mem_.capacity();
  uint64_t want = std::min<uint64_t>(max_size_, std::max<uint64_t>({needed, cap * 2, kMinAlloc}));
  for (uint64_t target : {want, needed}) {
    if (target < needed) continue;
    if (budget_->TryAcquire(target - reserved_)) {
      if (!mem_.Reserve(target)) {
        budget_->Release(target - reserved_);
        return SpillLocked();
      }
      reserved_ = target;
      return 0;
    }
  }
  return SpillLocked();
}

// Writes `data` at `offset` (within max_size_) and bumps the version.
int Upload::WriteLocked(uint64_t offset, std::string_view data) {
  uint64_t end = offset + data.size();
  uint64_t size = size_.load();
  if (int err = EnsureCapacityLocked(std::max(end, size))) return err;
  if (spill_) {
    if (Status s = spill_->Write(offset, data); !s.ok()) return ErrnoOf(s);
  } else {
    if (offset > mem_.size()) mem_.Resize(offset);  // within capacity; a hole reads as zeros
    if (end > mem_.size()) mem_.Extend(end);        // the bytes written next
    std::memcpy(mem_.data() + offset, data.data(), data.size());
  }
  if (end > size) size_.store(end);
  version_ = budget_->NextVersion();
  if (pipeline_) pipeline_->Wrote(offset, data);
  return 0;
}

int Upload::SetInitialContent(std::string content) {
  std::lock_guard<std::mutex> l(mu_);
  if (content.size() > max_size_) return EFBIG;
  if (content.empty()) return 0;
  return WriteLocked(0, content);
}

int Upload::Write(uint64_t offset, std::string_view data) {
  std::lock_guard<std::mutex> l(mu_);
  int err = 0;
  if (offset > max_size_ || data.size() > max_size_ - offset) {
    err = EFBIG;  // checked before anything is written: all or nothing
  } else if (!data.empty()) {
    err = WriteLocked(offset, data);
  }
  if (err != 0) {
    // The writer was told this write failed: no commit may store the
    // content without it (or with part of it).
    poisoned_ = err;
    version_ = budget_->NextVersion();
    // A spill write may have changed part of the range.
    if (pipeline_ && err != EFBIG) pipeline_->Invalidate(offset, offset + data.size());
  }
  return err;
}

int Upload::Truncate(uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  if (size > max_size_) return EFBIG;
  if (int err = EnsureCapacityLocked(size)) return err;
  if (spill_) {
    if (Status s = spill_->Truncate(size); !s.ok()) {
      if (pipeline_) pipeline_->Invalidate(std::min(size, size_.load()), std::max(size, size_.load()));
      return ErrnoOf(s);
    }
  } else {
    mem_.Resize(size);
  }
  size_.store(size);
  if (pipeline_) pipeline_->Truncated(size);
  poisoned_ = 0;
  version_ = budget_->NextVersion();
  return 0;
}

int Upload::Read(uint64_t offset, size_t n, std::string* out) {
  std::lock_guard<std::mutex> l(mu_);
  out->clear();
  uint64_t size = size_.load();
  if (offset >= size) return 0;
  n = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
  if (!spill_) {
    out->assign(mem_.data() + offset, n);
    return 0;
  }
  out->resize(n);
  size_t got = 0;
  if (Status s = spill_->Read(offset, n, out->data(), &got); !s.ok()) {
    out->clear();
    return ErrnoOf(s);
  }
  out->resize(got);  // got < n cannot happen (size_ is kept); holes are zeros
  return 0;
}

int Upload::PutSpilledLocked(uint64_t size, const PutFn& put, CommitResult* res) {
  std::unique_ptr<char[]> buf(new (std::nothrow) char[size]);
  if (!buf) return ENOMEM;
  size_t got = 0;
  if (Status s = spill_->Read(0, size, buf.get(), &got); !s.ok()) return ErrnoOf(s);
  if (got != size) return EIO;  // the spill file lost its tail: never store a part
  return put(std::string_view(buf.get(), size), res);
}

int Upload::PutPipelinedLocked(uint64_t size, const PutBlocksFn& put_blocks, CommitResult* res) {
  auto content = [this](uint64_t offset, size_t n, std::string* owned, std::string_view* view) {
    if (!spill_) {
      *view = std::string_view(mem_.data() + offset, n);
      return 0;
    }
    owned->resize(n);
    size_t got = 0;
    if (Status s = spill_->Read(offset, n, owned->data(), &got); !s.ok()) return ErrnoOf(s);
    if (got != n) return EIO;  // the spill file lost its tail: never store a part
    *view = *owned;
    return 0;
  };
  Digest digest;
  std::vector<EncodedBlock> blocks;
  if (int err = pipeline_->Finish(size, content, &digest, &blocks)) return err;
  return put_blocks(digest, std::move(blocks), res);
}

int Upload::Commit(const PutFn& put, CommitResult* result, bool* did_put, CommitGate* gate,
                   const PutBlocksFn* put_blocks) {
  std::lock_guard<std::mutex> l(mu_);
  if (did_put) *did_put = false;
  if (poisoned_) return poisoned_;
  if (version_ == attempted_version_) {
    if (last_err_ == 0) *result = last_;
    return last_err_;
  }
  uint64_t size = size_.load();
  CommitResult res;
  int err;
  {
    CommitGate::Pass pass(gate, size);
    const bool blocks = pipeline_ && put_blocks && size >= chunkfs::kBlockSize;
    err = blocks ? PutPipelinedLocked(size, *put_blocks, &res) : kPutWhole;
    if (err == kPutWhole) {
      err = spill_ && size > 0 ? PutSpilledLocked(size, put, &res) : put(std::string_view(mem_.data(), size), &res);
    }
  }
  if (did_put) *did_put = true;
  attempted_version_.store(version_.load());
  last_err_ = err;
  if (err == 0) {
    res.size = size;
    res.version = version_.load();
    last_ = res;
    *result = res;
  }
  return err;
}

}  // namespace chunkfs::fs
