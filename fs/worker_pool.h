// WorkerPool: a fixed set of threads running queued tasks, one per core by
// default. The mount uses one pool for the CPU work of large chunks:
// compressing the blocks of uploads while the writer is still writing, and
// reading ahead (inflating and verifying) the next blocks of a chunk being
// read.
//
// The threads start at the first Submit, not in the constructor: a daemon
// that forks after making its pool (chunkfs without -f) must not be left
// with a pool whose threads stayed in the parent.
//
// Tasks must not throw (an escaping exception terminates the process) and
// must not wait for other tasks of the same pool (a pool of one thread would
// deadlock). Shutdown() (or the destructor) runs every task already queued,
// then joins the threads.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace chunkfs::fs {

class WorkerPool {
 public:
  // `threads` 0: std::thread::hardware_concurrency() (at least 1).
  explicit WorkerPool(unsigned threads = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`. After Shutdown() the task runs at once on the caller's
  // thread (so that no work is ever dropped).
  void Submit(std::function<void()> task);
  // Runs what is queued, then stops the threads. Idempotent.
  void Shutdown();

  // The threads it runs once started.
  unsigned threads() const { return want_; }
  size_t queued() const;

 private:
  void Loop();
  void StartLocked();  // REQUIRES: mu_

  const unsigned want_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;         // guarded by mu_ until stopping_; empty until the first Submit
};

}  // namespace chunkfs::fs
