// FileCache: a bounded set of open pack files for reads (like LevelDB's
// TableCache and its max_open_files). A repository can hold many more packs
// than the process may have descriptors; each read takes its file from here,
// and the least recently used file is closed when the cache is full.
//
// Thread safety: every method may be called from any thread. A handle that
// Get returned stays valid (and its descriptor open) until the caller drops
// it, even if the cache evicts the file meanwhile; so the number of open
// descriptors is at most capacity() plus the reads in flight.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "chunkfs/env.h"

namespace chunkfs {

class FileCache {
 public:
  // REQUIRES: capacity >= 1.
  FileCache(Env* env, size_t capacity);
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;

  // An open file for `path` (opened now if it is not cached).
  Status Get(const std::string& path, std::shared_ptr<RandomAccessFile>* out);
  // Closes `path` if cached (e.g. before the file is removed or replaced).
  void Evict(const std::string& path);
  size_t capacity() const { return capacity_; }
  size_t size() const;

  // The capacity used when a repository is opened with max_open_files 0:
  // half of the soft RLIMIT_NOFILE less what the writer keeps open (one
  // pack per shard) and a margin, between 16 and 4096.
  static size_t DefaultCapacity();

 private:
  using Entry = std::pair<std::string, std::shared_ptr<RandomAccessFile>>;
  Env* const env_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

}  // namespace chunkfs
