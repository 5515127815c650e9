// Power cuts and I/O faults through FaultEnv, beyond tests/store (which cuts
// at the sync points of one put/seal workload, at the sync points of one
// recovery, and injects one fault every 3rd call during puts):
//  - a cut at every sync point of put and seal, and from EACH of those states
//    a cut at every sync point of the recovery that follows (nested), each
//    checked: every chunk acknowledged by a returned Sync is present and
//    intact, nothing wrong is served, writes continue and survive another
//    cut, and check --read-data is clean after recovery;
//  - ENOSPC and EIO on Append, Sync, SyncDir, Rename and Create at EVERY call
//    index of the workload (0 .. its op count), then a power cut: every
//    acknowledged chunk survives the reopen;
//  - the same for the recovery open (plus Truncate and Remove), from several
//    cut states.
// The numbers of sync points and fault positions are printed.
#include <gtest/gtest.h>

#include <cerrno>
#include <algorithm>
#include <cstdio>

#include "check_util.h"
#include "fault_util.h"

namespace chunkfs::checktest {
namespace {

constexpr char kRepo[] = "/repo";

std::string Chunk(uint64_t seed) { return FaultRepoTest::Chunk(seed); }

struct Tracked {
  std::vector<std::string> chunks;  // every chunk whose Put returned OK
  size_t acked = 0;                 // chunks[0, acked) acknowledged by a Sync that returned OK
};

// Puts 36 chunks over 3 shards (4 KiB packs: several seals per shard), a
// Sync after every 4th; chunks whose Put fails are not tracked. A Sync that
// returns OK acknowledges every chunk put before it (repository.h).
void Workload(Repository* repo, Tracked* t, uint64_t seed = 0, int n = 36) {
  for (int i = 0; i < n; ++i) {
    std::string c = Chunk(seed + i);
    PutResult r;
    if (repo->Put(c, &r).ok()) t->chunks.push_back(c);
    if (i % 4 == 3 && repo->Sync().ok()) t->acked = t->chunks.size();
  }
}

std::unique_ptr<Repository> OpenEnv(FaultEnv* env, Status* status = nullptr) {
  OpenOptions o;
  o.env = env;
  std::unique_ptr<Repository> repo;
  Status s = Repository::Open(kRepo, o, &repo);
  if (status) *status = s;
  return s.ok() ? std::move(repo) : nullptr;
}

// After a cut (the env holds only durable state): recovery opens, every
// acknowledged chunk is intact, nothing is served wrong, the repository
// checks clean after a clean close, and new writes survive another cut.
void ExpectRecovers(FaultEnv* env, const Tracked& t, uint64_t seed, const std::string& where) {
  SCOPED_TRACE(where);
  Status s;
  auto repo = OpenEnv(env, &s);
  ASSERT_NE(repo, nullptr) << "open after the cut: " << s.ToString();
  for (size_t i = 0; i < t.chunks.size(); ++i) {
    if (i < t.acked) {
      ASSERT_TRUE(HasChunk(repo.get(), t.chunks[i])) << "acknowledged chunk " << i << " of " << t.acked << " lost";
    } else {
      ASSERT_TRUE(NeverWrongBytes(repo.get(), t.chunks[i]));
    }
  }
  std::vector<std::string> more;
  for (int i = 0; i < 5; ++i) {
    more.push_back(Chunk(seed + i));
    PutOrDie(repo.get(), more.back());
  }
  ASSERT_TRUE(repo->Sync().ok());
  ASSERT_TRUE(repo->Close().ok());
  CheckReport r = CheckOrDie(kRepo, true, env);
  ASSERT_TRUE(r.ok()) << "check after recovery:\n" << Describe(r);
  env->PowerCut();
  repo = OpenEnv(env, &s);
  ASSERT_NE(repo, nullptr) << s.ToString();
  for (size_t i = 0; i < t.acked; ++i) ASSERT_TRUE(HasChunk(repo.get(), t.chunks[i]));
  for (auto& c : more) ASSERT_TRUE(HasChunk(repo.get(), c)) << "chunk written after recovery lost";
}

struct Cut {
  FaultEnv::Snapshot snapshot;
  Tracked tracked;
};

TEST(PowerCutTest, EverySyncPointOfPutSealAndOfTheRecoveryAfterEach) {
  FaultEnv env;
  CreateRepoOrDie(kRepo, SmallSettings(4096), &env);
  std::vector<Cut> cuts;
  Tracked t;
  env.SetSyncCallback([&](int64_t) { cuts.push_back({env.DurableSnapshot(), t}); });
  {
    auto repo = OpenEnv(&env);
    ASSERT_NE(repo, nullptr);
    Workload(repo.get(), &t);
    for (int i = 0; i < 5; ++i) {  // an unsynced tail
      PutResult r;
      if (repo->Put(Chunk(500 + i), &r).ok()) t.chunks.push_back(Chunk(500 + i));
    }
    env.SetSyncCallback(nullptr);
    env.PowerCut();
  }
  cuts.push_back({env.DurableSnapshot(), t});
  ASSERT_GT(cuts.size(), 30u);
  size_t recovery_points = 0, verified = 0;
  for (size_t k = 0; k < cuts.size(); ++k) {
    const Cut& cut = cuts[k];
    // The recovery from this state, with a snapshot at each of its sync points.
    env.Restore(cut.snapshot);
    std::vector<FaultEnv::Snapshot> during;
    env.SetSyncCallback([&](int64_t) { during.push_back(env.DurableSnapshot()); });
    {
      Status s;
      auto repo = OpenEnv(&env, &s);
      ASSERT_NE(repo, nullptr) << "recovery after cut " << k << ": " << s.ToString();
      env.SetSyncCallback(nullptr);
      env.PowerCut();  // cut right after the recovering open returned
    }
    env.SetSyncCallback(nullptr);
    during.push_back(env.DurableSnapshot());
    recovery_points += during.size() - 1;
    env.Restore(cut.snapshot);
    ExpectRecovers(&env, cut.tracked, 10000 + k * 10, "cut " + std::to_string(k) + " of put/seal");
    verified++;
    if (HasFatalFailure()) return;
    for (size_t j = 0; j < during.size(); ++j) {
      env.Restore(during[j]);
      ExpectRecovers(&env, cut.tracked, 20000 + k * 100 + j,
                     "cut " + std::to_string(k) + " of put/seal, then cut " + std::to_string(j) + " of recovery");
      verified++;
      if (HasFatalFailure()) return;
    }
  }
  printf("[ power cuts ] %zu sync points of put/seal (+ the final state), %zu sync points of recovery after them, "
         "%zu states verified, 0 acknowledged chunks lost\n",
         cuts.size() - 1, recovery_points, verified);
}

// One fault at call index `after` of `op` during the workload, then a power
// cut: every acknowledged chunk survives the reopen.
TEST(FaultSweepTest, EnospcAndEioAtEveryCallOfTheWorkload) {
  const FaultOp kOps[] = {FaultOp::kAppend, FaultOp::kSync, FaultOp::kSyncDir, FaultOp::kRename, FaultOp::kCreate};
  size_t positions = 0;
  for (FaultOp op : kOps) {
    int64_t calls = 0;
    {
      FaultEnv env;
      CreateRepoOrDie(kRepo, SmallSettings(4096), &env);
      int64_t before = env.op_count(op);
      auto repo = OpenEnv(&env);
      Tracked t;
      Workload(repo.get(), &t);
      ASSERT_TRUE(repo->Close().ok());
      calls = env.op_count(op) - before;
    }
    ASSERT_GT(calls, 0) << FaultOpName(op);
    for (int err : {ENOSPC, EIO}) {
      for (int after = 0; after <= calls; ++after) {
        SCOPED_TRACE(std::string(FaultOpName(op)) + " " + strerror(err) + " at call " + std::to_string(after));
        FaultEnv env;
        CreateRepoOrDie(kRepo, SmallSettings(4096), &env);
        Tracked t;
        {
          auto repo = OpenEnv(&env);
          ASSERT_NE(repo, nullptr);
          env.InjectError(op, err, after, 1);
          Workload(repo.get(), &t, after * 7);
          env.ClearFaults();
          for (auto& c : t.chunks) ASSERT_TRUE(NeverWrongBytes(repo.get(), c));
          env.PowerCut();
        }
        positions++;
        ExpectRecovers(&env, t, 90000 + after, "reopen");
        if (HasFatalFailure()) return;
      }
    }
    printf("[ faults ] workload: %s: %lld calls, ENOSPC and EIO at each index 0..%lld\n", FaultOpName(op),
           static_cast<long long>(calls), static_cast<long long>(calls));
  }
  printf("[ faults ] workload: %zu fault positions tried\n", positions);
}

// The recovering open itself fails at call `after` of `op`: it returns a
// Status (or succeeds); a later open without faults recovers everything
// acknowledged before the original cut.
TEST(FaultSweepTest, EnospcAndEioAtEveryCallOfRecovery) {
  const FaultOp kOps[] = {FaultOp::kAppend,  FaultOp::kSync,     FaultOp::kSyncDir, FaultOp::kRename,
                          FaultOp::kCreate,  FaultOp::kTruncate, FaultOp::kRemove};
  FaultEnv env;
  CreateRepoOrDie(kRepo, SmallSettings(4096), &env);
  std::vector<Cut> cuts;
  Tracked t;
  int64_t n = 0;
  env.SetSyncCallback([&](int64_t) {
    if (++n % 6 == 0) cuts.push_back({env.DurableSnapshot(), t});
  });
  {
    auto repo = OpenEnv(&env);
    Workload(repo.get(), &t);
    for (int i = 0; i < 4; ++i) {
      PutResult r;
      if (repo->Put(Chunk(700 + i), &r).ok()) t.chunks.push_back(Chunk(700 + i));
    }
    env.SetSyncCallback(nullptr);
    env.PowerCut();
  }
  // Mess that recovery must clean up besides torn tails: a lost sealed idx
  // and a leftover temp file.
  cuts.push_back({env.DurableSnapshot(), t});
  {
    int removed = 0;
    for (const char* shard : {"/repo/shards/00", "/repo/shards/01", "/repo/shards/02"}) {
      std::vector<std::string> names;
      ASSERT_TRUE(env.GetChildren(shard, &names).ok());
      std::sort(names.begin(), names.end());
      for (auto& name : names) {
        if (removed == 0 && name.size() > 4 && name.compare(name.size() - 4, 4, ".idx") == 0) {
          ASSERT_TRUE(env.RemoveFile(std::string(shard) + "/" + name).ok());
          removed++;
        }
      }
      std::unique_ptr<WritableFile> f;
      ASSERT_TRUE(env.NewWritableFile(std::string(shard) + "/pack-0000000000000fff.idx.tmp", &f).ok());
      ASSERT_TRUE(f->Append("half an idx").ok());
      ASSERT_TRUE(f->Sync().ok());
      ASSERT_TRUE(env.SyncDir(shard).ok());
    }
    ASSERT_EQ(removed, 1);
    cuts.push_back({env.DurableSnapshot(), t});
  }
  ASSERT_GE(cuts.size(), 4u);
  size_t positions = 0, failed_opens = 0;
  for (size_t k = 0; k < cuts.size(); ++k) {
    for (FaultOp op : kOps) {
      env.Restore(cuts[k].snapshot);
      int64_t before = env.op_count(op);
      { auto repo = OpenEnv(&env); }
      const int64_t calls = env.op_count(op) - before;
      for (int err : {ENOSPC, EIO}) {
        for (int after = 0; after <= calls; ++after) {
          SCOPED_TRACE("state " + std::to_string(k) + ": " + FaultOpName(op) + " " + strerror(err) + " at call " +
                       std::to_string(after) + " of recovery");
          env.Restore(cuts[k].snapshot);
          env.InjectError(op, err, after, 1);
          Status s;
          {
            auto repo = OpenEnv(&env, &s);
            if (repo) {
              for (auto& c : cuts[k].tracked.chunks) ASSERT_TRUE(NeverWrongBytes(repo.get(), c));
            } else {
              failed_opens++;
              EXPECT_FALSE(s.message().empty());
            }
          }
          env.ClearFaults();
          env.PowerCut();
          positions++;
          ExpectRecovers(&env, cuts[k].tracked, 70000 + after, "reopen");
          if (HasFatalFailure()) return;
        }
      }
    }
  }
  printf("[ faults ] recovery: %zu cut states x 7 ops x {ENOSPC, EIO} at every call: %zu fault positions tried "
         "(%zu opens refused with a Status)\n",
         cuts.size(), positions, failed_opens);
}

}  // namespace
}  // namespace chunkfs::checktest
