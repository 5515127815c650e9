// Faults during compaction and prune (issue 8), through FaultEnv: ENOSPC
// and EIO at every call index of each kind of I/O. The call returns OK or an
// error; afterwards the same repository object and a reopened one serve
// every kept chunk, deleted chunks stay deleted, nothing is served wrong,
// writes, prunes and compactions go on, and check finds no damage. And a
// full disk during compaction leaves the repository as it was.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "fault_util.h"
#include "prune_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

constexpr FaultOp kOps[] = {FaultOp::kAppend, FaultOp::kSync,   FaultOp::kSyncDir,  FaultOp::kRename, FaultOp::kCreate,
                            FaultOp::kRead,   FaultOp::kRemove, FaultOp::kTruncate, FaultOp::kList};

bool KeepAllButEveryThird(size_t i) { return i % 3 != 1; }

class PruneFaultTest : public FaultRepoTest {
 protected:
  // 36 chunks over 3 shards in 4 KiB packs, closed (all durable).
  void Fill() {
    CreateRepo(4096);
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    for (int i = 0; i < 36; ++i) PutOrDie(repo.get(), book_.chunks[book_.Add(Chunk(i))]);
    ASSERT_TRUE(repo->Close().ok());
    book_.AckAll();
  }

  // After the faulty call (faults cleared): the same object agrees with
  // `book`, stores and syncs new chunks, prunes and compacts; then a
  // reopen after a clean close and after a power cut agrees too, and check
  // finds no damage.
  void ExpectGoesOn(std::unique_ptr<Repository> repo, PruneBook book, uint64_t seed) {
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
    for (int i = 0; i < 3; ++i) PutOrDie(repo.get(), book.chunks[book.Add(Chunk(seed + i))]);
    Status s = repo->Sync();
    ASSERT_TRUE(s.ok()) << "Sync after the fault: " << s.ToString();
    PruneResult r;
    s = repo->Prune(book.BeginPrune(KeepAllButEveryThird), Forced(), &r);
    ASSERT_TRUE(s.ok()) << "Prune after the fault: " << s.ToString();
    book.EndPrune();
    CompactResult c;
    s = repo->Compact(CompactOptions{}, &c);
    ASSERT_TRUE(s.ok()) << "Compact after the fault: " << s.ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
    ASSERT_TRUE(repo->Close().ok());
    repo.reset();
    ASSERT_NO_FATAL_FAILURE(ExpectCheckClean(kFaultRepo, &env_));
    env_.PowerCut();
    repo = Open();
    ASSERT_NE(repo, nullptr);
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
  }

  // Calls of `op` made by `work` on a repository opened from `base` (after
  // `prepare`).
  template <typename Prepare, typename Work>
  int64_t CountCalls(const FaultEnv::Snapshot& base, FaultOp op, Prepare prepare, Work work) {
    env_.Restore(base);
    auto repo = Open();
    EXPECT_NE(repo, nullptr);
    prepare(repo.get());
    const int64_t before = env_.op_count(op);
    work(repo.get());
    const int64_t calls = env_.op_count(op) - before;
    EXPECT_TRUE(repo->Close().ok());
    return calls;
  }

  PruneBook book_;
};

// A pruned repository (every third chunk deleted) is compacted with one
// fault at call `after` of `op`.
TEST_F(PruneFaultTest, EnospcAndEioAtEveryCallOfACompaction) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  {
    auto repo = Open();
    PruneResult r;
    ASSERT_TRUE(repo->Prune(book_.BeginPrune(KeepAllButEveryThird), Forced(), &r).ok());
    book_.EndPrune();
    ASSERT_TRUE(repo->Close().ok());
  }
  const FaultEnv::Snapshot base = env_.DurableSnapshot();
  size_t positions = 0, failed = 0;
  std::string counts;
  for (FaultOp op : kOps) {
    CompactResult c;
    const int64_t calls =
        CountCalls(base, op, [](Repository*) {}, [&](Repository* repo) { ASSERT_TRUE(repo->Compact({}, &c).ok()); });
    counts += std::string(" ") + FaultOpName(op) + " " + std::to_string(calls);
    for (int err : {ENOSPC, EIO}) {
      for (int after = 0; after <= calls; ++after) {
        SCOPED_TRACE(std::string(FaultOpName(op)) + " " + strerror(err) + " at call " + std::to_string(after));
        env_.Restore(base);
        auto repo = Open();
        ASSERT_NE(repo, nullptr);
        env_.InjectError(op, err, after, 1);
        Status s = repo->Compact(CompactOptions{}, &c);
        env_.ClearFaults();
        failed += s.ok() ? 0 : 1;
        positions++;
        ASSERT_NO_FATAL_FAILURE(ExpectGoesOn(std::move(repo), book_, 1000 + after * 10));
      }
    }
  }
  printf("[ faults ] compaction: calls per op:%s; ENOSPC and EIO at each: %zu positions, %zu compactions failed\n",
         counts.c_str(), positions, failed);
}

