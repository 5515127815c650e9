#include "chunk_cache.h"

#include <exception>

namespace chunkfs::fs {

ChunkCache::Content ChunkCache::Find(const Key& key) {
  std::lock_guard<std::mutex> l(mu_);
  return FindLocked(key);
}

ChunkCache::Content ChunkCache::FindLocked(const Key& key) {
  auto it = index_.find(key);
  if (it == index_.end()) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  hits_.fetch_add(1, std::memory_order_relaxed);
  return it->second->content;
}

void ChunkCache::Insert(const Key& key, Content content) {
  std::lock_guard<std::mutex> l(mu_);
  InsertLocked(key, std::move(content));
}

void ChunkCache::Erase(const Key& key) {
  Content dropped;  // freed outside mu_
  std::lock_guard<std::mutex> l(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return;
  dropped = std::move(it->second->content);
  bytes_ -= dropped->size();
  lru_.erase(it->second);
  index_.erase(it);
}

void ChunkCache::InsertLocked(const Key& key, Content content) {
  if (!content || content->size() > capacity_) return;
  if (index_.count(key)) return;
  lru_.push_front(Entry{key, std::move(content)});
  index_[key] = lru_.begin();
  bytes_ += lru_.front().content->size();
  while (bytes_ > capacity_ && !lru_.empty()) {
    Entry& victim = lru_.back();
    bytes_ -= victim.content->size();
    index_.erase(victim.key);
    lru_.pop_back();
  }
}

Status ChunkCache::FindOrLoad(const Key& key, const Loader& load, Content* out) {
  std::shared_ptr<Pending> pending;
  {
    std::unique_lock<std::mutex> l(mu_);
    if (Content c = FindLocked(key)) {
      *out = std::move(c);
      return Status::OK();
    }
    auto it = loading_.find(key);
    if (it != loading_.end()) {
      pending = it->second;  // kept alive here after Finish drops it from loading_
      waiting_++;
      loaded_cv_.wait(l, [&] { return pending->done; });
      waiting_--;
      if (pending->status.ok()) *out = pending->content;
      return pending->status;
    }
    pending = std::make_shared<Pending>();
    loading_.emplace(key, pending);
  }
  return RunLoad(key, pending, load, out);
}

bool ChunkCache::LoadIfAbsent(const Key& key, const Loader& load) {
  auto pending = std::make_shared<Pending>();
  {
    std::lock_guard<std::mutex> l(mu_);
    if (index_.count(key) || loading_.count(key)) return false;
    loading_.emplace(key, pending);
  }
  Content unused;
  // The result is cached (or, a failure, dropped: a reader loads it again
  // and reports it).
  (void)RunLoad(key, pending, load, &unused);
  return true;
}

Status ChunkCache::RunLoad(const Key& key, const std::shared_ptr<Pending>& pending, const Loader& load,
                           Content* out) {
  Content content;
  Status s;
  try {
    s = load(&content);
  } catch (const std::exception& e) {
    Finish(key, pending, Status::IOError(std::string("loading failed: ") + e.what(), 0), nullptr);
    throw;
  } catch (...) {
    Finish(key, pending, Status::IOError("loading failed", 0), nullptr);
    throw;
  }
  if (s.ok() && !content) s = Status::IOError("loading failed: nothing loaded", 0);
  Finish(key, pending, s, content);
  if (s.ok()) *out = std::move(content);
  return s;
}

void ChunkCache::Finish(const Key& key, const std::shared_ptr<Pending>& pending, const Status& s,
                        const Content& c) {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending->done = true;
    pending->status = s;
    pending->content = c;
    loading_.erase(key);
    if (s.ok()) InsertLocked(key, c);
  }
  loaded_cv_.notify_all();
}

uint64_t ChunkCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

size_t ChunkCache::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return waiting_;
}

}  // namespace chunkfs::fs
