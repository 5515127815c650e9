// Power cuts through FaultEnv: after a cut at any sync point, nothing that a
// returned Sync() acknowledged is lost, no wrong bytes are served, and
// writing goes on.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "fault_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

using RepoPowerCutTest = FaultRepoTest;

struct CutPoint {
  int64_t sync_index;
  FaultEnv::Snapshot snapshot;
  size_t acked;  // chunks acknowledged by a Sync() that returned before it
};

// Reopens after a cut: acknowledged chunks present, nothing wrong, writable.
void ExpectSurvivesCut(FaultEnv* env, const std::vector<std::string>& chunks, size_t acked,
                       uint64_t seed) {
  auto repo = OpenOrDie(kFaultRepo, false, env);
  ASSERT_NE(repo, nullptr);
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i < acked) {
      ASSERT_TRUE(HasChunk(repo.get(), chunks[i])) << "acknowledged chunk " << i << " lost";
    } else {
      ASSERT_TRUE(NeverWrongBytes(repo.get(), chunks[i]));
    }
  }
  std::vector<std::string> more;
  for (int i = 0; i < 8; ++i) {
    more.push_back(FaultRepoTest::Chunk(seed + i));
    PutOrDie(repo.get(), more.back());
  }
  ASSERT_TRUE(repo->Sync().ok());
  env->PowerCut();
  repo.reset();
  repo = OpenOrDie(kFaultRepo, false, env);
  ASSERT_NE(repo, nullptr);
  for (size_t i = 0; i < acked; ++i) ASSERT_TRUE(HasChunk(repo.get(), chunks[i]));
  for (auto& c : more) ASSERT_TRUE(HasChunk(repo.get(), c)) << "chunk written after recovery lost";
}

TEST_F(RepoPowerCutTest, CutAtEverySyncPointLosesNothingAcknowledged) {
  CreateRepo(4096);
  std::vector<std::string> chunks;
  std::vector<CutPoint> cuts;
  size_t acked = 0;
  env_.SetSyncCallback([&](int64_t k) { cuts.push_back({k, env_.DurableSnapshot(), acked}); });
  {
    auto repo = Open();
    for (int i = 0; i < 60; ++i) {
      chunks.push_back(Chunk(i));
      PutOrDie(repo.get(), chunks.back());
      if (i % 4 == 3) {
        ASSERT_TRUE(repo->Sync().ok());
        acked = chunks.size();
      }
    }
    ASSERT_TRUE(repo->Close().ok());
    acked = chunks.size();
  }
  cuts.push_back({-1, env_.DurableSnapshot(), acked});
  env_.SetSyncCallback(nullptr);
  ASSERT_GT(cuts.size(), 20u);
  for (auto& cut : cuts) {
    SCOPED_TRACE("power cut after sync point " + std::to_string(cut.sync_index));
    env_.Restore(cut.snapshot);
    ExpectSurvivesCut(&env_, chunks, cut.acked, 10000 + cut.sync_index * 10);
    if (HasFatalFailure()) return;
  }
}

TEST_F(RepoPowerCutTest, CutWithConcurrentWritersLosesNothingAcknowledged) {
  CreateRepo(8192);
  std::mutex mu;
  std::vector<std::string> acked_chunks;
  std::vector<std::pair<FaultEnv::Snapshot, size_t>> cuts;
  env_.SetSyncCallback([&](int64_t k) {
    std::lock_guard<std::mutex> lock(mu);  // writers never wait for the env under mu
    if (k % 3 == 0) cuts.emplace_back(env_.DurableSnapshot(), acked_chunks.size());
  });
  {
    auto repo = Open();
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 30; ++i) {
          std::string c = FaultRepoTest::Chunk(t * 1000 + i);
          PutResult r;
          if (!repo->Put(c, &r).ok()) continue;
          if (repo->Sync().ok()) {
            std::lock_guard<std::mutex> lock(mu);
            acked_chunks.push_back(c);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_TRUE(repo->Close().ok());
  }
  env_.SetSyncCallback(nullptr);
  ASSERT_FALSE(cuts.empty());
  for (size_t n = 0; n < cuts.size(); ++n) {
    env_.Restore(cuts[n].first);
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    // The callback runs under FaultEnv's mutex, before the Sync() returns, so
    // acked_chunks[0, count) were acknowledged before this cut.
    for (size_t i = 0; i < cuts[n].second; ++i) ASSERT_TRUE(HasChunk(repo.get(), acked_chunks[i]));
    PutOrDie(repo.get(), Chunk(50000 + n));
  }
}

TEST_F(RepoPowerCutTest, CutLosesOnlyUnsyncedChunks) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto synced = PutMany(repo.get(), 10, 1);
  ASSERT_TRUE(repo->Sync().ok());
  auto unsynced = PutMany(repo.get(), 10, 100);
  env_.PowerCut();
  repo.reset();
  ExpectSurvivesCut(&env_, synced, synced.size(), 5000);
  auto ro = Open(true);
  for (auto& c : unsynced) EXPECT_TRUE(NeverWrongBytes(ro.get(), c));
}

TEST_F(RepoPowerCutTest, CloseMakesEverythingDurable) {
  CreateRepo(4096);
  std::vector<std::string> chunks;
  {
    auto repo = Open();
    chunks = PutMany(repo.get(), 30, 1);
    ASSERT_TRUE(repo->Close().ok());
  }
  env_.PowerCut();
  auto repo = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(repo.get(), c));
}

TEST_F(RepoPowerCutTest, RepeatedCutsDuringRecovery) {
  CreateRepo(4096);
  std::vector<std::string> acked;
  {
    auto repo = Open();
    acked = PutMany(repo.get(), 20, 1);
    ASSERT_TRUE(repo->Sync().ok());
    PutMany(repo.get(), 7, 300);  // unsynced tail
  }
  env_.PowerCut();
  // Cut again at each sync point of the recovering open.
  std::vector<FaultEnv::Snapshot> during;
  env_.SetSyncCallback([&](int64_t) { during.push_back(env_.DurableSnapshot()); });
  { auto repo = Open(); }
  env_.SetSyncCallback(nullptr);
  for (auto& snap : during) {
    env_.Restore(snap);
    ExpectSurvivesCut(&env_, acked, acked.size(), 7000);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace chunkfs
