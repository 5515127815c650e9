#include "upload.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chunkfs::fs {

namespace {
constexpr uint64_t kMinAlloc = 64 << 10;

int PwriteAll(int fd, const char* p, size_t n, uint64_t off) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return 0;
}

int OpenTempFile(const std::string& dir, int* fd_out) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    // No O_TMPFILE on this file system: a named file, unlinked at once.
    std::string tmpl = dir + "/upload-XXXXXX";
    fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(tmpl.c_str());
  }
  if (fd < 0) return errno;
  *fd_out = fd;
  return 0;
}
}  // namespace

bool WriteBudget::TryAcquire(uint64_t n) {
  uint64_t cur = used_.load(std::memory_order_relaxed);
  while (true) {
    if (n > limit_ || cur > limit_ - n) return false;
    if (used_.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed)) return true;
  }
}

void WriteBudget::Release(uint64_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }

Upload::Upload(WriteBudget* budget, std::string tmp_dir, uint64_t max_size)
    : budget_(budget),
      tmp_dir_(std::move(tmp_dir)),
      max_size_(max_size),
      version_(budget->NextVersion()) {}

Upload::~Upload() {
  if (reserved_ > 0) budget_->Release(reserved_);
  if (fd_ >= 0) ::close(fd_);
}

bool Upload::dirty() const { return version_.load() != attempted_version_.load(); }

uint64_t Upload::version() const { return version_.load(); }

int Upload::SpillLocked() {
  int fd = -1;
  if (int err = OpenTempFile(tmp_dir_, &fd)) return err;
  uint64_t n = size_.load();
  if (n > 0) {
    if (int err = PwriteAll(fd, mem_.data(), n, 0)) {
      ::close(fd);
      return err;
    }
  }
  fd_ = fd;
  std::vector<char>().swap(mem_);
  budget_->Release(reserved_);
  reserved_ = 0;
  spilled_.store(true);
  return 0;
}

// Makes mem_ able to hold `needed` bytes, within the budget, or spills.
int Upload::EnsureCapacityLocked(uint64_t needed) {
  if (fd_ >= 0 || needed <= mem_.capacity()) return 0;
  uint64_t cap = mem_.capacity();
  uint64_t want = std::min<uint64_t>(max_size_, std::max<uint64_t>({needed, cap * 2, kMinAlloc}));
  for (uint64_t target : {want, needed}) {
    if (target < needed) continue;
    if (budget_->TryAcquire(target - reserved_)) {
      try {
        mem_.reserve(target);
      } catch (const std::bad_alloc&) {
        budget_->Release(target - reserved_);
        return SpillLocked();
      }
      reserved_ = target;
      return 0;
    }
  }
  return SpillLocked();
}

int Upload::SetInitialContent(std::string content) {
  std::lock_guard<std::mutex> l(mu_);
  if (content.size() > max_size_) return EFBIG;
  if (int err = EnsureCapacityLocked(content.size())) return err;
  if (fd_ >= 0) {
    if (int err = PwriteAll(fd_, content.data(), content.size(), 0)) return err;
  } else {
    mem_.assign(content.begin(), content.end());
  }
  size_.store(content.size());
  version_ = budget_->NextVersion();
  return 0;
}

int Upload::Write(uint64_t offset, std::string_view data) {
  std::lock_guard<std::mutex> l(mu_);
  if (offset > max_size_ || data.size() > max_size_ - offset) {
    poisoned_ = EFBIG;
    version_ = budget_->NextVersion();
    return EFBIG;
  }
  if (data.empty()) return 0;
  uint64_t end = offset + data.size();
  uint64_t size = size_.load();
  if (int err = EnsureCapacityLocked(std::max(end, size))) return err;
  if (fd_ >= 0) {
    if (int err = PwriteAll(fd_, data.data(), data.size(), offset)) return err;
  } else {
    if (end > mem_.size()) mem_.resize(end);  // within capacity; a hole reads as zeros
    std::memcpy(mem_.data() + offset, data.data(), data.size());
  }
  if (end > size) size_.store(end);
  version_ = budget_->NextVersion();
  return 0;
}

int Upload::SpillTruncateLocked(uint64_t size) {
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

int Upload::Truncate(uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  if (size > max_size_) return EFBIG;
  if (int err = EnsureCapacityLocked(size)) return err;
  if (fd_ >= 0) {
    if (int err = SpillTruncateLocked(size)) return err;
  } else {
    mem_.resize(size);
  }
  size_.store(size);
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
  if (fd_ < 0) {
    out->assign(mem_.data() + offset, n);
    return 0;
  }
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (r == 0) break;  // cannot happen (size_ is kept); holes are zeros
    got += static_cast<size_t>(r);
  }
  out->resize(got);
  return 0;
}

int Upload::Commit(const PutFn& put, CommitResult* result, bool* did_put) {
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
  if (fd_ < 0) {
    err = put(std::string_view(mem_.data(), size), &res);
  } else if (size == 0) {
    err = put(std::string_view(), &res);
  } else {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd_, 0);
    if (map == MAP_FAILED) return errno;  // nothing attempted: a later flush retries
    err = put(std::string_view(static_cast<const char*>(map), size), &res);
    ::munmap(map, size);
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
