#include "file_cache.h"

#include <sys/resource.h>

#include <algorithm>
#include <cassert>

namespace chunkfs {

FileCache::FileCache(Env* env, size_t capacity) : env_(env), capacity_(std::max<size_t>(capacity, 1)) {}

Status FileCache::Get(const std::string& path, std::shared_ptr<RandomAccessFile>* out) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(path);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      *out = it->second->second;
      return Status::OK();
    }
  }
  // Opened outside the lock: an open may block on the disk.
  std::unique_ptr<RandomAccessFile> f;
  Status s = env_->NewRandomAccessFile(path, &f);
  if (!s.ok()) return s;
  std::shared_ptr<RandomAccessFile> file = std::move(f);
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(path);
  if (it != map_.end()) {  // another reader opened it meanwhile: use theirs
    lru_.splice(lru_.begin(), lru_, it->second);
    *out = it->second->second;
    return Status::OK();
  }
  lru_.emplace_front(path, file);
  map_[path] = lru_.begin();
  while (lru_.size() > capacity_) {
    map_.erase(lru_.back().first);
    lru_.pop_back();  // closes the file once no read holds it
  }
  assert(map_.size() == lru_.size() && lru_.size() <= capacity_);
  *out = std::move(file);
  return Status::OK();
}

void FileCache::Evict(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(path);
  if (it == map_.end()) return;
  lru_.erase(it->second);
  map_.erase(it);
}

size_t FileCache::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return lru_.size();
}

size_t FileCache::DefaultCapacity() {
  struct rlimit rl {};
  uint64_t soft = 1024;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) soft = rl.rlim_cur;
  else if (rl.rlim_cur == RLIM_INFINITY) soft = 1u << 20;
  constexpr uint64_t kWriterFiles = 256, kMargin = 128;
  uint64_t avail = soft > kWriterFiles + kMargin ? (soft - kWriterFiles - kMargin) / 2 : 0;
  return static_cast<size_t>(std::clamp<uint64_t>(avail, 16, 4096));
}

}  // namespace chunkfs
