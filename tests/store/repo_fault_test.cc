// Faults through FaultEnv (ENOSPC, EIO, short writes) during append, seal,
// sync and rename: the repository stays usable and loses nothing stored
// before.
#include <gtest/gtest.h>

#include <cerrno>

#include "fault_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

using RepoFaultTest = FaultRepoTest;

// Everything in `good` readable after a clean reopen on the same env.
void ExpectAllAfterReopen(FaultEnv* env, const std::vector<std::string>& good) {
  for (bool ro : {false, true}) {
    auto repo = OpenOrDie(kFaultRepo, ro, env);
    ASSERT_NE(repo, nullptr);
    for (auto& c : good) ASSERT_TRUE(HasChunk(repo.get(), c));
  }
}

TEST_F(RepoFaultTest, EnospcDuringAppend) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto good = PutMany(repo.get(), 20, 1);
  ASSERT_TRUE(repo->Sync().ok());
  env_.SetSpaceLimit(env_.used_bytes() + 300);
  std::string big = RandomBytes(5000, 77);
  PutResult r;
  Status s = repo->Put(big, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.ToErrno(), ENOSPC) << s.ToString();
  EXPECT_FALSE(repo->Contains(Sha256(big)));
  for (auto& c : good) ASSERT_TRUE(HasChunk(repo.get(), c));
  env_.SetSpaceLimit(0);
  auto more = PutMany(repo.get(), 10, 100);
  good.insert(good.end(), more.begin(), more.end());
  ASSERT_TRUE(repo->Put(big, &r).ok());
  good.push_back(big);
  ASSERT_TRUE(repo->Close().ok());
  ExpectAllAfterReopen(&env_, good);
}

// A failed append whose tail cannot be cut back retires the pack; the
// chunks written to it before must still be made durable by the next Sync.
TEST_F(RepoFaultTest, UncuttableFailedAppendStillLetsSyncMakeEarlierChunksDurable) {
  CreateRepo(1 << 20);
  auto repo = Open();
  std::vector<std::string> good;  // all in one shard, not synced yet
  for (int i = 0; i < 10; ++i) good.push_back(ContentInShard(7, 1000, i));
  for (auto& c : good) PutOrDie(repo.get(), c);
  env_.SetShortWrite(true);
  env_.InjectError(FaultOp::kAppend, EIO);
  env_.InjectError(FaultOp::kTruncate, EIO);
  PutResult r;
  EXPECT_FALSE(repo->Put(ContentInShard(7, 5000, 99), &r).ok());
  env_.ClearFaults();
  ASSERT_TRUE(repo->Sync().ok());
  env_.PowerCut();
  repo.reset();
  ExpectAllAfterReopen(&env_, good);
}

// A chunk whose stored copy is found damaged is stored again by the next
// Put of its content (no dedup against a copy known to be bad).
TEST_F(RepoFaultTest, PutAfterDamageFoundStoresTheChunkAgain) {
  CreateRepo(1 << 20);
  std::string c = Chunk(42);
  {
    auto repo = Open();
    PutOrDie(repo.get(), c);
  }
  // Damage the payload through the env (the files live in memory).
  std::string dat;
  std::vector<std::string> shards;
  ASSERT_TRUE(env_.GetChildren(std::string(kFaultRepo) + "/shards", &shards).ok());
  for (auto& sh : shards) {
    std::vector<std::string> files;
    ASSERT_TRUE(env_.GetChildren(std::string(kFaultRepo) + "/shards/" + sh, &files).ok());
    for (auto& f : files)
      if (f.size() > 4 && f.substr(f.size() - 4) == ".dat") dat = std::string(kFaultRepo) + "/shards/" + sh + "/" + f;
  }
  ASSERT_FALSE(dat.empty());
  std::string bytes;
  ASSERT_TRUE(env_.ReadFileToString(dat, &bytes).ok());
  bytes[32 + 48 + 10] ^= 0x55;
  ASSERT_TRUE(env_.WriteFileAtomic(dat.substr(0, dat.rfind('/')), dat.substr(dat.rfind('/') + 1), bytes).ok());
  auto repo = Open();
  std::string out;
  ASSERT_TRUE(repo->Get(Sha256(c), &out).IsCorruption());
  PutResult r;
  ASSERT_TRUE(repo->Put(c, &r).ok());
  EXPECT_TRUE(r.was_new) << "deduplicated against a damaged copy";
  EXPECT_TRUE(HasChunk(repo.get(), c));
  ASSERT_TRUE(repo->Close().ok());
  ExpectAllAfterReopen(&env_, {c});
}

