// BlockBuffers: a small pool of block-sized buffers kept for reuse.
//
// Every buffer of 1 MiB or more gets a mapping of its own (malloc_config.h),
// so a fresh one faults in and zeroes each of its pages on first touch: in a
// `cat` of 16 MiB chunks that was about half of the mount's CPU time
// (docs/BENCHMARKS.md "Reads have the same first cost"). A buffer taken from
// here keeps its capacity: when the last holder lets go, it comes back to
// the pool, unless `max_idle` buffers wait there already or it grew beyond
// `max_capacity` bytes, and is then freed. So the memory kept idle is at
// most max_idle x max_capacity bytes (docs/MOUNT.md
// "Memory"); buffers in use count where their holders count them (the read
// cache, `write_buffer`).
//
// Thread safety: all methods, and the deleters of the buffers handed out,
// may run on any thread. A buffer may outlive the BlockBuffers that made it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace chunkfs::fs {

class BlockBuffers {
 public:
  BlockBuffers(size_t max_idle, size_t max_capacity);

  // An empty string, with the capacity of a buffer used before if one is
  // idle. Returned to the pool when its last shared_ptr goes.
  std::shared_ptr<std::string> Get();

  // Buffers waiting for reuse now (for tests and /.stats).
  size_t idle() const;
  // Gets served by a buffer used before.
  uint64_t reused() const;

 private:
  struct Pool {
    Pool(size_t max, size_t cap) : max_idle(max), max_capacity(cap) { idle.reserve(max); }
    const size_t max_idle;
    const size_t max_capacity;
    mutable std::mutex mu;
    std::vector<std::unique_ptr<std::string>> idle;  // guarded by mu
    uint64_t reused = 0;                             // guarded by mu
    void Put(std::string* s) noexcept;
  };
  std::shared_ptr<Pool> pool_;
};

}  // namespace chunkfs::fs
