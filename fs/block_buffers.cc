#include "block_buffers.h"

namespace chunkfs::fs {

BlockBuffers::BlockBuffers(size_t max_idle, size_t max_capacity)
    : pool_(std::make_shared<Pool>(max_idle, max_capacity)) {}

std::shared_ptr<std::string> BlockBuffers::Get() {
  std::unique_ptr<std::string> s;
  {
    std::lock_guard<std::mutex> l(pool_->mu);
    if (!pool_->idle.empty()) {
      s = std::move(pool_->idle.back());
      pool_->idle.pop_back();
      pool_->reused++;
    }
  }
  if (!s) s = std::make_unique<std::string>();
  // The deleter keeps the pool alive until the last buffer comes back.
  return std::shared_ptr<std::string>(s.release(), [pool = pool_](std::string* p) { pool->Put(p); });
}

void BlockBuffers::Pool::Put(std::string* s) noexcept {
  std::unique_ptr<std::string> owned(s);
  if (owned->capacity() > max_capacity) return;  // freed
  owned->clear();                                // keeps the capacity
  std::lock_guard<std::mutex> l(mu);
  // idle never reallocates (reserved): no allocation, so no throw, here.
  if (idle.size() >= max_idle) return;  // freed
  idle.push_back(std::move(owned));
}

size_t BlockBuffers::idle() const {
  std::lock_guard<std::mutex> l(pool_->mu);
  return pool_->idle.size();
}

uint64_t BlockBuffers::reused() const {
  std::lock_guard<std::mutex> l(pool_->mu);
  return pool_->reused;
}

}  // namespace chunkfs::fs