// Chunks put and not synced yet, then a prune (which syncs them) with one
// fault at call `after` of `op`. A prune that fails leaves each chunk it
// would delete deleted or whole; it may drop the unsynced ones (a failed
// fsync), which are stored again.
TEST_F(PruneFaultTest, EnospcAndEioAtEveryCallOfAPrune) {
  ASSERT_NO_FATAL_FAILURE(Fill());
  const FaultEnv::Snapshot base = env_.DurableSnapshot();
  auto put_tail = [&](Repository* repo, PruneBook* book) {
    for (int i = 36; i < 40; ++i) PutOrDie(repo, book->chunks[book->Add(Chunk(i))]);
  };
  size_t positions = 0, failed = 0;
  std::string counts;
  for (FaultOp op : kOps) {
    PruneBook counted = book_;
    const int64_t calls = CountCalls(base, op, [&](Repository* repo) { put_tail(repo, &counted); }, [&](Repository* repo) {
      PruneResult r;
      ASSERT_TRUE(repo->Prune(counted.BeginPrune(KeepAllButEveryThird), Forced(), &r).ok());
    });
    counts += std::string(" ") + FaultOpName(op) + " " + std::to_string(calls);
    for (int err : {ENOSPC, EIO}) {
      for (int after = 0; after <= calls; ++after) {
        SCOPED_TRACE(std::string(FaultOpName(op)) + " " + strerror(err) + " at call " + std::to_string(after));
        env_.Restore(base);
        auto repo = Open();
        ASSERT_NE(repo, nullptr);
        PruneBook b = book_;
        put_tail(repo.get(), &b);
        env_.InjectError(op, err, after, 1);
        PruneResult r;
        Status s = repo->Prune(b.BeginPrune(KeepAllButEveryThird), Forced(), &r);
        env_.ClearFaults();
        positions++;
        if (s.ok()) {
          b.EndPrune();
        } else {
          failed++;
          for (size_t i = 36; i < 40; ++i) {  // the kept ones again, if a failed fsync dropped them
            PutResult pr;
            if (b.deleting.count(i) == 0) {
              ASSERT_TRUE(repo->Put(b.chunks[i], &pr).ok());
            }
          }
        }
        ASSERT_NO_FATAL_FAILURE(ExpectGoesOn(std::move(repo), b, 2000 + after * 10));
      }
    }
  }
  printf("[ faults ] prune: calls per op:%s; ENOSPC and EIO at each: %zu positions, %zu prunes failed\n",
         counts.c_str(), positions, failed);
}

// docs: a full disk during compaction leaves the repository as it was and
// the mount working. The space left is far less than the live bytes that
// compaction must copy.
TEST_F(PruneFaultTest, FullDiskDuringCompactionLeavesTheRepositoryAsItWas) {
  CreateRepo(64 << 10);
  auto repo = Open();
  for (int i = 0; i < 120; ++i) PutOrDie(repo.get(), book_.chunks[book_.Add(ContentInShard(0, 3000, i))]);
  ASSERT_TRUE(repo->Sync().ok());
  book_.AckAll();
  PruneResult r;
  ASSERT_TRUE(repo->Prune(book_.BeginPrune([](size_t i) { return i % 2 == 0; }), Forced(), &r).ok());
  book_.EndPrune();
  const uint64_t dead = repo->GetStats().dead_bytes;
  ASSERT_GT(dead, 0u);
  std::vector<std::string> files_before;
  ASSERT_TRUE(env_.GetChildren(ShardDir(kFaultRepo, 0), &files_before).ok());
  env_.SetSpaceLimit(env_.used_bytes() + 8192);
  CompactResult c;
  Status s = repo->Compact(CompactOptions{}, &c);
  ASSERT_FALSE(s.ok()) << "compaction needs more than 8 KiB here";
  EXPECT_EQ(s.ToErrno(), ENOSPC) << s.ToString();
  std::vector<std::string> files_after;
  ASSERT_TRUE(env_.GetChildren(ShardDir(kFaultRepo, 0), &files_after).ok());
  EXPECT_LE(files_after.size(), files_before.size()) << "compaction left files behind";
  EXPECT_EQ(repo->GetStats().dead_bytes, dead);
  ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book_));
  // Still working on the same disk: store, read, sync.
  PutOrDie(repo.get(), book_.chunks[book_.Add(ContentInShard(0, 3000, 999))]);
  ASSERT_TRUE(repo->Sync().ok());
  book_.AckAll();
  ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book_));
  // Space freed: compaction succeeds and gives the dead bytes back.
  env_.SetSpaceLimit(0);
  const uint64_t used = env_.used_bytes();
  s = repo->Compact(CompactOptions{}, &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(repo->GetStats().dead_bytes, 0u);
  EXPECT_LT(env_.used_bytes(), used - dead / 2);
  ASSERT_NO_FATAL_FAILURE(ExpectGoesOn(std::move(repo), book_, 5000));
}

}  // namespace
}  // namespace chunkfs