TEST_F(RepoFaultTest, EioDuringAppend) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto good = PutMany(repo.get(), 10, 1);
  env_.InjectError(FaultOp::kAppend, EIO);
  std::string failed = Chunk(500);
  PutResult r;
  Status s = repo->Put(failed, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.ToErrno(), EIO) << s.ToString();
  EXPECT_FALSE(repo->Contains(Sha256(failed)));
  auto more = PutMany(repo.get(), 10, 200);
  good.insert(good.end(), more.begin(), more.end());
  ASSERT_TRUE(repo->Close().ok());
  ExpectAllAfterReopen(&env_, good);
}

TEST_F(RepoFaultTest, ShortWriteDuringAppendIsTruncatedBack) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto good = PutMany(repo.get(), 10, 1);
  env_.SetShortWrite(true);
  env_.InjectError(FaultOp::kAppend, EIO);
  std::string failed = ContentInShard(0, 4000, 600);
  PutResult r;
  ASSERT_FALSE(repo->Put(failed, &r).ok());
  // The next records of that shard must not land after the half record.
  for (int i = 0; i < 5; ++i) {
    good.push_back(ContentInShard(0, 700, 700 + i));
    PutOrDie(repo.get(), good.back());
  }
  for (auto& c : good) ASSERT_TRUE(HasChunk(repo.get(), c));
  ASSERT_TRUE(repo->Close().ok());
  ExpectAllAfterReopen(&env_, good);
  auto ro = Open(true);
  EXPECT_TRUE(NeverWrongBytes(ro.get(), failed));
}

TEST_F(RepoFaultTest, PersistentEnospcThenRecovery) {
  CreateRepo(4096);
  auto repo = Open();
  auto good = PutMany(repo.get(), 15, 1);
  env_.InjectError(FaultOp::kAppend, ENOSPC, 0, -1);
  for (int i = 0; i < 5; ++i) {
    PutResult r;
    EXPECT_FALSE(repo->Put(Chunk(300 + i), &r).ok());
  }
  for (auto& c : good) ASSERT_TRUE(HasChunk(repo.get(), c));
  env_.ClearFaults();
  auto more = PutMany(repo.get(), 15, 400);
  good.insert(good.end(), more.begin(), more.end());
  ASSERT_TRUE(repo->Close().ok());
  ExpectAllAfterReopen(&env_, good);
}

// One fault of `op` at the k-th call while writing through many seals.
// Chunks acknowledged by a successful Sync() are kept; a chunk Put since the
// last successful sync may be dropped when a sync fails (docs/FORMAT.md,
// "Crash windows"), but whatever is readable before Close() is readable
// after reopening, nothing is ever served wrong, and writing goes on.
void FaultSweep(FaultEnv* env, FaultOp op, int err) {
  for (int after = 0; after < 40; after += 3) {
    SCOPED_TRACE("after=" + std::to_string(after));
    env->ClearFaults();
    std::vector<std::string> put_ok, acked, pending, readable;
    {
      auto repo = OpenOrDie(kFaultRepo, false, env);
      ASSERT_NE(repo, nullptr);
      env->InjectError(op, err, after, 1);
      for (int i = 0; i < 25; ++i) {
        std::string c = FaultRepoTest::Chunk(after * 1000 + i);
        PutResult r;
        if (repo->Put(c, &r).ok()) {
          put_ok.push_back(c);
          pending.push_back(c);
        }
        if (i % 7 == 6) {
          // Chunks pending at a failed Sync may be dropped (checked by
          // SyncAfterFailedSyncMustNotAcknowledgeDroppedChunks); here only
          // chunks put since then count as acknowledged by a later Sync.
          if (repo->Sync().ok()) acked.insert(acked.end(), pending.begin(), pending.end());
          pending.clear();
        }
      }
      env->ClearFaults();
      for (auto& c : acked) ASSERT_TRUE(HasChunk(repo.get(), c)) << "acknowledged chunk lost";
      for (auto& c : put_ok) {
        ASSERT_TRUE(NeverWrongBytes(repo.get(), c));
        if (repo->Contains(Sha256(c))) readable.push_back(c);
      }
      auto more = FaultRepoTest::Chunk(after * 1000 + 999);
      PutOrDie(repo.get(), more);
      readable.push_back(more);
      EXPECT_TRUE(repo->Close().ok());
    }
    ExpectAllAfterReopen(env, readable);
  }
}

TEST_F(RepoFaultTest, EnospcAtEveryPointDuringAppendAndSeal) {
  CreateRepo(4096);
  FaultSweep(&env_, FaultOp::kAppend, ENOSPC);
}

TEST_F(RepoFaultTest, EioOnSyncDuringSeal) {
  CreateRepo(4096);
  FaultSweep(&env_, FaultOp::kSync, EIO);
}

TEST_F(RepoFaultTest, EioOnRenameDuringSeal) {
  CreateRepo(4096);
  FaultSweep(&env_, FaultOp::kRename, EIO);
}

