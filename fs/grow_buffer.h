// GrowBuffer: an upload's content in memory, grown in place.
//
// A std::vector doubles by allocating anew and copying, so a 16 MiB upload
// copied about 15 MiB more and touched about 31 MiB of fresh pages on the
// way (docs/BENCHMARKS.md "Ingest: where the time went"). Grown with
// realloc instead, a buffer in a mapping of its own (above malloc's mmap
// threshold, malloc_config.h) is moved with mremap: no byte is copied and
// only the new pages are touched.
//
// Thread safety: none (the owning Upload's lock).
#pragma once

#include <cstddef>

namespace chunkfs::fs {

class GrowBuffer {
 public:
  GrowBuffer() = default;
  ~GrowBuffer();
  GrowBuffer(const GrowBuffer&) = delete;
  GrowBuffer& operator=(const GrowBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  // Makes room for n bytes (the content kept). False if memory is short:
  // then nothing changed.
  bool Reserve(size_t n);
  // Sets the size. REQUIRES: n <= capacity(). Bytes beyond the old size
  // read as zeros.
  void Resize(size_t n);
  // Sets the size to n >= size() without zeroing: for bytes the caller
  // writes at once. REQUIRES: size() <= n <= capacity().
  void Extend(size_t n);
  // Frees the memory (size and capacity 0).
  void Release();

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace chunkfs::fs
