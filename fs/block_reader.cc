#include "block_reader.h"

#include <algorithm>

namespace chunkfs::fs {

std::shared_ptr<BlockReader> BlockReader::Make(const Digest& digest, std::unique_ptr<ChunkReader> reader,
                                               ChunkCache* cache, WorkerPool* pool, Counters* counters,
                                               Options options) {
  return std::shared_ptr<BlockReader>(
      new BlockReader(digest, std::move(reader), cache, pool, counters, options));
}

BlockReader::BlockReader(const Digest& digest, std::unique_ptr<ChunkReader> reader, ChunkCache* cache,
                         WorkerPool* pool, Counters* counters, Options options)
    : digest_(digest),
      cache_(cache),
      pool_(pool),
      counters_(counters),
      readahead_blocks_(options.readahead_blocks),
      buffers_(options.buffers),
      release_behind_(options.release_behind),
      size_(reader->size()),
      block_size_(reader->block_size()),
      block_count_(reader->block_count()),
      reader_(std::move(reader)) {
  // Read-ahead lands in the cache: only as many blocks as it can hold
  // beside the one being read and one more (another reader's).
  uint64_t room = block_size_ ? cache_->capacity() / block_size_ : 0;
  readahead_blocks_ = static_cast<uint32_t>(std::min<uint64_t>(readahead_blocks_, room > 2 ? room - 2 : 0));
  if (release_behind_) mine_.assign(block_count_, false);
}

uint64_t BlockReader::BlockLen(uint32_t i) const {
  uint64_t start = uint64_t{i} * block_size_;
  return std::min(block_size_, size_ - start);
}

Status BlockReader::Read(uint64_t off, size_t size, ChunkCache::Content* holder, std::string* owned,
                         std::string_view* out) {
  *out = {};
  if (off >= size_ || size == 0) return Status::OK();
  // The block table must cover the size exactly (else nothing is served).
  if (block_count_ == 0 || block_size_ == 0 || uint64_t{block_count_ - 1} * block_size_ >= size_ ||
      uint64_t{block_count_} * block_size_ < size_) {
    return Status::Corruption("block table of " + std::to_string(block_count_) + " blocks of " +
                              std::to_string(block_size_) + " bytes does not cover " + std::to_string(size_) +
                              " bytes");
  }
  const uint64_t end = std::min<uint64_t>(size_, off + size);
  const auto first = static_cast<uint32_t>(off / block_size_);
  const auto last = static_cast<uint32_t>((end - 1) / block_size_);
  ChunkCache::Content block;
  for (uint32_t i = first; i <= last; i++) {
    if (Status s = GetBlock(i, &block); !s.ok()) {
      return s.WithContext("block " + std::to_string(i) + " of " + std::to_string(block_count_));
    }
    uint64_t start = uint64_t{i} * block_size_;
    uint64_t from = std::max(off, start) - start;
    uint64_t to = std::min(end, start + block->size()) - start;
    std::string_view part(block->data() + from, to - from);
    if (first == last) {
      *out = part;
      *holder = block;
    } else {
      if (i == first) owned->reserve(end - off);
      owned->append(part);
    }
  }
  if (first != last) *out = *owned;
  Advance(first, last, std::move(block));
  return Status::OK();
}

Status BlockReader::GetBlock(uint32_t i, ChunkCache::Content* out) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (i == last_index_ && last_) {
      *out = last_;
      return Status::OK();
    }
  }
  return cache_->FindOrLoad(ChunkCache::Key{digest_, i, block_size_},
                            [this, i](ChunkCache::Content* c) { return LoadBlock(i, c); }, out);
}