TEST_F(RepoFaultTest, EioOnSyncDirDuringSeal) {
  CreateRepo(4096);
  FaultSweep(&env_, FaultOp::kSyncDir, EIO);
}

TEST_F(RepoFaultTest, EnospcOnCreateDuringSeal) {
  CreateRepo(4096);
  FaultSweep(&env_, FaultOp::kCreate, ENOSPC);
}

// repository.h: Sync() "makes every chunk Put before this call durable".
// If a failed Sync dropped a chunk, a later Sync() must not return OK for it
// (a FUSE fsync() answered by that OK would lie).
TEST_F(RepoFaultTest, SyncAfterFailedSyncMustNotAcknowledgeDroppedChunks) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 5, 1);
  env_.InjectError(FaultOp::kSync, EIO);
  EXPECT_FALSE(repo->Sync().ok()) << "an fsync failure must be reported";
  Status s = repo->Sync();  // e.g. the fsync() of a writer whose Put came first
  if (!s.ok()) return;      // reporting the loss is fine
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(repo.get(), c)) << "Sync() returned OK, chunk gone";
  env_.PowerCut();
  repo.reset();
  auto reopened = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(reopened.get(), c)) << "acknowledged, lost by power cut";
}

// A failed Sync is reported; afterwards every chunk is either still stored
// and made durable by the next successful Sync, or dropped (NotFound) and
// stored again by a new Put: never "present" yet lost by a power cut.
TEST_F(RepoFaultTest, FailedSyncNeverLeavesPresentButVolatileChunks) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 5, 1);
  env_.InjectError(FaultOp::kSync, EIO);
  Status s = repo->Sync();
  EXPECT_FALSE(s.ok()) << "an fsync failure must be reported";
  for (auto& c : chunks) {
    ASSERT_TRUE(NeverWrongBytes(repo.get(), c));
    PutResult r;
    ASSERT_TRUE(repo->Put(c, &r).ok());  // stores it again if it was dropped
  }
  ASSERT_TRUE(repo->Sync().ok());
  env_.PowerCut();
  repo.reset();
  auto reopened = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(reopened.get(), c)) << "acknowledged by the second Sync";
}

// A seal's fdatasync fails inside a Put; chunks put earlier into that pack
// (Put returned OK) may be dropped, but then the next Sync() must not return
// OK as if they were durable (the FUSE layer answers fsync() with it).
TEST_F(RepoFaultTest, ChunksDroppedBySealSyncFailureAreNotAcknowledgedBySync) {
  CreateRepo(4096);
  auto repo = Open();
  std::vector<std::string> earlier;
  for (int i = 0; i < 3; ++i) {
    earlier.push_back(ContentInShard(0, 1000, i));
    PutOrDie(repo.get(), earlier.back());
  }
  env_.InjectError(FaultOp::kSync, EIO);
  PutResult r;
  for (int i = 0; i < 6 && env_.op_count(FaultOp::kSync) == 0; ++i) {
    (void)repo->Put(ContentInShard(0, 1000, 100 + i), &r);  // may fail: the seal's sync fails
  }
  ASSERT_GT(env_.op_count(FaultOp::kSync), 0) << "no seal happened";
  env_.ClearFaults();
  Status s = repo->Sync();
  if (s.ok()) {
    for (auto& c : earlier) EXPECT_TRUE(HasChunk(repo.get(), c)) << "Sync() returned OK but this chunk is gone";
  }
}

TEST_F(RepoFaultTest, ReadErrorIsReportedNotWrongBytes) {
  CreateRepo(4096);
  std::vector<std::string> chunks;
  {
    auto repo = Open();
    chunks = PutMany(repo.get(), 20, 1);
  }
  auto repo = Open(true);
  env_.InjectError(FaultOp::kRead, EIO, 0, -1);
  for (auto& c : chunks) {
    std::string out;
    Status s = repo->Get(Sha256(c), &out);
    EXPECT_TRUE(!s.ok() || out == c);
  }
  env_.ClearFaults();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(repo.get(), c));
}

TEST_F(RepoFaultTest, CreateFailureLeavesNoRepository) {
  env_.InjectError(FaultOp::kSync, EIO, 0, -1);
  EXPECT_FALSE(Repository::Create(kFaultRepo, SmallSettings(), &env_).ok());
  env_.ClearFaults();
  std::unique_ptr<Repository> repo;
  OpenOptions options;
  options.env = &env_;
  Status s = Repository::Open(kFaultRepo, options, &repo);
  if (s.ok()) {
    PutOrDie(repo.get(), "usable");  // if it opens, it must work
  } else {
    // Creating again must be possible after the failure.
    Status c = Repository::Create(kFaultRepo, SmallSettings(), &env_);
    EXPECT_TRUE(c.ok()) << "a failed Create blocks the next one: " << c.ToString();
  }
}

}  // namespace
}  // namespace chunkfs
