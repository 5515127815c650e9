#include "worker_pool.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <future>
#include <set>
#include <thread>

namespace chunkfs::fs {
namespace {

TEST(WorkerPoolTest, RunsEveryTaskOnItsThreads) {
  WorkerPool pool(2);
  EXPECT_EQ(pool.threads(), 2u);
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> ids;
  for (int i = 0; i < 100; i++) {
    pool.Submit([&] {
      std::lock_guard<std::mutex> l(mu);
      ids.insert(std::this_thread::get_id());
      ran++;
    });
  }
  pool.Shutdown();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u) << "a task ran on the submitting thread";
}

TEST(WorkerPoolTest, ShutdownRunsWhatIsQueued) {
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  pool.Submit([gate, &ran] {
    gate.wait();
    ran++;
  });
  for (int i = 0; i < 10; i++) pool.Submit([&ran] { ran++; });
  EXPECT_GE(pool.queued(), 9u);  // the first may have been taken
  std::thread stopper([&pool] { pool.Shutdown(); });
  release.set_value();
  stopper.join();
  EXPECT_EQ(ran.load(), 11);
}

TEST(WorkerPoolTest, SubmitAfterShutdownRunsInline) {
  WorkerPool pool(1);
  pool.Shutdown();
  std::thread::id where;
  pool.Submit([&where] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
}

// chunkfs makes its pool before it forks into a daemon: the child must get
// working threads (they start at the first Submit, in the child).
TEST(WorkerPoolTest, WorksInAChildForkedAfterItWasMade) {
  WorkerPool pool(2);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::atomic<int> ran{0};
    for (int i = 0; i < 4; i++) pool.Submit([&ran] { ran++; });
    pool.Shutdown();
    ::_exit(ran.load() == 4 ? 0 : 1);
  }
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  pid_t r = 0;
  while ((r = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (r == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    FAIL() << "the forked child's pool never ran its tasks (hung)";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the forked child's pool ran only part of its tasks";
}

TEST(WorkerPoolTest, ZeroMeansOnePerCore) {
  WorkerPool pool;
  EXPECT_GE(pool.threads(), 1u);
}

}  // namespace
}  // namespace chunkfs::fs
