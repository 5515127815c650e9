#include "chunk_cache.h"

namespace chunkfs::fs {

ChunkCache::Content ChunkCache::Find(const Digest& digest) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(digest);
  if (it == index_.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second->content;
}

void ChunkCache::Insert(const Digest& digest, Content content) {
  if (!content || content->size() > capacity_) return;
  std::lock_guard<std::mutex> l(mu_);
  if (index_.count(digest)) return;
  lru_.push_front(Entry{digest, std::move(content)});
  index_[digest] = lru_.begin();
  bytes_ += lru_.front().content->size();
  while (bytes_ > capacity_ && !lru_.empty()) {
    Entry& victim = lru_.back();
    bytes_ -= victim.content->size();
    index_.erase(victim.digest);
    lru_.pop_back();
  }
}

uint64_t ChunkCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

}  // namespace chunkfs::fs