Status BlockReader::LoadBlock(uint32_t i, ChunkCache::Content* out) {
  std::shared_ptr<std::string> data = buffers_ ? buffers_->Get() : std::make_shared<std::string>();
  Status s = reader_->ReadBlock(i, data.get());
  counters_->block_loads.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) return s;
  if (data->size() != BlockLen(i)) {
    return Status::Corruption("read " + std::to_string(data->size()) + " bytes, expected " +
                              std::to_string(BlockLen(i)));
  }
  *out = std::move(data);
  if (release_behind_) {
    std::lock_guard<std::mutex> l(mu_);
    if (i < mine_.size()) mine_[i] = true;
  }
  return Status::OK();
}

void BlockReader::TakeMineBelowLocked(uint32_t below, std::vector<ChunkCache::Key>* keys) {
  below = std::min<uint32_t>(below, static_cast<uint32_t>(mine_.size()));
  for (uint32_t j = released_below_; j < below; j++) {
    if (!mine_[j]) continue;
    mine_[j] = false;
    keys->push_back(ChunkCache::Key{digest_, j, block_size_});
  }
  released_below_ = std::max(released_below_, below);
}

void BlockReader::DropIfClosed(uint32_t i) {
  std::vector<ChunkCache::Key> late;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Close() ran while block i was loading: it found nothing to drop.
    if (!closed_ || !release_behind_ || i >= mine_.size() || !mine_[i]) return;
    mine_[i] = false;
    late.push_back(ChunkCache::Key{digest_, i, block_size_});
  }
  EraseFromCache(late);
}

void BlockReader::EraseFromCache(const std::vector<ChunkCache::Key>& keys) {
  for (const auto& k : keys) cache_->Erase(k);
}

void BlockReader::Advance(uint32_t first, uint32_t last, ChunkCache::Content block) {
  std::vector<ChunkCache::Key> served;  // erased from the cache outside mu_
  bool submit = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Sequential: from the start, or going on from the block read last.
    bool sequential = last_index_ == UINT32_MAX ? first == 0 : (first == last_index_ || first == last_index_ + 1);
    last_index_ = last;
    last_ = std::move(block);
    // Two blocks behind: requests the kernel sends at once may arrive out
    // of order, but not a block apart.
    if (sequential && release_behind_ && first >= 2) TakeMineBelowLocked(first - 1, &served);
    submit = sequential && QueueReadAheadLocked(last);
  }
  EraseFromCache(served);
  // Outside mu_: after the pool's shutdown the task runs here, at once.
  if (submit) pool_->Submit([self = shared_from_this()] { self->ReadAhead(); });
}

bool BlockReader::QueueReadAheadLocked(uint32_t last) {
  if (!pool_ || readahead_blocks_ == 0 || closed_) return false;
  uint32_t target = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{last} + readahead_blocks_, block_count_ - 1));
  ahead_next_ = std::max(ahead_next_, last + 1);
  if (target < ahead_next_) return false;
  ahead_target_ = std::max(ahead_target_, target);
  if (ahead_running_) return false;  // the running task goes on to the new target
  ahead_running_ = true;
  return true;
}

void BlockReader::ReadAhead() noexcept {
  try {
    for (;;) {
      uint32_t i;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (closed_ || ahead_next_ > ahead_target_) {
          ahead_running_ = false;
          return;
        }
        i = ahead_next_++;
      }
      // Cached or being loaded already: skip (never wait in a pool task).
      // A failure is not cached: the read that needs the block reports it.
      if (cache_->LoadIfAbsent(ChunkCache::Key{digest_, i, block_size_},
                               [this, i](ChunkCache::Content* c) { return LoadBlock(i, c); })) {
        counters_->readahead_loads.fetch_add(1, std::memory_order_relaxed);
        DropIfClosed(i);
      }
    }
  } catch (...) {
    // bad_alloc: give up this read-ahead; reads load what they need.
    std::lock_guard<std::mutex> l(mu_);
    ahead_running_ = false;
  }
}

void BlockReader::Close() {
  std::vector<ChunkCache::Key> served;
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    last_.reset();
    if (release_behind_) {
      released_below_ = 0;
      TakeMineBelowLocked(block_count_, &served);
    }
  }
  EraseFromCache(served);
}

}  // namespace chunkfs::fs
