#include "grow_buffer.h"

#include <cassert>
#include <cstdlib>
#include <cstring>

namespace chunkfs::fs {

GrowBuffer::~GrowBuffer() { Release(); }

bool GrowBuffer::Reserve(size_t n) {
  if (n <= capacity_) return true;
  void* p = std::realloc(data_, n);
  if (p == nullptr) return false;  // data_ is untouched
  data_ = static_cast<char*>(p);
  capacity_ = n;
  return true;
}

void GrowBuffer::Resize(size_t n) {
  assert(n <= capacity_);
  if (n > size_) std::memset(data_ + size_, 0, n - size_);
  size_ = n;
}

void GrowBuffer::Extend(size_t n) {
  assert(size_ <= n && n <= capacity_);
  size_ = n;
}

void GrowBuffer::Release() {
  std::free(data_);
  data_ = nullptr;
  size_ = capacity_ = 0;
}

}  // namespace chunkfs::fs
