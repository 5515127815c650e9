// Open files stay bounded: a repository with several times more packs than
// RLIMIT_NOFILE allows still reads every chunk (the FileCache closes the
// least recently used pack), and RaiseOpenFileLimit lifts the soft limit.
// Limits are lowered in a forked child, so the test process keeps its own.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "../../store/src/file_cache.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

// Runs `body` in a forked child with RLIMIT_NOFILE set to soft/hard; the
// child's exit status is what body returns (0 = success).
int RunInChildWithFileLimit(rlim_t soft, rlim_t hard, const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl {soft, hard};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(100);
    _exit(body());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

// Number of chunks that fail to read back (capped at 99), or 101 if the
// repository does not open.
int FailedReads(const std::string& path, bool read_only, const std::vector<std::string>& chunks) {
  OpenOptions o;
  o.read_only = read_only;
  std::unique_ptr<Repository> repo;
  if (!Repository::Open(path, o, &repo).ok()) return 101;
  int failed = 0;
  for (int round = 0; round < 2; ++round) {  // twice: evicted files are opened again
    for (const auto& c : chunks) {
      std::string out;
      if (!repo->Get(Sha256(c), &out).ok() || out != c) failed++;
    }
  }
  if (!repo->Close().ok()) failed++;
  return failed > 99 ? 99 : failed;
}

TEST(OpenFilesTest, ReadsARepositoryWithManyMorePacksThanTheFileLimit) {
  TempDir dir;
  const std::string path = dir.Sub("repo");
  CreateRepoOrDie(path, SmallSettings(4096));
  std::vector<std::string> chunks;
  {
    auto repo = OpenOrDie(path);
    for (int i = 0; i < 4800; ++i) {  // 2 chunks a pack: about 2,400 packs
      chunks.push_back(RandomBytes(2100, i));  // 2 records fill a 4 KiB pack
      PutOrDie(repo.get(), chunks.back());
      if (i % 128 == 127) {
        ASSERT_TRUE(repo->Sync().ok());  // seals the full packs
      }
    }
    ASSERT_TRUE(repo->Close().ok());
    ASSERT_GT(repo->GetStats().packs_sealed, 2000u);
  }
  // 256 descriptors for ~2,400 packs read-only; 512 for the writer, which
  // also keeps its 256 active packs open.
  EXPECT_EQ(RunInChildWithFileLimit(256, 256, [&] { return FailedReads(path, true, chunks); }), 0)
      << "read-only: reads failed under a file limit below the pack count";
  EXPECT_EQ(RunInChildWithFileLimit(512, 512, [&] { return FailedReads(path, false, chunks); }), 0)
      << "writable: reads failed under a file limit below the pack count";
}

TEST(OpenFilesTest, RaiseOpenFileLimitLiftsTheSoftLimitToTheHardOne) {
  int rc = RunInChildWithFileLimit(256, 1024, [] {
    uint64_t soft = 0;
    if (!RaiseOpenFileLimit(&soft).ok()) return 1;
    struct rlimit rl {};
    getrlimit(RLIMIT_NOFILE, &rl);
    return soft == 1024 && rl.rlim_cur == 1024 ? 0 : 2;
  });
  EXPECT_EQ(rc, 0);
}

TEST(FileCacheTest, KeepsAtMostCapacityFilesAndHandlesOutliveEviction) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) WriteFileOrDie(dir.Sub(std::to_string(i)), "file " + std::to_string(i));
  FileCache cache(Env::Default(), 2);
  std::shared_ptr<RandomAccessFile> first;
  ASSERT_TRUE(cache.Get(dir.Sub("0"), &first).ok());
  for (int i = 1; i < 3; ++i) {
    std::shared_ptr<RandomAccessFile> f;
    ASSERT_TRUE(cache.Get(dir.Sub(std::to_string(i)), &f).ok());
  }
  EXPECT_EQ(cache.size(), 2u);
  std::string got;
  ASSERT_TRUE(first->Read(0, 6, &got).ok()) << "an evicted file must stay readable by its holder";
  EXPECT_EQ(got, "file 0");
}

}  // namespace
}  // namespace chunkfs
